"""/ws/blender and /ws/freecad against the real backends: execute, cancel, events, broadcast, load, bad messages."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect as async_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Origin, Subprotocol

from backends import Backend, start_backend
from envelope import ok
from gateway import Gateway, start_gateway
from wsclient import execute, open_socket, receive, receive_until, reply_to, send, subscribe, ws_url

APPS = ["blender", "freecad"]
# Waiting for something that happens within milliseconds when the machine is idle: generous, for a loaded machine.
PATIENCE = 120.0


def wait_until(condition: Callable[[], bool], what: str, timeout: float = PATIENCE) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.05)


def busy(gateway: Gateway, app: str) -> bool:
    """Whether the host's main thread runs a command (rpc.describe, answered by its IO thread)."""
    return bool(ok(httpx.get(f"{gateway.url}/health/{app}", timeout=PATIENCE))["busy"])


def gated_script(workspace: Path, flag: str, then: str) -> str:
    """Blender code that holds the main thread until ``flag`` appears in its workspace, then runs ``then``: the test
    decides when it ends, however slow the machine (it gives up after PATIENCE seconds)."""
    path = workspace / flag
    return (
        f"import os, time\ndeadline = time.monotonic() + {PATIENCE}\n"
        f"while not os.path.exists({str(path)!r}) and time.monotonic() < deadline:\n    time.sleep(0.02)\n{then}"
    )


# ---------------------------------------------------------------------------------------------- execute
@pytest.mark.parametrize("app", APPS)
def test_execute_returns_stdout_and_result(gateway: Gateway, app: str) -> None:
    with open_socket(gateway.url, app) as socket:
        reply = execute(socket, "run-1", "print('hello from', 'ws')\nresult = {'sum': 2 + 3, 'items': [1, 2]}")
    timings = {key: reply.pop(key) for key in ("elapsed_ms", "queued_ms")}  # measured: only their type is known
    assert all(isinstance(value, float) for value in timings.values()), timings
    assert reply == {
        "type": "result",
        "id": "run-1",
        "result": {"sum": 5, "items": [1, 2]},
        "stdout": "hello from ws\n",
        "stderr": "",
    }


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
    assert bad["error"]["details"]["type"] == "SyntaxError" and "SyntaxError" in bad["error"]["details"]["traceback"]
    assert raised["type"] == "error" and raised["error"]["code"] == "EXECUTION_ERROR"
    details = raised["error"]["details"]
    assert "ZeroDivisionError" in details["traceback"] and "line 2" in details["traceback"]
    assert details["stdout"] == "before\n"
    assert after["result"] == "still fine"


@pytest.mark.parametrize("app", APPS)
def test_cancel_a_runaway_loop(gateway: Gateway, app: str) -> None:
    with open_socket(gateway.url, app) as socket:
        send(socket, {"type": "execute", "id": "loop", "code": "n = 0\nwhile True:\n    n += 1"})
        wait_until(lambda: busy(gateway, app), "the loop started on the host")  # so the cancel interrupts it
        send(socket, {"type": "cancel", "id": "loop"})
        reply = reply_to(socket, "loop", timeout=PATIENCE)
        assert reply["type"] == "error" and reply["error"]["code"] == "CANCELLED", reply
        assert reply["error"]["message"] == "code.execute was cancelled by rpc.cancel", reply  # it ran, and stopped
        assert execute(socket, "next", "result = 6 * 7")["result"] == 42


