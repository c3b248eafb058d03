"""Starting the real headless host servers for tests and benchmarks."""

from __future__ import annotations

import importlib.util
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bridge3d.rpc import RpcClient, RpcConnectionError
from bridge3d.rpc.hostmain import token_pipe

FREECAD_LIB = Path(os.environ.get("BRIDGE3D_FREECAD_LIB", "/usr/lib/freecad-python3/lib"))
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def blender_available() -> bool:
    return importlib.util.find_spec("bpy") is not None


def freecad_available() -> bool:
    return (FREECAD_LIB / "FreeCAD.so").exists()


def stop_process(process: subprocess.Popen[bytes], grace: float = 10) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Backend:
    """A running headless host server process."""

    app: str
    port: int
    token: str
    workspace: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    clients: list[RpcClient] = field(default_factory=list)

    def client(self, timeout: float = 120.0) -> RpcClient:
        client = RpcClient("127.0.0.1", self.port, token=self.token, timeout=timeout)
        client.connect()
        self.clients.append(client)
        return client

    def stop(self) -> None:
        for client in self.clients:
            client.close()
        stop_process(self.process, grace=15)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def start_backend(
    app: str,
    tmp_dir: Path,
    *,
    port: int | None = None,
    token: str | None = None,
    timeout: float = 90.0,
    options: Sequence[str] = (),
) -> Backend:
    """Start ``python -m bridge3d.<app>`` (with host-server ``options``) and wait until rpc.ping answers."""
    port = port or free_port()
    token = token or secrets.token_hex(16)
    workspace = tmp_dir / f"{app}-workspace"
    workspace.mkdir(parents=True, exist_ok=True)
    log_path = tmp_dir / f"{app}.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    token_fd = token_pipe(token)  # as bridge3d up does: the token is in no command line or environment
    command = [
        sys.executable,
        "-m",
        f"bridge3d.{app}",
        "--port",
        str(port),
        "--token-fd",
        str(token_fd),
        "--workspace",
        str(workspace),
        *options,
    ]
    try:
        with log_path.open("wb") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, pass_fds=(token_fd,))
    finally:
        os.close(token_fd)
    backend = Backend(app, port, token, workspace, process, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{app} host server exited with {process.returncode}:\n{backend.log()}")
        try:
            with RpcClient("127.0.0.1", port, token=token, timeout=5) as probe:
                probe.call("rpc.ping")
            return backend
        except (RpcConnectionError, TimeoutError):
            time.sleep(0.2)
    backend.stop()
    raise RuntimeError(f"{app} host server did not answer within {timeout}s:\n{backend.log()}")
