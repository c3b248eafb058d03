"""Every FreeCAD REST route over real HTTP, against the real gateway and the real headless FreeCAD.

Each test checks the status code and the envelope, then the real effect: volumes against closed-form
formulas, through a direct RpcClient to the host server (independent of the gateway), by loading
downloaded files (trimesh, zipfile) or importing them back into FreeCAD.
All work happens in documents this module creates, passed explicitly with `document`.
"""

from __future__ import annotations

import io
import math
import uuid
import zipfile
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
import trimesh

from backends import Backend
from bridge3d.rpc import RpcClient
from bridge3d.rpc.errors import NotFound, RpcError
from envelope import download, error, field_names, ok

BASE = "/api/v1/freecad"
PI = math.pi


def uid(prefix: str = "T") -> str:
    """A unique FreeCAD-safe name (ends in a letter, so FreeCAD's numbering does not touch the hex part)."""
    return f"{prefix}_{uuid.uuid4().hex[:8]}x"


@pytest.fixture(scope="module")
def host(freecad_backend: Backend) -> Iterator[RpcClient]:
    """A direct connection to the FreeCAD host server, to check effects without the gateway."""
    client = freecad_backend.client(timeout=180.0)
    yield client
    client.close()


def new_document(api: httpx.Client, prefix: str = "Doc") -> str:
    created = ok(api.post(BASE + "/documents", json={"name": uid(prefix)}), 201)
    name: str = created["name"]
    return name


@pytest.fixture(scope="module")
def doc(api: httpx.Client) -> Iterator[str]:
    """This module's document."""
    name = new_document(api, "Routes")
    yield name
    api.delete(f"{BASE}/documents/{name}")


@pytest.fixture
def scratch(api: httpx.Client) -> Iterator[str]:
    """A fresh, empty document for one test (closed afterwards)."""
    name = new_document(api, "Scratch")
    yield name
    api.delete(f"{BASE}/documents/{name}")


def post(api: httpx.Client, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
    return api.post(BASE + path, json=body if body is not None else {})


def create(api: httpx.Client, kind: str, document: str, **body: Any) -> dict[str, Any]:
    """POST a primitive into ``document``; assert 201 and return the CreatedObject."""
    created: dict[str, Any] = ok(post(api, f"/primitives/{kind}", {"document": document, **body}), 201)
    return created


def get(host: RpcClient, name: str, document: str) -> dict[str, Any]:
    info: dict[str, Any] = host.call("object.get", {"name": name, "document": document})
    return info


def count(host: RpcClient, document: str) -> int:
    total: int = host.call("object.list", {"document": document, "limit": 1})["total"]
    return total


def close(a: float, b: float, rel: float = 1e-6) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-9)


def vec_close(a: list[float], b: list[float], tol: float = 1e-6) -> bool:
    return len(a) == len(b) and all(math.isclose(x, y, abs_tol=tol) for x, y in zip(a, b, strict=True))


# ---------------------------------------------------------------------------------------------- primitives
def cone_centroid_height(r1: float, r2: float, h: float) -> float:
    return h * (r1 * r1 + 2 * r1 * r2 + 3 * r2 * r2) / (4 * (r1 * r1 + r1 * r2 + r2 * r2))


LOCATION = [1.0, -2.0, 3.0]
PRIMITIVES = [
    # id, kind, body, volume, centre of mass relative to the placement
    ("box", "box", {"length": 20, "width": 10, "height": 5}, 1000.0, [10.0, 5.0, 2.5]),
    ("sphere", "sphere", {"radius": 3}, 4 / 3 * PI * 27, [0.0, 0.0, 0.0]),
    ("cylinder", "cylinder", {"radius": 2, "height": 7}, PI * 4 * 7, [0.0, 0.0, 3.5]),
    (
        "frustum",
        "cone",
        {"radius1": 3, "radius2": 1, "height": 4},
        PI * 4 / 3 * (9 + 3 + 1),
        [0.0, 0.0, cone_centroid_height(3, 1, 4)],
    ),
    ("cone", "cone", {"radius1": 2, "radius2": 0, "height": 6}, PI * 6 / 3 * 4, [0.0, 0.0, 1.5]),
    ("torus", "torus", {"radius1": 10, "radius2": 2}, 2 * PI**2 * 10 * 4, [0.0, 0.0, 0.0]),
]


@pytest.mark.parametrize(
    ("kind", "body", "volume", "centre"), [p[1:] for p in PRIMITIVES], ids=[p[0] for p in PRIMITIVES]
)
def test_create_primitive(
    api: httpx.Client,
    host: RpcClient,
    doc: str,
    kind: str,
    body: dict[str, Any],
    volume: float,
    centre: list[float],
) -> None:
    name = uid(kind)
    created = create(api, kind, doc, name=name, location=LOCATION, **body)
    assert created["object_id"] == name and name in created["message"]
    info = created["object"]
    assert info["name"] == name and info["document"] == doc and info["type"].startswith("Part::")
    assert info["location"] == LOCATION and info["scale"] == [1.0, 1.0, 1.0]
    assert close(info["volume"], volume)
    assert info["parameters"] == {k: float(v) for k, v in body.items()}
    real = get(host, name, doc)
    assert close(real["volume"], volume) and real["valid"] is True and real["solids"] == 1
    assert real["placement"]["position"] == LOCATION
    expected_centre = [c + o for c, o in zip(LOCATION, centre, strict=True)]
    assert vec_close(real["center_of_mass"], expected_centre, 1e-6)


