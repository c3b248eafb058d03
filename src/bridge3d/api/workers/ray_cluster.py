"""`bridge3d cluster`: the `ray start` commands of a bridge3d cluster, a node's applications, the cluster's workers.

Only the standard library at import time: printing the commands works on a machine without Ray, and the CLI stays
quick. The commands always carry token authentication and, on the head, the health-check settings that make a lost
node noticed in about 2 s instead of about 15 s.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridge3d import __version__

APPS = ("blender", "freecad")
NODE_DIR_VARIABLE = "BRIDGE3D_NODE_DIR"  # the same name ray_host.py reads on the nodes
# The head declares a node dead after about period x threshold (+ the timeout) without an answer: ~2 s. Lower, and a
# node too busy to answer in time would be declared dead, its workers with it.
HEALTH_CHECKS = {
    "RAY_health_check_period_ms": "1000",
    "RAY_health_check_timeout_ms": "1000",
    "RAY_health_check_failure_threshold": "2",
}
# What each application needs to be importable on a node (run in a fresh Python, as the host server would be).
APP_PROBES = {
    "blender": "import bpy; print(bpy.app.version_string)",
    "freecad": "from bridge3d.freecad.libpath import ensure_freecad_importable; ensure_freecad_importable(); "
    "from bridge3d.freecad.headless import freecad_version; print(freecad_version())",
}
PROBE_TIMEOUT = 120.0  # seconds an application may take to import on a loaded node
DESCRIBE_TIMEOUT = 5.0
AUTH_HELP = "the cluster's token in RAY_AUTH_TOKEN_PATH (a file, mode 0600) or RAY_AUTH_TOKEN; see docs/CLUSTER.md"


class ClusterSetupError(RuntimeError):
    """Cluster mode cannot start; the message names the setting to look at."""


def require_token_auth() -> None:
    """bridge3d joins a cluster only with token authentication (an unauthenticated Ray runs anyone's code). Called
    before Ray is imported: Ray reads RAY_AUTH_MODE once, at its import."""
    mode = os.environ.setdefault("RAY_AUTH_MODE", "token")
    if mode.lower() != "token":
        raise ClusterSetupError(
            f"RAY_AUTH_MODE={mode}: bridge3d uses a Ray cluster only with token authentication; "
            f"set RAY_AUTH_MODE=token on every node and here, with {AUTH_HELP}"
        )


@dataclass
class StartCommand:
    """One `ray start` (or gateway) command: its environment and its arguments."""

    what: str
    env: dict[str, str]
    argv: list[str]
    notes: list[str] = field(default_factory=list)

    def shell(self) -> str:
        assignments = " ".join(f"{name}={shlex.quote(value)}" for name, value in self.env.items())
        return f"{assignments} {shlex.join(self.argv)}".strip()


def auth_env(token_file: str) -> dict[str, str]:
    """Token authentication, in everything bridge3d starts or prints (Ray without it runs anyone's code)."""
    return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": token_file}


def head_command(token_file: str, *, port: int = 6379, ip: str | None = None, ray: str = "ray") -> StartCommand:
    """The head: Ray's control store (GCS) and the node the gateway runs on; it offers no application itself."""
    argv = [ray, "start", "--head", "--port", str(port), "--resources", "{}"]
    argv += ["--include-dashboard=false", "--disable-usage-stats", *(["--node-ip-address", ip] if ip else [])]
    return StartCommand("the head (where the gateway runs)", auth_env(token_file) | HEALTH_CHECKS, argv)


def node_command(
    head: str,
    token_file: str,
    *,
    blender: int = 0,
    freecad: int = 0,
    gpus: int | None = None,
    node_dir: str | None = None,
    ip: str | None = None,
    ray: str = "ray",
) -> StartCommand:
    """A node offering ``blender`` and/or ``freecad`` slots (one worker each) and, when given, its GPUs."""
    resources = {app: count for app, count in (("blender", blender), ("freecad", freecad)) if count}
    argv = [ray, "start", "--address", head, "--resources", json.dumps(resources), "--disable-usage-stats"]
    argv += [*(["--num-gpus", str(gpus)] if gpus is not None else []), *(["--node-ip-address", ip] if ip else [])]
    env = auth_env(token_file) | ({NODE_DIR_VARIABLE: node_dir} if node_dir else {})
    offered = " and ".join(f"{count} {app} workers" for app, count in resources.items()) or "nothing"
    return StartCommand(f"a node for {offered}" + (f" with {gpus} GPUs" if gpus else ""), env, argv)


def commands_text(args: argparse.Namespace) -> list[str]:
    head = f"{args.head}:{args.port}"
    token = os.path.expanduser(args.token_file)  # Ray reads the path as it is: no ~ in it
    node_dir = "/var/lib/bridge3d-node"
    commands = [
        head_command(token, port=args.port, ip=args.head),
        node_command(head, token, blender=args.blender, node_dir=node_dir, ip="NODE_IP"),
        node_command(head, token, freecad=args.freecad, node_dir=node_dir, ip="NODE_IP"),
    ]
    if args.gpus:
        gpu_node = node_command(head, token, blender=args.blender, gpus=args.gpus, node_dir=node_dir, ip="NODE_IP")
        commands.append(gpu_node)
    authenticated = " ".join(f"{name}={shlex.quote(value)}" for name, value in auth_env(token).items())
    lines = [
        f"# bridge3d {__version__} on a Ray cluster (docs/CLUSTER.md). On every machine: bridge3d installed with",
        "# scripts/install.sh (Ray is in its lock), and the cluster's token in a file only its user can read:",
        f"(umask 077 && mkdir -p {shlex.quote(str(Path(token).parent))} && python3 -c 'import secrets; "
        f"print(secrets.token_hex(32))' > {shlex.quote(token)})   # once; copy it to the same path everywhere",
    ]
    for command in commands:
        lines += ["", f"# {command.what}:", command.shell()]
    lines += [
        "",
        "# check each node's applications (on the node), then every node of the cluster (on the head):",
        "bridge3d cluster check",
        f"{authenticated} bridge3d cluster check --address {head}",
        "",
        "# the gateway, on the head (the only public surface; Ray's ports stay on the private network):",
        f"{authenticated} bridge3d up --ray {head}",
        "",
        "# its workers, and where they run:",
        f"{authenticated} bridge3d cluster status --address {head}",
    ]
    return lines


# ---------------------------------------------------------------------- a node's applications
def check_applications(timeout: float = PROBE_TIMEOUT) -> dict[str, dict[str, Any]]:
    """Whether this machine's Python can import each application, as its host server would: a fresh process each."""
    found: dict[str, dict[str, Any]] = {}
    for app, probe in APP_PROBES.items():
        try:
            ran = subprocess.run(
                [sys.executable, "-c", probe], capture_output=True, text=True, timeout=timeout, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            found[app] = {"ok": False, "error": str(exc)}
            continue
        lines = [line for line in (ran.stdout + ran.stderr).splitlines() if line.strip()]
        if ran.returncode == 0:
            found[app] = {"ok": True, "version": ran.stdout.strip().splitlines()[-1] if ran.stdout.strip() else ""}
        else:
            found[app] = {"ok": False, "error": lines[-1] if lines else f"exit status {ran.returncode}"}
    return found


def node_report() -> dict[str, Any]:
    """What a node says about itself (run there as a Ray task by `bridge3d cluster check --address`)."""
    return {
        "bridge3d": __version__,
        "python": sys.executable,
        "node_dir": os.environ.get(NODE_DIR_VARIABLE) or "(default: the temporary folder)",
        "apps": check_applications(),
    }


def connect(address: str, namespace: str) -> None:
    """Join the cluster as a driver, with token authentication (refused without)."""
    require_token_auth()  # before Ray's import
    from .ray import join_cluster

    join_cluster(address, namespace)


def check(args: argparse.Namespace) -> tuple[int, list[str]]:
    """This machine's applications; with ``--address``, every node's, against what it offers."""
    if args.address is None:
        lines, missing = [], 0
        for app, outcome in check_applications().items():
            if outcome["ok"]:
                lines.append(f"{app}: ok ({outcome['version']}); this machine may offer the resource {app!r}")
            else:
                missing += 1
                lines.append(f"{app}: NOT importable ({outcome['error']}); do not offer {app!r} here")
        return (0 if missing < len(APP_PROBES) else 1), lines
    connect(args.address, args.namespace)
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    report = ray.remote(num_cpus=0)(node_report)
    nodes = [node for node in ray.nodes() if node["Alive"]]
    pending = [
        report.options(scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)).remote()
        for node in nodes
    ]
    lines, problems = [], 0
    for node, answer in zip(nodes, pending, strict=True):
        reported: dict[str, Any] = ray.get(answer, timeout=PROBE_TIMEOUT * 2)
        offered = {app: node["Resources"].get(app, 0) for app in APPS}
        lines.append(
            f"node {node['NodeManagerAddress']} ({node['NodeID'][:12]}): bridge3d {reported['bridge3d']}, "
            f"workspaces in {reported['node_dir']}"
        )
        if reported["bridge3d"] != __version__:
            problems += 1
            lines.append(f"  bridge3d {reported['bridge3d']} there, {__version__} here: install one version everywhere")
        for app in APPS:
            outcome = reported["apps"][app]
            state = f"ok ({outcome['version']})" if outcome["ok"] else f"NOT importable ({outcome['error']})"
            if offered[app] and not outcome["ok"]:
                problems += 1
                state += f": it offers {offered[app]:g} {app!r} slots it cannot run; restart it without them"
            lines.append(f"  {app}: offers {offered[app]:g}, {state}")
    return (1 if problems else 0), lines


# ---------------------------------------------------------------------- the cluster's workers
def recorded_workers(state_dir: Path) -> dict[str, dict[str, Any]]:
    """The gateway's own records of its workers (role, owner), by actor name, when its state directory is here."""
    store = state_dir / "gateway.sqlite3"
    if not store.exists():
        return {}
    try:
        with contextlib.closing(sqlite3.connect(f"file:{store}?mode=ro", uri=True)) as db:
            rows = db.execute("SELECT id, role, owner, info FROM workers").fetchall()
    except sqlite3.Error:
        return {}
    recorded = {}
    for worker_id, role, owner, info in rows:
        actor = json.loads(info).get("actor")
        if actor:
            recorded[actor] = {"worker": worker_id, "role": role, "owner": owner}
    return recorded


def cluster_state(namespace: str, state_dir: Path | None = None) -> dict[str, Any]:
    """The nodes (alive or lost, what they offer) and this namespace's worker actors, with the gateway's records."""
    import ray
    from ray.exceptions import RayError

    from .ray import ACTOR_PREFIX

    nodes = [
        {
            "node_id": node["NodeID"],
            "address": node["NodeManagerAddress"],
            "alive": bool(node["Alive"]),
            "offers": {name: node["Resources"].get(name, 0) for name in (*APPS, "GPU", "CPU")},
        }
        for node in ray.nodes()
    ]
    recorded = recorded_workers(state_dir) if state_dir is not None else {}
    workers = []
    for name in sorted(ray.util.list_named_actors()):
        if not name.startswith(ACTOR_PREFIX):
            continue
        row: dict[str, Any] = {"actor": name}
        try:
            actor = ray.get_actor(name, namespace=namespace)
            row |= ray.get(actor.describe.remote(), timeout=DESCRIBE_TIMEOUT)
        except (ValueError, RayError) as exc:
            row["error"] = f"does not answer: {type(exc).__name__}"
        row |= recorded.get(name, {"role": None, "owner": None, "worker": None})
        workers.append(row)
    return {"namespace": namespace, "nodes": nodes, "workers": workers}


def status(args: argparse.Namespace) -> tuple[int, list[str]]:
    connect(args.address, args.namespace)
    state = cluster_state(args.namespace, Path(args.state_dir) if args.state_dir else None)
    if args.json:
        return 0, [json.dumps(state, indent=2)]
    lines = [f"nodes ({sum(node['alive'] for node in state['nodes'])} alive):"]
    for node in state["nodes"]:
        offers = ", ".join(f"{name} {count:g}" for name, count in node["offers"].items() if count)
        alive = "alive" if node["alive"] else "LOST"
        lines.append(f"  {node['address']:<16} {node['node_id'][:12]}  {alive:<5}  {offers}")
    lines.append(f"workers in namespace {state['namespace']!r} ({len(state['workers'])}):")
    for worker in state["workers"]:
        where = f"{worker.get('host')}:{worker.get('port')}" if worker.get("host") else worker.get("error", "?")
        role = f"{worker['role']} {worker['owner'] or ''}" if worker["role"] else "(not in the gateway's records)"
        role = "parked: waits for the next worker of its application" if worker.get("parked") else role
        ended = f", host exited {worker['exit_code']}" if worker.get("exit_code") is not None else ""
        node = str(worker.get("node_id", ""))[:12]
        lines.append(f"  {worker['actor']:<28} {worker.get('app', '?'):<8} {where:<22} {node:<12} {role}{ended}")
    return 0, lines


def stop_workers(args: argparse.Namespace) -> tuple[int, list[str]]:
    """End every bridge3d worker actor of the namespace: for after a gateway that is gone for good (a running
    gateway ends its own workers as it stops, and a restarted one takes its sessions' workers back)."""
    connect(args.address, args.namespace)
    import ray
    from ray.exceptions import RayError

    from .ray import ACTOR_PREFIX

    names = [name for name in ray.util.list_named_actors() if name.startswith(ACTOR_PREFIX)]
    for name in names:
        with contextlib.suppress(ValueError, RayError):
            actor: Any = ray.get_actor(name, namespace=args.namespace)
            actor.stop.remote(signal.SIGKILL)
            actor.release.remote(False)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(name.startswith(ACTOR_PREFIX) for name in ray.util.list_named_actors()):
        time.sleep(0.2)
    for name in ray.util.list_named_actors():  # did not go by itself: its node does not answer
        if name.startswith(ACTOR_PREFIX):
            with contextlib.suppress(ValueError, RayError):
                ray.kill(ray.get_actor(name, namespace=args.namespace), no_restart=True)
    return 0, [f"ended {len(names)} bridge3d workers in namespace {args.namespace!r}"]


def run(args: argparse.Namespace) -> tuple[int, list[str]]:
    """`bridge3d cluster <command>`: its exit status and what to print."""
    if args.cluster_command == "commands":
        return 0, commands_text(args)
    if args.cluster_command == "check":
        return check(args)
    if args.address is None:
        args.address = os.environ.get("BRIDGE3D_RAY_ADDRESS") or "auto"
    return status(args) if args.cluster_command == "status" else stop_workers(args)
