"""The host server on real sockets: bad input, auth, busy describe, cancel, events."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from bridge3d.rpc import RpcClient, RpcConnectionError, errors
from fake_host import InProcessHost

# How long to wait for what takes milliseconds on an idle machine: generous, for a loaded one.
PATIENCE = 120.0


@pytest.fixture
def host() -> Iterator[InProcessHost]:
    server = InProcessHost(max_frame_bytes=64 * 1024)
    yield server
    server.stop()


def raw_exchange(port: int, payload: bytes, *, timeout: float = PATIENCE) -> list[dict[str, Any]]:
    """Send raw bytes, half-close, and read every reply line until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return [json.loads(line) for line in data.splitlines() if line.strip()]


def assert_still_serving(port: int) -> None:
    with RpcClient(port=port, timeout=PATIENCE) as client:
        assert client.call("test.add", {"a": 2, "b": 3}) == 5


def wait_until_running(client: RpcClient, method: str) -> dict[str, Any]:
    """rpc.describe once the host's main thread runs ``method``."""
    deadline = time.monotonic() + PATIENCE
    while True:
        described: dict[str, Any] = client.call("rpc.describe")
        if described["running"] == method:
            return described
        assert time.monotonic() < deadline, f"{method} never started: {described}"
        time.sleep(0.02)


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (os.urandom(64).replace(b"\n", b"") + b"\n", errors.PARSE_ERROR),
        (b'{"jsonrpc": "2.0", "method": \n', errors.PARSE_ERROR),
        (b'"just a string"\n', errors.INVALID_REQUEST),
        (b'{"hello": "world"}\n', errors.INVALID_REQUEST),
        (b'[{"jsonrpc": "2.0", "method": "rpc.ping", "id": 1}]\n', errors.INVALID_REQUEST),
        (b'{"jsonrpc": "2.0", "method": "no.such", "id": 1}\n', errors.METHOD_NOT_FOUND),
        (b'{"jsonrpc": "2.0", "method": "test.add", "params": {"a": 1}, "id": 1}\n', errors.INVALID_PARAMS),
        (
            b'{"jsonrpc": "2.0", "method": "test.add", "params": {"a": 1, "b": 2, "c": 3}, "id": 1}\n',
            errors.INVALID_PARAMS,
        ),
        (b'{"jsonrpc": "2.0", "method": "test.add", "params": [1, 2], "id": 1}\n', errors.INVALID_REQUEST),
        (b'{"jsonrpc": "2.0", "method": "test.fail", "id": 1}\n', errors.INTERNAL_ERROR),
    ],
)
def test_bad_input_gets_the_right_error_and_the_server_keeps_serving(
    host: InProcessHost, payload: bytes, code: int
) -> None:
    replies = raw_exchange(host.port, payload)
    assert len(replies) == 1
    assert replies[0]["error"]["code"] == code
    assert_still_serving(host.port)


def test_connection_stays_usable_after_an_error(host: InProcessHost) -> None:
    with RpcClient(port=host.port) as client:
        client.send_raw(b"not json\n")
        assert client.read_message()["error"]["code"] == errors.PARSE_ERROR
        assert client.call("test.echo", {"value": [1, "two"]}) == [1, "two"]


def test_oversize_frame_gets_an_error_then_close(host: InProcessHost) -> None:
    other = RpcClient(port=host.port)
    other.connect()
    big = b'{"jsonrpc":"2.0","method":"test.echo","params":{"value":"' + b"x" * 200_000 + b'"},"id":1}\n'
    with socket.create_connection(("127.0.0.1", host.port), timeout=PATIENCE) as sock:
        with contextlib.suppress(OSError):  # the server may close before reading everything
            sock.sendall(big)
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except ConnectionResetError:
            pass
    reply = json.loads(data.splitlines()[0])
    assert reply["error"]["code"] == errors.INVALID_REQUEST
    assert "limit" in reply["error"]["message"]
    assert other.call("rpc.ping")["pong"] is True  # another, already open connection is unaffected
    other.close()
    assert_still_serving(host.port)


def test_client_closing_mid_frame_does_not_hurt_the_server(host: InProcessHost) -> None:
    for _ in range(20):
        with socket.create_connection(("127.0.0.1", host.port), timeout=PATIENCE) as sock:
            sock.sendall(b'{"jsonrpc": "2.0", "method": "test.ad')
    assert_still_serving(host.port)


def test_client_vanishing_while_its_call_runs_does_not_hurt_the_server(host: InProcessHost) -> None:
    with socket.create_connection(("127.0.0.1", host.port), timeout=PATIENCE) as sock:
        sock.sendall(b'{"jsonrpc":"2.0","method":"test.sleep","params":{"seconds":0.3},"id":1}\n')
    time.sleep(0.5)
    assert_still_serving(host.port)


def test_notifications_get_no_reply(host: InProcessHost) -> None:
    with RpcClient(port=host.port) as client:
        client.send_raw(b'{"jsonrpc":"2.0","method":"test.noop"}\n')
        client.send_raw(b'{"jsonrpc":"2.0","method":"no.such"}\n')
        assert client.call("rpc.ping")["pong"] is True  # the first reply is the ping's


