"""primitive.create, object.* and material.* against the real headless Blender."""

from __future__ import annotations

import math

import pytest

from bridge3d.rpc import RpcClient
from bridge3d.rpc.errors import Conflict, InvalidParams, NotFound

from ._util import approx_list, bounds, rpc_error

# type, params, vertices, faces, dimensions (Blender's Add > Mesh defaults give the same counts)
PRIMITIVES = [
    ("cube", {}, 8, 6, [2, 2, 2]),
    ("cube", {"size": 3}, 8, 6, [3, 3, 3]),
    ("sphere", {}, 32 * 15 + 2, 32 * 16, [2, 2, 2]),
    ("sphere", {"radius": 0.5, "segments": 8, "rings": 4}, 8 * 3 + 2, 8 * 4, [1, 1, 1]),
    ("cylinder", {}, 64, 34, [2, 2, 2]),
    ("cylinder", {"radius": 0.5, "depth": 4, "vertices": 8}, 16, 10, [1, 1, 4]),
    ("cone", {}, 33, 33, [2, 2, 2]),
    ("cone", {"radius1": 1, "radius2": 0.5, "depth": 1, "vertices": 8}, 16, 10, [2, 2, 1]),
    ("torus", {}, 48 * 12, 48 * 12, [2.5, 2.5, 0.5]),
    ("torus", {"major_radius": 2, "minor_radius": 0.5, "major_segments": 16, "minor_segments": 8}, 128, 128, [5, 5, 1]),
    ("plane", {}, 4, 1, [2, 2, 0]),
    ("plane", {"size": 5}, 4, 1, [5, 5, 0]),
]


@pytest.mark.parametrize(("kind", "params", "vertices", "faces", "dims"), PRIMITIVES)
def test_primitive_geometry(
    bl: RpcClient, kind: str, params: dict[str, float], vertices: int, faces: int, dims: list[float]
) -> None:
    info = bl.call("primitive.create", {"type": kind, **params})
    assert info["type"] == "MESH"
    assert info["name"] == kind.capitalize()
    assert (info["vertices"], info["faces"]) == (vertices, faces)
    # A UV sphere's equator is not a vertex ring when rings is even: compare loosely there.
    assert approx_list(info["dimensions"], dims, tol=1e-3), info["dimensions"]
    lo, hi = bounds(info)
    assert approx_list(lo, [-d / 2 for d in dims], 1e-3) and approx_list(hi, [d / 2 for d in dims], 1e-3)


def test_repeated_primitives_get_their_own_equal_meshes_with_a_uv_map(bl: RpcClient) -> None:
    """Shapes are built once per type and size and copied: each object still owns its mesh, named UVs included."""
    for size in (1, 1, 2):
        bl.call("primitive.create", {"type": "cube", "size": size})
    bl.call("primitive.create", {"type": "sphere", "segments": 8, "rings": 4})
    code = (
        "objs = sorted(D.objects, key=lambda o: o.name)\n"
        "result = [[o.name, o.data.name, [uv.name for uv in o.data.uv_layers], len(o.data.vertices),"
        " round(max(v.co.x for v in o.data.vertices), 4)] for o in objs]"
    )
    rows = bl.call("code.execute", {"code": code})["result"]
    assert rows == [
        ["Cube", "Cube", ["UVMap"], 8, 0.5],
        ["Cube.001", "Cube.001", ["UVMap"], 8, 0.5],
        ["Cube.002", "Cube.002", ["UVMap"], 8, 1.0],
        ["Sphere", "Sphere", ["UVMap"], 26, 1.0],
    ]


