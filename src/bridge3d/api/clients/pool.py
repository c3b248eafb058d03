"""A bounded pool of persistent connections.

A connection goes back to the pool only when its call ended with a complete
reply (a result or a JSON-RPC error object); a transport error, a timeout or
a cancellation closes it, so a half-read reply can never reach the next caller.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from bridge3d.rpc.client import RpcTimeout
from bridge3d.rpc.errors import RpcError

from .connection import Connection


class ConnectionPool:
    def __init__(
        self,
        open_connection: Callable[[], Awaitable[Connection]],
        *,
        size: int,
        acquire_timeout: float,
        backend: str = "backend",
    ) -> None:
        self._open_connection = open_connection
        self._slots = asyncio.Semaphore(size)
        self._idle: deque[Connection] = deque()
        self._acquire_timeout = acquire_timeout
        self.size = size
        self.backend = backend
        self.in_use = 0
        self.opened = 0
        self.discarded = 0

    @property
    def idle(self) -> int:
        return len(self._idle)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        try:
            if self._slots.locked():
                async with asyncio.timeout(self._acquire_timeout):
                    await self._slots.acquire()
            else:
                await self._slots.acquire()  # a free slot: taken without waiting, so no timer is needed
        except TimeoutError:
            raise RpcTimeout(
                f"No free connection to {self.backend} within {self._acquire_timeout:g} s ({self.size} in use)",
                {"backend": self.backend, "pool_size": self.size},
            ) from None
        self.in_use += 1
        connection: Connection | None = None
        try:
            connection = await self._take_or_open()
            yield connection
        except RpcError:
            raise  # a complete error reply leaves the stream clean; `usable` decides below
        except BaseException:
            if connection is not None:
                self._discard(connection)
                connection = None
            raise
        finally:
            if connection is not None:
                if connection.usable:
                    self._idle.append(connection)
                else:
                    self._discard(connection)
            self.in_use -= 1
            self._slots.release()

    async def _take_or_open(self) -> Connection:
        while self._idle:
            connection = self._idle.pop()
            if connection.usable:
                return connection
            self._discard(connection)
        connection = await self._open_connection()
        self.opened += 1
        return connection

    def _discard(self, connection: Connection) -> None:
        self.discarded += 1
        connection.close()

    async def close(self) -> None:
        while self._idle:
            self._idle.pop().close()
