"""`/mcp` on the gateway: the same tools over Streamable HTTP, calling the gateway in-process.

- **In-process.** Each tool calls the gateway through the SDK over an httpx ASGI transport to the gateway app
  itself, with the caller's API key: every call passes the same middleware, authentication, validation, session
  and limit checks as a REST request, with no socket in between.
- **Guards** are the gateway's: the security middleware (loopback without a key, Host header, body size) runs
  before ``/mcp`` like before any route; on top, because the MCP transport requires it against DNS rebinding,
  ``Origin`` is checked on every method (GET opens a stream) with the gateway's CORS rule, and the API key with
  its key check.
- **Sessions.** The session handshake (protocol 2025-11-25, ``Mcp-Session-Id``) is what ties an agent to sessions
  of its own, so ``server/discover`` is not answered here: SDK clients then fall back to the handshake. A
  single-exchange request (protocol 2026-07-28) carries no session: its tool calls are refused unless every
  connection shares the default session (BRIDGE3D_MCP_SESSION=default). An MCP session's bridge3d sessions end
  with it (the client's DELETE, or BRIDGE3D_SESSION_IDLE_TIMEOUT without requests).
"""

from __future__ import annotations

import contextlib
import hmac
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import mcp_types as types
from mcp.server.connection import Connection
from mcp.server.context import ServerRequestContext
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.shared.exceptions import MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from starlette.types import ASGIApp, Receive, Scope, Send

from bridge3d.api.config import Settings
from bridge3d.api.deps import key_matches
from bridge3d.api.errors import UnauthorizedError, envelope
from bridge3d.api.middleware import Refusal, origin_permitted, refuse
from bridge3d.client import AsyncClient

from .options import McpOptions
from .server import ToolServer
from .sessions import SessionScope
from .tools import ToolRefusal

logger = logging.getLogger("bridge3d.mcp")

PATH = "/mcp"
# The gateway as its own in-process client sees it: a loopback name, so the security middleware's loopback and
# Host checks pass as they do for a local client; nothing listens there (the ASGI transport never opens a socket).
IN_PROCESS_URL = "http://127.0.0.1"
STATE_KEY = "bridge3d.sessions"
CLIENT_TIMEOUT_MARGIN = 30.0


def options_from(settings: Settings) -> McpOptions:
    return McpOptions(
        execute=settings.mcp_execute,
        session=settings.mcp_session,
        image_max_side=settings.mcp_image_max_side,
        tool_timeout=settings.mcp_tool_timeout,
    )


