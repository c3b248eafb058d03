"""The node side of cluster mode: a Ray actor that runs one host server on the node Ray placed it on.

The actor starts ``bridge3d <app>`` as the local provisioner does (the token in through a pipe, the port back
through another, a process group of its own, its output in a log rotated by size), with three differences that come
from running on a machine of its own:

- The host binds the node's address in the Ray cluster (``ray start --node-ip-address``, or the address Ray found),
  never 0.0.0.0, and always requires its token: it is reachable on the cluster's private network, by the gateway.
- Its workspace and log are in this node's folder, ``BRIDGE3D_NODE_DIR`` in the environment of ``ray start``
  (default ``<tmp>/bridge3d-node-<uid>``): ``workspaces/<app>/<name>`` and ``logs/<app>-<name>.log``. Nothing is
  shared with the gateway's disk; files move over file.read / file.write.
- The host dies with its actor (``PR_SET_PDEATHSIG``): Ray ending the actor, or the node going down, never leaves a
  host server running that no gateway knows of.

Each node also keeps ``workers.jsonl`` in its folder: a line per worker started, exited and released (what ran on
this node, and how it ended).

This module runs inside Ray on the nodes; the gateway imports it only in cluster mode (``ray.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import ray

from bridge3d import __version__
from bridge3d.logfiles import LogLimits, rotate_if_full

from .local import LocalWorker, host_command, launch_host, worker_environment
from .provisioner import WorkerStartError

NODE_DIR_VARIABLE = "BRIDGE3D_NODE_DIR"
JOURNAL = "workers.jsonl"
MONITOR_INTERVAL = 0.1  # seconds between looks at the host process (a cancelled render is seen ended this fast)
RELEASE_GRACE = 30.0  # seconds release() waits for a host that was asked to stop before it kills it

# The host server dies with the actor: the kernel sends it SIGKILL when the thread that started it (the actor's event
# loop, which lives as long as the actor) ends. util-linux's setpriv sets that and execs the host (a millisecond);
# without it, this Python prelude does the same (an interpreter start more, ~30 ms) and also checks that the actor
# did not end first. Without prctl (not Linux) the host outlives a killed actor, as a local worker does a gateway.
SETPRIV = shutil.which("setpriv")
ORPHAN_GUARD = """\
import ctypes, os, sys
prctl = getattr(ctypes.CDLL(None, use_errno=True), "prctl", None)
if prctl is not None:
    prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL
    if os.getppid() != int(sys.argv[1]):
        os._exit(1)  # the actor ended before the setting took hold
os.execvp(sys.argv[2], sys.argv[2:])
"""


def die_with_this_thread(command: list[str]) -> list[str]:
    """``command`` behind a prelude that has the kernel kill it when the thread that starts it ends."""
    if SETPRIV is not None:
        return [SETPRIV, "--pdeathsig", "KILL", "--", *command]
    return [sys.executable, "-c", ORPHAN_GUARD, str(os.getpid()), *command]


class HostStartError(Exception):
    """The host server did not start on this node; the gateway shows the message."""


def node_dir() -> Path:
    configured = os.environ.get(NODE_DIR_VARIABLE)
    return Path(configured) if configured else Path(tempfile.gettempdir()) / f"bridge3d-node-{os.getuid()}"


def host_environment() -> dict[str, str]:
    """The node's environment for a host server: no host tokens, and none of Ray's variables (its token path is
    one); a user's code runs in the host and has no business with the cluster."""
    return {key: value for key, value in worker_environment().items() if not key.startswith("RAY_")}


