"""Live events over the gateway's WebSocket (``/ws/{app}``) as an iterator (sync) or async iterator.

Built on the ``websockets`` library: the one WebSocket client with both a blocking and an asyncio API, no
dependencies of its own, and already what the gateway's server side (uvicorn[standard]) uses. The stream
subscribes to its topics before it is handed out, so no event published after ``events()`` returns is missed;
it answers every heartbeat with a ping, so the gateway's idle timeout never closes a socket that only listens.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from types import TracebackType
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from websockets.asyncio.client import ClientConnection as AsyncConnection
from websockets.asyncio.client import connect as async_connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from ._transport import USER_AGENT, Settings, backoff_seconds, error_from_envelope
from .errors import BackendUnavailableError, Bridge3DError, GatewayUnreachableError, error_for

SUBSCRIBE_ID = "bridge3d-sdk-subscribe"
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
OPEN_TIMEOUT_SECONDS = 10.0
PING = json.dumps({"type": "ping"})


class Event(BaseModel):
    """One event the application published: ``topic`` (``object.created``, ``render.finished``, ``backend.down``,
    ...), ``seq`` (the host's counter: a gap means missed events), ``time`` (seconds since the epoch) and ``data``."""

    model_config = ConfigDict(extra="allow")

    topic: str
    seq: int | None = None
    time: float
    data: dict[str, Any] = Field(default_factory=dict)


def _headers(settings: Settings) -> dict[str, str]:
    headers = settings.request_headers()
    headers.pop("User-Agent", None)  # websockets sends its own header for it (user_agent_header)
    return headers


def _handshake_error(exc: InvalidStatus) -> Bridge3DError:
    response = exc.response
    return error_from_envelope(response.status_code, bytes(response.body or b""), response.headers.get("x-request-id"))


def _subscribe_message(topics: Sequence[str]) -> str:
    return json.dumps({"type": "subscribe", "id": SUBSCRIBE_ID, "topics": list(topics) or ["*"]})


class _Inbox:
    """What the client does with each server message: events are kept, heartbeats answered, errors raised."""

    def __init__(self, app: str) -> None:
        self.app = app
        self.subscribed = False
        self.pending: collections.deque[Event] = collections.deque()  # events that arrived before the ack

    def take(self, text: str | bytes) -> tuple[Event | None, bool]:
        """(the event in the message, whether the client should send a ping)."""
        message: dict[str, Any] = json.loads(text)
        kind = message.get("type")
        if kind == "event":
            return Event.model_validate(message), False
        if kind == "heartbeat":
            return None, True
        if kind == "welcome" and message.get("backend") not in (None, self.app):
            raise Bridge3DError(f"/ws/{self.app} answered for {message.get('backend')}", code="INVALID_RESPONSE")
        if kind == "error":
            error = message.get("error") or {}
            raise error_for(
                str(error.get("code", "INTERNAL_ERROR")),
                str(error.get("message", "")),
                details=error.get("details") if isinstance(error.get("details"), dict) else {},
            )
        if kind == "result" and message.get("id") == SUBSCRIBE_ID:
            self.subscribed = True
        return None, False


def _closed_error(exc: ConnectionClosed, app: str) -> GatewayUnreachableError:
    return GatewayUnreachableError(f"The event stream of {app} broke: {exc}")


class EventStream:
    """Events of one application, subscribed and ready: iterate it (``for event in stream``) or take one at a time
    (``stream.get(timeout=5)``). Close it, or use it as a context manager. Iteration ends when the gateway closes
    the socket normally; a broken connection raises GatewayUnreachableError."""

    def __init__(self, settings: Settings, app: str, topics: Sequence[str]) -> None:
        self.app = app
        self.topics = list(topics)
        self._inbox = _Inbox(app)
        # Entered as a context manager, the one way every websockets version (13 to 17+) supports without warning.
        self._exit = contextlib.ExitStack()
        self._connection = self._open(settings)
        try:
            self._connection.send(_subscribe_message(self.topics))
            deadline = time.monotonic() + OPEN_TIMEOUT_SECONDS
            while not self._inbox.subscribed:
                self._take(self._connection.recv(timeout=max(0.0, deadline - time.monotonic())), keep=True)
        except BaseException:
            self._exit.close()
            raise

    def _open(self, settings: Settings) -> ClientConnection:
        attempt = 0
        while True:
            try:
                return self._exit.enter_context(
                    connect(
                        settings.websocket_url(self.app),
                        additional_headers=_headers(settings),
                        user_agent_header=USER_AGENT,
                        open_timeout=OPEN_TIMEOUT_SECONDS,
                        max_size=MAX_MESSAGE_BYTES,
                    )
                )
            except InvalidStatus as exc:
                error: Bridge3DError = _handshake_error(exc)
                retry = isinstance(error, BackendUnavailableError)
            except (OSError, TimeoutError) as exc:
                error = GatewayUnreachableError(f"Could not open {settings.websocket_url(self.app)}: {exc}")
                retry = True
            if not retry or attempt >= settings.max_retries:
                raise error
            time.sleep(backoff_seconds(attempt))
            attempt += 1

    def _take(self, text: str | bytes, *, keep: bool = False) -> Event | None:
        event, ping = self._inbox.take(text)
        if ping:
            self._connection.send(PING)
        if event is not None and keep:
            self._inbox.pending.append(event)
            return None
        return event

    def _next(self, timeout: float | None) -> Event | None:
        if self._inbox.pending:
            return self._inbox.pending.popleft()
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                text = self._connection.recv(timeout=remaining)
            except ConnectionClosedOK:
                return None
            except ConnectionClosed as exc:
                raise _closed_error(exc, self.app) from exc
            event = self._take(text)
            if event is not None:
                return event

    def get(self, timeout: float | None = None) -> Event:
        """The next event; TimeoutError when none arrives within ``timeout`` seconds."""
        event = self._next(timeout)
        if event is None:
            raise GatewayUnreachableError(f"The gateway closed the event stream of {self.app}")
        return event

    def __iter__(self) -> Iterator[Event]:
        return self

    def __next__(self) -> Event:
        event = self._next(None)
        if event is None:
            raise StopIteration
        return event

    def close(self) -> None:
        self._exit.close()

    def __enter__(self) -> EventStream:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


class AsyncEventStream:
    """The asyncio twin of EventStream: ``async with client.blender.events("object.*") as events: async for event in
    events``. It connects and subscribes on entering (or on the first ``get``/iteration)."""

    def __init__(self, settings: Settings, app: str, topics: Sequence[str]) -> None:
        self.app = app
        self.topics = list(topics)
        self._settings = settings
        self._inbox = _Inbox(app)
        self._connection: AsyncConnection | None = None
        self._exit = contextlib.AsyncExitStack()

    async def open(self) -> AsyncEventStream:
        """Connect and subscribe (done by ``async with`` and the first read when not called)."""
        if self._connection is not None:
            return self
        connection = await self._open()
        try:
            await connection.send(_subscribe_message(self.topics))
            async with asyncio.timeout(OPEN_TIMEOUT_SECONDS):
                while not self._inbox.subscribed:
                    await self._take(connection, await connection.recv(), keep=True)
        except BaseException:
            await self._exit.aclose()
            raise
        self._connection = connection
        return self

    async def _open(self) -> AsyncConnection:
        settings = self._settings
        attempt = 0
        while True:
            try:
                return await self._exit.enter_async_context(
                    async_connect(
                        settings.websocket_url(self.app),
                        additional_headers=_headers(settings),
                        user_agent_header=USER_AGENT,
                        open_timeout=OPEN_TIMEOUT_SECONDS,
                        max_size=MAX_MESSAGE_BYTES,
                    )
                )
            except InvalidStatus as exc:
                error: Bridge3DError = _handshake_error(exc)
                retry = isinstance(error, BackendUnavailableError)
            except (OSError, TimeoutError) as exc:
                error = GatewayUnreachableError(f"Could not open {settings.websocket_url(self.app)}: {exc}")
                retry = True
            if not retry or attempt >= settings.max_retries:
                raise error
            await asyncio.sleep(backoff_seconds(attempt))
            attempt += 1

    async def _take(self, connection: AsyncConnection, text: str | bytes, *, keep: bool = False) -> Event | None:
        event, ping = self._inbox.take(text)
        if ping:
            await connection.send(PING)
        if event is not None and keep:
            self._inbox.pending.append(event)
            return None
        return event

    async def _next(self, timeout: float | None) -> Event | None:
        await self.open()
        connection = self._connection
        assert connection is not None
        if self._inbox.pending:
            return self._inbox.pending.popleft()
        async with asyncio.timeout(timeout):
            while True:
                try:
                    text = await connection.recv()
                except ConnectionClosedOK:
                    return None
                except ConnectionClosed as exc:
                    raise _closed_error(exc, self.app) from exc
                event = await self._take(connection, text)
                if event is not None:
                    return event

    async def get(self, timeout: float | None = None) -> Event:
        """The next event; TimeoutError when none arrives within ``timeout`` seconds."""
        event = await self._next(timeout)
        if event is None:
            raise GatewayUnreachableError(f"The gateway closed the event stream of {self.app}")
        return event

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        event = await self._next(None)
        if event is None:
            raise StopAsyncIteration
        return event

    async def close(self) -> None:
        self._connection = None
        await self._exit.aclose()

    async def __aenter__(self) -> AsyncEventStream:
        return await self.open()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.close()


__all__ = ["AsyncEventStream", "Event", "EventStream"]
