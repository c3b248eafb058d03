"""file.export and file.import through Blender's own importers/exporters."""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import addon_utils
import bpy

from ..commands.blender import FILE_FORMATS, FORMAT_EXTENSIONS
from ..formats import references as file_refs
from ..rpc.errors import Conflict, InternalError, InvalidParams, Unsupported
from ..rpc.workspace import Workspace
from . import compat
from .events import EventHub
from .info import find_object, scene
from .references import checked_import

logger = logging.getLogger(__name__)

MAX_IMPORT_EVENTS = 1000


def _operator(name: str) -> Any:
    area, op = name.split(".")
    return getattr(getattr(bpy.ops, area), op)


def operator_available(name: str) -> bool:
    try:
        _operator(name).get_rna_type()
        return True
    except (KeyError, AttributeError):
        return False


def ensure_operator(io: compat.IoOperator, fmt: str, supported: tuple[str, ...]) -> Any:
    """The bpy.ops callable, enabling its add-on first; Unsupported if this Blender lacks it."""
    if not operator_available(io.op) and io.addon:
        try:
            addon_utils.enable(io.addon, default_set=True, persistent=True)
        except Exception as exc:  # noqa: BLE001 - add-on import errors are arbitrary
            logger.warning("enabling add-on %s failed: %s", io.addon, exc)
    if not operator_available(io.op):
        raise Unsupported(
            f"format: {fmt} is not available in Blender {bpy.app.version_string} (operator {io.op} is missing)",
            {"field": "format", "value": fmt, "supported": list(supported), "operator": io.op},
        )
    return _operator(io.op)


@contextlib.contextmanager
def context_override() -> Iterator[None]:
    """A window in the context when running from a GUI timer (some operators poll for one)."""
    window = bpy.context.window
    wm = bpy.context.window_manager
    if window is None and wm is not None and len(wm.windows) and hasattr(bpy.context, "temp_override"):
        with bpy.context.temp_override(window=wm.windows[0]):
            yield
    else:
        yield


@contextlib.contextmanager
def selected_only(objects: list[Any]) -> Iterator[None]:
    """Select exactly ``objects`` for an exporter's use_selection; restore the selection afterwards."""
    view_layer = bpy.context.view_layer
    previous = [o for o in view_layer.objects if o is not None and o.select_get(view_layer=view_layer)]
    active = view_layer.objects.active
    try:
        for obj in previous:
            obj.select_set(False, view_layer=view_layer)
        for obj in objects:
            obj.select_set(True, view_layer=view_layer)
        if objects:
            view_layer.objects.active = objects[0]
        yield
    finally:
        for obj in objects:
            with contextlib.suppress(ReferenceError, RuntimeError):
                obj.select_set(False, view_layer=view_layer)
        for obj in previous:
            with contextlib.suppress(ReferenceError, RuntimeError):
                obj.select_set(True, view_layer=view_layer)
        with contextlib.suppress(ReferenceError, RuntimeError):
            view_layer.objects.active = active


def _run(operator: Any, *, reading: str | None = None, **kwargs: Any) -> None:
    """Run an exporter/importer; when ``reading`` a user's file, a failure is that file's fault (InvalidParams)."""
    try:
        with context_override():
            result = operator(**kwargs)
    except RuntimeError as exc:
        reason = _without_paths(str(exc).strip())
        if reading is not None:
            raise InvalidParams.for_field("name", f"Blender could not read {reading}: {reason}") from None
        raise InternalError(f"Blender reported: {reason}", {"operator": operator.idname_py()}) from None
    if "FINISHED" not in result:
        raise InternalError(f"{operator.idname_py()} returned {sorted(result)}", {"operator": operator.idname_py()})


def _without_paths(message: str) -> str:
    """Blender's messages quote absolute paths; clients only ever see workspace file names."""
    return re.sub(r"(/[^\s'\"]+/)+([^/\s'\"]+)", r"\2", message)