def test_box_bounds_and_rotation(api: httpx.Client, host: RpcClient, doc: str) -> None:
    name = uid("Turned")
    info = create(api, "box", doc, name=name, length=10, width=20, height=30, location=[1, 2, 3], rotation=[0, 0, 90])[
        "object"
    ]
    assert vec_close(info["rotation"], [0.0, 0.0, 90.0])
    real = get(host, name, doc)
    assert math.isclose(real["placement"]["rotation_angle"], 90.0, abs_tol=1e-9)
    assert vec_close(real["placement"]["rotation_axis"], [0.0, 0.0, 1.0])
    # Turned 90 degrees about Z at (1, 2, 3): the 20 mm side now runs along -X.
    assert vec_close(real["bounds"]["min"], [-19.0, 2.0, 3.0]) and vec_close(real["bounds"]["max"], [1.0, 12.0, 33.0])
    assert vec_close(real["dimensions"], [20.0, 10.0, 30.0])
    assert close(real["volume"], 6000.0)


def test_primitive_defaults(api: httpx.Client, host: RpcClient, scratch: str) -> None:
    created = create(api, "box", scratch)
    assert created["object_id"] == "Box"
    real = get(host, "Box", scratch)
    assert close(real["volume"], 1000.0) and real["location"] == [0.0, 0.0, 0.0]


def test_duplicate_names_follow_freecad(api: httpx.Client, host: RpcClient, doc: str) -> None:
    name = uid("Dup")
    first = create(api, "box", doc, name=name, length=1)
    second = create(api, "sphere", doc, name=name, radius=1)
    assert first["object_id"] == name
    assert second["object_id"] == f"{name}001" and second["object"]["name"] == f"{name}001"
    assert get(host, name, doc)["type"] == "Part::Box"
    assert get(host, f"{name}001", doc)["type"] == "Part::Sphere"


def test_name_with_space_keeps_label(api: httpx.Client, host: RpcClient, doc: str) -> None:
    label = f"{uid('my')} part"
    created = create(api, "cylinder", doc, name=label)
    assert created["object_id"] == label.replace(" ", "_")
    assert created["object"]["label"] == label
    by_label = ok(api.get(f"{BASE}/objects/{label}", params={"document": doc}))
    assert by_label["name"] == created["object_id"]


BAD_PRIMITIVES = [
    ("box", {"length": -1}, "length"),
    ("box", {"width": 0}, "width"),
    ("box", {"height": "tall"}, "height"),
    ("box", {"height": 2e9}, "height"),
    ("box", {"location": [1, 2]}, "location"),
    ("box", {"rotation": [0, 0, 0, 1]}, "rotation"),
    ("box", {"scale": [1, 1, 1]}, "scale"),
    ("box", {"radius": 3}, "radius"),
    ("sphere", {"radius": -3}, "radius"),
    ("cylinder", {"height": 0}, "height"),
    ("cone", {"radius1": -1}, "radius1"),
    ("torus", {"radius2": 0}, "radius2"),
    ("box", {"name": ""}, "name"),
]


@pytest.mark.parametrize(("kind", "body", "field"), BAD_PRIMITIVES)
def test_primitive_validation(
    api: httpx.Client, host: RpcClient, doc: str, kind: str, body: dict[str, Any], field: str
) -> None:
    before = count(host, doc)
    err = error(post(api, f"/primitives/{kind}", {"document": doc, **body}), 422, "VALIDATION_ERROR")
    assert field in field_names(err), err
    assert count(host, doc) == before


@pytest.mark.parametrize(
    ("kind", "body", "field"),
    [
        ("cone", {"radius1": 2, "radius2": 2}, "radius2"),
        ("torus", {"radius1": 2, "radius2": 3}, "radius2"),
    ],
)
def test_rules_across_fields_are_checked_like_the_host_checks_them(
    api: httpx.Client, host: RpcClient, doc: str, kind: str, body: dict[str, Any], field: str
) -> None:
    before = count(host, doc)
    err = error(post(api, f"/primitives/{kind}", {"document": doc, **body}), 422, "VALIDATION_ERROR")
    assert field_names(err) == {field}
    with pytest.raises(RpcError) as direct:
        host.call("primitive.create", {"type": kind, "document": doc, **body})
    assert direct.value.data["reason"] == err["details"]["errors"][0]["reason"]
    assert count(host, doc) == before


def test_primitive_in_unknown_document(api: httpx.Client) -> None:
    missing = uid("NoDoc")
    err = error(post(api, "/primitives/box", {"document": missing}), 404, "NOT_FOUND")
    assert err["details"]["field"] == "document" and err["details"]["document"] == missing


# ---------------------------------------------------------------------------------------------- objects
def test_list_objects(api: httpx.Client, scratch: str) -> None:
    boxes = [create(api, "box", scratch, name=uid("B"))["object_id"] for _ in range(3)]
    sphere = create(api, "sphere", scratch, name=uid("S"))["object_id"]
    every = [*boxes, sphere]  # creation order
    seen: list[str] = []
    for offset in (0, 2):
        page = ok(api.get(BASE + "/objects", params={"document": scratch, "offset": offset, "limit": 2}))
        assert page["total"] == 4 and page["offset"] == offset and page["limit"] == 2 and len(page["objects"]) == 2
        seen += [o["name"] for o in page["objects"]]
    assert seen == every
    for wanted, expected in (("Part::Box", boxes), ("box", boxes), ("Part::Sphere", [sphere]), ("sphere", [sphere])):
        page = ok(api.get(BASE + "/objects", params={"document": scratch, "type": wanted}))
        assert [o["name"] for o in page["objects"]] == expected and page["total"] == len(expected)
    nothing = ok(api.get(BASE + "/objects", params={"document": scratch, "type": "Part::Torus"}))
    assert nothing["objects"] == [] and nothing["total"] == 0
    page = ok(api.get(BASE + "/objects", params={"document": scratch}))
    assert {o["type"] for o in page["objects"]} == {"Part::Box", "Part::Sphere"}
    assert all(o["visible"] is True for o in page["objects"])


