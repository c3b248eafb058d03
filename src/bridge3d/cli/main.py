"""`bridge3d`: run the gateway and the host servers (supervised), check health, stop, build the GUI add-ons.

Heavy imports (uvicorn, FastAPI, pydantic) happen inside the commands, so `bridge3d blender` starts quickly.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from bridge3d import __version__

SERVER_EXTRA = 'pip install "bridge3d[server]"'
MCP_EXTRA = 'pip install "bridge3d[mcp]"'


def server_missing(command: str, exc: ModuleNotFoundError, what: str = "the gateway", extra: str = SERVER_EXTRA) -> int:
    """What `bridge3d api`, `up` and `mcp` say where only the SDK is installed (`pip install bridge3d`): their
    dependencies come with an extra. A module of bridge3d itself missing is a bug: raised."""
    if (exc.name or "").split(".")[0] == "bridge3d":
        raise exc
    print(f"bridge3d {command}: {what} needs {exc.name}, which is not installed; {extra}", file=sys.stderr)
    return 2


def cmd_api(args: argparse.Namespace) -> int:
    try:
        import uvicorn
        from pydantic import SecretStr

        from bridge3d.api.config import Settings
        from bridge3d.api.main import create_app
        from bridge3d.api.middleware import UnsafeBindError
    except ModuleNotFoundError as exc:
        return server_missing("api", exc)

    settings = Settings()
    host = args.host or settings.host
    port = args.port or settings.port
    update: dict[str, object] = {"host": host, "port": port}  # the gateway's checks see the real bind
    if args.backend_tokens_fd is not None:
        with os.fdopen(args.backend_tokens_fd, "rb") as pipe:
            tokens = json.loads(pipe.read())
        for app, token in tokens.items():
            update[app] = getattr(settings, app).model_copy(update={"token": SecretStr(token)})
    settings = settings.model_copy(update=update)
    try:
        app = create_app(settings)
    except UnsafeBindError as exc:
        print(exc, file=sys.stderr)
        return 2
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        access_log=False,  # our middleware logs each request with its request id
        # Above our own WebSocket message limit, so an oversize message gets our error reply, not a 1009 close.
        ws_max_size=max(16 * 1024 * 1024, 2 * settings.ws_max_message_bytes),
    )
    return 0


def cmd_mcp(args: argparse.Namespace) -> int:
    """The MCP server over stdio (stdout is the protocol's: everything else goes to stderr)."""
    try:
        from bridge3d.mcp.stdio import main as serve_stdio
    except ModuleNotFoundError as exc:
        return server_missing("mcp", exc, "the MCP server", MCP_EXTRA)
    return serve_stdio()


def cmd_host(app: str, argv: Sequence[str]) -> int:
    headless = importlib.import_module(f"bridge3d.{app}.headless")
    result: int = headless.main(list(argv))
    return result


def cmd_health(args: argparse.Namespace) -> int:
    """Print a table of the gateway and both backends; exit 0 only when all are up."""
    from .health import print_health

    return 0 if print_health(args.url, args.timeout) else 1


def cmd_addon(args: argparse.Namespace) -> int:
    builder = importlib.import_module(f"bridge3d.{args.app}.addon_build")
    path = builder.build_addon_zip(Path(args.output))
    print(path)
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    try:
        from .stack import cmd_up as run_up
    except ModuleNotFoundError as exc:
        return server_missing("up", exc)

    if args.ray:
        # The gateway reads it from its environment, which `up` (and a detached supervisor) passes on.
        os.environ["BRIDGE3D_RAY_ADDRESS"] = args.ray
    return run_up(args.state_dir, args.detach)


def cmd_cluster(args: argparse.Namespace) -> int:
    from bridge3d.api.workers.ray_cluster import ClusterSetupError, run

    try:
        code, lines = run(args)
    except ClusterSetupError as exc:
        print(exc, file=sys.stderr)
        return 2
    for line in lines:
        print(line)
    return code


def cmd_stop(args: argparse.Namespace) -> int:
    from .stack import cmd_stop as run_stop

    return run_stop(args.state_dir, args.grace)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bridge3d", description="One REST + WebSocket API for Blender and FreeCAD.")
    parser.add_argument("--version", action="version", version=f"bridge3d {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    api = commands.add_parser("api", help="run the gateway (uvicorn)")
    api.add_argument("--host", help="bind address (default BRIDGE3D_HOST or 127.0.0.1)")
    api.add_argument("--port", type=int, help="port (default BRIDGE3D_PORT or 8000)")
    api.add_argument(
        "--backend-tokens-fd",
        type=int,
        metavar="FD",
        help='read {"blender": token, "freecad": token} as JSON from this inherited descriptor (a pipe), so the '
        "host-server tokens are in no environment or command line",
    )
    api.set_defaults(handler=cmd_api)

    for app in ("blender", "freecad"):
        host = commands.add_parser(app, help=f"run the headless {app} host server", add_help=False)
        host.add_argument("host_args", nargs=argparse.REMAINDER)
        host.set_defaults(handler=lambda args, app=app: cmd_host(app, args.host_args))

    default_url = os.environ.get("BRIDGE3D_URL") or f"http://127.0.0.1:{os.environ.get('BRIDGE3D_PORT', '8000')}"
    health = commands.add_parser(
        "health",
        help="table of the gateway and both backends (exit 0 when all are up, 1 otherwise)",
        description="Show the gateway and both backends: up/down/busy, application version, round trip. "
        "Exit code 0 when all are up (busy counts as up), 1 otherwise.",
    )
    health.add_argument("--url", default=default_url, help=f"the gateway (default BRIDGE3D_URL or {default_url})")
    health.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the gateway (default 5)")
    health.set_defaults(handler=cmd_health)

    mcp = commands.add_parser(
        "mcp",
        help="serve MCP over stdio for one agent, through a running gateway (docs/MCP.md)",
        description="An MCP server on stdin/stdout (Claude Desktop, Claude Code) with bridge3d's tools; it talks to "
        "the gateway at BRIDGE3D_URL with BRIDGE3D_API_KEY, and its sessions end when the client closes stdin. "
        "BRIDGE3D_MCP_EXECUTE, _SESSION, _IMAGE_MAX_SIDE and _TOOL_TIMEOUT configure it.",
    )
    mcp.set_defaults(handler=cmd_mcp)

    state_help = "state directory for pid files, logs and workspaces (default BRIDGE3D_STATE_DIR or .state)"
    up = commands.add_parser(
        "up",
        help="run the gateway and both host servers, supervised; Ctrl-C stops all",
        description="Start headless Blender, headless FreeCAD and the gateway with fresh host-server tokens, "
        "restart a host server that exits, hangs or stays busy too long (BRIDGE3D_SUPERVISE_* settings), "
        "and stop everything on Ctrl-C / SIGTERM. Logs and pid files go to the state directory.",
    )
    up.add_argument("--state-dir", help=state_help)
    up.add_argument(
        "--detach",
        action="store_true",
        help="run the supervisor in the background and return once /health is green (scripts/start_all.sh)",
    )
    up.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="cluster mode: session and job workers are Ray actors on the cluster at ADDRESS (head:6379), "
        "as BRIDGE3D_RAY_ADDRESS does (docs/CLUSTER.md)",
    )
    up.set_defaults(handler=cmd_up)

    stop = commands.add_parser(
        "stop",
        help="stop what `bridge3d up` started (by pid file; SIGTERM, then SIGKILL after a grace period)",
        description="Stop the supervisor first (so it restarts nothing), then any service it left, by the pids "
        "recorded in the state directory only. Exit 0 also when nothing was running.",
    )
    stop.add_argument("--state-dir", help=state_help)
    stop.add_argument(
        "--grace", type=float, help="seconds between SIGTERM and SIGKILL (default BRIDGE3D_STOP_GRACE or 10)"
    )
    stop.set_defaults(handler=cmd_stop)

    add_cluster_parser(commands)

    addon = commands.add_parser("addon", help="GUI add-on packages")
    addon_commands = addon.add_subparsers(dest="addon_command", required=True)
    build = addon_commands.add_parser("build", help="build the installable add-on zip")
    build.add_argument("app", choices=["blender", "freecad"])
    build.add_argument("--output", default="dist", help="folder for the zip (default dist/)")
    build.set_defaults(handler=cmd_addon)
    return parser


def add_cluster_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cluster = commands.add_parser(
        "cluster",
        help="cluster mode on Ray: the `ray start` commands, a node's applications, the cluster's workers",
        description="Run session and job workers on a Ray cluster (docs/CLUSTER.md). Every command bridge3d prints "
        "or runs uses Ray's token authentication (RAY_AUTH_MODE=token, the token in RAY_AUTH_TOKEN_PATH).",
    )
    namespace = os.environ.get("BRIDGE3D_RAY_NAMESPACE") or "bridge3d"
    address_help = "the cluster (default BRIDGE3D_RAY_ADDRESS, else the one this machine is a node of)"
    cluster_commands = cluster.add_subparsers(dest="cluster_command", required=True)
    printed = cluster_commands.add_parser("commands", help="print the ray start commands for a head and its nodes")
    printed.add_argument("--head", default="HEAD_IP", help="the head's address on the cluster's private network")
    printed.add_argument("--port", type=int, default=6379, help="the head's Ray port (default 6379)")
    printed.add_argument("--blender", type=int, default=2, help="Blender workers a Blender node runs (default 2)")
    printed.add_argument("--freecad", type=int, default=2, help="FreeCAD workers a FreeCAD node runs (default 2)")
    printed.add_argument("--gpus", type=int, help="also print a Blender node with this many GPUs")
    printed.add_argument("--token-file", default="~/.bridge3d/ray-token", help="the cluster's token file (mode 0600)")
    checked = cluster_commands.add_parser(
        "check", help="can this machine import Blender (bpy) and FreeCAD; with --address: every node of the cluster"
    )
    checked.add_argument("--address", help="check every node of this cluster (run on one of its nodes)")
    shown = cluster_commands.add_parser("status", help="the cluster's nodes and bridge3d's workers on them")
    shown.add_argument("--address", help=address_help)
    shown.add_argument("--state-dir", help="the gateway's state directory: adds each worker's role and owner")
    shown.add_argument("--json", action="store_true", help="print JSON")
    ended = cluster_commands.add_parser(
        "stop-workers", help="end every bridge3d worker of the namespace (after a gateway that is gone for good)"
    )
    ended.add_argument("--address", help=address_help)
    for sub in (checked, shown, ended):
        sub.add_argument("--namespace", default=namespace, help=f"Ray namespace of the workers (default {namespace})")
    cluster.set_defaults(handler=cmd_cluster)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments and arguments[0] in ("blender", "freecad"):
        # The host servers own their options (and --help); pass everything through.
        return cmd_host(arguments[0], arguments[1:])
    args = build_parser().parse_args(arguments)
    result: int = args.handler(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
