"""scene.*, camera.create and light.create against the real headless Blender."""

from __future__ import annotations

import importlib.metadata
import math
import os
import re
from typing import Any

import pytest
from PIL import Image

from backends import Backend
from bridge3d.rpc import RpcClient
from bridge3d.rpc.errors import INVALID_PARAMS, InvalidParams, NotFound, RpcError

from ._util import approx_list, rpc_error


def data_counts(bl: RpcClient) -> dict[str, int]:
    code = "result = {k: len(getattr(D, k)) for k in ('objects', 'meshes', 'materials', 'cameras', 'lights')}"
    counts: dict[str, int] = bl.call("code.execute", {"code": code})["result"]
    return counts


# Scene settings scene.info reports, written straight into bpy (Python expression for each): an importer can change
# them (a USD stage sets the frame range), so the test sets its own and puts the session's back afterwards.
SETTINGS = {
    "frame_start": "C.scene.frame_start",
    "frame_end": "C.scene.frame_end",
    "frame_current": "C.scene.frame_current",
    "fps": "C.scene.render.fps",
    "resolution_x": "C.scene.render.resolution_x",
    "resolution_y": "C.scene.render.resolution_y",
    "unit_system": "C.scene.unit_settings.system",
    "unit_scale": "C.scene.unit_settings.scale_length",
    "engine": "C.scene.render.engine",
}


def scene_settings(bl: RpcClient, values: dict[str, Any] | None = None) -> dict[str, Any]:
    """Set ``values`` (by the names of SETTINGS) in the scene; return what the settings were before."""
    code = "result = {" + ", ".join(f"{name!r}: {path}" for name, path in SETTINGS.items()) + "}\n"
    code += "".join(f"{SETTINGS[name]} = {value!r}\n" for name, value in (values or {}).items())
    before: dict[str, Any] = bl.call("code.execute", {"code": code})["result"]
    return before


def test_scene_info(bl: RpcClient) -> None:
    bl.call("primitive.create", {"type": "cube"})
    bl.call("camera.create", {"name": "Cam", "location": [0, -5, 0]})
    chosen = {
        "frame_start": 5,
        "frame_end": 42,
        "frame_current": 7,
        "fps": 30,
        "resolution_x": 320,
        "resolution_y": 200,
        "unit_system": "IMPERIAL",
        "unit_scale": 0.5,
        "engine": "CYCLES",
    }
    before = scene_settings(bl, chosen)
    try:
        info = bl.call("scene.info", {})
    finally:
        scene_settings(bl, before)
    # The Blender that bpy is: 5.0.x here, 4.2.x / 4.5.x in scripts/test_blender_lts.sh.
    installed = ".".join(importlib.metadata.version("bpy").split(".")[:2])
    assert re.fullmatch(rf"{re.escape(installed)}\.\d+( LTS)?", info.pop("blender_version")), info
    # The file an earlier test opened stays the session's file (scene.clear keeps it): test_scene_save_and_open
    # checks what scene.info says of it.
    info.pop("file")
    assert info == {
        "name": "Scene",
        "object_count": 2,
        "engine": "CYCLES",
        "engine_id": "CYCLES",
        "frame_start": 5,
        "frame_end": 42,
        "frame_current": 7,
        "fps": 30.0,
        "resolution": [320, 200],
        "unit_system": "IMPERIAL",
        "unit_scale": 0.5,
        "active_camera": "Cam",
        "objects": ["Cam", "Cube"],
        "objects_truncated": False,
    }
    assert scene_settings(bl) == before


def test_scene_info_does_not_list_every_object(bl: RpcClient) -> None:
    bl.call(
        "code.execute",
        {"code": "for i in range(30):\n    C.scene.collection.objects.link(D.objects.new(f'E{i:02d}', None))"},
    )
    info = bl.call("scene.info", {})
    assert info["object_count"] == 30 and len(info["objects"]) == 20 and info["objects_truncated"] is True


