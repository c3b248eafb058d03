"""The worker pool of one application: host-server processes for sessions and jobs, with warm spares.

The pool's rule: every worker it started is in exactly one place — the spares, a session or a job — until
``end`` takes it out and stops its process; a worker whose process exits by itself is taken out by the watcher,
which tells the listeners (the session manager gives the session a new worker). Spares are refilled in the
background, so taking one never waits for the application to load unless the spares ran out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bridge3d.api.clients.base_client import BaseSocketClient
from bridge3d.api.config import BackendSettings
from bridge3d.api.store import Store

from .provisioner import Provisioner, Role, WorkerHandle, WorkerSpec, WorkerStartError

logger = logging.getLogger(__name__)

WATCH_INTERVAL = 0.5  # seconds between checks that every worker still runs
STOP_GRACE = 5.0  # seconds a worker gets to exit after SIGTERM before SIGKILL
MakeClient = Callable[[BackendSettings], BaseSocketClient]
ExitListener = Callable[["Worker", int], Awaitable[None]]


@dataclass(eq=False)
class Worker:
    """One host-server process and the gateway's pooled client to it."""

    id: str
    app: str
    handle: WorkerHandle
    client: BaseSocketClient
    workspace: Path
    started: float = field(default_factory=time.time)
    role: Role = "spare"
    owner: str | None = None  # the session's or the job's id
    ran_code: bool = False  # ran a user's code: never handed to another job

    def describe(self) -> dict[str, Any]:
        placement = self.handle.placement()  # where a cluster worker runs; {} for a local process
        return {
            "id": self.id,
            "role": self.role,
            "owner": self.owner,
            "pid": self.handle.pid,
            "started": self.started,
        } | ({"placement": placement} if placement else {})


