"""The gateway's exception tree. One handler in main.py maps each to HTTP + the envelope."""

from __future__ import annotations

from typing import Any, ClassVar

from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from bridge3d.rpc import errors as rpc_errors


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


class BackendTimeoutError(GatewayError):
    """No answer in time (or no pooled connection free in time)."""

    status_code = 504
    code = "TIMEOUT"


class CommandExecutionError(GatewayError):
    """The host server answered with a JSON-RPC error."""

    # One place that says which HTTP status each JSON-RPC error code becomes.
    STATUS_BY_RPC_CODE = {
        rpc_errors.INVALID_PARAMS: (422, "INVALID_PARAMS"),
        rpc_errors.METHOD_NOT_FOUND: (501, "METHOD_NOT_FOUND"),
        rpc_errors.NOT_FOUND: (404, "NOT_FOUND"),
        rpc_errors.ALREADY_EXISTS: (409, "ALREADY_EXISTS"),
        rpc_errors.UNAUTHORIZED: (502, "BACKEND_UNAUTHORIZED"),
        rpc_errors.BUSY: (503, "BACKEND_BUSY"),
        rpc_errors.USER_CODE_ERROR: (400, "EXECUTION_ERROR"),
        rpc_errors.UNSUPPORTED: (422, "UNSUPPORTED"),
        rpc_errors.CANCELLED: (409, "CANCELLED"),
    }

    def __init__(self, rpc_code: int, message: str, data: Any = None, *, backend: str = "") -> None:
        details: dict[str, Any] = {"rpc_code": rpc_code}
        if backend:
            details["backend"] = backend
        if isinstance(data, dict):
            details.update(data)
        elif data is not None:
            details["data"] = data
        super().__init__(message, details)
        self.rpc_code = rpc_code
        self.data = data
        self.status_code, self.code = self.STATUS_BY_RPC_CODE.get(rpc_code, (502, "BACKEND_ERROR"))


class NotFoundError(GatewayError):
    status_code = 404
    code = "NOT_FOUND"


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
    """An upload whose file type the endpoint does not accept."""

    status_code = 422
    code = "INVALID_UPLOAD"


class OperationMismatchError(GatewayError):
    """A body field contradicts the URL (e.g. `operation` on /boolean/union)."""

    status_code = 422
    code = "VALIDATION_ERROR"


class UnauthorizedError(GatewayError):
    status_code = 401
    code = "UNAUTHORIZED"
    headers: ClassVar[dict[str, str]] = {"WWW-Authenticate": 'Bearer realm="bridge3d"'}
