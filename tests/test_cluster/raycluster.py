"""A real multi-node Ray cluster on this machine, for the cluster tests and bench/cluster.py.

Each node is its own `ray start --block` (started from the commands `bridge3d cluster commands` prints, so those are
tested too) in a process group of its own: stopping a node kills that group, as a machine that dies takes its
raylet, its workers and their host servers with it. Every node has its own folder (``BRIDGE3D_NODE_DIR``) for
workspaces, so nothing relies on a shared filesystem, and token authentication is on everywhere.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backends import free_port
from bridge3d.api.workers.ray_cluster import StartCommand, auth_env, head_command, node_command

RAY = str(Path(sys.executable).parent / "ray")
OBJECT_STORE_BYTES = 100 * 1024 * 1024  # each node's object store: bridge3d moves files over its own RPC, not Ray's
START_TIMEOUT = 120.0


@dataclass
class RayNode:
    """One `ray start --block` process group: a machine of the cluster."""

    name: str
    process: subprocess.Popen[bytes]
    folder: Path  # its BRIDGE3D_NODE_DIR
    log_path: Path

    def kill(self) -> None:
        """The machine dies: every process of the node at once (its session: `ray start`, the raylet, and the Ray
        workers, which lead process groups of their own). Host servers are not in it: they must die with their
        actor by themselves."""
        for pid in session_members(self.process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        # `ray start --block` does not always finish after SIGTERM: end the test's nodes the way a machine ends.
        if self.process.poll() is None or session_members(self.process.pid):
            self.kill()

    def journal(self) -> list[dict[str, Any]]:
        """What ran on this node: its workers.jsonl (started / exited / released lines)."""
        path = self.folder / "workers.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def started_workers(self, app: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.journal() if e["event"] == "started" and (app is None or e["app"] == app)]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass
class LocalRayCluster:
    root: Path
    port: int = field(default_factory=free_port)
    nodes: dict[str, RayNode] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        # Ray's own folders (sockets in them) in a short path: a Unix socket's path has at most 107 bytes.
        self.ray_dir = Path(tempfile.mkdtemp(prefix="b3ray-"))
        self.token_file = self.root / "ray-token"
        self.token_file.write_text(secrets.token_hex(32))
        self.token_file.chmod(0o600)

    @property
    def address(self) -> str:
        return f"{node_ip()}:{self.port}"

    def driver_env(self) -> dict[str, str]:
        """What a gateway (or any driver) needs to join: token auth, the token file, the address."""
        env: dict[str, str] = auth_env(str(self.token_file))
        return env | {"BRIDGE3D_RAY_ADDRESS": self.address}

    def start_head(self) -> RayNode:
        command = head_command(str(self.token_file), port=self.port, ray=RAY)
        return self._start("head", command)

    def add_node(self, name: str, *, blender: int = 0, freecad: int = 0) -> RayNode:
        folder = self.root / f"node-{name}"
        folder.mkdir(parents=True, exist_ok=True)
        command = node_command(
            self.address, str(self.token_file), blender=blender, freecad=freecad, node_dir=str(folder), ray=RAY
        )
        return self._start(name, command, folder)

    def _start(self, name: str, command: StartCommand, folder: Path | None = None) -> RayNode:
        log_path = self.root / f"{name}.log"
        argv = [*command.argv, "--block", "--temp-dir", str(self.ray_dir / name)]
        argv += ["--object-store-memory", str(OBJECT_STORE_BYTES)]
        env = {key: value for key, value in os.environ.items() if not key.startswith(("RAY_", "BRIDGE3D_"))}
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, env=env | command.env, start_new_session=True
            )
        node = RayNode(name, process, folder or self.root / f"node-{name}", log_path)
        deadline = time.monotonic() + START_TIMEOUT
        while "Ray runtime started" not in node.log():
            if process.poll() is not None or time.monotonic() > deadline:
                node.stop()
                raise RuntimeError(f"the Ray node {name} did not start:\n{node.log()[-4000:]}")
            time.sleep(0.1)
        self.nodes[name] = node
        return node

    def stop(self) -> None:
        for node in reversed(list(self.nodes.values())):
            node.stop()
        shutil.rmtree(self.ray_dir, ignore_errors=True)


def node_ip() -> str:
    """The address `ray start` registers this machine's nodes with (the one Ray finds, as it would on a node)."""
    import ray  # only the cluster tests and bench need Ray

    return str(ray.util.get_node_ip_address())


def session_members(session: int) -> list[int]:
    """The processes of one session (``start_new_session``: the session id is its leader's pid)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[3]) == session:  # after the command name: state, ppid, pgrp, session
            members.append(int(entry.name))
    return members