@pytest.mark.parametrize(("params", "field"), [({"limit": 0}, "limit"), ({"offset": -5}, "offset")])
def test_list_objects_bad_query(api: httpx.Client, doc: str, params: dict[str, Any], field: str) -> None:
    err = error(api.get(BASE + "/objects", params={"document": doc, **params}), 422, "VALIDATION_ERROR")
    (problem,) = err["details"]["errors"]
    assert problem["location"] == "query" and problem["field"].split(".")[-1] == field


def test_unknown_document_is_404(api: httpx.Client) -> None:
    missing = uid("NoSuchDoc")
    for response in (
        api.get(BASE + "/objects", params={"document": missing}),
        api.get(f"{BASE}/objects/Box", params={"document": missing}),
        api.delete(f"{BASE}/objects/Box", params={"document": missing}),
        api.patch(f"{BASE}/objects/Box", json={"location": [0, 0, 0], "document": missing}),
    ):
        err = error(response, 404, "NOT_FOUND")
        assert err["details"]["document"] == missing and err["details"]["field"] == "document"


def test_get_object(api: httpx.Client, doc: str) -> None:
    name = create(api, "cone", doc, name=uid("Get"), radius1=4, radius2=2, height=3, location=[1, 2, 3])["object_id"]
    info = ok(api.get(f"{BASE}/objects/{name}", params={"document": doc}))
    # A frustum of radii 4 and 2, height 3, standing on its placement.
    assert close(info.pop("volume"), PI * 3 / 3 * (16 + 8 + 4))
    assert close(info.pop("area"), PI * (16 + 4 + (4 + 2) * math.hypot(4 - 2, 3)))
    assert vec_close(info.pop("center_of_mass"), [1, 2, 3 + cone_centroid_height(4, 2, 3)], 1e-9)
    assert info == {
        "name": name,
        "label": name,
        "document": doc,
        "type": "Part::Cone",
        "location": [1.0, 2.0, 3.0],
        "rotation": [0.0, 0.0, 0.0],
        "scale": [1.0, 1.0, 1.0],
        "dimensions": [8.0, 8.0, 3.0],
        "bounds": {"min": [-3.0, -2.0, 3.0], "max": [5.0, 6.0, 6.0]},
        "visible": True,
        "shape_type": "Solid",
        "solids": 1,
        "valid": True,
        "placement": {
            "position": [1.0, 2.0, 3.0],
            "rotation_axis": [0.0, 0.0, 1.0],
            "rotation_angle": 0.0,
            "quaternion": [0.0, 0.0, 0.0, 1.0],
        },
        "parameters": {"radius1": 4.0, "radius2": 2.0, "height": 3.0},
    }


def test_unknown_object_is_404(api: httpx.Client, doc: str) -> None:
    missing = uid("Ghost")
    err = error(api.get(f"{BASE}/objects/{missing}", params={"document": doc}), 404, "NOT_FOUND")
    assert err["details"]["name"] == missing and err["details"]["document"] == doc
    error(api.delete(f"{BASE}/objects/{missing}", params={"document": doc}), 404, "NOT_FOUND")
    error(api.patch(f"{BASE}/objects/{missing}", json={"location": [1, 1, 1], "document": doc}), 404, "NOT_FOUND")


def test_delete_object(api: httpx.Client, host: RpcClient, doc: str) -> None:
    name = create(api, "box", doc, name=uid("Del"))["object_id"]
    before = count(host, doc)
    deleted = ok(api.delete(f"{BASE}/objects/{name}", params={"document": doc}))
    assert deleted == {"name": name, "deleted": True, "shown": []}  # not a boolean: nothing to show again
    assert count(host, doc) == before - 1
    with pytest.raises(NotFound):
        get(host, name, doc)
    error(api.delete(f"{BASE}/objects/{name}", params={"document": doc}), 404, "NOT_FOUND")


def test_delete_object_in_use_is_refused(api: httpx.Client, host: RpcClient, doc: str) -> None:
    a = create(api, "box", doc, name=uid("UsedA"))["object_id"]
    b = create(api, "box", doc, name=uid("UsedB"), location=[5, 0, 0])["object_id"]
    fused = ok(post(api, "/boolean/union", {"object1": a, "object2": b, "document": doc}), 201)["object_id"]
    err = error(api.delete(f"{BASE}/objects/{a}", params={"document": doc}), 409, "CONFLICT")
    assert err["details"]["used_by"] == [fused]
    assert close(get(host, a, doc)["volume"], 1000.0)
    # Deleting the boolean first frees (and shows again) its inputs.
    ok(api.delete(f"{BASE}/objects/{fused}", params={"document": doc}))
    assert get(host, a, doc)["visible"] is True
    ok(api.delete(f"{BASE}/objects/{a}", params={"document": doc}))


