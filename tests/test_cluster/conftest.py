"""A real Ray cluster on this machine (a head and one node per application, token auth on), once per module, and a
gateway in cluster mode in front of it; the session's real backends are its default sessions."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from backends import Backend
from envelope import ok
from gateway import Gateway, start_gateway
from polling import PATIENCE

from .raycluster import LocalRayCluster, RayNode

SESSION = "X-Bridge3D-Session"
SLOTS = 3  # workers each application's node runs: sessions, a job worker, and one to spare


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRayCluster]:
    ray_cluster = LocalRayCluster(tmp_path_factory.mktemp("ray"))
    try:
        ray_cluster.start_head()
        ray_cluster.add_node("blender", blender=SLOTS)
        ray_cluster.add_node("freecad", freecad=SLOTS)
        yield ray_cluster
    finally:
        ray_cluster.stop()


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory,
    cluster: LocalRayCluster,
    blender_backend: Backend,
    freecad_backend: Backend,
) -> Iterator[Gateway]:
    started = start_gateway(
        tmp_path_factory.mktemp("cluster-gateway"), blender_backend, freecad_backend, extra_env=cluster.driver_env()
    )
    yield started
    started.stop()


@pytest.fixture(scope="module")
def api(gateway: Gateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=PATIENCE) as client:
        yield client


def in_session(session: str) -> dict[str, str]:
    return {SESSION: session}


def new_session(api: httpx.Client, app: str) -> dict[str, Any]:
    created: dict[str, Any] = ok(api.post(f"/api/v1/{app}/sessions"), 201)
    assert created["state"] == "ready" and created["worker"]["placement"]["provisioner"] == "ray", created
    return created


def node_id(node: RayNode) -> str:
    """The node's Ray id, as its first worker reported it in the node's journal."""
    started = node.started_workers()
    assert started, f"no worker ran on node {node.name} yet"
    return str(started[0]["node_id"])


def worker_of(api: httpx.Client, app: str, owner: str) -> dict[str, Any] | None:
    workers: list[dict[str, Any]] = ok(api.get("/health"))["pools"][app]["workers"]
    return next((worker for worker in workers if worker["owner"] == owner), None)


def bridge3d(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the `bridge3d` CLI (as an operator would, in a shell with the cluster's token settings)."""
    return subprocess.run(
        [sys.executable, "-m", "bridge3d.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=PATIENCE,
        check=False,
    )


def cluster_status(cluster: LocalRayCluster, env: dict[str, str], *extra: str) -> dict[str, Any]:
    ran = bridge3d("cluster", "status", "--address", cluster.address, "--json", *extra, env=env)
    assert ran.returncode == 0, ran.stderr
    state: dict[str, Any] = json.loads(ran.stdout)
    return state
