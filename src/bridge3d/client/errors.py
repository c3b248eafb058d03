"""What the SDK raises: one exception class per family of the gateway's error codes.

Every error carries the envelope's ``code``, ``message`` and ``details`` and the HTTP ``status_code`` (None when
no HTTP answer arrived: the gateway could not be reached, or the client's own timeout passed). Catch a family
(``NotFoundError``), or ``Bridge3DError`` for everything; look at ``code`` for the precise reason.

Codes the SDK does not know yet fall into a family by their HTTP status, so a newer gateway does not break an
older SDK's ``except`` clauses.

Two errors come from ``job.wait()`` rather than from an HTTP answer: ``JobFailedError`` (the job ended failed or
cancelled; it carries the job and the error the job ended with) and ``WaitTimeoutError`` (the job is still running
when the wait's timeout passed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:  # the models import the transport, which imports this module
    from .models import JobInfo

__all__ = [
    "AuthenticationError",
    "BackendError",
    "BackendUnavailableError",
    "Bridge3DError",
    "ConflictError",
    "ExecutionError",
    "GatewayUnreachableError",
    "InvalidRequestError",
    "JobFailedError",
    "LimitExceededError",
    "NotFoundError",
    "PermissionDeniedError",
    "RequestTimeoutError",
    "WaitTimeoutError",
    "error_for",
]


class Bridge3DError(Exception):
    """Base of every error the SDK raises; also what an unknown code outside every family becomes (500)."""

    codes: ClassVar[tuple[str, ...]] = ()  # the gateway codes of this family
    statuses: ClassVar[tuple[int, ...]] = ()  # HTTP statuses that mean this family when the code is unknown

    def __init__(
        self,
        message: str,
        *,
        code: str = "INTERNAL_ERROR",
        status_code: int | None = None,
        details: dict[str, Any] | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status_code = status_code
        self.details: dict[str, Any] = details or {}
        self.request_id = request_id  # the gateway's X-Request-ID: find the request in its log

    def __str__(self) -> str:
        status = f"{self.status_code} " if self.status_code is not None else ""
        return f"{status}{self.code}: {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, status_code={self.status_code}, message={self.message!r})"

    @property
    def backend(self) -> str | None:
        """The application ("blender" or "freecad") when it answered with this error itself."""
        backend = self.details.get("backend")
        return backend if isinstance(backend, str) else None

    @property
    def field(self) -> str | None:
        """The parameter the error is about, when it names one."""
        field = self.details.get("field")
        return field if isinstance(field, str) else None

    @property
    def setting(self) -> str | None:
        """The gateway setting whose limit was reached (``BRIDGE3D_MAX_JOBS_PER_KEY``), when the error names one."""
        setting = self.details.get("setting")
        return setting if isinstance(setting, str) else None


class NotFoundError(Bridge3DError):
    """No such object, material, document, workspace file, session, job or route."""

    codes = ("NOT_FOUND", "SESSION_NOT_FOUND", "JOB_NOT_FOUND")
    statuses = (404,)


class InvalidRequestError(Bridge3DError):
    """The request does not match what the operation accepts (``errors`` names each field and why), or the
    application refused a value (INVALID_PARAMS), a format it does not have (UNSUPPORTED) or an upload."""

    codes = (
        "VALIDATION_ERROR",
        "INVALID_PARAMS",
        "INVALID_UPLOAD",
        "UNSUPPORTED",
        "METHOD_NOT_ALLOWED",
        "HOST_NOT_ALLOWED",
        # WebSocket messages
        "INVALID_JSON",
        "INVALID_MESSAGE",
        "UNKNOWN_TYPE",
        "DUPLICATE_ID",
    )
    statuses = (400, 405, 422)

    @property
    def errors(self) -> list[dict[str, Any]]:
        """Each refused field: ``field``, ``reason`` and, from the gateway, ``location`` (body, query, path)."""
        errors = self.details.get("errors")
        if isinstance(errors, list):
            return [error for error in errors if isinstance(error, dict)]
        return [{"field": self.field, "reason": self.details.get("reason", self.message)}] if self.field else []


class LimitExceededError(Bridge3DError):
    """A request, upload or parameter is over a limit the gateway is configured with (``setting`` names it), the
    application's workspace is full (WORKSPACE_FULL, 507: its byte quota or its disk's free-space floor; delete
    files), or your API key has as many unfinished jobs as it may (TOO_MANY_JOBS, 429: wait for one to finish)."""

    codes = ("LIMIT_EXCEEDED", "WORKSPACE_FULL", "TOO_MANY_JOBS")
    statuses = (413, 429, 507)


class AuthenticationError(Bridge3DError):
    """No API key, or a wrong one (pass ``api_key=`` or set BRIDGE3D_API_KEY)."""

    codes = ("UNAUTHORIZED",)
    statuses = (401,)


class PermissionDeniedError(Bridge3DError):
    """The gateway refuses this request on principle: code execution switched off, a non-loopback client of a
    gateway without a key, a browser origin it does not allow."""

    codes = ("EXECUTION_DISABLED", "LOOPBACK_ONLY", "ORIGIN_NOT_ALLOWED", "FORBIDDEN")
    statuses = (403,)


class ConflictError(Bridge3DError):
    """Valid, but the current state forbids it (an object in use, a taken name), it was cancelled, or it cannot be
    done any more (cancelling a job that already finished, ending the default session)."""

    codes = ("CONFLICT", "ALREADY_EXISTS", "CANCELLED")
    statuses = (409,)


class ExecutionError(Bridge3DError):
    """Code sent to ``execute`` raised inside the application."""

    codes = ("EXECUTION_ERROR",)

    @property
    def traceback(self) -> str:
        return str(self.details.get("traceback", ""))

    @property
    def stdout(self) -> str:
        return str(self.details.get("stdout", ""))

    @property
    def stderr(self) -> str:
        return str(self.details.get("stderr", ""))

    @property
    def error_type(self) -> str:
        """The Python exception's class name inside the application (ZeroDivisionError)."""
        return str(self.details.get("type", ""))


