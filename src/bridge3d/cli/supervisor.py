"""Supervision: run the gateway and the host servers as child processes and bring crashed or hung ones back.

One watcher thread per service. A host server is restarted when

* its process exits (noticed within ``POLL_SECONDS``),
* it does not answer ``rpc.ping`` for ``hang_timeout`` seconds (frozen, or stuck in C code that holds the GIL:
  ping is answered by the host's IO thread, which needs the GIL), or
* ``rpc.describe`` reports its main thread busy with one command for longer than ``max_busy`` seconds: the
  supervisor first sends ``rpc.cancel`` (interrupts Python code run by ``code.execute``) and restarts only if the
  command is still running ``cancel_grace`` seconds later (a C call such as ``time.sleep`` cannot be interrupted).

The gateway is restarted when it exits. A restarted host comes back on the same port with the same token and
workspace, so the running gateway reconnects by itself: its pooled client opens fresh connections and its event
subscription reports ``backend.down`` / ``backend.up`` to its listeners. The supervisor logs the same two events.

Restarts wait ``backoff`` seconds, doubling per restart still inside ``restart_window`` (capped at
``backoff_max``); after ``max_restarts`` restarts inside the window the service is left down and reported failed.
A restart loses what was only in the application's memory (unsaved scenes and documents).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import IO, Any

from bridge3d.rpc.client import RpcClient
from bridge3d.rpc.errors import RpcError
from bridge3d.rpc.hostmain import token_pipe

from .state import SUPERVISOR, StateDir

logger = logging.getLogger("bridge3d.supervisor")

POLL_SECONDS = 0.2  # how often a watcher looks at its process (exit detection latency)
READY_PROBE_TIMEOUT = 2.0


@dataclass(frozen=True)
class SupervisionPolicy:
    """Limits of the supervisor; every field has a BRIDGE3D_* setting (see .env.example)."""

    ping_interval: float = 2.0
    ping_timeout: float = 5.0
    hang_timeout: float = 60.0
    max_busy: float = 600.0
    cancel_grace: float = 5.0
    max_restarts: int = 5
    restart_window: float = 300.0
    backoff: float = 0.5
    backoff_max: float = 30.0
    start_timeout: float = 120.0
    stop_grace: float = 10.0

    def restart_delay(self, recent_restarts: int) -> float:
        """Seconds to wait before the next restart, given how many happened inside the window."""
        return float(min(self.backoff * 2**recent_restarts, self.backoff_max))


@dataclass(frozen=True)
class HostEndpoint:
    host: str
    port: int
    token: str | None


@dataclass(frozen=True)
class ServiceSpec:
    """How to run one service and how to tell that it answers."""

    name: str
    description: str
    command: Sequence[str]
    env: Mapping[str, str]
    endpoint: HostEndpoint | None = None  # host servers: probed with rpc.ping / rpc.describe
    ready_url: str | None = None  # the gateway: ready when this URL answers 200
    # (option, secret): the secret goes through a pipe whose descriptor follows the option on the command line, so
    # it is never in the child's environment or command line (both readable by other programs of this user).
    secret: tuple[str, str] | None = None

    @property
    def is_host(self) -> bool:
        return self.endpoint is not None


class ServiceState(StrEnum):
    STARTING = "starting"
    UP = "up"
    RESTARTING = "restarting"
    FAILED = "failed"
    STOPPED = "stopped"


class StartupError(RuntimeError):
    """A service did not come up; the message names it and its log."""

    def __init__(self, message: str, service: str) -> None:
        super().__init__(message)
        self.service = service


EventSink = Callable[[str, dict[str, Any]], None]


def describe_exit(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"signal {signal.Signals(-code).name}"
        return f"signal {-code}"
    return f"exit code {code}"


def log_tail(path: os.PathLike[str] | str, lines: int = 20) -> str:
    try:
        with open(path, "rb") as file:
            file.seek(0, os.SEEK_END)
            file.seek(max(0, file.tell() - 64 * 1024))
            text = file.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


class HostProbe:
    """A kept-open, authenticated connection to one host server for pings (reopened after any failure)."""

    def __init__(self, endpoint: HostEndpoint, timeout: float) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self._client: RpcClient | None = None

    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """Call ``method``; raises OSError (no answer in time, connection refused or lost) or RpcError."""
        if self._client is None:
            self._client = RpcClient(
                self.endpoint.host, self.endpoint.port, token=self.endpoint.token, timeout=self.timeout
            )
        try:
            return self._client.call(method, params)
        except (OSError, RpcError):
            self.close()
            raise

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


class HostMonitor:
    """Decides, one probe per ``ping_interval``, whether a running host server must be restarted."""

    def __init__(self, name: str, endpoint: HostEndpoint, policy: SupervisionPolicy) -> None:
        self.name = name
        self.policy = policy
        self.probe = HostProbe(endpoint, policy.ping_timeout)
        self.reset()

    def reset(self) -> None:
        """Forget the previous process (after a restart)."""
        self.probe.close()
        now = time.monotonic()
        self.last_answer = now
        self.next_check = now
        self.cancelled_job: tuple[Any, ...] | None = None
        self.cancelled_at = 0.0

    def check(self) -> str | None:
        """The reason to restart, or None."""
        now = time.monotonic()
        if now < self.next_check:
            return None
        self.next_check = now + self.policy.ping_interval
        try:
            self.probe.call("rpc.ping")
            self.last_answer = time.monotonic()
            described = self.probe.call("rpc.describe")
        except (OSError, RpcError) as exc:
            silent = time.monotonic() - self.last_answer
            if silent >= self.policy.hang_timeout:
                return f"no answer to rpc.ping for {silent:.1f} s (limit {self.policy.hang_timeout:g} s): {exc}"
            logger.debug("%s: no answer to rpc.ping for %.1f s: %s", self.name, silent, exc)
            return None
        return self._check_busy(described if isinstance(described, dict) else {})

    def _check_busy(self, described: dict[str, Any]) -> str | None:
        since = described.get("since")
        if not described.get("busy") or not isinstance(since, int | float):
            self.cancelled_job = None
            return None
        busy_for = time.time() - since  # `since` is the host's wall clock; the host runs on this machine
        if busy_for < self.policy.max_busy:
            return None
        running, running_id = described.get("running"), described.get("running_id")
        job = (running, running_id, since)
        if self.cancelled_job != job:
            try:
                reply = self.probe.call("rpc.cancel", {"id": running_id})
            except (OSError, RpcError) as exc:
                reply = {"cancelled": False, "reason": str(exc)}
            logger.warning(
                "%s: main thread busy with %s for %.0f s (limit %g s); sent rpc.cancel: %s",
                self.name,
                running,
                busy_for,
                self.policy.max_busy,
                json.dumps(reply, default=str),
            )
            self.cancelled_job, self.cancelled_at = job, time.monotonic()
            return None
        if time.monotonic() - self.cancelled_at >= self.policy.cancel_grace:
            return (
                f"main thread busy with {running} for {busy_for:.0f} s (limit {self.policy.max_busy:g} s) "
                f"and rpc.cancel did not stop it within {self.policy.cancel_grace:g} s"
            )
        return None


def host_answers(endpoint: HostEndpoint) -> bool:
    try:
        with RpcClient(endpoint.host, endpoint.port, token=endpoint.token, timeout=READY_PROBE_TIMEOUT) as client:
            client.call("rpc.ping")
    except (OSError, RpcError):
        return False
    return True


def url_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=READY_PROBE_TIMEOUT) as response:  # noqa: S310 - our own URL
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


@dataclass
class Service:
    """One supervised child process and what the supervisor knows about it."""

    spec: ServiceSpec
    state_dir: StateDir
    process: subprocess.Popen[bytes] | None = None
    state: ServiceState = ServiceState.STOPPED
    restarts: int = 0
    recent_restarts: deque[float] = field(default_factory=deque)
    last_reason: str | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def log_path(self) -> str:
        return str(self.state_dir.log_file(self.name))

    def launch(self, why: str) -> None:
        with open(self.state_dir.log_file(self.name), "ab") as log:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            log.write(f"=== {stamp} bridge3d supervisor: {why}: {' '.join(self.spec.command)}\n".encode())
            log.flush()
            command = list(self.spec.command)
            pass_fds: tuple[int, ...] = ()
            if self.spec.secret is not None:
                option, secret = self.spec.secret
                secret_fd = token_pipe(secret)
                command, pass_fds = [*command, option, str(secret_fd)], (secret_fd,)
            try:
                # Its own process group: a Ctrl-C in the supervisor's terminal reaches only the supervisor,
                # which then stops the services itself instead of racing their own SIGINT handling.
                self.process = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=dict(self.spec.env),
                    process_group=0,
                    pass_fds=pass_fds,
                )
            finally:
                for descriptor in pass_fds:
                    os.close(descriptor)
        self.state_dir.write_pid(self.name, self.process.pid)
        logger.info("%s: started %s (pid %d, log %s)", self.name, self.spec.description, self.process.pid, log.name)

    def exit_code(self) -> int | None:
        return self.process.poll() if self.process is not None else None

    def answers(self) -> bool:
        if self.spec.endpoint is not None:
            return host_answers(self.spec.endpoint)
        if self.spec.ready_url is not None:
            return url_answers(self.spec.ready_url)
        return True

    def kill(self) -> None:
        """SIGKILL: used on a dead or hung process, which has nothing left to shut down cleanly."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._forget_pid()

    def stop_gracefully(self, grace: float) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                logger.warning("%s (pid %d) did not stop within %g s; killing it", self.name, self.process.pid, grace)
                self.kill()
        self._forget_pid()
        self.state = ServiceState.STOPPED

    def _forget_pid(self) -> None:
        if self.process is not None:
            self.state_dir.remove_pid(self.name, self.process.pid)


