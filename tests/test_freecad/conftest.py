"""FreeCAD test fixtures: one client per module, a fresh document per test."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from backends import Backend
from bridge3d.rpc import RpcClient
from bridge3d.rpc.errors import NotFound


@pytest.fixture(scope="module")
def fc(freecad_backend: Backend) -> Iterator[RpcClient]:
    client = freecad_backend.client()
    yield client
    client.close()


class Doc:
    """A fresh FreeCAD document; ``call`` adds ``document`` to every request."""

    def __init__(self, client: RpcClient, name: str) -> None:
        self.client = client
        self.name = name

    def call(self, method: str, params: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        return self.client.call(method, {"document": self.name, **(params or {})}, **kwargs)

    def create(self, kind: str, **params: Any) -> dict[str, Any]:
        info: dict[str, Any] = self.call("primitive.create", {"type": kind, **params})
        return info


@pytest.fixture
def doc(fc: RpcClient, request: pytest.FixtureRequest) -> Iterator[Doc]:
    safe = "".join(ch if ch.isalnum() else "_" for ch in request.node.name[:40])
    info = fc.call("document.create", {"name": "T_" + safe})
    handle = Doc(fc, info["name"])
    yield handle
    with contextlib.suppress(NotFound):
        fc.call("document.close", {"name": handle.name})
