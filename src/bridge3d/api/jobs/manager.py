"""Jobs: queued in SQLite, run on job workers, cancelled by ending their worker, retried when a worker dies.

The rules, in one place:

- A job is ``queued`` until a job worker of its application is free (``<APP>__JOB_WORKERS`` run at once), then
  ``running``, then ``succeeded``, ``failed`` or ``cancelled``. Every change is written to the store first, so a
  restarted gateway loses nothing: it runs its queued jobs, and runs again (from the start) the ones that were
  running when it stopped.
- A job worker is a worker of the pool used only for jobs, at a lower CPU priority than sessions. It is reset
  (empty scene, empty workspace) before it serves another job; one that ran a user's code, failed, timed out or
  was cancelled is ended instead and the pool starts another.
- Cancel and timeout end the worker at once: a render or a boolean inside C code cannot be interrupted otherwise.
- A job whose worker dies under it starts again on a fresh worker, ``JOB_ATTEMPTS`` times at most.
- Inputs come from a session (a snapshot of its scene, a file of its workspace) over file.read / file.write, so a
  worker on another machine works the same; outputs are copied to ``jobs/<id>/files`` in the state directory.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import math
import re
import secrets
import shutil
import time
from collections.abc import AsyncIterator, Callable, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridge3d.api import services
from bridge3d.api.clients.base_client import BaseSocketClient
from bridge3d.api.clients.events import EventSubscription
from bridge3d.api.config import Settings
from bridge3d.api.errors import (
    CapacityError,
    GatewayError,
    JobNotFoundError,
    LimitExceededError,
    QueueFullError,
    StateConflictError,
    TooManyJobsError,
    as_gateway_error,
    backend_error,
)
from bridge3d.api.store import Store
from bridge3d.api.workers.pool import Worker, WorkerPool
from bridge3d.api.workers.sessions import DEFAULT_SESSION, SessionManager
from bridge3d.rpc.client import RpcConnectionError, RpcTimeout
from bridge3d.rpc.errors import RpcError

from . import plans
from .requests import JobRequest

logger = logging.getLogger(__name__)

FINISHED = ("succeeded", "failed", "cancelled")
STATES = ("queued", "running", *FINISHED)
BATCH_CHUNKS = 20  # a batch job runs in about this many batch.run calls, so its progress moves in 5 % steps
PROGRESS_SAVE_INTERVAL = 1.0  # seconds between writes of a running job's progress to the store
CODE_METHODS = ("code.execute",)
_SAMPLE = re.compile(r"Sample (\d+)\s*/\s*(\d+)")
JobListener = Callable[[str, "Job"], None]


class WorkerLost(Exception):
    """The job's worker ended (or its connection broke) under it."""


