"""file.export / file.import round trips and the workspace file methods."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pytest
import trimesh

from backends import Backend
from bridge3d.rpc import RpcClient
from bridge3d.rpc.errors import InvalidParams, NotFound, Unsupported

from ._util import approx_list, bounds, fetch, rpc_error, upload

CUBE_MIN, CUBE_MAX = [0.0, 1.0, 2.0], [2.0, 3.0, 4.0]  # a size-2 cube at (1, 2, 3), Blender Z-up


def y_up(point: list[float]) -> list[float]:
    """Blender (x, y, z) as written by the Y-up exporters (glTF by spec, OBJ by Blender's default): (x, z, -y)."""
    x, y, z = point
    return [x, z, -y]


def scene_with_cube_and_decoy(bl: RpcClient) -> None:
    bl.call("primitive.create", {"type": "cube", "name": "Box", "location": [1, 2, 3]})
    bl.call("primitive.create", {"type": "sphere", "name": "Decoy", "location": [-10, 0, 0]})


# format, axes the exporter writes, expected unique vertex positions
TRIMESH_FORMATS = [("GLB", "y_up"), ("GLTF", "y_up"), ("OBJ", "y_up"), ("STL", "z_up"), ("PLY", "z_up")]


@pytest.mark.parametrize(("fmt", "axes"), TRIMESH_FORMATS)
def test_export_selected_object_loads_in_trimesh(bl: RpcClient, tmp_path: Path, fmt: str, axes: str) -> None:
    scene_with_cube_and_decoy(bl)
    result = bl.call("file.export", {"format": fmt, "objects": ["Box"], "output": f"box-{fmt.lower()}"})
    assert result["format"] == fmt and result["objects"] == ["Box"] and result["size"] > 0
    local = fetch(bl, result["name"], tmp_path)
    for extra in result.get("files", [])[1:]:  # the .bin of a .gltf
        fetch(bl, extra, tmp_path)
    mesh = trimesh.load(local, force="mesh")
    assert isinstance(mesh, trimesh.Trimesh)
    unique = np.unique(np.round(mesh.vertices, 5), axis=0)
    assert len(unique) == 8, f"{fmt}: expected only the cube's 8 corners, got {len(unique)}"  # the decoy is not in it
    lo, hi = (
        (CUBE_MIN, CUBE_MAX)
        if axes == "z_up"
        else (list(np.minimum(y_up(CUBE_MIN), y_up(CUBE_MAX))), list(np.maximum(y_up(CUBE_MIN), y_up(CUBE_MAX))))
    )
    assert approx_list(list(mesh.bounds[0]), lo, 1e-4) and approx_list(list(mesh.bounds[1]), hi, 1e-4), mesh.bounds
    assert mesh.area == pytest.approx(24.0, rel=1e-4)  # 6 faces of 2 x 2
    if mesh.is_watertight:
        assert mesh.volume == pytest.approx(8.0, rel=1e-4)


def test_export_selection_is_restored(bl: RpcClient) -> None:
    scene_with_cube_and_decoy(bl)
    bl.call(
        "code.execute",
        {"code": "D.objects['Decoy'].select_set(True)\nC.view_layer.objects.active = D.objects['Decoy']"},
    )
    bl.call("file.export", {"format": "STL", "objects": ["Box"]})
    state = bl.call(
        "code.execute",
        {
            "code": "layer = C.view_layer\n"
            "result = [sorted(o.name for o in layer.objects if o.select_get()), layer.objects.active.name]"
        },
    )
    assert state["result"] == [["Decoy"], "Decoy"]


def test_export_all_objects_by_default(bl: RpcClient, tmp_path: Path) -> None:
    scene_with_cube_and_decoy(bl)
    result = bl.call("file.export", {"format": "STL"})
    assert result["name"].startswith("export-") and sorted(result["objects"]) == ["Box", "Decoy"]
    mesh = trimesh.load(fetch(bl, result["name"], tmp_path), force="mesh")
    assert mesh.bounds[0][0] == pytest.approx(-11.0, abs=1e-4) and mesh.bounds[1][0] == pytest.approx(2.0, abs=1e-4)


@pytest.mark.parametrize("fmt", ["FBX", "USD", "BLEND", "GLB", "OBJ", "STL", "PLY"])
def test_round_trip_through_blender_import(bl: RpcClient, fmt: str) -> None:
    scene_with_cube_and_decoy(bl)
    exported = bl.call("file.export", {"format": fmt, "objects": ["Box"], "output": f"trip-{fmt.lower()}"})
    bl.call("scene.clear", {})
    imported = bl.call("file.import", {"name": exported["name"]})
    assert imported["format"] == fmt and imported["objects"]
    meshes = [bl.call("object.get", {"name": n}) for n in imported["objects"]]
    meshes = [m for m in meshes if m["type"] == "MESH"]
    assert len(meshes) == 1, imported
    box = meshes[0]
    # glTF/OBJ/STL/PLY importers split vertices by normal/UV or not: compare the geometry, not the count, there.
    if fmt in {"FBX", "USD", "BLEND", "STL", "OBJ"}:
        assert box["vertices"] == 8, box
    assert box["faces"] in (6, 12)  # quads, or triangles for STL
    lo, hi = bounds(box)
    assert approx_list(lo, CUBE_MIN, 1e-3) and approx_list(hi, CUBE_MAX, 1e-3), box["bounds"]


def test_import_with_explicit_format_and_errors(bl: RpcClient, blender_backend: Backend) -> None:
    scene_with_cube_and_decoy(bl)
    bl.call("file.export", {"format": "STL", "objects": ["Box"], "output": "renamed"})
    (blender_backend.workspace / "renamed.mesh").write_bytes((blender_backend.workspace / "renamed.stl").read_bytes())
    error = rpc_error(Unsupported, bl, "file.import", {"name": "renamed.mesh"})
    assert error.data["field"] == "format" and "STL" in error.data["supported"]
    assert bl.call("file.import", {"name": "renamed.mesh", "format": "stl"})["objects"] == [
        "renamed"
    ]  # STL names the object after the file
    rpc_error(NotFound, bl, "file.import", {"name": "absent.stl"})
    error = rpc_error(InvalidParams, bl, "file.import", {"name": "renamed.stl", "format": "DXF"})
    assert error.data["field"] == "format" and "STL" in error.data["reason"]
    upload(bl, "broken.blend", b"not a blend file")
    rpc_error(InvalidParams, bl, "file.import", {"name": "broken.blend"})


def test_export_bad_input_writes_nothing_outside(bl: RpcClient, blender_backend: Backend) -> None:
    scene_with_cube_and_decoy(bl)
    error = rpc_error(InvalidParams, bl, "file.export", {"format": "3DS"})
    assert error.data["field"] == "format" and "GLB" in error.data["reason"]
    rpc_error(NotFound, bl, "file.export", {"format": "OBJ", "objects": ["Box", "Ghost"]})
    rpc_error(InvalidParams, bl, "file.export", {"format": "OBJ", "objects": []})
    rpc_error(InvalidParams, bl, "file.export", {"format": "OBJ", "objects": "Box"})
    workspace = blender_backend.workspace
    parent_before = sorted(p.name for p in workspace.parent.iterdir())
    inside_before = sorted(p.name for p in workspace.iterdir())
    for output in ("../up", "sub/x", "sub\\x", "/tmp/abs", "..", ".hidden", f"{workspace}/x"):
        for fmt in ("STL", "GLB", "BLEND"):
            assert (
                rpc_error(InvalidParams, bl, "file.export", {"format": fmt, "output": output}).data["field"] == "output"
            )
    assert sorted(p.name for p in workspace.parent.iterdir()) == parent_before
    assert sorted(p.name for p in workspace.iterdir()) == inside_before


def test_workspace_file_methods(bl: RpcClient, tmp_path: Path) -> None:
    payload = bytes(range(256)) * 1000
    assert upload(bl, "blob.bin", payload, chunk=70_000) == {"name": "blob.bin", "size": len(payload), "complete": True}
    assert {"name": "blob.bin", "size": len(payload)} in bl.call("file.list", {})["files"]
    assert fetch(bl, "blob.bin", tmp_path).read_bytes() == payload
    part = bl.call("file.read", {"name": "blob.bin", "offset": 256, "length": 4})
    assert base64.b64decode(part["data"]) == bytes([0, 1, 2, 3]) and part["eof"] is False
    assert bl.call("file.delete", {"name": "blob.bin"}) == {"name": "blob.bin", "deleted": True}
    rpc_error(NotFound, bl, "file.read", {"name": "blob.bin"})
    rpc_error(NotFound, bl, "file.delete", {"name": "blob.bin"})
    for bad in ("../x", "/etc/passwd", "a/b", "..\\x"):
        rpc_error(InvalidParams, bl, "file.read", {"name": bad})
        rpc_error(InvalidParams, bl, "file.write", {"name": bad, "data": "AA==", "offset": 0, "final": True})
