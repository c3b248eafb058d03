"""Every Blender REST route over real HTTP, against the real gateway and the real headless Blender.

Each test checks the status code and the envelope, then the real effect: through a direct
RpcClient to the host server (independent of the gateway), by reading downloaded files back
(Pillow, trimesh) or by looking into the host's workspace folder.
"""

from __future__ import annotations

import io
import json
import math
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import numpy as np
import numpy.typing as npt
import pytest
import trimesh
from PIL import Image

from backends import Backend
from bridge3d.formats.glb import read_glb
from bridge3d.rpc import RpcClient, RpcError
from bridge3d.rpc.errors import NotFound
from envelope import download, error, field_names, ok
from gateway import Gateway
from meshes import load_mesh

BASE = "/api/v1/blender"


@pytest.fixture(scope="module")
def host(blender_backend: Backend) -> Iterator[RpcClient]:
    """A direct connection to the Blender host server, to check effects without the gateway."""
    client = blender_backend.client(timeout=180.0)
    yield client
    client.close()


def uid(prefix: str = "T") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def post(api: httpx.Client, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
    return api.post(BASE + path, json=body if body is not None else {})


def create(api: httpx.Client, kind: str, **body: Any) -> dict[str, Any]:
    """POST a primitive; assert 201 and return the CreatedObject."""
    created: dict[str, Any] = ok(post(api, f"/primitives/{kind}", body), 201)
    return created


def exists(host: RpcClient, name: str) -> bool:
    try:
        host.call("object.get", {"name": name})
    except NotFound:
        return False
    return True


def approx(values: list[float], expected: list[float], tol: float = 1e-4) -> bool:
    return len(values) == len(expected) and all(
        math.isclose(a, b, abs_tol=tol) for a, b in zip(values, expected, strict=True)
    )


def is_blend(data: bytes) -> bool:
    """A .blend file: raw ("BLENDER" header) or, Blender 4.2+'s default, zstd-compressed around that header."""
    if data.startswith(b"\x28\xb5\x2f\xfd"):
        import zstandard  # a dependency of bpy

        data = zstandard.ZstdDecompressor().decompressobj().decompress(data)
    return data.startswith(b"BLENDER")


def object_names(data: bytes, fmt: str) -> list[str]:
    """The objects a file names: glTF nodes, OBJ `o` statements (STL and PLY carry no names)."""
    if fmt == "GLB":
        document, _ = read_glb(data)
        return [node["name"] for node in document["nodes"]]
    if fmt == "GLTF":
        return [node["name"] for node in json.loads(data)["nodes"]]
    assert fmt == "OBJ", fmt
    return [line.removeprefix("o ") for line in data.decode().splitlines() if line.startswith("o ")]


def clear_scene(api: httpx.Client) -> None:
    """An empty scene for a test that checks everything in it (the other tests of this module share the scene)."""
    ok(api.delete(BASE + "/scene"))


# ---------------------------------------------------------------------------------------------- primitives
PRIMITIVES = [
    # kind, body, vertices, faces, dimensions (local size * scale)
    ("cube", {"size": 3.0}, 8, 6, [3.0, 3.0, 3.0]),
    ("sphere", {"radius": 1.5, "segments": 16, "rings": 8}, 16 * 7 + 2, 16 * 8, [3.0, 3.0, 3.0]),
    ("cylinder", {"radius": 0.5, "depth": 3.0, "vertices": 12}, 24, 14, [1.0, 1.0, 3.0]),
    ("cone", {"radius1": 1.0, "radius2": 0.0, "depth": 2.0, "vertices": 8}, 9, 9, [2.0, 2.0, 2.0]),
    (
        "torus",
        {"major_radius": 1.0, "minor_radius": 0.25, "major_segments": 12, "minor_segments": 8},
        96,
        96,
        [2.5, 2.5, 0.5],
    ),
    ("plane", {"size": 4.0}, 4, 1, [4.0, 4.0, 0.0]),
]


@pytest.mark.parametrize(
    ("kind", "body", "vertices", "faces", "dimensions"), PRIMITIVES, ids=[p[0] for p in PRIMITIVES]
)
def test_create_primitive(
    api: httpx.Client,
    host: RpcClient,
    kind: str,
    body: dict[str, Any],
    vertices: int,
    faces: int,
    dimensions: list[float],
) -> None:
    name = uid(kind)
    created = create(api, kind, name=name, location=[1.0, -2.0, 3.0], **body)
    assert created["object_id"] == name
    assert name in created["message"]
    info = created["object"]
    assert info["name"] == name and info["type"] == "MESH"
    assert info["location"] == [1.0, -2.0, 3.0]
    assert info["vertices"] == vertices and info["faces"] == faces
    assert approx(info["dimensions"], dimensions)
    # The real object, asked directly from Blender.
    real = host.call("object.get", {"name": name})
    assert real["vertices"] == vertices and real["faces"] == faces
    assert approx(real["dimensions"], dimensions)
    assert real["location"] == [1.0, -2.0, 3.0]
    half = [d / 2 for d in dimensions]
    assert approx(real["bounds"]["min"], [1.0 - half[0], -2.0 - half[1], 3.0 - half[2]])
    assert approx(real["bounds"]["max"], [1.0 + half[0], -2.0 + half[1], 3.0 + half[2]])


def test_create_primitive_with_rotation_and_scale(api: httpx.Client, host: RpcClient) -> None:
    name = uid("Rot")
    info = create(api, "cube", name=name, size=2.0, rotation=[0, 0, 90], scale=[1.0, 2.0, 0.5])["object"]
    assert approx(info["rotation"], [0.0, 0.0, 90.0])
    real = host.call("object.get", {"name": name})
    assert approx(real["rotation"], [0.0, 0.0, 90.0]) and real["scale"] == [1.0, 2.0, 0.5]
    assert approx(real["dimensions"], [2.0, 4.0, 1.0])
    # Rotated 90 degrees about Z, the long (local Y) side lies along world X.
    assert approx(real["bounds"]["min"], [-2.0, -1.0, -0.5]) and approx(real["bounds"]["max"], [2.0, 1.0, 0.5])


def test_primitive_defaults(api: httpx.Client, host: RpcClient) -> None:
    """No body fields: Blender's Add > Mesh defaults (cube edge 2 at the origin); a fresh name is chosen."""
    created = ok(post(api, "/primitives/cube", {}), 201)
    name = created["object_id"]
    assert re.fullmatch(r"Cube(\.\d{3})?", name), name  # Blender's own name, numbered if "Cube" is taken
    real = host.call("object.get", {"name": name})
    assert approx(real["dimensions"], [2.0, 2.0, 2.0]) and real["location"] == [0.0, 0.0, 0.0]
    host.call("object.delete", {"name": name})


def test_duplicate_name_gets_blender_suffix(api: httpx.Client, host: RpcClient) -> None:
    name = uid("Dup")
    first = create(api, "cube", name=name)
    second = create(api, "sphere", name=name)
    assert first["object_id"] == name
    assert second["object_id"] == f"{name}.001"
    assert second["object"]["name"] == f"{name}.001"
    assert host.call("object.get", {"name": name})["vertices"] == 8
    assert host.call("object.get", {"name": f"{name}.001"})["vertices"] == 32 * 15 + 2


BAD_PRIMITIVES = [
    ("cube", {"size": -1}, "size"),
    ("cube", {"size": 0}, "size"),
    ("cube", {"size": "big"}, "size"),
    ("cube", {"location": [1, 2]}, "location"),
    ("cube", {"location": [1, 2, 3, 4]}, "location"),
    ("cube", {"location": [1, "x", 3]}, "location[1]"),
    ("cube", {"scale": [1, 0, 1]}, "scale[1]"),
    ("cube", {"scale": 2}, "scale"),
    ("cube", {"colour": "red"}, "colour"),
    ("cube", {"radius": 1}, "radius"),
    ("sphere", {"segments": 2}, "segments"),
    ("sphere", {"radius": 1e7}, "radius"),
    ("cylinder", {"depth": -3}, "depth"),
    ("cone", {"radius1": -0.5}, "radius1"),
    ("torus", {"major_segments": 2.5}, "major_segments"),
    ("plane", {"name": ""}, "name"),
    ("plane", {"name": "x" * 64}, "name"),
]


@pytest.mark.parametrize(("kind", "body", "field"), BAD_PRIMITIVES)
def test_primitive_validation(api: httpx.Client, host: RpcClient, kind: str, body: dict[str, Any], field: str) -> None:
    marker = uid("Bad")
    body = {"name": marker, **body}
    err = error(post(api, f"/primitives/{kind}", body), 422, "VALIDATION_ERROR")
    assert field in field_names(err), err
    assert all(e["location"] == "body" for e in err["details"]["errors"])
    assert field in err["message"]
    listed = host.call("object.list", {"name_contains": marker})
    assert listed["total"] == 0  # nothing was created


def test_rules_across_fields_are_checked_like_the_host_checks_them(api: httpx.Client, host: RpcClient) -> None:
    """A cone needs one radius > 0: refused by the gateway with the host's own reason, before anything runs. A torus
    whose tube is wider than its ring is a valid (self-intersecting) mesh, as in Blender's Add menu."""
    marker = uid("Host")
    err = error(post(api, "/primitives/cone", {"name": marker, "radius1": 0, "radius2": 0}), 422, "VALIDATION_ERROR")
    assert field_names(err) == {"radius1"} and "cannot both be 0" in err["message"]
    with pytest.raises(RpcError) as direct:
        host.call("primitive.create", {"type": "cone", "name": marker, "radius1": 0, "radius2": 0})
    assert direct.value.data["reason"] == err["details"]["errors"][0]["reason"]
    assert host.call("object.list", {"name_contains": marker})["total"] == 0
    torus = ok(post(api, "/primitives/torus", {"name": marker, "major_radius": 1, "minor_radius": 2}), 201)
    assert torus["object"]["dimensions"] == [6.0, 6.0, 4.0]


def test_wrong_content_is_a_validation_error(api: httpx.Client) -> None:
    response = api.post(BASE + "/primitives/cube", content=b"{not json", headers={"Content-Type": "application/json"})
    err = error(response, 422, "VALIDATION_ERROR")
    reason = "is not valid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"
    assert err["details"]["errors"] == [{"field": "body", "reason": reason, "location": "body"}]
    err = error(api.post(BASE + "/primitives/cube", json=[1, 2, 3]), 422, "VALIDATION_ERROR")
    assert err["details"]["errors"] == [{"field": "body", "reason": "must be a JSON object", "location": "body"}]


# ---------------------------------------------------------------------------------------------- objects
def test_list_objects_pagination(api: httpx.Client) -> None:
    tag = uid("Page")
    names = sorted(create(api, "cube", name=f"{tag}_{i}", size=0.5)["object_id"] for i in range(5))
    seen: list[str] = []
    for offset in (0, 2, 4):
        page = ok(api.get(BASE + "/objects", params={"name_contains": tag, "offset": offset, "limit": 2}))
        assert page["total"] == 5 and page["offset"] == offset and page["limit"] == 2
        assert len(page["objects"]) == (1 if offset == 4 else 2)
        seen += [o["name"] for o in page["objects"]]
        assert all(o["type"] == "MESH" for o in page["objects"])
    assert seen == names  # sorted by name, no gaps, no repeats
    beyond = ok(api.get(BASE + "/objects", params={"name_contains": tag, "offset": 10}))
    assert beyond["objects"] == [] and beyond["total"] == 5
    # Case-insensitive substring filter.
    lower = ok(api.get(BASE + "/objects", params={"name_contains": tag.lower()}))
    assert lower["total"] == 5


def test_list_objects_type_filter(api: httpx.Client) -> None:
    tag = uid("Kind")
    mesh = create(api, "cube", name=f"{tag}_mesh")["object_id"]
    light = ok(post(api, "/light", {"type": "POINT", "name": f"{tag}_light"}), 201)["object_id"]
    camera = ok(post(api, "/camera", {"name": f"{tag}_cam", "make_active": False}), 201)["object_id"]
    for wanted, expected in (("MESH", mesh), ("LIGHT", light), ("CAMERA", camera), ("light", light)):
        page = ok(api.get(BASE + "/objects", params={"name_contains": tag, "type": wanted}))
        assert [o["name"] for o in page["objects"]] == [expected] and page["total"] == 1
    every = ok(api.get(BASE + "/objects", params={"name_contains": tag}))
    assert {o["name"] for o in every["objects"]} == {mesh, light, camera}
    none = ok(api.get(BASE + "/objects", params={"name_contains": tag, "type": "CURVE"}))
    assert none == {"objects": [], "total": 0, "offset": 0, "limit": 100}


def test_list_objects_lists_the_whole_scene(api: httpx.Client) -> None:
    clear_scene(api)
    create(api, "cube", name="Listed", location=[1, 2, 3])
    ok(post(api, "/light", {"type": "SUN", "name": "ListedSun", "location": [0, 0, 9]}), 201)
    ok(post(api, "/camera", {"name": "ListedCam", "location": [5, 5, 5], "make_active": False}), 201)
    assert ok(api.get(BASE + "/objects", params={"limit": 10000})) == {
        "objects": [
            {"name": "Listed", "type": "MESH", "location": [1.0, 2.0, 3.0], "visible": True},
            {"name": "ListedCam", "type": "CAMERA", "location": [5.0, 5.0, 5.0], "visible": True},
            {"name": "ListedSun", "type": "LIGHT", "location": [0.0, 0.0, 9.0], "visible": True},
        ],
        "total": 3,
        "offset": 0,
        "limit": 10000,
    }


@pytest.mark.parametrize(
    ("params", "field"),
    [({"limit": 0}, "limit"), ({"offset": -1}, "offset"), ({"limit": "many"}, "limit")],
)
def test_list_objects_bad_query(api: httpx.Client, params: dict[str, Any], field: str) -> None:
    err = error(api.get(BASE + "/objects", params=params), 422, "VALIDATION_ERROR")
    (problem,) = err["details"]["errors"]
    assert problem["location"] == "query" and problem["field"].split(".")[-1] == field


def test_get_object(api: httpx.Client, host: RpcClient) -> None:
    name = uid("Get")
    create(api, "cylinder", name=name, radius=0.25, depth=1.0, vertices=16, location=[0, 5, 0])
    info = ok(api.get(f"{BASE}/objects/{name}"))
    # 16 vertices round each of the two caps; 16 side quads and the two caps.
    assert info == {
        "name": name,
        "type": "MESH",
        "location": [0.0, 5.0, 0.0],
        "rotation": [0.0, 0.0, 0.0],
        "rotation_mode": "XYZ",
        "scale": [1.0, 1.0, 1.0],
        "dimensions": [0.5, 0.5, 1.0],
        "bounds": {"min": [-0.25, 4.75, -0.5], "max": [0.25, 5.25, 0.5]},
        "visible": True,
        "vertices": 32,
        "faces": 18,
        "materials": [],
        "parent": None,
        "data": name,
    }


def test_get_object_with_awkward_name(api: httpx.Client, host: RpcClient) -> None:
    name = f"{uid('Sp')} näme #1"
    create(api, "cube", name=name)
    info = ok(api.get(f"{BASE}/objects/{quote(name, safe='')}"))
    assert info["name"] == name and exists(host, name)


def test_unknown_object_is_404(api: httpx.Client) -> None:
    missing = uid("Missing")
    err = error(api.get(f"{BASE}/objects/{missing}"), 404, "NOT_FOUND")
    assert err["details"]["name"] == missing and missing in err["message"]
    error(api.delete(f"{BASE}/objects/{missing}"), 404, "NOT_FOUND")
    error(api.patch(f"{BASE}/objects/{missing}", json={"location": [0, 0, 0]}), 404, "NOT_FOUND")


def test_object_name_too_long_is_422(api: httpx.Client) -> None:
    err = error(api.get(f"{BASE}/objects/{'n' * 64}"), 422, "VALIDATION_ERROR")
    assert err["details"]["errors"][0]["location"] == "path"


def test_delete_object(api: httpx.Client, host: RpcClient) -> None:
    name = uid("Del")
    create(api, "cube", name=name)
    assert ok(api.delete(f"{BASE}/objects/{name}")) == {"name": name, "deleted": True}
    assert not exists(host, name)
    error(api.delete(f"{BASE}/objects/{name}"), 404, "NOT_FOUND")
    error(api.get(f"{BASE}/objects/{name}"), 404, "NOT_FOUND")


def test_transform_absolute(api: httpx.Client, host: RpcClient) -> None:
    name = uid("Move")
    create(api, "cube", name=name, size=2.0, location=[9, 9, 9], rotation=[10, 20, 30])
    info = ok(
        api.patch(f"{BASE}/objects/{name}", json={"location": [1, 2, 3], "rotation": [0, 0, 90], "scale": [2, 1, 1]})
    )
    assert info["location"] == [1.0, 2.0, 3.0] and approx(info["rotation"], [0, 0, 90]) and info["scale"] == [2, 1, 1]
    real = host.call("object.get", {"name": name})
    assert real["location"] == [1.0, 2.0, 3.0]
    assert approx(real["rotation"], [0.0, 0.0, 90.0])
    assert approx(real["dimensions"], [4.0, 2.0, 2.0])
    # 4 long on local X, turned onto world Y.
    assert approx(real["bounds"]["min"], [0.0, 0.0, 2.0]) and approx(real["bounds"]["max"], [2.0, 4.0, 4.0])


def test_transform_partial_keeps_the_rest(api: httpx.Client, host: RpcClient) -> None:
    name = uid("Part")
    create(api, "cube", name=name, location=[1, 1, 1], rotation=[0, 45, 0], scale=[3, 3, 3])
    ok(api.patch(f"{BASE}/objects/{name}", json={"location": [0, 0, 7]}))
    real = host.call("object.get", {"name": name})
    assert real["location"] == [0.0, 0.0, 7.0]
    assert approx(real["rotation"], [0, 45, 0]) and real["scale"] == [3.0, 3.0, 3.0]


def test_transform_relative(api: httpx.Client, host: RpcClient) -> None:
    name = uid("Rel")
    create(api, "cube", name=name, location=[1, 2, 3], rotation=[0, 0, 30], scale=[2, 2, 2])
    body = {"location": [1, -1, 0.5], "rotation": [0, 0, 15], "scale": [0.5, 2, 1], "relative": True}
    ok(api.patch(f"{BASE}/objects/{name}", json=body))
    ok(api.patch(f"{BASE}/objects/{name}", json=body))
    real = host.call("object.get", {"name": name})
    assert approx(real["location"], [3.0, 0.0, 4.0])
    assert approx(real["rotation"], [0.0, 0.0, 60.0])
    assert approx(real["scale"], [0.5, 8.0, 2.0])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"location": [1, 2]}, "location"),
        ({"rotation": [0, 0, 0, 0]}, "rotation"),
        ({"scale": "big"}, "scale"),
        ({"relative": "maybe"}, "relative"),
        ({"position": [0, 0, 0]}, "position"),
        ({"location": [0, 0, "up"]}, "location[2]"),
        ({"scale": [1, 1, 0]}, "scale[2]"),
    ],
)
def test_transform_validation(api: httpx.Client, host: RpcClient, body: dict[str, Any], field: str) -> None:
    name = uid("BadMove")
    create(api, "cube", name=name, location=[5, 5, 5])
    err = error(api.patch(f"{BASE}/objects/{name}", json=body), 422, "VALIDATION_ERROR")
    assert field in field_names(err)
    assert host.call("object.get", {"name": name})["location"] == [5.0, 5.0, 5.0]