class HostActor:
    """Host servers on this node, one at a time. An async actor: waiting for the exit, stopping and describing run
    side by side. Between two host servers it may wait ("parked", holding its slot) for the gateway's next worker
    of its application: starting that one then skips the start of a Ray worker process (about half a second)."""

    def __init__(self, app: str, actor_name: str) -> None:
        self.app = app
        self.actor_name = actor_name
        self.root = node_dir()
        self.journal = self.root / JOURNAL
        self.workspace = self.root / "workspaces" / app
        self.log = self.root / "logs" / f"{app}-{actor_name}.log"
        self.host = ""
        self.worker: LocalWorker | None = None
        self.exit_code: int | None = None
        self.exited = asyncio.Event()
        self.started = time.time()
        self.hosts = 0  # host servers started so far: a parked actor expires only if no new one came
        self.parked = False
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self, workspace: str, token: str, nice: int, role: str, timeout: float) -> dict[str, Any]:
        """Start a host server with the workspace folder ``workspace`` and return where it listens, once it does."""
        if self.worker is not None and not self.exited.is_set():
            raise HostStartError(f"the actor {self.actor_name} already runs a host server")
        self.hosts += 1
        self.parked = False
        self.worker, self.exit_code, self.exited = None, None, asyncio.Event()
        self.workspace = self.root / "workspaces" / self.app / workspace
        self.log = self.root / "logs" / f"{self.app}-{workspace}.log"
        self.started = time.time()
        found_workspace = self.workspace.is_dir()
        self.workspace.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.host = ray.util.get_node_ip_address()
        command = host_command(self.app, self.host, str(self.workspace), nice)
        what = f"the {self.app} host server on {self.host}"
        try:
            # From the event loop's thread on purpose: the orphan guard ties the host to this thread.
            self.worker = await launch_host(
                command, token, str(self.log), host_environment(), timeout, what, wrap=die_with_this_thread
            )
        except WorkerStartError as exc:
            raise HostStartError(f"{exc} (its log on that node: {self.log})") from None
        self._background(self._watch(self.worker, self.exited))
        described = self._described()
        self._record("started", role=role, node_id=described["node_id"], found_workspace=found_workspace)
        return described | {"found_workspace": found_workspace}

    async def _watch(self, worker: LocalWorker, exited: asyncio.Event) -> None:
        while (code := worker.poll()) is None:  # poll also rotates the log while the host runs
            await asyncio.sleep(MONITOR_INTERVAL)
        self.exit_code = code
        exited.set()
        self._record("exited", exit_code=code, asked=worker.ended_as_asked())

    async def wait_exit(self) -> int:
        """Returns the host's exit status once it ended (the gateway keeps one such call pending per worker)."""
        exited = self.exited
        await exited.wait()
        assert self.exit_code is not None
        return self.exit_code

    async def stop(self, signum: int) -> None:
        """Signal the host's process group: SIGTERM asks, SIGKILL ends it at once (also inside a render)."""
        if self.worker is not None and not self.exited.is_set():
            if signum == signal.SIGKILL:
                self.worker.kill()
            else:
                self.worker.terminate()

    async def release(self, keep_workspace: bool, park_seconds: float = 0.0) -> bool:
        """Once the host has ended (killed after RELEASE_GRACE), delete its workspace unless kept; then exit, or wait
        up to ``park_seconds`` for the next host server (True: parked)."""
        if self.worker is not None and not self.exited.is_set():
            try:
                await asyncio.wait_for(self.exited.wait(), RELEASE_GRACE)
            except TimeoutError:
                self.worker.kill()
                await self.exited.wait()
        if not keep_workspace:
            shutil.rmtree(self.workspace, ignore_errors=True)
        if park_seconds > 0:
            self.parked = True
            self._record("parked", seconds=park_seconds)
            self._background(self._expire_later(self.hosts, park_seconds))
            return True
        self._record("released", kept_workspace=keep_workspace)
        ray.actor.exit_actor()
        return False  # not reached: exit_actor ends the call

    async def _expire_later(self, hosts: int, seconds: float) -> None:
        await asyncio.sleep(seconds)
        if self.hosts == hosts:  # no host server started since it parked: the slot goes back to the cluster
            ray.get_runtime_context().current_actor.expire.remote(hosts)

    async def expire(self, hosts: int) -> None:
        if self.hosts == hosts and (self.worker is None or self.exited.is_set()):
            self._record("released", kept_workspace=False)
            ray.actor.exit_actor()

    def _background(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def describe(self) -> dict[str, Any]:
        return self._described()

    async def cpu_seconds(self) -> float | None:
        return self.worker.cpu_seconds() if self.worker is not None else None

    def _described(self) -> dict[str, Any]:
        return {
            "actor": self.actor_name,
            "app": self.app,
            "host": self.host,
            "port": self.worker.port if self.worker is not None else None,
            "pid": self.worker.pid if self.worker is not None else None,
            "node_id": ray.get_runtime_context().get_node_id(),
            "workspace": str(self.workspace),
            "log": str(self.log),
            "started": self.started,
            "exit_code": self.exit_code,
            "parked": self.parked,
            "version": __version__,
        }

    def _record(self, event: str, **details: Any) -> None:
        entry = {
            "time": time.time(),
            "event": event,
            "actor": self.actor_name,
            "app": self.app,
            "workspace": self.workspace.name,
            "pid": self.worker.pid if self.worker is not None else None,
            **details,
        }
        # The journal is for people reading the node's history: a full disk must not stop a worker.
        with contextlib.suppress(OSError):
            rotate_if_full(self.journal, LogLimits.from_environment())
            with self.journal.open("a") as journal:
                journal.write(json.dumps(entry) + "\n")
