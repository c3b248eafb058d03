"""The host server: an asyncio IO thread in front of a main-thread pump.

The IO thread accepts connections, reads one JSON-RPC request per line,
answers the ``rpc.*`` and ``events.*`` methods itself and queues every other
call on the pump. Nothing a client sends (bad bytes, an oversize frame, a
disconnect mid-call) can stop the server; a handler's exception becomes an
error reply.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import fnmatch
import hmac
import ipaddress
import itertools
import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .. import __version__
from .dispatcher import Registry, invoke, run_batch
from .errors import Busy, InvalidParams, InvalidRequest, RpcError, Unauthorized
from .protocol import (
    DEFAULT_MAX_FRAME_BYTES,
    FRAME_DELIMITER,
    Request,
    decode_frame,
    encode_frame,
    error_response,
    id_of,
    notification_message,
    parse_request,
    result_response,
)
from .pump import Job, MainThreadPump

logger = logging.getLogger(__name__)

EVENT_METHOD = "event"
# A subscriber that falls this far behind is disconnected rather than letting memory grow.
MAX_SUBSCRIBER_BACKLOG_BYTES = 16 * 1024 * 1024
# The most one read takes from a connection: FrameReader checks a frame's limit after each read.
READ_BUFFER_BYTES = 256 * 1024
# Until rpc.hello succeeds a frame may be this long: enough for the hello, far too little to fill memory.
PREAUTH_FRAME_BYTES = 4 * 1024
DEFAULT_HELLO_TIMEOUT = 10.0
DEFAULT_MAX_CONNECTIONS = 64


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 0
    token: str | None = None
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
    app_name: str = "bridge3d"
    app_version: str = ""
    hello_timeout: float = DEFAULT_HELLO_TIMEOUT  # seconds a connection has to authenticate (with a token)
    max_connections: int = DEFAULT_MAX_CONNECTIONS  # open connections; one more is refused and closed
    # Started headless by bridge3d (not a GUI add-on in someone's own Blender or FreeCAD): the gateway may then
    # restore a durable session into it after a restart.
    headless: bool = False


class FrameTooLarge(Exception):
    """A frame grew past its limit before its newline arrived."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"Frame exceeds the {limit}-byte limit")
        self.limit = limit


class FrameReader:
    """Newline-terminated frames from a stream, each checked against a limit chosen per call.

    It keeps its own buffer, read in pieces of at most READ_BUFFER_BYTES, so the limit can differ from frame to
    frame (small before rpc.hello, large after) and a frame over its limit is refused as soon as the buffer passes
    it: a connection never holds more than its limit plus one piece.
    """

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader
        self._buffer = bytearray()
        self._searched = 0  # bytes of the buffer known to hold no delimiter

    async def next(self, limit: int) -> bytes:
        """The next frame, delimiter included. Raises FrameTooLarge, or IncompleteReadError at end of stream."""
        while True:
            end = self._buffer.find(FRAME_DELIMITER, self._searched)
            if end >= 0:
                frame = bytes(self._buffer[: end + 1])
                del self._buffer[: end + 1]
                self._searched = 0
                if end > limit:
                    raise FrameTooLarge(limit)
                return frame
            self._searched = len(self._buffer)
            if len(self._buffer) > limit:
                raise FrameTooLarge(limit)
            piece = await self._reader.read(READ_BUFFER_BYTES)
            if not piece:
                raise asyncio.IncompleteReadError(bytes(self._buffer), None)
            self._buffer += piece


@dataclass(eq=False)
class _Connection:
    writer: asyncio.StreamWriter
    authenticated: bool
    peer: str
    topics: set[str] = field(default_factory=set)
    # One future per request queued on the pump, done when its reply is sent (or cancelled on shutdown).
    pending: set[asyncio.Future[None]] = field(default_factory=set)

    def wants(self, topic: str) -> bool:
        return any(fnmatch.fnmatchcase(topic, pattern) for pattern in self.topics)

    def send(self, message: dict[str, Any]) -> None:
        if not self.writer.is_closing():
            self.writer.write(encode_frame(message))


