"""Shared route dependencies as Annotated aliases.

Every dependency is `async def`: FastAPI runs a plain `def` dependency in a worker thread, which cost each
request three thread hand-offs.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from . import limits
from .clients.blender_client import BlenderClient
from .clients.freecad_client import FreeCADClient
from .config import Settings, get_settings
from .errors import UnauthorizedError


async def settings_dependency(request: Request) -> Settings:
    settings: Settings = getattr(request.app.state, "settings", None) or get_settings()
    return settings


SettingsDep = Annotated[Settings, Depends(settings_dependency)]


async def blender_client(request: Request) -> BlenderClient:
    client: BlenderClient = request.app.state.blender
    return client


async def freecad_client(request: Request) -> FreeCADClient:
    client: FreeCADClient = request.app.state.freecad
    return client


BlenderDep = Annotated[BlenderClient, Depends(blender_client)]
FreeCADDep = Annotated[FreeCADClient, Depends(freecad_client)]

_bearer = HTTPBearer(auto_error=False, description="the API key as a bearer token")
_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="the API key")


def key_matches(offered: str | None, settings: Settings) -> bool:
    """Constant-time comparison against every configured key (comma-separated); True when no key is set."""
    keys = settings.api_keys()
    if not keys:
        return True
    if not offered:
        return False
    # Every key is compared (no early exit on a match), so the time taken does not tell which one matched.
    matches = [hmac.compare_digest(offered.encode(), key.encode()) for key in keys]
    return any(matches)


async def require_api_key(
    settings: SettingsDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header_key: Annotated[str | None, Depends(_api_key_header)],
) -> None:
    if not settings.api_keys():
        return
    offered = [bearer.credentials if bearer is not None else None, header_key]
    if not any(key_matches(key, settings) for key in offered if key):
        raise UnauthorizedError("A valid API key is required (Authorization: Bearer <key> or X-API-Key)")


async def require_execute_allowed(settings: SettingsDep) -> None:
    limits.check_execute_allowed(settings)
