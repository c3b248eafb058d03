"""Every difference between the Blender versions bridge3d supports (3.4 to 5.0), in one place.

Pure data and functions of a version tuple: no ``bpy`` import, so the tables
are unit-testable outside Blender and mypy-clean. The command modules ask
this module, never ``bpy.app.version`` directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..commands.blender import FORMAT_EXTENSIONS

Version = tuple[int, int, int]

MIN_VERSION: Version = (3, 4, 0)
MAX_TESTED_VERSION: Version = (5, 0, 99)


# ---------------------------------------------------------------- render engines
def engine_id(engine: str, version: Version) -> str:
    """The ``scene.render.engine`` identifier for one of ``commands.blender.ENGINES``.

    EEVEE was renamed ``BLENDER_EEVEE_NEXT`` for 4.2-4.x (the rewrite) and is
    ``BLENDER_EEVEE`` again from 5.0 (and was before 4.2).
    """
    if engine == "CYCLES":
        return "CYCLES"
    if engine == "WORKBENCH":
        return "BLENDER_WORKBENCH"
    if engine == "EEVEE":
        return "BLENDER_EEVEE_NEXT" if (4, 2, 0) <= version < (5, 0, 0) else "BLENDER_EEVEE"
    raise KeyError(engine)


def engine_name(identifier: str) -> str:
    """The reverse of engine_id: 'BLENDER_EEVEE_NEXT' -> 'EEVEE'."""
    return {
        "CYCLES": "CYCLES",
        "BLENDER_WORKBENCH": "WORKBENCH",
        "BLENDER_EEVEE": "EEVEE",
        "BLENDER_EEVEE_NEXT": "EEVEE",
    }.get(identifier, identifier)


# ---------------------------------------------------------------- image formats
# render.image format (commands.blender.IMAGE_FORMATS) -> (image_settings.file_format, extension, color_mode)
IMAGE_FORMATS: dict[str, tuple[str, str, str]] = {
    "PNG": ("PNG", ".png", "RGBA"),
    "JPEG": ("JPEG", ".jpg", "RGB"),
    "OPEN_EXR": ("OPEN_EXR", ".exr", "RGBA"),
    "TIFF": ("TIFF", ".tif", "RGBA"),
}


# ---------------------------------------------------------------- materials
def principled_inputs(version: Version) -> dict[str, str]:
    """Principled BSDF socket names; 4.0 renamed several of them."""
    v4 = version >= (4, 0, 0)
    return {
        "base_color": "Base Color",
        "metallic": "Metallic",
        "roughness": "Roughness",
        "alpha": "Alpha",
        "emission_color": "Emission Color" if v4 else "Emission",
        "emission_strength": "Emission Strength",
        "specular": "Specular IOR Level" if v4 else "Specular",
    }


def material_needs_use_nodes(version: Version) -> bool:
    """Before 5.0 a new material has no node tree until ``use_nodes = True`` (deprecated in 5.0)."""
    return version < (5, 0, 0)


# ---------------------------------------------------------------- import / export operators
@dataclass(frozen=True)
class IoOperator:
    """One bpy.ops importer/exporter and how to call it."""

    op: str  # "wm.obj_export"
    selection_kw: str | None = None  # keyword that limits an export to the selected objects
    kwargs: dict[str, Any] = field(default_factory=dict)
    addon: str | None = None  # add-on module that must be enabled for the operator to exist


def format_from_extension(file_name: str) -> str | None:
    lower = file_name.lower()
    for fmt, extensions in FORMAT_EXTENSIONS.items():
        if any(lower.endswith(ext) for ext in extensions):
            return fmt
    return None


def exporter(fmt: str, version: Version) -> IoOperator | None:
    """The exporter operator for ``fmt`` (None for BLEND, written with bpy.data.libraries.write)."""
    if fmt == "BLEND":
        return None
    if fmt in ("GLB", "GLTF"):
        export_format = "GLB" if fmt == "GLB" else "GLTF_SEPARATE"
        return IoOperator("export_scene.gltf", "use_selection", {"export_format": export_format}, "io_scene_gltf2")
    if fmt == "FBX":
        return IoOperator("export_scene.fbx", "use_selection", {}, "io_scene_fbx")
    if fmt == "OBJ":
        # The C++ exporter exists since 3.1; the Python add-on (export_scene.obj) was removed in 4.0.
        return IoOperator("wm.obj_export", "export_selected_objects", {})
    if fmt == "STL":
        if version >= (4, 1, 0):
            return IoOperator("wm.stl_export", "export_selected_objects", {})
        return IoOperator("export_mesh.stl", "use_selection", {}, "io_mesh_stl")
    if fmt == "PLY":
        if version >= (3, 6, 0):
            return IoOperator("wm.ply_export", "export_selected_objects", {})
        return IoOperator("export_mesh.ply", "use_selection", {}, "io_mesh_ply")
    if fmt == "USD":
        return IoOperator("wm.usd_export", "selected_objects_only", {})
    raise KeyError(fmt)


def importer(fmt: str, version: Version) -> IoOperator | None:
    """The importer operator for ``fmt`` (None for BLEND, read with bpy.data.libraries.load)."""
    if fmt == "BLEND":
        return None
    if fmt in ("GLB", "GLTF"):
        return IoOperator("import_scene.gltf", addon="io_scene_gltf2")
    if fmt == "FBX":
        return IoOperator("import_scene.fbx", addon="io_scene_fbx")
    if fmt == "OBJ":
        return IoOperator("wm.obj_import")
    if fmt == "STL":
        if version >= (4, 1, 0):
            return IoOperator("wm.stl_import")
        return IoOperator("import_mesh.stl", addon="io_mesh_stl")
    if fmt == "PLY":
        if version >= (3, 6, 0):
            return IoOperator("wm.ply_import")
        return IoOperator("import_mesh.ply", addon="io_mesh_ply")
    if fmt == "USD":
        return IoOperator("wm.usd_import")
    raise KeyError(fmt)


def supported_range_text() -> str:
    return f"{'.'.join(map(str, MIN_VERSION[:2]))} to {'.'.join(map(str, MAX_TESTED_VERSION[:2]))}"
