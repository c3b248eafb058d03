"""Export/import round trips, document save/open and workspace file safety."""

from __future__ import annotations

import base64
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from backends import Backend
from bridge3d.rpc.errors import Conflict, InvalidParams, NotFound, Unsupported
from meshes import load_mesh

from .conftest import Doc

REL = 1e-6


def fetch(doc: Doc, name: str, tmp_path: Path) -> Path:
    """Download a workspace file through file.read (as the gateway does)."""
    data = bytearray()
    offset = 0
    while True:
        chunk = doc.client.call("file.read", {"name": name, "offset": offset, "length": 1 << 20})
        data += base64.b64decode(chunk["data"])
        offset += len(base64.b64decode(chunk["data"]))
        if chunk["eof"]:
            break
    local = tmp_path / name
    local.write_bytes(bytes(data))
    return local


PLATE_VOLUME = 10 * 8 * 6 - math.pi * 2**2 * 6  # a 10 x 8 x 6 block with a radius-2 hole through its height


def cut_part(doc: Doc) -> dict[str, Any]:
    box = doc.create("box", length=10, width=8, height=6)
    hole = doc.create("cylinder", radius=2, height=20, position=[5, 4, -5])
    plate: dict[str, Any] = doc.call("boolean.subtract", {"base": box["name"], "tool": hole["name"], "name": "Plate"})
    return plate


def workspace_size(backend: Backend, name: str) -> int:
    return (backend.workspace / name).stat().st_size


def test_step_export_reimports_with_same_volume(doc: Doc, freecad_backend: Backend) -> None:
    part = cut_part(doc)
    assert part["volume"] == pytest.approx(PLATE_VOLUME, rel=REL)
    exported = doc.call("file.export", {"format": "STEP", "output": "plate"})
    # Only the visible solid; the hidden operands are not exported.
    assert exported == {
        "name": "plate.step",
        "size": workspace_size(freecad_backend, "plate.step"),
        "format": "STEP",
        "objects": ["Plate"],
        "document": doc.name,
    }
    imported = doc.call("file.import", {"name": "plate.step"})
    assert imported["format"] == "STEP"
    (name,) = imported["objects"]
    info = doc.call("object.get", {"name": name})
    assert info["volume"] == pytest.approx(PLATE_VOLUME, rel=REL)
    assert (info["solids"], info["valid"]) == (1, True)
    assert info["bounds"]["min"] == pytest.approx([0, 0, 0], abs=1e-6)
    assert info["bounds"]["max"] == pytest.approx([10, 8, 6], abs=1e-6)


@pytest.mark.parametrize(("fmt", "ext"), [("IGES", ".iges"), ("BREP", ".brep")])
def test_iges_and_brep_round_trip(doc: Doc, freecad_backend: Backend, fmt: str, ext: str) -> None:
    sphere = doc.create("sphere", radius=4, position=[1, 2, 3])
    exported = doc.call("file.export", {"format": fmt.lower(), "objects": [sphere["name"]]})
    assert exported["name"].endswith(ext) and (exported["format"], exported["objects"]) == (fmt, [sphere["name"]])
    assert exported["size"] == workspace_size(freecad_backend, exported["name"])
    imported = doc.call("file.import", {"name": exported["name"]})
    (name,) = imported["objects"]
    info = doc.call("object.get", {"name": name})
    assert info["volume"] == pytest.approx(4 / 3 * math.pi * 4**3, rel=1e-5)
    assert info["center_of_mass"] == pytest.approx([1, 2, 3], abs=1e-6)


SPHERE_VOLUME = 4 / 3 * math.pi * 5**3  # radius 5
TORUS_VOLUME = 2 * math.pi**2 * 10 * 2**2  # ring radius 10, tube radius 2


def test_stl_export_is_watertight_within_one_percent(doc: Doc, tmp_path: Path) -> None:
    sphere = doc.create("sphere", radius=5)
    torus = doc.create("torus", radius1=10, radius2=2, position=[30, 0, 0])
    exported = doc.call("file.export", {"format": "STL", "output": "shapes.stl"})
    assert sorted(exported["objects"]) == sorted([sphere["name"], torus["name"]])
    mesh = load_mesh(fetch(doc, exported["name"], tmp_path))
    assert mesh.is_watertight
    assert mesh.volume == pytest.approx(SPHERE_VOLUME + TORUS_VOLUME, rel=0.01)
    # Both bodies and nothing else (a tessellated sphere may fall a little short of its radius).
    assert np.allclose(mesh.bounds, [[-5, -12, -5], [42, 12, 5]], atol=0.01)
    # Each body on its own is within 1 % as well (small and large curvature).
    for ref, volume in ((sphere, SPHERE_VOLUME), (torus, TORUS_VOLUME)):
        single = doc.call("file.export", {"format": "STL", "objects": [ref["name"]]})
        assert single["objects"] == [ref["name"]]
        body = load_mesh(fetch(doc, single["name"], tmp_path))
        assert body.is_watertight
        assert body.volume == pytest.approx(volume, rel=0.01)


def test_an_export_that_passes_the_triangle_budget_stops_with_a_conflict(doc: Doc) -> None:
    doc.create("box")
    sphere = doc.create("sphere", radius=5)
    error = None
    # The budget is lowered inside the host for this test: a real one takes tens of seconds of tessellation to reach.
    doc.call("code.execute", {"code": "import bridge3d.freecad.files as f\nf.MAX_EXPORT_TRIANGLES = 1000"})
    try:
        with pytest.raises(Conflict) as caught:
            doc.call("file.export", {"format": "STL", "output": "too-fine.stl"})
        error = caught.value
    finally:
        doc.call("code.execute", {"code": "import bridge3d.freecad.files as f\nf.MAX_EXPORT_TRIANGLES = 1_000_000"})
    assert error.data["reason"] == "too many triangles" and error.data["limit"] == 1000
    assert error.data["object"] == sphere["name"]  # the box's 12 triangles fit; the sphere's do not
    assert "too-fine.stl" not in [listed["name"] for listed in doc.client.call("file.list")["files"]]
    with pytest.raises(InvalidParams):  # finer than 3 degrees: minutes of tessellation for one torus
        doc.call("file.export", {"format": "STL", "angular_tolerance": 2.0})


