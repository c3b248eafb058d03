"""What the headless Blender and FreeCAD entry points share: options and the serve loop."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .dispatcher import Registry
from .errors import RpcError
from .protocol import DEFAULT_MAX_FRAME_BYTES
from .server import DEFAULT_MAX_CONNECTIONS, HostServer, ServerConfig, is_loopback
from .workspace import (
    DEFAULT_GENERATED_MAX_AGE,
    DEFAULT_MIN_FREE_BYTES,
    DEFAULT_QUOTA_BYTES,
    GENERATED_AGE_SETTING,
    MIN_FREE_SETTING,
    QUOTA_SETTING,
    Workspace,
    WorkspaceLimits,
    option_name,
    setting_name,
)

logger = logging.getLogger(__name__)

# What a new headless host's scene holds (BRIDGE3D_<APP>_NEW_SCENE, --new-scene): "empty", so that a name asked for
# is the name given; Blender's "factory" scene (a Cube, a Camera, a Light); or a template file of the workspace.
NEW_SCENE_SETTING = "NEW_SCENE"
DEFAULT_NEW_SCENE = "empty"


def _count(text: str) -> int:
    """A whole number >= 0 (a size in bytes); 0 switches a limit off."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not value >= 0:  # also NaN
        raise argparse.ArgumentTypeError(f"{text} is not a number of seconds >= 0")
    return value


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
    token = parser.add_mutually_exclusive_group()
    token.add_argument(
        "--token",
        default=env(prefix + "TOKEN") or None,
        help=f"require rpc.hello with this token (env {prefix}TOKEN); both are readable by other programs of this "
        "user (ps, /proc/<pid>/environ): prefer --token-fd or --token-file",
    )
    token.add_argument(
        "--token-fd",
        type=int,
        metavar="FD",
        help="read the token from this inherited file descriptor (a pipe), then close it",
    )
    token.add_argument(
        "--token-file",
        metavar="PATH",
        help="read the token from this file (mode 0600), then delete it",
    )
    parser.add_argument(
        "--workspace",
        default=env(prefix + "WORKSPACE", str(Path(tempfile.gettempdir()) / f"bridge3d-{app}-workspace")),
        help="folder for renders, exports, saves and uploads",
    )
    parser.add_argument(
        "--max-frame-bytes", type=int, default=int(env("BRIDGE3D_MAX_FRAME_BYTES", str(DEFAULT_MAX_FRAME_BYTES)))
    )
    parser.add_argument(
        "--max-connections",
        type=int,
        default=int(env(prefix + "MAX_CONNECTIONS", str(DEFAULT_MAX_CONNECTIONS))),
        help=f"open connections at most; more are refused (default {DEFAULT_MAX_CONNECTIONS})",
    )
    parser.add_argument(
        "--ready-fd",
        type=int,
        metavar="FD",
        help="once listening, write the port (a decimal line) to this inherited descriptor and close it; with "
        "--port 0 this is how the process that started the host learns the port",
    )
    parser.add_argument(
        option_name(NEW_SCENE_SETTING),
        dest="new_scene",
        default=env(prefix + NEW_SCENE_SETTING, DEFAULT_NEW_SCENE),
        metavar="empty|factory|FILE",
        help=f"what a new scene holds: empty (the default), factory (Blender's start-up scene: Cube, Camera, "
        f"Light) or a template .blend / .FCStd file of the workspace (env {prefix}{NEW_SCENE_SETTING})",
    )
    parser.add_argument(
        option_name(QUOTA_SETTING),
        dest="workspace_quota_bytes",
        type=_count,
        default=_count(env(prefix + QUOTA_SETTING, str(DEFAULT_QUOTA_BYTES))),
        metavar="BYTES",
        help=f"most bytes the workspace may hold; a write beyond is refused (WORKSPACE_FULL) once older generated "
        f"files have made way; 0: no quota (default {DEFAULT_QUOTA_BYTES}, env {prefix}{QUOTA_SETTING})",
    )
    parser.add_argument(
        option_name(MIN_FREE_SETTING),
        dest="workspace_min_free_bytes",
        type=_count,
        default=_count(env(prefix + MIN_FREE_SETTING, str(DEFAULT_MIN_FREE_BYTES))),
        metavar="BYTES",
        help=f"bytes a write must leave free on the workspace's disk; 0: no floor (default {DEFAULT_MIN_FREE_BYTES}, "
        f"env {prefix}{MIN_FREE_SETTING})",
    )
    parser.add_argument(
        option_name(GENERATED_AGE_SETTING),
        dest="generated_max_age",
        type=_seconds,
        default=_seconds(env(prefix + GENERATED_AGE_SETTING, str(DEFAULT_GENERATED_MAX_AGE))),
        metavar="SECONDS",
        help=f"generated files (renders, exports and saves written without a name) older than this are deleted; "
        f"0: kept until room is needed (default {DEFAULT_GENERATED_MAX_AGE:g}, env {prefix}{GENERATED_AGE_SETTING})",
    )
    parser.add_argument("--log-level", default=env("BRIDGE3D_LOG_LEVEL", "INFO"))
    return parser


