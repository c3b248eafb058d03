"""The gateway's configurable request limits, checked the same way for REST routes and batch steps.

Each check raises ParamLimitError (422 LIMIT_EXCEEDED) whose details name the field, the limit and the setting
that holds it, so a client can tell which knob refused it. The command schema's own bounds are checked before
(``commands``, by the gateway and the host alike); these limits are this gateway's settings on top, and the OpenAPI
document states each one where JSON Schema can (``SCHEMA_LIMITS``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bridge3d.commands.geometry import primitive_faces

from .config import Settings
from .errors import ExecutionDisabledError, ParamLimitError

CODE_METHODS = frozenset({"code.execute"})
# (command, parameter) -> (the JSON Schema keyword, on the parameter or on its items, and the setting that sets it).
SCHEMA_LIMITS: dict[tuple[str, str], tuple[str, str]] = {
    ("render.image", "resolution"): ("items.maximum", "max_render_size"),
    ("render.image", "samples"): ("maximum", "max_render_samples"),
    ("object.list", "limit"): ("maximum", "max_objects_per_request"),
    ("file.export", "objects"): ("maxItems", "max_objects_per_request"),
    ("code.execute", "timeout"): ("maximum", "max_execute_timeout"),
    ("batch", "steps"): ("maxItems", "max_batch_steps"),
}
LIMIT_MARK = "x-bridge3d-limit"


def mark_limits(command: str, properties: dict[str, Any], rest_names: dict[str, str] | None = None) -> None:
    """Mark the properties of ``command``'s schema that one of this gateway's settings narrows (filled in by
    ``apply_limits`` once the settings are known)."""
    for (limited, param), (keyword, setting) in SCHEMA_LIMITS.items():
        name = (rest_names or {}).get(param, param)
        if limited != command or name not in properties:
            continue
        schema = properties[name]
        branches = [branch for branch in schema.get("anyOf", [schema]) if branch.get("type") != "null"]
        for branch in branches:
            target = branch["items"] if keyword.startswith("items.") else branch
            target[LIMIT_MARK] = {keyword.removeprefix("items."): setting}


def apply_limits(document: Any, settings: Settings) -> None:
    """Replace every limit mark in an OpenAPI document with the setting's value (the smaller bound wins)."""
    if isinstance(document, dict):
        marked = document.pop(LIMIT_MARK, None)
        if marked is not None:
            for keyword, setting in marked.items():
                value = getattr(settings, setting)
                document[keyword] = min(document[keyword], value) if keyword in document else value
        for value in document.values():
            apply_limits(value, settings)
    elif isinstance(document, list):
        for item in document:
            apply_limits(item, settings)


def _refuse(field: str, what: str, limit: float, unit: str, setting: str, value: Any) -> ParamLimitError:
    shown = int(limit) if float(limit).is_integer() else limit
    return ParamLimitError(
        f"{field}: {what} is above the limit of {shown} {unit} ({setting})",
        {"field": field, "limit": limit, "value": value, "setting": setting},
    )


def check_render(resolution: Sequence[int], samples: int, settings: Settings, prefix: str = "") -> None:
    """Each side of a render against BRIDGE3D_MAX_RENDER_SIZE and its samples against BRIDGE3D_MAX_RENDER_SAMPLES."""
    for index, side in enumerate(resolution):
        if side > settings.max_render_size:
            raise _refuse(
                f"{prefix}resolution[{index}]",
                f"{side} pixels",
                settings.max_render_size,
                "pixels a side",
                "BRIDGE3D_MAX_RENDER_SIZE",
                side,
            )
    if samples > settings.max_render_samples:
        raise _refuse(
            prefix + "samples",
            f"{samples} samples",
            settings.max_render_samples,
            "samples",
            "BRIDGE3D_MAX_RENDER_SAMPLES",
            samples,
        )


def check_objects(items: Sequence[Any] | None, field: str, settings: Settings) -> None:
    """A list of names (export objects, boolean operands, ...) against BRIDGE3D_MAX_OBJECTS_PER_REQUEST."""
    if items is not None and len(items) > settings.max_objects_per_request:
        raise _refuse(
            field,
            f"{len(items)} items",
            settings.max_objects_per_request,
            "items per request",
            "BRIDGE3D_MAX_OBJECTS_PER_REQUEST",
            len(items),
        )