class JobFailed(Exception):
    """The job ran and failed for a reason of its own (a batch step): not retried."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None, result: Any = None) -> None:
        super().__init__(message)
        self.error = {"code": code, "message": message, "details": details or {}}
        self.result = result


@dataclass(eq=False)
class Job:
    id: str
    seq: int
    owner: str | None
    request: dict[str, Any]
    state: str = "queued"
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    progress: float = 0.0
    message: str = "waiting for a job worker"
    attempts: int = 0
    error: dict[str, Any] | None = None
    result: Any = None
    outputs: list[dict[str, Any]] = field(default_factory=list)
    cancel_requested: bool = False
    task: asyncio.Task[None] | None = None
    _saved_progress: float = 0.0

    PERSISTED = (
        "id", "seq", "owner", "request", "state", "created", "started", "finished", "progress", "message",
        "attempts", "error", "result", "outputs",
    )  # fmt: skip

    @property
    def kind(self) -> str:
        return str(self.request["kind"])

    def record(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.PERSISTED}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Job:
        return cls(**{name: record[name] for name in cls.PERSISTED if name in record})

    def describe(self) -> dict[str, Any]:
        """What the API shows: everything but the owner."""
        public = {name: getattr(self, name) for name in self.PERSISTED if name not in ("owner", "seq")}
        public["kind"] = self.kind
        public["app"] = self.request["app"]
        return public


class JobWorkers:
    """The job workers of one application: at most ``size`` at once, reused after a reset when that is safe."""

    def __init__(self, pool: WorkerPool, size: int, nice: int) -> None:
        self.pool = pool
        self.size = size
        self.nice = nice
        self._slots = asyncio.Semaphore(max(size, 1))
        self._idle: list[Worker] = []
        self._clean: set[str] = set()  # workers known to hold an empty scene and an empty workspace

    @asynccontextmanager
    async def worker(self, job: Job) -> AsyncIterator[Worker]:
        """A clean worker for ``job``; waits for a free slot. Ended afterwards unless the job left it reusable."""
        async with self._slots:
            worker = self._idle.pop() if self._idle else await self.pool.take("job", job.id, nice=self.nice)
            worker.role, worker.owner = "job", job.id
            reusable = False
            try:
                if worker.id not in self._clean and not await reset(worker):
                    raise WorkerLost(f"the {self.pool.app} worker could not be reset for the job")
                self._clean.discard(worker.id)
                yield worker
                reusable = not worker.ran_code
            except (JobFailed, GatewayError, RpcError):  # the job failed, the worker did not: reset, then reuse
                reusable = not worker.ran_code
                raise
            finally:
                if reusable and worker.handle.poll() is None and await reset(worker):
                    self._clean.add(worker.id)
                    worker.owner = None
                    self._idle.append(worker)
                else:
                    self._clean.discard(worker.id)
                    await self.pool.end(worker, kill=True)

    async def close(self) -> None:
        for worker in self._idle:
            await self.pool.end(worker)
        self._idle.clear()


async def reset(worker: Worker) -> bool:
    """Empty the worker's scene (or documents) and workspace; False when it cannot (then it is ended)."""
    client = worker.client
    try:
        if worker.app == "blender":
            await client.send_command("scene.clear", {"orphans": True})
        else:
            listed = await client.send_command("document.list")
            for document in listed["documents"]:
                await client.send_command("document.close", {"name": document["name"]})
        for item in (await client.send_command("file.list"))["files"]:
            await client.send_command("file.delete", {"name": item["name"]})
    except (RpcConnectionError, RpcTimeout, RpcError) as exc:
        logger.warning("%s worker %s: reset failed: %s", worker.app, worker.id, exc)
        return False
    return True


