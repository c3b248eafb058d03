"""The Blender command table, shared by the headless server and the GUI add-on."""

from __future__ import annotations

import logging
from typing import Any

import bmesh
import bpy
import mathutils

from ..rpc.dispatcher import Registry
from ..rpc.execution import run_user_code
from ..rpc.server import HostServer
from ..rpc.workspace import Workspace
from .events import EventHub
from .fileio import FileCommands
from .objects import ObjectCommands
from .scene import SceneCommands

logger = logging.getLogger(__name__)

# The hub of the most recent registry: its app handlers are removed when a new one is built.
_current_hub: EventHub | None = None


def blender_version() -> tuple[int, int, int]:
    major, minor, patch = tuple(bpy.app.version)[:3]
    return (int(major), int(minor), int(patch))


def build_registry(workspace: Workspace, server: HostServer | None) -> Registry:
    """All Blender methods; installs the render/depsgraph event handlers."""
    global _current_hub
    if _current_hub is not None:
        _current_hub.uninstall()
    hub = EventHub(server)
    hub.install()
    _current_hub = hub
    version = blender_version()
    objects = ObjectCommands(hub, version)
    scene = SceneCommands(workspace, hub, version)
    files = FileCommands(workspace, hub, version)

    def code_execute(code: str) -> dict[str, Any]:
        """Run Python with bpy, bmesh, mathutils, C (context) and D (data); `result` is returned."""
        namespace: dict[str, Any] = {
            "bpy": bpy,
            "bmesh": bmesh,
            "mathutils": mathutils,
            "C": bpy.context,
            "D": bpy.data,
            "workspace": str(workspace.root),
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

    registry = Registry()
    add = registry.add
    add("primitive.create", objects.primitive_create)
    add("object.list", objects.object_list)
    add("object.get", objects.object_get)
    add("object.delete", objects.object_delete)
    add("object.transform", objects.object_transform)
    add("object.rename", objects.object_rename)
    add("material.create", objects.material_create)
    add("material.apply", objects.material_apply)
    add("material.list", objects.material_list)
    add("scene.info", scene.scene_info)
    add("scene.clear", scene.scene_clear)
    add("scene.save", scene.scene_save)
    add("scene.open", scene.scene_open)
    add("camera.create", scene.camera_create)
    add("light.create", scene.light_create)
    add("render.image", scene.render_image)
    add("file.export", files.file_export)
    add("file.import", files.file_import)
    add("code.execute", code_execute, cancellable=True)
    # Workspace file IO touches no Blender data: it runs on the IO thread and answers during a render.
    workspace.register_methods(registry)
    return registry
