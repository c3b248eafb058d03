"""A small synchronous JSON-RPC client for the CLI, scripts and tests."""

from __future__ import annotations

import itertools
import socket
import time
from collections import deque
from typing import Any

from .errors import RpcError
from .protocol import (
    DEFAULT_MAX_FRAME_BYTES,
    FRAME_DELIMITER,
    decode_frame,
    encode_frame,
    request_message,
)


class RpcConnectionError(ConnectionError):
    """The host server could not be reached or the connection broke. ``details`` says which (backend, host, port)."""

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class RpcTimeout(TimeoutError):
    """No reply within the timeout (or no free connection in time); the connection is closed."""

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class RpcClient:
    """One connection, one call at a time. Not thread-safe.

    Event notifications that arrive while waiting for a reply are kept and
    handed out by ``next_event()``.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 9876,
        *,
        token: str | None = None,
        timeout: float = 30.0,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
    ) -> None:
        self.host, self.port, self.token, self.timeout = host, port, token, timeout
        self.max_frame_bytes = max_frame_bytes
        self._sock: socket.socket | None = None
        self._buffer = bytearray()
        self._ids = itertools.count(1)
        self._events: deque[dict[str, Any]] = deque()
        self.server_info: dict[str, Any] = {}

    def __enter__(self) -> RpcClient:
        self.connect()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def connect(self) -> None:
        if self._sock is not None:
            return
        try:
            self._sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except OSError as exc:
            raise RpcConnectionError(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buffer.clear()
        if self.token is not None:
            self.server_info = self.call("rpc.hello", {"token": self.token})

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None

    def call(self, method: str, params: dict[str, Any] | None = None, *, timeout: float | None = None) -> Any:
        """Send a request and return its result, raising RpcError for an error reply."""
        self.connect()
        request_id = next(self._ids)
        self.send_raw(encode_frame(request_message(method, params, request_id)))
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            message = self._read_message(deadline)
            if isinstance(message, dict) and "id" not in message and "method" in message:
                self._events.append(message)
                continue
            if isinstance(message, dict) and message.get("id") == request_id:
                if "error" in message:
                    raise RpcError.from_dict(message["error"])
                return message.get("result")
            if isinstance(message, dict) and message.get("id") is None and "error" in message:
                raise RpcError.from_dict(message["error"])

    def subscribe(self, topics: list[str] | None = None) -> Any:
        return self.call("events.subscribe", {"topics": topics or ["*"]})

    def next_event(self, timeout: float = 5.0) -> dict[str, Any]:
        """The next event's params ({"topic", "seq", "time", "data"})."""
        deadline = time.monotonic() + timeout
        while not self._events:
            message = self._read_message(deadline)
            if isinstance(message, dict) and "id" not in message and "method" in message:
                self._events.append(message)
        return dict(self._events.popleft().get("params", {}))

    # Raw access, used by tests that speak bad protocol on purpose.
    def send_raw(self, data: bytes) -> None:
        self.connect()
        assert self._sock is not None
        try:
            self._sock.sendall(data)
        except OSError as exc:
            self.close()
            raise RpcConnectionError(f"send to {self.host}:{self.port} failed: {exc}") from exc

    def read_message(self, timeout: float | None = None) -> Any:
        return self._read_message(time.monotonic() + (self.timeout if timeout is None else timeout))

    def _read_message(self, deadline: float) -> Any:
        sock = self._sock
        if sock is None:
            raise RpcConnectionError("not connected")
        while True:
            end = self._buffer.find(FRAME_DELIMITER)
            if end >= 0:
                line = bytes(self._buffer[:end])
                del self._buffer[: end + 1]
                if line.strip():
                    return decode_frame(line)
                continue
            if len(self._buffer) > self.max_frame_bytes:
                self.close()
                raise RpcConnectionError("reply frame exceeds the size limit")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.close()
                raise RpcTimeout(f"no reply from {self.host}:{self.port} in time")
            sock.settimeout(remaining)
            try:
                chunk = sock.recv(1 << 20)
            except TimeoutError:
                continue
            except OSError as exc:
                self.close()
                raise RpcConnectionError(f"connection to {self.host}:{self.port} failed: {exc}") from exc
            if not chunk:
                self.close()
                raise RpcConnectionError(f"{self.host}:{self.port} closed the connection")
            self._buffer += chunk
