"""Shared route dependencies as Annotated aliases."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from .clients.blender_client import BlenderClient
from .clients.freecad_client import FreeCADClient
from .config import Settings, get_settings
from .errors import ExecutionDisabledError, UnauthorizedError


def settings_dependency(request: Request) -> Settings:
    settings: Settings = getattr(request.app.state, "settings", None) or get_settings()
    return settings


SettingsDep = Annotated[Settings, Depends(settings_dependency)]


def blender_client(request: Request) -> BlenderClient:
    client: BlenderClient = request.app.state.blender
    return client


def freecad_client(request: Request) -> FreeCADClient:
    client: FreeCADClient = request.app.state.freecad
    return client


BlenderDep = Annotated[BlenderClient, Depends(blender_client)]
FreeCADDep = Annotated[FreeCADClient, Depends(freecad_client)]

_bearer = HTTPBearer(auto_error=False, description="the API key as a bearer token")
_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="the API key")


def key_matches(offered: str | None, settings: Settings) -> bool:
    """Constant-time comparison against every configured key (comma-separated)."""
    if settings.api_key is None:
        return True
    if not offered:
        return False
    keys = [k.strip() for k in settings.api_key.get_secret_value().split(",") if k.strip()]
    return any(hmac.compare_digest(offered.encode(), key.encode()) for key in keys)


def require_api_key(
    settings: SettingsDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header_key: Annotated[str | None, Depends(_api_key_header)],
) -> None:
    offered = bearer.credentials if bearer is not None else header_key
    if not key_matches(offered, settings):
        raise UnauthorizedError("A valid API key is required (Authorization: Bearer <key> or X-API-Key)")


def require_execute_allowed(settings: SettingsDep) -> None:
    if not settings.allow_execute:
        raise ExecutionDisabledError("Code execution is switched off on this gateway (BRIDGE3D_ALLOW_EXECUTE=false)")