def test_cancel_a_queued_execution(gateway: Gateway, blender_backend: Backend) -> None:
    flag = "ws-queued-flag"
    slow = gated_script(blender_backend.workspace, flag, "result = 'slow done'")
    try:
        with open_socket(gateway.url, "blender") as first, open_socket(gateway.url, "blender") as second:
            send(first, {"type": "execute", "id": "slow", "code": slow})
            wait_until(lambda: busy(gateway, "blender"), "the slow script started")
            send(second, {"type": "execute", "id": "queued", "code": "result = 'must not run'"})
            # The gateway handles a socket's messages in order: once the ping is answered, the execute is queued.
            send(second, {"type": "ping", "id": "queued?"})
            assert receive_until(second, lambda m: m["type"] == "pong")["id"] == "queued?"
            send(second, {"type": "cancel", "id": "queued"})
            cancelled = reply_to(second, "queued")
            assert cancelled["type"] == "error" and cancelled["error"]["code"] == "CANCELLED"
            assert cancelled["error"]["message"] == "Cancelled before it started"
            # A cancel right behind its execute finds the execution's task not started yet: it is answered too,
            # and its id is free again.
            for index in range(20):
                send(second, {"type": "execute", "id": f"q{index}", "code": "result = 'must not run'"})
                send(second, {"type": "cancel", "id": f"q{index}"})
                assert reply_to(second, f"q{index}")["error"]["code"] == "CANCELLED"
            send(second, {"type": "execute", "id": "q0", "code": "result = 'must not run'"})
            send(second, {"type": "cancel", "id": "q0"})
            assert reply_to(second, "q0")["error"]["code"] == "CANCELLED"  # not DUPLICATE_ID
            (blender_backend.workspace / flag).touch()
            assert reply_to(first, "slow", timeout=PATIENCE)["result"] == "slow done"
    finally:
        (blender_backend.workspace / flag).unlink(missing_ok=True)


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


def test_pending_ids_are_unique_and_cancel_needs_a_known_id(gateway: Gateway, blender_backend: Backend) -> None:
    flag = "ws-duplicate-flag"
    try:
        with open_socket(gateway.url, "blender") as socket:
            # The first "same" is still pending (held until the flag appears) when the second arrives.
            send(
                socket,
                {"type": "execute", "id": "same", "code": gated_script(blender_backend.workspace, flag, "result = 1")},
            )
            send(socket, {"type": "execute", "id": "same", "code": "result = 2"})
            duplicate = reply_to(socket, "same")
            assert duplicate["type"] == "error" and duplicate["error"]["code"] == "DUPLICATE_ID"
            (blender_backend.workspace / flag).touch()
            assert reply_to(socket, "same", timeout=PATIENCE)["result"] == 1
            send(socket, {"type": "cancel", "id": "nothing-like-it"})
            unknown = reply_to(socket, "nothing-like-it")
            assert unknown["type"] == "error" and unknown["error"]["code"] == "NOT_FOUND"
    finally:
        (blender_backend.workspace / flag).unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------- events
def test_object_created_event_reaches_a_subscriber(gateway: Gateway, api: httpx.Client) -> None:
    with open_socket(gateway.url, "blender") as socket:
        ack = subscribe(socket, ["object.*"])
        assert ack["result"] == {"topics": ["object.*"], "backend_connected": True}
        assert ok(api.get("/health"))["websockets"]["blender"] >= 1
        created = ok(api.post("/api/v1/blender/primitives/cube", json={"name": "WsSeen", "size": 1}), 201)
        event = receive_until(
            socket,
            lambda m: m["type"] == "event" and m["topic"] == "object.created" and m["data"]["name"] == "WsSeen",
            timeout=PATIENCE,
        )
    assert created["object_id"] == "WsSeen"
    assert event["data"] == {"name": "WsSeen", "type": "MESH", "source": "command", "primitive": "cube"}
    assert isinstance(event["seq"], int) and event["seq"] > 0


def test_freecad_events_arrive_the_same_way(gateway: Gateway, api: httpx.Client) -> None:
    with open_socket(gateway.url, "freecad") as socket:
        subscribe(socket, ["object.created", "document.*"])
        ok(
            api.post("/api/v1/freecad/primitives/box", json={"name": "WsBox", "length": 2, "width": 2, "height": 2}),
            201,
        )
        event = receive_until(
            socket, lambda m: m["type"] == "event" and m["data"].get("name") == "WsBox", timeout=PATIENCE
        )
    assert event["topic"] == "object.created" and event["data"]["type"] == "Part::Box"


