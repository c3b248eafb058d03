"""`bridge3d`: run the gateway and the host servers, check health, build the GUI add-ons."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bridge3d import __version__
from bridge3d.rpc.hostmain import is_loopback


def cmd_api(args: argparse.Namespace) -> int:
    import uvicorn

    from bridge3d.api.config import Settings
    from bridge3d.api.main import create_app

    settings = Settings()
    host = args.host or settings.host
    port = args.port or settings.port
    if not is_loopback(host) and settings.api_key is None:
        print(
            f"refusing to serve on {host} without an API key: set BRIDGE3D_API_KEY (or bind 127.0.0.1)", file=sys.stderr
        )
        return 2
    # Our middleware logs each request with its request id, so uvicorn's own access log is off.
    uvicorn.run(create_app(settings), host=host, port=port, log_level=settings.log_level.lower(), access_log=False)
    return 0


def cmd_host(app: str, argv: Sequence[str]) -> int:
    headless = importlib.import_module(f"bridge3d.{app}.headless")
    result: int = headless.main(list(argv))
    return result


def fetch_health(url: str, timeout: float) -> dict[str, Any]:
    with urllib.request.urlopen(url.rstrip("/") + "/health", timeout=timeout) as response:  # noqa: S310 - our URL
        body: dict[str, Any] = json.load(response)
    return body["result"]


def cmd_health(args: argparse.Namespace) -> int:
    """Print a table of the gateway and both backends; exit 0 only when all are up."""
    rows = [("service", "state", "version", "round trip")]
    try:
        started = time.perf_counter()
        health = fetch_health(args.url, args.timeout)
        rows.append(("gateway", "up", health["version"], f"{(time.perf_counter() - started) * 1000:.1f} ms"))
        for name, backend in health["backends"].items():
            state = ("busy" if backend.get("busy") else "up") if backend["reachable"] else "down"
            trip = f"{backend['round_trip_ms']:.1f} ms" if backend.get("round_trip_ms") else "-"
            rows.append((name, state, backend.get("app_version") or "-", trip))
        healthy = health["status"] == "ok"
    except (urllib.error.URLError, OSError, ValueError, KeyError) as exc:
        rows.append(("gateway", "down", "-", str(getattr(exc, "reason", exc))[:40]))
        healthy = False
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    return 0 if healthy else 1


def cmd_addon(args: argparse.Namespace) -> int:
    builder = importlib.import_module(f"bridge3d.{args.app}.addon_build")
    path = builder.build_addon_zip(Path(args.output))
    print(path)
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    """Run both host servers and the gateway in the foreground; restart a host server that exits."""
    env = dict(os.environ)
    commands = {
        "blender": [sys.executable, "-m", "bridge3d.cli.main", "blender"],
        "freecad": [sys.executable, "-m", "bridge3d.cli.main", "freecad"],
        "api": [sys.executable, "-m", "bridge3d.cli.main", "api"],
    }
    processes = {name: subprocess.Popen(command, env=env) for name, command in commands.items()}
    restarts: dict[str, list[float]] = {name: [] for name in commands}
    stopping = False

    def stop(_signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while not stopping:
        time.sleep(0.5)
        for name, process in list(processes.items()):
            if process.poll() is None or stopping:
                continue
            recent = [t for t in restarts[name] if time.monotonic() - t < 60]
            if len(recent) >= 5:
                print(f"{name} exited {len(recent)} times in a minute; giving up on it", file=sys.stderr)
                continue
            delay = min(2 ** len(recent) * 0.5, 10)
            print(f"{name} exited with {process.returncode}; restarting in {delay:.1f} s", file=sys.stderr)
            time.sleep(delay)
            restarts[name] = [*recent, time.monotonic()]
            processes[name] = subprocess.Popen(commands[name], env=env)
    for process in processes.values():
        process.terminate()
    for process in processes.values():
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bridge3d", description="One REST + WebSocket API for Blender and FreeCAD.")
    parser.add_argument("--version", action="version", version=f"bridge3d {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    api = commands.add_parser("api", help="run the gateway (uvicorn)")
    api.add_argument("--host", help="bind address (default BRIDGE3D_HOST or 127.0.0.1)")
    api.add_argument("--port", type=int, help="port (default BRIDGE3D_PORT or 8000)")
    api.set_defaults(handler=cmd_api)

    for app in ("blender", "freecad"):
        host = commands.add_parser(app, help=f"run the headless {app} host server", add_help=False)
        host.add_argument("host_args", nargs=argparse.REMAINDER)
        host.set_defaults(handler=lambda args, app=app: cmd_host(app, args.host_args))

    health = commands.add_parser("health", help="show the gateway's and backends' health (exit 1 if not all up)")
    health.add_argument("--url", default=os.environ.get("BRIDGE3D_URL", "http://127.0.0.1:8000"))
    health.add_argument("--timeout", type=float, default=5.0)
    health.set_defaults(handler=cmd_health)

    up = commands.add_parser("up", help="run everything in the foreground; Ctrl-C stops all")
    up.set_defaults(handler=cmd_up)

    addon = commands.add_parser("addon", help="GUI add-on packages")
    addon_commands = addon.add_subparsers(dest="addon_command", required=True)
    build = addon_commands.add_parser("build", help="build the installable add-on zip")
    build.add_argument("app", choices=["blender", "freecad"])
    build.add_argument("--output", default="dist", help="folder for the zip (default dist/)")
    build.set_defaults(handler=cmd_addon)
    return parser


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
