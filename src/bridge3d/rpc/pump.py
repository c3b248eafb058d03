"""The main-thread pump: the one place application commands run.

bpy and FreeCAD are not thread-safe, so the IO thread never calls them. It
queues a job; whoever owns the main thread runs it: ``serve_forever()``
blocks on the queue (headless), ``drain()`` is called from a Blender timer
or a Qt timer (GUI). Both share ``_run_one``.
"""

from __future__ import annotations

import ctypes
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .dispatcher import Method, invoke
from .errors import Cancelled, RpcError

logger = logging.getLogger(__name__)

Outcome = tuple[Any, RpcError | None]


class ExecutionCancelled(BaseException):
    """Raised asynchronously inside cancellable user code by rpc.cancel.

    A BaseException so that a user's ``except Exception`` cannot swallow it.
    """


@dataclass
class Job:
    method: Method
    params: dict[str, Any]
    request_id: Any
    on_done: Callable[[Any, RpcError | None], None]
    queued_at: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class BusyState:
    busy: bool
    method: str | None
    request_id: Any
    since: float | None  # wall-clock seconds since the epoch
    queued: int


_STOP = object()


class MainThreadPump:
    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Job | object] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._current: Job | None = None
        self._current_since: float | None = None
        self._runner_thread_id: int | None = None
        self._stopped = threading.Event()

    def submit(self, job: Job) -> None:
        self._jobs.put(job)

    def state(self) -> BusyState:
        with self._lock:
            job = self._current
            return BusyState(
                busy=job is not None,
                method=job.method.name if job else None,
                request_id=job.request_id if job else None,
                since=self._current_since,
                queued=self._jobs.qsize(),
            )

    def serve_forever(self) -> None:
        """Run jobs on the calling thread until stop() is called (headless mode)."""
        while not self._stopped.is_set():
            item = self._jobs.get()
            if item is _STOP:
                break
            assert isinstance(item, Job)
            self._run_one(item)

    def drain(self, budget_seconds: float = 0.02) -> int:
        """Run queued jobs for at most about ``budget_seconds`` (GUI timers)."""
        ran = 0
        deadline = time.monotonic() + budget_seconds
        while not self._stopped.is_set():
            try:
                item = self._jobs.get_nowait()
            except queue.Empty:
                break
            if item is _STOP:
                break
            assert isinstance(item, Job)
            self._run_one(item)
            ran += 1
            if time.monotonic() >= deadline:
                break
        return ran

    def stop(self) -> None:
        self._stopped.set()
        self._jobs.put(_STOP)

    def cancel(self, request_id: Any = None) -> dict[str, Any]:
        """Interrupt the running job if it is cancellable (and matches ``request_id``)."""
        with self._lock:
            job = self._current
            if job is None:
                return {"cancelled": False, "reason": "nothing is running"}
            if request_id is not None and job.request_id != request_id:
                return {"cancelled": False, "reason": "that request is not the one running", "running": job.method.name}
            if not job.method.cancellable:
                return {
                    "cancelled": False,
                    "reason": f"{job.method.name} cannot be interrupted",
                    "running": job.method.name,
                }
            assert self._runner_thread_id is not None
            _raise_in_thread(self._runner_thread_id, ExecutionCancelled)
            return {"cancelled": True, "method": job.method.name, "id": job.request_id}

    def _run_one(self, job: Job) -> None:
        result: Any = None
        error: RpcError | None = None
        try:
            with self._lock:
                self._current = job
                self._current_since = time.time()
                self._runner_thread_id = threading.get_ident()
            try:
                result = invoke(job.method, job.params)
            except RpcError as exc:
                error = exc
            except ExecutionCancelled:
                error = Cancelled(f"{job.method.name} was cancelled by rpc.cancel")
            finally:
                with self._lock:
                    self._current = None
                    self._current_since = None
                    # A cancel that arrived as the job finished must not hit the pump itself.
                    _raise_in_thread(threading.get_ident(), None)
        except ExecutionCancelled:
            error = Cancelled(f"{job.method.name} was cancelled by rpc.cancel")
        try:
            job.on_done(result, error)
        except Exception:
            logger.exception("delivering the outcome of %s failed", job.method.name)


def _raise_in_thread(thread_id: int, exception: type[BaseException] | None) -> None:
    """Schedule ``exception`` in another thread (None clears a pending one)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exception) if exception else ctypes.c_void_p(0)
    )