def offered_key(headers: Any) -> str | None:
    """The API key a request offers: ``Authorization: Bearer`` first, then ``X-API-Key``."""
    scheme, _, credentials = (headers.get("authorization") or "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return str(credentials.strip())
    key = headers.get("x-api-key")
    return str(key) if key else None


def connection_of(ctx: ServerRequestContext[Any, Any]) -> Connection | None:
    """The MCP connection a request arrived on. The SDK's request context does not carry it yet (its Context rework
    is pending); its per-request session holds it. tests/test_mcp check that sessions end with the connection."""
    connection = getattr(ctx.session, "_connection", None)
    return connection if isinstance(connection, Connection) else None


class HttpConnections:
    """Sessions per MCP session (each bound to the API key that opened it), links to this gateway."""

    def __init__(self, http: httpx.AsyncClient, options: McpOptions) -> None:
        self.http = http
        self.options = options

    def gateway(self, key: str | None) -> AsyncClient:
        # An empty key, not None: None would make the SDK read BRIDGE3D_API_KEY, the gateway's own keys.
        return AsyncClient(
            IN_PROCESS_URL,
            api_key=key or "",
            http_client=self.http,
            timeout=self.options.tool_timeout + CLIENT_TIMEOUT_MARGIN,
        )

    async def scope(self, ctx: ServerRequestContext[Any, Any]) -> SessionScope:
        headers = getattr(ctx.request, "headers", None) or {}
        key = offered_key(headers)
        connection = connection_of(ctx)
        if connection is None or ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
            if self.options.session == "connection":
                raise ToolRefusal(
                    "SESSION_REQUIRED",
                    "Tools over /mcp need an MCP session (the initialize handshake, protocol 2025-11-25): it ties "
                    "your calls to sessions of your own. Or share the default session: BRIDGE3D_MCP_SESSION=default",
                    {"setting": "BRIDGE3D_MCP_SESSION"},
                )
            return SessionScope(self.gateway(key), "default")
        held = connection.state.get(STATE_KEY)
        if isinstance(held, tuple):
            scope, opened_with = held
            if not hmac.compare_digest((key or "").encode(), opened_with.encode()):
                # Another key may not act in sessions this MCP session made: as if there were none (no probing).
                raise ToolRefusal("SESSION_NOT_FOUND", "This MCP session belongs to another API key")
            assert isinstance(scope, SessionScope)
            return scope
        client = ctx.session.client_params.client_info.name if ctx.session.client_params else "client"
        scope = SessionScope(self.gateway(key), self.options.session, f"mcp {client}")
        connection.state[STATE_KEY] = (scope, key or "")
        connection.exit_stack.push_async_callback(scope.close)
        return scope

    def public_url(self, ctx: ServerRequestContext[Any, Any]) -> str:
        base_url = getattr(ctx.request, "base_url", None)
        return str(base_url) if base_url is not None else IN_PROCESS_URL


async def refuse_discover(ctx: ServerRequestContext[Any, Any], params: types.RequestParams) -> None:
    """No single-exchange protocol here (see the module's docstring): clients take the session handshake."""
    raise MCPError(code=types.METHOD_NOT_FOUND, message="Method not found: /mcp serves the session handshake")


class McpGuard:
    """``Origin`` on every method and the API key, with the gateway's own rules, before the MCP transport."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {key.decode("latin-1"): value.decode("latin-1") for key, value in scope.get("headers", [])}
        origin = headers.get("origin")
        if origin is not None and not origin_permitted(origin, scope, self.settings):
            message = f"Requests from the web page at {origin[:100]!r} are not allowed; add it to BRIDGE3D_CORS_ORIGINS"
            details = {"origin": origin[:100], "setting": "BRIDGE3D_CORS_ORIGINS"}
            await refuse(scope, receive, send, Refusal(403, "ORIGIN_NOT_ALLOWED", message, details))
            return
        if not key_matches(offered_key(headers), self.settings):
            error = UnauthorizedError(
                "A valid API key is required (Authorization: Bearer <key> or X-API-Key)",
                {"setting": "BRIDGE3D_API_KEY"},
            )
            response = envelope(error.status_code, error.code, error.message, error.details)
            response.headers.update(error.headers)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


class McpEndpoint:
    """The MCP server mounted at ``/mcp``; ``running()`` belongs in the gateway's lifespan (a mounted app's own
    lifespan is not run)."""

    def __init__(self, gateway_app: ASGIApp, settings: Settings) -> None:
        self.options = options_from(settings)
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=gateway_app), timeout=self.options.tool_timeout + CLIENT_TIMEOUT_MARGIN
        )
        self.connections = HttpConnections(self.http, self.options)
        self.tools = ToolServer(
            self.options, self.connections, execute_offered=self.options.execute and settings.allow_execute
        )
        self.tools.server.add_request_handler("server/discover", types.RequestParams, refuse_discover)
        self.manager = StreamableHTTPSessionManager(
            app=self.tools.server,
            security_settings=None,  # the gateway's own checks run instead (McpGuard, SecurityMiddleware)
            session_idle_timeout=settings.session_idle_timeout,
            max_request_body_size=settings.max_request_bytes,
        )
        self.asgi_app: ASGIApp = McpGuard(StreamableHTTPASGIApp(self.manager), settings)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async with self.manager.run():
            try:
                yield
            finally:
                await self.http.aclose()