class RequestTimeoutError(Bridge3DError):
    """No answer in time: the gateway's 504 (the application took longer than its call timeout or the
    ``execute`` timeout; a running script is interrupted), or the client's own timeout (``status_code`` None)."""

    codes = ("TIMEOUT", "CLIENT_TIMEOUT")
    statuses = (504,)


class BackendUnavailableError(Bridge3DError):
    """The gateway is up but cannot serve this now: the application's host server is down or busy, or the gateway
    is at capacity (as many sessions as it may hold, a full job queue: ``setting`` names the limit). Retried with
    backoff (``max_retries``) before it is raised."""

    codes = (
        "CONNECTION_FAILED",
        "BACKEND_BUSY",
        "TOO_MANY_CONNECTIONS",
        "UNAVAILABLE",
        "TOO_MANY_SESSIONS",
        "QUEUE_FULL",
        "SESSION_LOST",
    )
    statuses = (503,)


class BackendError(Bridge3DError):
    """The application or the gateway failed unexpectedly (INTERNAL_ERROR, 500: the gateway's log has the request
    id), or the gateway cannot talk to the application (wrong host-server token, a host server without the method)."""

    codes = ("BACKEND_ERROR", "BACKEND_UNAUTHORIZED", "METHOD_NOT_FOUND", "INTERNAL_ERROR")
    statuses = (500, 501, 502)


class GatewayUnreachableError(Bridge3DError):
    """No HTTP answer at all: nothing listens at the base URL, or the connection broke (``status_code`` None).
    Connection failures are retried with backoff (``max_retries``) before it is raised."""

    codes = ("GATEWAY_UNREACHABLE",)


class JobFailedError(Bridge3DError):
    """``job.wait()`` saw the job end ``failed`` or ``cancelled`` (pass ``check=False`` to get the job back
    instead). ``code``, ``message`` and ``details`` are the job's own error envelope (BATCH_STEP_FAILED, TIMEOUT,
    WORKER_LOST, LIMIT_EXCEEDED, NOT_FOUND, ...; CANCELLED for a cancelled job); ``job`` is the job as it ended
    (``job.result`` holds a failed batch's report of every step)."""

    def __init__(self, job: JobInfo) -> None:
        if job.error is not None:
            code, message, details = job.error.code, job.error.message, dict(job.error.details)
        else:
            code, message, details = "CANCELLED", f"Job {job.id} was cancelled", {}
        super().__init__(f"{job.kind} job {job.id} {job.state}: {message}", code=code, details=details)
        self.job = job


class WaitTimeoutError(RequestTimeoutError, TimeoutError):
    """``job.wait(timeout=...)`` returned before the job finished: it is still queued or running (``job`` as last
    seen; wait again, or ``job.cancel()``). Also a builtin ``TimeoutError``, like ``events.get(timeout=...)``'s."""

    def __init__(self, job: JobInfo, timeout: float) -> None:
        super().__init__(
            f"{job.kind} job {job.id} is still {job.state} after {timeout:g} s ({job.progress:.0%}: {job.message})",
            code="WAIT_TIMEOUT",
            details={"timeout": timeout},
        )
        self.job = job


FAMILIES: tuple[type[Bridge3DError], ...] = (
    NotFoundError,
    InvalidRequestError,
    LimitExceededError,
    AuthenticationError,
    PermissionDeniedError,
    ConflictError,
    ExecutionError,
    RequestTimeoutError,
    BackendUnavailableError,
    BackendError,
    GatewayUnreachableError,
)
_BY_CODE: dict[str, type[Bridge3DError]] = {code: family for family in FAMILIES for code in family.codes}
_BY_STATUS: dict[int, type[Bridge3DError]] = {status: family for family in FAMILIES for status in family.statuses}


def error_for(
    code: str,
    message: str,
    *,
    status_code: int | None = None,
    details: dict[str, Any] | None = None,
    request_id: str | None = None,
) -> Bridge3DError:
    """The exception for an error envelope: by its code, else by its HTTP status, else the base class."""
    family = _BY_CODE.get(code) or (_BY_STATUS.get(status_code) if status_code is not None else None)
    return (family or Bridge3DError)(
        message, code=code, status_code=status_code, details=details, request_id=request_id
    )
