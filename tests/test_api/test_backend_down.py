"""One backend stops: its routes answer 503 at once, the other keeps working, and it recovers on restart."""

from __future__ import annotations

import time
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
    with httpx.Client(base_url=gateway_with_own_freecad.url, timeout=60) as api:
        ok(api.post("/api/v1/freecad/primitives/box", json={"name": "BeforeStop"}), 201)
        own_freecad.stop()

        started = time.monotonic()
        found = error(api.post("/api/v1/freecad/primitives/box", json={"name": "WhileDown"}), 503, "CONNECTION_FAILED")
        elapsed = time.monotonic() - started
        assert elapsed < 1.0, f"503 took {elapsed:.2f} s"
        assert "freecad" in found["message"].lower()
        error(api.get("/api/v1/freecad/objects"), 503, "CONNECTION_FAILED")

        ok(api.post("/api/v1/blender/primitives/cube", json={"name": "StillWorks"}), 201)
        health = ok(api.get("/health"))
        assert health["status"] == "degraded"
        assert health["backends"]["freecad"]["reachable"] is False and health["backends"]["freecad"]["error"]
        assert health["backends"]["blender"]["reachable"] is True
        assert ok(api.get("/health/freecad"))["reachable"] is False

        restarted = start_backend("freecad", tmp_path / "again", port=own_freecad.port, token=own_freecad.token)
        try:
            created = ok(api.post("/api/v1/freecad/primitives/box", json={"name": "AfterRestart"}), 201)
            assert created["object"]["volume"] == pytest.approx(1000.0)
            assert ok(api.get("/health"))["status"] == "ok"
        finally:
            restarted.stop()