def test_cube_transform_in_create_gives_world_bounds(bl: RpcClient) -> None:
    info = bl.call("primitive.create", {"type": "cube", "name": "Box", "location": [1, 2, 3]})
    assert info["location"] == [1, 2, 3]
    assert bounds(info) == ([0, 1, 2], [2, 3, 4])
    rotated = bl.call(
        "primitive.create",
        {"type": "cube", "size": 1, "location": [0, 0, 0], "rotation": [0, 0, 45], "scale": [2, 1, 1]},
    )
    assert approx_list(rotated["rotation"], [0, 0, 45])
    assert rotated["scale"] == [2, 1, 1]
    assert approx_list(rotated["dimensions"], [2, 1, 1])
    # The 2x1 box turned 45 degrees: its world AABB half-extent is (1 + 0.5) / sqrt(2).
    half = 1.5 / math.sqrt(2)
    assert approx_list(rotated["bounds"]["max"], [half, half, 0.5], 1e-4)


def test_duplicate_names_get_blender_suffix(bl: RpcClient) -> None:
    first = bl.call("primitive.create", {"type": "cube", "name": "Dup"})
    second = bl.call("primitive.create", {"type": "sphere", "name": "Dup"})
    third = bl.call("primitive.create", {"type": "cube", "name": "Dup"})
    assert [first["name"], second["name"], third["name"]] == ["Dup", "Dup.001", "Dup.002"]
    assert bl.call("object.get", {"name": "Dup.001"})["vertices"] == 482
    # Renaming onto a taken name: Blender gives the renamed object the lowest free suffix (here its own ".002")
    # and the other keeps its name.
    renamed = bl.call("object.rename", {"name": "Dup.002", "new_name": "Dup"})
    assert (renamed["name"], renamed["old_name"], renamed["vertices"]) == ("Dup.002", "Dup.002", 8)
    assert bl.call("object.get", {"name": "Dup"})["vertices"] == 8


def test_object_list_paging_and_filters(bl: RpcClient) -> None:
    for i in range(5):
        bl.call("primitive.create", {"type": "cube", "name": f"Block{i}"})
    bl.call("primitive.create", {"type": "sphere", "name": "Ball"})
    bl.call("light.create", {"type": "POINT", "name": "Lamp"})
    everything = bl.call("object.list", {})
    assert everything["total"] == 7 and everything["offset"] == 0 and everything["limit"] == 100
    assert [o["name"] for o in everything["objects"]] == sorted(o["name"] for o in everything["objects"])
    page = bl.call("object.list", {"offset": 2, "limit": 2})
    assert [o["name"] for o in page["objects"]] == ["Block1", "Block2"] and page["total"] == 7
    meshes = bl.call("object.list", {"type": "mesh"})
    assert [o["name"] for o in meshes["objects"]] == ["Ball", *(f"Block{i}" for i in range(5))]
    assert meshes["total"] == 6 and {o["type"] for o in meshes["objects"]} == {"MESH"}
    named = bl.call("object.list", {"name_contains": "bLoCk"})
    assert [o["name"] for o in named["objects"]] == [f"Block{i}" for i in range(5)] and named["total"] == 5
    assert bl.call("object.list", {"type": "LIGHT"})["objects"][0]["name"] == "Lamp"
    assert bl.call("object.list", {"offset": 100})["objects"] == []
    rpc_error(InvalidParams, bl, "object.list", {"limit": 0})
    rpc_error(InvalidParams, bl, "object.list", {"limit": 10001})
    rpc_error(InvalidParams, bl, "object.list", {"offset": -1})


def test_object_get_delete_and_not_found(bl: RpcClient) -> None:
    bl.call("primitive.create", {"type": "cube", "name": "Gone"})
    info = bl.call("object.get", {"name": "Gone"})
    assert info["materials"] == [] and info["parent"] is None and info["visible"] is True
    assert bl.call("object.delete", {"name": "Gone"}) == {"name": "Gone", "deleted": True}
    error = rpc_error(NotFound, bl, "object.get", {"name": "Gone"})
    assert error.data["name"] == "Gone"
    rpc_error(NotFound, bl, "object.delete", {"name": "Gone"})
    rpc_error(NotFound, bl, "object.transform", {"name": "Nope", "location": [0, 0, 0]})
    rpc_error(NotFound, bl, "object.rename", {"name": "Nope", "new_name": "X"})
    rpc_error(InvalidParams, bl, "object.get", {})


