"""The `bridge3d` command: --help on every command, the health table and its exit code, start-up failures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from backends import free_port
from gateway import start_gateway

from .conftest import ROOT, Stack, require_applications


def bridge3d(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "bridge3d"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


@pytest.mark.parametrize(
    ("command", "mentions"),
    [
        ((), ["up", "api", "blender", "freecad", "health", "stop", "addon"]),
        (("up",), ["--detach", "--state-dir", "Ctrl-C"]),
        (("api",), ["--host", "--port"]),
        (("health",), ["--url", "--timeout", "Exit code 0"]),
        (("stop",), ["--state-dir", "--grace", "SIGKILL"]),
        (("addon",), ["build"]),
        (("addon", "build"), ["blender", "freecad", "--output"]),
        (("blender",), ["--port", "--token", "--workspace"]),
        (("freecad",), ["--port", "--token", "--workspace"]),
    ],
)
def test_every_command_has_help(command: tuple[str, ...], mentions: list[str]) -> None:
    shown = bridge3d(*command, "--help")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("usage: bridge3d")
    for word in mentions:
        assert word in shown.stdout, (word, shown.stdout)


def test_health_exits_1_when_the_gateway_is_down() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    checked = bridge3d("health", "--url", url, "--timeout", "2")
    assert checked.returncode == 1
    header, row = checked.stdout.splitlines()
    assert header.split() == ["service", "state", "version", "round", "trip"]
    assert row.split()[:2] == ["gateway", "down"] and url in row


def test_health_exits_1_and_shows_backends_down_when_the_gateway_cannot_reach_them(tmp_path: Path) -> None:
    gateway = start_gateway(tmp_path)  # pointed at free ports where nothing listens
    try:
        checked = bridge3d("health", "--url", gateway.url)
    finally:
        gateway.stop()
    assert checked.returncode == 1, checked.stdout
    states = {line.split()[0]: line.split()[1] for line in checked.stdout.splitlines()[1:]}
    assert states == {"gateway": "up", "blender": "down", "freecad": "down"}


def test_a_service_that_fails_to_start_is_named_with_its_log_and_nothing_is_left(fresh_stack: Stack) -> None:
    require_applications()
    # A gateway bound beyond loopback without an API key refuses to start (exit code 2).
    started = fresh_stack.script("start_all.sh", BRIDGE3D_HOST="0.0.0.0")
    said = started.stdout + started.stderr
    assert started.returncode == 1, said
    log = fresh_stack.state_dir / "logs" / "api.log"
    assert f"gateway exited during start-up with exit code 2; its log is {log}" in said
    assert "refusing to serve on 0.0.0.0 without an API key" in said  # the log's last lines are shown
    assert fresh_stack.our_processes() == [] and not any(fresh_stack.pids().values())
    assert fresh_stack.ports_free()
