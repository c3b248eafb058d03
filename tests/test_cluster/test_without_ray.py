"""Without BRIDGE3D_RAY_ADDRESS nothing of Ray is imported or started; cluster mode refuses to run without token
authentication; the commands `bridge3d cluster commands` prints carry token auth and the fast failure detection."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from gateway import start_gateway

from .conftest import bridge3d

NO_RAY = "import sys; {run}; loaded = [m for m in sys.modules if m == 'ray' or m.startswith('ray.')]; assert not loaded"


def clean_env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith(("RAY_", "BRIDGE3D_RAY_"))}


@pytest.mark.parametrize(
    "run",
    [
        "import bridge3d.api.main",
        "from bridge3d.cli.main import build_parser; build_parser()",
        "from bridge3d.cli.main import main; main(['cluster', 'commands'])",
    ],
)
def test_nothing_of_ray_is_imported_unless_configured(run: str) -> None:
    ran = subprocess.run(
        [sys.executable, "-c", NO_RAY.format(run=run)], capture_output=True, text=True, env=clean_env(), check=False
    )
    assert ran.returncode == 0, ran.stderr


def test_a_gateway_without_the_setting_never_loads_ray(tmp_path: Path) -> None:
    gateway = start_gateway(tmp_path, extra_env={"BRIDGE3D_RAY_ADDRESS": ""})
    try:
        mapped = Path(f"/proc/{gateway.process.pid}/maps").read_text()
        assert "_raylet" not in mapped and "site-packages/ray/" not in mapped
        assert "cluster mode" not in gateway.log()
    finally:
        gateway.stop()


def test_cluster_mode_refuses_to_run_without_token_authentication(tmp_path: Path) -> None:
    env = {"BRIDGE3D_RAY_ADDRESS": "127.0.0.1:1", "RAY_AUTH_MODE": "disabled"}
    with pytest.raises(RuntimeError) as refused:
        start_gateway(tmp_path, extra_env=env)
    message = str(refused.value)
    assert "RAY_AUTH_MODE=disabled" in message and "only with token authentication" in message
    assert "RAY_AUTH_TOKEN_PATH" in message


def test_the_printed_commands_carry_token_auth_and_fast_failure_detection() -> None:
    printed = ["cluster", "commands", "--head", "10.0.0.1", "--gpus", "1", "--token-file", "/etc/bridge3d/token"]
    ran = bridge3d(*printed, env=clean_env())
    assert ran.returncode == 0, ran.stderr
    lines = [line for line in ran.stdout.splitlines() if line and not line.startswith("#")]
    starts = [shlex.split(line) for line in lines if " ray start " in f" {line} "]
    assert len(starts) == 4  # the head, a Blender node, a FreeCAD node, a GPU node
    for words in starts:
        assert "RAY_AUTH_MODE=token" in words and "RAY_AUTH_TOKEN_PATH=/etc/bridge3d/token" in words
    head, blender, freecad, gpu = starts
    assert "--head" in head and "--include-dashboard=false" in head
    assert {"RAY_health_check_period_ms=1000", "RAY_health_check_failure_threshold=2"} <= set(head)
    assert blender[blender.index("--resources") + 1] == '{"blender": 2}'
    assert freecad[freecad.index("--resources") + 1] == '{"freecad": 2}'
    assert gpu[gpu.index("--num-gpus") + 1] == "1" and "10.0.0.1:6379" in gpu
    # Everything else bridge3d prints that talks to the cluster authenticates too.
    for line in lines:
        if "bridge3d cluster check --address" in line or "bridge3d up --ray" in line or "cluster status" in line:
            assert line.startswith("RAY_AUTH_MODE=token RAY_AUTH_TOKEN_PATH=/etc/bridge3d/token "), line


@pytest.mark.parametrize(
    ("command", "mentions"),
    [
        (("cluster",), ["commands", "check", "status", "stop-workers", "RAY_AUTH_MODE=token"]),
        (("cluster", "commands"), ["--head", "--blender", "--freecad", "--gpus", "--token-file"]),
        (("cluster", "check"), ["--address", "--namespace"]),
        (("cluster", "status"), ["--address", "--state-dir", "--json"]),
        (("cluster", "stop-workers"), ["--address", "--namespace"]),
        (("up",), ["--ray", "BRIDGE3D_RAY_ADDRESS"]),
    ],
)
def test_the_cluster_commands_have_help(command: tuple[str, ...], mentions: list[str]) -> None:
    shown = bridge3d(*command, "--help", env=clean_env())
    assert shown.returncode == 0, shown.stderr
    for word in mentions:
        assert word in shown.stdout, (word, shown.stdout)