class FileCommands:
    def __init__(self, workspace: Workspace, hub: EventHub, version: compat.Version) -> None:
        self.workspace = workspace
        self.hub = hub
        self.version = version

    def file_export(self, format: str, objects: list[str] | None, output: str | None) -> dict[str, Any]:  # noqa: A002
        fmt, names = format, objects
        extensions = FORMAT_EXTENSIONS[fmt]
        # A USD name keeps the extension it has (.usda writes text, .usdc binary); any other gets the format's.
        has_extension = output is not None and output.lower().endswith(extensions)
        path = self.workspace.output_path(output, "export", "" if has_extension else extensions[0], "output")
        chosen = [find_object(n, "objects") for n in names] if names is not None else list(scene().objects)
        io = compat.exporter(fmt, self.version)
        if not chosen and io is not None:  # Blender 5's OBJ exporter writes no file at all, 4.x an empty one
            raise Conflict(f"nothing to export to {fmt}: the scene has no objects", {"reason": "empty scene"})
        if io is None:  # BLEND
            bpy.data.libraries.write(str(path), set(chosen), fake_user=True)
        else:
            operator = ensure_operator(io, fmt, FILE_FORMATS)
            kwargs: dict[str, Any] = {"filepath": str(path), **io.kwargs}
            if names is not None and io.selection_kw:
                kwargs[io.selection_kw] = True
                with selected_only(chosen):
                    _run(operator, **kwargs)
            else:
                _run(operator, **kwargs)
        if not path.is_file():
            raise InternalError(f"the {fmt} exporter did not write {path.name}")
        companion = path.with_suffix(".bin")
        companions = [companion.name] if fmt == "GLTF" and companion.is_file() else []
        written = self.workspace.written(path, "output", companions)
        result: dict[str, Any] = {**written, "format": fmt, "objects": [o.name for o in chosen]}
        if fmt == "GLTF":
            result["files"] = [path.name, *companions]
        return result

    def file_import(self, name: str, format: str | None) -> dict[str, Any]:  # noqa: A002
        path = self.workspace.existing(name)
        fmt = format or compat.format_from_extension(path.name)
        if fmt is None:
            raise Unsupported(
                f"format: {Path(path.name).suffix or path.name!r} is not a format Blender imports "
                f"(supported: {', '.join(FILE_FORMATS)})",
                {"field": "format", "value": Path(path.name).suffix, "supported": list(FILE_FORMATS)},
            )
        # Refused before any importer runs if it names files outside the workspace as any format its content could
        # be read as, or cannot be checked (not what the importer reads, unparsable).
        file_refs.check_file(fmt, path, self.workspace.root)
        sc = scene()
        before = {o.name for o in sc.objects}
        io = compat.importer(fmt, self.version)
        operator = ensure_operator(io, fmt, FILE_FORMATS) if io is not None else None
        # Whatever the importer created that points outside the workspace (textures, libraries, caches) is
        # removed with everything else it added, and the import refused.
        with checked_import(self.workspace.root, path.name):
            if operator is None:
                self._import_blend(path)
            else:
                _run(operator, reading=path.name, filepath=str(path))
        created = sorted({o.name for o in sc.objects} - before)
        for obj_name in created[:MAX_IMPORT_EVENTS]:
            obj = sc.objects.get(obj_name)
            if obj is not None:
                self.hub.object_event("object.created", obj, imported_from=path.name)
        return {"name": path.name, "format": fmt, "objects": created}

    def _import_blend(self, path: Path) -> None:
        try:
            with bpy.data.libraries.load(str(path), link=False) as (source, target):
                target.objects = list(source.objects)
        except OSError as exc:
            raise InvalidParams.for_field("name", f"is not a readable .blend file: {exc}") from None
        collection = scene().collection
        for obj in target.objects:
            if obj is not None and obj.name not in collection.objects:
                collection.objects.link(obj)
