"""view.glb: the scene as binary glTF for the live viewer, returned inline (never written to the workspace).

Blender's own glTF exporter writes into a private temporary folder (``tempfile``, outside the workspace), the
bytes are read and the folder is deleted. The GLB keeps Blender's axes (Z up, ``export_yup=False``) so that the
locations, rotations and scales REST reports apply to its nodes unchanged; each node is named after its object.
Only visible objects are exported; cameras, lights, animations and textures are left out (base colours stay).
"""

from __future__ import annotations

import base64
import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bpy

from ..formats.glb import write_glb
from ..rpc.errors import InternalError
from . import compat
from .fileio import context_override, ensure_operator, selected_only
from .info import object_info, scene

# Exporter options, passed only when this Blender's exporter has them (3.4 to 5.0 differ).
EXPORT_OPTIONS: dict[str, Any] = {
    "export_format": "GLB",
    "check_existing": False,
    "export_yup": False,
    "use_visible": True,
    "export_apply": True,  # modifiers applied: the shape Blender shows
    "export_cameras": False,
    "export_lights": False,
    "export_animations": False,
    "export_texcoords": False,  # no textures are sent, so no texture coordinates either
    "export_image_format": "NONE",
    "export_materials": "EXPORT",
    "export_extras": False,
    "export_draco_mesh_compression_enable": False,
}
GLTF_EXPORTER = compat.IoOperator("export_scene.gltf", "use_selection", addon="io_scene_gltf2")
INFO_KEYS = ("name", "type", "location", "rotation", "scale", "dimensions", "materials", "parent", "visible")
QUIET_DEBUG_VALUE = 1  # the exporter logs at WARNING then instead of one INFO line per mesh


def exporter_kwargs(operator: Any, **wanted: Any) -> dict[str, Any]:
    """``wanted`` without the options (or enum values) this exporter does not know."""
    properties = operator.get_rna_type().properties
    kwargs: dict[str, Any] = {}
    for key, value in wanted.items():
        prop = properties.get(key)
        if prop is None:
            continue
        if (
            prop.type == "ENUM"
            and isinstance(value, str)
            and value not in {item.identifier for item in prop.enum_items}
        ):
            continue
        kwargs[key] = value
    return kwargs


@contextlib.contextmanager
def quiet_exporter() -> Iterator[None]:
    """The glTF exporter prints a line per mesh unless Blender's debug value asks for warnings only."""
    previous = bpy.app.debug_value
    if previous == 0:
        bpy.app.debug_value = QUIET_DEBUG_VALUE
    try:
        yield
    finally:
        if bpy.app.debug_value != previous:
            bpy.app.debug_value = previous


def export_glb(chosen: list[Any] | None) -> bytes:
    """Run the glTF exporter on ``chosen`` objects (None: the whole scene) into a private folder; the bytes."""
    operator = ensure_operator(GLTF_EXPORTER, "GLB", ("GLB",))
    with tempfile.TemporaryDirectory(prefix="bridge3d-view-") as folder:
        path = Path(folder) / "view.glb"
        kwargs = exporter_kwargs(operator, filepath=str(path), use_selection=chosen is not None, **EXPORT_OPTIONS)
        try:
            selection = selected_only(chosen) if chosen is not None else contextlib.nullcontext()
            with selection, quiet_exporter(), context_override():
                result = operator(**kwargs)
        except RuntimeError as exc:
            raise InternalError(f"the glTF exporter failed: {str(exc).strip()[:500]}") from None
        if "FINISHED" not in result or not path.is_file():
            raise InternalError(f"the glTF exporter returned {sorted(result)}")
        return path.read_bytes()


def view_glb(objects: list[str] | None = None) -> dict[str, Any]:
    """The scene (or the named objects) as GLB bytes in base64, with each object's info.

    Names that are not in the scene are listed in ``missing`` instead of failing the call: the viewer asks for
    objects it heard about, which may be gone by then.
    """
    names: list[str] | None = objects  # already checked against commands view.glb
    view_layer = bpy.context.view_layer
    # Objects added since the last evaluation are not in the view layer's list until it is updated (headless
    # Blender evaluates only when asked); the exporter evaluates anyway.
    view_layer.update()
    if names is None:
        listed = list(scene().objects)
        missing: list[str] = []
    else:
        found = {name: scene().objects.get(name) for name in dict.fromkeys(names)}
        listed = [obj for obj in found.values() if obj is not None]
        missing = [name for name, obj in found.items() if obj is None]
    # Objects of excluded collections are not in the view layer: they cannot be selected, and are not shown.
    exportable = [obj for obj in listed if view_layer.objects.get(obj.name) is not None]
    if names is not None and not exportable:
        data = write_glb([], generator="bridge3d (Blender)")
    else:
        data = export_glb(exportable if names is not None else None)
    infos = []
    for obj in listed:
        info = object_info(obj)
        infos.append({key: info[key] for key in INFO_KEYS})
    return {
        "glb": base64.b64encode(data).decode("ascii"),
        "size": len(data),
        "objects": infos,
        "missing": missing,
        "up": "Z",
        "units": "m",
    }