def test_object_transform_absolute_and_relative(bl: RpcClient) -> None:
    bl.call("primitive.create", {"type": "cube", "name": "Mover"})
    info = bl.call(
        "object.transform", {"name": "Mover", "location": [1, 2, 3], "rotation": [10, 0, 0], "scale": [2, 2, 2]}
    )
    assert info["location"] == [1, 2, 3] and approx_list(info["rotation"], [10, 0, 0]) and info["scale"] == [2, 2, 2]
    info = bl.call(
        "object.transform",
        {"name": "Mover", "location": [1, 0, -1], "rotation": [5, 0, 90], "scale": [0.5, 1, 2], "relative": True},
    )
    assert info["location"] == [2, 2, 2]
    assert approx_list(info["rotation"], [15, 0, 90])
    assert info["scale"] == [1, 2, 4]
    assert approx_list(info["dimensions"], [2, 4, 8])
    assert bl.call("object.get", {"name": "Mover"})["location"] == [2, 2, 2]


def test_rename(bl: RpcClient) -> None:
    bl.call("primitive.create", {"type": "cube", "name": "Old"})
    info = bl.call("object.rename", {"name": "Old", "new_name": "New"})
    assert info["name"] == "New" and info["old_name"] == "Old"
    rpc_error(NotFound, bl, "object.get", {"name": "Old"})
    rpc_error(InvalidParams, bl, "object.rename", {"name": "New", "new_name": ""})


BAD_SIZES = [
    ({"type": "cube", "size": 0}, "size"),
    ({"type": "cube", "size": -1}, "size"),
    ({"type": "cube", "size": float("nan")}, "size"),
    ({"type": "cube", "size": float("inf")}, "size"),
    ({"type": "sphere", "radius": -2}, "radius"),
    ({"type": "sphere", "segments": 2}, "segments"),
    ({"type": "sphere", "segments": 3.5}, "segments"),
    ({"type": "cylinder", "depth": 0}, "depth"),
    ({"type": "cone", "radius1": -1}, "radius1"),
    ({"type": "cone", "radius1": 0, "radius2": 0}, "radius1"),
    ({"type": "torus", "minor_radius": 0}, "minor_radius"),
    ({"type": "plane", "size": float("-inf")}, "size"),
    ({"type": "cube", "radius": 1}, "radius"),
    ({"type": "cube", "location": [0, 0]}, "location"),
    ({"type": "cube", "location": [0, float("nan"), 0]}, "location[1]"),
    ({"type": "cube", "rotation": "up"}, "rotation"),
    ({"type": "cube", "scale": [1, 0, 1]}, "scale[1]"),
    ({"type": "cube", "name": ""}, "name"),
    ({"type": "cube", "name": "x" * 64}, "name"),
]


@pytest.mark.parametrize(("params", "field"), BAD_SIZES)
def test_primitive_bad_params(bl: RpcClient, params: dict[str, object], field: str) -> None:
    error = rpc_error(InvalidParams, bl, "primitive.create", params)
    assert error.data["field"] == field
    assert bl.call("object.list", {})["total"] == 0  # nothing was created


def test_nan_travels_as_a_raw_json_literal(bl: RpcClient) -> None:
    """RpcClient sends float('nan') as the non-standard literal NaN; the server must refuse it, not crash."""
    bl.send_raw(b'{"jsonrpc":"2.0","id":"raw-nan","method":"primitive.create","params":{"type":"cube","size":NaN}}\n')
    reply = bl.read_message(timeout=30)
    assert reply["id"] == "raw-nan" and reply["error"]["code"] == InvalidParams.code
    assert reply["error"]["data"]["field"] == "size"
    assert bl.call("rpc.ping")["pong"] is True


