"""The gateway's configurable request limits, checked the same way for REST routes and batch steps.

Each check raises ParamLimitError (422 LIMIT_EXCEEDED) whose details name the field, the limit and the setting
that holds it, so a client can tell which knob refused it. Host servers keep their own fixed ranges on top.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bridge3d.commands.geometry import primitive_faces

from .config import Settings
from .errors import ExecutionDisabledError, ParamLimitError

CODE_METHODS = frozenset({"code.execute"})
# What render.image uses when a batch step leaves these out (the same defaults as RenderParams and the host).
DEFAULT_RENDER_RESOLUTION = (640, 480)
DEFAULT_RENDER_SAMPLES = 16


def _refuse(field: str, what: str, limit: float, unit: str, setting: str, value: Any) -> ParamLimitError:
    shown = int(limit) if float(limit).is_integer() else limit
    return ParamLimitError(
        f"{field}: {what} is above the limit of {shown} {unit} ({setting})",
        {"field": field, "limit": limit, "value": value, "setting": setting},
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_render(resolution: Any, samples: Any, settings: Settings, prefix: str = "") -> None:
    """Pixels (width x height) and samples of a render against BRIDGE3D_MAX_RENDER_PIXELS / _SAMPLES.

    Values of the wrong shape are left to the schema or the host, which refuse them anyway.
    """
    if isinstance(resolution, Sequence) and not isinstance(resolution, str) and len(resolution) == 2:
        width, height = resolution
        if _is_number(width) and _is_number(height) and width * height > settings.max_render_pixels:
            raise _refuse(
                prefix + "resolution",
                f"{width}x{height} ({width * height} pixels)",
                settings.max_render_pixels,
                "pixels",
                "BRIDGE3D_MAX_RENDER_PIXELS",
                [width, height],
            )
    if _is_number(samples) and samples > settings.max_render_samples:
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


def check_page_size(limit: Any, settings: Settings, field: str = "limit") -> None:
    """A list page (`limit` of /objects) against BRIDGE3D_MAX_OBJECTS_PER_REQUEST."""
    if _is_number(limit) and limit > settings.max_objects_per_request:
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
        params = step.get("params") or {}
        if step.get("method") != "primitive.create" or not isinstance(params, dict):
            continue
        kind = params.get("type")
        if isinstance(kind, str):
            total += check_primitive_faces(kind.lower(), params, settings, f"steps[{index}].params.")
    if total > settings.max_batch_faces:
        raise _refuse(
            "steps",
            f"{total} faces in all",
            settings.max_batch_faces,
            "faces per batch",
            "BRIDGE3D_MAX_BATCH_FACES",
            total,
        )


def check_execute_allowed(settings: Settings) -> None:
    """403 EXECUTION_DISABLED when BRIDGE3D_ALLOW_EXECUTE is off (REST /execute and WebSocket execute)."""
    if not settings.allow_execute:
        raise ExecutionDisabledError(
            "Code execution is switched off on this gateway (BRIDGE3D_ALLOW_EXECUTE=false)",
            {"setting": "BRIDGE3D_ALLOW_EXECUTE"},
        )


def check_batch(steps: Sequence[dict[str, Any]], settings: Settings) -> None:
    """Refuse a batch that could do what the equivalent REST requests would be refused for.

    Its length (BRIDGE3D_MAX_BATCH_STEPS), code steps while execution is off (403), and for every step the
    render, list and page limits the REST routes apply.
    """
    if len(steps) > settings.max_batch_steps:
        raise _refuse(
            "steps", f"{len(steps)} steps", settings.max_batch_steps, "steps", "BRIDGE3D_MAX_BATCH_STEPS", len(steps)
        )
    for index, step in enumerate(steps):
        method, params = step.get("method"), step.get("params") or {}
        prefix = f"steps[{index}].params."
        if method in CODE_METHODS and not settings.allow_execute:
            raise ExecutionDisabledError(
                f"Step {index} runs code, and code execution is switched off (BRIDGE3D_ALLOW_EXECUTE=false)",
                {"step": index, "method": method, "setting": "BRIDGE3D_ALLOW_EXECUTE"},
            )
        if not isinstance(params, dict):
            continue  # the host refuses it before anything runs
        if method == "render.image":
            check_render(
                params.get("resolution", DEFAULT_RENDER_RESOLUTION),
                params.get("samples", DEFAULT_RENDER_SAMPLES),
                settings,
                prefix,
            )
        if method == "object.list":
            check_page_size(params.get("limit"), settings, prefix + "limit")
        for name, value in params.items():
            if isinstance(value, list):
                check_objects(value, prefix + name, settings)