# ---------------------------------------------------------------------------------------------- materials
def material(host: RpcClient, name: str) -> dict[str, Any]:
    (found,) = [m for m in host.call("material.list")["materials"] if m["name"] == name]
    return dict(found)


def test_create_material(api: httpx.Client, host: RpcClient) -> None:
    name = uid("Mat")
    body = {"name": name, "color": [0.8, 0.1, 0.2, 1.0], "metallic": 0.7, "roughness": 0.25, "emission_strength": 2}
    result = ok(post(api, "/materials", body), 201)
    assert result["name"] == name
    real = material(host, name)
    assert approx(real["color"], [0.8, 0.1, 0.2, 1.0])
    assert math.isclose(real["metallic"], 0.7, abs_tol=1e-5) and math.isclose(real["roughness"], 0.25, abs_tol=1e-5)
    assert math.isclose(real["emission_strength"], 2.0, abs_tol=1e-5)


def test_create_material_hex_colour_and_duplicate(api: httpx.Client, host: RpcClient) -> None:
    name = uid("Hex")
    first = ok(post(api, "/materials", {"name": name, "color": "#ff0000"}), 201)
    second = ok(post(api, "/materials", {"name": name}), 201)
    assert first["name"] == name and second["name"] == f"{name}.001"
    assert approx(material(host, name)["color"], [1.0, 0.0, 0.0, 1.0])
    assert approx(material(host, f"{name}.001")["color"], [0.8, 0.8, 0.8, 1.0])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"color": [2, 0, 0]}, "color"),
        ({"color": [0.5, 0.5]}, "color"),
        ({"color": "red"}, "color"),
        ({"metallic": 1.5}, "metallic"),
        ({"roughness": -0.1}, "roughness"),
        ({"shininess": 1}, "shininess"),
    ],
)
def test_create_material_validation(api: httpx.Client, host: RpcClient, body: dict[str, Any], field: str) -> None:
    name = uid("BadMat")
    err = error(post(api, "/materials", {"name": name, **body}), 422, "VALIDATION_ERROR")
    assert any(f == field or f.startswith(field + "[") for f in field_names(err)), err
    assert not [m for m in host.call("material.list")["materials"] if m["name"] == name]


