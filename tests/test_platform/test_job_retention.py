"""Finished jobs are kept for BRIDGE3D_JOB_RETENTION, then deleted with their files; unfinished ones never are."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, cast

import pytest

from bridge3d.api.config import Settings
from bridge3d.api.errors import JobNotFoundError
from bridge3d.api.jobs.manager import Job, JobManager
from bridge3d.api.store import Store

RETENTION = 3600.0


def recorded(store: Store, root: Path, job_id: str, state: str, finished: float | None) -> None:
    job = Job(job_id, store.next_job_seq(), None, {"kind": "batch", "app": "freecad"}, state=state, finished=finished)
    store.save_job(job.id, job.seq, job.state, job.owner, job.record())
    (root / "jobs" / job_id / "files").mkdir(parents=True)
    (root / "jobs" / job_id / "files" / "out.stl").write_bytes(b"solid\n")


def test_old_finished_jobs_go_with_their_files_at_start_up(tmp_path: Path) -> None:
    store = Store(tmp_path / "gateway.sqlite3")
    now = time.time()
    recorded(store, tmp_path, "job_old", "succeeded", now - RETENTION - 60)
    recorded(store, tmp_path, "job_old_failed", "failed", now - RETENTION - 1)
    recorded(store, tmp_path, "job_recent", "cancelled", now - RETENTION + 600)
    settings = Settings(job_retention=RETENTION)
    # No pools and no sessions: nothing is queued, so restoring starts no job.
    manager = JobManager(settings, {}, cast(Any, None), store, tmp_path)
    manager.restore()

    assert set(manager.jobs) == {"job_recent"}
    assert {record["id"] for record in store.jobs()} == {"job_recent"}
    assert sorted(path.name for path in (tmp_path / "jobs").iterdir()) == ["job_recent"]
    assert (tmp_path / "jobs" / "job_recent" / "files" / "out.stl").read_bytes() == b"solid\n"
    store.close()


def test_a_job_that_expires_while_the_gateway_runs_is_no_longer_found(tmp_path: Path) -> None:
    store = Store(tmp_path / "gateway.sqlite3")
    recorded(store, tmp_path, "job_done", "succeeded", time.time() - 10)
    manager = JobManager(Settings(job_retention=RETENTION), {}, cast(Any, None), store, tmp_path)
    manager.restore()
    assert manager.find("job_done", None).state == "succeeded"
    manager.settings = Settings(job_retention=5.0)  # as if an hour had passed
    with pytest.raises(JobNotFoundError):
        manager.find("job_done", None)
    assert manager.listed(None) == [] and list(store.jobs()) == [] and not (tmp_path / "jobs" / "job_done").exists()
    store.close()
