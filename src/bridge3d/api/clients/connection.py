"""One asyncio connection to a host server: the socket edge.

Low-level exceptions (OSError, EOF, oversize frames, timeouts) are translated here, and only here, into the rpc
error types: RpcConnectionError, RpcTimeout, and RpcError for an error reply. A connection that raised anything but
an error reply is marked broken and must be closed. Nothing here knows HTTP: ``api/errors.py`` maps these types.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

import pydantic_core

from bridge3d.rpc.client import RpcConnectionError, RpcTimeout
from bridge3d.rpc.errors import RpcError
from bridge3d.rpc.protocol import FRAME_DELIMITER, encode_frame, request_message

NotificationHandler = Callable[[dict[str, Any]], None]


def encode_request(message: dict[str, Any]) -> bytes:
    """One request frame: the same JSON values as rpc.protocol.encode_frame, written by pydantic's encoder, which
    takes a third of json.dumps's time (a 10,000-step batch is a 1.5 MB frame).

    That encoder writes NaN and infinities as the bare constants NaN and Infinity where encode_frame refuses them;
    a frame that may hold one (the words can also be inside a string) is encoded by encode_frame, which raises.
    """
    frame = pydantic_core.to_json(message)
    if b"NaN" in frame or b"Infinity" in frame:
        return encode_frame(message)
    return frame + FRAME_DELIMITER


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, backend: str) -> None:
        self._reader = reader
        self._writer = writer
        self._ids = itertools.count(1)
        self.backend = backend
        self.broken = False
        self.server_info: dict[str, Any] = {}

    @classmethod
    async def open(
        cls, host: str, port: int, *, token: str | None, timeout: float, max_frame_bytes: int, backend: str
    ) -> Connection:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, limit=max_frame_bytes), timeout=timeout
            )
        except (TimeoutError, OSError) as exc:
            raise RpcConnectionError(
                f"Could not connect to {backend} at {host}:{port}: {exc or type(exc).__name__}",
                {"backend": backend, "host": host, "port": port},
            ) from None
        connection = cls(reader, writer, backend=backend)
        if token is not None:
            try:
                connection.server_info = await connection.call("rpc.hello", {"token": token}, timeout=timeout)
            except BaseException:
                connection.close()
                raise
        return connection

    @property
    def usable(self) -> bool:
        """False once broken or once the server closed its side (checked before reuse)."""
        return not (self.broken or self._writer.is_closing() or self._reader.at_eof())

    async def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        timeout: float,
        on_notification: NotificationHandler | None = None,
    ) -> Any:
        """Send one request and wait for its reply; any failure but an error reply breaks the connection."""
        try:
            request_id = await self.send_command(method, params)
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for wraps the read in a new task on every call.
            async with asyncio.timeout(timeout):
                return await self.receive_response(request_id, on_notification)
        except TimeoutError:
            self.broken = True
            raise RpcTimeout(
                f"{self.backend} did not answer {method} within {timeout:g} s",
                {"backend": self.backend, "method": method, "timeout": timeout},
            ) from None
        except RpcError:
            raise
        except BaseException:
            self.broken = True  # includes cancellation: a reply may still be in flight
            raise

    async def send_command(self, method: str, params: dict[str, Any] | None = None) -> int:
        request_id = next(self._ids)
        frame = encode_request(request_message(method, params, request_id))
        try:
            self._writer.write(frame)
            await self._writer.drain()
        except (OSError, RuntimeError) as exc:
            self.broken = True
            raise self._lost(f"sending {method} failed: {exc}") from None
        return request_id

    async def receive_response(self, request_id: int, on_notification: NotificationHandler | None = None) -> Any:
        while True:
            message = await self.read_message()
            if not isinstance(message, dict):
                continue
            if "id" not in message and "method" in message:
                if on_notification is not None:
                    on_notification(message)
                continue
            if message.get("id") not in (request_id, None):
                continue  # a late reply to an abandoned request cannot happen on a fresh connection; skip defensively
            if "error" in message:
                error = RpcError.from_dict(message["error"] if isinstance(message["error"], dict) else {})
                error.backend = self.backend
                raise error
            return message.get("result")

    async def read_message(self) -> Any:
        try:
            line = await self._reader.readuntil(FRAME_DELIMITER)
        except asyncio.IncompleteReadError:
            self.broken = True
            raise self._lost("the connection was closed by the host server") from None
        except asyncio.LimitOverrunError:
            self.broken = True
            raise self._lost("a reply exceeded the frame size limit") from None
        except OSError as exc:
            self.broken = True
            raise self._lost(f"the connection failed: {exc}") from None
        try:
            # pydantic's JSON parser reads a large reply (a 10,000-step batch, a whole object list) in half the
            # time json.loads takes, and builds the same Python values.
            return pydantic_core.from_json(line)
        except ValueError as exc:
            self.broken = True
            raise self._lost(f"unparsable reply: {exc}") from None

    def close(self) -> None:
        self.broken = True
        if not self._writer.is_closing():
            self._writer.close()

    def _lost(self, reason: str) -> RpcConnectionError:
        return RpcConnectionError(f"Lost connection to {self.backend}: {reason}", {"backend": self.backend})