def test_unknown_primitive_type_is_invalid(bl: RpcClient) -> None:
    error = rpc_error(InvalidParams, bl, "primitive.create", {"type": "teapot"})
    assert error.data["field"] == "type" and "torus" in error.data["reason"]
    rpc_error(InvalidParams, bl, "primitive.create", {"type": 3})
    rpc_error(InvalidParams, bl, "primitive.create", {})


def test_transform_bad_values(bl: RpcClient) -> None:
    bl.call("primitive.create", {"type": "cube", "name": "T"})
    assert (
        rpc_error(InvalidParams, bl, "object.transform", {"name": "T", "scale": [0, 1, 1]}).data["field"] == "scale[0]"
    )
    assert (
        rpc_error(InvalidParams, bl, "object.transform", {"name": "T", "location": [float("inf"), 0, 0]}).data["field"]
        == "location[0]"
    )
    rpc_error(InvalidParams, bl, "object.transform", {"name": "T", "relative": "yes"})
    assert bl.call("object.get", {"name": "T"})["location"] == [0, 0, 0]


def test_material_create_apply_list(bl: RpcClient) -> None:
    # What the cleared scene still has: nothing on Blender 4.3+, a grease pencil brush's "Dots Stroke" on 4.2.
    present = [m["name"] for m in bl.call("material.list", {})["materials"]]
    assert set(present) <= {"Dots Stroke"}, present
    red = bl.call(
        "material.create",
        {
            "name": "Red",
            "color": "#ff0000",
            "metallic": 0.25,
            "roughness": 0.75,
            "emission_color": [1, 0.5, 0],
            "emission_strength": 3,
        },
    )
    assert approx_list(red["color"], [1, 0, 0, 1]) and red["metallic"] == 0.25 and red["roughness"] == 0.75
    assert approx_list(red["emission_color"], [1, 0.5, 0, 1]) and red["emission_strength"] == 3
    blue = bl.call("material.create", {"name": "Blue", "color": [0, 0, 1]})
    assert approx_list(blue["color"], [0, 0, 1, 1]) and blue["roughness"] == 0.5
    again = bl.call("material.create", {"name": "Red", "color": "#00ff00"})
    assert again["name"] == "Red.001"  # Blender's duplicate-name rule, reported back

    bl.call("primitive.create", {"type": "cube", "name": "Painted"})
    assert bl.call("material.apply", {"object": "Painted", "material": "Red"})["materials"] == ["Red"]
    assert bl.call("material.apply", {"object": "Painted", "material": "Blue", "slot": 1})["materials"] == [
        "Red",
        "Blue",
    ]
    assert bl.call("material.apply", {"object": "Painted", "material": "Blue", "slot": 0})["materials"] == [
        "Blue",
        "Blue",
    ]
    assert bl.call("object.get", {"name": "Painted"})["materials"] == ["Blue", "Blue"]
    names = sorted(m["name"] for m in bl.call("material.list", {})["materials"])
    assert names == sorted([*present, "Blue", "Red", "Red.001"])

    rpc_error(Conflict, bl, "material.apply", {"object": "Painted", "material": "Red", "slot": 5})
    rpc_error(NotFound, bl, "material.apply", {"object": "Painted", "material": "Nope"})
    rpc_error(NotFound, bl, "material.apply", {"object": "Nope", "material": "Red"})
    bl.call("light.create", {"name": "Lamp"})
    rpc_error(Conflict, bl, "material.apply", {"object": "Lamp", "material": "Red"})
    for bad in (
        {"color": "#zzzzzz"},
        {"color": [2, 0, 0]},
        {"color": [0, 0, float("nan")]},
        {"metallic": 1.5},
        {"roughness": -0.1},
        {"emission_strength": -1},
    ):
        rpc_error(InvalidParams, bl, "material.create", {"name": "Bad", **({"color": [1, 1, 1]} | bad)})