class HostServer:
    def __init__(self, registry: Registry, config: ServerConfig) -> None:
        self.config = config
        self.registry = registry
        self.pump = MainThreadPump()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[_Connection] = set()
        # Connections with at least one topic; changed only on the IO thread, read by publish() from any thread.
        self._subscribers: set[_Connection] = set()
        self._started = threading.Event()
        self._start_error: BaseException | None = None
        self._event_seq = itertools.count(1)
        # Outcomes of pump jobs waiting to be replied on the IO thread; one wake-up of the loop sends them all.
        self._outcomes: collections.deque[tuple[_Connection, Request, Any, RpcError | None, asyncio.Future[None]]]
        self._outcomes = collections.deque()
        self._reply_scheduled = False
        self.port = config.port
        self.instance = secrets.token_hex(8)
        self._register_io_methods()

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> None:
        """Start the IO thread and return once the socket listens (or raise)."""
        if not self.config.token and not is_loopback(self.config.host):
            # Whoever reaches the port could run code as this user: other addresses need the token handshake.
            raise PermissionError(
                f"refusing to serve {self.config.app_name} on {self.config.host} without a token; "
                "set one or bind 127.0.0.1"
            )
        self._thread = threading.Thread(target=self._run_loop, name="bridge3d-rpc-io", daemon=True)
        self._thread.start()
        self._started.wait()
        if self._start_error is not None:
            raise self._start_error
        logger.info(
            "%s host server listening on %s:%d (auth %s)",
            self.config.app_name,
            self.config.host,
            self.port,
            "on" if self.config.token else "off",
        )

    def serve_forever(self) -> None:
        """Headless mode: the calling (main) thread runs the pump until stop()."""
        self.pump.serve_forever()

    def stop(self) -> None:
        self.pump.stop()
        loop = self._loop
        if loop is not None and loop.is_running():
            asyncio.run_coroutine_threadsafe(self._close(), loop).result(timeout=5)
            loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def listening(self) -> bool:
        """Whether any connection subscribed to events: a publisher may skip building events nobody receives."""
        return bool(self._subscribers)

    def publish(self, topic: str, data: dict[str, Any] | None = None) -> None:
        """Send an event notification to every connection subscribed to ``topic`` (any thread)."""
        loop = self._loop
        if loop is None or not self._subscribers:  # nobody listens: skip the IO thread wake-up per event
            return
        message = notification_message(
            EVENT_METHOD, {"topic": topic, "seq": next(self._event_seq), "time": time.time(), "data": data or {}}
        )
        with contextlib.suppress(RuntimeError):  # the loop closed during shutdown
            loop.call_soon_threadsafe(self._broadcast, topic, message)

    # ----------------------------------------------------------------- IO thread
    def _run_loop(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._server = loop.run_until_complete(
                asyncio.start_server(
                    self._serve_connection,
                    self.config.host,
                    self.config.port,
                    limit=READ_BUFFER_BYTES,  # only bounds the stream's own buffer: FrameReader reads from it
                )
            )
            self.port = self._server.sockets[0].getsockname()[1]
        except BaseException as exc:  # noqa: BLE001 - reported to start()'s caller
            self._start_error = exc
            self._started.set()
            loop.close()
            return
        self._started.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        connections = list(self._connections)
        for connection in connections:
            for future in connection.pending:
                future.cancel()
            connection.writer.close()
        if connections:
            await asyncio.wait([asyncio.ensure_future(c.writer.wait_closed()) for c in connections], timeout=2)
        if self._server is not None:
            await self._server.wait_closed()

    async def _serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = str(writer.get_extra_info("peername"))
        if len(self._connections) >= self.config.max_connections:
            limit = self.config.max_connections
            logger.warning("refused a connection from %s: %d connections are open", peer, limit)
            writer.write(
                encode_frame(error_response(None, Busy(f"Too many connections (limit {limit})", {"limit": limit})))
            )
            writer.close()
            return
        connection = _Connection(writer, authenticated=self.config.token is None, peer=peer)
        self._connections.add(connection)
        frames = FrameReader(reader)
        hello_deadline = asyncio.get_running_loop().time() + self.config.hello_timeout
        try:
            while True:
                try:
                    if connection.authenticated:
                        line = await frames.next(self.config.max_frame_bytes)
                    else:
                        async with asyncio.timeout_at(hello_deadline):
                            line = await frames.next(PREAUTH_FRAME_BYTES)
                except asyncio.IncompleteReadError:
                    # EOF (possibly mid-frame): a client that only half-closed still gets its replies.
                    if connection.pending:
                        await asyncio.wait(set(connection.pending))
                        await writer.drain()
                    break
                except FrameTooLarge as exc:
                    connection.send(error_response(None, InvalidRequest(str(exc), {"max_frame_bytes": exc.limit})))
                    await writer.drain()
                    break
                except TimeoutError:
                    timeout = self.config.hello_timeout
                    connection.send(
                        error_response(None, Unauthorized(f"No rpc.hello within {timeout:g} s", {"timeout": timeout}))
                    )
                    await writer.drain()
                    break
                if not line.strip():
                    continue
                if not await self._handle_line(connection, line):
                    break
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._connections.discard(connection)
            self._subscribers.discard(connection)
            writer.close()

    async def _handle_line(self, connection: _Connection, line: bytes) -> bool:
        """Handle one frame; return False when the connection must close."""
        message: Any = None
        try:
            message = decode_frame(line)
            request = parse_request(message)
        except RpcError as exc:
            connection.send(error_response(id_of(message), exc))
            return True
        if not connection.authenticated:
            if request.method != "rpc.hello" or not self._token_matches(request.params.get("token")):
                connection.send(error_response(request.id, Unauthorized("A valid rpc.hello token is required")))
                await connection.writer.drain()
                return False
            connection.authenticated = True
            connection.send(result_response(request.id, self._hello()))
            return True
        self._dispatch(connection, request)
        return True

    def _dispatch(self, connection: _Connection, request: Request) -> None:
        """Answer an IO-side method now; queue any other on the pump, to be answered by _send_outcomes.

        Callbacks rather than a task per request: the job is queued while the frame is handled, and its
        reply is written from the callback that learns the outcome, with no extra turns of the event loop.
        """
        try:
            method = self.registry.get(request.method)
            if not method.main_thread:
                self._reply(connection, request, invoke(method, self._io_params(connection, request)), None)
                return
        except RpcError as exc:
            self._reply(connection, request, None, exc)
            return
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        connection.pending.add(done)
        done.add_done_callback(connection.pending.discard)

        def deliver(result: Any, error: RpcError | None) -> None:  # on the pump's thread
            self._outcomes.append((connection, request, result, error, done))
            if not self._reply_scheduled:
                self._reply_scheduled = True
                with contextlib.suppress(RuntimeError):  # the IO loop stopped while the job ran
                    loop.call_soon_threadsafe(self._send_outcomes)

        self.pump.submit(Job(method, request.params, request.id, deliver))

    def _send_outcomes(self) -> None:
        # Cleared before draining: an outcome appended from now on schedules another call.
        self._reply_scheduled = False
        while self._outcomes:
            connection, request, result, error, done = self._outcomes.popleft()
            if done.done():  # cancelled: the server is closing
                continue
            done.set_result(None)
            self._reply(connection, request, result, error)

    @staticmethod
    def _reply(connection: _Connection, request: Request, result: Any, error: RpcError | None) -> None:
        if request.is_notification:
            return
        connection.send(error_response(request.id, error) if error is not None else result_response(request.id, result))

    def _broadcast(self, topic: str, message: dict[str, Any]) -> None:
        frame = encode_frame(message)
        for connection in list(self._subscribers):
            if not connection.wants(topic):
                continue
            transport = connection.writer.transport
            if transport.get_write_buffer_size() > MAX_SUBSCRIBER_BACKLOG_BYTES:
                logger.warning("dropping event subscriber %s: it stopped reading", connection.peer)
                connection.writer.close()
                continue
            if not connection.writer.is_closing():
                connection.writer.write(frame)

    # ----------------------------------------------------------------- IO-side methods
    def _token_matches(self, offered: Any) -> bool:
        expected = self.config.token
        if expected is None:
            return True
        return isinstance(offered, str) and hmac.compare_digest(offered.encode(), expected.encode())

    def _hello(self) -> dict[str, Any]:
        return {
            "app": self.config.app_name,
            "app_version": self.config.app_version,
            "server_version": __version__,
            "instance": self.instance,  # new with every start of the process: a client can tell it restarted
            "headless": self.config.headless,
        }

    def _io_params(self, connection: _Connection, request: Request) -> dict[str, Any]:
        if request.method in {"events.subscribe", "events.unsubscribe"}:
            return {**request.params, "_connection": connection}
        return request.params

    def _register_io_methods(self) -> None:
        add = self.registry.add

        def ping() -> dict[str, Any]:
            """Liveness check answered by the IO thread."""
            return {"pong": True, "time": time.time()}

        def hello(token: str | None = None) -> dict[str, Any]:
            """Authenticate the connection (a no-op once authenticated)."""
            return self._hello()

        def describe() -> dict[str, Any]:
            """Application, versions, methods and what the main thread is doing."""
            state = self.pump.state()
            return {
                **self._hello(),
                "methods": self.registry.names(),
                "busy": state.busy,
                "running": state.method,
                "running_id": state.request_id,
                "since": state.since,
                "queued": state.queued,
                "connections": len(self._connections),
            }

        def cancel(id: Any = None) -> dict[str, Any]:  # noqa: A002 - JSON-RPC field name
            """Interrupt the running cancellable call (code.execute)."""
            return self.pump.cancel(id)

        def subscribe(_connection: _Connection, topics: list[str] | None = None) -> dict[str, Any]:
            """Receive ``event`` notifications for topics matching these patterns (default all)."""
            patterns = ["*"] if topics is None else topics
            if not isinstance(patterns, list) or not all(isinstance(t, str) and t for t in patterns):
                raise InvalidParams.for_field("topics", "must be a list of non-empty strings")
            _connection.topics.update(patterns)
            if _connection.topics:
                self._subscribers.add(_connection)
            return {"topics": sorted(_connection.topics)}

        def unsubscribe(_connection: _Connection, topics: list[str] | None = None) -> dict[str, Any]:
            """Stop receiving the given topic patterns (default all)."""
            if topics is None:
                _connection.topics.clear()
            else:
                _connection.topics.difference_update(topics)
            if not _connection.topics:
                self._subscribers.discard(_connection)
            return {"topics": sorted(_connection.topics)}

        def batch_run(steps: list[dict[str, Any]], full: bool = False) -> dict[str, Any]:
            """Run application methods in order on the main thread; stop at the first failure."""
            return run_batch(self.registry, steps, full)

        add("rpc.ping", ping, main_thread=False)
        add("rpc.hello", hello, main_thread=False)
        add("rpc.describe", describe, main_thread=False)
        add("rpc.cancel", cancel, main_thread=False)
        add("events.subscribe", subscribe, main_thread=False)
        add("events.unsubscribe", unsubscribe, main_thread=False)
        add("batch.run", batch_run)
