"""The SDK against the real stack: the session's real headless backends behind real gateways (uvicorn).

``gateway`` is the everyday one; ``strict_gateway`` has an API key, code execution off, a Blender token that is
wrong and no FreeCAD at all, so every failure family can be produced for real; ``lively_gateway`` sends a
heartbeat every 0.2 s and closes a socket idle for 1 s, so the event stream's keep-alive is visible in seconds;
``pooled_gateway`` has worker pools (a warm spare of each application) for sessions and jobs, with limits low
enough to be reached: two FreeCAD sessions, four unfinished jobs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from backends import Backend, free_port
from bridge3d.client import AsyncClient, Client
from gateway import Gateway, start_gateway

from ._util import Calls

STRICT_KEY = "sdk-test-key"
PATIENCE = 180.0  # seconds for anything that waits on real work on a loaded 2-core machine
POOL_LIMITS = {"BRIDGE3D_FREECAD__WORKERS": "2", "BRIDGE3D_MAX_JOBS_PER_KEY": "4"}


def quiet_gateway_env(state_dir: Path, **extra: str) -> dict[str, str]:
    """No worker pool (these tests use the default sessions only) and the gateway's records in a temporary folder."""
    env = {"BRIDGE3D_STATE_DIR": str(state_dir), **extra}
    for app in ("BLENDER", "FREECAD"):
        env |= {f"BRIDGE3D_{app}__{setting}": "0" for setting in ("WARM_SPARES", "WORKERS", "JOB_WORKERS")}
    return env


@pytest.fixture(scope="session")
def gateway(
    tmp_path_factory: pytest.TempPathFactory, blender_backend: Backend, freecad_backend: Backend
) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("sdk-gateway")
    server = start_gateway(tmp, blender_backend, freecad_backend, extra_env=quiet_gateway_env(tmp / "state"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def strict_gateway(tmp_path_factory: pytest.TempPathFactory, blender_backend: Backend) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("sdk-strict-gateway")
    env = quiet_gateway_env(
        tmp / "state",
        BRIDGE3D_API_KEY=STRICT_KEY,
        BRIDGE3D_ALLOW_EXECUTE="false",
        BRIDGE3D_BLENDER__PORT=str(blender_backend.port),
        BRIDGE3D_BLENDER__TOKEN="not-the-token",
    )
    server = start_gateway(tmp, None, None, extra_env=env, freecad_port=free_port())
    yield server
    server.stop()


@pytest.fixture(scope="session")
def lively_gateway(
    tmp_path_factory: pytest.TempPathFactory, blender_backend: Backend, freecad_backend: Backend
) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("sdk-lively-gateway")
    env = quiet_gateway_env(tmp / "state", BRIDGE3D_WS_HEARTBEAT_INTERVAL="0.2", BRIDGE3D_WS_IDLE_TIMEOUT="1")
    server = start_gateway(tmp, blender_backend, freecad_backend, extra_env=env)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pooled_gateway(
    tmp_path_factory: pytest.TempPathFactory, blender_backend: Backend, freecad_backend: Backend
) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("sdk-pooled-gateway")
    env = {
        "BRIDGE3D_STATE_DIR": str(tmp / "state"),
        "BRIDGE3D_BLENDER__WARM_SPARES": "1",
        "BRIDGE3D_FREECAD__WARM_SPARES": "1",
        **POOL_LIMITS,
    }
    server = start_gateway(tmp, blender_backend, freecad_backend, extra_env=env)
    yield server
    server.stop()


@pytest.fixture
def pooled(pooled_gateway: Gateway) -> Iterator[Client]:
    """A client of the gateway with worker pools; it waits as long as real work may take."""
    with Client(pooled_gateway.url, timeout=PATIENCE) as sdk:
        yield sdk


@pytest.fixture
def client(gateway: Gateway) -> Iterator[Client]:
    with Client(gateway.url) as sdk:
        yield sdk


@pytest.fixture
def runner() -> Iterator[asyncio.Runner]:
    """One event loop for a whole test (an httpx.AsyncClient stays on the loop it first ran on)."""
    with asyncio.Runner() as loop:
        yield loop


@pytest.fixture
def async_client(gateway: Gateway, runner: asyncio.Runner) -> Iterator[AsyncClient]:
    sdk = AsyncClient(gateway.url)
    yield sdk
    runner.run(sdk.close())


def both_clients(request: pytest.FixtureRequest, url: str, runner: asyncio.Runner) -> Iterator[Calls]:
    called: set[str] = set()
    if request.param == "sync":
        with Client(url, timeout=PATIENCE) as sync_client:
            yield Calls(sync_client, None, called)
    else:
        async_sdk = AsyncClient(url, timeout=PATIENCE)
        yield Calls(async_sdk, runner, called)
        runner.run(async_sdk.close())


@pytest.fixture(params=["sync", "async"])
def sdk(request: pytest.FixtureRequest, gateway: Gateway, runner: asyncio.Runner) -> Iterator[Calls]:
    """The same test against Client and AsyncClient; ``sdk._called`` lists the operations it used."""
    yield from both_clients(request, gateway.url, runner)


@pytest.fixture(params=["sync", "async"])
def pooled_sdk(request: pytest.FixtureRequest, pooled_gateway: Gateway, runner: asyncio.Runner) -> Iterator[Calls]:
    """``sdk`` against the gateway with worker pools."""
    yield from both_clients(request, pooled_gateway.url, runner)
