"""Booleans against analytic volumes, input visibility and failure handling."""

from __future__ import annotations

import math

import pytest

from bridge3d.rpc.errors import Conflict, InvalidParams, NotFound

from .conftest import Doc

REL = 1e-6


def names(doc: Doc) -> list[str]:
    return [o["name"] for o in doc.call("object.list", {})["objects"]]


def test_box_minus_inner_sphere(doc: Doc) -> None:
    box = doc.create("box", length=10, width=10, height=10)
    sphere = doc.create("sphere", radius=3, position=[5, 5, 5])
    cut = doc.call("boolean.subtract", {"base": box["name"], "tool": sphere["name"]})
    assert cut["type"] == "Part::Cut"
    assert cut["volume"] == pytest.approx(1000 - 4 / 3 * math.pi * 27, rel=REL)
    assert cut["valid"] is True
    assert cut["inputs"] == [box["name"], sphere["name"]]
    # keep_inputs defaults to false: the operands are hidden, the result shown.
    assert doc.call("object.get", {"name": box["name"]})["visible"] is False
    assert doc.call("object.get", {"name": sphere["name"]})["visible"] is False
    assert cut["visible"] is True


def test_union_of_overlapping_boxes(doc: Doc) -> None:
    a = doc.create("box", length=10, width=10, height=10)
    b = doc.create("box", length=10, width=10, height=10, position=[5, 5, 5])
    fused = doc.call("boolean.union", {"objects": [a["name"], b["name"]], "name": "Both", "keep_inputs": True})
    # 1000 + 1000 - overlap 5*5*5
    assert fused["volume"] == pytest.approx(2000 - 125, rel=REL)
    assert fused["name"] == "Both"
    assert fused["type"] == "Part::MultiFuse"
    assert doc.call("object.get", {"name": a["name"]})["visible"] is True


def test_union_of_three(doc: Doc) -> None:
    parts = [doc.create("box", length=1, width=1, height=1, position=[i * 2, 0, 0])["name"] for i in range(3)]
    fused = doc.call("boolean.union", {"objects": parts})
    assert fused["volume"] == pytest.approx(3, rel=REL)
    assert fused["solids"] == 3


def test_box_intersect_cylinder_through_it(doc: Doc) -> None:
    box = doc.create("box", length=10, width=10, height=10)
    # A cylinder of radius 3 along Z through the middle, longer than the box.
    cylinder = doc.create("cylinder", radius=3, height=30, position=[5, 5, -10])
    common = doc.call("boolean.intersect", {"objects": [box["name"], cylinder["name"]]})
    assert common["type"] == "Part::MultiCommon"
    assert common["volume"] == pytest.approx(math.pi * 9 * 10, rel=REL)
    assert common["bounds"]["min"] == pytest.approx([2, 2, 0], abs=1e-6)


def test_empty_intersection_is_an_error_and_leaves_nothing(doc: Doc) -> None:
    a = doc.create("box")
    b = doc.create("box", position=[100, 0, 0])
    before = names(doc)
    with pytest.raises(Conflict) as info:
        doc.call("boolean.intersect", {"objects": [a["name"], b["name"]]})
    assert "boolean result is empty" in info.value.message
    assert names(doc) == before
    # the operands were not hidden by the failed command
    assert doc.call("object.get", {"name": a["name"]})["visible"] is True


def test_missing_and_non_solid_operands(doc: Doc) -> None:
    box = doc.create("box")
    with pytest.raises(NotFound) as info:
        doc.call("boolean.subtract", {"base": box["name"], "tool": "Ghost"})
    assert info.value.data["field"] == "tool"
    code = "Part.show(Part.makeCircle(5), 'Ring')\ndoc.addObject('App::DocumentObjectGroup', 'Folder')"
    doc.call("code.execute", {"code": code})
    with pytest.raises(Conflict) as conflict:
        doc.call("boolean.union", {"objects": [box["name"], "Ring"]})
    assert conflict.value.data["field"] == "objects[1]"
    with pytest.raises(Conflict) as conflict:
        doc.call("boolean.intersect", {"objects": ["Folder", box["name"]]})
    assert conflict.value.data["field"] == "objects[0]"
    for method, params, field, reason in (
        ("boolean.union", {"objects": [box["name"]]}, "objects", "needs at least 2 names"),
        ("boolean.union", {"objects": [box["name"], box["name"]]}, "objects", "must not name an object twice"),
        ("boolean.subtract", {"base": box["name"], "tool": box["name"]}, "tool", "must differ from base"),
    ):
        with pytest.raises(InvalidParams) as invalid:
            doc.call(method, params)
        assert (invalid.value.data["field"], invalid.value.data["reason"]) == (field, reason)
    assert names(doc) == [box["name"], "Ring", "Folder"]  # nothing was added by the refused booleans
    assert doc.client.call("rpc.ping")["pong"] is True


def test_operand_in_use_cannot_be_deleted_and_deleting_result_shows_operands(doc: Doc) -> None:
    a = doc.create("box")
    b = doc.create("sphere", radius=2)
    cut = doc.call("boolean.subtract", {"base": a["name"], "tool": b["name"]})
    with pytest.raises(Conflict) as info:
        doc.call("object.delete", {"name": a["name"]})
    assert info.value.data["used_by"] == [cut["name"]]
    doc.call("object.delete", {"name": cut["name"]})
    assert doc.call("object.get", {"name": a["name"]})["visible"] is True
    doc.call("object.delete", {"name": a["name"]})


def test_result_follows_a_moved_operand(doc: Doc) -> None:
    box = doc.create("box", length=10, width=10, height=10)
    tool = doc.create("box", length=10, width=10, height=10, position=[5, 0, 0])
    cut = doc.call("boolean.subtract", {"base": box["name"], "tool": tool["name"]})
    assert cut["volume"] == pytest.approx(500, rel=REL)
    doc.call("object.transform", {"name": tool["name"], "position": [8, 0, 0]})
    assert doc.call("object.get", {"name": cut["name"]})["volume"] == pytest.approx(800, rel=REL)


def test_deleting_a_boolean_shows_the_operands_nothing_else_uses(doc: Doc) -> None:
    """As FreeCAD's GUI does, the operands of a deleted boolean are shown again; one that another boolean still
    uses stays hidden (that boolean stands for it), and undoing the delete hides them once more."""

    def visible(name: str) -> bool:
        return bool(doc.call("object.get", {"name": name})["visible"])

    a = doc.create("box", length=10, width=10, height=10)["name"]
    b = doc.create("sphere", radius=3, position=[5, 5, 5])["name"]
    c = doc.create("box", length=10, width=10, height=10, position=[5, 0, 0])["name"]
    cut = doc.call("boolean.subtract", {"base": a, "tool": b})["name"]
    fused = doc.call("boolean.union", {"objects": [a, c]})["name"]
    assert not any(visible(name) for name in (a, b, c))
    assert doc.call("object.delete", {"name": cut}) == {"name": cut, "deleted": True, "shown": [b]}
    assert (visible(a), visible(b), visible(c)) == (False, True, False)
    assert doc.call("object.delete", {"name": fused}) == {"name": fused, "deleted": True, "shown": [a, c]}
    assert visible(a) and visible(c)
    doc.call("document.undo")
    assert doc.call("object.get", {"name": fused})["visible"] is True
    assert not visible(a) and not visible(c)
    assert names(doc) == [a, b, c, fused]
