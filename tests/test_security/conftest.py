"""Fixtures of the security suite: direct (token-holding) clients of the session's real host servers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from backends import Backend
from bridge3d.rpc import RpcClient


@pytest.fixture(scope="module")
def hosts(blender_backend: Backend, freecad_backend: Backend) -> Iterator[dict[str, RpcClient]]:
    """Authenticated RPC clients straight to each host server, to look behind the gateway."""
    clients = {"blender": blender_backend.client(timeout=180), "freecad": freecad_backend.client(timeout=180)}
    yield clients
    for client in clients.values():
        client.close()


@pytest.fixture(scope="module")
def backends(blender_backend: Backend, freecad_backend: Backend) -> dict[str, Backend]:
    return {"blender": blender_backend, "freecad": freecad_backend}
