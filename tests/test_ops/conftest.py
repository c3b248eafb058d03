"""A whole stack (gateway + headless Blender + headless FreeCAD) on free ports in a fresh state directory.

`Stack` runs the real scripts / `bridge3d` commands. Whatever a test does, teardown kills every process whose
command line names this stack's state directory or ports (only ours: both are unique to the test).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from backends import IN_CI, blender_available, free_port, freecad_available
from bridge3d.cli.stack import bind_error
from bridge3d.cli.state import is_alive

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("api", "blender", "freecad")


def require_applications() -> None:
    applications = {"Blender (PyPI bpy)": blender_available(), "FreeCAD (Debian freecad-python3)": freecad_available()}
    missing = [what for what, present in applications.items() if not present]
    if not missing:
        return
    if IN_CI:
        pytest.fail(f"{', '.join(missing)} not installed; in CI a missing application is a failure, not a skip")
    pytest.skip(f"{', '.join(missing)} not installed")


@dataclass
class Stack:
    state_dir: Path
    api_port: int = field(default_factory=free_port)
    blender_port: int = field(default_factory=free_port)
    freecad_port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    foreground: subprocess.Popen[bytes] | None = None
    outputs: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def ports(self) -> tuple[int, int, int]:
        return (self.api_port, self.blender_port, self.freecad_port)

    def env(self, **overrides: str) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("BRIDGE3D_") or key in {"BRIDGE3D_FREECAD_LIB"}
        }
        env |= {
            "BRIDGE3D_STATE_DIR": str(self.state_dir),
            "BRIDGE3D_PORT": str(self.api_port),
            "BRIDGE3D_BLENDER__PORT": str(self.blender_port),
            "BRIDGE3D_FREECAD__PORT": str(self.freecad_port),
            "BRIDGE3D_STOP_GRACE": "5",
            **self.extra_env,
            **overrides,
        }
        return env

    def script(self, name: str, *args: str, timeout: float = 180, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(ROOT / "scripts" / name), *args],
            env=self.env(**env),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=ROOT,
        )

    def bridge3d(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bridge3d.cli.main", *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=ROOT,
        )

    def start_foreground(self) -> None:
        """`bridge3d up` as a user runs it in a terminal; returns once the supervisor reports everything up."""
        log = (self.state_dir.parent / "up-foreground.log").open("ab")
        self.foreground = subprocess.Popen(
            [sys.executable, "-m", "bridge3d.cli.main", "up"],
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 120
        while self.status().get("phase") != "running" or self.status().get("supervisor_pid") != self.foreground.pid:
            if self.foreground.poll() is not None:
                raise RuntimeError(f"bridge3d up exited with {self.foreground.returncode}:\n{self.foreground_log()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"bridge3d up did not get ready:\n{self.foreground_log()}")
            time.sleep(0.2)

    def foreground_log(self) -> str:
        path = self.state_dir.parent / "up-foreground.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def pid(self, name: str) -> int | None:
        try:
            return int((self.state_dir / f"{name}.pid").read_text())
        except (OSError, ValueError):
            return None

    def pids(self) -> dict[str, int | None]:
        return {name: self.pid(name) for name in ("supervisor", *SERVICES)}

    def status(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads((self.state_dir / "status.json").read_text())
        except (OSError, ValueError):
            return {}
        return data

    def run_info(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.state_dir / "run.json").read_text())
        return data

    def log(self, name: str) -> str:
        path = self.state_dir / "logs" / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def restarts(self, name: str) -> int:
        return int(self.status().get("services", {}).get(name, {}).get("restarts", 0))

    def wait_for_restart(self, name: str, old_pid: int, restarts_before: int, timeout: float) -> int:
        """Wait until ``name`` runs under a new pid and the supervisor reports it up again; return the new pid."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            info = self.status().get("services", {}).get(name, {})
            pid = self.pid(name)
            if (
                pid not in (None, old_pid)
                and info.get("state") == "up"
                and info.get("restarts", 0) > restarts_before
                and info.get("pid") == pid
            ):
                return pid
            time.sleep(0.05)
        raise AssertionError(f"{name} was not restarted within {timeout} s: {self.status()}\n{self.log('supervisor')}")

    def our_processes(self) -> list[int]:
        """Every live process whose command line names this stack's state directory or one of its ports."""
        needles = [str(self.state_dir).encode(), *(f"--port\0{port}\0".encode() for port in self.ports)]
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                command_line = (entry / "cmdline").read_bytes() + b"\0"
            except OSError:
                continue
            if any(needle in command_line for needle in needles) and is_alive(int(entry.name)):
                found.append(int(entry.name))
        return found

    def ports_free(self) -> bool:
        return all(bind_error("127.0.0.1", port) is None for port in self.ports)

    def kill_everything(self) -> None:
        """Teardown: stop politely, then SIGKILL whatever of ours is left."""
        if self.foreground is not None and self.foreground.poll() is None:
            self.foreground.send_signal(signal.SIGINT)
            try:
                self.foreground.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.foreground.kill()
                self.foreground.wait()
        if (self.state_dir / "supervisor.pid").exists() or any(self.pids().values()):
            self.script("stop_all.sh", timeout=60)
        for pid in self.our_processes():
            os.kill(pid, signal.SIGCONT)  # a test may have frozen it
            os.kill(pid, signal.SIGKILL)


def wait_until_ok(client: httpx.Client, method: str, path: str, timeout: float, **kwargs: Any) -> httpx.Response:
    """Repeat a request until it answers 2xx; return that response (or fail with the last one)."""
    deadline = time.monotonic() + timeout
    response: httpx.Response | None = None
    while time.monotonic() < deadline:
        try:
            response = client.request(method, path, **kwargs)
            if response.is_success:
                return response
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{method} {path} did not succeed within {timeout} s: {response and response.text}")


@pytest.fixture
def fresh_stack(tmp_path: Path) -> Iterator[Stack]:
    """Ports and an empty state directory; nothing started."""
    stack = Stack(tmp_path / "state")
    yield stack
    stack.kill_everything()
