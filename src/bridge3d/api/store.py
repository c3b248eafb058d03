"""The gateway's records in SQLite (``gateway.sqlite3`` in the state directory): workers, sessions and jobs.

A restarted gateway reads them back: it finds the workers it started (and ends the ones nobody owns), keeps its
sessions, and loses no queued, running or finished job. Writes are small and few (one per state change), so they
run on the event loop; WAL mode with ``synchronous=NORMAL`` keeps every committed record across a crash of the
gateway process (a power cut may lose the last moments).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS workers (
    id TEXT PRIMARY KEY, app TEXT NOT NULL, role TEXT NOT NULL, owner TEXT, info TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY, app TEXT NOT NULL, record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, seq INTEGER NOT NULL, state TEXT NOT NULL, owner TEXT, record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state, seq);
"""


class Store:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        path.chmod(0o600)  # worker records hold their tokens

    def close(self) -> None:
        self._db.close()

    # ------------------------------------------------------------------ workers
    def save_worker(self, worker_id: str, app: str, role: str, owner: str | None, info: dict[str, Any]) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO workers (id, app, role, owner, info) VALUES (?, ?, ?, ?, ?)",
            (worker_id, app, role, owner, json.dumps(info)),
        )

    def delete_worker(self, worker_id: str) -> None:
        self._db.execute("DELETE FROM workers WHERE id = ?", (worker_id,))

    def workers(self) -> Iterator[tuple[str, str, str, str | None, dict[str, Any]]]:
        for worker_id, app, role, owner, info in self._db.execute("SELECT id, app, role, owner, info FROM workers"):
            yield worker_id, app, role, owner, json.loads(info)

    # ------------------------------------------------------------------ sessions
    def save_session(self, session_id: str, app: str, record: dict[str, Any]) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO sessions (id, app, record) VALUES (?, ?, ?)", (session_id, app, json.dumps(record))
        )

    def delete_session(self, session_id: str) -> None:
        self._db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))

    def sessions(self) -> Iterator[dict[str, Any]]:
        for (record,) in self._db.execute("SELECT record FROM sessions"):
            yield json.loads(record)

    # ------------------------------------------------------------------ jobs
    def next_job_seq(self) -> int:
        (highest,) = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM jobs").fetchone()
        return int(highest) + 1

    def save_job(self, job_id: str, seq: int, state: str, owner: str | None, record: dict[str, Any]) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO jobs (id, seq, state, owner, record) VALUES (?, ?, ?, ?, ?)",
            (job_id, seq, state, owner, json.dumps(record)),
        )

    def delete_job(self, job_id: str) -> None:
        self._db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))

    def jobs(self) -> Iterator[dict[str, Any]]:
        """Every job record, oldest first."""
        for (record,) in self._db.execute("SELECT record FROM jobs ORDER BY seq"):
            yield json.loads(record)
