"""Primitives, ObjectInfo, object.list/get/delete/transform against real headless FreeCAD."""

from __future__ import annotations

import math

import pytest

from bridge3d.rpc import RpcClient
from bridge3d.rpc.errors import InvalidParams, NotFound

from .conftest import Doc

REL = 1e-6

VOLUMES = [
    ("box", {"length": 3, "width": 4, "height": 5}, 3 * 4 * 5),
    ("sphere", {"radius": 2.5}, 4 / 3 * math.pi * 2.5**3),
    ("cylinder", {"radius": 1.5, "height": 7}, math.pi * 1.5**2 * 7),
    ("cone", {"radius1": 3, "radius2": 1, "height": 6}, math.pi * 6 / 3 * (9 + 3 + 1)),
    ("cone", {"radius1": 2, "radius2": 0, "height": 9}, math.pi * 9 / 3 * 4),
    ("torus", {"radius1": 8, "radius2": 1.5}, 2 * math.pi**2 * 8 * 1.5**2),
]


@pytest.mark.parametrize(("kind", "params", "expected"), VOLUMES, ids=[f"{v[0]}-{i}" for i, v in enumerate(VOLUMES)])
def test_primitive_volume_matches_closed_form(doc: Doc, kind: str, params: dict[str, float], expected: float) -> None:
    info = doc.create(kind, **params)
    assert info["volume"] == pytest.approx(expected, rel=REL)
    assert info["valid"] is True
    assert info["solids"] == 1
    assert info["scale"] == [1.0, 1.0, 1.0]
    for key, value in params.items():
        assert info["parameters"][key] == pytest.approx(value)


def test_default_primitives_use_documented_defaults(doc: Doc) -> None:
    box = doc.create("box")
    assert box["type"] == "Part::Box"
    assert box["dimensions"] == pytest.approx([10, 10, 10])
    assert box["volume"] == pytest.approx(1000, rel=REL)
    sphere = doc.create("sphere")
    assert sphere["volume"] == pytest.approx(4 / 3 * math.pi * 125, rel=REL)
    torus = doc.create("torus")
    assert torus["volume"] == pytest.approx(2 * math.pi**2 * 10 * 4, rel=REL)


def test_object_info_location_bounds_and_centre(doc: Doc) -> None:
    info = doc.create("box", length=2, width=4, height=6, position=[10, -5, 1])
    assert info["location"] == pytest.approx([10, -5, 1])
    assert info["rotation"] == pytest.approx([0, 0, 0], abs=1e-9)
    assert info["bounds"]["min"] == pytest.approx([10, -5, 1])
    assert info["bounds"]["max"] == pytest.approx([12, -1, 7])
    assert info["dimensions"] == pytest.approx([2, 4, 6])
    assert info["center_of_mass"] == pytest.approx([11, -3, 4])
    assert info["area"] == pytest.approx(2 * (8 + 12 + 24))
    assert info["placement"]["position"] == pytest.approx([10, -5, 1])
    assert info["visible"] is True


def test_rotation_is_euler_xyz_degrees_and_matches_freecad_ypr(doc: Doc) -> None:
    info = doc.create("box", rotation=[10, 20, 30])
    assert info["rotation"] == pytest.approx([10, 20, 30], abs=1e-9)
    # The same rotation in FreeCAD's own terms is yaw=z, pitch=y, roll=x.
    out = doc.call(
        "code.execute",
        {"code": f"r = doc.getObject({info['name']!r}).Placement.Rotation\nresult = list(r.toEuler())"},
    )
    assert out["result"] == pytest.approx([30, 20, 10], abs=1e-9)
    # 90 deg about Z turns a 10x2x2 box so its long side lies along Y.
    turned = doc.create("box", length=10, width=2, height=2, rotation=[0, 0, 90])
    assert turned["dimensions"] == pytest.approx([2, 10, 2], abs=1e-6)


def test_duplicate_names_follow_freecad(doc: Doc) -> None:
    first = doc.create("box", name="Block")
    second = doc.create("box", name="Block")
    third = doc.create("box")
    fourth = doc.create("box")
    assert first["name"] == "Block"
    assert second["name"] == "Block001"
    assert third["name"] == "Box"
    assert fourth["name"] == "Box001"
    spaced = doc.create("sphere", name="my ball")
    assert spaced["name"] == "my_ball"
    assert spaced["label"] == "my ball"
    assert doc.call("object.get", {"name": "my ball"})["name"] == "my_ball"


