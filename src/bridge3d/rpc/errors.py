"""JSON-RPC 2.0 error codes and the one exception type that carries them.

The five standard codes are the ones section 5.1 of the JSON-RPC 2.0
specification defines; the application codes sit in the range the spec
reserves for implementation-defined server errors (-32000 to -32099).
Every code bridge3d uses is defined here and nowhere else.
"""

from __future__ import annotations

from typing import Any

# Standard codes (JSON-RPC 2.0, section 5.1).
PARSE_ERROR = -32700  # invalid JSON was received
INVALID_REQUEST = -32600  # the JSON sent is not a valid Request object
METHOD_NOT_FOUND = -32601  # the method does not exist / is not available
INVALID_PARAMS = -32602  # invalid method parameter(s)
INTERNAL_ERROR = -32603  # internal JSON-RPC error

# Application codes (JSON-RPC 2.0 reserves -32000..-32099 for server errors).
NOT_FOUND = -32001  # the named object, document or file does not exist
ALREADY_EXISTS = -32002  # a name is taken and the caller asked for that name exactly
UNAUTHORIZED = -32003  # missing or wrong rpc.hello token
BUSY = -32004  # the application is busy or the call timed out inside the host
USER_CODE_ERROR = -32005  # code sent to code.execute raised; traceback in data
UNSUPPORTED = -32006  # format, engine or feature not available in this app version
CANCELLED = -32007  # the call was interrupted by rpc.cancel
CONFLICT = -32008  # valid params, but the current state forbids it (object in use, not a solid, empty result)
WORKSPACE_FULL = -32009  # the workspace has no room: its byte quota or the disk's free-space floor (a setting)

CODE_NAMES: dict[int, str] = {
    PARSE_ERROR: "PARSE_ERROR",
    INVALID_REQUEST: "INVALID_REQUEST",
    METHOD_NOT_FOUND: "METHOD_NOT_FOUND",
    INVALID_PARAMS: "INVALID_PARAMS",
    INTERNAL_ERROR: "INTERNAL_ERROR",
    NOT_FOUND: "NOT_FOUND",
    ALREADY_EXISTS: "ALREADY_EXISTS",
    UNAUTHORIZED: "UNAUTHORIZED",
    BUSY: "BUSY",
    USER_CODE_ERROR: "USER_CODE_ERROR",
    UNSUPPORTED: "UNSUPPORTED",
    CANCELLED: "CANCELLED",
    CONFLICT: "CONFLICT",
    WORKSPACE_FULL: "WORKSPACE_FULL",
}


class RpcError(Exception):
    """An error that travels as a JSON-RPC error object."""

    code: int = INTERNAL_ERROR
    default_message: str = "Internal error"

    def __init__(self, message: str | None = None, data: Any = None, *, code: int | None = None):
        if code is not None:
            self.code = code
        self.message = message or self.default_message
        self.data = data
        self.backend = ""  # which application answered with it (set by the gateway's client)
        super().__init__(self.message)

    @property
    def name(self) -> str:
        return CODE_NAMES.get(self.code, "SERVER_ERROR")

    def to_dict(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error

    @classmethod
    def from_dict(cls, error: dict[str, Any]) -> RpcError:
        """Rebuild the most specific error class for a received error object."""
        code = error.get("code")
        if not isinstance(code, int):
            code = INTERNAL_ERROR
        message = error.get("message")
        error_class = _CLASS_BY_CODE.get(code, RpcError)
        return error_class(str(message) if message is not None else None, error.get("data"), code=code)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code}, message={self.message!r})"


class ParseError(RpcError):
    code = PARSE_ERROR
    default_message = "Parse error"


class InvalidRequest(RpcError):
    code = INVALID_REQUEST
    default_message = "Invalid Request"


class MethodNotFound(RpcError):
    code = METHOD_NOT_FOUND
    default_message = "Method not found"


class InvalidParams(RpcError):
    code = INVALID_PARAMS
    default_message = "Invalid params"

    @classmethod
    def for_field(cls, field: str, reason: str) -> InvalidParams:
        return cls(f"{field}: {reason}", {"field": field, "reason": reason})


class InternalError(RpcError):
    code = INTERNAL_ERROR
    default_message = "Internal error"


class NotFound(RpcError):
    code = NOT_FOUND
    default_message = "Not found"


class AlreadyExists(RpcError):
    code = ALREADY_EXISTS
    default_message = "Already exists"


class Unauthorized(RpcError):
    code = UNAUTHORIZED
    default_message = "Unauthorized"


class Busy(RpcError):
    code = BUSY
    default_message = "Busy"


class UserCodeError(RpcError):
    code = USER_CODE_ERROR
    default_message = "User code raised an exception"


class Unsupported(RpcError):
    code = UNSUPPORTED
    default_message = "Unsupported"


class Cancelled(RpcError):
    code = CANCELLED
    default_message = "Cancelled"


class Conflict(RpcError):
    """Well-formed params that the current state of the scene or document does not allow."""

    code = CONFLICT
    default_message = "Conflict"

    @classmethod
    def for_field(cls, field: str, reason: str) -> Conflict:
        return cls(f"{field}: {reason}", {"field": field, "reason": reason})


class WorkspaceFull(RpcError):
    """A file would not fit: ``data.setting`` names the host-server setting (quota or free-space floor) it hit."""

    code = WORKSPACE_FULL
    default_message = "Workspace full"


_CLASS_BY_CODE: dict[int, type[RpcError]] = {
    error_class.code: error_class
    for error_class in (
        ParseError,
        InvalidRequest,
        MethodNotFound,
        InvalidParams,
        InternalError,
        NotFound,
        AlreadyExists,
        Unauthorized,
        Busy,
        UserCodeError,
        Unsupported,
        Cancelled,
        Conflict,
        WorkspaceFull,
    )
}