def test_material_name_required(api: httpx.Client) -> None:
    err = error(post(api, "/materials", {"color": [1, 1, 1]}), 422, "VALIDATION_ERROR")
    assert field_names(err) == {"name"}


def test_apply_material(api: httpx.Client, host: RpcClient) -> None:
    obj, mat = uid("Painted"), uid("Paint")
    create(api, "sphere", name=obj)
    ok(post(api, "/materials", {"name": mat, "color": [0, 0, 1, 1]}), 201)
    info = ok(post(api, "/materials/apply", {"object": obj, "material": mat}))
    assert info["name"] == obj and info["materials"] == [mat]
    assert host.call("object.get", {"name": obj})["materials"] == [mat]
    assert material(host, mat)["users"] == 1  # the sphere's mesh


def test_apply_material_not_found(api: httpx.Client, host: RpcClient) -> None:
    obj, mat = uid("Bare"), uid("Real")
    create(api, "cube", name=obj)
    ok(post(api, "/materials", {"name": mat}), 201)
    err = error(post(api, "/materials/apply", {"object": obj, "material": "no-such-material"}), 404, "NOT_FOUND")
    assert err["details"]["field"] == "material"
    err = error(post(api, "/materials/apply", {"object": uid("Ghost"), "material": mat}), 404, "NOT_FOUND")
    assert err["details"]["field"] == "object"
    assert host.call("object.get", {"name": obj})["materials"] == []
    err = error(post(api, "/materials/apply", {"object": obj}), 422, "VALIDATION_ERROR")
    assert field_names(err) == {"material"}


