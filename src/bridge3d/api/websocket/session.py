"""One accepted WebSocket: reads client messages, runs executions, delivers events, heartbeats, idle timeout.

All writes to the socket go through one outbox queue drained by one sender task, so replies, events and
heartbeats never interleave and events reach the client in the order the host published them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from bridge3d import __version__
from bridge3d.api import limits, services
from bridge3d.api.config import BackendSettings, Settings
from bridge3d.api.errors import GatewayError, as_gateway_error
from bridge3d.rpc.client import RpcConnectionError, RpcTimeout
from bridge3d.rpc.errors import RpcError

from .manager import BackendChannel
from .messages import (
    BadMessage,
    CancelMessage,
    ClientMessage,
    ExecuteMessage,
    PingMessage,
    SubscribeMessage,
    UnsubscribeMessage,
    error_message,
    event_message,
    heartbeat_message,
    parse_client_message,
    pong_message,
    result_message,
)

logger = logging.getLogger(__name__)

IDLE_CLOSE_CODE = 1000
TOO_SLOW_CLOSE_CODE = 1013  # "try again later": the client did not read its messages fast enough


@dataclass
class _Close:
    code: int
    reason: str


@dataclass
class Execution:
    message_id: str | int
    task: asyncio.Task[None] | None = None
    started: bool = False
    cancel_requested: bool = False
    queued_at: float = field(default_factory=time.perf_counter)


class Session:
    def __init__(self, websocket: WebSocket, channel: BackendChannel, settings: Settings, owner: str | None) -> None:
        self.websocket = websocket
        self.owner = owner
        self.channel = channel
        self.backend: BackendSettings = getattr(settings, channel.app_name)
        self.settings = settings
        self.topics: set[str] = set()
        self._outbox: asyncio.Queue[dict[str, Any] | _Close] = asyncio.Queue(maxsize=settings.ws_send_queue)
        self._executions: dict[str | int, Execution] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._last_seen = time.monotonic()
        self._open = True

    # ------------------------------------------------------------------ lifecycle
    async def run(self) -> None:
        self.channel.attach(self)
        sender = asyncio.create_task(self._send_loop())
        keepalive = asyncio.create_task(self._keepalive())
        self.send(
            {
                "type": "welcome",
                "backend": self.channel.app_name,
                "version": __version__,
                "execute_allowed": self.settings.allow_execute,
                "heartbeat_interval": self.settings.ws_heartbeat_interval,
                "idle_timeout": self.settings.ws_idle_timeout,
                "max_message_bytes": self.settings.ws_max_message_bytes,
            }
        )
        try:
            await self._receive_loop()
        finally:
            self._open = False
            self.channel.detach(self)
            keepalive.cancel()
            sender.cancel()
            for execution in list(self._executions.values()):
                # Queued ones never start; a running one finishes in the background (its result has no reader)
                # and keeps the backend's turn until then, so the next execution cannot be cancelled by mistake.
                if not execution.started and execution.task is not None:
                    execution.task.cancel()

    def send(self, message: dict[str, Any]) -> None:
        """Queue a message for the client; a client too slow to keep up is disconnected, never waited for."""
        if not self._open:
            return
        try:
            self._outbox.put_nowait(message)
        except asyncio.QueueFull:
            logger.warning(
                "%s WebSocket client fell %d messages behind; disconnecting it",
                self.channel.app_name,
                self._outbox.qsize(),
            )
            self.close(TOO_SLOW_CLOSE_CODE, "too many unread messages")

    def close(self, code: int, reason: str) -> None:
        if not self._open:
            return
        self._open = False
        if code == TOO_SLOW_CLOSE_CODE:
            while not self._outbox.empty():
                self._outbox.get_nowait()
        self._outbox.put_nowait(_Close(code, reason))

    def deliver_event(self, params: dict[str, Any]) -> None:
        self.send(event_message(params))

    async def _send_loop(self) -> None:
        try:
            while True:
                item = await self._outbox.get()
                if isinstance(item, _Close):
                    await self.websocket.close(code=item.code, reason=item.reason)
                    return
                await self.websocket.send_text(json.dumps(item, default=str))
        except (WebSocketDisconnect, RuntimeError, OSError):
            self._open = False  # the client went away; the receive loop sees the disconnect

    async def _keepalive(self) -> None:
        interval = self.settings.ws_heartbeat_interval
        idle_limit = self.settings.ws_idle_timeout
        next_beat = time.monotonic() + interval
        while True:
            now = time.monotonic()
            idle_deadline = self._last_seen + idle_limit
            if now >= idle_deadline:
                self.close(IDLE_CLOSE_CODE, f"idle for {idle_limit:g} s")
                return
            if now >= next_beat:
                self.send(heartbeat_message())
                next_beat = now + interval
            await asyncio.sleep(max(0.0, min(next_beat, idle_deadline) - now))

    # ------------------------------------------------------------------ receiving
    async def _receive_loop(self) -> None:
        limit = self.settings.ws_max_message_bytes
        while True:
            try:
                frame = await self.websocket.receive()
            except (WebSocketDisconnect, RuntimeError):
                return
            if frame["type"] == "websocket.disconnect":
                return
            self._last_seen = time.monotonic()
            text: str | None = frame.get("text")
            data: bytes = text.encode() if text is not None else (frame.get("bytes") or b"")
            if len(data) > limit:
                self.send(
                    error_message(
                        "LIMIT_EXCEEDED",
                        f"The message is {len(data)} bytes; the limit is {limit} bytes",
                        {"limit": limit, "size": len(data), "setting": "BRIDGE3D_WS_MAX_MESSAGE_BYTES"},
                    )
                )
                continue
            try:
                if text is None:
                    text = data.decode("utf-8")
                await self._handle(parse_client_message(text))
            except UnicodeDecodeError:
                self.send(error_message("INVALID_MESSAGE", "A binary message must be UTF-8 encoded JSON"))
            except BadMessage as exc:
                self.send(error_message(exc.code, exc.message, exc.details, exc.message_id))

    async def _handle(self, message: ClientMessage) -> None:
        if isinstance(message, PingMessage):
            self.send(pong_message(message.id))
        elif isinstance(message, SubscribeMessage):
            self.topics.update(message.topics)
            # Wait for the gateway's host subscription so no event published after this reply is missed.
            connected = await self.channel.ensure_events(wait=self.backend.connect_timeout * 2)
            self.send(result_message(message.id, {"topics": sorted(self.topics), "backend_connected": connected}))
        elif isinstance(message, UnsubscribeMessage):
            if message.topics is None:
                self.topics.clear()
            else:
                self.topics.difference_update(message.topics)
            self.send(result_message(message.id, {"topics": sorted(self.topics)}))
        elif isinstance(message, ExecuteMessage):
            self._start_execution(message)
        elif isinstance(message, CancelMessage):
            self._cancel_execution(message.id)

    # ------------------------------------------------------------------ executions
    def _start_execution(self, message: ExecuteMessage) -> None:
        if message.id in self._executions:
            raise BadMessage(
                "DUPLICATE_ID",
                f"An execution with id {message.id!r} is already queued or running",
                message_id=message.id,
            )
        if len(self._executions) >= self.settings.ws_max_pending:
            raise BadMessage(
                "LIMIT_EXCEEDED",
                f"{self.settings.ws_max_pending} executions are already queued or running on this socket",
                {"limit": self.settings.ws_max_pending, "setting": "BRIDGE3D_WS_MAX_PENDING"},
                message.id,
            )
        try:
            limits.check_execute_allowed(self.settings)
            timeout = limits.execute_timeout(message.timeout, self.settings, self.backend.call_timeout)
        except GatewayError as exc:
            raise BadMessage(exc.code, exc.message, exc.details, message.id) from None
        execution = Execution(message.id)
        self._executions[message.id] = execution
        execution.task = asyncio.create_task(self._execute(execution, message, timeout))
        execution.task.add_done_callback(lambda _: self._cancelled_before_start(execution))

    def _cancelled_before_start(self, execution: Execution) -> None:
        """A task cancelled before its first step never runs ``_execute``: answer it and free its id here."""
        if self._executions.get(execution.message_id) is execution:
            del self._executions[execution.message_id]
            if execution.cancel_requested:
                self.send(error_message("CANCELLED", "Cancelled before it started", {}, execution.message_id))

    async def _execute(self, execution: Execution, message: ExecuteMessage, timeout: float) -> None:
        started = 0.0

        def on_start() -> None:
            nonlocal started
            execution.started = True
            started = time.perf_counter()

        try:
            client = await self.channel.session.wait_client(self.backend.worker_start_timeout)
            outcome = await services.execute(client, {"code": message.code}, timeout, on_start=on_start)
            self.send(
                result_message(
                    message.id,
                    outcome.get("result"),
                    stdout=outcome.get("stdout", ""),
                    stderr=outcome.get("stderr", ""),
                    elapsed_ms=round((time.perf_counter() - started) * 1000, 3),
                    queued_ms=round((started - execution.queued_at) * 1000, 3),
                )
            )
        except asyncio.CancelledError:
            if execution.cancel_requested:
                self.send(error_message("CANCELLED", "Cancelled before it started", {}, message.id))
        except (GatewayError, RpcConnectionError, RpcTimeout, RpcError) as exc:
            error = as_gateway_error(exc)
            assert error is not None
            self.send(error_message(error.code, error.message, error.details, message.id))
        finally:
            self._executions.pop(message.id, None)

    def _cancel_execution(self, message_id: str | int) -> None:
        execution = self._executions.get(message_id)
        if execution is None or execution.task is None:
            raise BadMessage(
                "NOT_FOUND", f"No execution with id {message_id!r} is queued or running on this socket", {}, message_id
            )
        if not execution.started:
            execution.cancel_requested = True
            execution.task.cancel()
            return
        task = asyncio.create_task(self._interrupt_running(execution))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _interrupt_running(self, execution: Execution) -> None:
        """Ask the host to interrupt the running script; its execute then answers CANCELLED."""
        try:
            client = await self.channel.session.wait_client(self.backend.worker_start_timeout)
            outcome = await client.cancel()
        except (GatewayError, RpcConnectionError, RpcTimeout, RpcError) as exc:
            outcome = {"cancelled": False, "reason": str(exc)}
        if not outcome.get("cancelled") and execution.message_id in self._executions:
            self.send(
                error_message(
                    "CANCEL_FAILED",
                    f"Could not interrupt the execution: {outcome.get('reason', 'unknown reason')}; "
                    "its result will still follow",
                    {"reason": outcome.get("reason")},
                    execution.message_id,
                )
            )
