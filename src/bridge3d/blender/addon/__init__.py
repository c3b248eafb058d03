"""The bridge3d Blender add-on: preferences, a sidebar panel and start/stop operators.

This module is the implementation. The installable zip (``addon_build``) puts a
small ``__init__.py`` on top that holds the literal ``bl_info`` (Blender 3.4 -
4.1 read it without importing) and forwards ``register()`` /
``unregister()`` here with its own module name, which is what Blender uses as
the preferences id: ``bridge3d_blender`` for a legacy add-on,
``bl_ext.<repo>.bridge3d_blender`` for a 4.2+ extension.
"""

from __future__ import annotations

import logging
from typing import Any

import bpy
from bpy.props import BoolProperty, IntProperty, StringProperty

from .. import DEFAULT_PORT
from ..gui import SERVER

logger = logging.getLogger(__name__)

bl_info = {
    "name": "bridge3d",
    "author": "bridge3d",
    "version": (0, 1, 0),
    "blender": (3, 4, 0),
    "location": "Preferences > Add-ons > bridge3d; View3D > Sidebar > bridge3d",
    "description": "JSON-RPC host server so the bridge3d REST/WebSocket gateway can drive this Blender",
    "category": "System",
}

_package: str = __name__


def _preferences() -> Any:
    addon = bpy.context.preferences.addons.get(_package)
    return addon.preferences if addon is not None else None


def start_from_preferences() -> int:
    prefs = _preferences()
    port = prefs.port if prefs is not None else DEFAULT_PORT
    token = prefs.token if prefs is not None else ""
    workspace = prefs.workspace if prefs is not None else ""
    return SERVER.start(port=port, token=token or None, workspace=bpy.path.abspath(workspace) if workspace else None)


_TOKEN_HELP = "Clients must send this in rpc.hello; empty = no authentication"  # noqa: S105 - help text
_WORKSPACE_HELP = "Folder for renders, exports and uploads (empty = temp folder)"


class BRIDGE3D_AddonPreferences(bpy.types.AddonPreferences):  # noqa: N801 - Blender naming convention
    bl_idname = __name__  # replaced in register() by the real add-on module name

    port: IntProperty(name="Port", default=DEFAULT_PORT, min=0, max=65535)  # type: ignore[valid-type]
    token: StringProperty(name="Token", subtype="PASSWORD", description=_TOKEN_HELP)  # type: ignore[valid-type]
    workspace: StringProperty(name="Workspace", subtype="DIR_PATH", description=_WORKSPACE_HELP)  # type: ignore[valid-type]
    auto_start: BoolProperty(name="Start with Blender", default=False)  # type: ignore[valid-type]

    def draw(self, context: Any) -> None:
        layout = self.layout
        layout.prop(self, "port")
        layout.prop(self, "token")
        layout.prop(self, "workspace")
        layout.prop(self, "auto_start")
        _draw_status(layout)


class BRIDGE3D_OT_server_start(bpy.types.Operator):  # noqa: N801
    """Start the bridge3d host server (127.0.0.1)"""

    bl_idname = "bridge3d.server_start"
    bl_label = "Start bridge3d server"

    @classmethod
    def poll(cls, context: Any) -> bool:
        return not SERVER.running

    def execute(self, context: Any) -> set[str]:
        try:
            port = start_from_preferences()
        except OSError as exc:
            self.report({"ERROR"}, f"bridge3d: {exc}")
            return {"CANCELLED"}
        self.report({"INFO"}, f"bridge3d server listening on 127.0.0.1:{port}")
        return {"FINISHED"}


class BRIDGE3D_OT_server_stop(bpy.types.Operator):  # noqa: N801
    """Stop the bridge3d host server"""

    bl_idname = "bridge3d.server_stop"
    bl_label = "Stop bridge3d server"

    @classmethod
    def poll(cls, context: Any) -> bool:
        return SERVER.running

    def execute(self, context: Any) -> set[str]:
        SERVER.stop()
        return {"FINISHED"}


class BRIDGE3D_PT_panel(bpy.types.Panel):  # noqa: N801
    bl_label = "bridge3d"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "bridge3d"

    def draw(self, context: Any) -> None:
        _draw_status(self.layout)


def _draw_status(layout: Any) -> None:
    status = SERVER.status()
    if status["running"]:
        layout.label(text=f"Listening on 127.0.0.1:{status['port']}", icon="CHECKMARK")
        layout.operator(BRIDGE3D_OT_server_stop.bl_idname, icon="PAUSE")
    else:
        if status["error"]:
            layout.label(text=status["error"], icon="ERROR")
        layout.operator(BRIDGE3D_OT_server_start.bl_idname, icon="PLAY")


CLASSES = (BRIDGE3D_AddonPreferences, BRIDGE3D_OT_server_start, BRIDGE3D_OT_server_stop, BRIDGE3D_PT_panel)


def _auto_start() -> None:
    prefs = _preferences()
    if prefs is not None and prefs.auto_start and not SERVER.running:
        try:
            start_from_preferences()
        except OSError:
            logger.exception("bridge3d auto-start failed")
    return None


def register(package: str | None = None) -> None:
    global _package
    _package = package or __name__
    BRIDGE3D_AddonPreferences.bl_idname = _package
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    # Preferences are readable only after registration; start on the first timer tick.
    bpy.app.timers.register(_auto_start, first_interval=0.1)


def unregister() -> None:
    SERVER.stop()
    if bpy.app.timers.is_registered(_auto_start):
        bpy.app.timers.unregister(_auto_start)
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
