"""Sessions: an application's operations inside a scene (or set of documents) of your own, on a worker of its own.

``with client.blender.session(label="turntable") as scene:`` creates a session, and ``scene`` is
``client.blender`` acting inside it: every request carries the session's id (the ``X-Bridge3D-Session`` header;
``?session=`` on the event stream), and leaving the block ends it, also when the block raised. The generated
``BlenderSession`` / ``FreeCADSession`` classes (``_api.py``) join these bases to the application's operations.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Generator
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from . import models
from ._base import AsyncApp, SyncApp
from ._transport import AsyncTransport, SyncTransport, path_part
from .errors import Bridge3DError, NotFoundError

logger = logging.getLogger("bridge3d.client")


def _session_id(settings_session: str | None) -> str:
    if settings_session is None:
        raise ValueError("a session's operations need a transport scoped to the session")
    return settings_session


class SyncSession(SyncApp):
    """What every session of a ``Client`` adds to its application's operations: ``id``, ``info()``, ``end()`` and
    the context manager that ends it."""

    def __init__(self, transport: SyncTransport) -> None:
        super().__init__(transport)
        self.id = _session_id(transport.settings.session)
        self._ended = False

    @property
    def _session_path(self) -> str:
        return f"/api/v1/{self.app}/sessions/{path_part(self.id)}"

    def info(self) -> models.SessionInfo:
        """The session now: ``state`` (``ready``, or ``starting`` while its worker is replaced), ``restarts``,
        ``expires``, its ``worker``."""
        return models.SessionInfo.model_validate(self._transport.request("GET", self._session_path))

    def end(self) -> models.SessionEnded:
        """End it: its worker stops, its scene and workspace files are gone."""
        ended = models.SessionEnded.model_validate(self._transport.request("DELETE", self._session_path))
        self._ended = True
        return ended

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._ended:
            return
        try:
            self.end()
        except NotFoundError:
            self._ended = True  # already gone (ended elsewhere, or expired): what ending it was for
        except Bridge3DError as error:
            if exc is None:
                raise
            # The block's own exception says more than the failed clean-up: let it through, log this one.
            logger.warning("session %s was not ended: %s", self.id, error)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id!r})"


class AsyncSession(AsyncApp):
    """What every session of an ``AsyncClient`` adds to its application's operations (see SyncSession)."""

    def __init__(self, transport: AsyncTransport) -> None:
        super().__init__(transport)
        self.id = _session_id(transport.settings.session)
        self._ended = False

    @property
    def _session_path(self) -> str:
        return f"/api/v1/{self.app}/sessions/{path_part(self.id)}"

    async def info(self) -> models.SessionInfo:
        """The session now (see SyncSession.info)."""
        return models.SessionInfo.model_validate(await self._transport.request("GET", self._session_path))

    async def end(self) -> models.SessionEnded:
        """End it: its worker stops, its scene and workspace files are gone."""
        ended = models.SessionEnded.model_validate(await self._transport.request("DELETE", self._session_path))
        self._ended = True
        return ended

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._ended:
            return
        try:
            await self.end()
        except NotFoundError:
            self._ended = True
        except Bridge3DError as error:
            if exc is None:
                raise
            logger.warning("session %s was not ended: %s", self.id, error)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id!r})"


SessionT = TypeVar("SessionT", bound=AsyncSession)


class AsyncSessionStart(Generic[SessionT]):
    """What ``AsyncClient().blender.session()`` returns: ``async with`` it for a session ended on exit, or
    ``await`` it for one you end yourself (``await scene.end()``). Nothing is created until then."""

    def __init__(self, start: Callable[[], Awaitable[SessionT]]) -> None:
        self._start = start
        self._session: SessionT | None = None

    def __await__(self) -> Generator[Any, None, SessionT]:
        return self._create().__await__()

    async def _create(self) -> SessionT:
        return await self._start()

    async def __aenter__(self) -> SessionT:
        self._session = await self._start()
        return self._session

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.__aexit__(exc_type, exc, traceback)


__all__ = ["AsyncSession", "AsyncSessionStart", "SyncSession"]
