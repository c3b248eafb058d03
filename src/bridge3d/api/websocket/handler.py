"""`/ws/blender` and `/ws/freecad`: the handshake checks, then one Session per accepted socket.

A refused handshake gets an HTTP error response with the usual envelope (middleware.refuse).
"""

from __future__ import annotations

import logging
import re

from fastapi import APIRouter, WebSocket

from bridge3d.api.config import Settings
from bridge3d.api.deps import key_matches, key_owner
from bridge3d.api.errors import SessionNotFoundError
from bridge3d.api.middleware import Refusal, origin_permitted, refuse
from bridge3d.api.workers.sessions import DEFAULT_SESSION, SESSION_ID_PATTERN, SessionManager

from .manager import ConnectionManager
from .session import Session

logger = logging.getLogger(__name__)

router = APIRouter()

SUBPROTOCOL = "bridge3d"
KEY_SUBPROTOCOL_PREFIX = "bridge3d.key."


def offered_key(websocket: WebSocket) -> str | None:
    """The API key from `Authorization: Bearer`, `X-API-Key`, or a `bridge3d.key.<key>` subprotocol (browsers)."""
    authorization = websocket.headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    if websocket.headers.get("x-api-key"):
        return websocket.headers["x-api-key"]
    offered: list[str] = websocket.scope.get("subprotocols", [])  # ASGI: the client's subprotocols, as strings
    for protocol in offered:
        if protocol.startswith(KEY_SUBPROTOCOL_PREFIX):
            return protocol[len(KEY_SUBPROTOCOL_PREFIX) :]
    return None


async def refuse_handshake(websocket: WebSocket, status: int, code: str, message: str) -> None:
    await refuse(websocket.scope, websocket.receive, websocket.send, Refusal(status, code, message, {}))


async def serve(websocket: WebSocket, backend: str) -> None:
    settings: Settings = websocket.app.state.settings
    manager: ConnectionManager = websocket.app.state.websockets
    # Browsers always send Origin on a WebSocket handshake (and CORS does not apply to WebSockets); other
    # clients may omit it.
    origin = websocket.headers.get("origin")
    if origin is not None and not origin_permitted(origin, websocket.scope, settings):
        await refuse_handshake(
            websocket, 403, "ORIGIN_NOT_ALLOWED", f"Origin {origin} is not allowed (BRIDGE3D_CORS_ORIGINS)"
        )
        return
    if not key_matches(offered_key(websocket), settings):
        await refuse_handshake(
            websocket,
            401,
            "UNAUTHORIZED",
            "A valid API key is required (Authorization: Bearer <key>, X-API-Key, or subprotocol bridge3d.key.<key>)",
        )
        return
    session_id = websocket.query_params.get("session") or DEFAULT_SESSION
    if not re.fullmatch(SESSION_ID_PATTERN, session_id):
        await refuse_handshake(websocket, 422, "VALIDATION_ERROR", f"session must match {SESSION_ID_PATTERN}")
        return
    sessions: SessionManager = websocket.app.state.sessions
    try:
        owner = key_owner([offered_key(websocket)], settings)
        session = sessions.find(backend, session_id, owner)
    except SessionNotFoundError as exc:
        await refuse_handshake(websocket, exc.status_code, exc.code, exc.message)
        return
    channel = manager.channel(session)
    if channel.full:
        await refuse_handshake(
            websocket,
            503,
            "TOO_MANY_CONNECTIONS",
            f"{channel.max_connections} WebSockets are already open to this {backend} session "
            "(BRIDGE3D_WS_MAX_CONNECTIONS)",
        )
        return
    # Never echo the key subprotocol back: only the protocol name is selected.
    await websocket.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in websocket.scope.get("subprotocols", []) else None)
    await Session(websocket, channel, settings, owner).run()


@router.websocket("/ws/blender", name="ws_blender")
async def blender_socket(websocket: WebSocket) -> None:
    """Live code execution and events for Blender (protocol in docs/API.md)."""
    await serve(websocket, "blender")


@router.websocket("/ws/freecad", name="ws_freecad")
async def freecad_socket(websocket: WebSocket) -> None:
    """Live code execution and events for FreeCAD (protocol in docs/API.md)."""
    await serve(websocket, "freecad")
