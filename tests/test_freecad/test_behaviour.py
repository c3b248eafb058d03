"""Bad input, code.execute with cancel, undo/redo, documents and events."""

from __future__ import annotations

import json
import math
import threading
import time
from typing import Any

import pytest

from backends import Backend
from bridge3d.rpc import RpcClient
from bridge3d.rpc.errors import Cancelled, InvalidParams, MethodNotFound, NotFound, UserCodeError

from .conftest import Doc


def raw_call(client: RpcClient, text: str) -> dict[str, Any]:
    """Send a hand-written frame (e.g. with NaN, which json.dumps(allow_nan=False) refuses)."""
    client.send_raw(text.encode() + b"\n")
    while True:
        message = client.read_message(timeout=30)
        if isinstance(message, dict) and "id" in message:
            reply: dict[str, Any] = message
            return reply


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"type": "box", "length": 0}, "length"),
        ({"type": "box", "width": -2}, "width"),
        ({"type": "sphere", "radius": "big"}, "radius"),
        ({"type": "cylinder", "radius": None}, "radius"),
        ({"type": "cone", "radius1": 2, "radius2": 2}, "radius2"),
        ({"type": "torus", "radius1": 1, "radius2": 2}, "radius2"),
        ({"type": "pyramid"}, "type"),
        ({"type": "box", "radius": 3}, "radius"),
        ({"type": "box", "position": [0, 0]}, "position"),
        ({"type": "box", "rotation": [0, 0, "x"]}, "rotation[2]"),
        ({"type": "box", "name": ""}, "name"),
    ],
)
def test_bad_primitive_params_are_invalid_params(doc: Doc, params: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidParams) as info:
        doc.call("primitive.create", params)
    assert info.value.data["field"] == field
    assert doc.call("object.list", {})["total"] == 0


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_rejected(fc: RpcClient, value: str) -> None:
    frame = '{"jsonrpc":"2.0","id":"nan","method":"primitive.create","params":{"type":"box","height":VALUE}}'
    reply = raw_call(fc, frame.replace("VALUE", value))
    assert reply["error"]["code"] == -32602
    assert reply["error"]["data"]["field"] == "height"
    assert "finite" in reply["error"]["data"]["reason"]
    assert fc.call("rpc.ping")["pong"] is True


def test_unknown_method_and_bad_signature(fc: RpcClient) -> None:
    with pytest.raises(MethodNotFound):
        fc.call("primitive.explode", {})
    with pytest.raises(InvalidParams):
        fc.call("object.get", {"nmae": "Box"})
    assert fc.call("rpc.ping")["pong"] is True


def test_code_execute_output_result_and_traceback(doc: Doc) -> None:
    out = doc.call(
        "code.execute",
        {
            "code": "box = doc.addObject('Part::Box', 'Coded')\nbox.Length = 3\n"
            "print('hi', App.Version()[0])\nresult = box.Name"
        },
    )
    assert out["stdout"] == "hi 0\n"
    assert out["result"] == "Coded"
    # touched documents are recomputed after the code ran
    assert doc.call("object.get", {"name": "Coded"})["volume"] == pytest.approx(300)
    with pytest.raises(UserCodeError) as info:
        doc.call("code.execute", {"code": "print('before')\n1/0"})
    assert "ZeroDivisionError" in info.value.data["traceback"]
    assert info.value.data["stdout"] == "before\n"
    with pytest.raises(UserCodeError) as info:
        doc.call("code.execute", {"code": "def broken(:"})
    assert info.value.data["type"] == "SyntaxError"


def test_cancel_runaway_code(freecad_backend: Backend, doc: Doc) -> None:
    outcome: dict[str, BaseException | None] = {}

    def run() -> None:
        runner = freecad_backend.client(timeout=300)
        try:
            runner.call("code.execute", {"code": "while True:\n    pass"})
            outcome["error"] = None
        except BaseException as exc:
            outcome["error"] = exc
        finally:
            runner.close()

    thread = threading.Thread(target=run)
    thread.start()
    # rpc.describe and rpc.cancel are answered by the IO thread, which gets the GIL only now and then while the main
    # thread spins in Python: generous timeouts, and wait for the loop to have started before cancelling it.
    control = freecad_backend.client(timeout=60)
    deadline = time.monotonic() + 120
    while (state := control.call("rpc.describe"))["running"] != "code.execute":
        assert time.monotonic() < deadline, f"code.execute never started: {state}"
        time.sleep(0.05)
    assert state["busy"] is True
    assert control.call("rpc.cancel", {})["cancelled"] is True
    thread.join(timeout=120)
    assert not thread.is_alive()
    assert isinstance(outcome["error"], Cancelled)
    # the main thread is free again
    assert doc.create("box")["volume"] == pytest.approx(1000)
    control.close()


