"""The state directory of one running stack: pid files, logs, workspaces, run and status files.

Layout (BRIDGE3D_STATE_DIR, default ``.state/``)::

    supervisor.pid  api.pid  blender.pid  freecad.pid     each holds one pid
    supervisor.lock                                       flock held by the running supervisor
    run.json        (mode 0600) ports, URLs and this run's host-server tokens
    status.json     the supervisor's view: phase, per-service state, pid, restarts, last reason
    logs/           supervisor.log, api.log, blender.log, freecad.log (appended across restarts);
                    workers/<app>-<worker>.log for each worker of the gateway's pools
    workspace/      blender/, freecad/ (renders, exports, saves, uploads of the default sessions)
    gateway.sqlite3 (mode 0600) the gateway's records: its workers (pids, ports, tokens), sessions and jobs
    pool/           <app>/<worker>/: the workspace of each session and job worker
    jobs/           <job>/files/: the files each job made

Processes are only ever signalled by the pid recorded here, and only when that pid still runs
something of ours (its command line mentions bridge3d), so a recycled pid is never killed.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge3d.processes import is_alive, is_ours

SUPERVISOR = "supervisor"
SERVICES = ("api", "blender", "freecad")
HOST_APPS = ("blender", "freecad")


@dataclass(frozen=True)
class StateDir:
    root: Path

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def run_file(self) -> Path:
        return self.root / "run.json"

    @property
    def status_file(self) -> Path:
        return self.root / "status.json"

    @property
    def gateway_store(self) -> Path:
        return self.root / "gateway.sqlite3"

    @property
    def lock_file(self) -> Path:
        return self.root / "supervisor.lock"

    def pid_file(self, name: str) -> Path:
        return self.root / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def workspace(self, app: str) -> Path:
        return self.root / "workspace" / app

    def prepare(self) -> None:
        """Create the directory tree; private to this user (it holds tokens, and the workspaces hold the user's
        models and renders)."""
        self.logs.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)
        for folder in (self.root / "workspace", *(self.workspace(app) for app in HOST_APPS)):
            folder.mkdir(mode=0o700, exist_ok=True)
            folder.chmod(0o700)

    # ------------------------------------------------------------------ pid files
    def write_pid(self, name: str, pid: int) -> None:
        write_atomically(self.pid_file(name), f"{pid}\n")

    def read_pid(self, name: str) -> int | None:
        try:
            return int(self.pid_file(name).read_text().strip())
        except (OSError, ValueError):
            return None

    def remove_pid(self, name: str, pid: int | None = None) -> None:
        """Remove a pid file (only if it still names ``pid``, when given)."""
        if pid is not None and self.read_pid(name) != pid:
            return
        with contextlib.suppress(FileNotFoundError):
            self.pid_file(name).unlink()

    def running_pid(self, name: str) -> int | None:
        """The recorded pid if that process is alive and is ours."""
        pid = self.read_pid(name)
        if pid is not None and is_alive(pid) and is_ours(pid):
            return pid
        return None

    # ------------------------------------------------------------------ json files
    def write_json(self, path: Path, data: Mapping[str, Any], *, private: bool = False) -> None:
        write_atomically(path, json.dumps(data, indent=2, sort_keys=True) + "\n", mode=0o600 if private else 0o644)

    def read_json(self, path: Path) -> dict[str, Any]:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}


def write_atomically(path: Path, text: str, *, mode: int = 0o644) -> None:
    """Readers never see half a file: write a temporary file in the same folder, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w") as file:
            file.write(text)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def terminate(pids: Mapping[str, int], grace: float, report: Callable[[str], None]) -> list[str]:
    """SIGTERM every process, SIGKILL what is still alive after ``grace`` seconds; return the names killed."""
    for pid in pids.values():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(is_alive(pid) for pid in pids.values()):
        time.sleep(0.1)
    killed = []
    for name, pid in pids.items():
        if is_alive(pid):
            report(f"{name} (pid {pid}) did not stop within {grace:g} s; killing it")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            killed.append(name)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(is_alive(pid) for pid in pids.values()):
        time.sleep(0.05)
    return killed


def pool_workers(state: StateDir) -> dict[str, int]:
    """The worker processes the gateway recorded that still run (a gateway killed with SIGKILL leaves them: each
    leads its own process group, so that a restarted gateway can take its sessions back)."""
    if not state.gateway_store.exists():
        return {}
    try:
        with contextlib.closing(sqlite3.connect(state.gateway_store)) as db:
            rows = db.execute("SELECT id, info FROM workers").fetchall()
    except sqlite3.Error:
        return {}
    pids = {}
    for worker_id, info in rows:
        pid = json.loads(info).get("pid")
        if isinstance(pid, int) and is_alive(pid) and is_ours(pid):
            pids[f"worker {worker_id}"] = pid
    return pids


def stop_stack(state: StateDir, grace: float, report: Callable[[str], None]) -> int:
    """Stop the supervisor first (so it restarts nothing), then whatever of its services is left; by pid only.

    Returns 0, also when nothing was running; 1 if a process survived SIGKILL.
    """
    supervisor = state.running_pid(SUPERVISOR)
    services = {name: pid for name in SERVICES if (pid := state.running_pid(name)) is not None}
    if supervisor is None and not services:
        orphans = pool_workers(state)
        if orphans:
            report("stopping workers left by a gateway that did not stop cleanly: " + ", ".join(orphans))
            terminate(orphans, grace, report)
        for name in (SUPERVISOR, *SERVICES):
            state.remove_pid(name)
        report(f"nothing is running (state directory {state.root})")
        return 0
    stopped: list[str] = []
    if supervisor is not None:
        report(f"stopping the supervisor (pid {supervisor}) and the services it runs")
        # The supervisor stops its children with the same grace; allow it that and a little more.
        terminate({SUPERVISOR: supervisor}, grace + 5, report)
        stopped.append(f"supervisor (pid {supervisor})")
        state.remove_pid(SUPERVISOR, supervisor)
        # A restart may have been in flight: re-read the pid files.
        services.update({name: pid for name in SERVICES if (pid := state.running_pid(name)) is not None})
    leftovers = {name: pid for name, pid in services.items() if is_alive(pid)}
    leftovers |= pool_workers(state)  # the gateway ends its workers as it stops; these outlived it
    if leftovers:
        report("stopping " + ", ".join(f"{name} (pid {pid})" for name, pid in leftovers.items()))
        terminate(leftovers, grace, report)
    stopped += [f"{name} (pid {pid})" for name, pid in services.items()]
    survivors = [f"{name} (pid {pid})" for name, pid in services.items() if is_alive(pid)]
    for name, pid in services.items():
        if not is_alive(pid):
            state.remove_pid(name, pid)
    if survivors:
        report("could not stop: " + ", ".join(survivors))
        return 1
    state.run_file.unlink(missing_ok=True)  # this run's tokens are of no use any more
    report("stopped " + ", ".join(stopped))
    return 0
