"""file.export / file.import round trips and the workspace file methods."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest
import trimesh

from backends import Backend
from bridge3d.formats.glb import read_glb
from bridge3d.rpc import RpcClient
from bridge3d.rpc.errors import Conflict, InvalidParams, NotFound, Unsupported
from meshes import load_mesh

from ._util import approx_list, bounds, fetch, rpc_error, upload

CUBE_MIN, CUBE_MAX = [0.0, 1.0, 2.0], [2.0, 3.0, 4.0]  # a size-2 cube at (1, 2, 3), Blender Z-up


def y_up(point: list[float]) -> list[float]:
    """Blender (x, y, z) as written by the Y-up exporters (glTF by spec, OBJ by Blender's default): (x, z, -y)."""
    x, y, z = point
    return [x, z, -y]


def scene_with_cube_and_decoy(bl: RpcClient) -> None:
    bl.call("primitive.create", {"type": "cube", "name": "Box", "location": [1, 2, 3]})
    bl.call("primitive.create", {"type": "sphere", "name": "Decoy", "location": [-10, 0, 0]})


def object_names(fmt: str, path: Path) -> list[str]:
    """The objects a file names: glTF nodes, OBJ `o` statements (STL and PLY carry no names)."""
    if fmt == "GLB":
        document, _ = read_glb(path.read_bytes())
        return [node["name"] for node in document["nodes"]]
    if fmt == "GLTF":
        return [node["name"] for node in json.loads(path.read_text())["nodes"]]
    assert fmt == "OBJ", fmt
    return [line.removeprefix("o ") for line in path.read_text().splitlines() if line.startswith("o ")]


# format, file extension, axes the exporter writes
TRIMESH_FORMATS = [
    ("GLB", "glb", "y_up"),
    ("GLTF", "gltf", "y_up"),
    ("OBJ", "obj", "y_up"),
    ("STL", "stl", "z_up"),
    ("PLY", "ply", "z_up"),
]


@pytest.mark.parametrize(("fmt", "ext", "axes"), TRIMESH_FORMATS)
def test_export_selected_object_loads_in_trimesh(bl: RpcClient, tmp_path: Path, fmt: str, ext: str, axes: str) -> None:
    scene_with_cube_and_decoy(bl)
    result = bl.call("file.export", {"format": fmt, "objects": ["Box"], "output": f"box-{ext}"})
    local = fetch(bl, result["name"], tmp_path)
    companions = [f"box-{ext}.gltf", f"box-{ext}.bin"] if fmt == "GLTF" else None  # the buffer beside a .gltf
    assert result == {
        "name": f"box-{ext}.{ext}",
        "size": local.stat().st_size,
        "format": fmt,
        "objects": ["Box"],
        **({"files": companions} if companions else {}),
    }
    if companions:
        fetch(bl, companions[1], tmp_path)
    if fmt in ("GLB", "GLTF", "OBJ"):
        assert object_names(fmt, local) == ["Box"]  # the decoy is not in the file
    mesh = load_mesh(local)
    # glTF, OBJ and PLY give a corner one vertex per face normal or UV island; welded, only the cube's 8 corners
    # and its 12 triangles are left (the decoy sphere would add hundreds), and they close the surface.
    mesh.merge_vertices(merge_tex=True, merge_norm=True)
    assert (len(mesh.vertices), len(mesh.faces)) == (8, 12)
    lo, hi = (
        (CUBE_MIN, CUBE_MAX)
        if axes == "z_up"
        else (list(np.minimum(y_up(CUBE_MIN), y_up(CUBE_MAX))), list(np.maximum(y_up(CUBE_MIN), y_up(CUBE_MAX))))
    )
    assert approx_list(list(mesh.bounds[0]), lo, 1e-4) and approx_list(list(mesh.bounds[1]), hi, 1e-4), mesh.bounds
    assert mesh.area == pytest.approx(24.0, rel=1e-4)  # 6 faces of 2 x 2
    assert mesh.is_watertight
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
    mesh = load_mesh(fetch(bl, result["name"], tmp_path))
    # Two closed bodies: the cube (its volume exactly 8) right of x = -5, the decoy sphere (radius 1) around
    # (-10, 0, 0) left of it.
    left = mesh.triangles_center[:, 0] < -5
    cube, sphere = (mesh.submesh([np.flatnonzero(side)], append=True) for side in (~left, left))
    assert isinstance(cube, trimesh.Trimesh) and isinstance(sphere, trimesh.Trimesh)
    assert (len(cube.faces), len(sphere.faces)) == (12, 2 * 32 * 16 - 2 * 32)  # the sphere's quads and cap triangles
    assert cube.is_watertight and sphere.is_watertight
    assert cube.volume == pytest.approx(8.0, rel=1e-6)
    assert approx_list(list(cube.bounds[0]), CUBE_MIN) and approx_list(list(cube.bounds[1]), CUBE_MAX)
    assert approx_list(list(sphere.bounds[0]), [-11, -1, -1]) and approx_list(list(sphere.bounds[1]), [-9, 1, 1])


def test_an_empty_scene_exports_to_obj_as_a_conflict_not_an_internal_error(bl: RpcClient) -> None:
    # Blender's OBJ exporter writes no file when there is nothing to write: a client error, the server is fine.
    error = rpc_error(Conflict, bl, "file.export", {"format": "OBJ", "output": "empty.obj"})
    assert error.data == {"reason": "empty scene"} and "no objects" in error.message
    assert "empty.obj" not in [listed["name"] for listed in bl.call("file.list")["files"]]


# format, the objects the import makes, their vertices and faces: FBX, USD, .blend and OBJ keep the cube's 8 shared
# corners and 6 quads; glTF stores triangles (12) with each corner once per face normal (6 faces x 4 = 24); STL
# stores triangles that the importer welds (8); PLY splits corners along the UV seams (14). STL and PLY carry no
# object names: the object is named after the file.
ROUND_TRIPS = [
    ("FBX", ["Box"], 8, 6),
    ("USD", ["Box"], 8, 6),
    ("BLEND", ["Box"], 8, 6),
    ("GLB", ["Box"], 24, 12),
    ("OBJ", ["Box"], 8, 6),
    ("STL", ["trip-stl"], 8, 12),
    ("PLY", ["trip-ply"], 14, 6),
]


@pytest.mark.parametrize(("fmt", "objects", "vertices", "faces"), ROUND_TRIPS)
def test_round_trip_through_blender_import(
    bl: RpcClient, fmt: str, objects: list[str], vertices: int, faces: int
) -> None:
    scene_with_cube_and_decoy(bl)
    exported = bl.call("file.export", {"format": fmt, "objects": ["Box"], "output": f"trip-{fmt.lower()}"})
    bl.call("scene.clear", {})
    imported = bl.call("file.import", {"name": exported["name"]})
    assert imported == {"name": exported["name"], "format": fmt, "objects": objects}  # the decoy did not come along
    (box,) = [bl.call("object.get", {"name": name}) for name in objects]
    assert (box["type"], box["vertices"], box["faces"]) == ("MESH", vertices, faces)
    lo, hi = bounds(box)
    assert approx_list(lo, CUBE_MIN, 1e-3) and approx_list(hi, CUBE_MAX, 1e-3), box["bounds"]
    assert bl.call("object.list", {})["total"] == 1


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
    listed = {item["name"]: item for item in bl.call("file.list", {})["files"]}
    assert (listed["blob.bin"]["size"], listed["blob.bin"]["generated"]) == (len(payload), False)  # an upload: named
    assert fetch(bl, "blob.bin", tmp_path).read_bytes() == payload
    part = bl.call("file.read", {"name": "blob.bin", "offset": 256, "length": 4})
    assert base64.b64decode(part["data"]) == bytes([0, 1, 2, 3]) and part["eof"] is False
    assert bl.call("file.delete", {"name": "blob.bin"}) == {"name": "blob.bin", "deleted": True}
    rpc_error(NotFound, bl, "file.read", {"name": "blob.bin"})
    rpc_error(NotFound, bl, "file.delete", {"name": "blob.bin"})
    for bad in ("../x", "/etc/passwd", "a/b", "..\\x"):
        rpc_error(InvalidParams, bl, "file.read", {"name": bad})
        rpc_error(InvalidParams, bl, "file.write", {"name": bad, "data": "AA==", "offset": 0, "final": True})
