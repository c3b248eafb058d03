"""Jobs as objects that follow the work: ``Job`` (from a ``Client``) and ``AsyncJob`` (from an ``AsyncClient``).

``client.jobs.render(...)``, ``convert(...)`` and ``batch(...)`` answer at once with the queued job; ``job.wait()``
returns it finished, ``job.refresh()`` reads its state now, ``job.cancel()`` stops it, and ``job.outputs`` are its
files (``output.download(path)``).

``wait`` polls ``GET /api/v1/jobs/{id}``, every 0.1 s at first and less often as the job runs on (at most every
``poll_interval`` seconds), rather than listening to the WebSocket's ``job.*`` events: a poll cannot miss an
event that came before a subscription or while a connection was broken, it works wherever plain HTTP does
(proxies that refuse WebSockets included), it rides out a gateway restart (jobs are kept across one: polls that
fail to connect or are answered 503 go on for OUTAGE_GRACE_SECONDS) and every poll is one short request whose own
timeout is capped at what is left of the wait, so a wait never outlasts its ``timeout``. A job's progress changes
a few times a second at most, so polling sees what events would.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any, Self

from pydantic import PrivateAttr

from . import models
from ._transport import AsyncTransport, SyncTransport, path_part
from .errors import (
    BackendUnavailableError,
    Bridge3DError,
    GatewayUnreachableError,
    JobFailedError,
    RequestTimeoutError,
    WaitTimeoutError,
)

DEFAULT_POLL_INTERVAL = 1.0  # the longest pause between two polls, seconds
FIRST_POLL_PAUSE = 0.1  # a short job is seen finished soon after it finished
POLL_GROWTH = 1.5
FINISHED_STATES = ("succeeded", "failed", "cancelled")
# A poll that failed this way may work a moment later (the gateway restarting, briefly at capacity): the wait goes
# on while the polls have failed for no longer than OUTAGE_GRACE_SECONDS (a restart takes a few), then raises.
TRANSIENT_ERRORS = (GatewayUnreachableError, BackendUnavailableError, RequestTimeoutError)
OUTAGE_GRACE_SECONDS = 30.0


class _Polling:
    """The pauses and the deadline of one wait."""

    def __init__(self, job: models.JobInfo, timeout: float | None, poll_interval: float) -> None:
        self.job = job
        self.timeout = None if timeout is None else max(0.0, timeout)
        self.deadline = None if self.timeout is None else time.monotonic() + self.timeout
        self.longest = max(0.01, poll_interval)
        self.pause = min(FIRST_POLL_PAUSE, self.longest)
        self.failing_since: float | None = None
        self.seen: tuple[str, float, str] | None = None

    def expired(self) -> WaitTimeoutError:
        return WaitTimeoutError(self.job, self.timeout or 0.0)

    def remaining(self) -> float | None:
        """Seconds left (None: no deadline); WaitTimeoutError once none are."""
        if self.deadline is None:
            return None
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise self.expired()
        return left

    def next_pause(self) -> float:
        """How long to sleep before the next poll (never past the deadline)."""
        pause = self.pause
        self.pause = min(self.longest, self.pause * POLL_GROWTH)
        left = self.remaining()
        return pause if left is None else min(pause, left)

    def polled(self) -> None:
        self.failing_since = None

    def failed(self, error: Bridge3DError) -> None:
        """A poll failed transiently: raise it once the polls have failed for OUTAGE_GRACE_SECONDS (WaitTimeoutError
        instead when the deadline passed)."""
        now = time.monotonic()
        if self.deadline is not None and now >= self.deadline:
            raise self.expired() from error
        if self.failing_since is None:
            self.failing_since = now
        elif now - self.failing_since >= OUTAGE_GRACE_SECONDS:
            raise error

    def changed(self) -> bool:
        """Whether the job's state, progress or message changed since the last report (or none was made)."""
        now = (self.job.state, self.job.progress, self.job.message)
        if now == self.seen:
            return False
        self.seen = now
        return True


class _JobModel(models.JobInfo):
    """What Job and AsyncJob share: the fields of ``models.JobInfo``, the client they came from, their files."""

    _transport: SyncTransport | AsyncTransport | None = PrivateAttr(default=None)

    def _bind(self, transport: SyncTransport | AsyncTransport) -> Self:
        self._transport = transport
        for output in self.outputs:
            output._bind(transport)
        return self

    @property
    def done(self) -> bool:
        """Whether it ended: succeeded, failed or cancelled (``finished`` is when)."""
        return self.state in FINISHED_STATES

    @property
    def _path(self) -> str:
        return f"/api/v1/jobs/{path_part(self.id)}"

    def _adopt(self, data: Any) -> None:
        """Take the gateway's newer description of the job, in place (its outputs bound like the first ones)."""
        fresh = type(self).model_validate(data)
        self.__dict__.update(fresh.__dict__)
        object.__setattr__(self, "__pydantic_extra__", fresh.__pydantic_extra__)
        object.__setattr__(self, "__pydantic_fields_set__", set(fresh.__pydantic_fields_set__))
        if self._transport is not None:
            self._bind(self._transport)

    def _checked(self, check: bool) -> Self:
        if check and self.state != "succeeded":
            raise JobFailedError(self)
        return self