def test_transform_location_is_placement_position(api: httpx.Client, host: RpcClient, doc: str) -> None:
    name = create(api, "box", doc, name=uid("Move"), length=2, width=4, height=6)["object_id"]
    info = ok(api.patch(f"{BASE}/objects/{name}", json={"location": [10, 20, 30], "document": doc}))
    assert info["location"] == [10.0, 20.0, 30.0]
    real = get(host, name, doc)
    assert real["placement"]["position"] == [10.0, 20.0, 30.0]
    assert vec_close(real["bounds"]["min"], [10, 20, 30]) and vec_close(real["bounds"]["max"], [12, 24, 36])
    assert close(real["volume"], 48.0)


def test_transform_rotation_degrees(api: httpx.Client, host: RpcClient, doc: str) -> None:
    name = create(api, "box", doc, name=uid("Spin"), length=10, width=2, height=2, location=[3, 3, 3])["object_id"]
    ok(api.patch(f"{BASE}/objects/{name}", json={"rotation": [0, 0, 90], "document": doc}))
    real = get(host, name, doc)
    assert vec_close(real["rotation"], [0.0, 0.0, 90.0]) and real["location"] == [3.0, 3.0, 3.0]
    assert vec_close(real["dimensions"], [2.0, 10.0, 2.0])  # the long side now along Y


def test_transform_relative(api: httpx.Client, host: RpcClient, doc: str) -> None:
    name = create(api, "sphere", doc, name=uid("Rel"), radius=1, location=[1, 2, 3], rotation=[0, 0, 10])["object_id"]
    body = {"location": [1, -1, 0.5], "rotation": [0, 0, 25], "relative": True, "document": doc}
    ok(api.patch(f"{BASE}/objects/{name}", json=body))
    ok(api.patch(f"{BASE}/objects/{name}", json=body))
    real = get(host, name, doc)
    assert vec_close(real["location"], [3.0, 0.0, 4.0])
    assert vec_close(real["rotation"], [0.0, 0.0, 60.0])
    assert vec_close(real["center_of_mass"], [3.0, 0.0, 4.0])


@pytest.mark.parametrize(
    ("body", "field"),
    [({"scale": [2, 2, 2]}, "scale"), ({"location": [1, 2]}, "location"), ({"relative": "maybe"}, "relative")],
)
def test_transform_validation(api: httpx.Client, host: RpcClient, doc: str, body: dict[str, Any], field: str) -> None:
    name = create(api, "box", doc, name=uid("Stay"), location=[7, 7, 7])["object_id"]
    err = error(api.patch(f"{BASE}/objects/{name}", json={"document": doc, **body}), 422, "VALIDATION_ERROR")
    assert field in field_names(err)
    assert get(host, name, doc)["location"] == [7.0, 7.0, 7.0]


def test_transform_with_nothing_to_change_leaves_the_object(api: httpx.Client, host: RpcClient, doc: str) -> None:
    name = create(api, "box", doc, name=uid("Idle"), location=[1, 2, 3])["object_id"]
    unchanged = ok(api.patch(f"{BASE}/objects/{name}", json={"document": doc}))
    assert unchanged["location"] == [1.0, 2.0, 3.0] and get(host, name, doc)["location"] == [1.0, 2.0, 3.0]
    err = error(
        api.patch(f"{BASE}/objects/{name}", json={"document": doc, "position": [0, 0, 0]}), 422, "VALIDATION_ERROR"
    )
    assert field_names(err) == {"position"} and "location" in err["message"]  # REST says location


# ---------------------------------------------------------------------------------------------- booleans
def test_boolean_union(api: httpx.Client, host: RpcClient, doc: str) -> None:
    a = create(api, "box", doc, name=uid("UA"))["object_id"]
    b = create(api, "box", doc, name=uid("UB"), location=[5, 0, 0])["object_id"]
    name = uid("Union")
    created = ok(post(api, "/boolean/union", {"object1": a, "object2": b, "name": name, "document": doc}), 201)
    assert created["object_id"] == name
    info = created["object"]
    assert info["type"] == "Part::MultiFuse" and info["inputs"] == [a, b]
    assert close(info["volume"], 1500.0)
    real = get(host, name, doc)
    assert close(real["volume"], 1500.0) and real["valid"] is True
    assert vec_close(real["bounds"]["min"], [0, 0, 0]) and vec_close(real["bounds"]["max"], [15, 10, 10])
    assert get(host, a, doc)["visible"] is False and get(host, b, doc)["visible"] is False


def test_boolean_subtract(api: httpx.Client, host: RpcClient, doc: str) -> None:
    box = create(api, "box", doc, name=uid("Block"))["object_id"]
    ball = create(api, "sphere", doc, name=uid("Hole"), radius=3, location=[5, 5, 5])["object_id"]
    created = ok(
        post(api, "/boolean/subtract", {"object1": box, "object2": ball, "operation": "subtract", "document": doc}), 201
    )
    info = created["object"]
    assert info["type"] == "Part::Cut" and info["inputs"] == [box, ball]
    expected = 1000.0 - 4 / 3 * PI * 27
    assert close(info["volume"], expected)
    assert close(get(host, created["object_id"], doc)["volume"], expected)


def test_boolean_intersect_keep_inputs(api: httpx.Client, host: RpcClient, doc: str) -> None:
    box = create(api, "box", doc, name=uid("IBox"))["object_id"]
    rod = create(api, "cylinder", doc, name=uid("IRod"), radius=2, height=20, location=[5, 5, -5])["object_id"]
    body = {"object1": box, "object2": rod, "keep_inputs": True, "document": doc}
    created = ok(post(api, "/boolean/intersect", body), 201)
    info = created["object"]
    assert info["type"] == "Part::MultiCommon"
    assert close(info["volume"], PI * 4 * 10)
    real = get(host, created["object_id"], doc)
    assert close(real["volume"], PI * 4 * 10)
    assert vec_close(real["bounds"]["min"], [3, 3, 0], 1e-6) and vec_close(real["bounds"]["max"], [7, 7, 10], 1e-6)
    assert get(host, box, doc)["visible"] is True and get(host, rod, doc)["visible"] is True


