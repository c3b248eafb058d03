"""Every error the gateway answers, and the one place exceptions become HTTP responses with the envelope.

The transport (``api/clients``) raises the rpc error types: RpcConnectionError, RpcTimeout and, for an error
reply, an RpcError with its JSON-RPC code. ``backend_error`` turns those into this module's tree; the gateway's
own refusals raise the tree directly; ``install_error_handlers`` answers all of them (and FastAPI's, Starlette's
and anything unexpected) with ``{"status": "error", "error": {code, message, details}}``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from bridge3d.rpc import errors as rpc_errors
from bridge3d.rpc.client import RpcConnectionError, RpcTimeout

logger = logging.getLogger("bridge3d.api")


def envelope(status_code: int, code: str, message: str, details: dict[str, Any] | None = None) -> JSONResponse:
    """The error envelope every failure is answered with."""
    body = {"status": "error", "error": {"code": code, "message": message, "details": details or {}}}
    return JSONResponse(status_code=status_code, content=jsonable_encoder(body))


class GatewayError(Exception):
    """Base of every error the gateway answers with the error envelope."""

    status_code = 500
    code = "INTERNAL_ERROR"
    headers: ClassVar[dict[str, str]] = {}  # extra response headers (WWW-Authenticate on 401)

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class BackendConnectionError(GatewayError):
    """The host server could not be reached, or the connection broke mid-call."""

    status_code = 503
    code = "CONNECTION_FAILED"


class BlenderConnectionError(BackendConnectionError):
    pass


class FreeCADConnectionError(BackendConnectionError):
    pass


CONNECTION_ERRORS: dict[str, type[BackendConnectionError]] = {
    "blender": BlenderConnectionError,
    "freecad": FreeCADConnectionError,
}


class BackendTimeoutError(GatewayError):
    """No answer in time (or no pooled connection free in time)."""

    status_code = 504
    code = "TIMEOUT"


class CommandExecutionError(GatewayError):
    """The host server answered with a JSON-RPC error."""

    # The one table from JSON-RPC error codes to HTTP.
    STATUS_BY_RPC_CODE: ClassVar[dict[int, tuple[int, str]]] = {
        rpc_errors.INVALID_PARAMS: (422, "VALIDATION_ERROR"),
        rpc_errors.METHOD_NOT_FOUND: (501, "METHOD_NOT_FOUND"),
        rpc_errors.NOT_FOUND: (404, "NOT_FOUND"),
        rpc_errors.ALREADY_EXISTS: (409, "ALREADY_EXISTS"),
        rpc_errors.CONFLICT: (409, "CONFLICT"),
        rpc_errors.UNAUTHORIZED: (502, "BACKEND_UNAUTHORIZED"),
        rpc_errors.BUSY: (503, "BACKEND_BUSY"),
        rpc_errors.USER_CODE_ERROR: (400, "EXECUTION_ERROR"),
        rpc_errors.UNSUPPORTED: (422, "UNSUPPORTED"),
        rpc_errors.CANCELLED: (409, "CANCELLED"),
        rpc_errors.WORKSPACE_FULL: (507, "WORKSPACE_FULL"),
    }

    def __init__(self, rpc_code: int, message: str, data: Any = None, *, backend: str = "") -> None:
        details: dict[str, Any] = {"rpc_code": rpc_code}
        if backend:
            details["backend"] = backend
        if isinstance(data, dict):
            details.update(data)
        elif data is not None:
            details["data"] = data
        if rpc_code == rpc_errors.INVALID_PARAMS and "errors" not in details and "field" in details:
            # Every validation error names its fields the same way, whoever found it.
            details["errors"] = [{"field": details["field"], "reason": details.get("reason", message)}]
        super().__init__(message, details)
        self.rpc_code = rpc_code
        self.data = data
        self.status_code, self.code = self.STATUS_BY_RPC_CODE.get(rpc_code, (502, "BACKEND_ERROR"))


def backend_error(exc: RpcConnectionError | RpcTimeout | rpc_errors.RpcError) -> GatewayError:
    """The gateway error for a failure the transport reported."""
    if isinstance(exc, rpc_errors.RpcError):
        return CommandExecutionError(exc.code, exc.message, exc.data, backend=exc.backend)
    if isinstance(exc, RpcTimeout):
        return BackendTimeoutError(exc.message, exc.details)
    error_class = CONNECTION_ERRORS.get(str(exc.details.get("backend")), BackendConnectionError)
    return error_class(exc.message, exc.details)


class ValidationFailed(GatewayError):
    """A request value the command schema refuses: ``details.errors`` names each field, where and why."""

    status_code = 422
    code = "VALIDATION_ERROR"

    def __init__(self, errors: list[dict[str, str]]) -> None:
        summary = "; ".join(f"{e['field']}: {e['reason']}" for e in errors[:5])
        super().__init__(f"Invalid request: {summary}", {"errors": errors})


class ExecutionDisabledError(GatewayError):
    status_code = 403
    code = "EXECUTION_DISABLED"


class LimitExceededError(GatewayError):
    """A request or upload is larger than a configured limit (the limit is named in details)."""

    status_code = 413
    code = "LIMIT_EXCEEDED"


class ParamLimitError(GatewayError):
    """A parameter is valid but above a configured limit (the limit is named in details)."""

    status_code = 422
    code = "LIMIT_EXCEEDED"


class BadUploadError(GatewayError):
    """An upload whose file the endpoint does not accept."""

    status_code = 422
    code = "INVALID_UPLOAD"


class UnauthorizedError(GatewayError):
    status_code = 401
    code = "UNAUTHORIZED"
    headers: ClassVar[dict[str, str]] = {"WWW-Authenticate": 'Bearer realm="bridge3d"'}


class NotFoundError(GatewayError):
    """A session or job that does not exist, or belongs to another API key (the same answer: 404, not 403)."""

    status_code = 404
    code = "NOT_FOUND"


class SessionNotFoundError(NotFoundError):
    code = "SESSION_NOT_FOUND"


class JobNotFoundError(NotFoundError):
    code = "JOB_NOT_FOUND"


class CapacityError(GatewayError):
    """The gateway is at a configured capacity (the setting is named in details); try again later."""

    status_code = 503
    code = "UNAVAILABLE"


class SessionLostError(GatewayError):
    """A session whose workers kept dying while it was being restored: given up (its journal is kept)."""

    status_code = 503
    code = "SESSION_LOST"


class TooManySessionsError(CapacityError):
    code = "TOO_MANY_SESSIONS"


class QueueFullError(CapacityError):
    code = "QUEUE_FULL"


class TooManyJobsError(GatewayError):
    """One API key has as many unfinished jobs as it may (the setting is named in details)."""

    status_code = 429
    code = "TOO_MANY_JOBS"


class StateConflictError(GatewayError):
    """The resource's state forbids the request (a job that already finished cannot be cancelled)."""

    status_code = 409
    code = "CONFLICT"


