"""The HTTP side of the SDK: settings, the envelope, retries, uploads and streamed downloads (sync and async).

One transport wraps one ``httpx`` client (its connection pool). Scoped copies (``with_options``, a session) share
that pool and differ only in their settings. Connection failures and 503 answers (host server down or busy,
gateway at capacity) are retried with exponential backoff and jitter; nothing else is, since any other failure
would fail the same way again, or may already have changed the scene.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import random
import secrets
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeAlias
from urllib.parse import quote

import httpx

from bridge3d import __version__

from .errors import Bridge3DError, GatewayUnreachableError, RequestTimeoutError, error_for

logger = logging.getLogger("bridge3d.client")

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
# Longer than the gateway's own call timeout (120 s), so a slow command ends with the gateway's 504, which says
# what timed out, rather than with the client giving up first.
DEFAULT_TIMEOUT = httpx.Timeout(180.0, connect=5.0)
DEFAULT_MAX_RETRIES = 2
SESSION_HEADER = "X-Bridge3D-Session"
INITIAL_BACKOFF_SECONDS = 0.25
MAX_BACKOFF_SECONDS = 4.0
MAX_RETRY_AFTER_SECONDS = 30.0
DOWNLOAD_CHUNK_BYTES = 1024 * 1024
USER_AGENT = f"bridge3d-python/{__version__} httpx/{httpx.__version__}"

Query: TypeAlias = Mapping[str, Any]
FileSource: TypeAlias = str | os.PathLike[str] | IO[bytes] | bytes
"""What an upload sends: a path, a binary file object (all of it) or the bytes themselves."""


def first_api_key(value: str | None) -> str | None:
    """The key to send from BRIDGE3D_API_KEY: the gateway accepts several separated by commas (the same variable
    may configure both), a client sends one."""
    keys = [key.strip() for key in (value or "").split(",") if key.strip()]
    return keys[0] if keys else None


@dataclass(frozen=True)
class Settings:
    """How a client talks to the gateway; ``resolve`` fills it from arguments, then the environment."""

    base_url: str = DEFAULT_BASE_URL
    api_key: str | None = None
    timeout: httpx.Timeout = field(default_factory=lambda: DEFAULT_TIMEOUT)
    max_retries: int = DEFAULT_MAX_RETRIES
    session: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def resolve(
        cls,
        base_url: str | None,
        api_key: str | None,
        timeout: float | httpx.Timeout | None,
        max_retries: int,
        headers: Mapping[str, str] | None,
    ) -> Settings:
        return cls(
            base_url=(base_url or os.environ.get("BRIDGE3D_URL") or DEFAULT_BASE_URL).rstrip("/"),
            api_key=api_key if api_key is not None else first_api_key(os.environ.get("BRIDGE3D_API_KEY")),
            timeout=as_timeout(timeout),
            max_retries=max(0, max_retries),
            headers=dict(headers or {}),
        )

    def request_headers(self) -> dict[str, str]:
        headers = {"User-Agent": USER_AGENT, **self.headers}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        if self.session:
            headers[SESSION_HEADER] = self.session
        return headers

    def websocket_url(self, app: str) -> str:
        scheme, _, rest = self.base_url.partition("://")
        url = f"{'wss' if scheme == 'https' else 'ws'}://{rest}/ws/{app}"
        return f"{url}?session={quote(self.session, safe='')}" if self.session else url


def as_timeout(timeout: float | httpx.Timeout | None) -> httpx.Timeout:
    if timeout is None:
        return DEFAULT_TIMEOUT
    return timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout, connect=min(timeout, 5.0))


def at_least(timeout: httpx.Timeout, seconds: float | None) -> httpx.Timeout:
    """``timeout`` with its read limit raised to ``seconds`` (an execution allowed to run that long)."""
    if seconds is None or timeout.read is None or timeout.read >= seconds:
        return timeout
    return httpx.Timeout(timeout.connect, read=seconds, write=timeout.write, pool=timeout.pool)


def at_most(timeout: httpx.Timeout, seconds: float | None) -> httpx.Timeout:
    """``timeout`` with no phase longer than ``seconds`` (a request that must end by a deadline)."""
    if seconds is None:
        return timeout

    def capped(value: float | None) -> float:
        return seconds if value is None else min(value, seconds)

    return httpx.Timeout(
        connect=capped(timeout.connect),
        read=capped(timeout.read),
        write=capped(timeout.write),
        pool=capped(timeout.pool),
    )


def path_part(value: str) -> str:
    """A name as one URL path segment."""
    return quote(value, safe="")


def backoff_seconds(attempt: int, response: httpx.Response | None = None) -> float:
    """Exponential with jitter (so many clients do not retry in step), or the server's Retry-After."""
    retry_after = response.headers.get("retry-after") if response is not None else None
    if retry_after is not None:
        with contextlib.suppress(ValueError):
            seconds = float(retry_after)
            return min(MAX_RETRY_AFTER_SECONDS, max(0.0, seconds))
    return min(MAX_BACKOFF_SECONDS, INITIAL_BACKOFF_SECONDS * 2.0**attempt) * (0.5 + random.random() / 2)