def test_boolean_operation_mismatch(api: httpx.Client, host: RpcClient, doc: str) -> None:
    a = create(api, "box", doc, name=uid("MA"))["object_id"]
    b = create(api, "box", doc, name=uid("MB"), location=[1, 1, 1])["object_id"]
    before = count(host, doc)
    err = error(
        post(api, "/boolean/union", {"object1": a, "object2": b, "operation": "intersect", "document": doc}),
        422,
        "VALIDATION_ERROR",
    )
    assert field_names(err) == {"operation"}
    err = error(
        post(api, "/boolean/union", {"object1": a, "object2": b, "operation": "xor", "document": doc}),
        422,
        "VALIDATION_ERROR",
    )
    assert field_names(err) == {"operation"}
    assert count(host, doc) == before
    assert get(host, a, doc)["visible"] is True


def test_boolean_missing_object(api: httpx.Client, host: RpcClient, doc: str) -> None:
    a = create(api, "box", doc, name=uid("Lone"))["object_id"]
    ghost = uid("Ghost")
    before = count(host, doc)
    err = error(post(api, "/boolean/union", {"object1": a, "object2": ghost, "document": doc}), 404, "NOT_FOUND")
    assert err["details"]["name"] == ghost and err["details"]["field"] == "object2"
    err = error(post(api, "/boolean/subtract", {"object1": a, "object2": ghost, "document": doc}), 404, "NOT_FOUND")
    assert err["details"]["field"] == "object2"
    err = error(post(api, "/boolean/intersect", {"object1": ghost, "object2": a, "document": doc}), 404, "NOT_FOUND")
    assert err["details"]["field"] == "object1"
    err = error(post(api, "/boolean/union", {"object1": a, "document": doc}), 422, "VALIDATION_ERROR")
    assert field_names(err) == {"object2"}
    assert count(host, doc) == before


def test_boolean_same_object_twice(api: httpx.Client, host: RpcClient, doc: str) -> None:
    a = create(api, "box", doc, name=uid("Twice"))["object_id"]
    before = count(host, doc)
    for operation in ("subtract", "union"):
        err = error(
            post(api, f"/boolean/{operation}", {"object1": a, "object2": a, "document": doc}), 422, "VALIDATION_ERROR"
        )
        assert field_names(err) == {"object2"} and "must differ from object1" in err["message"]
    assert count(host, doc) == before


def test_boolean_disjoint_intersection(api: httpx.Client, host: RpcClient, doc: str) -> None:
    a = create(api, "box", doc, name=uid("Far1"))["object_id"]
    b = create(api, "sphere", doc, name=uid("Far2"), radius=1, location=[100, 0, 0])["object_id"]
    before = count(host, doc)
    err = error(post(api, "/boolean/intersect", {"object1": a, "object2": b, "document": doc}), 409, "CONFLICT")
    assert err["details"]["reason"] == "empty result" and "empty" in err["message"]
    # The failed feature was rolled back and the inputs stay visible.
    assert count(host, doc) == before
    assert get(host, a, doc)["visible"] is True and get(host, b, doc)["visible"] is True


# ---------------------------------------------------------------------------------------------- export / import
@pytest.fixture(scope="module")
def parts(api: httpx.Client, doc: str) -> dict[str, str]:
    """A 10x20x30 box at (1, 2, 3) and a cylinder r=5 h=10 at (50, 0, 0)."""
    box = create(api, "box", doc, name=uid("XBox"), length=10, width=20, height=30, location=[1, 2, 3])["object_id"]
    rod = create(api, "cylinder", doc, name=uid("XRod"), radius=5, height=10, location=[50, 0, 0])["object_id"]
    return {"box": box, "rod": rod}


def export(api: httpx.Client, doc: str, fmt: str, objects: list[str], **extra: Any) -> dict[str, Any]:
    result: dict[str, Any] = ok(post(api, "/export", {"format": fmt, "objects": objects, "document": doc, **extra}))
    assert result["format"] == fmt and result["objects"] == objects and result["document"] == doc
    assert result["url"] == f"{BASE}/files/{result['name']}"
    return result


def fetch(api: httpx.Client, exported: dict[str, Any]) -> bytes:
    """Download an exported file; it is as large as the export said."""
    data = download(api, exported["url"])
    assert len(data) == exported["size"]
    return data


@pytest.mark.parametrize(
    ("fmt", "ext", "magic"),
    [("STEP", "step", b"ISO-10303-21;"), ("BREP", "brep", b"DBRep_DrawableShape"), ("IGES", "iges", b" " * 72 + b"S")],
)
def test_export_and_reimport_solid(
    api: httpx.Client, host: RpcClient, doc: str, scratch: str, parts: dict[str, str], fmt: str, ext: str, magic: bytes
) -> None:
    result = export(api, doc, fmt, [parts["box"]])
    assert result["name"].endswith("." + ext)
    data = download(api, result["url"])
    assert data.startswith(magic) and len(data) == result["size"]
    imported = ok(
        api.post(BASE + "/import", params={"document": scratch}, files={"file": (f"{uid('in')}.{ext}", data)})
    )
    assert imported["format"] == fmt and imported["document"] == scratch
    (name,) = imported["objects"]
    real = get(host, name, scratch)
    assert close(real["volume"], 6000.0) and real["solids"] == 1 and real["valid"] is True
    assert vec_close(real["dimensions"], [10.0, 20.0, 30.0], 1e-6)


