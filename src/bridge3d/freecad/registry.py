"""The FreeCAD command table, shared by the headless and the GUI host server.

Every command of ``commands.freecad`` gets its handler here; the dispatcher checks each call's params against the
declaration before the handler runs.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

import FreeCAD

from .. import commands
from ..rpc.dispatcher import Registry
from ..rpc.execution import run_user_code
from ..rpc.server import HostServer
from ..rpc.workspace import Workspace
from . import APP_NAME, view
from .appdoc import documents as open_documents
from .appdoc import find_document, gui_up
from .booleans import BooleanCommands
from .documents import DocumentCommands, start_document
from .events import DocumentEvents
from .files import FileCommands
from .objects import ObjectCommands
from .state import StateCommands

logger = logging.getLogger(__name__)


class FreeCADHost:
    """One host server's FreeCAD side: its command handlers and the document observer, installed on the main
    thread. Observer events are collected during a command and published when it ends (``flush_events``)."""

    def __init__(self, workspace: Workspace, server: HostServer | None) -> None:
        self.workspace = workspace
        self.events: DocumentEvents | None = DocumentEvents(server.publish) if server is not None else None
        self.documents = DocumentCommands(workspace)
        self.objects = ObjectCommands()
        self.booleans = BooleanCommands()
        self.files = FileCommands(workspace)
        self.state = StateCommands(workspace)

    def install(self) -> None:
        if self.events is not None:
            self.events.install()

    def close(self) -> None:
        if self.events is not None:
            self.events.uninstall()

    def start_scene(self, setting: str) -> str:
        try:
            return start_document(setting, self.workspace)
        finally:
            self.flush_events()

    def flush_events(self) -> None:
        if self.events is not None:
            self.events.flush()

    def code_execute(self, code: str, document: str | None) -> dict[str, Any]:
        """Not wrapped in a transaction (the code may use its own, or undo); documents the code touched are
        recomputed afterwards."""
        import Mesh
        import Part

        namespace: dict[str, Any] = {
            "FreeCAD": FreeCAD,
            "App": FreeCAD,
            "Part": Part,
            "Mesh": Mesh,
            "doc": find_document(document),
            "workspace": str(self.workspace.root),
        }
        if gui_up():
            import FreeCADGui

            namespace["FreeCADGui"] = FreeCADGui
            namespace["Gui"] = FreeCADGui
        result = run_user_code(code, namespace)
        for each in open_documents().values():
            try:
                if each.isTouched():
                    each.recompute()
            except Exception:
                logger.exception("recompute after code.execute failed")
        return result

    def _flushing(self, handler: Callable[..., Any]) -> Callable[..., Any]:
        """The handler, then the events it caused, whatever its outcome."""

        @functools.wraps(handler)
        def call(**params: Any) -> Any:
            try:
                return handler(**params)
            finally:
                self.flush_events()

        return call

    def registry(self) -> Registry:
        registry = Registry()
        documents, objects, booleans, files = self.documents, self.objects, self.booleans, self.files
        handlers: dict[str, Callable[..., Any]] = {
            "document.list": documents.list_documents,
            "document.create": documents.create_document,
            "document.close": documents.close_document,
            "document.activate": documents.activate_document,
            "document.save": documents.save_document,
            "document.open": documents.open_document,
            "document.undo": documents.undo,
            "document.redo": documents.redo,
            "primitive.create": objects.create_primitive,
            "object.list": objects.list_objects,
            "object.get": objects.get_object,
            "object.delete": objects.delete_object,
            "object.transform": objects.transform_object,
            "boolean.union": booleans.union,
            "boolean.subtract": booleans.subtract,
            "boolean.intersect": booleans.intersect,
            "file.export": files.export_file,
            "file.import": files.import_file,
            "code.execute": self.code_execute,
            "view.glb": view.view_glb,
            "state.save": self.state.save_state,
            "state.load": self.state.load_state,
        }
        flushing = {name: self._flushing(handler) for name, handler in handlers.items()}
        commands.register(registry, APP_NAME, {**flushing, **self.workspace.handlers()})
        return registry
