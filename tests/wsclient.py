"""A small synchronous WebSocket client for the gateway's /ws endpoints (tests and benchmarks)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from websockets.sync.client import ClientConnection, connect

Message = dict[str, Any]


def ws_url(base_url: str, app: str, session: str | None = None) -> str:
    url = base_url.replace("http://", "ws://", 1) + f"/ws/{app}"
    return url + f"?session={session}" if session else url


@contextmanager
def open_socket(base_url: str, app: str, session: str | None = None, **options: Any) -> Iterator[ClientConnection]:
    """Connect (to ``session``, or the default one), check the welcome message, and yield the connection."""
    with connect(ws_url(base_url, app, session), open_timeout=10, **options) as socket:
        welcome = receive(socket)
        assert welcome["type"] == "welcome" and welcome["backend"] == app, welcome
        yield socket


def send(socket: ClientConnection, message: Message) -> None:
    socket.send(json.dumps(message))


def receive(socket: ClientConnection, timeout: float = 30.0) -> Message:
    message: Message = json.loads(socket.recv(timeout=timeout))
    return message


def receive_until(socket: ClientConnection, predicate: Callable[[Message], bool], timeout: float = 30.0) -> Message:
    """The first message matching ``predicate``; heartbeats and other messages before it are skipped."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no matching WebSocket message in time")
        message = receive(socket, remaining)
        if predicate(message):
            return message


def reply_to(socket: ClientConnection, message_id: Any, timeout: float = 60.0) -> Message:
    """The result or error answering ``message_id``."""
    return receive_until(socket, lambda m: m.get("type") in ("result", "error") and m.get("id") == message_id, timeout)


def execute(socket: ClientConnection, message_id: Any, code: str, *, wait: float = 60.0, **extra: Any) -> Message:
    """Send an execute (``extra`` may hold its ``timeout``) and wait up to ``wait`` s for its reply."""
    send(socket, {"type": "execute", "id": message_id, "code": code, **extra})
    return reply_to(socket, message_id, wait)


def subscribe(socket: ClientConnection, topics: list[str], message_id: Any = "sub") -> Message:
    send(socket, {"type": "subscribe", "id": message_id, "topics": topics})
    reply = reply_to(socket, message_id)
    assert reply["type"] == "result", reply
    return reply
