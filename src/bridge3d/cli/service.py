"""One supervised child process: how to run it (``ServiceSpec``), starting, stopping and killing it (``Service``)."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from bridge3d.rpc.hostmain import token_pipe

from .probes import HostEndpoint, host_answers, url_answers
from .state import StateDir

logger = logging.getLogger("bridge3d.supervisor")


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
