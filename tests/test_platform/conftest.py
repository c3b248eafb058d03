"""A gateway with worker pools in front of the session's real backends (its default sessions), and helpers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from backends import Backend
from envelope import ok
from gateway import Gateway, start_gateway
from polling import PATIENCE

SESSION = "X-Bridge3D-Session"
WARM = {"BRIDGE3D_BLENDER__WARM_SPARES": "1", "BRIDGE3D_FREECAD__WARM_SPARES": "1"}


@pytest.fixture(scope="module")
def platform(
    tmp_path_factory: pytest.TempPathFactory, blender_backend: Backend, freecad_backend: Backend
) -> Iterator[Gateway]:
    gateway = start_gateway(tmp_path_factory.mktemp("platform"), blender_backend, freecad_backend, extra_env=WARM)
    yield gateway
    gateway.stop()


@pytest.fixture(scope="module")
def api(platform: Gateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=platform.url, timeout=PATIENCE) as client:
        yield client


def new_session(api: httpx.Client, app: str, **headers: str) -> str:
    created = ok(api.post(f"/api/v1/{app}/sessions", headers=headers), 201)
    assert created["app"] == app and created["state"] == "ready" and created["default"] is False
    return str(created["id"])


def end_session(api: httpx.Client, app: str, session: str, **headers: str) -> None:
    ok(api.delete(f"/api/v1/{app}/sessions/{session}", headers=headers))


def in_session(session: str) -> dict[str, str]:
    return {SESSION: session}


def workers(api: httpx.Client, app: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = ok(api.get("/health"))["pools"][app]["workers"]
    return found


def worker_of(api: httpx.Client, app: str, owner: str) -> dict[str, Any] | None:
    return next((worker for worker in workers(api, app) if worker["owner"] == owner), None)


def state_dir(gateway: Gateway) -> Path:
    """The gateway's state directory (tests/gateway.py names it after the port)."""
    return gateway.log_path.parent / f"state-{gateway.url.rsplit(':', 1)[1]}"


@pytest.fixture(scope="session")
def tight(
    tmp_path_factory: pytest.TempPathFactory, blender_backend: Backend, freecad_backend: Backend
) -> Iterator[Gateway]:
    """Small job limits: two unfinished jobs per key, two waiting at most, 1 KB of output, 2 s of running."""
    env = {
        "BRIDGE3D_MAX_JOBS_PER_KEY": "2",
        "BRIDGE3D_MAX_QUEUED_JOBS": "2",
        "BRIDGE3D_MAX_JOB_OUTPUT_BYTES": "1024",
        "BRIDGE3D_JOB_TIMEOUT": "3",
        "BRIDGE3D_API_KEY": "first,second",
    }
    gateway = start_gateway(tmp_path_factory.mktemp("tight"), blender_backend, freecad_backend, extra_env=env)
    yield gateway
    gateway.stop()