@pytest.fixture
def token_host() -> Iterator[InProcessHost]:
    server = InProcessHost(token="s3cret-token")
    yield server
    server.stop()


@pytest.mark.parametrize(
    "first_message",
    [
        b'{"jsonrpc":"2.0","method":"test.add","params":{"a":1,"b":2},"id":1}\n',
        b'{"jsonrpc":"2.0","method":"rpc.ping","id":1}\n',
        b'{"jsonrpc":"2.0","method":"rpc.hello","id":1}\n',
        b'{"jsonrpc":"2.0","method":"rpc.hello","params":{"token":"wrong"},"id":1}\n',
        b'{"jsonrpc":"2.0","method":"rpc.hello","params":{"token":12},"id":1}\n',
    ],
)
def test_missing_or_wrong_token_is_unauthorized_and_closes(token_host: InProcessHost, first_message: bytes) -> None:
    follow_up = b'{"jsonrpc":"2.0","method":"test.add","params":{"a":1,"b":2},"id":2}\n'
    replies = raw_exchange(token_host.port, first_message + follow_up)
    assert len(replies) == 1, "the connection must close after the refusal"
    assert replies[0]["error"]["code"] == errors.UNAUTHORIZED


def test_right_token_opens_every_method(token_host: InProcessHost) -> None:
    with RpcClient(port=token_host.port, token="s3cret-token") as client:
        assert client.server_info["app"] == "fake"
        assert client.call("test.add", {"a": 1, "b": 2}) == 3


def test_describe_answers_while_the_main_thread_is_busy(host: InProcessHost) -> None:
    """test.block holds the main thread until the gate opens, and the gate opens only after describe answered: a
    describe that waited for the main thread would never answer."""
    outcome: dict[str, str] = {}

    def blocked_call() -> None:
        with RpcClient(port=host.port, timeout=PATIENCE) as client:
            outcome["result"] = client.call("test.block")

    worker = threading.Thread(target=blocked_call)
    worker.start()
    try:
        with RpcClient(port=host.port, timeout=PATIENCE) as client:
            described = wait_until_running(client, "test.block")
            assert outcome == {}, "test.block returned before the gate opened"
    finally:
        host.gate.set()
        worker.join(PATIENCE)
    assert described["busy"] is True and described["since"] <= time.time()
    assert "test.block" in described["methods"] and "rpc.cancel" in described["methods"]
    assert outcome == {"result": "released"}


def test_cancel_interrupts_a_runaway_script_and_the_server_keeps_working(host: InProcessHost) -> None:
    outcome: dict[str, BaseException] = {}

    def runaway() -> None:
        with RpcClient(port=host.port, timeout=PATIENCE) as client:
            try:
                client.call(
                    "code.execute", {"code": "while True:\n    try:\n        pass\n    except Exception:\n        pass"}
                )
            except errors.RpcError as exc:
                outcome["error"] = exc

    worker = threading.Thread(target=runaway)
    worker.start()
    with RpcClient(port=host.port, timeout=PATIENCE) as control:
        wait_until_running(control, "code.execute")
        assert control.call("rpc.cancel")["cancelled"] is True
    worker.join(timeout=PATIENCE)
    assert not worker.is_alive()
    assert isinstance(outcome["error"], errors.Cancelled)
    assert_still_serving(host.port)
    with RpcClient(port=host.port) as client:
        assert client.call("code.execute", {"code": "result = 6 * 7"})["result"] == 42


def test_cancel_refuses_methods_that_are_not_cancellable(host: InProcessHost) -> None:
    outcome: dict[str, str] = {}

    def blocked_call() -> None:
        with RpcClient(port=host.port, timeout=PATIENCE) as client:
            outcome["result"] = client.call("test.block")

    worker = threading.Thread(target=blocked_call)
    worker.start()
    try:
        with RpcClient(port=host.port, timeout=PATIENCE) as control:
            wait_until_running(control, "test.block")
            answer = control.call("rpc.cancel")
    finally:
        host.gate.set()
        worker.join(PATIENCE)
    assert answer["cancelled"] is False and answer["running"] == "test.block"
    assert outcome == {"result": "released"}  # it ran to its end


def test_events_reach_subscribed_connections_only(host: InProcessHost) -> None:
    with RpcClient(port=host.port) as subscriber, RpcClient(port=host.port) as bystander:
        assert subscriber.subscribe(["object.*"]) == {"topics": ["object.*"]}
        bystander.call("rpc.ping")
        host.server.publish("object.created", {"name": "Cube"})
        host.server.publish("render.started", {})
        host.server.publish("object.deleted", {"name": "Cube"})
        first, second = subscriber.next_event(), subscriber.next_event()
        assert (first["topic"], first["data"]) == ("object.created", {"name": "Cube"})
        assert second["topic"] == "object.deleted" and second["seq"] > first["seq"]
        with pytest.raises(TimeoutError):
            bystander.next_event(timeout=0.3)


def test_stop_closes_connections(host: InProcessHost) -> None:
    client = RpcClient(port=host.port, timeout=5)
    client.call("rpc.ping")
    host.stop()
    with pytest.raises(RpcConnectionError):
        client.call("rpc.ping")