def error_from_envelope(
    status_code: int, body: bytes, request_id: str | None = None, *, reason: str = ""
) -> Bridge3DError:
    """The exception for an error answer: from its envelope, or from the status when the body is not one."""
    try:
        error = json.loads(body)["error"]
        code, message = str(error["code"]), str(error["message"])
        details = error.get("details") if isinstance(error.get("details"), dict) else {}
    except (ValueError, KeyError, TypeError):
        text = body[:500].decode("utf-8", "replace").strip()
        code, message, details = f"HTTP_{status_code}", text or reason or f"HTTP {status_code}", {}
    return error_for(code, message, status_code=status_code, details=details, request_id=request_id)


def error_from_response(response: httpx.Response) -> Bridge3DError:
    return error_from_envelope(
        response.status_code, response.content, response.headers.get("x-request-id"), reason=response.reason_phrase
    )


def result_of(response: httpx.Response) -> Any:
    """The envelope's ``result`` of a success, else the error it carries as an exception."""
    if response.status_code >= 300:
        raise error_from_response(response)
    try:
        envelope = json.loads(response.content)
    except ValueError:
        envelope = None
    if not isinstance(envelope, dict) or envelope.get("status") != "success":
        raise Bridge3DError(
            f"{response.request.method} {response.request.url.path} answered something that is not the envelope",
            code="INVALID_RESPONSE",
            status_code=response.status_code,
            request_id=response.headers.get("x-request-id"),
        )
    return envelope.get("result")


def transport_error(exc: httpx.TransportError, settings: Settings) -> Bridge3DError:
    """The SDK's exception for a failure below HTTP."""
    if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
        return RequestTimeoutError(
            f"No answer from the gateway at {settings.base_url} within the client's timeout "
            f"({exc.__class__.__name__}); raise timeout= for long operations",
            code="CLIENT_TIMEOUT",
        )
    return GatewayUnreachableError(f"Could not reach the gateway at {settings.base_url}: {exc or type(exc).__name__}")


def retryable_failure(exc: httpx.TransportError) -> bool:
    """Only a connection that never opened is retried: on a broken one the request may have run."""
    return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)


@dataclass(frozen=True)
class Upload:
    """A file for a multipart upload, sent in the part named ``file``, under ``filename`` (its extension decides the
    format)."""

    source: FileSource
    filename: str | None = None

    def name(self) -> str:
        if self.filename:
            return self.filename
        if isinstance(self.source, str | os.PathLike):
            return Path(self.source).name
        if not isinstance(self.source, bytes):
            named = getattr(self.source, "name", None)
            if isinstance(named, str) and named:
                return Path(named).name
        raise ValueError("an upload from bytes or an unnamed file object needs filename= (its extension is the format)")

    @contextlib.contextmanager
    def opened(self) -> Iterator[dict[str, Any]]:
        """The httpx ``files`` argument for one attempt (a path is opened anew each time)."""
        name = self.name()
        if isinstance(self.source, str | os.PathLike):
            with open(self.source, "rb") as handle:
                yield {"file": (name, handle, "application/octet-stream")}
        else:
            yield {"file": (name, self.source, "application/octet-stream")}

    def replayable(self) -> bool:
        """Whether a retry can send it again: httpx sends a seekable file object whole, from its start (it seeks
        there itself); one that cannot seek is sent from where it stands, once."""
        if isinstance(self.source, str | os.PathLike | bytes):
            return True
        try:
            return bool(self.source.seekable())
        except (OSError, ValueError):
            return False