def test_obj_export_loads_with_trimesh(doc: Doc, tmp_path: Path) -> None:
    part = cut_part(doc)
    exported = doc.call("file.export", {"format": "obj", "objects": [part["name"]]})
    assert (exported["format"], exported["objects"]) == ("OBJ", ["Plate"])
    mesh = load_mesh(fetch(doc, exported["name"], tmp_path))
    # FreeCAD writes shared vertices with per-face normals ("f 1//1 ..."); trimesh
    # splits vertices by normal on load, so weld them back before checking.
    mesh.merge_vertices()
    assert mesh.is_watertight
    assert mesh.volume == pytest.approx(PLATE_VOLUME, rel=0.01)
    assert np.allclose(mesh.bounds, [[0, 0, 0], [10, 8, 6]], atol=1e-6)


def test_stl_import_gives_a_mesh_with_volume(doc: Doc) -> None:
    box = doc.create("box", length=2, width=3, height=4)
    doc.call("file.export", {"format": "STL", "objects": [box["name"]], "output": "b.stl"})
    imported = doc.call("file.import", {"name": "b.stl"})
    (name,) = imported["objects"]
    info = doc.call("object.get", {"name": name})
    assert info["type"] == "Mesh::Feature"
    assert info["volume"] == pytest.approx(2 * 3 * 4, rel=1e-5)
    assert info["bounds"]["max"] == pytest.approx([2, 3, 4], abs=1e-6)


def test_export_and_import_errors(doc: Doc, freecad_backend: Backend) -> None:
    with pytest.raises(Conflict) as conflict:
        doc.call("file.export", {"format": "STEP"})  # empty document
    assert conflict.value.data["field"] == "objects"
    box = doc.create("box")
    with pytest.raises(InvalidParams) as info:
        doc.call("file.export", {"format": "DXF"})
    assert info.value.data["field"] == "format"
    assert "STEP" in info.value.data["reason"]
    for bad in ["../escape.step", "/tmp/abs.step", "sub/dir.step", ".hidden.step", "a\\b.step"]:
        with pytest.raises(InvalidParams) as info:
            doc.call("file.export", {"format": "STEP", "output": bad})
        assert info.value.data["field"] == "output"
    assert not (freecad_backend.workspace.parent / "escape.step").exists()
    with pytest.raises(NotFound):
        doc.call("file.export", {"format": "STEP", "objects": ["Ghost"]})
    with pytest.raises(NotFound):
        doc.call("file.import", {"name": "missing.step"})
    with pytest.raises(InvalidParams):
        doc.call("file.import", {"name": "../etc/passwd"})
    (freecad_backend.workspace / "junk.step").write_text("this is not STEP\n")
    with pytest.raises(InvalidParams) as info:
        doc.call("file.import", {"name": "junk.step"})
    assert info.value.data["field"] == "name"
    (freecad_backend.workspace / "notes.txt").write_text("hello")
    with pytest.raises(Unsupported):
        doc.call("file.import", {"name": "notes.txt"})
    assert [o["name"] for o in doc.call("object.list", {})["objects"]] == [box["name"]]
    assert doc.client.call("rpc.ping")["pong"] is True


def test_save_open_round_trip(doc: Doc, freecad_backend: Backend) -> None:
    doc.create("cylinder", radius=3, height=4, name="Post")
    saved = doc.call("document.save", {"name": "post_doc"})
    assert saved["name"] == "post_doc.FCStd"
    assert (freecad_backend.workspace / "post_doc.FCStd").stat().st_size == saved["size"]
    docs = {d["name"]: d for d in doc.client.call("document.list", {})["documents"]}
    assert docs[doc.name]["file"] == "post_doc.FCStd"
    doc.client.call("document.close", {"name": doc.name})
    opened = doc.client.call("document.open", {"name": "post_doc.FCStd"})
    assert opened["objects"] == 1
    assert opened["active"] is True
    doc.name = opened["name"]  # the fixture closes it
    info = doc.call("object.get", {"name": "Post"})
    assert info["volume"] == pytest.approx(math.pi * 9 * 4, rel=REL)
    with pytest.raises(InvalidParams):
        doc.call("document.save", {"name": "../up.FCStd"})
    with pytest.raises(NotFound):
        doc.client.call("document.open", {"name": "nothing.FCStd"})


def test_workspace_file_methods(doc: Doc) -> None:
    payload = base64.b64encode(b"hello freecad").decode()
    written = doc.client.call("file.write", {"name": "note.bin", "data": payload})
    assert written == {"name": "note.bin", "size": 13, "complete": True}
    listed = {item["name"]: item for item in doc.client.call("file.list", {})["files"]}
    assert (listed["note.bin"]["size"], listed["note.bin"]["generated"]) == (13, False)
    assert base64.b64decode(doc.client.call("file.read", {"name": "note.bin"})["data"]) == b"hello freecad"
    assert doc.client.call("file.delete", {"name": "note.bin"})["deleted"] is True
    with pytest.raises(InvalidParams):
        doc.client.call("file.write", {"name": "../x.bin", "data": payload})