def test_scene_clear_removes_orphans_or_keeps_them(bl: RpcClient) -> None:
    bl.call("primitive.create", {"type": "cube"})
    bl.call("material.create", {"name": "M"})
    bl.call("material.apply", {"object": "Cube", "material": "M"})
    bl.call("light.create", {})
    bl.call("camera.create", {"location": [0, -3, 0]})
    # Up to 4.2 the startup file's grease-pencil brushes use the material "Dots Stroke" (4.3 made brushes assets):
    # it is in use, not an orphan, so scene.clear keeps it.
    version = bl.call("code.execute", {"code": "result = list(bpy.app.version)"})["result"]
    brush_materials = ["Dots Stroke"] if tuple(version) < (4, 3, 0) else []
    kept = bl.call("scene.clear", {"orphans": False})
    assert kept == {"objects_removed": 3, "data_removed": 0}
    # The cube's mesh, material M, the light's and the camera's data stay behind without users.
    kept_data = {"objects": 0, "meshes": 1, "materials": 1 + len(brush_materials), "cameras": 1, "lights": 1}
    assert data_counts(bl) == kept_data
    cleared = bl.call("scene.clear", {})
    assert cleared == {"objects_removed": 0, "data_removed": 4}
    materials = bl.call("code.execute", {"code": "result = [m.name for m in D.materials]"})["result"]
    assert materials == brush_materials
    assert data_counts(bl) == {"objects": 0, "meshes": 0, "materials": len(brush_materials), "cameras": 0, "lights": 0}
    rpc_error(InvalidParams, bl, "scene.clear", {"orphans": "yes"})


def test_scene_save_and_open(bl: RpcClient, blender_backend: Backend) -> None:
    bl.call("primitive.create", {"type": "torus", "name": "Donut", "location": [0, 0, 1]})
    saved = bl.call("scene.save", {"name": "donut"})
    size = (blender_backend.workspace / "donut.blend").stat().st_size
    assert saved == {"name": "donut.blend", "size": size, "format": "BLEND"}
    fresh = bl.call("scene.save", {})
    assert re.fullmatch(r"scene-\d{4}\.blend", fresh["name"]) and fresh["format"] == "BLEND", fresh
    assert fresh["size"] == (blender_backend.workspace / fresh["name"]).stat().st_size
    bl.call("scene.clear", {})
    assert bl.call("object.list", {})["total"] == 0
    # Opened again, the file holds the torus as it was saved (Blender's default 48 x 12 torus, lifted by 1).
    info = bl.call("scene.open", {"name": "donut.blend"})
    assert info["objects"] == ["Donut"] and info["file"] == "donut.blend" and info["object_count"] == 1
    donut = bl.call("object.get", {"name": "Donut"})
    assert (donut["vertices"], donut["faces"], donut["location"]) == (576, 576, [0, 0, 1])
    assert approx_list(donut["dimensions"], [2.5, 2.5, 0.5])
    rpc_error(NotFound, bl, "scene.open", {"name": "missing.blend"})
    bl.call("file.write", {"name": "notes.txt", "data": "aGVsbG8=", "offset": 0, "final": True})
    rpc_error(InvalidParams, bl, "scene.open", {"name": "notes.txt"})
    rpc_error(InvalidParams, bl, "scene.open", {"name": "../donut.blend"})
    rpc_error(InvalidParams, bl, "scene.save", {"name": "/tmp/evil"})


def test_a_packed_save_carries_its_images_and_leaves_the_scene_as_it_was(
    bl: RpcClient, blender_backend: Backend
) -> None:
    texture = blender_backend.workspace / "textures" / "stripes.png"
    texture.parent.mkdir(exist_ok=True)
    Image.frombytes("RGB", (64, 64), os.urandom(64 * 64 * 3)).save(texture)  # noise: no compression shrinks it
    png = texture.read_bytes()
    stamp = texture.stat().st_mtime_ns
    bl.call("primitive.create", {"type": "cube", "name": "Crate"})
    bl.call(
        "code.execute",
        {
            "code": "import bpy\n"
            f"image = bpy.data.images.load({str(texture)!r})\n"
            "material = bpy.data.materials.new('Painted')\n"
            "material.use_nodes = True\n"
            "material.node_tree.nodes.new('ShaderNodeTexImage').image = image\n"
            "bpy.data.objects['Crate'].data.materials.append(material)\n"
        },
    )
    plain = bl.call("scene.save", {"name": "plain"})
    packed = bl.call("scene.save", {"name": "packed", "pack": True})
    # The PNG is inside the packed file only (Blender 5 compresses a .blend: its bytes cannot be searched for).
    assert packed["size"] - plain["size"] >= 0.95 * len(png), (packed, plain, len(png))
    # The open scene reads the image from its file again, which was not rewritten.
    state = bl.call(
        "code.execute",
        {
            "code": "import bpy\nimage = bpy.data.images['stripes.png']\n"
            "result = [not image.packed_file, image.filepath]"
        },
    )
    assert state["result"] == [True, str(texture)]
    assert texture.stat().st_mtime_ns == stamp and texture.read_bytes() == png
    bl.call("scene.clear", {})
    assert (
        "stripes.png"
        not in bl.call("code.execute", {"code": "import bpy\nresult = list(bpy.data.images.keys())"})["result"]
    )