def test_render_progress_events_arrive(gateway: Gateway, api: httpx.Client) -> None:
    with open_socket(gateway.url, "blender") as socket:
        subscribe(socket, ["render.*"])
        body = {"engine": "CYCLES", "resolution": [64, 48], "samples": 2, "output": "ws_progress.png"}
        ok(api.post("/api/v1/blender/render", json=body))
        events: list[dict[str, Any]] = []
        while not events or events[-1]["topic"] != "render.finished":
            events.append(receive_until(socket, lambda m: m["type"] == "event", timeout=PATIENCE))
    topics = [event["topic"] for event in events]
    # Started, then Cycles' stages as progress (at least one), then finished: all about this render.
    assert topics[0] == "render.started" and topics[-1] == "render.finished"
    assert len(topics) >= 3 and set(topics[1:-1]) == {"render.progress"}, topics
    assert {event["data"]["output"] for event in events} == {"ws_progress.png"}
    assert events[0]["data"] == {"engine": "CYCLES", "resolution": [64, 48], "frame": 1, "output": "ws_progress.png"}


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
                message = receive_until(socket, lambda m: m["type"] == "event", timeout=PATIENCE)
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
            down = receive_until(socket, lambda m: m["type"] == "event", timeout=PATIENCE)
            assert down["topic"] == "backend.down" and down["data"]["backend"] == "freecad"
            freecad = start_backend("freecad", tmp_path / "fc2", port=freecad.port, token=freecad.token)
            # The default session's state is put back (session.restored) before the backend is announced up.
            up = receive_until(socket, lambda m: m["type"] == "event" and m["topic"] != "session.restored", PATIENCE)
            assert up["topic"] == "backend.up" and up["data"]["backend"] == "freecad"
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
        connect(ws_url(gateway.url, "blender"), origin=Origin("http://evil.example"), open_timeout=10)
    assert refused.value.response.status_code == 403
    body = json.loads(refused.value.response.body or b"{}")
    assert body["error"]["code"] == "ORIGIN_NOT_ALLOWED"
    with open_socket(gateway.url, "blender", origin=Origin("http://localhost:8000")) as socket:
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
        connect(url, subprotocols=[Subprotocol("bridge3d"), Subprotocol("bridge3d.key.wrong")], open_timeout=10)

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
            message = receive_until(pinging, lambda m: m["type"] in ("pong", "heartbeat"), timeout=PATIENCE)
            heartbeats += message["type"] == "heartbeat"
            time.sleep(0.3)
        assert heartbeats >= 2
    with open_socket(strict_gateway.url, "blender", additional_headers=headers) as silent:
        started = time.monotonic()
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                assert receive(silent, timeout=PATIENCE)["type"] == "heartbeat"
                # The idle timeout is 1.5 s: a socket that heartbeats alone keep open would run on for ever.
                assert time.monotonic() - started < PATIENCE, "a silent client is never closed"
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
        assert closed.value.rcvd.reason == "idle for 1.5 s"  # BRIDGE3D_WS_IDLE_TIMEOUT
        assert time.monotonic() - started > 1.0  # not before the idle timeout (less a margin for the handshake)


