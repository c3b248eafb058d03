"""One backend stops: its routes answer 503 without waiting for a timeout, the other keeps working, and it recovers
on restart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from backends import Backend, start_backend
from envelope import error, ok
from gateway import Gateway, start_gateway


@pytest.fixture
def own_freecad(tmp_path: Path) -> Iterator[Backend]:
    backend = start_backend("freecad", tmp_path)
    yield backend
    backend.stop()


@pytest.fixture
def gateway_with_own_freecad(tmp_path: Path, blender_backend: Backend, own_freecad: Backend) -> Iterator[Gateway]:
    server = start_gateway(tmp_path, blender_backend, own_freecad)
    yield server
    server.stop()


def test_backend_down_then_back(tmp_path: Path, own_freecad: Backend, gateway_with_own_freecad: Gateway) -> None:
    # The client gives up long before the gateway's 120 s call timeout: a 503 that waited for a timeout fails here.
    with httpx.Client(base_url=gateway_with_own_freecad.url, timeout=60) as api:
        ok(api.post("/api/v1/freecad/primitives/box", json={"name": "BeforeStop"}), 201)
        own_freecad.stop()

        found = error(api.post("/api/v1/freecad/primitives/box", json={"name": "WhileDown"}), 503, "CONNECTION_FAILED")
        assert found["message"].startswith(f"Could not connect to freecad at 127.0.0.1:{own_freecad.port}"), found
        error(api.get("/api/v1/freecad/objects"), 503, "CONNECTION_FAILED")

        created = ok(api.post("/api/v1/blender/primitives/cube", json={"name": "StillWorks"}), 201)
        assert created["object"]["vertices"] == 8
        health = ok(api.get("/health"))
        assert health["status"] == "degraded"
        refused = f"Could not connect to freecad at 127.0.0.1:{own_freecad.port}: [Errno 111] Connection refused"
        down = {
            "name": "freecad",
            "reachable": False,
            "app_version": None,
            "busy": None,
            "running": None,
            "since": None,
            "round_trip_ms": None,
            "error": refused,
        }
        assert health["backends"]["freecad"] == down
        assert health["backends"]["blender"]["reachable"] is True
        assert ok(api.get("/health/freecad")) == down

        restarted = start_backend("freecad", tmp_path / "again", port=own_freecad.port, token=own_freecad.token)
        try:
            created = ok(api.post("/api/v1/freecad/primitives/box", json={"name": "AfterRestart"}), 201)
            assert created["object"]["volume"] == pytest.approx(1000.0)
            assert ok(api.get("/health"))["status"] == "ok"
        finally:
            restarted.stop()