@pytest.mark.parametrize(("fmt", "ext"), [("STEP", "step"), ("BREP", "brep"), ("IGES", "iges")])
def test_export_keeps_placement(
    api: httpx.Client, host: RpcClient, doc: str, scratch: str, parts: dict[str, str], fmt: str, ext: str
) -> None:
    data = fetch(api, export(api, doc, fmt, [parts["box"]]))
    imported = ok(
        api.post(BASE + "/import", params={"document": scratch}, files={"file": (f"{uid('at')}.{ext}", data)})
    )
    (name,) = imported["objects"]
    real = get(host, name, scratch)
    assert vec_close(real["bounds"]["min"], [1, 2, 3], 1e-6) and vec_close(real["bounds"]["max"], [11, 22, 33], 1e-6)


def test_export_stl(api: httpx.Client, doc: str, parts: dict[str, str]) -> None:
    result = export(api, doc, "STL", [parts["rod"]], filepath=f"{uid('rod')}.stl")
    mesh = trimesh.load(io.BytesIO(fetch(api, result)), file_type="stl", force="mesh")
    assert isinstance(mesh, trimesh.Trimesh)
    assert mesh.is_watertight
    assert math.isclose(mesh.volume, PI * 25 * 10, rel_tol=0.01)
    assert np.allclose(mesh.bounds, [[45, -5, 0], [55, 5, 10]], atol=1e-3)


def test_export_obj(api: httpx.Client, doc: str, parts: dict[str, str]) -> None:
    result = export(api, doc, "OBJ", [parts["rod"], parts["box"]])
    # FreeCAD writes the objects as one unnamed mesh: the geometry tells which are in it.
    mesh = trimesh.load(io.BytesIO(fetch(api, result)), file_type="obj", force="mesh")
    assert isinstance(mesh, trimesh.Trimesh)
    mesh.merge_vertices()  # FreeCAD gives each face its own normals; welded, both bodies are closed
    assert mesh.is_watertight
    assert np.allclose(mesh.bounds, [[1, -5, 0], [55, 22, 33]], atol=1e-3)
    assert math.isclose(mesh.volume, PI * 25 * 10 + 6000, rel_tol=0.01)


def test_export_all_visible_solids(api: httpx.Client, host: RpcClient, scratch: str) -> None:
    a = create(api, "box", scratch, name=uid("VisA"))["object_id"]
    b = create(api, "box", scratch, name=uid("VisB"), location=[20, 0, 0])["object_id"]
    ok(post(api, "/boolean/union", {"object1": a, "object2": b, "name": "Both", "document": scratch}), 201)
    result = ok(post(api, "/export", {"format": "STL", "document": scratch}))
    assert result["objects"] == ["Both"]  # the hidden inputs are not exported twice
    mesh = trimesh.load(io.BytesIO(fetch(api, result)), file_type="stl", force="mesh")
    assert isinstance(mesh, trimesh.Trimesh)
    assert mesh.is_watertight
    assert math.isclose(mesh.volume, 2000.0, rel_tol=1e-6)
    assert np.allclose(mesh.bounds, [[0, 0, 0], [30, 10, 10]], atol=1e-6)


def test_import_stl_as_mesh(api: httpx.Client, host: RpcClient, doc: str, scratch: str, parts: dict[str, str]) -> None:
    data = fetch(api, export(api, doc, "STL", [parts["box"]]))
    imported = ok(api.post(BASE + "/import", params={"document": scratch}, files={"file": ("box.stl", data)}))
    (name,) = imported["objects"]
    real = get(host, name, scratch)
    assert real["type"] == "Mesh::Feature" and real["facets"] == 12
    assert close(real["volume"], 6000.0, 1e-5)


def test_export_errors(api: httpx.Client, doc: str, scratch: str, parts: dict[str, str]) -> None:
    err = error(post(api, "/export", {"format": "DXF", "document": doc}), 422, "VALIDATION_ERROR")
    assert field_names(err) == {"format"}
    err = error(post(api, "/export", {"format": "STEP", "objects": [uid("Ghost")], "document": doc}), 404, "NOT_FOUND")
    assert err["details"]["field"] == "objects[0]"
    err = error(post(api, "/export", {"format": "STEP", "document": uid("NoDoc")}), 404, "NOT_FOUND")
    assert err["details"]["field"] == "document"
    err = error(post(api, "/export", {"format": "STEP", "document": scratch}), 409, "CONFLICT")
    assert err["details"]["field"] == "objects"  # nothing to export in an empty document
    err = error(
        post(api, "/export", {"format": "STEP", "filepath": "../../x.step", "document": doc}), 422, "VALIDATION_ERROR"
    )
    assert field_names(err) == {"filepath"}


@pytest.mark.parametrize("file_name", ["part.dxf", "part", "part.FCStd", "part.3ds"])
def test_import_unsupported_extension(
    api: httpx.Client, host: RpcClient, freecad_backend: Backend, scratch: str, file_name: str
) -> None:
    response = api.post(BASE + "/import", params={"document": scratch}, files={"file": (file_name, b"solid\n")})
    err = error(response, 422, "INVALID_UPLOAD")
    assert err["details"]["field"] == "file" and ".step" in err["details"]["accepted"]
    assert not (freecad_backend.workspace / file_name).exists()
    assert count(host, scratch) == 0