def test_camera_create_rotation_and_look_at(bl: RpcClient) -> None:
    cam = bl.call("camera.create", {"name": "Front", "location": [0, -10, 0], "rotation": [90, 0, 0], "lens": 35})
    assert cam["type"] == "CAMERA" and cam["lens"] == 35 and cam["active"] is True
    assert approx_list(cam["rotation"], [90, 0, 0])
    aimed = bl.call(
        "camera.create", {"name": "Aimed", "location": [4, -4, 3], "look_at": [1, 1, 0], "make_active": False}
    )
    assert aimed["active"] is False
    assert bl.call("scene.info", {})["active_camera"] == "Front"
    # The camera looks down its local -Z: rotate (0,0,-1) by the returned Euler XYZ angles.
    rx, ry, rz = (math.radians(a) for a in aimed["rotation"])
    code = (
        "from mathutils import Euler, Vector\n"
        f"result = list(Euler(({rx}, {ry}, {rz}), 'XYZ').to_matrix() @ Vector((0, 0, -1)))"
    )
    forward = bl.call("code.execute", {"code": code})["result"]
    target = [1 - 4, 1 + 4, 0 - 3]
    norm = math.sqrt(sum(t * t for t in target))
    assert approx_list(forward, [t / norm for t in target], 1e-5)
    rpc_error(InvalidParams, bl, "camera.create", {"location": [0, 0, 0], "rotation": [0, 0, 0], "look_at": [1, 0, 0]})
    # Aimed at its own location, a camera keeps the rotation it was given.
    same = bl.call("camera.create", {"location": [0, 0, 0], "look_at": [0, 0, 0], "make_active": False})
    assert same["rotation"] == [0, 0, 0]
    rpc_error(InvalidParams, bl, "camera.create", {"location": [0, 0, 0], "lens": 0})
    rpc_error(InvalidParams, bl, "camera.create", {"location": [0, 0, 0], "lens": float("nan")})
    default = bl.call("camera.create", {"make_active": False})  # the same default place as REST
    assert default["location"] == [7, -7, 5]


def test_light_create(bl: RpcClient) -> None:
    for kind in ("POINT", "SUN", "SPOT", "AREA"):
        light = bl.call("light.create", {"type": kind, "location": [1, 2, 3], "color": "#ff8000"})
        assert light["type"] == "LIGHT" and light["light_type"] == kind
        assert light["location"] == [1, 2, 3] and approx_list(light["color"], [1, 128 / 255, 0])
    assert bl.call("object.get", {"name": "Sun"})["type"] == "LIGHT"
    sun = bl.call("light.create", {"type": "sun", "name": "Key", "energy": 3.5, "rotation": [45, 0, 0]})
    assert sun["energy"] == 3.5 and approx_list(sun["rotation"], [45, 0, 0])
    check = bl.call("code.execute", {"code": "l = D.objects['Key'].data\nresult = [l.type, l.energy]"})["result"]
    assert check == ["SUN", 3.5]
    error = rpc_error(InvalidParams, bl, "light.create", {"type": "LASER"})
    assert error.data["field"] == "type" and "POINT, SUN, SPOT, AREA" in error.data["reason"]
    rpc_error(InvalidParams, bl, "light.create", {"energy": -1})
    rpc_error(InvalidParams, bl, "light.create", {"energy": float("inf")})


@pytest.mark.parametrize("method", ["view.glb", "state.save", "file.list", "rpc.ping", "batch.run"])
def test_a_batch_refuses_methods_that_are_not_batch_steps(bl: RpcClient, method: str) -> None:
    """The host keeps the command table's rule (``batch=False``), not only the gateway's /batch."""
    steps = [{"method": "primitive.create", "params": {"type": "cube"}}, {"method": method}]
    with pytest.raises(RpcError) as refused:
        bl.call("batch.run", {"steps": steps})
    assert refused.value.code == INVALID_PARAMS
    assert refused.value.data == {"field": "steps[1].method", "reason": f"'{method}' cannot run in a batch"}
    assert bl.call("scene.info")["object_count"] == 0  # the first step did not run either