class Job(_JobModel):
    """A job of the gateway (``client.jobs.render/convert/batch/get/list``): the fields of ``models.JobInfo``
    (``id``, ``state``, ``progress``, ``message``, ``error``, ``result``, ``outputs``, ...) and what follows it.

    ``job.wait(timeout=600, on_progress=print)`` returns it finished (JobFailedError when it failed or was
    cancelled, unless ``check=False``); ``job.refresh()`` reads it anew; ``job.cancel()`` stops it; each of
    ``job.outputs`` downloads with ``output.download(path)``. Each method updates the job in place and returns it.
    """

    def _sync(self) -> SyncTransport:
        if not isinstance(self._transport, SyncTransport):
            raise TypeError(f"{self.id} is not bound to a Client (jobs from client.jobs are)")
        return self._transport

    def refresh(self) -> Self:
        """Read the job's state, progress, result and outputs now."""
        self._adopt(self._sync().request("GET", self._path))
        return self

    def cancel(self) -> Self:
        """Cancel it: a queued job never runs; a running one's worker is ended at once (also inside a render or a
        boolean). ConflictError when it already finished."""
        self._adopt(self._sync().request("DELETE", self._path))
        return self

    def wait(
        self,
        timeout: float | None = None,
        *,
        on_progress: Callable[[Job], object] | None = None,
        check: bool = True,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
    ) -> Self:
        """Block until the job finishes; returns it, updated.

        Args:
            timeout: seconds to wait at most (None: until it finishes; the gateway ends every job after its own
                ``timeout``); WaitTimeoutError, with the job still running, when they pass
            on_progress: called with the job when its state, progress or message changed (and once at the start)
            check: raise JobFailedError when the job failed or was cancelled (False: return it whatever its end)
            poll_interval: the longest pause between two polls, seconds (the first ones are shorter)
        """
        polling = _Polling(self, timeout, poll_interval)
        # One attempt per poll: a failed poll is retried by this loop, whose pauses keep to the deadline.
        transport = self._sync().scoped(max_retries=0)
        while True:
            if on_progress is not None and polling.changed():
                on_progress(self)
            if self.done:
                return self._checked(check)
            time.sleep(polling.next_pause())
            left = polling.remaining()
            try:
                data = transport.request("GET", self._path, limit=left)
            except TRANSIENT_ERRORS as error:
                polling.failed(error)
                continue
            polling.polled()
            self._adopt(data)


class AsyncJob(_JobModel):
    """The asyncio twin of Job (from ``AsyncClient().jobs``): ``await job.wait(...)``, ``await job.refresh()``,
    ``await job.cancel()``; its outputs download with ``await output.adownload(path)``."""

    def _async(self) -> AsyncTransport:
        if not isinstance(self._transport, AsyncTransport):
            raise TypeError(f"{self.id} is not bound to an AsyncClient (jobs from client.jobs are)")
        return self._transport

    async def refresh(self) -> Self:
        """Read the job's state, progress, result and outputs now."""
        self._adopt(await self._async().request("GET", self._path))
        return self

    async def cancel(self) -> Self:
        """Cancel it (see Job.cancel)."""
        self._adopt(await self._async().request("DELETE", self._path))
        return self

    async def wait(
        self,
        timeout: float | None = None,
        *,
        on_progress: Callable[[AsyncJob], object] | None = None,
        check: bool = True,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
    ) -> Self:
        """Wait until the job finishes; returns it, updated (see Job.wait). ``on_progress`` may be a coroutine
        function: it is awaited."""
        polling = _Polling(self, timeout, poll_interval)
        transport = self._async().scoped(max_retries=0)
        while True:
            if on_progress is not None and polling.changed():
                reported = on_progress(self)
                if inspect.isawaitable(reported):
                    await reported
            if self.done:
                return self._checked(check)
            await asyncio.sleep(polling.next_pause())
            left = polling.remaining()
            try:
                async with asyncio.timeout(left):  # the whole poll, not each of its socket operations
                    data = await transport.request("GET", self._path, limit=left)
            except TRANSIENT_ERRORS as error:
                polling.failed(error)
                continue
            except TimeoutError as timed_out:  # asyncio.timeout's: the deadline passed during the poll
                raise polling.expired() from timed_out
            polling.polled()
            self._adopt(data)


__all__ = ["DEFAULT_POLL_INTERVAL", "AsyncJob", "Job"]