class WorkerPool:
    def __init__(
        self,
        app: str,
        backend: BackendSettings,
        provisioner: Provisioner,
        state_dir: Path,
        store: Store,
        make_client: MakeClient,
    ) -> None:
        self.app = app
        self.backend = backend
        self.provisioner = provisioner
        self.store = store
        self.make_client = make_client
        self.workspaces = state_dir / "pool" / app
        self.logs = state_dir / "logs" / "workers"
        self.workers: dict[str, Worker] = {}
        self.spares: list[Worker] = []
        self.lost = 0  # workers whose process ended by itself (crash, kill -9, OOM)
        self.listeners: list[ExitListener] = []
        self._starting = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._watcher: asyncio.Task[None] | None = None
        self._closed = False

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self._watcher = asyncio.create_task(self._watch(), name=f"{self.app}-pool-watch")
        self.refill()

    async def close(self) -> None:
        """Stop every worker (the gateway is stopping)."""
        self._closed = True
        if self._watcher is not None:
            self._watcher.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(
            *(self.end(worker, keep_workspace=worker.role == "session") for worker in list(self.workers.values()))
        )
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _background(self, coroutine: Awaitable[Any], name: str) -> None:
        task = asyncio.ensure_future(coroutine)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ starting
    async def launch(
        self, role: Role, owner: str | None = None, *, workspace: Path | None = None, nice: int = 0
    ) -> Worker:
        """A new worker (not from the spares); ``workspace`` keeps a session's files when its worker is replaced."""
        worker_id = "w" + secrets.token_hex(5)
        folder = workspace or self.workspaces / worker_id
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        spec = WorkerSpec(self.app, str(folder), str(self.logs / f"{self.app}-{worker_id}.log"), nice, role)
        handle = await self.provisioner.launch(spec, self.backend.worker_start_timeout)
        worker = self.adopt(worker_id, handle, folder, role, owner)
        logger.info("%s worker %s started (pid %s) for %s %s", self.app, worker_id, handle.pid, role, owner or "")
        return worker

    def adopt(self, worker_id: str, handle: WorkerHandle, workspace: Path, role: Role, owner: str | None) -> Worker:
        """Take ``handle`` into the pool (a new worker, or one an earlier gateway started)."""
        settings = self.backend.model_copy(
            update={"host": handle.host, "port": handle.port, "token": SecretStr(handle.token)}
        )
        worker = Worker(worker_id, self.app, handle, self.make_client(settings), workspace, role=role, owner=owner)
        self.workers[worker_id] = worker
        self._record(worker)
        return worker

    def _record(self, worker: Worker) -> None:
        info = {**worker.handle.info(), "workspace": str(worker.workspace), "started": worker.started}
        self.store.save_worker(worker.id, self.app, worker.role, worker.owner, info)

    async def take(self, role: Role, owner: str | None, *, nice: int = 0) -> Worker:
        """A worker for a session or a job: a warm spare when there is one (and not niced differently)."""
        worker = self.spares.pop() if self.spares and not nice else None
        self.refill()
        if worker is None:
            return await self.launch(role, owner, nice=nice)
        worker.role, worker.owner = role, owner
        self._record(worker)
        return worker

    def refill(self) -> None:
        """Start spares in the background up to ``warm_spares``."""
        missing = self.backend.warm_spares - len(self.spares) - self._starting
        for _ in range(max(0, missing) if not self._closed else 0):
            self._starting += 1
            self._background(self._start_spare(), f"{self.app}-spare")

    async def _start_spare(self) -> None:
        try:
            worker = await self.launch("spare")
        except WorkerStartError as exc:
            logger.error("%s: cannot start a spare worker: %s", self.app, exc)
            return
        finally:
            self._starting -= 1
        self.spares.append(worker)

    # ------------------------------------------------------------------ ending
    async def end(self, worker: Worker, *, kill: bool = False, keep_workspace: bool = False) -> None:
        """Take ``worker`` out of the pool and stop its process (``kill``: at once, also inside C code)."""
        self._forget(worker)
        await worker.client.disconnect()
        worker.handle.release(keep_workspace)
        if kill:
            worker.handle.kill()
        else:
            worker.handle.terminate()
        self._background(self._reap(worker), f"{self.app}-reap-{worker.id}")
        if not keep_workspace and worker.workspace.is_relative_to(self.workspaces):
            shutil.rmtree(worker.workspace, ignore_errors=True)

    def _forget(self, worker: Worker) -> None:
        self.workers.pop(worker.id, None)
        with contextlib.suppress(ValueError):
            self.spares.remove(worker)
        self.store.delete_worker(worker.id)

    async def _reap(self, worker: Worker) -> None:
        """Wait for the exit (collecting the child), SIGKILL after the grace period."""
        deadline = time.monotonic() + STOP_GRACE
        while worker.handle.poll() is None:
            if time.monotonic() >= deadline:
                worker.handle.kill()
                deadline = float("inf")
            await asyncio.sleep(0.05)

    # ------------------------------------------------------------------ watching
    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(WATCH_INTERVAL)
            for worker in list(self.workers.values()):
                code = worker.handle.poll()
                if code is not None and worker.id in self.workers:
                    await self._lost(worker, code)

    async def _lost(self, worker: Worker, code: int) -> None:
        self.lost += 1
        logger.warning(
            "%s worker %s (%s %s) exited with status %d", self.app, worker.id, worker.role, worker.owner or "", code
        )
        self._forget(worker)
        await worker.client.disconnect()
        worker.handle.release(worker.role == "session")
        if worker.role != "session" and worker.workspace.is_relative_to(self.workspaces):
            shutil.rmtree(worker.workspace, ignore_errors=True)
        self.refill()
        for listener in list(self.listeners):
            try:
                await listener(worker, code)
            except Exception:
                logger.exception("%s: a listener failed on the exit of worker %s", self.app, worker.id)

    # ------------------------------------------------------------------ reporting
    def counts(self) -> dict[str, int]:
        counts = {"spare": 0, "session": 0, "job": 0}
        for worker in self.workers.values():
            counts[worker.role] += 1
        counts["starting"] = self._starting
        return counts
