"""What the generated resources and models stand on: result models, file results, resources and applications."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, PrivateAttr

from ._events import AsyncEventStream, EventStream
from ._transport import AsyncTransport, SyncTransport


class Model(BaseModel):
    """Base of every result: the declared fields, typed; whatever else an application adds to a result is kept
    too (``model_extra``, or as an attribute)."""

    model_config = ConfigDict(extra="allow")


class FileModel(Model):
    """A file the gateway serves at ``url``: ``download``/``read`` it with a sync client, ``adownload``/``aread``
    with an async one (httpx's naming)."""

    name: str
    url: str
    _transport: SyncTransport | AsyncTransport | None = PrivateAttr(default=None)

    def _bind(self, transport: SyncTransport | AsyncTransport) -> Self:
        self._transport = transport
        return self

    def _sync(self) -> SyncTransport:
        if not isinstance(self._transport, SyncTransport):
            raise TypeError(f"{self.name} came from an AsyncClient: use `await file.adownload(...)` / `aread()`")
        return self._transport

    def _async(self) -> AsyncTransport:
        if not isinstance(self._transport, AsyncTransport):
            raise TypeError(f"{self.name} came from a Client: use `file.download(...)` / `read()`")
        return self._transport

    def download(self, destination: str | os.PathLike[str] = ".") -> Path:
        """Stream the file to ``destination`` (a folder keeps the file's name); returns the path written."""
        return self._sync().download(self.url, destination, self.name)

    def read(self) -> bytes:
        """The file's bytes (for small files; ``download`` streams to disk)."""
        return self._sync().read(self.url)

    async def adownload(self, destination: str | os.PathLike[str] = ".") -> Path:
        return await self._async().download(self.url, destination, self.name)

    async def aread(self) -> bytes:
        return await self._async().read(self.url)


def given(values: Mapping[str, Any]) -> dict[str, Any]:
    """The values the caller gave: an omitted optional parameter (None) is left to the gateway, which reads a
    missing one and null alike."""
    return {key: value for key, value in values.items() if value is not None}


def wait_for(timeout: float | None, margin: float = 30.0) -> float | None:
    """How long the client waits for an answer that may take ``timeout`` seconds (the gateway's 504 comes first)."""
    return None if timeout is None else timeout + margin


class SyncResource:
    def __init__(self, transport: SyncTransport) -> None:
        self._transport = transport


class AsyncResource:
    def __init__(self, transport: AsyncTransport) -> None:
        self._transport = transport


class SyncApp(SyncResource):
    """One application's operations (``client.blender``, ``client.freecad``)."""

    app: ClassVar[str]

    def events(self, *topics: str) -> EventStream:
        """Subscribe to live events (``"object.*"``, ``"render.*"``, ``"job.*"``, ``"*"`` when none given) and
        iterate them: ``with client.blender.events("object.*") as events: for event in events: ...``. A session's
        stream (``scene.events()``) hears that session's events (and the ``job.*`` events of your jobs)."""
        return EventStream(self._transport.settings, self.app, topics)


class AsyncApp(AsyncResource):
    """One application's operations, as coroutines (``AsyncClient().blender``)."""

    app: ClassVar[str]

    def events(self, *topics: str) -> AsyncEventStream:
        """Subscribe to live events: ``async with client.blender.events("object.*") as events: async for event in
        events: ...``."""
        return AsyncEventStream(self._transport.settings, self.app, topics)
