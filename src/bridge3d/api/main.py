"""The FastAPI application: create_app() assembles routers, middleware, error handlers and docs."""

from __future__ import annotations

import contextvars
import functools
import gc
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bridge3d import __version__

from .clients.blender_client import BlenderClient
from .clients.freecad_client import FreeCADClient
from .config import Settings, get_settings
from .deps import require_api_key, session_parameters
from .errors import install_error_handlers
from .limits import apply_limits
from .metrics import Metrics
from .middleware import SecurityMiddleware, UnsafeBindError, refuse_unsafe_bind
from .models.responses import ErrorResponse
from .routers import blender, freecad, health, jobs, sessions, viewer
from .websocket import handler as websocket_handler
from .websocket.manager import ConnectionManager
from .workers.runtime import Runtime

if TYPE_CHECKING:
    from bridge3d.mcp.http import McpEndpoint

logger = logging.getLogger("bridge3d.api")
request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

DESCRIPTION = """
One REST + WebSocket API in front of **real Blender** and **real FreeCAD**.

Every response uses one envelope: `{"status": "success", "result": ...}` or
`{"status": "error", "error": {"code": "...", "message": "...", "details": {...}}}`.
Files (renders, exports, saves) live in each backend's workspace and are downloaded from `/api/v1/{app}/files/{name}`.
"""
TAGS = [
    {"name": "health", "description": "Gateway and backend status."},
    {"name": "blender", "description": "Blender: primitives, objects, materials, scene, camera, light, render, files."},
    {"name": "freecad", "description": "FreeCAD: documents, Part primitives, booleans, import/export, files."},
    {"name": "jobs", "description": "Renders, conversions and batches that run on job workers and block no one."},
]


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger("bridge3d")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


# Declared on every router so the OpenAPI document describes the envelope we really send for errors.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": description}
    for status, description in {
        400: "The code sent for execution raised (EXECUTION_ERROR)",
        401: "Missing or wrong API key",
        403: "Code execution is switched off",
        404: "No such object, document, file or route",
        409: "The current state forbids it (CONFLICT: in use, not a solid, empty result), or it was cancelled",
        413: "Request body or upload larger than its limit (LIMIT_EXCEEDED)",
        422: "Invalid request (VALIDATION_ERROR: details.errors name each field and reason) or over a limit",
        502: "The backend failed unexpectedly",
        503: "The backend is unreachable (CONNECTION_FAILED) or busy",
        504: "The backend did not answer in time",
    }.items()
}


def operation_id(route: APIRoute) -> str:
    """Readable operation ids: blender_create_cube, freecad_boolean_union, health."""
    return f"{route.tags[0]}_{route.name}" if route.tags and route.tags[0] != "health" else route.name


