"""The version tables that need no Blender (compat.py)."""

from __future__ import annotations

import pytest

from bridge3d.blender import compat


@pytest.mark.parametrize(
    ("version", "eevee"),
    [
        ((3, 4, 1), "BLENDER_EEVEE"),
        ((4, 1, 0), "BLENDER_EEVEE"),
        ((4, 2, 0), "BLENDER_EEVEE_NEXT"),
        ((4, 5, 3), "BLENDER_EEVEE_NEXT"),
        ((5, 0, 1), "BLENDER_EEVEE"),
    ],
)
def test_eevee_engine_id(version: compat.Version, eevee: str) -> None:
    assert compat.engine_id("EEVEE", version) == eevee
    assert compat.engine_name(eevee) == "EEVEE"
    assert compat.engine_id("CYCLES", version) == "CYCLES"
    assert compat.engine_id("WORKBENCH", version) == "BLENDER_WORKBENCH"


def test_principled_input_names() -> None:
    assert compat.principled_inputs((3, 4, 1))["emission_color"] == "Emission"
    assert compat.principled_inputs((3, 4, 1))["specular"] == "Specular"
    assert compat.principled_inputs((4, 0, 0))["emission_color"] == "Emission Color"
    assert compat.principled_inputs((5, 0, 1))["specular"] == "Specular IOR Level"
    assert compat.material_needs_use_nodes((4, 5, 0)) and not compat.material_needs_use_nodes((5, 0, 0))


@pytest.mark.parametrize(
    ("fmt", "version", "op", "selection"),
    [
        ("STL", (3, 4, 1), "export_mesh.stl", "use_selection"),
        ("STL", (4, 1, 0), "wm.stl_export", "export_selected_objects"),
        ("PLY", (3, 5, 0), "export_mesh.ply", "use_selection"),
        ("PLY", (3, 6, 0), "wm.ply_export", "export_selected_objects"),
        ("OBJ", (3, 4, 1), "wm.obj_export", "export_selected_objects"),
        ("USD", (5, 0, 1), "wm.usd_export", "selected_objects_only"),
        ("FBX", (4, 2, 0), "export_scene.fbx", "use_selection"),
        ("GLB", (3, 4, 1), "export_scene.gltf", "use_selection"),
    ],
)
def test_exporter_table(fmt: str, version: compat.Version, op: str, selection: str) -> None:
    io = compat.exporter(fmt, version)
    assert io is not None and io.op == op and io.selection_kw == selection
    assert compat.exporter("BLEND", version) is None and compat.importer("BLEND", version) is None


@pytest.mark.parametrize(
    ("fmt", "version", "op"),
    [("STL", (3, 4, 1), "import_mesh.stl"), ("STL", (5, 0, 1), "wm.stl_import"), ("PLY", (3, 4, 1), "import_mesh.ply")],
)
def test_importer_table(fmt: str, version: compat.Version, op: str) -> None:
    io = compat.importer(fmt, version)
    assert io is not None and io.op == op


def test_gltf_exporter_and_extensions() -> None:
    gltf = compat.exporter("GLTF", (5, 0, 0))
    assert gltf is not None and gltf.kwargs == {"export_format": "GLTF_SEPARATE"}
    assert compat.format_from_extension("A.GLB") == "GLB"
    assert compat.format_from_extension("scene.usda") == "USD"
    assert compat.format_from_extension("notes.txt") is None
