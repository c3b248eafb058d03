"""Health and version endpoints (open even when an API key is set: they reveal no secrets)."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Request

from bridge3d import __version__
from bridge3d.api.clients.base_client import BaseSocketClient
from bridge3d.api.models.responses import APIResponse, GatewayHealth, HealthStatus, VersionInfo
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


def _clients(request: Request) -> list[BaseSocketClient]:
    return [request.app.state.blender, request.app.state.freecad]


@router.get("/health", name="health", response_model=APIResponse[GatewayHealth])
async def health(request: Request) -> APIResponse[GatewayHealth]:
    """The gateway is up; each backend's reachability, version, busy flag and round trip."""
    statuses = await asyncio.gather(*(backend_health(client) for client in _clients(request)))
    overall = "ok" if all(status.reachable for status in statuses) else "degraded"
    return APIResponse(
        result=GatewayHealth(
            status=overall,
            version=__version__,
            backends={s.name: s for s in statuses},
            websockets=request.app.state.websockets.active(),
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