def test_apply_material_to_a_light_is_refused(api: httpx.Client) -> None:
    light = ok(post(api, "/light", {"name": uid("Lamp")}), 201)["object_id"]
    mat = ok(post(api, "/materials", {"name": uid("LampMat")}), 201)["name"]
    err = error(post(api, "/materials/apply", {"object": light, "material": mat}), 409, "CONFLICT")
    assert err["details"]["field"] == "object" and "LIGHT" in err["message"]


# ---------------------------------------------------------------------------------------------- camera and light
def forward_axis(rotation_degrees: list[float]) -> npt.NDArray[np.float64]:
    """The world direction of an object's local -Z (where a camera looks) for Euler XYZ degrees."""
    x, y, z = (math.radians(a) for a in rotation_degrees)
    rx = np.array([[1, 0, 0], [0, math.cos(x), -math.sin(x)], [0, math.sin(x), math.cos(x)]])
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rz = np.array([[math.cos(z), -math.sin(z), 0], [math.sin(z), math.cos(z), 0], [0, 0, 1]])
    forward: npt.NDArray[np.float64] = rz @ ry @ rx @ np.array([0.0, 0.0, -1.0])
    return forward


def test_create_camera_look_at(api: httpx.Client, host: RpcClient) -> None:
    name = uid("Cam")
    location, target = [7.0, -7.0, 5.0], [1.0, 2.0, 0.5]
    created = ok(post(api, "/camera", {"name": name, "location": location, "look_at": target, "lens": 35}), 201)
    assert created["object_id"] == name
    info = created["object"]
    assert info["type"] == "CAMERA" and info["lens"] == 35.0 and info["active"] is True
    real = host.call("object.get", {"name": name})
    assert real["type"] == "CAMERA" and real["location"] == location
    wanted = np.subtract(target, location)
    wanted /= np.linalg.norm(wanted)
    assert np.allclose(forward_axis(real["rotation"]), wanted, atol=1e-4)
    assert host.call("scene.info")["active_camera"] == name


def test_create_camera_with_rotation_not_active(api: httpx.Client, host: RpcClient) -> None:
    before = host.call("scene.info")["active_camera"]
    name = uid("Side")
    created = ok(post(api, "/camera", {"name": name, "rotation": [90, 0, 0], "make_active": False}), 201)
    assert created["object"]["active"] is False
    real = host.call("object.get", {"name": name})
    assert approx(real["rotation"], [90.0, 0.0, 0.0])
    assert np.allclose(forward_axis(real["rotation"]), [0.0, 1.0, 0.0], atol=1e-5)  # looking along +Y
    assert host.call("scene.info")["active_camera"] == before


def test_create_camera_invalid(api: httpx.Client, host: RpcClient) -> None:
    name = uid("BadCam")
    err = error(
        post(api, "/camera", {"name": name, "rotation": [0, 0, 0], "look_at": [0, 0, 0]}), 422, "VALIDATION_ERROR"
    )
    assert field_names(err) == {"look_at"} and "not both" in err["message"]
    err = error(post(api, "/camera", {"name": name, "lens": 0.5}), 422, "VALIDATION_ERROR")
    assert field_names(err) == {"lens"}
    assert not exists(host, name)


@pytest.mark.parametrize("kind", ["POINT", "SUN", "SPOT", "AREA"])
def test_create_light(api: httpx.Client, host: RpcClient, kind: str) -> None:
    name = uid(kind.capitalize())
    body = {"type": kind, "name": name, "energy": 42.5, "color": [1, 0.5, 0.25], "location": [1, 2, 3]}
    created = ok(post(api, "/light", {**body, "rotation": [30, 0, 0]}), 201)
    info = created["object"]
    assert created["object_id"] == name
    assert info["type"] == "LIGHT" and info["light_type"] == kind and info["energy"] == 42.5
    real = host.call("object.get", {"name": name})
    assert real["type"] == "LIGHT" and real["location"] == [1.0, 2.0, 3.0] and approx(real["rotation"], [30, 0, 0])
    data = host.call(
        "code.execute", {"code": f"d = D.objects[{name!r}].data\nresult = [d.type, d.energy, list(d.color)]"}
    )["result"]
    assert data[0] == kind and math.isclose(data[1], 42.5) and approx(data[2], [1.0, 0.5, 0.25])


def test_create_light_invalid(api: httpx.Client, host: RpcClient) -> None:
    name = uid("BadLight")
    err = error(post(api, "/light", {"name": name, "type": "LASER"}), 422, "VALIDATION_ERROR")
    assert field_names(err) == {"type"}
    err = error(post(api, "/light", {"name": name, "energy": -1}), 422, "VALIDATION_ERROR")
    assert field_names(err) == {"energy"}
    assert not exists(host, name)


def test_sun_default_energy_is_blenders(api: httpx.Client) -> None:
    info = ok(post(api, "/light", {"type": "SUN", "name": uid("DefaultSun")}), 201)["object"]
    assert info["energy"] == 1.0


# ---------------------------------------------------------------------------------------------- scene
def test_get_scene(api: httpx.Client) -> None:
    clear_scene(api)
    empty = ok(api.get(BASE + "/scene"))
    assert (empty["object_count"], empty["objects"], empty["active_camera"]) == (0, [], None)
    assert re.fullmatch(r"5\.0\.\d+", empty["blender_version"]), empty  # bpy is pinned to 5.0.x
    name = uid("Count")
    create(api, "cube", name=name)
    ok(post(api, "/camera", {"name": f"{name}_cam"}), 201)
    after = ok(api.get(BASE + "/scene"))
    assert (after["object_count"], after["objects"], after["objects_truncated"]) == (2, [name, f"{name}_cam"], False)
    assert after["active_camera"] == f"{name}_cam"


def test_clear_scene(api: httpx.Client, host: RpcClient) -> None:
    clear_scene(api)
    create(api, "cube", name=uid("Doomed"))
    ok(post(api, "/light", {"name": uid("DoomedLight")}), 201)
    # Two objects, and with them (orphans=true by default) the cube's mesh and the light's data.
    assert ok(api.delete(BASE + "/scene")) == {"objects_removed": 2, "data_removed": 2}
    assert ok(api.get(BASE + "/scene"))["object_count"] == 0
    assert host.call("object.list")["total"] == 0


