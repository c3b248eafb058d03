"""A real gateway over HTTP in front of the session's real headless backends."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from backends import Backend
from gateway import Gateway, start_gateway


@pytest.fixture(scope="session")
def gateway(
    tmp_path_factory: pytest.TempPathFactory, blender_backend: Backend, freecad_backend: Backend
) -> Iterator[Gateway]:
    server = start_gateway(tmp_path_factory.mktemp("gateway"), blender_backend, freecad_backend)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def api(gateway: Gateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=180) as client:
        yield client
