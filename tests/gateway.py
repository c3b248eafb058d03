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
    state_dir: Path | None = None  # its records, journals and session snapshots (BRIDGE3D_STATE_DIR)

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
    port: int | None = None,
) -> Gateway:
    """Run `uvicorn --factory bridge3d.api.main:app_factory` on a free port (or ``port``: a restart) and wait for
    /version. Its state directory is ``tmp_dir/state-<port>``, so a restart on the same port finds its records."""
    port = port or free_port()
    state_dir = tmp_dir / f"state-{port}"
    env = {
        **os.environ,
        **backend_env("blender", blender, blender_port or free_port()),
        **backend_env("freecad", freecad, freecad_port or free_port()),
        # Its own records and worker pools; no warm spares unless a test asks (each is an application process).
        "BRIDGE3D_STATE_DIR": str(state_dir),
        "BRIDGE3D_BLENDER__WARM_SPARES": "0",
        "BRIDGE3D_FREECAD__WARM_SPARES": "0",
        **(extra_env or {}),
    }
    env = {key: value for key, value in env.items() if value != ""}
    log_path = tmp_dir / f"gateway-{port}.log"
    command = [
        *gateway_command(port),
        "--log-level",
        "warning",
    ]
    with log_path.open("ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    gateway = Gateway(f"http://127.0.0.1:{port}", process, log_path, Path(env.get("BRIDGE3D_STATE_DIR", state_dir)))
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
