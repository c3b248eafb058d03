"""Event publishing: from our own commands and from Blender's app handlers.

Topics: ``object.created|deleted|changed``, ``scene.cleared``, ``scene.opened``,
``render.started|progress|finished|cancelled``.

* Commands publish ``object.*`` themselves (``source: "command"``).
* ``depsgraph_update_post`` adds ``object.changed`` with ``source: "depsgraph"``
  for objects whose transform or geometry changed some other way (the GUI user,
  code.execute). In background mode Blender evaluates the depsgraph only when
  asked, so headless ``code.execute`` calls ``view_layer.update()`` after the
  user's code to make those changes visible. Objects our own commands touched
  since the last evaluation are skipped (they already had an event).
* ``render_pre`` / ``render_stats`` / ``render_post`` / ``render_cancel`` give
  the render topics for any render, ours or a script's. ``render_stats`` fires
  in background mode too (Cycles and EEVEE report many stages; Workbench often
  only a final line); progress events are throttled to 10 per second.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import bpy
from bpy.app.handlers import persistent

from ..rpc.server import HostServer

logger = logging.getLogger(__name__)

MAX_DEPSGRAPH_EVENTS = 100
PROGRESS_INTERVAL = 0.1


class EventHub:
    def __init__(self, server: HostServer | None) -> None:
        self.server = server
        self.touched: set[str] = set()  # names our commands changed since the last depsgraph update
        self.render_output: str | None = None  # workspace file name of the render in progress
        self._render_started = 0.0
        self._last_progress = 0.0
        self._handlers: list[tuple[list[Any], Callable[..., None]]] = []

    # ------------------------------------------------------------ publishing
    def publish(self, topic: str, data: dict[str, Any]) -> None:
        if self.server is not None:
            self.server.publish(topic, data)

    def object_event(self, topic: str, obj: Any, **extra: Any) -> None:
        name = obj.name
        self.touched.add(name)
        # The payload's bpy reads are skipped when no connection subscribed (a batch creates thousands of objects).
        if self.server is not None and self.server.listening:
            self.server.publish(topic, {"name": name, "type": obj.type, "source": "command", **extra})

    # ------------------------------------------------------------ app handlers
    def install(self) -> None:
        self.uninstall()

        @persistent
        def on_depsgraph(_scene: Any, depsgraph: Any = None) -> None:
            self._on_depsgraph(depsgraph)

        @persistent
        def on_render_pre(scene: Any, *_: Any) -> None:
            self._render_started = time.monotonic()
            self._last_progress = 0.0  # the first progress of every render is always sent
            self.publish("render.started", self._render_data(scene))

        @persistent
        def on_render_stats(stats: Any = None, *_: Any) -> None:
            now = time.monotonic()
            if now - self._last_progress < PROGRESS_INTERVAL:
                return
            self._last_progress = now
            self.publish("render.progress", {"stats": str(stats), "output": self.render_output})

        @persistent
        def on_render_post(scene: Any, *_: Any) -> None:
            data = self._render_data(scene)
            data["seconds"] = round(time.monotonic() - self._render_started, 3)
            self.publish("render.finished", data)

        @persistent
        def on_render_cancel(scene: Any, *_: Any) -> None:
            self.publish("render.cancelled", self._render_data(scene))

        handlers = bpy.app.handlers
        for handler_list, fn in (
            (handlers.depsgraph_update_post, on_depsgraph),
            (handlers.render_pre, on_render_pre),
            (handlers.render_stats, on_render_stats),
            (handlers.render_post, on_render_post),
            (handlers.render_cancel, on_render_cancel),
        ):
            handler_list.append(fn)
            self._handlers.append((handler_list, fn))

    def uninstall(self) -> None:
        for handler_list, fn in self._handlers:
            if fn in handler_list:
                handler_list.remove(fn)
        self._handlers.clear()

    def _render_data(self, scene: Any) -> dict[str, Any]:
        render = scene.render
        return {
            "engine": render.engine,
            "resolution": [render.resolution_x, render.resolution_y],
            "frame": scene.frame_current,
            "output": self.render_output,
        }

    def _on_depsgraph(self, depsgraph: Any) -> None:
        touched, self.touched = self.touched, set()
        if depsgraph is None or self.server is None:
            return
        sent = 0
        skipped = 0
        for update in depsgraph.updates:
            obj = update.id
            if not isinstance(obj, bpy.types.Object):
                continue
            if not (update.is_updated_transform or update.is_updated_geometry):
                continue
            name = obj.name
            if name in touched:
                continue
            if sent >= MAX_DEPSGRAPH_EVENTS:
                skipped += 1
                continue
            sent += 1
            self.publish(
                "object.changed",
                {
                    "name": name,
                    "type": obj.type,
                    "source": "depsgraph",
                    "transform": bool(update.is_updated_transform),
                    "geometry": bool(update.is_updated_geometry),
                },
            )
        if skipped:
            self.publish("object.changed", {"name": None, "source": "depsgraph", "truncated": skipped})
