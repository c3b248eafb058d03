"""code.execute (result, stdout, traceback, rpc.cancel) and the event topics."""

from __future__ import annotations

import json
import time
from typing import Any

from backends import Backend
from bridge3d.rpc import RpcClient
from bridge3d.rpc.errors import Cancelled, InvalidParams, UserCodeError

from ._util import rpc_error


def test_code_execute_result_and_stdout(bl: RpcClient) -> None:
    out = bl.call(
        "code.execute",
        {
            "code": "import sys\nprint('hello', bpy.app.version_string)\nprint('warn', file=sys.stderr)\n"
            "bm = bmesh.new()\nbmesh.ops.create_cube(bm, size=1)\nresult = {'verts': len(bm.verts), "
            "'vec': list(mathutils.Vector((1, 2, 3)) * 2)}\nbm.free()"
        },
    )
    version = bl.call("scene.info", {})["blender_version"]
    assert out["stdout"] == f"hello {version}\n" and out["stderr"] == "warn\n"
    assert out["result"] == {"verts": 8, "vec": [2.0, 4.0, 6.0]}
    assert bl.call("code.execute", {"code": "result = D.objects"})["result"].startswith("<bpy_collection")  # repr()
    assert bl.call("code.execute", {"code": "x = 1"})["result"] is None


def test_code_execute_changes_the_scene(bl: RpcClient) -> None:
    bl.call("code.execute", {"code": "bpy.ops.mesh.primitive_cube_add(size=4, location=(0, 0, 2))"})
    info = bl.call("object.get", {"name": "Cube"})
    assert info["dimensions"] == [4, 4, 4] and info["bounds"]["min"] == [-2, -2, 0]


def test_code_execute_traceback(bl: RpcClient) -> None:
    error = rpc_error(UserCodeError, bl, "code.execute", {"code": "print('before')\ndef f():\n    return 1 / 0\nf()"})
    assert error.data["type"] == "ZeroDivisionError"
    assert 'File "<bridge3d>", line 4' in error.data["traceback"] and "line 3, in f" in error.data["traceback"]
    assert error.data["stdout"] == "before\n"
    syntax = rpc_error(UserCodeError, bl, "code.execute", {"code": "def broken(:\n"})
    assert syntax.data["type"] == "SyntaxError"
    rpc_error(InvalidParams, bl, "code.execute", {"code": 42})
    assert bl.call("code.execute", {"code": "result = 2 + 2"})["result"] == 4


def test_rpc_cancel_stops_an_endless_loop(bl: RpcClient, blender_backend: Backend) -> None:
    bl.send_raw(
        json.dumps(
            {
                "jsonrpc": "2.0",
                "id": "spin",
                "method": "code.execute",
                "params": {"code": "n = 0\nwhile True:\n    n += 1"},
            }
        ).encode()
        + b"\n"
    )
    with blender_backend.client(timeout=30) as other:
        deadline = time.monotonic() + 30
        while not other.call("rpc.describe")["busy"]:
            assert time.monotonic() < deadline, "code.execute never started"
            time.sleep(0.05)
        described = other.call("rpc.describe")
        assert described["running"] == "code.execute" and described["running_id"] == "spin"
        assert other.call("rpc.ping")["pong"] is True  # answered while the main thread spins
        assert other.call("rpc.cancel", {"id": "spin"})["cancelled"] is True
    reply = bl.read_message(timeout=30)
    assert reply["id"] == "spin" and reply["error"]["code"] == Cancelled.code
    assert bl.call("code.execute", {"code": "result = 'alive'"})["result"] == "alive"
    assert bl.call("primitive.create", {"type": "cube"})["name"] == "Cube"
    # A user's `except Exception` cannot swallow the cancellation.
    bl.send_raw(
        json.dumps(
            {
                "jsonrpc": "2.0",
                "id": "stubborn",
                "method": "code.execute",
                "params": {"code": "while True:\n    try:\n        pass\n    except Exception:\n        pass"},
            }
        ).encode()
        + b"\n"
    )
    with blender_backend.client(timeout=30) as other:
        deadline = time.monotonic() + 30
        while other.call("rpc.describe")["running_id"] != "stubborn":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert other.call("rpc.cancel", {})["cancelled"] is True
    assert bl.read_message(timeout=30)["error"]["code"] == Cancelled.code
    assert bl.call("rpc.describe")["busy"] is False


def drain_events(listener: RpcClient, count_topic: str, until: int, timeout: float = 30.0) -> list[dict[str, Any]]:
    """Events until ``until`` events of ``count_topic`` have arrived."""
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while sum(e["topic"] == count_topic for e in events) < until:
        events.append(listener.next_event(timeout=max(deadline - time.monotonic(), 0.01)))
    return events


def test_object_events_from_commands(bl: RpcClient, blender_backend: Backend) -> None:
    with blender_backend.client(timeout=30) as listener:
        listener.subscribe(["object.*", "scene.*"])
        bl.call("primitive.create", {"type": "cube", "name": "Ev"})
        bl.call("object.transform", {"name": "Ev", "location": [1, 0, 0]})
        bl.call("object.rename", {"name": "Ev", "new_name": "Ev2"})
        bl.call("object.delete", {"name": "Ev2"})
        bl.call("scene.clear", {})
        events = drain_events(listener, "scene.cleared", 1)
    summary = [(e["topic"], e["data"].get("name")) for e in events if e["data"].get("source") != "depsgraph"]
    assert summary == [
        ("object.created", "Ev"),
        ("object.changed", "Ev"),
        ("object.changed", "Ev2"),
        ("object.deleted", "Ev2"),
        ("scene.cleared", None),
    ]
    assert events[0]["data"] == {"name": "Ev", "type": "MESH", "source": "command", "primitive": "cube"}
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)


def test_depsgraph_reports_changes_made_by_user_code(bl: RpcClient, blender_backend: Backend) -> None:
    bl.call("primitive.create", {"type": "cube", "name": "Watched"})
    bl.call("code.execute", {"code": "pass"})  # flush the evaluation of the new object
    with blender_backend.client(timeout=30) as listener:
        listener.subscribe(["object.changed"])
        bl.call("code.execute", {"code": "D.objects['Watched'].location.z = 5"})
        event = listener.next_event(timeout=30)
    assert event["data"]["name"] == "Watched" and event["data"]["source"] == "depsgraph"
    assert event["data"]["transform"] is True