def check_page_size(limit: int, settings: Settings, field: str = "limit") -> None:
    """A list page (`limit` of /objects) against BRIDGE3D_MAX_OBJECTS_PER_REQUEST."""
    if limit > settings.max_objects_per_request:
        raise _refuse(
            field,
            f"a page of {limit}",
            settings.max_objects_per_request,
            "objects per request",
            "BRIDGE3D_MAX_OBJECTS_PER_REQUEST",
            limit,
        )


def execute_timeout(requested: float | None, settings: Settings, call_timeout: float) -> float:
    """The time limit for one code execution: the requested one (at most BRIDGE3D_MAX_EXECUTE_TIMEOUT) or,
    when none is asked for, the backend's call timeout capped by the same limit."""
    if requested is None:
        return min(call_timeout, settings.max_execute_timeout)
    if requested > settings.max_execute_timeout:
        raise _refuse(
            "timeout",
            f"{requested:g} s",
            settings.max_execute_timeout,
            "seconds",
            "BRIDGE3D_MAX_EXECUTE_TIMEOUT",
            requested,
        )
    return requested


def check_execute_allowed(settings: Settings) -> None:
    """403 EXECUTION_DISABLED when BRIDGE3D_ALLOW_EXECUTE is off (REST /execute and WebSocket execute)."""
    if not settings.allow_execute:
        raise ExecutionDisabledError(
            "Code execution is switched off on this gateway (BRIDGE3D_ALLOW_EXECUTE=false)",
            {"setting": "BRIDGE3D_ALLOW_EXECUTE"},
        )


def check_primitive_faces(kind: str, params: dict[str, Any], settings: Settings, prefix: str = "") -> int:
    """The faces a Blender primitive will have, against BRIDGE3D_MAX_PRIMITIVE_FACES; returns them."""
    faces = primitive_faces(kind, params)
    if faces > settings.max_primitive_faces:
        raise _refuse(
            prefix.rstrip(".") or "body",
            f"a {kind} of {faces} faces",
            settings.max_primitive_faces,
            "faces",
            "BRIDGE3D_MAX_PRIMITIVE_FACES",
            faces,
        )
    return faces


def check_geometry(steps: Sequence[dict[str, Any]], settings: Settings) -> None:
    """Each Blender primitive of a batch against BRIDGE3D_MAX_PRIMITIVE_FACES, and all of them together against
    BRIDGE3D_MAX_BATCH_FACES: a batch may not make more mesh than the host can build within a few seconds."""
    total = 0
    for index, step in enumerate(steps):
        if step["method"] == "primitive.create":
            params = step["params"]
            total += check_primitive_faces(params["type"], params, settings, f"steps[{index}].params.")
    if total > settings.max_batch_faces:
        raise _refuse(
            "steps",
            f"{total} faces in all",
            settings.max_batch_faces,
            "faces per batch",
            "BRIDGE3D_MAX_BATCH_FACES",
            total,
        )


def check_batch(steps: Sequence[dict[str, Any]], settings: Settings) -> None:
    """Refuse a batch (of checked steps) that could do what the equivalent REST requests would be refused for.

    Its length (BRIDGE3D_MAX_BATCH_STEPS), code steps while execution is off (403), and for every step the
    render, list and page limits the REST routes apply.
    """
    if len(steps) > settings.max_batch_steps:
        raise _refuse(
            "steps", f"{len(steps)} steps", settings.max_batch_steps, "steps", "BRIDGE3D_MAX_BATCH_STEPS", len(steps)
        )
    for index, step in enumerate(steps):
        method, params = step["method"], step["params"]
        prefix = f"steps[{index}].params."
        if method in CODE_METHODS and not settings.allow_execute:
            raise ExecutionDisabledError(
                f"Step {index} runs code, and code execution is switched off (BRIDGE3D_ALLOW_EXECUTE=false)",
                {"step": index, "method": method, "setting": "BRIDGE3D_ALLOW_EXECUTE"},
            )
        if method == "render.image":
            check_render(params["resolution"], params["samples"], settings, prefix)
        if method == "object.list":
            check_page_size(params["limit"], settings, prefix + "limit")
        for name, value in params.items():
            if isinstance(value, list):
                check_objects(value, prefix + name, settings)