def test_import_corrupt_step(api: httpx.Client, host: RpcClient, freecad_backend: Backend, scratch: str) -> None:
    response = api.post(
        BASE + "/import", params={"document": scratch}, files={"file": (f"{uid('junk')}.step", b"not a step file")}
    )
    err = error(response, 422, "VALIDATION_ERROR")
    assert err["details"]["field"] == "name" and field_names(err) == {"name"}
    assert str(freecad_backend.workspace) not in response.text
    assert count(host, scratch) == 0


# ---------------------------------------------------------------------------------------------- documents
def test_list_documents(api: httpx.Client, doc: str, scratch: str) -> None:
    create(api, "box", scratch, name="Listed")
    create(api, "sphere", scratch, name="Listed")
    listed = {d["name"]: d for d in ok(api.get(BASE + "/documents"))["documents"]}
    assert {doc, scratch} <= set(listed)
    assert listed[scratch] == {
        "name": scratch,
        "label": scratch,
        "objects": 2,
        "active": True,  # the document made last
        "undo": ["Create sphere", "Create box"],
        "redo": [],
        "file": None,
    }
    assert [name for name, info in listed.items() if info["active"]] == [scratch]


def test_create_and_close_document(api: httpx.Client, host: RpcClient) -> None:
    name = uid("Fresh")
    created = ok(post(api, "/documents", {"name": name}), 201)
    assert created["name"] == name and created["objects"] == 0 and created["active"] is True
    assert name in {d["name"] for d in host.call("document.list")["documents"]}
    again = ok(post(api, "/documents", {"name": name}), 201)
    assert (again["name"], again["label"]) == (f"{name}1", name)  # FreeCAD numbers a taken name; the label stays
    for each in (name, again["name"]):
        assert ok(api.delete(f"{BASE}/documents/{each}")) == {"name": each, "closed": True}
    names = {d["name"] for d in host.call("document.list")["documents"]}
    assert name not in names and again["name"] not in names
    err = error(api.delete(f"{BASE}/documents/{name}"), 404, "NOT_FOUND")
    assert err["details"]["document"] == name


def test_created_document_label_is_its_name(api: httpx.Client) -> None:
    name = uid("Label")
    created = ok(post(api, "/documents", {"name": name}), 201)
    api.delete(f"{BASE}/documents/{created['name']}")
    assert created["label"] == name


def test_create_document_validation(api: httpx.Client) -> None:
    err = error(post(api, "/documents", {"name": "x" * 64}), 422, "VALIDATION_ERROR")
    assert field_names(err) == {"name"}
    err = error(post(api, "/documents", {"title": "x"}), 422, "VALIDATION_ERROR")
    assert field_names(err) == {"title"}


def test_save_and_open_document(api: httpx.Client, host: RpcClient, freecad_backend: Backend, scratch: str) -> None:
    box = create(api, "box", scratch, name=uid("Kept"), length=3, width=4, height=5)["object_id"]
    ball = create(api, "sphere", scratch, name=uid("Ball"), radius=2, location=[10, 0, 0])["object_id"]
    file_stem = uid("saved")
    saved = ok(post(api, "/documents/save", {"document": scratch, "filepath": file_stem}))
    assert saved["name"] == f"{file_stem}.FCStd" and saved["format"] == "FCStd" and saved["document"] == scratch
    data = download(api, saved["url"])
    assert len(data) == saved["size"] == (freecad_backend.workspace / saved["name"]).stat().st_size
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert "Document.xml" in archive.namelist()
        xml = archive.read("Document.xml").decode()
    assert box in xml and ball in xml

    upload_name = f"{uid('copy')}.FCStd"
    opened = ok(api.post(BASE + "/documents/open", files={"file": (upload_name, data)}))
    copy = opened["name"]
    try:
        assert copy != scratch and opened["objects"] == 2 and opened["file"] == upload_name
        listed = ok(api.get(BASE + "/objects", params={"document": copy}))
        assert [o["name"] for o in listed["objects"]] == [box, ball]
        assert close(get(host, box, copy)["volume"], 60.0)
        assert close(get(host, ball, copy)["volume"], 4 / 3 * PI * 8)
    finally:
        api.delete(f"{BASE}/documents/{copy}")


def test_save_document_errors(api: httpx.Client, doc: str) -> None:
    err = error(post(api, "/documents/save", {"document": uid("NoDoc")}), 404, "NOT_FOUND")
    assert err["details"]["field"] == "document"
    err = error(post(api, "/documents/save", {"document": doc, "filepath": "../up.FCStd"}), 422, "VALIDATION_ERROR")
    assert field_names(err) == {"filepath"}


def test_open_document_errors(api: httpx.Client, host: RpcClient) -> None:
    before = [d["name"] for d in host.call("document.list")["documents"]]
    err = error(api.post(BASE + "/documents/open", files={"file": ("part.step", b"x")}), 422, "INVALID_UPLOAD")
    assert err["details"]["accepted"] == [".fcstd"]
    response = api.post(BASE + "/documents/open", files={"file": (f"{uid('bad')}.FCStd", b"not a zip")})
    err = error(response, 422, "VALIDATION_ERROR")  # the host's check cannot read it as a document
    assert err["details"]["field"] == "name" and "cannot be checked" in err["message"]
    assert [d["name"] for d in host.call("document.list")["documents"]] == before