def download_target(destination: str | os.PathLike[str], name: str) -> Path:
    """A folder receives the file under its workspace name (never a path, whatever the answer says); anything else
    is the file's own path."""
    target = Path(destination)
    return target / Path(name).name if target.is_dir() else target


class _Part:
    """A file being written next to its target, moved into place only when complete (no half-written files).
    Created like any new file (the umask decides its mode), under a name no one else picks."""

    def __init__(self, target: Path) -> None:
        self.target = target
        target.parent.mkdir(parents=True, exist_ok=True)
        self.path = target.with_name(f".{target.name}.{secrets.token_hex(6)}.part")
        self.handle = self.path.open("xb")

    def write(self, data: bytes) -> None:
        self.handle.write(data)

    def commit(self) -> Path:
        self.handle.close()
        os.replace(self.path, self.target)
        return self.target

    def discard(self) -> None:
        self.handle.close()
        self.path.unlink(missing_ok=True)


class SyncTransport:
    """Requests over one ``httpx.Client`` (its pool is shared by every scoped copy)."""

    def __init__(self, settings: Settings, http: httpx.Client | None = None) -> None:
        self.settings = settings
        self._owns_http = http is None
        self._http = http or httpx.Client(timeout=settings.timeout)
        self._base = settings.base_url  # absolute URLs: a caller's own httpx client needs no base_url
        self._headers = settings.request_headers()
        self._timeout = settings.timeout

    def scoped(self, **changes: Any) -> SyncTransport:
        """A transport with some settings changed (timeout, max_retries, session) over the same connections."""
        scoped = SyncTransport(dataclasses.replace(self.settings, **changes), self._http)
        scoped._owns_http = False
        return scoped

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Query | None = None,
        body: Any = None,
        upload: Upload | None = None,
        wait: float | None = None,
        limit: float | None = None,
    ) -> Any:
        """The result of one call; ``wait`` raises the read timeout to that many seconds (long executions), ``limit``
        caps every timeout at that many (a call that must end by a deadline)."""
        response = self._send(method, path, query=query, body=body, upload=upload, wait=wait, limit=limit)
        return result_of(response)

    def read(self, path: str, *, query: Query | None = None) -> bytes:
        """The bytes a route answers (a file, a GLB)."""
        response = self._send("GET", path, query=query)
        if response.status_code >= 300:
            raise error_from_response(response)
        return response.content

    def download(self, path: str, destination: str | os.PathLike[str], name: str) -> Path:
        """Stream a file route's bytes to disk (written beside the target, then moved into place)."""
        attempt = 0
        while True:
            try:
                with self._http.stream(
                    "GET", self._base + path, headers=self._headers, timeout=self._timeout
                ) as response:
                    if response.status_code == 503 and attempt < self.settings.max_retries:
                        response.read()
                        self._pause(attempt, response, "GET", path)
                        attempt += 1
                        continue
                    if response.status_code >= 300:
                        response.read()
                        raise error_from_response(response)
                    part = _Part(download_target(destination, name))
                    try:
                        for chunk in response.iter_bytes(DOWNLOAD_CHUNK_BYTES):
                            part.write(chunk)
                    except BaseException:
                        part.discard()
                        raise
                    return part.commit()
            except httpx.TransportError as exc:
                if retryable_failure(exc) and attempt < self.settings.max_retries:
                    self._pause(attempt, None, "GET", path, exc)
                    attempt += 1
                    continue
                raise transport_error(exc, self.settings) from exc

    def _send(
        self,
        method: str,
        path: str,
        *,
        query: Query | None = None,
        body: Any = None,
        upload: Upload | None = None,
        wait: float | None = None,
        limit: float | None = None,
    ) -> httpx.Response:
        timeout = at_most(at_least(self._timeout, wait), limit)
        replayable = upload is None or upload.replayable()
        attempt = 0
        while True:
            try:
                if upload is None:
                    response = self._http.request(
                        method, self._base + path, params=query, json=body, headers=self._headers, timeout=timeout
                    )
                else:
                    with upload.opened() as files:
                        response = self._http.request(
                            method, self._base + path, params=query, files=files, headers=self._headers, timeout=timeout
                        )
            except httpx.TransportError as exc:
                if retryable_failure(exc) and attempt < self.settings.max_retries and replayable:
                    self._pause(attempt, None, method, path, exc)
                    attempt += 1
                    continue
                raise transport_error(exc, self.settings) from exc
            if response.status_code == 503 and attempt < self.settings.max_retries and replayable:
                self._pause(attempt, response, method, path)
                attempt += 1
                continue
            return response

    def _pause(
        self, attempt: int, response: httpx.Response | None, method: str, path: str, exc: Exception | None = None
    ) -> None:
        delay = backoff_seconds(attempt, response)
        why = f"{response.status_code} {response.reason_phrase}" if response is not None else repr(exc)
        logger.info(
            "%s %s: %s; retry %d of %d in %.2f s", method, path, why, attempt + 1, self.settings.max_retries, delay
        )
        time.sleep(delay)