def test_list_paging_and_type_filter(doc: Doc) -> None:
    for _ in range(5):
        doc.create("box")
    doc.create("sphere")
    listing = doc.call("object.list", {"offset": 2, "limit": 2})
    assert listing["total"] == 6
    assert [o["name"] for o in listing["objects"]] == ["Box002", "Box003"]
    assert (listing["offset"], listing["limit"]) == (2, 2)
    spheres = doc.call("object.list", {"type": "sphere"})
    assert [o["name"] for o in spheres["objects"]] == ["Sphere"]
    assert doc.call("object.list", {"type": "Part::Box"})["total"] == 5
    for limit, reason in ((0, "must be >= 1"), (10001, "must be <= 10000")):
        with pytest.raises(InvalidParams) as invalid:
            doc.call("object.list", {"limit": limit})
        assert (invalid.value.data["field"], invalid.value.data["reason"]) == ("limit", reason)


def test_get_delete_and_not_found(doc: Doc) -> None:
    box = doc.create("box")
    assert doc.call("object.get", {"name": box["name"]})["volume"] == pytest.approx(1000)
    assert doc.call("object.delete", {"name": box["name"]}) == {"name": box["name"], "deleted": True, "shown": []}
    for method, name in (("object.get", box["name"]), ("object.delete", "Nope")):
        with pytest.raises(NotFound) as missing:
            doc.call(method, {"name": name})
        assert missing.value.data == {"field": "name", "name": name, "document": doc.name}


def test_transform_absolute_and_relative(doc: Doc) -> None:
    box = doc.create("box", length=2, width=2, height=2)
    moved = doc.call("object.transform", {"name": box["name"], "position": [5, 0, 0]})
    assert moved["location"] == pytest.approx([5, 0, 0])
    moved = doc.call("object.transform", {"name": box["name"], "position": [1, 2, 3], "relative": True})
    assert moved["location"] == pytest.approx([6, 2, 3])
    assert moved["bounds"]["max"] == pytest.approx([8, 4, 5])
    turned = doc.call("object.transform", {"name": box["name"], "rotation": [0, 0, 30]})
    turned = doc.call("object.transform", {"name": box["name"], "rotation": [0, 0, 15], "relative": True})
    assert turned["rotation"] == pytest.approx([0, 0, 45], abs=1e-9)
    assert turned["volume"] == pytest.approx(8, rel=REL)
    # Nothing to change: the object as it is.
    assert doc.call("object.transform", {"name": box["name"]})["location"] == turned["location"]
    with pytest.raises(InvalidParams) as info:
        doc.call("object.transform", {"name": box["name"], "position": [0, "a", 0]})
    assert info.value.data["field"] == "position[1]"


def test_unknown_document_is_not_found(fc: RpcClient) -> None:
    with pytest.raises(NotFound) as info:
        fc.call("primitive.create", {"type": "box", "document": "NoSuchDocument"})
    assert info.value.data["field"] == "document"
    for method, params, field in (
        ("object.list", {"document": "NoSuchDocument"}, "document"),
        ("document.close", {"name": "NoSuchDocument"}, "name"),
    ):
        with pytest.raises(NotFound) as missing:
            fc.call(method, params)
        assert (missing.value.data["field"], missing.value.data["document"]) == (field, "NoSuchDocument")
    assert fc.call("rpc.ping")["pong"] is True


def test_a_cone_slenderer_than_the_mesher_can_take_is_refused(doc: Doc) -> None:
    # FreeCAD's mesher makes about 1,700 triangles per unit of height / radius and does not come back from 1e6.
    with pytest.raises(InvalidParams) as refused:
        doc.create("cone", radius1=1.0, radius2=0.0, height=101.0)
    assert refused.value.data["field"] == "height" and "100 times" in refused.value.data["reason"]
    slender = doc.create("cone", radius1=0.0, radius2=1.0, height=100.0)  # the larger radius counts, top or base
    assert slender["volume"] == pytest.approx(math.pi * 1.0**2 * 100.0 / 3, rel=1e-6)
