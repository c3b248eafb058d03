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

Every log the supervisor writes or hands to a service (``logs/supervisor.log``, ``api.log``, ``blender.log``,
``freecad.log``) is rotated by size (``policy.logs``; ``bridge3d.logfiles``) by one more thread.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from bridge3d.logfiles import CHECK_SECONDS, rotate_if_full
from bridge3d.processes import cpu_seconds

from .policy import SupervisionPolicy
from .probes import READY_PROBE_TIMEOUT, HostMonitor
from .service import Service, ServiceSpec, ServiceState, StartupError, describe_exit
from .state import SUPERVISOR, StateDir

logger = logging.getLogger("bridge3d.supervisor")

POLL_SECONDS = 0.2  # how often a watcher looks at its process (exit detection latency)
EventSink = Callable[[str, dict[str, Any]], None]


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
        """Start one watcher thread per service, and the thread that keeps the logs within their size."""
        for service in self.services.values():
            thread = threading.Thread(target=self._watch, args=(service,), name=f"watch-{service.name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        rotator = threading.Thread(target=self._rotate_logs, name="rotate-logs", daemon=True)
        rotator.start()
        self._threads.append(rotator)

    def log_files(self) -> list[Path]:
        return [self.state_dir.log_file(name) for name in (SUPERVISOR, *self.services)]

    def _rotate_logs(self) -> None:
        while not self._stop.wait(CHECK_SECONDS):
            for path in self.log_files():
                if rotate_if_full(path, self.policy.logs):
                    logger.info("rotated %s at %d bytes", path.name, self.policy.logs.max_bytes)

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
        monitor = (
            HostMonitor(service.name, service.spec.endpoint, self.policy, lambda: service_cpu_seconds(service))
            if service.spec.endpoint
            else None
        )
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


def service_cpu_seconds(service: Service) -> float | None:
    pid = service.pid
    return cpu_seconds(pid) if pid is not None else None