class Supervisor:
    """Start the services, watch them, restart them within limits, stop them all."""

    def __init__(
        self,
        specs: Sequence[ServiceSpec],
        state_dir: StateDir,
        policy: SupervisionPolicy,
        *,
        on_event: EventSink | None = None,
    ) -> None:
        self.state_dir = state_dir
        self.policy = policy
        self.services = {spec.name: Service(spec, state_dir) for spec in specs}
        self._on_event = on_event
        self._stop = threading.Event()
        self._status_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._lock_file: IO[str] | None = None
        self.phase = "starting"

    # ------------------------------------------------------------------ lifecycle
    def acquire(self) -> bool:
        """Take the state directory's supervisor lock; False if another supervisor holds it."""
        self.state_dir.prepare()
        lock_file = open(self.state_dir.lock_file, "a")  # noqa: SIM115 - held for the supervisor's lifetime
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.close()
            return False
        self._lock_file = lock_file
        self.state_dir.write_pid(SUPERVISOR, os.getpid())
        return True

    def release(self) -> None:
        self.state_dir.remove_pid(SUPERVISOR, os.getpid())
        if self._lock_file is not None:
            self._lock_file.close()  # closing drops the flock
            self._lock_file = None

    def request_stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def start(self) -> None:
        """Start every service and wait until each answers; StartupError names the first that did not."""
        for service in self.services.values():
            service.state = ServiceState.STARTING
            service.launch("starting")
        self._write_status()
        deadline = time.monotonic() + self.policy.start_timeout
        pending = list(self.services.values())
        while pending:
            for service in list(pending):
                code = service.exit_code()
                if code is not None:
                    raise StartupError(
                        f"{service.spec.description} exited during start-up with {describe_exit(code)}; "
                        f"its log is {service.log_path}",
                        service.name,
                    )
                if service.answers():
                    service.state = ServiceState.UP
                    pending.remove(service)
                    logger.info("%s: up (pid %d)", service.name, service.pid)
                    self._write_status()
            if not pending:
                break
            if time.monotonic() >= deadline:
                service = pending[0]
                raise StartupError(
                    f"{service.spec.description} did not answer within {self.policy.start_timeout:g} s; "
                    f"its log is {service.log_path}",
                    service.name,
                )
            if self._stop.wait(POLL_SECONDS):
                raise StartupError("stopped during start-up", pending[0].name)
        self.phase = "running"
        self._write_status()

    def watch(self) -> None:
        """Start one watcher thread per service."""
        for service in self.services.values():
            thread = threading.Thread(target=self._watch, args=(service,), name=f"watch-{service.name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def wait(self) -> None:
        """Block until request_stop()."""
        while not self._stop.wait(0.5):
            pass

    def shutdown(self) -> None:
        """Stop watching, then stop the gateway and the host servers (SIGTERM, SIGKILL after the grace)."""
        self._stop.set()
        self.phase = "stopping"
        self._write_status()
        for thread in self._threads:
            thread.join(timeout=self.policy.ping_timeout + READY_PROBE_TIMEOUT + 1)
        running = [service for service in self.services.values() if service.exit_code() is None]
        for service in running:
            logger.info("%s: stopping (pid %s)", service.name, service.pid)
        threads = [
            threading.Thread(target=service.stop_gracefully, args=(self.policy.stop_grace,)) for service in running
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for service in self.services.values():
            service.kill()  # reaps anything that died on its own and removes its pid file
            service.state = ServiceState.STOPPED
        self.phase = "stopped"
        self._write_status()
        logger.info("all services stopped")

    # ------------------------------------------------------------------ watching
    def _watch(self, service: Service) -> None:
        monitor = HostMonitor(service.name, service.spec.endpoint, self.policy) if service.spec.endpoint else None
        try:
            while not self._stop.wait(POLL_SECONDS):
                code = service.exit_code()
                if code is not None:
                    reason: str | None = f"exited with {describe_exit(code)}"
                elif monitor is not None:
                    reason = monitor.check()
                else:
                    reason = None
                if reason is None or self._stop.is_set():
                    continue
                if not self._restart(service, reason):
                    return
                if monitor is not None:
                    monitor.reset()
        except Exception:
            logger.exception("%s: the watcher failed; the service is no longer supervised", service.name)
        finally:
            if monitor is not None:
                monitor.probe.close()

    def _restart(self, service: Service, reason: str) -> bool:
        """Bring ``service`` back; False when the restart budget is spent or the supervisor stops."""
        logger.warning("%s: down: %s", service.name, reason)
        service.state, service.last_reason = ServiceState.RESTARTING, reason
        if service.spec.is_host:
            self._emit("backend.down", service, reason=reason)
        self._write_status()
        if service.exit_code() is None:
            logger.warning("%s: killing pid %s (a hung process cannot shut down cleanly)", service.name, service.pid)
        service.kill()
        while not self._stop.is_set():
            now = time.monotonic()
            while service.recent_restarts and now - service.recent_restarts[0] > self.policy.restart_window:
                service.recent_restarts.popleft()
            recent = len(service.recent_restarts)
            if recent >= self.policy.max_restarts:
                logger.error(
                    "%s: %d restarts within %g s; giving up, it stays down (last reason: %s; log %s)",
                    service.name,
                    recent,
                    self.policy.restart_window,
                    reason,
                    service.log_path,
                )
                service.state = ServiceState.FAILED
                if service.spec.is_host:
                    self._emit("backend.failed", service, reason=reason)
                self._write_status()
                return False
            delay = self.policy.restart_delay(recent)
            logger.warning(
                "%s: restarting in %.1f s (restart %d within %g s; at most %d)",
                service.name,
                delay,
                recent + 1,
                self.policy.restart_window,
                self.policy.max_restarts,
            )
            if self._stop.wait(delay):
                return False
            service.recent_restarts.append(time.monotonic())
            service.restarts += 1
            service.launch(f"restart {service.restarts} after: {reason}")
            self._write_status()
            problem = self._wait_until_answering(service)
            if problem is None:
                service.state = ServiceState.UP
                logger.warning("%s: back up (pid %d) after: %s", service.name, service.pid, reason)
                if service.spec.is_host:
                    self._emit("backend.up", service, reason=reason)
                self._write_status()
                return True
            if self._stop.is_set():
                return False
            reason = f"did not come back: {problem}"
            logger.warning("%s: %s", service.name, reason)
            service.last_reason = reason
            service.kill()
        return False

    def _wait_until_answering(self, service: Service) -> str | None:
        deadline = time.monotonic() + self.policy.start_timeout
        while not self._stop.is_set():
            code = service.exit_code()
            if code is not None:
                return f"exited during start-up with {describe_exit(code)}"
            if service.answers():
                return None
            if time.monotonic() >= deadline:
                return f"no answer within {self.policy.start_timeout:g} s"
            self._stop.wait(POLL_SECONDS)
        return "the supervisor is stopping"

    # ------------------------------------------------------------------ reporting
    def _emit(self, topic: str, service: Service, **data: Any) -> None:
        payload = {"backend": service.name, "pid": service.pid, "restarts": service.restarts, **data}
        logger.info("event %s %s", topic, json.dumps(payload, default=str))
        if self._on_event is not None:
            try:
                self._on_event(topic, payload)
            except Exception:
                logger.exception("event listener failed")

    def status(self) -> dict[str, Any]:
        return {
            "supervisor_pid": os.getpid(),
            "phase": self.phase,
            "updated": time.time(),
            "services": {
                name: {
                    "state": str(service.state),
                    "pid": service.pid,
                    "restarts": service.restarts,
                    "last_reason": service.last_reason,
                    "log": service.log_path,
                }
                for name, service in self.services.items()
            },
        }

    def _write_status(self) -> None:
        with self._status_lock:
            self.state_dir.write_json(self.state_dir.status_file, self.status())