class AsyncTransport:
    """Requests over one ``httpx.AsyncClient`` (its pool is shared by every scoped copy)."""

    def __init__(self, settings: Settings, http: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(timeout=settings.timeout)
        self._base = settings.base_url
        self._headers = settings.request_headers()
        self._timeout = settings.timeout

    def scoped(self, **changes: Any) -> AsyncTransport:
        scoped = AsyncTransport(dataclasses.replace(self.settings, **changes), self._http)
        scoped._owns_http = False
        return scoped

    async def close(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Query | None = None,
        body: Any = None,
        upload: Upload | None = None,
        wait: float | None = None,
        limit: float | None = None,
    ) -> Any:
        response = await self._send(method, path, query=query, body=body, upload=upload, wait=wait, limit=limit)
        return result_of(response)

    async def read(self, path: str, *, query: Query | None = None) -> bytes:
        response = await self._send("GET", path, query=query)
        if response.status_code >= 300:
            raise error_from_response(response)
        return response.content

    async def download(self, path: str, destination: str | os.PathLike[str], name: str) -> Path:
        attempt = 0
        while True:
            try:
                async with self._http.stream(
                    "GET", self._base + path, headers=self._headers, timeout=self._timeout
                ) as response:
                    if response.status_code == 503 and attempt < self.settings.max_retries:
                        await response.aread()
                        await self._pause(attempt, response, "GET", path)
                        attempt += 1
                        continue
                    if response.status_code >= 300:
                        await response.aread()
                        raise error_from_response(response)
                    part = _Part(download_target(destination, name))
                    try:
                        async for chunk in response.aiter_bytes(DOWNLOAD_CHUNK_BYTES):
                            part.write(chunk)
                    except BaseException:
                        part.discard()
                        raise
                    return part.commit()
            except httpx.TransportError as exc:
                if retryable_failure(exc) and attempt < self.settings.max_retries:
                    await self._pause(attempt, None, "GET", path, exc)
                    attempt += 1
                    continue
                raise transport_error(exc, self.settings) from exc

    async def _send(
        self,
        method: str,
        path: str,
        *,
        query: Query | None = None,
        body: Any = None,
        upload: Upload | None = None,
        wait: float | None = None,
        limit: float | None = None,
    ) -> httpx.Response:
        timeout = at_most(at_least(self._timeout, wait), limit)
        replayable = upload is None or upload.replayable()
        attempt = 0
        while True:
            try:
                if upload is None:
                    response = await self._http.request(
                        method, self._base + path, params=query, json=body, headers=self._headers, timeout=timeout
                    )
                else:
                    with upload.opened() as files:
                        response = await self._http.request(
                            method, self._base + path, params=query, files=files, headers=self._headers, timeout=timeout
                        )
            except httpx.TransportError as exc:
                if retryable_failure(exc) and attempt < self.settings.max_retries and replayable:
                    await self._pause(attempt, None, method, path, exc)
                    attempt += 1
                    continue
                raise transport_error(exc, self.settings) from exc
            if response.status_code == 503 and attempt < self.settings.max_retries and replayable:
                await self._pause(attempt, response, method, path)
                attempt += 1
                continue
            return response

    async def _pause(
        self, attempt: int, response: httpx.Response | None, method: str, path: str, exc: Exception | None = None
    ) -> None:
        delay = backoff_seconds(attempt, response)
        why = f"{response.status_code} {response.reason_phrase}" if response is not None else repr(exc)
        logger.info(
            "%s %s: %s; retry %d of %d in %.2f s", method, path, why, attempt + 1, self.settings.max_retries, delay
        )
        await asyncio.sleep(delay)