def test_clear_scene_orphans_flag(api: httpx.Client, host: RpcClient) -> None:
    clear_scene(api)  # no orphans of earlier tests left
    name = uid("Orphan")
    create(api, "cube", name=name)
    ok(api.delete(f"{BASE}/objects/{name}"))  # its mesh went with it
    has_mesh = {"code": f"result = {name!r} in D.meshes"}
    assert host.call("code.execute", has_mesh)["result"] is False
    host.call("code.execute", {"code": f"D.meshes.new({name!r})"})  # data no object uses, as a script leaves it
    assert host.call("code.execute", has_mesh)["result"] is True
    assert ok(api.delete(BASE + "/scene", params={"orphans": "false"})) == {"objects_removed": 0, "data_removed": 0}
    assert host.call("code.execute", has_mesh)["result"] is True
    assert ok(api.delete(BASE + "/scene")) == {"objects_removed": 0, "data_removed": 1}  # that one mesh
    assert host.call("code.execute", has_mesh)["result"] is False


def test_save_and_open_scene(api: httpx.Client, host: RpcClient, blender_backend: Backend) -> None:
    ok(api.delete(BASE + "/scene"))
    names = sorted(create(api, kind, name=uid(kind))["object_id"] for kind in ("cube", "torus"))
    file_name = f"{uid('scene')}.blend"
    saved = ok(post(api, "/scene/save", {"filepath": file_name}))
    assert saved["name"] == file_name and saved["format"] == "BLEND"
    assert saved["url"] == f"{BASE}/files/{file_name}"
    data = download(api, saved["url"])
    assert is_blend(data) and len(data) == saved["size"]
    assert (blender_backend.workspace / file_name).read_bytes() == data

    ok(api.delete(BASE + "/scene"))
    assert host.call("scene.info")["object_count"] == 0
    upload_name = f"{uid('upload')}.blend"
    opened = ok(api.post(BASE + "/scene/open", files={"file": (upload_name, data, "application/octet-stream")}))
    assert opened["object_count"] == 2 and sorted(opened["objects"]) == names
    assert sorted(o["name"] for o in host.call("object.list")["objects"]) == names
    assert host.call("object.get", {"name": names[0]})["type"] == "MESH"
    assert (blender_backend.workspace / upload_name).read_bytes() == data


def test_save_scene_generated_name(api: httpx.Client, host: RpcClient) -> None:
    clear_scene(api)
    name = create(api, "torus", name=uid("Saved"), location=[0, 0, 2])["object_id"]
    saved = ok(post(api, "/scene/save", {}))
    assert re.fullmatch(r"scene-\d{4}\.blend", saved["name"]), saved
    assert saved["url"] == f"{BASE}/files/{saved['name']}" and saved["format"] == "BLEND"
    data = download(api, saved["url"])
    assert len(data) == saved["size"]
    # The file holds the scene: opened again, the torus is back as it was.
    clear_scene(api)
    opened = ok(api.post(BASE + "/scene/open", files={"file": (f"{uid('again')}.blend", data)}))
    assert (opened["object_count"], opened["objects"]) == (1, [name])
    torus = host.call("object.get", {"name": name})
    assert (torus["vertices"], torus["location"]) == (48 * 12, [0.0, 0.0, 2.0])


@pytest.mark.parametrize("file_name", ["../escape.blend", "sub/dir.blend", ".hidden.blend", "a\\b.blend"])
def test_save_scene_hostile_name(api: httpx.Client, blender_backend: Backend, file_name: str) -> None:
    err = error(post(api, "/scene/save", {"filepath": file_name}), 422, "VALIDATION_ERROR")
    assert field_names(err) == {"filepath"}
    assert not (blender_backend.workspace.parent / "escape.blend").exists()


def test_open_scene_rejects_other_files(api: httpx.Client, host: RpcClient) -> None:
    count = host.call("scene.info")["object_count"]
    err = error(api.post(BASE + "/scene/open", files={"file": ("scene.txt", b"BLENDER")}), 422, "INVALID_UPLOAD")
    assert err["details"]["accepted"] == [".blend"]
    err = error(api.post(BASE + "/scene/open"), 422, "VALIDATION_ERROR")
    assert field_names(err) == {"file"}
    assert host.call("scene.info")["object_count"] == count


# ---------------------------------------------------------------------------------------------- render
def read_image(api: httpx.Client, result: dict[str, Any]) -> Image.Image:
    data = download(api, result["url"])
    assert len(data) == result["size"]
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def distinct_colours(image: Image.Image) -> int:
    pixels = np.asarray(image.convert("RGB")).reshape(-1, 3)
    return len(np.unique(pixels, axis=0))


@pytest.fixture
def stage(api: httpx.Client) -> Iterator[dict[str, str]]:
    """A red cube, a light and a camera of the test's own, far from anything else; removed afterwards."""
    x = 500.0
    cube = create(api, "cube", name=uid("Stage"), location=[x, 0, 0])["object_id"]
    material_name = ok(post(api, "/materials", {"name": uid("StageMat"), "color": [0.9, 0.2, 0.1, 1]}), 201)["name"]
    ok(post(api, "/materials/apply", {"object": cube, "material": material_name}))
    light_body = {"type": "POINT", "name": uid("StageLight"), "location": [x + 3, -3, 4], "energy": 500}
    light = ok(post(api, "/light", light_body), 201)["object_id"]
    body = {"name": uid("StageCam"), "location": [x + 6, -5, 4], "look_at": [x, 0, 0], "make_active": False}
    camera = ok(post(api, "/camera", body), 201)["object_id"]
    yield {"cube": cube, "camera": camera}
    for name in (cube, light, camera):
        api.delete(f"{BASE}/objects/{name}")


