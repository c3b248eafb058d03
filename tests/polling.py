"""Waiting for real work in the tests: poll until something is true, or a job has finished."""

from __future__ import annotations

import time
from typing import Any

import httpx

from envelope import ok

PATIENCE = 180.0  # seconds for anything that waits on real work on a loaded 2-core machine
FINISHED = ("succeeded", "failed", "cancelled")


def wait_until(condition: Any, what: str, timeout: float = PATIENCE, every: float = 0.1) -> Any:
    """Poll ``condition()`` until it returns something truthy; that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(every)


def wait_job(api: httpx.Client, job_id: str, timeout: float = PATIENCE) -> dict[str, Any]:
    """The job once it finished."""

    def finished() -> dict[str, Any] | None:
        job: dict[str, Any] = ok(api.get(f"/api/v1/jobs/{job_id}"))
        return job if job["state"] in FINISHED else None

    result: dict[str, Any] = wait_until(finished, f"job {job_id} to finish", timeout)
    return result