# (message, error code, how the error message starts: what is wrong, and where)
BAD_MESSAGES: list[tuple[str | bytes, str, str]] = [
    ("not json at all", "INVALID_JSON", "The message is not JSON: "),
    ("[1, 2, 3]", "INVALID_MESSAGE", "A message must be a JSON object with a 'type'"),
    ('"just a string"', "INVALID_MESSAGE", "A message must be a JSON object with a 'type'"),
    ('{"id": 1}', "UNKNOWN_TYPE", "Unknown message type None; expected one of: execute, cancel, subscribe,"),
    ('{"type": "launch", "id": 1}', "UNKNOWN_TYPE", "Unknown message type 'launch'; expected one of: execute,"),
    ('{"type": "execute", "id": 1}', "VALIDATION_ERROR", "Invalid execute message: code: "),
    ('{"type": "execute", "code": "result = 1"}', "VALIDATION_ERROR", "Invalid execute message: id: "),
    (
        '{"type": "execute", "id": 1, "code": "x", "timeout": -1}',
        "VALIDATION_ERROR",
        "Invalid execute message: timeout: ",
    ),
    ('{"type": "execute", "id": {"nested": 1}, "code": "x"}', "VALIDATION_ERROR", "Invalid execute message: id.str: "),
    ('{"type": "subscribe", "topics": []}', "VALIDATION_ERROR", "Invalid subscribe message: topics: "),
    ('{"type": "subscribe", "topics": "object.*"}', "VALIDATION_ERROR", "Invalid subscribe message: topics: "),
    ('{"type": "cancel"}', "VALIDATION_ERROR", "Invalid cancel message: id: "),
    ('{"type": "ping", "extra": true}', "VALIDATION_ERROR", "Invalid ping message: extra: "),
    (b"\xff\xfe\x00binary", "INVALID_MESSAGE", "A binary message must be UTF-8 encoded JSON"),
    ("x" * 5000, "LIMIT_EXCEEDED", "The message is 5000 bytes; the limit is 4096 bytes"),
    (json.dumps({"type": "execute", "id": 1, "code": "#" * 5000}), "LIMIT_EXCEEDED", "The message is 5040 bytes;"),
]


def test_bad_messages_get_errors_and_the_socket_stays_usable(strict_gateway: Gateway) -> None:
    with open_socket(strict_gateway.url, "freecad", additional_headers={"X-API-Key": "first-key"}) as socket:
        for raw, code, message in BAD_MESSAGES:
            socket.send(raw)
            reply = receive_until(socket, lambda m: m["type"] != "heartbeat")
            assert reply["type"] == "error" and reply["error"]["code"] == code, (raw[:60], reply)
            assert reply["error"]["message"].startswith(message), (raw[:60], reply)
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


def test_a_silent_disconnect_mid_execution_harms_nothing(
    gateway: Gateway, api: httpx.Client, blender_backend: Backend
) -> None:
    """The running script finishes, the queued one never starts, and the next client is served."""
    marks = "bpy.app.driver_namespace"
    flag = "ws-gone-flag"
    running = gated_script(blender_backend.workspace, flag, f"{marks}['ws_gone'] = 1")
    try:
        with open_socket(gateway.url, "blender") as socket:
            send(socket, {"type": "execute", "id": "gone", "code": running})
            send(socket, {"type": "execute", "id": "queued", "code": f"{marks}['ws_queued'] = 1"})
            wait_until(lambda: busy(gateway, "blender"), "the first script started")
        # The gateway has seen the socket go while the first script still runs; then that script may finish.
        wait_until(lambda: ok(api.get("/health"))["websockets"]["blender"] == 0, "the socket was closed")
        (blender_backend.workspace / flag).touch()
        with open_socket(gateway.url, "blender") as other:
            code = f"result = sorted(k for k in {marks}.keys() if k.startswith('ws_'))"
            reply = execute(other, "next", code, wait=PATIENCE)
        assert reply["result"] == ["ws_gone"], reply
    finally:
        (blender_backend.workspace / flag).unlink(missing_ok=True)
        execute_cleanup = f"{marks}.pop('ws_gone', None)\n{marks}.pop('ws_queued', None)"
        with open_socket(gateway.url, "blender") as cleaner:
            execute(cleaner, "clean", execute_cleanup, wait=PATIENCE)


def test_connection_cap_per_backend(strict_gateway: Gateway) -> None:
    headers = {"X-API-Key": "first-key"}
    # Sockets of earlier tests may still be being closed.
    wait_until(lambda: ok(httpx.get(strict_gateway.url + "/health"))["websockets"]["blender"] == 0, "no sockets left")
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
