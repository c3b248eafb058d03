"""scene.*, camera.create and light.create against the real headless Blender."""

from __future__ import annotations

import math

from backends import Backend
from bridge3d.rpc import RpcClient
from bridge3d.rpc.errors import InvalidParams, NotFound

from ._util import approx_list, rpc_error


def data_counts(bl: RpcClient) -> dict[str, int]:
    code = "result = {k: len(getattr(D, k)) for k in ('objects', 'meshes', 'materials', 'cameras', 'lights')}"
    return bl.call("code.execute", {"code": code})["result"]


def test_scene_info(bl: RpcClient) -> None:
    bl.call("primitive.create", {"type": "cube"})
    bl.call("camera.create", {"name": "Cam", "location": [0, -5, 0]})
    info = bl.call("scene.info", {})
    assert info["object_count"] == 2
    assert info["active_camera"] == "Cam"
    assert info["engine"] in {"EEVEE", "CYCLES", "WORKBENCH"}
    assert info["blender_version"].startswith(("3.", "4.", "5."))
    assert info["frame_start"] <= info["frame_end"] and info["fps"] > 0
    assert info["unit_system"] in {"METRIC", "IMPERIAL", "NONE"} and info["unit_scale"] > 0
    assert info["objects"] == ["Cam", "Cube"] and info["objects_truncated"] is False


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
    kept = bl.call("scene.clear", {"orphans": False})
    assert kept["objects_removed"] == 3 and kept["data_removed"] == 0
    counts = data_counts(bl)
    assert counts["objects"] == 0 and counts["meshes"] >= 1 and counts["materials"] >= 1
    cleared = bl.call("scene.clear", {})
    assert cleared["objects_removed"] == 0 and cleared["data_removed"] >= 4
    # Up to 4.2 the startup file's grease-pencil brushes use the material "Dots Stroke" (4.3 made brushes assets):
    # it is in use, not an orphan, so scene.clear keeps it.
    info = bl.call("code.execute", {"code": "result = [list(bpy.app.version), [m.name for m in D.materials]]"})
    brush_materials = ["Dots Stroke"] if tuple(info["result"][0]) < (4, 3, 0) else []
    assert info["result"][1] == brush_materials
    assert data_counts(bl) == {"objects": 0, "meshes": 0, "materials": len(brush_materials), "cameras": 0, "lights": 0}
    rpc_error(InvalidParams, bl, "scene.clear", {"orphans": "yes"})


def test_scene_save_and_open(bl: RpcClient, blender_backend: Backend) -> None:
    bl.call("primitive.create", {"type": "torus", "name": "Donut", "location": [0, 0, 1]})
    saved = bl.call("scene.save", {"name": "donut"})
    assert saved["name"] == "donut.blend" and saved["format"] == "BLEND" and saved["size"] > 1000
    head = (blender_backend.workspace / "donut.blend").read_bytes()[:7]
    assert head == b"BLENDER" or head.startswith((b"\x28\xb5\x2f\xfd", b"\x1f\x8b"))  # plain, zstd or gzip
    fresh = bl.call("scene.save", {})
    assert fresh["name"].startswith("scene-") and fresh["name"].endswith(".blend")
    bl.call("scene.clear", {})
    assert bl.call("object.list", {})["total"] == 0
    info = bl.call("scene.open", {"name": "donut.blend"})
    assert info["objects"] == ["Donut"] and info["file"] == "donut.blend"
    assert bl.call("object.get", {"name": "Donut"})["vertices"] == 576
    rpc_error(NotFound, bl, "scene.open", {"name": "missing.blend"})
    bl.call("file.write", {"name": "notes.txt", "data": "aGVsbG8=", "offset": 0, "final": True})
    rpc_error(InvalidParams, bl, "scene.open", {"name": "notes.txt"})
    rpc_error(InvalidParams, bl, "scene.open", {"name": "../donut.blend"})
    rpc_error(InvalidParams, bl, "scene.save", {"name": "/tmp/evil"})


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
