"""Workers as local subprocesses: ``bridge3d <app> --port 0`` in its own process group.

The token goes in through a pipe (``--token-fd``) and the port comes back through another (``--ready-fd``), so
neither is in a command line or an environment. Each worker leads its own process group (``start_new_session``):
a kill reaches whatever it started, and a gateway that is restarted by its supervisor finds its session workers
still running (``load``).

Each worker's output goes to its log (``logs/workers/<app>-<worker>.log``), rotated by size while it runs (checked
whenever the pool polls it; the limits come from the supervisor, ``bridge3d.logfiles``). The log is deleted once a
worker the gateway stopped has ended as asked; a worker that ended by itself (a crash) or badly keeps it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bridge3d.logfiles import LogLimits, remove_log, rotate_if_full
from bridge3d.processes import cpu_seconds, is_alive, is_ours
from bridge3d.rpc.hostmain import token_pipe

from .provisioner import WorkerHandle, WorkerSpec, WorkerStartError

EXIT_UNKNOWN = 255  # the exit status of a worker that is not our child (started by an earlier gateway)
TOKEN_ENVIRONMENT = ("BRIDGE3D_BLENDER_", "BRIDGE3D_FREECAD_")


def worker_environment() -> dict[str, str]:
    """The gateway's environment without host-server tokens (a worker gets its own through a pipe)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not (key.endswith("TOKEN") and key.startswith(TOKEN_ENVIRONMENT))
    }
    env["PYTHONUNBUFFERED"] = "1"
    return env


class LocalWorker:
    """A host server started by this provisioner (``process`` set) or found again after a restart (pid only)."""

    exit_notice = 1.0  # an exit is seen at the next poll

    def __init__(
        self,
        pid: int,
        port: int,
        token: str,
        process: subprocess.Popen[bytes] | None = None,
        log_path: str | None = None,
        log_limits: LogLimits | None = None,
    ) -> None:
        self.host = "127.0.0.1"
        self.port = port
        self.token = token
        self._pid = pid
        self._process = process
        self._exit: int | None = None
        self._log = Path(log_path) if log_path else None
        self._log_limits = log_limits or LogLimits.from_environment()
        self._stop_asked = False  # terminate() or kill() was called: an exit after that is the end we asked for

    @property
    def pid(self) -> int | None:
        return self._pid

    def poll(self) -> int | None:
        if self._exit is not None:
            return self._exit
        if self._process is not None:
            self._exit = self._process.poll()
        elif not (is_alive(self._pid) and is_ours(self._pid)):
            self._exit = EXIT_UNKNOWN
        if self._log is not None:
            if self._exit is None:
                rotate_if_full(self._log, self._log_limits)
            else:
                if self.ended_as_asked():
                    remove_log(self._log, self._log_limits)
                self._log = None  # removed, or kept for a look at what went wrong: the worker is done with it
        return self._exit

    def ended_as_asked(self) -> bool:
        """It ended after the pool asked it to (SIGTERM, or SIGKILL for a cancelled job), with no error of its own.
        A worker found again after a gateway restart leaves no status to read: its end, when asked for, counts."""
        if not self._stop_asked or self._exit is None:
            return False
        if self._process is None:
            return self._exit == EXIT_UNKNOWN
        return self._exit in (0, -signal.SIGTERM, -signal.SIGKILL)

    def _signal_group(self, signum: int) -> None:
        if self.poll() is not None and self._process is not None:
            return  # it had ended by itself: not the end asked for
        self._stop_asked = True
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._pid, signum)
        if self._process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=0)  # reap at once if it already ended

    def terminate(self) -> None:
        self._signal_group(signal.SIGTERM)

    def kill(self) -> None:
        self._signal_group(signal.SIGKILL)

    def cpu_seconds(self) -> float | None:
        return cpu_seconds(self._pid)

    def info(self) -> dict[str, Any]:
        info = {"provisioner": LocalProvisioner.name, "pid": self._pid, "port": self.port, "token": self.token}
        return info | ({"log": str(self._log)} if self._log is not None else {})

    def placement(self) -> dict[str, Any]:
        return {}

    def release(self, keep_workspace: bool) -> None:
        """Nothing to free: the pool deletes the workspace on this machine itself."""