def workspace_limits(app: str, args: argparse.Namespace | None = None) -> WorkspaceLimits:
    """The workspace limits from parsed options, or (``args`` None: the GUI add-ons) from the environment."""
    if args is None:
        args = build_parser(app, 0).parse_args([])
    return WorkspaceLimits(
        quota_bytes=args.workspace_quota_bytes,
        min_free_bytes=args.workspace_min_free_bytes,
        generated_max_age=args.generated_max_age,
        app=app,
    )


def token_pipe(token: str) -> int:
    """The read end of a pipe holding ``token``, for a child started with ``--token-fd`` (pass it in pass_fds,
    then close it in the parent). Nothing of the token is left in the child's command line or environment, where
    any program of the same user can read it (/proc/<pid>/cmdline and /proc/<pid>/environ)."""
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, token.encode())  # far below the pipe's buffer: never blocks
    finally:
        os.close(write_end)
    return read_end


def read_token(args: argparse.Namespace) -> str | None:
    """The token from --token, --token-fd (read and closed) or --token-file (read and deleted)."""
    if args.token_fd is not None:
        with os.fdopen(args.token_fd, "rb") as pipe:
            return pipe.read().decode().strip() or None
    if args.token_file is not None:
        path = Path(args.token_file)
        try:
            return path.read_text().strip() or None
        finally:
            path.unlink(missing_ok=True)
    token: str | None = args.token
    return token


def announce_port(fd: int, port: int) -> None:
    """Tell the starting process where this host listens; its read returns at our close (or at our exit)."""
    try:
        with os.fdopen(fd, "wb") as pipe:
            pipe.write(f"{port}\n".encode())
    except OSError as exc:  # the starter went away: nobody is waiting for the port
        logger.warning("cannot announce the port on descriptor %d: %s", fd, exc)


class AppHost(Protocol):
    """What an application package gives a host server: its command table, and what to set up on the main thread
    before serving and take down after (event handlers, document observers)."""

    def registry(self) -> Registry: ...

    def install(self) -> None: ...

    def close(self) -> None: ...

    def start_scene(self, setting: str) -> str:
        """Set up what a new headless host serves (the NEW_SCENE setting; the GUI add-ons keep the user's file);
        returns what it started with, for the log. Raises an RpcError saying what is wrong with the setting."""
        ...


MakeAppHost = Callable[[Workspace, HostServer], AppHost]


@dataclass
class RunningHost:
    """A started host server and its application side; ``stop`` takes both down."""

    server: HostServer
    app: AppHost
    workspace: Workspace

    def stop(self) -> None:
        # Python functions left in Blender's app handlers crash (4.2) or hang (4.5) the interpreter at exit.
        try:
            self.app.close()
        finally:
            self.server.stop()


def start_host(config: ServerConfig, workspace: Workspace, make_app: MakeAppHost) -> RunningHost:
    """The one way a host server is built (headless, Blender add-on, FreeCAD workbench): the IO thread listens
    when this returns; the caller runs the pump (``serve_forever`` or ``drain`` from a GUI timer). Raises OSError
    when the address cannot be bound."""
    server = HostServer(Registry(), config)
    app = make_app(workspace, server)
    server.registry.update(app.registry())
    server.start()
    app.install()
    return RunningHost(server, app, workspace)


def run_headless(
    app: str, default_port: int, app_version: str, make_app: MakeAppHost, argv: Sequence[str] | None = None
) -> int:
    """Parse options, start the IO thread and run the pump on this (main) thread."""
    args = build_parser(app, default_port).parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    try:
        token = read_token(args)
    except OSError as exc:
        logger.error("cannot read the token: %s", exc)
        return 2
    if not is_loopback(args.host) and not token:
        logger.error("refusing to bind %s host server to %s without a token (--token)", app, args.host)
        return 2
    try:
        workspace = Workspace(args.workspace, workspace_limits(app, args))
    except OSError as exc:
        logger.error("cannot use the workspace: %s", exc)
        return 2
    config = ServerConfig(
        host=args.host,
        port=args.port,
        token=token,
        max_frame_bytes=args.max_frame_bytes,
        app_name=app,
        app_version=app_version,
        max_connections=args.max_connections,
        headless=True,
    )
    try:
        running = start_host(config, workspace, make_app)
    except OSError as exc:
        logger.error("cannot listen on %s:%d: %s", args.host, args.port, exc)
        return 3

    def request_stop(signum: int, _frame: Any) -> None:
        logger.info("signal %d: stopping", signum)
        running.server.pump.stop()

    try:
        started_with = running.app.start_scene(args.new_scene)
    except RpcError as exc:
        logger.error("cannot start with %s=%s: %s", setting_name(app, NEW_SCENE_SETTING), args.new_scene, exc.message)
        running.stop()
        return 2
    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    port = running.server.port
    logger.info(
        "%s %s serving on %s:%d, workspace %s, starting with %s",
        app,
        app_version,
        args.host,
        port,
        workspace.root,
        started_with,
    )
    if args.ready_fd is not None:
        announce_port(args.ready_fd, port)
    try:
        running.server.serve_forever()
    finally:
        running.stop()
    return 0
