"""Starting the real gateway (uvicorn) for tests and benchmarks."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from backends import Backend, free_port, stop_process


@dataclass
class Gateway:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def stop(self) -> None:
        stop_process(self.process)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def backend_env(app: str, backend: Backend | None, port: int | None = None, token: str | None = None) -> dict[str, str]:
    prefix = f"BRIDGE3D_{app.upper()}__"
    return {
        prefix + "PORT": str(backend.port if backend else port),
        prefix + "TOKEN": (backend.token if backend else token) or "",
        prefix + "CONNECT_TIMEOUT": "1.0",
    }


def gateway_command(port: int) -> list[str]:
    """How the tests run the gateway: uvicorn with the app factory (create_app() does the start-up checks)."""
    return [sys.executable, "-m", "uvicorn", "--factory", "bridge3d.api.main:app_factory", "--port", str(port)]


def start_gateway(
    tmp_dir: Path,
    blender: Backend | None = None,
    freecad: Backend | None = None,
    *,
    extra_env: dict[str, str] | None = None,
    blender_port: int | None = None,
    freecad_port: int | None = None,
) -> Gateway:
    """Run `uvicorn --factory bridge3d.api.main:app_factory` on a free port and wait for /version."""
    port = free_port()
    env = {
        **os.environ,
        **backend_env("blender", blender, blender_port or free_port()),
        **backend_env("freecad", freecad, freecad_port or free_port()),
        **(extra_env or {}),
    }
    env = {key: value for key, value in env.items() if value != ""}
    log_path = tmp_dir / f"gateway-{port}.log"
    command = [
        *gateway_command(port),
        "--log-level",
        "warning",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    gateway = Gateway(f"http://127.0.0.1:{port}", process, log_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gateway exited with {process.returncode}:\n{gateway.log()}")
        try:
            if httpx.get(gateway.url + "/version", timeout=1).status_code == 200:
                return gateway
        except httpx.HTTPError:
            time.sleep(0.1)
    gateway.stop()
    raise RuntimeError(f"gateway did not start:\n{gateway.log()}")
