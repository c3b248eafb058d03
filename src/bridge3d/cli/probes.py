"""Is a service alive and well? ``rpc.ping`` / ``rpc.describe`` on a kept-open connection to a host server, a URL for
the gateway, and ``HostMonitor``, which decides from them when a running host must be restarted."""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bridge3d.rpc.client import RpcClient
from bridge3d.rpc.errors import RpcError

from .policy import SupervisionPolicy

logger = logging.getLogger("bridge3d.supervisor")

READY_PROBE_TIMEOUT = 2.0
MIN_CPU_SHARE = 0.05  # CPU seconds per second below which a busy or silent process counts as making no progress


@dataclass(frozen=True)
class HostEndpoint:
    host: str
    port: int
    token: str | None


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
    """Decides, one probe per ``ping_interval``, whether a running host server must be restarted.

    A host that works is never restarted for taking long: a long OpenCASCADE boolean holds the GIL (its IO thread
    cannot answer pings) and a long render keeps the main thread busy, but both use CPU. A host silent for the hang
    limit is restarted only if it used (almost) no CPU for all of it. A command busy past ``max_busy`` gets an
    rpc.cancel (which stops a runaway script); if it still runs after ``cancel_grace`` and uses no CPU, the host is
    restarted. ``cpu_seconds`` gives
    the process's CPU time (None when unknown: then silence or busyness alone decide, as before).
    """

    def __init__(
        self,
        name: str,
        endpoint: HostEndpoint,
        policy: SupervisionPolicy,
        cpu_seconds: Callable[[], float | None] = lambda: None,
    ) -> None:
        self.name = name
        self.policy = policy
        self.probe = HostProbe(endpoint, policy.ping_timeout)
        self.cpu_seconds = cpu_seconds
        self.reset()

    def reset(self) -> None:
        """Forget the previous process (after a restart)."""
        self.probe.close()
        now = time.monotonic()
        self.last_answer = now
        self.next_check = now
        self.cancelled_job: tuple[Any, ...] | None = None
        self.cancelled_at = 0.0
        self.last_progress = now  # when the process's CPU time last moved
        self.last_cpu: float | None = None
        self.spared: object = None  # what a restart was last held back for (logged once each)

    def _note_cpu(self, now: float) -> None:
        cpu = self.cpu_seconds()
        if cpu is None or self.last_cpu is None or cpu - self.last_cpu >= MIN_CPU_SHARE * self.policy.ping_interval:
            self.last_progress = now
        self.last_cpu = cpu

    def _working(self, limit: float) -> bool:
        """The process used CPU within the last ``limit`` seconds (always False when its CPU time is unknown)."""
        return self.last_cpu is not None and time.monotonic() - self.last_progress < limit

    def _spare(self, reason: str, key: object) -> None:
        """Log once per ``key`` (a command, or a silence) that a restart was held back."""
        if self.spared != key:
            logger.warning("%s: %s, but it is using CPU: left to work", self.name, reason)
        self.spared = key

    def check(self) -> str | None:
        """The reason to restart, or None."""
        now = time.monotonic()
        if now < self.next_check:
            return None
        self.next_check = now + self.policy.ping_interval
        self._note_cpu(now)
        try:
            self.probe.call("rpc.ping")
            self.last_answer = time.monotonic()
            described = self.probe.call("rpc.describe")
        except (OSError, RpcError) as exc:
            silent = time.monotonic() - self.last_answer
            if silent >= self.policy.hang_timeout:
                if self._working(self.policy.hang_timeout):
                    reason = f"no answer to rpc.ping for {silent:.0f} s (a native operation may hold the GIL)"
                    self._spare(reason, ("silent", self.last_answer))
                    return None
                return f"no answer to rpc.ping for {silent:.1f} s (limit {self.policy.hang_timeout:g} s): {exc}"
            logger.debug("%s: no answer to rpc.ping for %.1f s: %s", self.name, silent, exc)
            return None
        return self._check_busy(described if isinstance(described, dict) else {})

    def _check_busy(self, described: dict[str, Any]) -> str | None:
        since = described.get("since")
        if not described.get("busy") or not isinstance(since, int | float):
            self.cancelled_job = None
            self.spared = None
            return None
        busy_for = time.time() - since  # `since` is the host's wall clock; the host runs on this machine
        if busy_for < self.policy.max_busy:
            return None
        running, running_id = described.get("running"), described.get("running_id")
        job = (running, running_id, since)
        if self.cancelled_job != job:
            # rpc.cancel interrupts Python code (a runaway script); a render or a boolean in C ignores it.
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
        if time.monotonic() - self.cancelled_at < self.policy.cancel_grace:
            return None
        if self._working(self.policy.cancel_grace):
            self._spare(f"main thread still busy with {running} after rpc.cancel", job)
            return None
        return (
            f"main thread busy with {running} for {busy_for:.0f} s (limit {self.policy.max_busy:g} s), "
            f"rpc.cancel did not stop it within {self.policy.cancel_grace:g} s, and it uses no CPU"
        )


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
