"""Fixtures for the Blender host-server tests (the backend itself is the session fixture)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from backends import Backend
from bridge3d.rpc import RpcClient


@pytest.fixture(scope="module")
def client(blender_backend: Backend) -> Iterator[RpcClient]:
    rpc = blender_backend.client(timeout=180.0)
    yield rpc
    rpc.close()


@pytest.fixture
def bl(client: RpcClient) -> RpcClient:
    """A client on an empty scene: tests never depend on what an earlier test left behind."""
    client.call("scene.clear", {"orphans": True})
    return client
