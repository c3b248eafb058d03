"""/ws/blender and /ws/freecad against the real backends: execute, cancel, events, broadcast, load, bad messages."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect as async_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from backends import Backend, start_backend
from envelope import ok
from gateway import Gateway, start_gateway
from wsclient import execute, open_socket, receive, receive_until, reply_to, send, subscribe, ws_url

APPS = ["blender", "freecad"]


# ---------------------------------------------------------------------------------------------- execute
@pytest.mark.parametrize("app", APPS)
def test_execute_returns_stdout_and_result(gateway: Gateway, app: str) -> None:
    with open_socket(gateway.url, app) as socket:
        reply = execute(socket, "run-1", "print('hello from', 'ws')\nresult = {'sum': 2 + 3, 'items': [1, 2]}")
    assert reply["type"] == "result", reply
    assert reply["stdout"] == "hello from ws\n"
    assert reply["result"] == {"sum": 5, "items": [1, 2]}
    assert reply["elapsed_ms"] >= 0


def test_execute_sees_the_application(gateway: Gateway) -> None:
    with open_socket(gateway.url, "blender") as socket:
        reply = execute(socket, 1, "result = bpy.app.version_string")
    assert reply["result"].startswith("5.0"), reply
    with open_socket(gateway.url, "freecad") as socket:
        reply = execute(socket, 1, "import FreeCAD\nresult = FreeCAD.Version()[0]")
    assert reply["result"] == "0", reply


@pytest.mark.parametrize("app", APPS)
def test_syntax_error_and_exception_return_tracebacks(gateway: Gateway, app: str) -> None:
    with open_socket(gateway.url, app) as socket:
        bad = execute(socket, "syntax", "def broken(:\n    pass")
        raised = execute(socket, "raise", "print('before')\nx = 1 / 0")
        after = execute(socket, "after", "result = 'still fine'")
    assert bad["type"] == "error" and bad["error"]["code"] == "EXECUTION_ERROR"
    assert "SyntaxError" in bad["error"]["details"]["traceback"]
    assert raised["type"] == "error" and raised["error"]["code"] == "EXECUTION_ERROR"
    details = raised["error"]["details"]
    assert "ZeroDivisionError" in details["traceback"] and "line 2" in details["traceback"]
    assert details["stdout"] == "before\n"
    assert after["result"] == "still fine"


@pytest.mark.parametrize("app", APPS)
def test_cancel_a_runaway_loop(gateway: Gateway, app: str) -> None:
    with open_socket(gateway.url, app) as socket:
        send(socket, {"type": "execute", "id": "loop", "code": "n = 0\nwhile True:\n    n += 1"})
        time.sleep(0.5)  # let it start on the host
        started = time.monotonic()
        send(socket, {"type": "cancel", "id": "loop"})
        reply = reply_to(socket, "loop", timeout=10)
        cancelled_after = time.monotonic() - started
        assert reply["type"] == "error" and reply["error"]["code"] == "CANCELLED", reply
        assert cancelled_after < 5
        assert execute(socket, "next", "result = 6 * 7")["result"] == 42


def test_cancel_a_queued_execution(gateway: Gateway) -> None:
    with open_socket(gateway.url, "blender") as first, open_socket(gateway.url, "blender") as second:
        send(first, {"type": "execute", "id": "slow", "code": "import time\ntime.sleep(1.0)\nresult = 'slow done'"})
        time.sleep(0.2)
        send(second, {"type": "execute", "id": "queued", "code": "result = 'must not run'"})
        time.sleep(0.1)
        send(second, {"type": "cancel", "id": "queued"})
        cancelled = reply_to(second, "queued")
        assert cancelled["type"] == "error" and cancelled["error"]["code"] == "CANCELLED"
        assert "before it started" in cancelled["error"]["message"]
        assert reply_to(first, "slow")["result"] == "slow done"


def test_execution_timeout_interrupts_the_script(gateway: Gateway) -> None:
    with open_socket(gateway.url, "blender") as socket:
        reply = execute(socket, "t", "while True:\n    pass", timeout=0.5)
        assert reply["type"] == "error" and reply["error"]["code"] == "TIMEOUT", reply
        assert execute(socket, "after", "result = 1")["result"] == 1


def test_executions_take_turns_across_sockets(gateway: Gateway) -> None:
    """Two sockets each run a script that records when it ran; the intervals never overlap."""
    code = "import time\nstart = time.time()\ntime.sleep(0.3)\nresult = [start, time.time()]"
    with open_socket(gateway.url, "freecad") as a, open_socket(gateway.url, "freecad") as b:
        send(a, {"type": "execute", "id": "a", "code": code})
        send(b, {"type": "execute", "id": "b", "code": code})
        first, second = sorted([reply_to(a, "a")["result"], reply_to(b, "b")["result"]])
    assert second[0] >= first[1]


def test_pending_ids_are_unique_and_cancel_needs_a_known_id(gateway: Gateway) -> None:
    with open_socket(gateway.url, "blender") as socket:
        send(socket, {"type": "execute", "id": "same", "code": "import time\ntime.sleep(0.5)\nresult = 1"})
        send(socket, {"type": "execute", "id": "same", "code": "result = 2"})
        duplicate = reply_to(socket, "same")
        assert duplicate["type"] == "error" and duplicate["error"]["code"] == "DUPLICATE_ID"
        assert reply_to(socket, "same")["result"] == 1
        send(socket, {"type": "cancel", "id": "nothing-like-it"})
        unknown = reply_to(socket, "nothing-like-it")
        assert unknown["type"] == "error" and unknown["error"]["code"] == "NOT_FOUND"


# ---------------------------------------------------------------------------------------------- events
def test_object_created_event_reaches_a_subscriber(gateway: Gateway, api: httpx.Client) -> None:
    with open_socket(gateway.url, "blender") as socket:
        ack = subscribe(socket, ["object.*"])
        assert ack["result"] == {"topics": ["object.*"], "backend_connected": True}
        assert ok(api.get("/health"))["websockets"]["blender"] >= 1
        created = ok(api.post("/api/v1/blender/primitives/cube", json={"name": "WsSeen", "size": 1}), 201)
        answered = time.monotonic()
        event = receive_until(
            socket, lambda m: m["type"] == "event" and m["topic"] == "object.created" and m["data"]["name"] == "WsSeen"
        )
        waited = time.monotonic() - answered
    assert created["object_id"] == "WsSeen"
    assert event["data"]["type"] == "MESH" and event["seq"] > 0
    assert waited < 1.0, f"the event came {waited:.2f} s after the REST reply"


def test_freecad_events_arrive_the_same_way(gateway: Gateway, api: httpx.Client) -> None:
    with open_socket(gateway.url, "freecad") as socket:
        subscribe(socket, ["object.created", "document.*"])
        ok(
            api.post("/api/v1/freecad/primitives/box", json={"name": "WsBox", "length": 2, "width": 2, "height": 2}),
            201,
        )
        answered = time.monotonic()
        event = receive_until(socket, lambda m: m["type"] == "event" and m["data"].get("name") == "WsBox")
        waited = time.monotonic() - answered
    assert event["topic"] == "object.created" and event["data"]["type"] == "Part::Box"
    assert waited < 1.0


def test_render_progress_events_arrive(gateway: Gateway, api: httpx.Client) -> None:
    with open_socket(gateway.url, "blender") as socket:
        subscribe(socket, ["render.*"])
        body = {"engine": "CYCLES", "resolution": [64, 48], "samples": 2, "output": "ws_progress.png"}
        ok(api.post("/api/v1/blender/render", json=body))
        topics: list[str] = []
        while not topics or topics[-1] != "render.finished":
            message = receive_until(socket, lambda m: m["type"] == "event")
            topics.append(message["topic"])
    assert topics[0] == "render.started"
    assert topics.count("render.progress") >= 1


def test_unsubscribe_stops_events(gateway: Gateway, api: httpx.Client) -> None:
    with open_socket(gateway.url, "blender") as socket:
        subscribe(socket, ["object.created"])
        send(socket, {"type": "unsubscribe", "id": "u"})
        assert reply_to(socket, "u")["result"] == {"topics": []}
        ok(api.post("/api/v1/blender/primitives/cube", json={"name": "WsUnseen"}), 201)
        send(socket, {"type": "ping", "id": "after"})
        # An event would have been queued before the pong; only the pong arrives.
        reply = receive_until(socket, lambda m: m["type"] != "heartbeat")
        assert reply["type"] == "pong" and reply["id"] == "after", reply


def test_broadcast_to_twenty_clients_exactly_once_in_order(gateway: Gateway, api: httpx.Client) -> None:
    names = [f"Fan{i:02d}" for i in range(15)]
    received: list[list[tuple[int, str]]] = []
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(open_socket(gateway.url, "blender")) for _ in range(20)]
        for socket in sockets:
            subscribe(socket, ["object.created"])
        for name in names:
            ok(api.post("/api/v1/blender/primitives/cube", json={"name": name}), 201)
        for socket in sockets:
            events: list[tuple[int, str]] = []
            while len(events) < len(names):
                message = receive_until(socket, lambda m: m["type"] == "event", timeout=10)
                events.append((message["seq"], message["data"]["name"]))
            send(socket, {"type": "ping", "id": "end"})
            tail = receive_until(socket, lambda m: m["type"] != "heartbeat")
            assert tail["type"] == "pong", f"an extra message after the expected events: {tail}"
            received.append(events)
    assert [name for _, name in received[0]] == names
    assert [seq for seq, _ in received[0]] == sorted({seq for seq, _ in received[0]})
    assert all(events == received[0] for events in received)


def test_backend_down_and_up_events(tmp_path: Path, blender_backend: Backend) -> None:
    freecad = start_backend("freecad", tmp_path / "fc")
    server = start_gateway(tmp_path, blender_backend, freecad)
    try:
        with open_socket(server.url, "freecad") as socket:
            subscribe(socket, ["object.*"])
            freecad.stop()
            down = receive_until(socket, lambda m: m["type"] == "event", timeout=10)
            assert down["topic"] == "backend.down" and down["data"]["backend"] == "freecad"
            freecad = start_backend("freecad", tmp_path / "fc2", port=freecad.port, token=freecad.token)
            up = receive_until(socket, lambda m: m["type"] == "event", timeout=15)
            assert up["topic"] == "backend.up"
            assert execute(socket, "back", "result = 'FreeCAD is back'")["result"] == "FreeCAD is back"
    finally:
        server.stop()
        freecad.stop()


# ---------------------------------------------------------------------------------------------- load
def test_fifty_clients_fifty_executes_each(gateway: Gateway) -> None:
    clients, per_client = 50, 50

    async def one_client(index: int) -> list[tuple[str, Any]]:
        async with async_connect(ws_url(gateway.url, "blender"), open_timeout=30, max_queue=None) as socket:
            assert json.loads(await socket.recv())["type"] == "welcome"
            for n in range(per_client):
                await socket.send(
                    json.dumps({"type": "execute", "id": f"{index}-{n}", "code": f"result = {n} * {index}"})
                )
            answers: list[tuple[str, Any]] = []
            while len(answers) < per_client:
                message = json.loads(await asyncio.wait_for(socket.recv(), timeout=120))
                if message["type"] in ("result", "error"):
                    answers.append((message["id"], message.get("result", message.get("error"))))
            return answers

    async def everyone() -> list[list[tuple[str, Any]]]:
        return await asyncio.gather(*(one_client(index) for index in range(clients)))

    started = time.perf_counter()
    results = asyncio.run(everyone())
    elapsed = time.perf_counter() - started
    rate = clients * per_client / elapsed
    print(f"\n{clients} WebSocket clients x {per_client} executes: {elapsed:.2f} s ({rate:.0f} executes/s)")
    answered = 0
    for index, answers in enumerate(results):
        assert sorted(answer_id for answer_id, _ in answers) == sorted(f"{index}-{n}" for n in range(per_client))
        for answer_id, value in answers:
            n = int(answer_id.split("-")[1])
            assert value == n * index, (answer_id, value)
            answered += 1
    assert answered == clients * per_client


# ---------------------------------------------------------------------------------------------- handshake
def test_foreign_origin_is_refused_and_a_listed_one_accepted(gateway: Gateway) -> None:
    with pytest.raises(InvalidStatus) as refused:
        connect(ws_url(gateway.url, "blender"), origin="http://evil.example", open_timeout=10)  # type: ignore[arg-type]
    assert refused.value.response.status_code == 403
    body = json.loads(refused.value.response.body or b"{}")
    assert body["error"]["code"] == "ORIGIN_NOT_ALLOWED"
    with open_socket(gateway.url, "blender", origin="http://localhost:8000") as socket:
        send(socket, {"type": "ping", "id": 1})
        assert receive(socket)["type"] == "pong"


@pytest.fixture(scope="module")
def strict_gateway(
    tmp_path_factory: pytest.TempPathFactory, blender_backend: Backend, freecad_backend: Backend
) -> Iterator[Gateway]:
    """A key, execution off, short heartbeat and idle timeout, a small message limit."""
    server = start_gateway(
        tmp_path_factory.mktemp("strict"),
        blender_backend,
        freecad_backend,
        extra_env={
            "BRIDGE3D_API_KEY": "first-key,second-key",
            "BRIDGE3D_ALLOW_EXECUTE": "false",
            "BRIDGE3D_WS_HEARTBEAT_INTERVAL": "0.2",
            "BRIDGE3D_WS_IDLE_TIMEOUT": "1.5",
            "BRIDGE3D_WS_MAX_MESSAGE_BYTES": "4096",
            "BRIDGE3D_WS_MAX_CONNECTIONS": "3",
        },
    )
    yield server
    server.stop()


def test_api_key_is_required_on_the_handshake(strict_gateway: Gateway) -> None:
    url = ws_url(strict_gateway.url, "freecad")
    for headers in ({}, {"X-API-Key": "wrong"}, {"Authorization": "Bearer wrong"}):
        with pytest.raises(InvalidStatus) as refused:
            connect(url, additional_headers=headers, open_timeout=10)
        assert refused.value.response.status_code == 401
        assert json.loads(refused.value.response.body or b"{}")["error"]["code"] == "UNAUTHORIZED"
    with pytest.raises(InvalidStatus):
        connect(url, subprotocols=["bridge3d", "bridge3d.key.wrong"], open_timeout=10)  # type: ignore[list-item]

    for options in (
        {"additional_headers": {"Authorization": "Bearer first-key"}},
        {"additional_headers": {"X-API-Key": "second-key"}},
        {"subprotocols": ["bridge3d", "bridge3d.key.second-key"]},
    ):
        with open_socket(strict_gateway.url, "freecad", **options) as socket:
            send(socket, {"type": "ping", "id": "k"})
            assert receive_until(socket, lambda m: m["type"] == "pong")["id"] == "k"
            # The key subprotocol is never echoed back.
            assert socket.subprotocol in (None, "bridge3d")
    assert "first-key" not in strict_gateway.log() and "second-key" not in strict_gateway.log()


def test_execute_switched_off_subscriptions_still_work(strict_gateway: Gateway) -> None:
    headers = {"X-API-Key": "first-key"}
    with open_socket(strict_gateway.url, "blender", additional_headers=headers) as socket:
        reply = execute(socket, "x", "result = 1")
        assert reply["type"] == "error" and reply["error"]["code"] == "EXECUTION_DISABLED"
        assert "BRIDGE3D_ALLOW_EXECUTE" in reply["error"]["message"]
        assert subscribe(socket, ["object.*"])["result"]["backend_connected"] is True


def test_heartbeat_and_idle_timeout(strict_gateway: Gateway) -> None:
    headers = {"X-API-Key": "first-key"}
    with open_socket(strict_gateway.url, "blender", additional_headers=headers) as pinging:
        # A client that keeps talking stays connected past the idle timeout and sees heartbeats meanwhile.
        heartbeats = 0
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:
            send(pinging, {"type": "ping"})
            message = receive_until(pinging, lambda m: m["type"] in ("pong", "heartbeat"), timeout=2)
            heartbeats += message["type"] == "heartbeat"
            time.sleep(0.3)
        assert heartbeats >= 2
    with open_socket(strict_gateway.url, "blender", additional_headers=headers) as silent:
        started = time.monotonic()
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                assert receive(silent, timeout=10)["type"] == "heartbeat"
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
        assert "idle" in closed.value.rcvd.reason
        assert 1.0 < time.monotonic() - started < 5


BAD_MESSAGES: list[tuple[str | bytes, str]] = [
    ("not json at all", "INVALID_JSON"),
    ("[1, 2, 3]", "INVALID_MESSAGE"),
    ('"just a string"', "INVALID_MESSAGE"),
    ('{"id": 1}', "UNKNOWN_TYPE"),
    ('{"type": "launch", "id": 1}', "UNKNOWN_TYPE"),
    ('{"type": "execute", "id": 1}', "VALIDATION_ERROR"),
    ('{"type": "execute", "code": "result = 1"}', "VALIDATION_ERROR"),
    ('{"type": "execute", "id": 1, "code": "x", "timeout": -1}', "VALIDATION_ERROR"),
    ('{"type": "execute", "id": {"nested": 1}, "code": "x"}', "VALIDATION_ERROR"),
    ('{"type": "subscribe", "topics": []}', "VALIDATION_ERROR"),
    ('{"type": "subscribe", "topics": "object.*"}', "VALIDATION_ERROR"),
    ('{"type": "cancel"}', "VALIDATION_ERROR"),
    ('{"type": "ping", "extra": true}', "VALIDATION_ERROR"),
    (b"\xff\xfe\x00binary", "INVALID_MESSAGE"),
    ("x" * 5000, "LIMIT_EXCEEDED"),
    (json.dumps({"type": "execute", "id": 1, "code": "#" * 5000}), "LIMIT_EXCEEDED"),
]


def test_bad_messages_get_errors_and_the_socket_stays_usable(strict_gateway: Gateway) -> None:
    with open_socket(strict_gateway.url, "freecad", additional_headers={"X-API-Key": "first-key"}) as socket:
        for raw, code in BAD_MESSAGES:
            socket.send(raw)
            reply = receive_until(socket, lambda m: m["type"] != "heartbeat")
            assert reply["type"] == "error" and reply["error"]["code"] == code, (raw[:60], reply)
            assert reply["error"]["message"]
        send(socket, {"type": "ping", "id": "alive"})
        assert receive_until(socket, lambda m: m["type"] == "pong")["id"] == "alive"


def test_validation_errors_name_the_field(gateway: Gateway) -> None:
    with open_socket(gateway.url, "blender") as socket:
        send(socket, {"type": "execute", "id": 9, "timeout": 0})
        reply = reply_to(socket, 9)
        send(socket, {"type": "execute", "id": 10, "code": "result = 1", "timeout": 100000})
        over = reply_to(socket, 10)
    fields = {error["field"] for error in reply["error"]["details"]["errors"]}
    assert fields == {"code", "timeout"}, reply
    assert over["error"]["code"] == "LIMIT_EXCEEDED", over
    assert over["error"]["details"]["setting"] == "BRIDGE3D_MAX_EXECUTE_TIMEOUT"


def test_a_silent_disconnect_mid_execution_harms_nothing(gateway: Gateway) -> None:
    """The running script finishes, the queued one never starts, and the next client is served."""
    marks = "bpy.app.driver_namespace"
    with open_socket(gateway.url, "blender") as socket:
        send(socket, {"type": "execute", "id": "gone", "code": f"import time\ntime.sleep(0.5)\n{marks}['ws_gone'] = 1"})
        send(socket, {"type": "execute", "id": "queued", "code": f"{marks}['ws_queued'] = 1"})
        time.sleep(0.1)
    with open_socket(gateway.url, "blender") as other:
        reply = execute(other, "next", f"result = sorted(k for k in {marks}.keys() if k.startswith('ws_'))", wait=30)
    assert reply["result"] == ["ws_gone"], reply


def test_connection_cap_per_backend(strict_gateway: Gateway) -> None:
    headers = {"X-API-Key": "first-key"}
    deadline = time.monotonic() + 10
    while ok(httpx.get(strict_gateway.url + "/health"))["websockets"]["blender"] and time.monotonic() < deadline:
        time.sleep(0.1)  # sockets of earlier tests are still being closed
    with contextlib.ExitStack() as stack:
        for _ in range(3):
            stack.enter_context(open_socket(strict_gateway.url, "blender", additional_headers=headers))
        with pytest.raises(InvalidStatus) as refused:
            connect(ws_url(strict_gateway.url, "blender"), additional_headers=headers, open_timeout=10)
        assert refused.value.response.status_code == 503
        assert json.loads(refused.value.response.body or b"{}")["error"]["code"] == "TOO_MANY_CONNECTIONS"
        # The cap is per backend: FreeCAD still accepts.
        with open_socket(strict_gateway.url, "freecad", additional_headers=headers) as other:
            send(other, {"type": "ping", "id": 1})
            assert receive_until(other, lambda m: m["type"] == "pong")["id"] == 1
