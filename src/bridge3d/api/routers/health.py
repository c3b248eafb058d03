"""Health and version endpoints (open even when an API key is set: they reveal no secrets)."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST

from bridge3d import __version__
from bridge3d.api.clients.base_client import BaseSocketClient
from bridge3d.api.models.responses import (
    APIResponse,
    GatewayHealth,
    HealthStatus,
    PoolHealth,
    VersionInfo,
    WorkerHealth,
)
from bridge3d.api.workers.pool import Worker, WorkerPool
from bridge3d.rpc.client import RpcConnectionError, RpcTimeout
from bridge3d.rpc.errors import RpcError

router = APIRouter(tags=["health"])


async def backend_health(client: BaseSocketClient) -> HealthStatus:
    """One describe round trip on the client's health connection (never the command pool), answered by the host's
    IO thread: a host busy with a long command still reports, and says with what since when."""
    started = time.perf_counter()
    try:
        described = await client.describe()
    except (RpcConnectionError, RpcTimeout, RpcError) as exc:
        return HealthStatus(name=client.app_name, reachable=False, error=str(exc))
    return HealthStatus(
        name=client.app_name,
        reachable=True,
        app_version=described.get("app_version"),
        busy=described.get("busy"),
        running=described.get("running"),
        since=described.get("since"),
        round_trip_ms=round((time.perf_counter() - started) * 1000, 3),
    )


async def worker_health(worker: Worker) -> WorkerHealth:
    """A pool worker as health reports it: its role and owner, and what its host server says it is doing."""
    try:
        described = await worker.client.describe()
    except (RpcConnectionError, RpcTimeout, RpcError) as exc:
        return WorkerHealth(**worker.describe(), reachable=False, error=str(exc))
    return WorkerHealth(
        **worker.describe(),
        reachable=True,
        busy=described.get("busy"),
        running=described.get("running"),
        since=described.get("since"),
    )


async def pool_health(pool: WorkerPool, sessions: int) -> PoolHealth:
    workers = await asyncio.gather(*(worker_health(worker) for worker in list(pool.workers.values())))
    return PoolHealth(workers=list(workers), sessions=sessions, lost=pool.lost)


def _clients(request: Request) -> list[BaseSocketClient]:
    return [request.app.state.blender, request.app.state.freecad]


@router.get("/health", name="health", response_model=APIResponse[GatewayHealth])
async def health(request: Request) -> APIResponse[GatewayHealth]:
    """The gateway is up; each backend's reachability, version, busy flag and round trip; every pool worker."""
    statuses = await asyncio.gather(*(backend_health(client) for client in _clients(request)))
    overall = "ok" if all(status.reachable for status in statuses) else "degraded"
    runtime = request.app.state.runtime
    counts = runtime.sessions.counts()
    pools = await asyncio.gather(*(pool_health(pool, counts[app]) for app, pool in runtime.pools.items()))
    return APIResponse(
        result=GatewayHealth(
            status=overall,
            version=__version__,
            backends={s.name: s for s in statuses},
            websockets=request.app.state.websockets.active(),
            pools=dict(zip(runtime.pools, pools, strict=True)),
        )
    )


@router.get("/health/blender", name="health_blender", response_model=APIResponse[HealthStatus])
async def health_blender(request: Request) -> APIResponse[HealthStatus]:
    """Blender host server status; `reachable: false` with the reason when it is down."""
    return APIResponse(result=await backend_health(request.app.state.blender))


@router.get("/health/freecad", name="health_freecad", response_model=APIResponse[HealthStatus])
async def health_freecad(request: Request) -> APIResponse[HealthStatus]:
    """FreeCAD host server status; `reachable: false` with the reason when it is down."""
    return APIResponse(result=await backend_health(request.app.state.freecad))


@router.get("/version", name="version", response_model=APIResponse[VersionInfo])
async def version() -> APIResponse[VersionInfo]:
    """The gateway's version and API version."""
    return APIResponse(result=VersionInfo(version=__version__))


metrics_router = APIRouter(tags=["health"])


@metrics_router.get(
    "/metrics",
    name="metrics",
    response_class=PlainTextResponse,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "the Prometheus text format"}},
)
async def metrics(request: Request) -> PlainTextResponse:
    """Requests by route and status with latency histograms, workers by role, sessions, jobs by state, the job
    queue, job durations and worker exits, in the Prometheus text format (protected by the API key when one is
    set)."""
    return PlainTextResponse(request.app.state.metrics.text(), media_type=CONTENT_TYPE_LATEST)
