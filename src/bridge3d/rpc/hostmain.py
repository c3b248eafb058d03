"""What the headless Blender and FreeCAD entry points share: options and the serve loop."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .dispatcher import Registry
from .protocol import DEFAULT_MAX_FRAME_BYTES
from .server import HostServer, ServerConfig, is_loopback
from .workspace import Workspace

logger = logging.getLogger(__name__)


def build_parser(app: str, default_port: int) -> argparse.ArgumentParser:
    """Options for ``bridge3d <app>``; every default can come from BRIDGE3D_<APP>_* env vars."""
    prefix = f"BRIDGE3D_{app.upper()}_"
    env = os.environ.get
    parser = argparse.ArgumentParser(prog=f"bridge3d {app}", description=f"Run the headless {app} host server.")
    parser.add_argument("--host", default=env(prefix + "HOST", "127.0.0.1"), help="bind address (default 127.0.0.1)")
    parser.add_argument(
        "--port",
        type=int,
        default=int(env(prefix + "PORT", str(default_port))),
        help=f"TCP port (default {default_port})",
    )
    parser.add_argument(
        "--token", default=env(prefix + "TOKEN") or None, help=f"require rpc.hello with this token (env {prefix}TOKEN)"
    )
    parser.add_argument(
        "--workspace",
        default=env(prefix + "WORKSPACE", str(Path(tempfile.gettempdir()) / f"bridge3d-{app}-workspace")),
        help="folder for renders, exports, saves and uploads",
    )
    parser.add_argument(
        "--max-frame-bytes", type=int, default=int(env("BRIDGE3D_MAX_FRAME_BYTES", str(DEFAULT_MAX_FRAME_BYTES)))
    )
    parser.add_argument("--log-level", default=env("BRIDGE3D_LOG_LEVEL", "INFO"))
    return parser


def run_headless(
    app: str,
    default_port: int,
    app_version: str,
    build_registry: Callable[[Workspace, HostServer | None], Registry],
    argv: Sequence[str] | None = None,
) -> int:
    """Parse options, start the IO thread and run the pump on this (main) thread."""
    args = build_parser(app, default_port).parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    if not is_loopback(args.host) and not args.token:
        logger.error("refusing to bind %s host server to %s without a token (--token)", app, args.host)
        return 2
    try:
        workspace = Workspace(args.workspace)
    except OSError as exc:
        logger.error("cannot use the workspace: %s", exc)
        return 2
    config = ServerConfig(
        host=args.host,
        port=args.port,
        token=args.token,
        max_frame_bytes=args.max_frame_bytes,
        app_name=app,
        app_version=app_version,
    )
    server = HostServer(Registry(), config)
    server.registry.update(build_registry(workspace, server))
    try:
        server.start()
    except OSError as exc:
        logger.error("cannot listen on %s:%d: %s", args.host, args.port, exc)
        return 3

    def request_stop(signum: int, _frame: Any) -> None:
        logger.info("signal %d: stopping", signum)
        server.pump.stop()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    logger.info("%s %s serving on %s:%d, workspace %s", app, app_version, args.host, server.port, workspace.root)
    try:
        server.serve_forever()
    finally:
        server.stop()
    return 0