def test_each_command_is_one_undo_step(doc: Doc) -> None:
    doc.create("box", name="First")
    doc.create("sphere", name="Second")
    doc.call("object.transform", {"name": "First", "position": [5, 0, 0]})
    info = doc.call("document.list", {})["documents"]
    mine = next(d for d in info if d["name"] == doc.name)
    assert mine["undo"][:3] == ["Transform First", "Create sphere", "Create box"]
    # FreeCAD's own undo, from user code, reverts a create
    out = doc.call("code.execute", {"code": "doc.undo()\ndoc.undo()\nresult = [o.Name for o in doc.Objects]"})
    assert out["result"] == ["First"]
    assert doc.call("object.get", {"name": "First"})["location"] == pytest.approx([0, 0, 0])
    redone = doc.call("document.redo", {})
    assert redone["redone"] == "Create sphere"
    assert doc.call("object.get", {"name": "Second"})["volume"] == pytest.approx(4 / 3 * math.pi * 5**3)  # radius 5
    undone = doc.call("document.undo", {})
    assert undone["undone"] == "Create sphere"
    with pytest.raises(NotFound):
        doc.call("object.get", {"name": "Second"})


def test_documents_create_activate_and_default(fc: RpcClient) -> None:
    a = fc.call("document.create", {"name": "DocA"})
    b = fc.call("document.create", {"name": "DocA"})
    assert a["name"] == "DocA"
    assert b["name"] != "DocA"  # FreeCAD makes document names unique
    assert b["active"] is True
    fc.call("primitive.create", {"type": "box"})  # goes to the active document
    listing = {d["name"]: d for d in fc.call("document.list", {})["documents"]}
    assert listing[b["name"]]["objects"] == 1
    assert listing[a["name"]]["objects"] == 0
    activated = fc.call("document.activate", {"name": a["name"]})
    assert activated["active"] is True
    assert fc.call("object.list", {})["document"] == a["name"]
    for name in (a["name"], b["name"]):
        assert fc.call("document.close", {"name": name}) == {"name": name, "closed": True}
    with pytest.raises(NotFound):
        fc.call("document.activate", {"name": a["name"]})


def test_events_for_create_change_delete(freecad_backend: Backend, doc: Doc) -> None:
    listener = freecad_backend.client(timeout=30)
    listener.subscribe(["object.*", "document.recomputed"])

    def collect(until: Any) -> list[dict[str, Any]]:
        seen: list[dict[str, Any]] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            event = listener.next_event(timeout=max(0.1, deadline - time.monotonic()))
            if event["data"].get("document") != doc.name:
                continue
            seen.append(event)
            if until(event):
                return seen
        raise AssertionError(f"event not seen; got {json.dumps(seen)}")

    box = doc.create("box", name="Watched")
    events = collect(lambda e: e["topic"] == "document.recomputed")
    created = [e for e in events if e["topic"] == "object.created"]
    assert [e["data"]["name"] for e in created] == ["Watched"]
    assert created[0]["data"]["type"] == "Part::Box"
    # no change noise for an object created in the same command
    assert not [e for e in events if e["topic"] == "object.changed"]

    doc.call("object.transform", {"name": box["name"], "position": [1, 1, 1]})
    events = collect(lambda e: e["topic"] == "object.changed")
    changed = [e for e in events if e["topic"] == "object.changed"]
    assert len(changed) == 1
    assert "Placement" in changed[0]["data"]["properties"]

    doc.call("object.delete", {"name": box["name"]})
    events = collect(lambda e: e["topic"] == "object.deleted")
    assert events[-1]["data"]["name"] == "Watched"
    listener.close()
