"""A dedicated event connection to one host server that reconnects by itself.

Events arrive as JSON-RPC notifications on a connection that called
``events.subscribe``. When the connection drops, listeners get a
synthetic ``backend.down`` event; when it is back, ``backend.up``.
The host is asked for at every reconnect (``source``): a session whose
worker was replaced is followed to the new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from typing import Any

from bridge3d.rpc.client import RpcConnectionError, RpcTimeout
from bridge3d.rpc.errors import RpcError

from .base_client import BaseSocketClient
from .connection import Connection

logger = logging.getLogger(__name__)

EventListener = Callable[[dict[str, Any]], None]
ClientSource = Callable[[], BaseSocketClient | None]


class EventSubscription:
    def __init__(self, source: ClientSource, app_name: str, *, max_backoff: float = 2.0) -> None:
        self._source = source
        self.app_name = app_name
        self._listeners: list[EventListener] = []
        self._task: asyncio.Task[None] | None = None
        self._connection: Connection | None = None
        self._max_backoff = max_backoff
        self.connected = asyncio.Event()
        self.reconnects = 0

    def add_listener(self, listener: EventListener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: EventListener) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=f"{self.app_name}-events")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._connection is not None:
            self._connection.close()

    def _emit(self, params: dict[str, Any]) -> None:
        for listener in list(self._listeners):
            try:
                listener(params)
            except Exception:
                logger.exception("event listener failed")

    def _synthetic(self, topic: str, **data: Any) -> None:
        self._emit({"topic": topic, "seq": 0, "time": time.time(), "data": {"backend": self.app_name, **data}})

    async def _run(self) -> None:
        delay = 0.05
        was_up: bool | None = None
        while True:
            try:
                client = self._source()
                if client is None:
                    raise RpcConnectionError(f"{self.app_name}: no host server right now (a worker is starting)")
                self._connection = await client.open_connection()
                await self._connection.call(
                    "events.subscribe", {"topics": ["*"]}, timeout=client.settings.connect_timeout * 2
                )
                self.connected.set()
                if was_up is False:
                    self.reconnects += 1
                    self._synthetic("backend.up")
                was_up = True
                delay = 0.05
                while True:
                    message = await self._connection.read_message()
                    if isinstance(message, dict) and message.get("method") == "event":
                        params = message.get("params")
                        if isinstance(params, dict):
                            self._emit(params)
            except (RpcConnectionError, RpcTimeout, RpcError) as exc:  # connection lost, timeout, a refused subscribe
                self.connected.clear()
                if self._connection is not None:
                    self._connection.close()
                if was_up is not False:
                    logger.warning("%s event connection down: %s", self.app_name, exc)
                    self._synthetic("backend.down", reason=str(exc))
                was_up = False
                await asyncio.sleep(random.uniform(delay / 2, delay))
                delay = min(delay * 2, self._max_backoff)