def centre_differs_from_corner(image: Image.Image) -> bool:
    pixels = np.asarray(image.convert("RGB")).astype(int)
    centre, corner = pixels[image.height // 2, image.width // 2], pixels[1, 1]
    return bool(np.abs(centre - corner).max() > 10)


@pytest.mark.parametrize("engine", ["WORKBENCH", "EEVEE", "CYCLES"])
def test_render_engines(api: httpx.Client, host: RpcClient, stage: dict[str, str], engine: str) -> None:
    output = f"{uid(engine.lower())}.png"
    body = {"engine": engine, "resolution": [64, 48], "samples": 2, "camera": stage["camera"], "output": output}
    result = ok(post(api, "/render", body))
    assert result["name"] == output and result["url"] == f"{BASE}/files/{output}"
    assert result["engine"] == engine and result["width"] == 64 and result["height"] == 48
    assert result["camera"] == stage["camera"] and result["camera_added"] is False
    image = read_image(api, result)
    assert image.format == "PNG" and image.size == (64, 48)
    assert distinct_colours(image) > 4  # a lit cube in front of the world, not one flat colour
    assert centre_differs_from_corner(image)  # the cube is in the middle of the frame


def test_render_jpeg(api: httpx.Client, stage: dict[str, str]) -> None:
    body = {"format": "JPEG", "resolution": [40, 30], "camera": stage["camera"], "engine": "WORKBENCH"}
    result = ok(post(api, "/render", body))
    assert result["format"] == "JPEG" and result["name"].endswith((".jpg", ".jpeg"))
    image = read_image(api, result)
    assert image.format == "JPEG" and image.size == (40, 30)
    assert distinct_colours(image) > 4
    response = api.get(result["url"])
    assert response.headers["content-type"] == "image/jpeg"


def test_render_without_camera_adds_one(api: httpx.Client, host: RpcClient) -> None:
    ok(api.delete(BASE + "/scene"))
    create(api, "cube", name=uid("Lonely"))
    assert host.call("scene.info")["active_camera"] is None
    result = ok(post(api, "/render", {"resolution": [48, 48], "engine": "WORKBENCH"}))
    assert result["camera_added"] is True
    camera = result["camera"]
    assert host.call("object.get", {"name": camera})["type"] == "CAMERA"
    assert host.call("scene.info")["active_camera"] == camera
    image = read_image(api, result)
    assert image.size == (48, 48) and distinct_colours(image) > 4  # the framing camera sees the cube


def test_render_errors(api: httpx.Client, host: RpcClient) -> None:
    err = error(post(api, "/render", {"engine": "LUXCORE"}), 422, "VALIDATION_ERROR")
    assert field_names(err) == {"engine"}
    err = error(post(api, "/render", {"resolution": [0, 10]}), 422, "VALIDATION_ERROR")
    assert field_names(err) == {"resolution[0]"}
    err = error(post(api, "/render", {"resolution": [64]}), 422, "VALIDATION_ERROR")
    assert field_names(err) == {"resolution"}
    err = error(post(api, "/render", {"format": "GIF"}), 422, "VALIDATION_ERROR")
    assert field_names(err) == {"format"} and "PNG, JPEG, OPEN_EXR, TIFF" in err["message"]
    err = error(post(api, "/render", {"camera": uid("NoCam"), "resolution": [8, 8]}), 404, "NOT_FOUND")
    assert err["details"]["field"] == "camera"
    mesh = create(api, "cube", name=uid("NotACam"))["object_id"]
    err = error(post(api, "/render", {"camera": mesh, "resolution": [8, 8]}), 409, "CONFLICT")
    assert err["details"]["field"] == "camera" and "not a CAMERA" in err["message"]
    err = error(post(api, "/render", {"output": "frame-###.png", "resolution": [8, 8]}), 422, "VALIDATION_ERROR")
    assert field_names(err) == {"output"} and "'#'" in err["message"]
    err = error(post(api, "/render", {"output": "../x.png"}), 422, "VALIDATION_ERROR")
    assert field_names(err) == {"output"}


# ---------------------------------------------------------------------------------------------- export / import
@pytest.fixture
def two_cubes(api: httpx.Client) -> dict[str, str]:
    """Cube a (edge 2 at x=10) and cube b (edge 4 at x=-10)."""
    a = create(api, "cube", name=uid("ExpA"), size=2.0, location=[10, 0, 0])["object_id"]
    b = create(api, "cube", name=uid("ExpB"), size=4.0, location=[-10, 0, 0])["object_id"]
    return {"a": a, "b": b}


MESH_FORMATS = [("GLB", "glb"), ("OBJ", "obj"), ("STL", "stl"), ("PLY", "ply")]


@pytest.mark.parametrize(("fmt", "ext"), MESH_FORMATS)
def test_export_mesh_formats(api: httpx.Client, host: RpcClient, two_cubes: dict[str, str], fmt: str, ext: str) -> None:
    a = two_cubes["a"]
    result = ok(post(api, "/export", {"format": fmt, "objects": [a]}))
    assert result["format"] == fmt and result["name"].endswith("." + ext) and result["objects"] == [a]
    data = download(api, result["url"])
    assert len(data) == result["size"]
    if fmt in ("GLB", "OBJ"):
        assert object_names(data, fmt) == [a]
    mesh = load_mesh(data, ext)
    # Only cube a: edge 2 around x=10 (the exporters' Y-up conversion leaves X alone).
    assert np.allclose(mesh.bounds, [[9, -1, -1], [11, 1, 1]], atol=1e-4)
    mesh.merge_vertices(merge_tex=True, merge_norm=True)
    assert len(mesh.vertices) == 8 and len(mesh.faces) == 12
    assert mesh.is_watertight and math.isclose(mesh.volume, 8.0, rel_tol=1e-4)


def test_export_selection_of_two(api: httpx.Client, two_cubes: dict[str, str]) -> None:
    result = ok(post(api, "/export", {"format": "STL", "objects": [two_cubes["a"], two_cubes["b"]]}))
    assert sorted(result["objects"]) == sorted(two_cubes.values())
    mesh = load_mesh(download(api, result["url"]), "stl")
    assert np.allclose(mesh.bounds, [[-12, -2, -2], [11, 2, 2]], atol=1e-4)
    mesh.merge_vertices(merge_tex=True, merge_norm=True)
    assert len(mesh.vertices) == 16 and mesh.is_watertight
    assert math.isclose(mesh.volume, 8.0 + 64.0, rel_tol=1e-4)


def test_export_all_objects(api: httpx.Client) -> None:
    clear_scene(api)
    a = create(api, "cube", name=uid("AllA"), size=2.0, location=[10, 0, 0])["object_id"]
    b = create(api, "cube", name=uid("AllB"), size=4.0, location=[-10, 0, 0])["object_id"]
    result = ok(post(api, "/export", {"format": "OBJ", "filepath": f"{uid('all')}.obj"}))
    assert sorted(result["objects"]) == sorted([a, b])
    data = download(api, result["url"])
    assert sorted(object_names(data, "OBJ")) == sorted([a, b])
    mesh = load_mesh(data, "obj")
    mesh.merge_vertices(merge_tex=True, merge_norm=True)
    assert len(mesh.vertices) == 16 and mesh.is_watertight
    assert math.isclose(mesh.volume, 2**3 + 4**3, rel_tol=1e-4)


@pytest.mark.parametrize(("fmt", "ext", "magic"), [("FBX", "fbx", b"Kaydara FBX Binary"), ("USD", "usd", b"PXR-USD")])
def test_export_and_reimport_fbx_usd(
    api: httpx.Client, host: RpcClient, two_cubes: dict[str, str], fmt: str, ext: str, magic: bytes
) -> None:
    result = ok(post(api, "/export", {"format": fmt, "objects": [two_cubes["a"]]}))
    assert result["name"].endswith("." + ext)
    data = download(api, result["url"])
    assert data.startswith(magic) and len(data) == result["size"]
    imported = ok(api.post(BASE + "/import", files={"file": (f"{uid('re')}.{ext}", data)}))
    assert imported["format"] == fmt
    meshes = [host.call("object.get", {"name": n}) for n in imported["objects"]]
    meshes = [m for m in meshes if m["type"] == "MESH"]
    assert len(meshes) == 1
    assert meshes[0]["vertices"] == 8
    assert np.allclose(meshes[0]["bounds"]["min"], [9, -1, -1], atol=1e-3)
    assert np.allclose(meshes[0]["bounds"]["max"], [11, 1, 1], atol=1e-3)


def test_export_blend(api: httpx.Client, host: RpcClient, two_cubes: dict[str, str]) -> None:
    b = two_cubes["b"]
    name = f"{uid('lib')}.blend"
    result = ok(post(api, "/export", {"format": "BLEND", "objects": [b], "filepath": name}))
    assert (result["name"], result["format"], result["objects"]) == (name, "BLEND", [b])
    data = download(api, result["url"])
    assert len(data) == result["size"]
    # Imported back, the file brings cube b alone (cube a was not exported), renamed beside the original.
    imported = ok(api.post(BASE + "/import", files={"file": (f"{uid('re')}.blend", data)}))
    assert imported["objects"] == [f"{b}.001"]
    copy = host.call("object.get", {"name": f"{b}.001"})
    assert (copy["vertices"], copy["faces"]) == (8, 6)
    assert approx(copy["bounds"]["min"], [-12, -2, -2]) and approx(copy["bounds"]["max"], [-8, 2, 2])


def test_export_gltf_with_companion(api: httpx.Client, two_cubes: dict[str, str], tmp_path: Path) -> None:
    a = two_cubes["a"]
    result = ok(post(api, "/export", {"format": "GLTF", "objects": [a]}))
    stem = result["name"].removesuffix(".gltf")
    assert result["files"] == [f"{stem}.gltf", f"{stem}.bin"] and result["objects"] == [a]
    for file_name in result["files"]:  # the .gltf reads its buffer from the .bin beside it
        (tmp_path / file_name).write_bytes(download(api, f"{BASE}/files/{file_name}"))
    document = (tmp_path / result["name"]).read_bytes()
    assert len(document) == result["size"] and object_names(document, "GLTF") == [a]
    mesh = trimesh.load(tmp_path / result["name"], force="mesh")
    assert isinstance(mesh, trimesh.Trimesh)
    mesh.merge_vertices(merge_tex=True, merge_norm=True)
    assert (len(mesh.vertices), len(mesh.faces)) == (8, 12) and mesh.is_watertight
    assert math.isclose(mesh.volume, 8.0, rel_tol=1e-4)
    assert np.allclose(mesh.bounds, [[9, -1, -1], [11, 1, 1]], atol=1e-4)


# format, extension, vertices and faces the importer makes of the cube: OBJ keeps its 8 corners and 6 quads; STL
# stores triangles (welded to 8 corners on import); glTF triangles with each corner once per face normal; PLY splits
# corners along the UV seams. OBJ and glTF name the object (a copy of a, so ".001"); STL and PLY take the file name.
IMPORTS = [
    ("STL", "stl", 8, 12, False),
    ("OBJ", "obj", 8, 6, True),
    ("GLB", "glb", 24, 12, True),
    ("PLY", "ply", 14, 6, False),
]


@pytest.mark.parametrize(("fmt", "ext", "vertices", "faces", "named"), IMPORTS)
def test_import_mesh_formats(
    api: httpx.Client,
    host: RpcClient,
    two_cubes: dict[str, str],
    blender_backend: Backend,
    fmt: str,
    ext: str,
    vertices: int,
    faces: int,
    named: bool,
) -> None:
    a = two_cubes["a"]
    data = download(api, ok(post(api, "/export", {"format": fmt, "objects": [a]}))["url"])
    stem = uid("in")
    upload_name = f"{stem}.{ext}"
    result = ok(api.post(BASE + "/import", files={"file": (upload_name, data)}))
    assert result == {"name": upload_name, "format": fmt, "objects": [f"{a}.001" if named else stem]}
    real = host.call("object.get", {"name": result["objects"][0]})
    assert (real["type"], real["vertices"], real["faces"]) == ("MESH", vertices, faces)
    assert approx(real["bounds"]["min"], [9.0, -1.0, -1.0], 1e-3) and approx(real["bounds"]["max"], [11.0, 1, 1], 1e-3)
    assert (blender_backend.workspace / upload_name).read_bytes() == data


@pytest.mark.parametrize("file_name", ["model.dxf", "model", "model.3ds", "model.stl.exe"])
def test_import_unsupported_extension(
    api: httpx.Client, host: RpcClient, blender_backend: Backend, file_name: str
) -> None:
    count = host.call("scene.info")["object_count"]
    err = error(
        api.post(BASE + "/import", files={"file": (file_name, b"solid x\nendsolid x\n")}), 422, "INVALID_UPLOAD"
    )
    assert err["details"]["field"] == "file" and ".stl" in err["details"]["accepted"]
    assert not (blender_backend.workspace / file_name).exists()
    assert host.call("scene.info")["object_count"] == count


def test_import_hostile_upload_name(api: httpx.Client, blender_backend: Backend) -> None:
    response = api.post(BASE + "/import", files={"file": ("../evil.stl", b"solid x\nendsolid x\n")})
    err = error(response, 422, "INVALID_UPLOAD")
    assert err["details"] == {"field": "file", "reason": "not a plain file name"}
    assert not (blender_backend.workspace.parent / "evil.stl").exists()


# (route, file, bytes, refused at upload): the gateway refuses a file its reference check cannot read (a glTF, FBX or
# .blend that is none of those) before it reaches the workspace; an STL reaches the host, whose reader refuses it.
CORRUPT_UPLOADS = [
    ("/import", "junk.glb", b"this is not a glb file", True),
    ("/import", "junk.fbx", b"garbage", True),
    ("/import", "junk.stl", b"xx", False),
    ("/scene/open", "junk.blend", b"garbage", True),
]


@pytest.mark.parametrize(("route", "file_name", "data", "at_upload"), CORRUPT_UPLOADS)
def test_corrupt_upload_is_a_client_error_and_changes_nothing(
    api: httpx.Client,
    host: RpcClient,
    blender_backend: Backend,
    route: str,
    file_name: str,
    data: bytes,
    at_upload: bool,
) -> None:
    before = sorted(o["name"] for o in host.call("object.list", {"limit": 10000})["objects"])
    uploaded = f"{uid('junk')}_{file_name}"
    response = api.post(BASE + route, files={"file": (uploaded, data)})
    err = error(response, 422, "INVALID_UPLOAD" if at_upload else "VALIDATION_ERROR")
    assert err["details"]["field"] == ("file" if at_upload else "name")
    assert (blender_backend.workspace / uploaded).exists() is not at_upload
    assert str(blender_backend.workspace) not in response.text
    assert sorted(o["name"] for o in host.call("object.list", {"limit": 10000})["objects"]) == before


def test_export_errors(api: httpx.Client, two_cubes: dict[str, str]) -> None:
    err = error(post(api, "/export", {"format": "3DS"}), 422, "VALIDATION_ERROR")
    assert field_names(err) == {"format"}
    err = error(post(api, "/export", {"format": "STL", "objects": [uid("Ghost")]}), 404, "NOT_FOUND")
    assert err["details"]["field"] == "objects"
    err = error(post(api, "/export", {"format": "STL", "filepath": "../out.stl"}), 422, "VALIDATION_ERROR")
    assert field_names(err) == {"filepath"}
    # A name with another format's extension keeps it and gets the right one appended.
    result = ok(post(api, "/export", {"format": "STL", "objects": [two_cubes["a"]], "filepath": f"{uid('x')}.glb"}))
    assert result["name"].endswith(".glb.stl")


# ---------------------------------------------------------------------------------------------- files
def test_files_list_download_delete(api: httpx.Client, blender_backend: Backend, two_cubes: dict[str, str]) -> None:
    name = f"{uid('file')}.stl"
    exported = ok(post(api, "/export", {"format": "STL", "objects": [two_cubes["a"]], "filepath": name}))
    listing = ok(api.get(BASE + "/files"))
    (entry,) = [f for f in listing if f["name"] == name]
    assert entry["size"] == exported["size"] == (blender_backend.workspace / name).stat().st_size
    assert entry["url"] == f"{BASE}/files/{name}"

    response = api.get(entry["url"])
    assert response.status_code == 200
    assert response.content == (blender_backend.workspace / name).read_bytes()
    assert response.headers["content-type"] == "model/stl"
    assert int(response.headers["content-length"]) == entry["size"]
    assert name in response.headers["content-disposition"]

    assert ok(api.delete(entry["url"]))["name"] == name
    assert not (blender_backend.workspace / name).exists()
    assert name not in {f["name"] for f in ok(api.get(BASE + "/files"))}
    error(api.get(entry["url"]), 404, "NOT_FOUND")
    error(api.delete(entry["url"]), 404, "NOT_FOUND")


def test_download_large_file_in_chunks(api: httpx.Client, blender_backend: Backend) -> None:
    """Bigger than one 4 MiB file.read chunk: the gateway must stitch the chunks in order."""
    name = f"{uid('big')}.bin"
    payload = np.random.default_rng(7).bytes(9 * 1024 * 1024 + 123)
    (blender_backend.workspace / name).write_bytes(payload)
    response = api.get(f"{BASE}/files/{name}")
    assert response.status_code == 200 and response.content == payload
    assert response.headers["content-type"] == "application/octet-stream"
    ok(api.delete(f"{BASE}/files/{name}"))


NOT_A_NAME = "may hold letters, digits, spaces (not at either end), single dots between words and the characters"
# The URL path is decoded once: a name that then holds '/' matches no route (404); anything else reaches the route,
# whose file-name rule refuses it (422, naming the rule it breaks).
HOSTILE = [
    ("..%2Fx", 404, None),
    ("%2Fetc%2Fpasswd", 404, None),
    ("a%5Cb", 422, "must be a file name, not a path"),
    ("..%5C..%5Cetc%5Cpasswd", 422, "must be a file name, not a path"),
    ("%2e%2e", 422, "must not contain '..' or start with '.'"),
    ("%00x", 422, NOT_A_NAME),
    ("x%3Ay", 422, NOT_A_NAME),
    (".bashrc", 422, "must not contain '..' or start with '.'"),
]


@pytest.mark.parametrize(("raw", "status", "reason"), HOSTILE)
def test_hostile_file_names(api: httpx.Client, raw: str, status: int, reason: str | None) -> None:
    for method in ("GET", "DELETE"):
        response = api.request(method, f"{BASE}/files/{raw}")
        err = error(response, status, "NOT_FOUND" if status == 404 else "VALIDATION_ERROR")
        if reason is not None:
            (problem,) = err["details"]["errors"]
            assert (problem["field"], problem["location"]) == ("name", "path") and problem["reason"].startswith(reason)
        assert "root:" not in response.text


# ---------------------------------------------------------------------------------------------- batch / execute
def test_batch_reports_each_step(api: httpx.Client, host: RpcClient) -> None:
    first, last = uid("BatchA"), uid("BatchC")
    steps = [
        {"method": "primitive.create", "params": {"type": "cube", "name": first, "size": 1.5}},
        {"method": "object.get", "params": {"name": uid("Nope")}},
        {"method": "primitive.create", "params": {"type": "cube", "name": last}},
    ]
    result = ok(post(api, "/batch", {"steps": steps}))
    assert result["completed"] == 1 and result["failed"] is True
    assert [s["status"] for s in result["steps"]] == ["success", "error", "skipped"]
    assert [s["index"] for s in result["steps"]] == [0, 1, 2]
    assert result["steps"][0]["result"]["name"] == first
    assert result["steps"][1]["error"]["code"] == -32001  # not found
    assert exists(host, first) and not exists(host, last)
    assert approx(host.call("object.get", {"name": first})["dimensions"], [1.5, 1.5, 1.5])


def test_batch_all_succeed(api: httpx.Client, host: RpcClient) -> None:
    name = uid("BatchOk")
    steps = [
        {"method": "primitive.create", "params": {"type": "sphere", "name": name}},
        {"method": "object.transform", "params": {"name": name, "location": [0, 0, 4]}},
        {"method": "object.get", "params": {"name": name}},
    ]
    result = ok(post(api, "/batch", {"steps": steps}))
    assert result["completed"] == 3 and result["failed"] is False
    # Each step reports the names it made, unless the full results are asked for.
    assert [step["result"] for step in result["steps"]] == [{"name": name}] * 3
    full = ok(post(api, "/batch", {"steps": steps[1:], "full": True}))
    assert full["steps"][1]["result"]["location"] == [0.0, 0.0, 4.0]
    assert full["steps"][1]["result"]["type"] == "MESH" and full["steps"][1]["result"]["vertices"] == 32 * 15 + 2
    assert host.call("object.get", {"name": name})["location"] == [0.0, 0.0, 4.0]


def test_batch_invalid(api: httpx.Client, host: RpcClient) -> None:
    name = uid("NeverRun")
    steps = [
        {"method": "primitive.create", "params": {"type": "cube", "name": name}},
        {"method": "no.such.method", "params": {}},
    ]
    err = error(post(api, "/batch", {"steps": steps}), 422, "VALIDATION_ERROR")
    assert field_names(err) == {"steps[1].method"}
    assert not exists(host, name)  # checked before anything ran
    bad_value = [steps[0], {"method": "primitive.create", "params": {"type": "cube", "size": -1}}]
    err = error(post(api, "/batch", {"steps": bad_value}), 422, "VALIDATION_ERROR")
    assert field_names(err) == {"steps[1].params.size"} and "must be > 0" in err["message"]
    assert not exists(host, name)
    err = error(post(api, "/batch", {"steps": []}), 422, "VALIDATION_ERROR")
    assert field_names(err) == {"steps"}
    err = error(post(api, "/batch", {"steps": [{"params": {}}]}), 422, "VALIDATION_ERROR")
    assert field_names(err) == {"steps[0].method"}


def test_execute(api: httpx.Client, host: RpcClient) -> None:
    name = uid("Exec")
    code = (
        "mesh = bpy.data.meshes.new(NAME)\n"
        "obj = bpy.data.objects.new(NAME, mesh)\n"
        "C.scene.collection.objects.link(obj)\n"
        "print('made', obj.name)\n"
        "result = {'name': obj.name, 'answer': 6 * 7}\n"
    ).replace("NAME", repr(name))
    result = ok(post(api, "/execute", {"code": code}))
    assert result["stdout"] == f"made {name}\n" and result["stderr"] == ""
    assert result["result"] == {"name": name, "answer": 42}
    assert host.call("object.get", {"name": name})["type"] == "MESH"


def test_execute_error(api: httpx.Client) -> None:
    err = error(post(api, "/execute", {"code": "print('before')\nx = 1 / 0"}), 400, "EXECUTION_ERROR")
    assert err["details"]["type"] == "ZeroDivisionError"
    assert "ZeroDivisionError" in err["details"]["traceback"] and "line 2" in err["details"]["traceback"]
    assert err["details"]["stdout"] == "before\n"
    err = error(post(api, "/execute", {"code": "def f(:\n    pass"}), 400, "EXECUTION_ERROR")
    assert err["details"]["type"] == "SyntaxError"
    err = error(post(api, "/execute", {"code": ""}), 422, "VALIDATION_ERROR")
    assert field_names(err) == {"code"}


def test_execute_timeout_interrupts_the_script(api: httpx.Client, host: RpcClient, gateway: Gateway) -> None:
    log_before = len(gateway.log())
    err = error(post(api, "/execute", {"code": "while True:\n    pass", "timeout": 1}), 504, "TIMEOUT")
    assert err["details"] == {"backend": "blender", "method": "code.execute", "timeout": 1.0}
    # The runaway loop was cancelled: Blender's main thread runs commands again, and the gateway did not have to
    # give up on interrupting it.
    name = create(api, "cube", name=uid("AfterLoop"))["object_id"]
    assert host.call("object.get", {"name": name})["vertices"] == 8
    assert host.call("rpc.describe")["busy"] is False
    assert "could not interrupt" not in gateway.log()[log_before:]