class LocalProvisioner:
    name = "local"

    async def launch(self, spec: WorkerSpec, timeout: float) -> WorkerHandle:
        command = host_command(spec.app, "127.0.0.1", spec.workspace, spec.nice)
        token = secrets.token_urlsafe(24)
        return await launch_host(command, token, spec.log_path, worker_environment(), timeout, f"the {spec.app} worker")

    def load(self, info: dict[str, Any]) -> WorkerHandle | None:
        try:
            pid, port, token = int(info["pid"]), int(info["port"]), str(info["token"])
        except (KeyError, TypeError, ValueError):
            return None
        log = info.get("log")
        alive = is_alive(pid) and is_ours(pid)
        return LocalWorker(pid, port, token, log_path=log if isinstance(log, str) else None) if alive else None


def host_command(app: str, host: str, workspace: str, nice: int) -> list[str]:
    """``bridge3d <app>`` bound to ``host`` on a port the system picks, niced (launch_host adds the pipes)."""
    niced = ["nice", "-n", str(nice)] if nice else []
    listening = ["--host", host, "--port", "0", "--workspace", workspace]
    return [*niced, sys.executable, "-m", "bridge3d.cli.main", app, *listening]


async def launch_host(
    command: list[str],
    token: str,
    log_path: str | None,
    env: dict[str, str],
    timeout: float,
    what: str,
    wrap: Callable[[list[str]], list[str]] | None = None,
) -> LocalWorker:
    """Start ``command`` as a host server in a process group of its own, hand it ``token`` through a pipe and wait
    (up to ``timeout``) for the port it announces on another; ``wrap`` may put a prelude in front of the command.
    WorkerStartError says why ``what`` did not start; a half-started host is killed, never left running."""
    token_fd = token_pipe(token)
    ready_read, ready_write = os.pipe()
    argv = [*command, "--token-fd", str(token_fd), "--ready-fd", str(ready_write)]
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115 - closed below
    try:
        process = subprocess.Popen(
            wrap(argv) if wrap is not None else argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            pass_fds=(token_fd, ready_write),
            start_new_session=True,
        )
    except OSError as exc:
        os.close(ready_read)
        raise WorkerStartError(f"cannot start {what}: {exc}") from None
    finally:
        os.close(token_fd)
        os.close(ready_write)  # the child's copy is the only one left: its exit ends our read
        if not isinstance(log, int):
            log.close()
    worker = LocalWorker(process.pid, 0, token, process, log_path)
    reader = asyncio.ensure_future(asyncio.to_thread(read_line, ready_read))
    try:
        announced = await asyncio.wait_for(asyncio.shield(reader), timeout)
    except BaseException as exc:  # timed out, or the caller stops: the half-started host goes
        worker.kill()
        await asyncio.shield(reader)  # returns at once: the killed child closed the pipe
        if isinstance(exc, TimeoutError):
            raise WorkerStartError(f"{what} did not listen within {timeout:g} s") from None
        raise
    finally:
        os.close(ready_read)
    if not announced.strip().isdigit():
        worker.kill()
        code = await asyncio.to_thread(process.wait)
        raise WorkerStartError(f"{what} exited with status {code} before it listened")
    worker.port = int(announced)
    return worker


def read_line(fd: int) -> str:
    """Everything written to ``fd`` until a newline or the writer's close (a blocking read, for a thread)."""
    data = b""
    while not data.endswith(b"\n"):
        piece = os.read(fd, 64)
        if not piece:
            break
        data += piece
    return data.decode("ascii", "replace")
