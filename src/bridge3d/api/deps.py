"""Shared route dependencies as Annotated aliases.

Every dependency is `async def`: FastAPI runs a plain `def` dependency in a worker thread, which cost each
request three thread hand-offs.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from . import limits
from .clients.blender_client import BlenderClient
from .clients.freecad_client import FreeCADClient
from .config import Settings, get_settings
from .errors import UnauthorizedError, ValidationFailed
from .workers.sessions import SESSION_ID_PATTERN, SessionManager

SESSION_HEADER = "X-Bridge3D-Session"
SESSION_QUERY = "session"
_SESSION_ID = re.compile(SESSION_ID_PATTERN)


async def settings_dependency(request: Request) -> Settings:
    settings: Settings = getattr(request.app.state, "settings", None) or get_settings()
    return settings


SettingsDep = Annotated[Settings, Depends(settings_dependency)]


_bearer = HTTPBearer(auto_error=False, description="the API key as a bearer token")
_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="the API key")


def key_owner(offered: list[str | None], settings: Settings) -> str | None:
    """Who a request acts for: a fingerprint of the configured key it offered (None when no key is set). Sessions
    and jobs belong to it; the key itself is never stored."""
    offered_bytes = [candidate.encode() for candidate in offered if candidate]
    # Every pair is compared (no early exit), as in key_matches: the time taken does not tell which key it is.
    keys = settings.api_keys()
    compared = [[hmac.compare_digest(candidate, key.encode()) for candidate in offered_bytes] for key in keys]
    matched = [key for key, results in zip(keys, compared, strict=True) if True in results]
    return hashlib.sha256(matched[0].encode()).hexdigest()[:16] if matched else None


def request_owner(request: Request) -> str | None:
    """The owner of an HTTP request: the fingerprint of the configured key it offered (see ``key_owner``)."""
    settings: Settings = request.app.state.settings
    if not settings.api_keys():
        return None
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    bearer = credentials.strip() if scheme.lower() == "bearer" else None
    return key_owner([bearer, request.headers.get("x-api-key")], settings)


async def owner_dependency(request: Request) -> str | None:
    return request_owner(request)


OwnerDep = Annotated[str | None, Depends(owner_dependency)]


def request_session(request: Request) -> str | None:
    """The session a request names (header first, then ``?session=``), checked; None for the default session.

    Read by hand rather than declared as FastAPI parameters: it runs on every application request, and FastAPI's
    parameter machinery cost more than the rest of the lookup. ``session_parameters`` documents it instead.
    """
    value, location, field = request.headers.get(SESSION_HEADER), "header", SESSION_HEADER
    if value is None:
        value, location, field = request.query_params.get(SESSION_QUERY), "query", SESSION_QUERY
    if value is not None and not _SESSION_ID.fullmatch(value):
        raise ValidationFailed([{"field": field, "location": location, "reason": f"must match {SESSION_ID_PATTERN}"}])
    return value


def session_parameters(document: dict[str, Any]) -> None:
    """Declare the session header and query parameter on every application operation of an OpenAPI document."""
    schema = {"type": "string", "pattern": SESSION_ID_PATTERN}
    declared = [
        {
            "name": SESSION_HEADER,
            "in": "header",
            "required": False,
            "schema": schema,
            "description": "the session to act in (POST /api/v1/{app}/sessions); the default session when omitted",
        },
        {
            "name": SESSION_QUERY,
            "in": "query",
            "required": False,
            "schema": schema,
            "description": f"the session, where a client cannot set the {SESSION_HEADER} header (downloads)",
        },
    ]
    for path, operations in document.get("paths", {}).items():
        if not path.startswith(("/api/v1/blender/", "/api/v1/freecad/")) or "/sessions" in path:
            continue
        for operation in operations.values():
            operation.setdefault("parameters", []).extend(dict(parameter) for parameter in declared)


async def sessions_dependency(request: Request) -> SessionManager:
    sessions: SessionManager = request.app.state.sessions
    return sessions


SessionsDep = Annotated[SessionManager, Depends(sessions_dependency)]


async def blender_client(request: Request) -> BlenderClient:
    """The Blender host server of the request's session."""
    client = await request.app.state.sessions.client("blender", request_session(request), request_owner(request))
    assert isinstance(client, BlenderClient)
    return client


async def freecad_client(request: Request) -> FreeCADClient:
    """The FreeCAD host server of the request's session."""
    client = await request.app.state.sessions.client("freecad", request_session(request), request_owner(request))
    assert isinstance(client, FreeCADClient)
    return client


BlenderDep = Annotated[BlenderClient, Depends(blender_client)]
FreeCADDep = Annotated[FreeCADClient, Depends(freecad_client)]


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