class RequestContextMiddleware:
    """Gives each HTTP request an id (X-Request-ID in and out, and in every log line) and logs one line at its end.

    Pure ASGI: Starlette's BaseHTTPMiddleware (``@app.middleware("http")``) runs the app in a separate task and
    streams the response through a memory channel, which cost every request about 0.2 ms (bench/run.py).
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = next((value for key, value in scope["headers"] if key == b"x-request-id"), b"")
        request_id = offered.decode("latin-1")[:64] or uuid.uuid4().hex[:16]
        id_header = (b"x-request-id", request_id.encode("latin-1"))
        status = 500  # what the outermost error handler answers if the app raises

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", []), id_header]}
            await send(message)

        token = request_id_var.set(request_id)
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            logger.info("%s %s -> %d in %.1f ms", scope["method"], scope["path"], status, elapsed * 1000)
            self.metrics.observe_request(scope, status, elapsed)
            request_id_var.reset(token)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    refuse_unsafe_bind(settings)
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.blender = BlenderClient(settings.blender)
        app.state.freecad = FreeCADClient(settings.freecad)
        runtime = Runtime.start(settings, {"blender": app.state.blender, "freecad": app.state.freecad})
        app.state.runtime = runtime
        app.state.sessions = runtime.sessions
        app.state.jobs = runtime.jobs
        app.state.websockets = ConnectionManager(max_connections=settings.ws_max_connections)
        runtime.sessions.end_listeners.append(app.state.websockets.session_ended)
        runtime.sessions.event_listeners.append(app.state.websockets.session_event)
        runtime.jobs.listeners.append(app.state.websockets.job_event)
        runtime.jobs.listeners.append(metrics.job_listener)
        logger.info(
            "gateway %s: blender at %s:%d, freecad at %s:%d",
            __version__,
            settings.blender.host,
            settings.blender.port,
            settings.freecad.host,
            settings.freecad.port,
        )
        try:
            async with AsyncExitStack() as served:
                if mcp_endpoint is not None:  # the MCP sessions end before the runtime they use
                    await served.enter_async_context(mcp_endpoint.running())
                # Everything loaded so far (FastAPI, pydantic, the MCP SDK: tens of MB of objects) lives as long as
                # the gateway: out of the collector's reach, a full collection no longer walks it on a request.
                gc.freeze()
                yield
        finally:
            await app.state.websockets.close()
            await runtime.close()
            await app.state.blender.disconnect()
            await app.state.freecad.disconnect()

    app = FastAPIOffline(
        title="bridge3d",
        description=DESCRIPTION,
        version=__version__,
        openapi_tags=TAGS,
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        favicon_url=None,
    )
    app.state.settings = settings
    metrics = Metrics(lambda: getattr(app.state, "runtime", None))
    app.state.metrics = metrics
    app.add_middleware(SecurityMiddleware, settings=settings)  # source address, Host, cross-site writes, body size
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["*"],
        allow_headers=["*"],
        allow_credentials=False,
    )

    app.add_middleware(RequestContextMiddleware, metrics=metrics)

    install_error_handlers(app)
    app.include_router(health.router, responses=ERROR_RESPONSES)
    # The key dependency (and with it the security schemes in the OpenAPI document) only when a key is set.
    protected = [Depends(require_api_key)] if settings.api_keys() else []
    app.include_router(blender.router, dependencies=protected, responses=ERROR_RESPONSES)
    app.include_router(freecad.router, dependencies=protected, responses=ERROR_RESPONSES)
    for app_name in ("blender", "freecad"):
        app.include_router(sessions.build_router(app_name), dependencies=protected, responses=ERROR_RESPONSES)
    app.include_router(jobs.router, dependencies=protected, responses=ERROR_RESPONSES)
    app.include_router(health.metrics_router, dependencies=protected)
    app.include_router(websocket_handler.router)  # checks the key and Origin itself, at the handshake
    app.include_router(viewer.build_router(protected))  # /viewer is open like /docs, view.glb is protected
    mcp_endpoint = mount_mcp(app, settings)
    app.openapi = functools.partial(openapi_with_limits, app, settings)  # type: ignore[method-assign]
    return app


def mount_mcp(app: FastAPI, settings: Settings) -> McpEndpoint | None:
    """MCP over Streamable HTTP at /mcp (docs/MCP.md), guarded like the rest; the MCP SDK loads only when served."""
    if not settings.mcp_http:
        return None
    from bridge3d.mcp.http import PATH, McpEndpoint

    endpoint = McpEndpoint(app, settings)
    app.router.routes.append(Route(PATH, endpoint=endpoint.asgi_app, include_in_schema=False))
    return endpoint


def openapi_with_limits(app: FastAPI, settings: Settings) -> dict[str, Any]:
    """FastAPI's document, with this gateway's limits (maximum render size, page size, ...) filled in."""
    if app.openapi_schema is None:
        document = FastAPI.openapi(app)
        apply_limits(document, settings)
        session_parameters(document)
        app.openapi_schema = document
    return app.openapi_schema


def app_factory() -> FastAPI:
    """For `uvicorn --factory bridge3d.api.main:app_factory`."""
    try:
        return create_app()
    except UnsafeBindError as exc:
        raise SystemExit(f"bridge3d: {exc}") from None
