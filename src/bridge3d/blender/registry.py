"""The Blender command table, shared by the headless server and the GUI add-on.

Every command of ``commands.blender`` gets its handler here; the dispatcher checks each call's params against the
declaration before the handler runs.
"""

from __future__ import annotations

import logging
from typing import Any

import bmesh
import bpy
import mathutils

from .. import commands
from ..rpc.dispatcher import Registry
from ..rpc.execution import run_user_code
from ..rpc.server import HostServer
from ..rpc.workspace import Workspace
from . import APP_NAME
from . import scene as scene_module
from .events import EventHub
from .fileio import FileCommands
from .objects import ObjectCommands
from .scene import SceneCommands
from .view import view_glb

logger = logging.getLogger(__name__)


def blender_version() -> tuple[int, int, int]:
    major, minor, patch = tuple(bpy.app.version)[:3]
    return (int(major), int(minor), int(patch))


class BlenderHost:
    """One host server's Blender side: its command handlers and the event hub, installed on the main thread."""

    def __init__(self, workspace: Workspace, server: HostServer | None) -> None:
        self.workspace = workspace
        self.hub = EventHub(server)
        version = blender_version()
        self.objects = ObjectCommands(self.hub, version)
        self.scene = SceneCommands(workspace, self.hub, version)
        self.files = FileCommands(workspace, self.hub, version)

    def install(self) -> None:
        """Add the render/depsgraph app handlers that publish events."""
        self.hub.install()

    def close(self) -> None:
        self.hub.uninstall()

    def start_scene(self, setting: str) -> str:
        started = scene_module.start_scene(setting, self.workspace)
        self.hub.touched.clear()
        return started

    def code_execute(self, code: str) -> dict[str, Any]:
        namespace: dict[str, Any] = {
            "bpy": bpy,
            "bmesh": bmesh,
            "mathutils": mathutils,
            "C": bpy.context,
            "D": bpy.data,
            "workspace": str(self.workspace.root),
        }
        try:
            return run_user_code(code, namespace)
        finally:
            if bpy.app.background:
                # No event loop evaluates the depsgraph in background mode; do it so that
                # depsgraph_update_post reports what the code changed (object.changed events).
                try:
                    bpy.context.view_layer.update()
                except Exception:
                    logger.debug("view_layer.update() after code.execute failed", exc_info=True)

    def registry(self) -> Registry:
        registry = Registry()
        objects, scene, files = self.objects, self.scene, self.files
        commands.register(
            registry,
            APP_NAME,
            {
                "primitive.create": objects.primitive_create,
                "object.list": objects.object_list,
                "object.get": objects.object_get,
                "object.delete": objects.object_delete,
                "object.transform": objects.object_transform,
                "object.rename": objects.object_rename,
                "material.create": objects.material_create,
                "material.apply": objects.material_apply,
                "material.list": objects.material_list,
                "material.delete": objects.material_delete,
                "scene.info": scene.scene_info,
                "scene.clear": scene.scene_clear,
                "scene.save": scene.scene_save,
                "scene.open": scene.scene_open,
                "camera.create": scene.camera_create,
                "light.create": scene.light_create,
                "render.image": scene.render_image,
                "file.export": files.file_export,
                "file.import": files.file_import,
                "code.execute": self.code_execute,
                "view.glb": view_glb,  # the live viewer's scene (docs/VIEWER.md)
                "state.save": scene.state_save,  # durable sessions' snapshots (docs/OPERATIONS.md)
                "state.load": scene.state_load,
                # Workspace file IO touches no Blender data: it runs on the IO thread and answers during a render.
                **self.workspace.handlers(),
            },
        )
        registry.add_compact("primitive.create", objects.primitive_create_compact)
        return registry
