"""A host server reached directly (not through the gateway) without its token refuses every command."""

from __future__ import annotations

import json
import secrets
import socket
from pathlib import Path
from typing import Any

import pytest

from backends import Backend
from bridge3d import commands
from bridge3d.rpc import RpcClient
from bridge3d.rpc.errors import PARSE_ERROR, UNAUTHORIZED, NotFound

from ._util import APPS

PATIENCE = 120.0  # how long a host may take to answer or close on a loaded machine


def exchange(port: int, *frames: bytes, until_replies: int | None = None) -> tuple[list[dict[str, Any]], bool]:
    """Send raw frames on a fresh connection and read until the server closes it (or, with ``until_replies``, until
    that many replies came); return the replies and whether the server closed the connection. A server that does
    neither within PATIENCE fails the test (TimeoutError)."""
    with socket.create_connection(("127.0.0.1", port), timeout=PATIENCE) as sock:
        for frame in frames:
            sock.sendall(frame)
        buffer = b""
        closed = False
        while until_replies is None or buffer.count(b"\n") < until_replies:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:  # closed with our unread frames still queued: closed all the same
                chunk = b""
            if not chunk:
                closed = True
                break
            buffer += chunk
    return [json.loads(line) for line in buffer.splitlines() if line.strip()], closed


def request(method: str, params: dict[str, Any] | None = None, ident: int | None = 1) -> bytes:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params or {}}
    if ident is not None:
        message["id"] = ident
    return json.dumps(message).encode() + b"\n"


def refused(replies: list[dict[str, Any]], closed: bool) -> bool:
    return closed and len(replies) == 1 and replies[0].get("error", {}).get("code") == UNAUTHORIZED


@pytest.mark.parametrize("app", APPS)
def test_every_method_is_refused_without_the_token(
    backends: dict[str, Backend], hosts: dict[str, RpcClient], tmp_path: Path, app: str
) -> None:
    backend = backends[app]
    methods = hosts[app].call("rpc.describe")["methods"]
    # Every command of the schema, and the host's own methods: nothing the host serves goes untried below.
    own = {"batch.run", "events.subscribe", "events.unsubscribe", "rpc.cancel", "rpc.describe", "rpc.hello", "rpc.ping"}
    assert set(methods) == set(commands.TABLES[app]) | own
    marker = tmp_path / "ran"
    arguments: dict[str, dict[str, Any]] = {
        "code.execute": {"code": f"open({str(marker)!r}, 'w').write('ran')"},
        "file.read": {"name": "anything.png"},
        "batch.run": {"steps": [{"method": "scene.info" if app == "blender" else "document.list"}]},
    }
    for method in methods:
        if method == "rpc.hello":
            continue
        replies, closed = exchange(backend.port, request(method, arguments.get(method)))
        assert refused(replies, closed), (method, replies, closed)
    assert not marker.exists()


@pytest.mark.parametrize("app", APPS)
def test_a_wrong_hello_is_refused_and_closes(backends: dict[str, Backend], app: str) -> None:
    backend = backends[app]
    for params in (
        {},
        {"token": ""},
        {"token": "wrong"},
        {"token": backend.token + "x"},
        {"token": backend.token[:-1]},
        {"token": backend.token.upper() if backend.token != backend.token.upper() else "X"},
        {"token": 12345},
        {"token": [backend.token]},
        {"token": None},
    ):
        replies, closed = exchange(backend.port, request("rpc.hello", params), request("rpc.ping", ident=2))
        assert refused(replies, closed), (params, replies, closed)


@pytest.mark.parametrize("app", APPS)
def test_tricks_before_the_hello_get_nothing(
    backends: dict[str, Backend], hosts: dict[str, RpcClient], tmp_path: Path, app: str
) -> None:
    backend = backends[app]
    marker = tmp_path / "ran"
    code = {"code": f"open({str(marker)!r}, 'w').write('ran')"}
    name = f"NoToken{secrets.token_hex(3)}"
    kind = "cube" if app == "blender" else "box"
    # A notification (no id) is still refused (the one reply a notification ever gets), and the connection closed.
    replies, closed = exchange(backend.port, request("code.execute", code, ident=None))
    assert closed and [(reply["id"], reply["error"]["code"]) for reply in replies] == [(None, UNAUTHORIZED)], replies
    # Garbage first, then a command: the parse error is answered, the command refused.
    replies, closed = exchange(backend.port, b"{not json\n", request("primitive.create", {"type": kind, "name": name}))
    assert closed, replies
    assert [(reply["id"], reply["error"]["code"]) for reply in replies] == [(None, PARSE_ERROR), (1, UNAUTHORIZED)]
    # Pipelining a command right behind a wrong hello does not slip it through.
    replies, closed = exchange(
        backend.port, request("rpc.hello", {"token": "wrong"}), request("code.execute", code, ident=2)
    )
    assert refused(replies, closed), replies
    assert not marker.exists()
    with pytest.raises(NotFound) as missing:
        hosts[app].call("object.get", {"name": name})
    assert missing.value.data["name"] == name


@pytest.mark.parametrize("app", APPS)
def test_the_right_token_opens_the_connection(backends: dict[str, Backend], app: str) -> None:
    backend = backends[app]
    hello, ping = request("rpc.hello", {"token": backend.token}), request("rpc.ping", ident=2)
    replies, closed = exchange(backend.port, hello, ping, until_replies=2)
    assert closed is False  # the connection stays open for more
    assert [reply.get("id") for reply in replies] == [1, 2] and replies[1]["result"]["pong"] is True, replies
    assert replies[0]["result"]["app"] == app
