"""BaseSocketClient: the gateway's async, pooled JSON-RPC client for one host server."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from bridge3d.api.config import BackendSettings
from bridge3d.rpc.client import RpcConnectionError, RpcTimeout

from .connection import Connection
from .pool import ConnectionPool

logger = logging.getLogger(__name__)

CANCEL_WITHIN = 10.0  # seconds rpc.cancel keeps trying to reach a host whose main thread holds the GIL


Send = Callable[[str, "dict[str, Any] | None", "float | None"], Awaitable[Any]]
# Wraps every send_command (a durable session journals mutating commands): called with the method, params, timeout
# and the plain send, it returns the result.
CommandHook = Callable[[str, "dict[str, Any] | None", "float | None", Send], Awaitable[Any]]
# Called with rpc.hello's answer on each new command or event connection, before it is used (a durable session
# restores a host server that restarted).
ConnectHook = Callable[["dict[str, Any]"], Awaitable[None]]


class BaseSocketClient:
    """Pooled persistent connections to one host server, and one more connection for health checks.

    ``send_command`` is the one way to call a method. Only a failed connect is retried (exponential backoff with
    jitter): once a request was written it may have run, so it is never sent twice. ``describe`` uses its own
    connection, never the pool, so health is answered while every pooled connection waits for a long command.
    ``around`` and ``on_connect`` let the owner of the client observe commands and connections without the transport
    knowing why.
    """

    app_name: ClassVar[str] = "backend"

    def __init__(self, settings: BackendSettings) -> None:
        self.settings = settings
        self._pool = ConnectionPool(
            self._open_with_retry,
            size=settings.pool_size,
            acquire_timeout=settings.acquire_timeout,
            backend=self.app_name,
        )
        self._probe: Connection | None = None
        self._probe_lock = asyncio.Lock()
        # code.execute calls (REST and WebSocket) run one at a time per backend, so `rpc.cancel` (which interrupts
        # whatever cancellable job the host runs) always hits the execution its caller means.
        self.execution_lock = asyncio.Lock()
        self.around: CommandHook | None = None
        self.on_connect: ConnectHook | None = None

    @property
    def pool(self) -> ConnectionPool:
        return self._pool

    async def send_command(
        self, method: str, params: dict[str, Any] | None = None, *, timeout: float | None = None
    ) -> Any:
        if self.around is not None:
            return await self.around(method, params, timeout, self.send_raw)
        return await self.send_raw(method, params, timeout)

    async def send_raw(self, method: str, params: dict[str, Any] | None = None, timeout: float | None = None) -> Any:
        """``send_command`` without ``around`` (what the hook itself calls)."""
        call_timeout = self.settings.call_timeout if timeout is None else timeout
        async with self._pool.connection() as connection:
            return await connection.call(method, params, timeout=call_timeout)

    async def describe(self) -> dict[str, Any]:
        """``rpc.describe`` (answered by the host's IO thread: busy, the running method, since when) on the
        health connection, so it never waits for the pool."""
        result: dict[str, Any] = await self._probe_call("rpc.describe", None, self.settings.connect_timeout * 2)
        return result

    async def cancel(self, request_id: Any = None, *, within: float = CANCEL_WITHIN) -> dict[str, Any]:
        """``rpc.cancel`` on the health connection. A host whose main thread spins in Python code answers its IO
        thread slowly (the GIL), so this tries again until ``within`` seconds have passed, then raises."""
        deadline = asyncio.get_running_loop().time() + within
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            try:
                result: dict[str, Any] = await self._probe_call("rpc.cancel", {"id": request_id}, max(remaining, 0.1))
                return result
            except (RpcConnectionError, RpcTimeout):
                if asyncio.get_running_loop().time() >= deadline:
                    raise
                await asyncio.sleep(0.05)

    async def _probe_call(self, method: str, params: dict[str, Any] | None, timeout: float) -> Any:
        async with self._probe_lock:
            probe = self._probe
            if probe is None or not probe.usable:
                probe = self._probe = await self.open_connection(timeout=timeout, hooked=False)
            try:
                return await probe.call(method, params, timeout=timeout)
            except (RpcConnectionError, RpcTimeout):
                probe.close()  # ``disconnect`` may have dropped it already while the call waited
                if self._probe is probe:
                    self._probe = None
                raise

    async def disconnect(self) -> None:
        await self._pool.close()
        if self._probe is not None:
            self._probe.close()
            self._probe = None

    async def open_connection(self, *, timeout: float | None = None, hooked: bool = True) -> Connection:
        """A new authenticated connection outside the pool (event subscriptions use one); ``on_connect`` sees it
        first unless not ``hooked`` (health checks, and the hook's own connections)."""
        settings = self.settings
        connection = await Connection.open(
            settings.host,
            settings.port,
            token=settings.token.get_secret_value() if settings.token else None,
            timeout=settings.connect_timeout if timeout is None else timeout,
            max_frame_bytes=settings.max_frame_bytes,
            backend=self.app_name,
        )
        if hooked and self.on_connect is not None:
            try:
                await self.on_connect(connection.server_info)
            except BaseException:
                connection.close()
                raise
        return connection

    async def _open_with_retry(self) -> Connection:
        attempts = self.settings.connect_retries + 1
        delay = self.settings.retry_backoff
        for attempt in range(1, attempts + 1):
            try:
                return await self.open_connection()
            except RpcConnectionError:
                if attempt == attempts:
                    raise
                # Full jitter keeps many waiting callers from reconnecting in lockstep.
                await asyncio.sleep(random.uniform(0, delay))
                delay *= 2
        raise AssertionError("unreachable")
