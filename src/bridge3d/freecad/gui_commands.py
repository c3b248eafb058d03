"""FreeCAD GUI commands of the Bridge3D add-on: start/stop the host server."""

from __future__ import annotations

import logging
import os
from typing import Any

import FreeCAD
import FreeCADGui

from . import gui

logger = logging.getLogger(__name__)

COMMANDS = ["Bridge3D_Start", "Bridge3D_Stop"]
ICON = os.path.join(os.path.dirname(os.path.abspath(__file__)), "addon", "Resources", "bridge3d.svg")
_registered = False


class StartCommand:
    def GetResources(self) -> dict[str, str]:  # noqa: N802 - FreeCAD's command API
        return {
            "MenuText": "Start bridge3d server",
            "ToolTip": "Serve this FreeCAD session to bridge3d (JSON-RPC on 127.0.0.1, default port 9877)",
            "Pixmap": ICON,
        }

    def IsActive(self) -> bool:  # noqa: N802
        return not gui.is_running()

    def Activated(self) -> None:  # noqa: N802
        try:
            gui.start()
        except OSError as exc:
            FreeCAD.Console.PrintError(f"bridge3d: cannot start the host server: {exc}\n")


class StopCommand:
    def GetResources(self) -> dict[str, str]:  # noqa: N802
        return {"MenuText": "Stop bridge3d server", "ToolTip": "Stop serving this FreeCAD session", "Pixmap": ICON}

    def IsActive(self) -> bool:  # noqa: N802
        return gui.is_running()

    def Activated(self) -> None:  # noqa: N802
        gui.stop()


def register() -> None:
    """Add the commands (idempotent)."""
    global _registered
    if _registered:
        return
    FreeCADGui.addCommand("Bridge3D_Start", StartCommand())
    FreeCADGui.addCommand("Bridge3D_Stop", StopCommand())
    _registered = True


def schedule_autostart() -> None:
    """Start the server once the event loop runs, if BRIDGE3D_FREECAD_AUTOSTART or the Autostart preference is set."""
    if not gui.autostart_requested():
        return
    try:
        from PySide import QtCore
    except ImportError:
        from PySide2 import QtCore

    def run() -> None:
        try:
            gui.start()
        except Exception as exc:  # noqa: BLE001 - reported in FreeCAD's report view
            FreeCAD.Console.PrintError(f"bridge3d: autostart failed: {exc}\n")

    QtCore.QTimer.singleShot(0, run)


def workbench_items() -> Any:
    return list(COMMANDS)
