"""BaseSocketClient: the gateway's async, pooled JSON-RPC client for one host server."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import Any, ClassVar

from bridge3d.api.config import BackendSettings
from bridge3d.api.errors import BackendConnectionError

from .connection import Connection
from .pool import ConnectionPool

logger = logging.getLogger(__name__)


class BaseSocketClient:
    """Pooled persistent connections to one host server.

    ``send_command`` is the one way to call a method. Only a failed connect is
    retried (exponential backoff with jitter): once a request was written it
    may have run, so it is never sent twice.
    """

    app_name: ClassVar[str] = "backend"
    connection_error: ClassVar[type[BackendConnectionError]] = BackendConnectionError

    def __init__(self, settings: BackendSettings) -> None:
        self.settings = settings
        self._pool = ConnectionPool(
            self._open_with_retry,
            size=settings.pool_size,
            acquire_timeout=settings.acquire_timeout,
            backend=self.app_name,
        )
        # code.execute calls (REST and WebSocket) run one at a time per backend, so `rpc.cancel` (which interrupts
        # whatever cancellable job the host runs) always hits the execution its caller means.
        self.execution_lock = asyncio.Lock()

    @property
    def pool(self) -> ConnectionPool:
        return self._pool

    async def connect(self) -> dict[str, Any]:
        """Open (or reuse) one connection and return the server's rpc.describe."""
        result: dict[str, Any] = await self.send_command("rpc.describe", timeout=self.settings.connect_timeout * 2)
        return result

    async def disconnect(self) -> None:
        await self._pool.close()

    async def send_command(
        self, method: str, params: dict[str, Any] | None = None, *, timeout: float | None = None
    ) -> Any:
        call_timeout = self.settings.call_timeout if timeout is None else timeout
        async with self._pool.connection() as connection:
            return await connection.call(method, params, timeout=call_timeout)

    async def ping(self) -> float:
        """Round trip of rpc.ping in milliseconds."""
        started = time.perf_counter()
        await self.send_command("rpc.ping", timeout=self.settings.connect_timeout * 2)
        return (time.perf_counter() - started) * 1000.0

    async def open_connection(self) -> Connection:
        """A new authenticated connection outside the pool (event subscriptions use one)."""
        settings = self.settings
        return await Connection.open(
            settings.host,
            settings.port,
            token=settings.token.get_secret_value() if settings.token else None,
            timeout=settings.connect_timeout,
            max_frame_bytes=settings.max_frame_bytes,
            backend=self.app_name,
            connection_error=self.connection_error,
        )

    async def _open_with_retry(self) -> Connection:
        attempts = self.settings.connect_retries + 1
        delay = self.settings.retry_backoff
        for attempt in range(1, attempts + 1):
            try:
                return await self.open_connection()
            except BackendConnectionError:
                if attempt == attempts:
                    raise
                # Full jitter keeps many waiting callers from reconnecting in lockstep.
                await asyncio.sleep(random.uniform(0, delay))
                delay *= 2
        raise AssertionError("unreachable")
