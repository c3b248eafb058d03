"""Logs stay within their size: rotation of a log its writer keeps open (copy, then truncate in place), the
supervisor's rotation of every log it writes, the settings that reach the gateway, and the worker logs the pool
deletes once a worker ended as asked (and keeps when it crashed)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from bridge3d import logfiles
from bridge3d.api.config import Settings
from bridge3d.api.workers.local import LocalWorker
from bridge3d.cli.service import ServiceSpec
from bridge3d.cli.stack import OperationsSettings, build_specs
from bridge3d.cli.state import StateDir
from bridge3d.cli.supervisor import Supervisor
from bridge3d.logfiles import LogLimits, backup_path, rotate_if_full

from .test_supervisor_unit import FAST, PATIENCE, wait_until

# A service that writes numbered lines to its stdout (its log) until it is stopped.
CHATTER = [
    sys.executable,
    "-u",
    "-c",
    "import itertools, time\nfor i in itertools.count():\n    print(f'line {i:08d}')\n    time.sleep(0.001)",
]


def test_a_log_its_writer_holds_open_is_copied_then_truncated(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    limits = LogLimits(max_bytes=100, backups=2)
    with log.open("ab") as writer:  # as a service's stdout: opened for appending
        for generation in range(4):
            writer.write(f"generation {generation} ".encode() * 10)
            writer.flush()
            assert rotate_if_full(log, limits)
        writer.write(b"after")
        writer.flush()
    # The writer's next write lands at the start of the truncated file, not at its old offset.
    assert log.read_bytes() == b"after"
    assert backup_path(log, 1).read_bytes() == b"generation 3 " * 10
    assert backup_path(log, 2).read_bytes() == b"generation 2 " * 10
    assert not backup_path(log, 3).exists()  # only `backups` copies are kept
    assert not rotate_if_full(log, limits)  # below the size: left alone
    assert not rotate_if_full(tmp_path / "missing.log", limits)


def test_the_limits_travel_through_the_environment_unchanged(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BRIDGE3D_LOG_MAX_BYTES", "12345")
    monkeypatch.setenv("BRIDGE3D_LOG_BACKUPS", "7")
    monkeypatch.chdir(tmp_path)  # no stray .env
    operations = OperationsSettings()
    assert operations.log_limits() == LogLimits(12345, 7) == operations.policy().logs
    assert LogLimits.from_environment(operations.log_limits().environment()) == operations.log_limits()
    assert LogLimits.from_environment({}) == LogLimits(logfiles.DEFAULT_MAX_BYTES, logfiles.DEFAULT_BACKUPS)
    # The gateway gets them (for its workers' logs); the host servers' logs are rotated by the supervisor.
    specs = {
        spec.name: spec
        for spec in build_specs(Settings(), StateDir(tmp_path), {"blender": "b", "freecad": "f"}, LogLimits(12345, 7))
    }
    assert specs["api"].env["BRIDGE3D_LOG_MAX_BYTES"] == "12345" and specs["api"].env["BRIDGE3D_LOG_BACKUPS"] == "7"


def test_the_supervisor_rotates_the_logs_of_its_services(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "state")
    spec = ServiceSpec(name="chatty", description="a chatty service", command=CHATTER, env=dict(os.environ))
    supervisor = Supervisor([spec], state, replace(FAST, logs=LogLimits(max_bytes=4000, backups=2)))
    assert supervisor.acquire()
    try:
        supervisor.start()
        supervisor.watch()
        log = state.log_file("chatty")
        wait_until(lambda: backup_path(log, 2).exists(), PATIENCE)
    finally:
        supervisor.shutdown()
        supervisor.release()
    assert not backup_path(log, 3).exists()
    # Each copy holds whole, increasing lines: what the service wrote, in order, a piece of it per copy.
    text = backup_path(log, 2).read_text() + backup_path(log, 1).read_text()
    numbers = [int(number) for number in re.findall(r"^line (\d{8})$", text, re.MULTILINE)]
    assert numbers == sorted(numbers) and len(numbers) > 100


def worker(tmp_path: Path, code: str) -> tuple[LocalWorker, Path]:
    """A LocalWorker around a small stand-in process whose output goes to its log, as a pool worker's does."""
    log = tmp_path / "workers" / "blender-w0.log"
    log.parent.mkdir(exist_ok=True)
    with log.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-u", "-c", code], stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    return LocalWorker(process.pid, 0, "token", process, str(log), LogLimits(max_bytes=2000, backups=1)), log


def wait_for_exit(handle: LocalWorker) -> int:
    deadline = time.monotonic() + PATIENCE
    while (code := handle.poll()) is None:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return code


def test_a_worker_log_is_bounded_and_deleted_when_the_worker_ends_as_asked(tmp_path: Path) -> None:
    handle, log = worker(
        tmp_path, "import itertools, time\nfor i in itertools.count():\n    print('x' * 99)\n    time.sleep(0.001)"
    )
    wait_until(lambda: handle.poll() is None and backup_path(log, 1).exists(), PATIENCE)
    handle.terminate()
    assert wait_for_exit(handle) == -signal.SIGTERM and handle.ended_as_asked()
    assert not log.exists() and not backup_path(log, 1).exists()


def test_a_crashed_worker_keeps_its_log(tmp_path: Path) -> None:
    handle, log = worker(tmp_path, "print('about to fail'); raise SystemExit(3)")
    assert wait_for_exit(handle) == 3 and not handle.ended_as_asked()
    handle.terminate()  # the pool ends what it finds dead: that is no end it asked for
    assert log.read_text() == "about to fail\n"
