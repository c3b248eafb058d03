"""The FastAPI application: create_app() assembles routers, middleware, error handlers and docs."""

from __future__ import annotations

import contextvars
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException

from bridge3d import __version__

from .clients.blender_client import BlenderClient
from .clients.freecad_client import FreeCADClient
from .config import Settings, get_settings
from .deps import require_api_key
from .errors import GatewayError
from .models.responses import ErrorResponse
from .routers import blender, freecad, health

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


def envelope(status_code: int, code: str, message: str, details: dict[str, Any] | None = None) -> JSONResponse:
    body = {"status": "error", "error": {"code": code, "message": message, "details": details or {}}}
    return JSONResponse(status_code=status_code, content=jsonable_encoder(body))


# Declared on every router so the OpenAPI document describes the envelope we really send for errors.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": description}
    for status, description in {
        400: "The code sent for execution raised (EXECUTION_ERROR)",
        401: "Missing or wrong API key",
        403: "Code execution is switched off",
        404: "No such object, document, file or route",
        409: "Conflict, or the call was cancelled",
        413: "Upload too large",
        422: "Invalid request: details.errors name each field and reason",
        502: "The backend failed unexpectedly",
        503: "The backend is unreachable (CONNECTION_FAILED) or busy",
        504: "The backend did not answer in time",
    }.items()
}
HTTP_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 413: "LIMIT_EXCEEDED"}


def install_error_handlers(app: FastAPI) -> None:
    """The one place exceptions become HTTP responses."""

    @app.exception_handler(GatewayError)
    async def gateway_error(_: Request, exc: GatewayError) -> JSONResponse:
        if exc.status_code >= 500:
            logger.warning("%s: %s", exc.code, exc.message)
        return envelope(exc.status_code, exc.code, exc.message, exc.details)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "field": ".".join(str(part) for part in error["loc"] if part != "body") or "body",
                "location": error["loc"][0] if error["loc"] else "body",
                "reason": error["msg"],
                "type": error["type"],
            }
            for error in exc.errors()
        ]
        summary = "; ".join(f"{e['field']}: {e['reason']}" for e in errors[:5])
        return envelope(422, "VALIDATION_ERROR", f"Invalid request: {summary}", {"errors": errors})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, f"HTTP_{exc.status_code}")
        response = envelope(exc.status_code, code, str(exc.detail))
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    @app.exception_handler(Exception)
    async def unexpected_error(_: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error")
        return envelope(
            500, "INTERNAL_ERROR", "The gateway failed unexpectedly; see its log", {"type": type(exc).__name__}
        )


def operation_id(route: APIRoute) -> str:
    """Readable operation ids: blender_create_cube, freecad_boolean_union, health."""
    return f"{route.tags[0]}_{route.name}" if route.tags and route.tags[0] != "health" else route.name


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.blender = BlenderClient(settings.blender)
        app.state.freecad = FreeCADClient(settings.freecad)
        logger.info(
            "gateway %s: blender at %s:%d, freecad at %s:%d",
            __version__,
            settings.blender.host,
            settings.blender.port,
            settings.freecad.host,
            settings.freecad.port,
        )
        try:
            yield
        finally:
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
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["*"],
        allow_headers=["*"],
        allow_credentials=False,
    )

    @app.middleware("http")
    async def request_context(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        request_id = request.headers.get("x-request-id", "")[:64] or uuid.uuid4().hex[:16]
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        try:
            response = await call_next(request)
            response.headers["X-Request-ID"] = request_id
            logger.info(
                "%s %s -> %d in %.1f ms",
                request.method,
                request.url.path,
                response.status_code,
                (time.perf_counter() - started) * 1000,
            )
            return response
        finally:
            request_id_var.reset(token)

    install_error_handlers(app)
    app.include_router(health.router, responses=ERROR_RESPONSES)
    protected = [Depends(require_api_key)]
    app.include_router(blender.router, dependencies=protected, responses=ERROR_RESPONSES)
    app.include_router(freecad.router, dependencies=protected, responses=ERROR_RESPONSES)
    return app


def app_factory() -> FastAPI:
    """For `uvicorn --factory bridge3d.api.main:app_factory`."""
    return create_app()