HTTP_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 413: "LIMIT_EXCEEDED"}


def as_gateway_error(exc: BaseException) -> GatewayError | None:
    """The gateway error an exception is answered with (None for anything unexpected)."""
    if isinstance(exc, GatewayError):
        return exc
    if isinstance(exc, RpcConnectionError | RpcTimeout | rpc_errors.RpcError):
        return backend_error(exc)
    return None


def field_path(parts: Sequence[int | str]) -> str:
    """('steps', 3, 'params') -> 'steps[3].params': the way every error names a field, whoever found it."""
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


HTTP_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def allowed_methods(request: Request) -> list[str]:
    """The methods of the resource at this request's path. A path the OpenAPI document names as it is (a route
    without parameters, ``/materials/apply``) has the methods the document gives it, though a route with a parameter
    (``DELETE /materials/{name}``) would take the path too; any other path, every method some route serves there
    (asked of the routes themselves, so routes of included routers count too)."""
    documented = request.app.openapi().get("paths", {}).get(request.scope["path"])
    if documented:
        return [method for method in HTTP_METHODS if method.lower() in documented]
    return [
        method
        for method in HTTP_METHODS
        if any(route.matches({**request.scope, "method": method})[0] == Match.FULL for route in request.app.routes)
    ]


def install_error_handlers(app: FastAPI) -> None:
    """The one place exceptions become HTTP responses."""

    async def known_error(_: Request, exc: Exception) -> JSONResponse:
        error = as_gateway_error(exc)
        assert error is not None
        if error.status_code >= 500:
            logger.warning("%s: %s", error.code, error.message)
        response = envelope(error.status_code, error.code, error.message, error.details)
        response.headers.update(error.headers)
        return response

    for exception_class in (GatewayError, RpcConnectionError, RpcTimeout, rpc_errors.RpcError):
        app.add_exception_handler(exception_class, known_error)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "field": field_path(error["loc"][1:]) or "body",
                "location": error["loc"][0] if error["loc"] else "body",
                "reason": error["msg"],
            }
            for error in exc.errors()
        ]
        failed = ValidationFailed(errors)
        return envelope(failed.status_code, failed.code, failed.message, failed.details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, f"HTTP_{exc.status_code}")
        response = envelope(exc.status_code, code, str(exc.detail))
        if exc.headers:
            response.headers.update(exc.headers)
        if exc.status_code == 405:
            # Starlette names the methods of the first route with this path only; a path has one route per method.
            response.headers["Allow"] = ", ".join(allowed_methods(request))
        return response

    @app.exception_handler(Exception)
    async def unexpected_error(_: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error")
        return envelope(
            500, "INTERNAL_ERROR", "The gateway failed unexpectedly; see its log", {"type": type(exc).__name__}
        )