class JobManager:
    def __init__(
        self,
        settings: Settings,
        pools: dict[str, WorkerPool],
        sessions: SessionManager,
        store: Store,
        state_dir: Path,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.store = store
        self.root = state_dir / "jobs"
        self.jobs: dict[str, Job] = {}
        self.listeners: list[JobListener] = []
        self.workers = {
            app: JobWorkers(pool, pool.backend.job_workers, settings.job_nice) for app, pool in pools.items()
        }

    # ------------------------------------------------------------------ lifecycle
    def restore(self) -> None:
        """Take back the jobs an earlier run of the gateway recorded: queued ones wait again, running ones run again
        from the start (their workers were ended), finished ones stay for their results and files."""
        for record in self.store.jobs():
            job = Job.from_record(record)
            self.jobs[job.id] = job
            if job.state == "running":
                job.state, job.message, job.progress = (
                    "queued",
                    "the gateway restarted while it ran: running again",
                    0.0,
                )
                self._save(job)
            if job.state == "queued":
                self._start(job)
        self.forget_expired()

    def forget_expired(self) -> None:
        """Delete the finished jobs older than BRIDGE3D_JOB_RETENTION with their files (at start-up, and when jobs
        are submitted, listed or asked for: the store only grows with new jobs)."""
        oldest = time.time() - self.settings.job_retention
        for job in [job for job in self.jobs.values() if self._expired(job, oldest)]:
            del self.jobs[job.id]
            self.store.delete_job(job.id)
            shutil.rmtree(self.root / job.id, ignore_errors=True)
            logger.info("job %s (%s, %s) expired: deleted with its files", job.id, job.kind, job.state)

    @staticmethod
    def _expired(job: Job, oldest: float) -> bool:
        return job.state in FINISHED and (job.finished or 0) < oldest

    async def close(self) -> None:
        tasks = [job.task for job in self.jobs.values() if job.task is not None and not job.task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for workers in self.workers.values():
            await workers.close()

    # ------------------------------------------------------------------ the API
    def submit(self, request: JobRequest, owner: str | None) -> Job:
        self.forget_expired()
        self._check_capacity(owner)
        for app in self._apps(request):
            if self.workers[app].size == 0:
                setting = f"BRIDGE3D_{app.upper()}__JOB_WORKERS"
                raise CapacityError(f"Jobs on {app} are switched off ({setting}=0)", {"setting": setting})
        if request.session is not None or request.kind in ("render", "convert"):
            self.sessions.find(request.app, request.session or DEFAULT_SESSION, owner)  # 404 now, not when it runs
        job_id = "job_" + secrets.token_hex(8)
        job = Job(job_id, self.store.next_job_seq(), owner, request.record())
        self.jobs[job_id] = job
        self._save(job)
        self._emit("job.queued", job)
        self._start(job)
        return job

    def _apps(self, request: JobRequest) -> list[str]:
        if request.kind == "convert":
            return [stage.app for stage in plans.plan(request.spec["file"], request.spec["format"])]
        return [request.app]

    def _check_capacity(self, owner: str | None) -> None:
        unfinished = sum(1 for job in self.jobs.values() if job.owner == owner and job.state not in FINISHED)
        if unfinished >= self.settings.max_jobs_per_key:
            raise TooManyJobsError(
                f"This API key has {unfinished} unfinished jobs, the most BRIDGE3D_MAX_JOBS_PER_KEY allows",
                {"limit": self.settings.max_jobs_per_key, "setting": "BRIDGE3D_MAX_JOBS_PER_KEY"},
            )
        queued = sum(1 for job in self.jobs.values() if job.state == "queued")
        if queued >= self.settings.max_queued_jobs:
            raise QueueFullError(
                f"{queued} jobs are waiting, the most BRIDGE3D_MAX_QUEUED_JOBS allows; try again later",
                {"limit": self.settings.max_queued_jobs, "setting": "BRIDGE3D_MAX_QUEUED_JOBS"},
            )

    def find(self, job_id: str, owner: str | None) -> Job:
        job = self.jobs.get(job_id)
        if job is not None and self._expired(job, time.time() - self.settings.job_retention):
            self.forget_expired()
            job = None
        if job is None or job.owner != owner:
            raise JobNotFoundError(f"No job {job_id!r} (or it belongs to another API key)", {"job": job_id})
        return job

    def listed(self, owner: str | None, state: str | None = None) -> list[Job]:
        self.forget_expired()
        return [job for job in self.jobs.values() if job.owner == owner and (state is None or job.state == state)]

    def cancel(self, job: Job) -> Job:
        """Queued: it never runs. Running: its worker is ended at once (the pool replaces it)."""
        if job.state in FINISHED:
            raise StateConflictError(f"Job {job.id} already {job.state}", {"job": job.id, "state": job.state})
        job.cancel_requested = True
        if job.task is not None and not job.task.done():
            job.task.cancel()
        else:
            self._finish(job, "cancelled", message="cancelled")
        return job

    def output_path(self, job: Job, name: str) -> Path | None:
        if not any(output["name"] == name for output in job.outputs):
            return None
        path = self.root / job.id / "files" / name
        return path if path.is_file() else None

    # ------------------------------------------------------------------ running
    def _start(self, job: Job) -> None:
        job.task = asyncio.create_task(self._run(job), name=f"job-{job.id}")

    async def _run(self, job: Job) -> None:
        while True:
            try:
                await self._attempt(job)
            except asyncio.CancelledError:
                if job.cancel_requested:
                    self._finish(job, "cancelled", message="cancelled")
                    return
                raise  # the gateway stops: the record stays queued or running, and runs again at the next start
            except TimeoutError:
                timeout = self._timeout(job)
                self._finish(
                    job,
                    "failed",
                    error={
                        "code": "TIMEOUT",
                        "message": f"The job ran past its time limit of {timeout:g} s; its worker was ended",
                        "details": {"timeout": timeout, "setting": "timeout or BRIDGE3D_JOB_TIMEOUT"},
                    },
                )
            except WorkerLost as exc:
                if job.attempts < self.settings.job_attempts:
                    job.state, job.progress = "queued", 0.0
                    job.message = f"{exc}; trying again on a new worker (attempt {job.attempts + 1})"
                    self._save(job)
                    self._emit("job.retrying", job)
                    continue
                self._finish(
                    job,
                    "failed",
                    error={
                        "code": "WORKER_LOST",
                        "message": f"{exc}, {job.attempts} times (BRIDGE3D_JOB_ATTEMPTS)",
                        "details": {"attempts": job.attempts, "setting": "BRIDGE3D_JOB_ATTEMPTS"},
                    },
                )
            except JobFailed as exc:
                job.result = exc.result
                self._finish(job, "failed", error=exc.error)
            except Exception as exc:  # every failure ends as a failed job with its reason
                error = as_gateway_error(exc)
                if error is None:
                    logger.exception("job %s failed unexpectedly", job.id)
                    error = GatewayError(f"The job failed unexpectedly: {type(exc).__name__}")
                self._finish(
                    job, "failed", error={"code": error.code, "message": error.message, "details": error.details}
                )
            else:
                self._finish(job, "succeeded", message="done")
            return

    def _timeout(self, job: Job) -> float:
        return float(job.request.get("timeout") or self.settings.job_timeout)

    def _running(self, job: Job) -> None:
        job.attempts += 1
        job.state, job.started, job.message = "running", time.time(), "running"
        self._save(job)
        self._emit("job.started", job)

    async def _attempt(self, job: Job) -> None:
        kind = job.kind
        folder = self.root / job.id
        shutil.rmtree(folder, ignore_errors=True)  # a run again after a restart starts clean
        (folder / "files").mkdir(parents=True, exist_ok=True)
        job.outputs = []
        if kind == "render":
            await self._render(job)
        elif kind == "convert":
            await self._convert(job)
        else:
            await self._batch(job)

    async def _source(self, job: Job, app: str) -> BaseSocketClient:
        session = self.sessions.find(app, job.request.get("session") or DEFAULT_SESSION, job.owner)
        return await session.wait_client(self.sessions.pools[app].backend.worker_start_timeout)

    @asynccontextmanager
    async def _on_worker(self, job: Job, app: str) -> AsyncIterator[Worker]:
        """A job worker, the job marked running, and the job's time limit around the work."""
        async with self.workers[app].worker(job) as worker:
            if job.state != "running":
                self._running(job)
            try:
                async with asyncio.timeout(max(0.0, (job.started or time.time()) + self._timeout(job) - time.time())):
                    yield worker
            except (RpcConnectionError, RpcTimeout) as exc:
                code = await exit_status(worker)
                if code is not None:
                    raise WorkerLost(f"the {app} worker ended under the job (status {code})") from None
                raise backend_error(exc) from None

    async def _render(self, job: Job) -> None:
        source = await self._source(job, "blender")
        async with self._on_worker(job, "blender") as worker:
            snapshot = await self._snapshot_blender(job, source, worker)
            with self._progress_from_events(job, worker):
                job.result = await worker.client.send_command(
                    "render.image", job.request["params"], timeout=self._timeout(job)
                )
            await self._collect(job, worker, exclude={snapshot})

    async def _snapshot_blender(self, job: Job, source: BaseSocketClient, worker: Worker) -> str:
        """The session's scene as a copy (scene.save keeps the session's own file) with its images packed into it
        (the job's worker has its own workspace), opened on the job's worker."""
        saved = await source.send_command("scene.save", {"name": f"snapshot-{job.id}", "pack": True})
        try:
            await services.copy_file(source, saved["name"], worker.client, saved["name"])
        finally:
            with contextlib.suppress(RpcError, RpcConnectionError, RpcTimeout):
                await source.send_command("file.delete", {"name": saved["name"]})
        await worker.client.send_command("scene.open", {"name": saved["name"]})
        return str(saved["name"])

    async def _snapshot_freecad(self, job: Job, source: BaseSocketClient, worker: Worker) -> set[str]:
        """Every open document of the session as a copy, opened on the job's worker (the active one last)."""
        listed = (await source.send_command("document.list"))["documents"]
        names: set[str] = set()
        for index, document in enumerate(sorted(listed, key=lambda d: bool(d.get("active")))):
            saved = await source.send_command(
                "document.save", {"document": document["name"], "name": f"snapshot-{job.id}-{index}", "copy": True}
            )
            try:
                await services.copy_file(source, saved["name"], worker.client, saved["name"])
            finally:
                with contextlib.suppress(RpcError, RpcConnectionError, RpcTimeout):
                    await source.send_command("file.delete", {"name": saved["name"]})
            await worker.client.send_command("document.open", {"name": saved["name"]})
            names.add(saved["name"])
        return names

    async def _convert(self, job: Job) -> None:
        spec = job.request
        stages = plans.plan(spec["file"], spec["format"])
        source: BaseSocketClient | None = await self._source(job, spec["app"])
        local: Path | None = None  # the previous stage's output, on the gateway's disk
        name = spec["file"]
        for index, stage in enumerate(stages):
            async with self._on_worker(job, stage.app) as worker:
                job.message = (
                    f"stage {index + 1} of {len(stages)}: {stage.source_format} to {stage.target_format} ({stage.app})"
                )
                self._progress(job, index / len(stages))
                if source is not None:
                    await services.copy_file(source, name, worker.client, name)
                    source = None
                elif local is not None:
                    await send_file(local, worker.client, name)
                if stage.source_format == "FCSTD":
                    await worker.client.send_command("document.open", {"name": name})
                else:
                    await worker.client.send_command("file.import", {"name": name, "format": stage.source_format})
                target = plans.output_name(spec["file"], stage.target_format)
                exported = await worker.client.send_command(
                    "file.export",
                    {"format": stage.target_format, "output": target.rsplit(".", 1)[0]},
                    timeout=self._timeout(job),
                )
                if index == len(stages) - 1:
                    await self._collect(job, worker, only={exported["name"]})
                    job.result = {"file": exported["name"], "stages": [s.app for s in stages]}
                else:
                    local = self.root / job.id / "intermediate" / exported["name"]
                    await self._fetch(worker.client, exported["name"], local)
                    name = exported["name"]

    async def _batch(self, job: Job) -> None:
        spec = job.request
        app, steps = spec["app"], spec["steps"]
        source = await self._source(job, app) if spec.get("session") else None
        async with self._on_worker(job, app) as worker:
            if any(step["method"] in CODE_METHODS for step in steps):
                worker.ran_code = True  # whatever happens, this worker serves no other job
            inputs: set[str] = set()
            if source is not None and app == "blender":
                inputs = {await self._snapshot_blender(job, source, worker)}
            elif source is not None:
                inputs = await self._snapshot_freecad(job, source, worker)
            size = max(1, math.ceil(len(steps) / BATCH_CHUNKS))
            reports: list[dict[str, Any]] = []
            failed = False
            for start in range(0, len(steps), size):
                chunk = steps[start : start + size]
                if failed:
                    reports += [
                        {"index": start + i, "method": s["method"], "status": "skipped"} for i, s in enumerate(chunk)
                    ]
                    continue
                outcome = await worker.client.send_command(
                    "batch.run", {"steps": chunk, "full": spec["full"]}, timeout=self._timeout(job)
                )
                for report in outcome["steps"]:
                    reports.append({**report, "index": start + report["index"]})
                failed = bool(outcome["failed"])
                job.message = f"step {min(start + size, len(steps))} of {len(steps)}"
                self._progress(job, min(start + size, len(steps)) / len(steps))
            result = {
                "completed": sum(1 for r in reports if r["status"] == "success"),
                "failed": failed,
                "steps": reports,
            }
            await self._collect(job, worker, exclude=inputs)
            if failed:
                failure = next(r for r in reports if r["status"] == "error")
                raise JobFailed(
                    "BATCH_STEP_FAILED",
                    f"Step {failure['index']} failed: {failure['error'].get('message')}",
                    {"step": failure["index"], "step_error": failure["error"]},
                    result,
                )
            job.result = result

    # ------------------------------------------------------------------ files
    async def _collect(
        self,
        job: Job,
        worker: Worker,
        *,
        exclude: Collection[str] = (),
        only: Collection[str] | None = None,
    ) -> None:
        """Copy the files the job made on its worker into the job's folder (within BRIDGE3D_MAX_JOB_OUTPUT_BYTES)."""
        files = (await worker.client.send_command("file.list"))["files"]
        for item in files:
            name = item["name"]
            if name in exclude or (only is not None and name not in only):
                continue
            size = await self._fetch(worker.client, name, self.root / job.id / "files" / name)
            job.outputs.append({"name": name, "size": size, "url": f"/api/v1/jobs/{job.id}/files/{name}"})

    async def _fetch(self, client: BaseSocketClient, name: str, path: Path) -> int:
        limit = self.settings.max_job_output_bytes
        path.parent.mkdir(parents=True, exist_ok=True)
        written = 0
        with path.open("wb") as file:
            async for _, data in services.read_chunks(client, name):
                written += len(data)
                if written > limit:
                    raise LimitExceededError(
                        f"The job's files are larger than {limit} bytes (BRIDGE3D_MAX_JOB_OUTPUT_BYTES)",
                        {"limit": limit, "setting": "BRIDGE3D_MAX_JOB_OUTPUT_BYTES"},
                    )
                file.write(data)
        return written

    # ------------------------------------------------------------------ state and progress
    @contextlib.contextmanager
    def _progress_from_events(self, job: Job, worker: Worker) -> Any:
        """Render progress from the worker's render.progress events (Cycles and EEVEE say which sample)."""

        def on_event(params: dict[str, Any]) -> None:
            if params.get("topic") != "render.progress":
                return
            stats = str((params.get("data") or {}).get("stats", ""))
            found = _SAMPLE.search(stats)
            job.message = stats[-200:]
            self._progress(job, int(found.group(1)) / max(int(found.group(2)), 1) if found else job.progress)

        events = EventSubscription(lambda: worker.client, worker.app)
        events.add_listener(on_event)
        events.start()
        try:
            yield
        finally:
            stop = asyncio.ensure_future(events.stop())
            stop.add_done_callback(lambda _: None)

    def _progress(self, job: Job, fraction: float) -> None:
        job.progress = round(min(max(fraction, 0.0), 1.0), 4)
        self._emit("job.progress", job)
        if time.time() - job._saved_progress >= PROGRESS_SAVE_INTERVAL:
            self._save(job)

    def _finish(self, job: Job, state: str, *, message: str | None = None, error: dict[str, Any] | None = None) -> None:
        job.state, job.finished, job.error = state, time.time(), error
        job.message = message or (error or {}).get("message", state)
        if state == "succeeded":
            job.progress = 1.0
        self._save(job)
        self._emit(f"job.{state}", job)
        logger.info("job %s (%s) %s: %s", job.id, job.kind, state, job.message)

    def _save(self, job: Job) -> None:
        job._saved_progress = time.time()
        self.store.save_job(job.id, job.seq, job.state, job.owner, job.record())

    def _emit(self, topic: str, job: Job) -> None:
        for listener in list(self.listeners):
            try:
                listener(topic, job)
            except Exception:
                logger.exception("a job listener failed")

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATES, 0)
        for job in self.jobs.values():
            counts[job.state] += 1
        return counts


async def exit_status(worker: Worker) -> int | None:
    """The worker's exit status if it ended (waiting as long as its provisioner may take to see that), else None."""
    deadline = time.monotonic() + worker.handle.exit_notice
    while (code := worker.handle.poll()) is None and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return code


async def send_file(path: Path, client: BaseSocketClient, name: str) -> None:
    """Upload a file from the gateway's disk into a worker's workspace (file.write in chunks)."""
    offset = 0
    with path.open("rb") as file:
        chunk = file.read(services.UPLOAD_CHUNK_BYTES)
        while True:
            following = file.read(services.UPLOAD_CHUNK_BYTES) if chunk else b""
            await client.send_command(
                "file.write",
                {
                    "name": name,
                    "data": base64.b64encode(chunk).decode("ascii"),
                    "offset": offset,
                    "final": not following,
                },
            )
            offset += len(chunk)
            if not following:
                return
            chunk = following
