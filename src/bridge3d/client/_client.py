"""``Client`` and ``AsyncClient``: the configuration, the connection pool, and the two applications."""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Self

import httpx

from . import _api
from ._transport import (
    DEFAULT_MAX_RETRIES,
    AsyncTransport,
    Settings,
    SyncTransport,
    as_timeout,
)


class _NotGiven:
    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN = _NotGiven()  # with_options: keep the current value


class Client(_api.Gateway):
    """The bridge3d gateway from Python, blocking: ``client.blender`` and ``client.freecad`` hold one typed method
    per operation (``client.blender.session()`` a scene of your own), ``client.jobs`` renders, conversions and
    batches that run on workers of their own; ``client.health()``, ``client.version()`` and ``client.metrics()``
    describe the gateway.

    Args:
        base_url: the gateway, e.g. ``http://127.0.0.1:8000`` (default: BRIDGE3D_URL, else that address)
        api_key: sent as a bearer token (default: BRIDGE3D_API_KEY, its first key when it lists several)
        timeout: seconds (or an ``httpx.Timeout``) to wait for an answer; longer than the gateway's own call
            timeout by default, so a slow command ends with the gateway's 504 and its reason
        max_retries: retries of a request whose connection failed or that was answered 503 (with backoff)
        headers: extra headers for every request
        http_client: an ``httpx.Client`` of your own (proxies, certificates, event hooks); you close it

    Use it as a context manager, or call ``close()``, to close its connections.
    """

    blender: _api.Blender
    freecad: _api.FreeCAD
    jobs: _api.Jobs

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        headers: Mapping[str, str] | None = None,
        http_client: httpx.Client | None = None,
    ) -> None:
        settings = Settings.resolve(base_url, api_key, timeout, max_retries, headers)
        self._connect(SyncTransport(settings, http_client))

    def _connect(self, transport: SyncTransport) -> None:
        super().__init__(transport)
        self.blender = _api.Blender(transport)
        self.freecad = _api.FreeCAD(transport)
        self.jobs = _api.Jobs(transport)

    @classmethod
    def _over(cls, transport: SyncTransport) -> Self:
        client = cls.__new__(cls)
        client._connect(transport)
        return client

    @property
    def base_url(self) -> str:
        return self._transport.settings.base_url

    def with_options(
        self,
        *,
        timeout: float | httpx.Timeout | _NotGiven = NOT_GIVEN,
        max_retries: int | _NotGiven = NOT_GIVEN,
    ) -> Self:
        """A client with other settings over the same connections:
        ``client.with_options(timeout=600).blender.render(...)``."""
        changes: dict[str, object] = {}
        if not isinstance(timeout, _NotGiven):
            changes["timeout"] = as_timeout(timeout)
        if not isinstance(max_retries, _NotGiven):
            changes["max_retries"] = max(0, max_retries)
        return self._over(self._transport.scoped(**changes))

    def with_session(self, session_id: str) -> Self:
        """A client whose every request acts inside the session ``session_id`` (the ``X-Bridge3D-Session`` header;
        ``?session=`` on WebSockets), over the same connections: for a session someone else created. Its jobs start
        from that session too unless they name another. (``client.blender.session()`` creates one.)"""
        return self._over(self._transport.scoped(session=session_id))

    def close(self) -> None:
        """Close the connections (not those of an ``http_client`` you passed in)."""
        self._transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client(base_url={self.base_url!r})"


class AsyncClient(_api.AsyncGateway):
    """The asyncio twin of ``Client``: the same arguments, namespaces and methods, each a coroutine.

    ``async with AsyncClient() as client: cube = await client.blender.cube(size=2)``
    """

    blender: _api.AsyncBlender
    freecad: _api.AsyncFreeCAD
    jobs: _api.AsyncJobs

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        headers: Mapping[str, str] | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        settings = Settings.resolve(base_url, api_key, timeout, max_retries, headers)
        self._connect(AsyncTransport(settings, http_client))

    def _connect(self, transport: AsyncTransport) -> None:
        super().__init__(transport)
        self.blender = _api.AsyncBlender(transport)
        self.freecad = _api.AsyncFreeCAD(transport)
        self.jobs = _api.AsyncJobs(transport)

    @classmethod
    def _over(cls, transport: AsyncTransport) -> Self:
        client = cls.__new__(cls)
        client._connect(transport)
        return client

    @property
    def base_url(self) -> str:
        return self._transport.settings.base_url

    def with_options(
        self,
        *,
        timeout: float | httpx.Timeout | _NotGiven = NOT_GIVEN,
        max_retries: int | _NotGiven = NOT_GIVEN,
    ) -> Self:
        """A client with other settings over the same connections."""
        changes: dict[str, object] = {}
        if not isinstance(timeout, _NotGiven):
            changes["timeout"] = as_timeout(timeout)
        if not isinstance(max_retries, _NotGiven):
            changes["max_retries"] = max(0, max_retries)
        return self._over(self._transport.scoped(**changes))

    def with_session(self, session_id: str) -> Self:
        """A client whose every request acts inside the session ``session_id``, over the same connections."""
        return self._over(self._transport.scoped(session=session_id))

    async def close(self) -> None:
        await self._transport.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"AsyncClient(base_url={self.base_url!r})"
