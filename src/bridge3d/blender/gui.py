"""The host server inside the Blender GUI: a ``bpy.app.timers`` callback drains the pump.

The IO thread answers ``rpc.ping``/``describe``/``cancel`` itself; every
command waits in the queue until the timer runs it on Blender's main thread,
at most ``DRAIN_BUDGET`` seconds of queued work per tick, so the UI stays
responsive between ticks (a single long command, e.g. a render, still blocks
the UI while it runs, exactly as it would from the menu).
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import bpy

from ..rpc.hostmain import RunningHost, start_host, workspace_limits
from ..rpc.server import ServerConfig
from ..rpc.workspace import Workspace
from . import APP_NAME, DEFAULT_PORT
from .registry import BlenderHost

logger = logging.getLogger(__name__)

DRAIN_BUDGET = 0.02  # seconds of queued commands per timer tick
BUSY_INTERVAL = 0.0  # next tick at once while the queue had work
IDLE_INTERVAL = 0.05  # otherwise 20 ticks a second


def default_workspace() -> Path:
    return Path(tempfile.gettempdir()) / "bridge3d-blender-workspace"


class GuiServer:
    """One running host server in this Blender session (start/stop from the add-on)."""

    def __init__(self) -> None:
        self.running_host: RunningHost | None = None
        self.error: str | None = None

    @property
    def running(self) -> bool:
        return self.running_host is not None

    def start(
        self, port: int = DEFAULT_PORT, token: str | None = None, workspace: str | None = None, host: str = "127.0.0.1"
    ) -> int:
        """Listen on ``host:port``; returns the port (useful with port 0)."""
        if self.running_host is not None:
            return self.running_host.server.port
        config = ServerConfig(
            host=host, port=port, token=token or None, app_name=APP_NAME, app_version=bpy.app.version_string
        )
        try:
            folder = Workspace(workspace or default_workspace(), workspace_limits(APP_NAME))
            running = start_host(config, folder, BlenderHost)
        except OSError as exc:
            self.error = f"cannot listen on {host}:{port}: {exc}"
            logger.error("%s", self.error)
            raise
        self.running_host = running
        self.error = None
        if not bpy.app.timers.is_registered(self._tick):
            bpy.app.timers.register(self._tick, first_interval=0.0, persistent=True)
        logger.info(
            "bridge3d host server listening on %s:%d, workspace %s", host, running.server.port, running.workspace.root
        )
        return running.server.port

    def stop(self) -> None:
        running, self.running_host = self.running_host, None
        if bpy.app.timers.is_registered(self._tick):
            bpy.app.timers.unregister(self._tick)
        if running is not None:
            running.stop()
            logger.info("bridge3d host server stopped")

    def status(self) -> dict[str, Any]:
        running = self.running_host
        return {
            "running": running is not None,
            "port": running.server.port if running is not None else None,
            "workspace": str(running.workspace.root) if running is not None else None,
            "error": self.error,
        }

    def _tick(self) -> float | None:
        running = self.running_host
        if running is None:
            return None
        try:
            ran = running.server.pump.drain(DRAIN_BUDGET)
        except Exception:  # a timer that raises is unregistered by Blender: never let that happen
            logger.exception("bridge3d pump tick failed")
            ran = 0
        return BUSY_INTERVAL if ran else IDLE_INTERVAL


SERVER = GuiServer()
