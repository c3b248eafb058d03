"""The host server inside the FreeCAD GUI: a Qt timer drains the command queue.

Use from FreeCAD's Python console, a macro, or the Bridge3D workbench
commands (see ``addon/``)::

    from bridge3d.freecad import gui
    gui.start(port=9877, token="secret")   # returns the HostServer
    gui.stop()

Settings not given as arguments come from the environment
(BRIDGE3D_FREECAD_HOST/PORT/TOKEN/WORKSPACE) and then from FreeCAD's
parameter group ``User parameter:BaseApp/Preferences/Mod/Bridge3D``
(Host, Port, Token, Workspace, Autostart).
"""

from __future__ import annotations

import logging
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import FreeCAD

from ..rpc.hostmain import RunningHost, start_host, workspace_limits
from ..rpc.server import HostServer, ServerConfig, is_loopback
from ..rpc.workspace import Workspace
from . import APP_NAME, DEFAULT_PORT
from .headless import freecad_version
from .registry import FreeCADHost

logger = logging.getLogger(__name__)

PARAM_GROUP = "User parameter:BaseApp/Preferences/Mod/Bridge3D"
TICK_MS = 20  # how often the Qt timer drains the queue
DRAIN_BUDGET_S = 0.05  # at most this long per tick, so the GUI stays responsive


@dataclass
class GuiSettings:
    host: str
    port: int
    token: str | None
    workspace: str


def settings(
    host: str | None = None, port: int | None = None, token: str | None = None, workspace: str | None = None
) -> GuiSettings:
    params = FreeCAD.ParamGet(PARAM_GROUP)
    env = os.environ.get
    prefix = "BRIDGE3D_FREECAD_"
    default_ws = str(Path(tempfile.gettempdir()) / "bridge3d-freecad-workspace")
    return GuiSettings(
        host=host or env(prefix + "HOST") or params.GetString("Host", "") or "127.0.0.1",
        port=int(port or env(prefix + "PORT") or params.GetInt("Port", 0) or DEFAULT_PORT),
        token=token or env(prefix + "TOKEN") or params.GetString("Token", "") or None,
        workspace=workspace or env(prefix + "WORKSPACE") or params.GetString("Workspace", "") or default_ws,
    )


class GuiServer:
    def __init__(self, config: GuiSettings) -> None:
        self.config = config
        self.running: RunningHost | None = None
        self.timer: Any = None

    @property
    def server(self) -> HostServer:
        assert self.running is not None
        return self.running.server

    @property
    def workspace(self) -> Workspace:
        assert self.running is not None
        return self.running.workspace

    def start(self) -> None:
        try:
            from PySide import QtCore  # FreeCAD's shim (Ext/PySide) over PySide2
        except ImportError:
            from PySide2 import QtCore

        config = self.config
        server_config = ServerConfig(
            host=config.host, port=config.port, token=config.token, app_name=APP_NAME, app_version=freecad_version()
        )
        workspace = Workspace(config.workspace, workspace_limits(APP_NAME))
        self.running = start_host(server_config, workspace, FreeCADHost)
        self.timer = QtCore.QTimer()
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self.tick)
        self.timer.start()

    def tick(self) -> None:
        running = self.running
        if running is None:
            return
        try:
            running.server.pump.drain(DRAIN_BUDGET_S)
            # Changes the user makes in the GUI between commands are published here.
            assert isinstance(running.app, FreeCADHost)
            running.app.flush_events()
        except Exception:
            logger.exception("bridge3d pump tick failed")

    def stop(self) -> None:
        if self.timer is not None:
            self.timer.stop()
        running, self.running = self.running, None
        if running is not None:
            running.stop()


_current: GuiServer | None = None


def is_running() -> bool:
    return _current is not None


def current() -> HostServer | None:
    return _current.server if _current is not None else None


def start(
    host: str | None = None, port: int | None = None, token: str | None = None, workspace: str | None = None
) -> HostServer:
    """Start the GUI host server (once); returns it. A non-loopback host needs a token."""
    global _current
    if _current is not None:
        return _current.server
    config = settings(host, port, token, workspace)
    if not is_loopback(config.host) and not config.token:
        config.token = secrets.token_hex(16)
        FreeCAD.Console.PrintWarning(f"bridge3d: {config.host} is not loopback; generated token {config.token}\n")
    gui_server = GuiServer(config)
    gui_server.start()
    _current = gui_server
    FreeCAD.Console.PrintMessage(
        f"bridge3d: FreeCAD host server on {config.host}:{gui_server.server.port} "
        f"(auth {'on' if config.token else 'off'}), workspace {gui_server.workspace.root}\n"
    )
    return gui_server.server


def stop() -> None:
    global _current
    if _current is None:
        return
    _current.stop()
    _current = None
    FreeCAD.Console.PrintMessage("bridge3d: host server stopped\n")


def autostart_requested() -> bool:
    flag = os.environ.get("BRIDGE3D_FREECAD_AUTOSTART", "")
    if flag:
        return flag.lower() in {"1", "true", "yes", "on"}
    return bool(FreeCAD.ParamGet(PARAM_GROUP).GetBool("Autostart", False))


def status() -> dict[str, Any]:
    server = current()
    return {"running": server is not None, "port": server.port if server else None}
