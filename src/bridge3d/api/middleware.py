"""Pure ASGI guards that run before routing: where a request arrived, its Host header, the size of its body.

- **Loopback only without a key.** With no API key configured, a request that arrived on a non-loopback address
  (e.g. `uvicorn --host 0.0.0.0` started by hand) is refused, so no way of starting the gateway serves the network
  without a key. `bridge3d api` and `create_app()` already refuse to start like that; this covers the rest.
- **Host header (DNS rebinding).** A web page whose domain is re-pointed to 127.0.0.1 reaches the gateway as
  "same origin", so CORS does not stop it; its requests still carry the attacker's name in `Host`. On loopback
  connections only localhost, loopback IPs and `BRIDGE3D_ALLOWED_HOSTS` are accepted (HTTP and WebSocket).
- **Cross-site writes.** A POST, PUT, PATCH or DELETE whose `Origin` (browsers always send one) is not in
  `BRIDGE3D_CORS_ORIGINS` is refused: CORS alone lets a page *send* a form upload, it only hides the answer.
- **Body size.** `Content-Length` is checked up front and the bytes actually received are counted, so a chunked
  body cannot slip past. Uploads (multipart operations in the OpenAPI schema) get `BRIDGE3D_MAX_UPLOAD_BYTES`
  plus multipart framing; everything else `BRIDGE3D_MAX_REQUEST_BYTES`.

Refusals use the error envelope: 403 LOOPBACK_ONLY, 400 HOST_NOT_ALLOWED, 403 ORIGIN_NOT_ALLOWED,
413 LIMIT_EXCEEDED (limit named).
"""

from __future__ import annotations

import ipaddress
import logging
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bridge3d.rpc.server import is_loopback

from .config import Settings
from .errors import envelope

logger = logging.getLogger("bridge3d.api.security")

# Boundaries and part headers around an uploaded file; the upload route itself checks the file's exact size.
MULTIPART_OVERHEAD_BYTES = 64 * 1024
WEBSOCKET_POLICY_VIOLATION = 1008
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Refusal:
    status: int
    code: str
    message: str
    details: dict[str, Any]


def host_name(header: str) -> str | None:
    """The name in a Host header without port, brackets or trailing dot, lower-cased; None if malformed."""
    value = header.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        rest = value[end + 1 :] if end > 0 else "?"
        if rest and not (rest.startswith(":") and rest[1:].isdigit()):
            return None
        return value[1:end] or None
    name, colon, port = value.partition(":")
    if colon and not port.isdigit():
        return None
    return name.rstrip(".") or None


def host_allowed(name: str, allowed: list[str]) -> bool:
    """localhost and loopback IPs always; else an exact BRIDGE3D_ALLOWED_HOSTS entry or a '*.domain' match."""
    if is_loopback(name):
        return True
    for pattern in (entry.strip().lower().rstrip(".") for entry in allowed):
        if pattern == "*" or name == pattern or (pattern.startswith("*.") and name.endswith(pattern[1:])):
            return True
    return False


def origin_permitted(origin: str, scope: Scope, settings: Settings) -> bool:
    """A browser page may drive the gateway when its origin is listed in BRIDGE3D_CORS_ORIGINS or is the
    gateway itself (e.g. Swagger UI served by this gateway)."""
    allowed = settings.cors_origins
    if "*" in allowed or origin.rstrip("/") in allowed:
        return True
    hosts = [value.decode("latin-1").lower() for key, value in scope.get("headers", []) if key == b"host"]
    try:
        return hosts == [urlsplit(origin).netloc.lower()]
    except ValueError:  # not a URL at all
        return False


def arrived_on_loopback(scope: Scope, settings: Settings) -> bool:
    """Whether the connection came in on a loopback address (its local end; the bind setting if unknown)."""
    server = scope.get("server")
    if server and isinstance(server[0], str):
        try:
            return ipaddress.ip_address(server[0]).is_loopback
        except ValueError:
            pass  # a Unix socket path
    return is_loopback(settings.host)


class SecurityMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self._upload_operations: list[tuple[str, re.Pattern[str]]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        refusal = self.check_origin_of_connection(scope)
        if refusal is None and scope["type"] == "http":
            refusal = self.check_cross_site_write(scope) or self.check_content_length(scope)
        if refusal is not None:
            await refuse(scope, receive, send, refusal)
            return
        if scope["type"] == "http":
            await self.app_with_body_limit(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    # ------------------------------------------------------------------ where the request came from
    def check_origin_of_connection(self, scope: Scope) -> Refusal | None:
        loopback = arrived_on_loopback(scope, self.settings)
        if not loopback and not self.settings.api_keys():
            return Refusal(
                403,
                "LOOPBACK_ONLY",
                "This gateway has no API key, so it only serves loopback connections; "
                "set BRIDGE3D_API_KEY to serve other addresses",
                {"setting": "BRIDGE3D_API_KEY"},
            )
        if not loopback:
            return None
        headers = [value for key, value in scope.get("headers", []) if key == b"host"]
        header = headers[0].decode("latin-1") if len(headers) == 1 else ""
        name = host_name(header)
        if name is not None and host_allowed(name, self.settings.allowed_hosts):
            return None
        return Refusal(
            400,
            "HOST_NOT_ALLOWED",
            f"Host {header[:100]!r} is not served here: this gateway answers localhost, loopback addresses and "
            "the names in BRIDGE3D_ALLOWED_HOSTS",
            {"host": header[:100], "setting": "BRIDGE3D_ALLOWED_HOSTS"},
        )

    # ------------------------------------------------------------------ cross-site writes (CSRF)
    def check_cross_site_write(self, scope: Scope) -> Refusal | None:
        """A browser sends `Origin` with every POST/PUT/PATCH/DELETE. CORS keeps a foreign page from reading the
        answer, but a multipart form POST (an upload: import, open) is sent without asking first; refuse it here,
        so a page elsewhere cannot replace the open scene or import into it. Clients without `Origin` (curl,
        scripts, the SDK) are not browsers and are not affected."""
        if scope.get("method") in SAFE_METHODS:
            return None
        origins = [value for key, value in scope.get("headers", []) if key == b"origin"]
        if not origins:
            return None
        origin = origins[0].decode("latin-1")
        if len(origins) == 1 and origin_permitted(origin, scope, self.settings):
            return None
        return Refusal(
            403,
            "ORIGIN_NOT_ALLOWED",
            f"Requests from the web page at {origin[:100]!r} are not allowed; add it to BRIDGE3D_CORS_ORIGINS",
            {"origin": origin[:100], "setting": "BRIDGE3D_CORS_ORIGINS"},
        )

    # ------------------------------------------------------------------ body size
    def body_limit(self, scope: Scope) -> tuple[int, int, str]:
        """(bytes accepted, limit to report, setting) for this request."""
        if self.is_upload(scope):
            limit = self.settings.max_upload_bytes
            return limit + MULTIPART_OVERHEAD_BYTES, limit, "BRIDGE3D_MAX_UPLOAD_BYTES"
        limit = self.settings.max_request_bytes
        return limit, limit, "BRIDGE3D_MAX_REQUEST_BYTES"

    def too_large(self, scope: Scope, size: int | None = None) -> Refusal:
        _, limit, setting = self.body_limit(scope)
        what = "upload" if setting == "BRIDGE3D_MAX_UPLOAD_BYTES" else "request body"
        details: dict[str, Any] = {"limit": limit, "setting": setting}
        if size is not None:
            details["size"] = size
        return Refusal(413, "LIMIT_EXCEEDED", f"The {what} is larger than the {limit}-byte limit ({setting})", details)

    def check_content_length(self, scope: Scope) -> Refusal | None:
        declared = [value for key, value in scope.get("headers", []) if key == b"content-length"]
        if len(declared) != 1 or not declared[0].isdigit():
            return None  # absent (chunked) or malformed: the server rejects malformed ones; chunks are counted
        size = int(declared[0])
        return self.too_large(scope, size) if size > self.body_limit(scope)[0] else None

    def is_upload(self, scope: Scope) -> bool:
        if scope.get("method") in SAFE_METHODS:
            return False  # no upload route reads a GET body; and no schema walk for the many small reads
        if self._upload_operations is None:
            self._upload_operations = upload_operations(scope.get("app"))
        method, path = scope.get("method", ""), scope.get("path", "")
        return any(method == verb and pattern.match(path) for verb, pattern in self._upload_operations)

    async def app_with_body_limit(self, scope: Scope, receive: Receive, send: Send) -> None:
        accepted = self.body_limit(scope)[0]
        received = 0
        exceeded = False
        replaced = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > accepted:
                    exceeded = True
                    # FastAPI passes HTTPExceptions raised while reading the body on to the error handlers.
                    raise HTTPException(413, self.too_large(scope).message)
            return message

        async def replacing_send(message: Message) -> None:
            nonlocal replaced
            if exceeded and message["type"] == "http.response.start" and not replaced:
                # Whatever the app made of the interrupted body, the answer is the 413 that names the limit.
                replaced = True
                refusal = self.too_large(scope)
                await refuse(scope, receive, send, refusal)
                return
            if replaced:
                return
            await send(message)

        await self.app(scope, counting_receive, replacing_send)


async def refuse(scope: Scope, receive: Receive, send: Send, refusal: Refusal) -> None:
    """Answer with the envelope; a WebSocket handshake too (the ASGI denial-response extension), where supported."""
    logger.warning("refused %s %s: %s", scope.get("method", "WebSocket"), scope.get("path"), refusal.message)
    if scope["type"] == "websocket" and "websocket.http.response" not in scope.get("extensions", {}):
        # No denial-response support in this server: a close before accept is an HTTP 403 to the client.
        await send({"type": "websocket.close", "code": WEBSOCKET_POLICY_VIOLATION, "reason": refusal.code})
        return
    response = envelope(refusal.status, refusal.code, refusal.message, refusal.details)
    await response(scope, receive, send)


def upload_operations(app: Any) -> list[tuple[str, re.Pattern[str]]]:
    """(METHOD, path pattern) of every operation whose request body is multipart/form-data, from the OpenAPI schema."""
    try:
        schema: dict[str, Any] = app.openapi()
    except Exception:  # without the schema every body gets the smaller, general limit
        logger.exception("could not read the OpenAPI schema to find the upload routes")
        return []
    operations = []
    for path, methods in schema.get("paths", {}).items():
        pattern = re.compile("^" + re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(path)) + "$")
        for method, operation in methods.items():
            content = operation.get("requestBody", {}).get("content", {}) if isinstance(operation, dict) else {}
            if "multipart/form-data" in content:
                operations.append((method.upper(), pattern))
    return operations


class UnsafeBindError(RuntimeError):
    """The gateway was asked to serve a non-loopback address without an API key."""


def refuse_unsafe_bind(settings: Settings) -> None:
    """Start-up check: a non-loopback bind needs an API key (anyone who can connect could run code otherwise)."""
    if not is_loopback(settings.host) and not settings.api_keys():
        raise UnsafeBindError(
            f"refusing to serve on {settings.host} without an API key: set BRIDGE3D_API_KEY "
            "(one key or several, comma-separated) or bind 127.0.0.1"
        )