# ---------------------------------------------------------------------------------------------- files
def test_files_list_download_delete(
    api: httpx.Client, freecad_backend: Backend, doc: str, parts: dict[str, str]
) -> None:
    name = f"{uid('file')}.step"
    exported = export(api, doc, "STEP", [parts["box"]], filepath=name)
    assert exported["name"] == name
    (entry,) = [f for f in ok(api.get(BASE + "/files")) if f["name"] == name]
    assert entry["size"] == exported["size"] and entry["url"] == f"{BASE}/files/{name}"
    response = api.get(entry["url"])
    assert response.status_code == 200 and response.headers["content-type"] == "model/step"
    assert response.content == (freecad_backend.workspace / name).read_bytes()
    assert ok(api.delete(entry["url"]))["name"] == name
    assert not (freecad_backend.workspace / name).exists()
    error(api.get(entry["url"]), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        ("..%2Fx", 404, "NOT_FOUND"),  # decoded, it is a longer path: no route has it
        ("%2Fetc%2Fpasswd", 404, "NOT_FOUND"),
        ("a%5Cb", 422, "VALIDATION_ERROR"),
        ("%2e%2e", 422, "VALIDATION_ERROR"),
        (".hidden", 422, "VALIDATION_ERROR"),
    ],
)
def test_hostile_file_names(api: httpx.Client, raw: str, status: int, code: str) -> None:
    for method in ("GET", "DELETE"):
        err = error(api.request(method, f"{BASE}/files/{raw}"), status, code)
        if status == 422:
            assert err["details"]["errors"][0]["field"] == "name" and err["details"]["errors"][0]["location"] == "path"


# ---------------------------------------------------------------------------------------------- batch / execute
def test_batch_reports_each_step(api: httpx.Client, host: RpcClient, doc: str) -> None:
    first, last = uid("BatchA"), uid("BatchC")
    steps = [
        {"method": "primitive.create", "params": {"type": "box", "name": first, "length": 2, "document": doc}},
        {"method": "object.delete", "params": {"name": uid("Ghost"), "document": doc}},
        {"method": "primitive.create", "params": {"type": "box", "name": last, "document": doc}},
    ]
    result = ok(post(api, "/batch", {"steps": steps}))
    assert result["completed"] == 1 and result["failed"] is True
    assert [s["status"] for s in result["steps"]] == ["success", "error", "skipped"]
    assert result["steps"][0]["result"] == {"name": first}
    assert result["steps"][1]["error"]["code"] == -32001 and result["steps"][1]["error"]["data"]["field"] == "name"
    assert close(get(host, first, doc)["volume"], 200.0)
    with pytest.raises(NotFound):
        get(host, last, doc)


def test_batch_all_succeed(api: httpx.Client, host: RpcClient, doc: str) -> None:
    a, b = uid("BA"), uid("BB")
    steps = [
        {"method": "primitive.create", "params": {"type": "box", "name": a, "document": doc}},
        {"method": "primitive.create", "params": {"type": "box", "name": b, "position": [5, 0, 0], "document": doc}},
        {"method": "boolean.union", "params": {"objects": [a, b], "name": uid("BU"), "document": doc}},
    ]
    result = ok(post(api, "/batch", {"steps": steps}))
    assert result["completed"] == 3 and result["failed"] is False
    fused = result["steps"][2]["result"]["name"]
    assert close(get(host, fused, doc)["volume"], 1500.0)


def test_batch_unknown_method(api: httpx.Client, host: RpcClient, doc: str) -> None:
    name = uid("NotRun")
    steps = [
        {"method": "primitive.create", "params": {"type": "box", "name": name, "document": doc}},
        {"method": "object.explode", "params": {}},
    ]
    err = error(post(api, "/batch", {"steps": steps}), 422, "VALIDATION_ERROR")
    assert field_names(err) == {"steps[1].method"}
    bad = [steps[0], {"method": "primitive.create", "params": {"type": "box", "length": -1, "document": doc}}]
    err = error(post(api, "/batch", {"steps": bad}), 422, "VALIDATION_ERROR")
    assert field_names(err) == {"steps[1].params.length"}
    with pytest.raises(NotFound):
        get(host, name, doc)


def test_execute(api: httpx.Client, host: RpcClient, doc: str) -> None:
    name = uid("Exec")
    code = (
        f"d = App.getDocument({doc!r})\n"
        f"obj = d.addObject('Part::Feature', {name!r})\n"
        "obj.Shape = Part.makeBox(1, 2, 3)\n"
        "d.recompute()\n"
        "print('volume', obj.Shape.Volume)\n"
        "result = {'name': obj.Name, 'volume': obj.Shape.Volume}\n"
    )
    result = ok(post(api, "/execute", {"code": code}))
    assert result["stdout"] == "volume 6.0\n"
    assert result["result"] == {"name": name, "volume": 6.0}
    assert close(get(host, name, doc)["volume"], 6.0)


def test_execute_error(api: httpx.Client) -> None:
    err = error(post(api, "/execute", {"code": "Part.makeBox(-1, 1, 1)"}), 400, "EXECUTION_ERROR")
    assert err["message"] == "ValueError: length of box too small" and err["details"]["type"] == "ValueError"
    assert err["details"]["traceback"].endswith("line 1, in <module>\nValueError: length of box too small\n")
    err = error(post(api, "/execute", {"code": "raise KeyError('nope')"}), 400, "EXECUTION_ERROR")
    assert err["details"]["type"] == "KeyError" and "KeyError: 'nope'" in err["details"]["traceback"]
    err = error(post(api, "/execute", {"code": "print(1)", "timeout": 0}), 422, "VALIDATION_ERROR")
    assert field_names(err) == {"timeout"}
