"""The FreeCAD command table, shared by the headless and the GUI host server."""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from typing import Any

import FreeCAD

from ..rpc.dispatcher import Registry
from ..rpc.execution import run_user_code
from ..rpc.server import HostServer
from ..rpc.workspace import Workspace
from . import booleans, documents, files, objects
from .appdoc import documents as open_documents
from .appdoc import find_document, gui_up
from .events import DocumentEvents

logger = logging.getLogger(__name__)


class FreeCADHost:
    """Holds what the handlers share: the workspace and the document observer."""

    def __init__(self, workspace: Workspace, server: HostServer | None) -> None:
        self.workspace = workspace
        self.server = server
        self.events: DocumentEvents | None = DocumentEvents(server.publish) if server is not None else None

    def install(self) -> None:
        if self.events is not None:
            self.events.install()

    def close(self) -> None:
        if self.events is not None:
            self.events.uninstall()

    def flush_events(self) -> None:
        if self.events is not None:
            self.events.flush()

    # ------------------------------------------------------------ code.execute
    def execute(self, code: str, document: str | None = None) -> dict[str, Any]:
        """Run Python inside FreeCAD with FreeCAD/App/Part/Mesh and ``doc`` (the document) in scope.

        Not wrapped in a transaction (the code may use its own, or undo);
        documents the code touched are recomputed afterwards.
        """
        import Mesh
        import Part

        doc = find_document(document)
        namespace: dict[str, Any] = {
            "FreeCAD": FreeCAD,
            "App": FreeCAD,
            "Part": Part,
            "Mesh": Mesh,
            "doc": doc,
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

    # ------------------------------------------------------------ registry
    def _wrap(self, handler: Callable[..., Any]) -> Callable[..., Any]:
        """Flush collected events after the handler, whatever its outcome."""

        @functools.wraps(handler)
        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return handler(*args, **kwargs)
            finally:
                self.flush_events()

        call.__signature__ = inspect.signature(handler)  # type: ignore[attr-defined]
        return call

    def registry(self) -> Registry:
        ws = self.workspace
        registry = Registry()

        def add(name: str, handler: Callable[..., Any], *, cancellable: bool = False) -> None:
            registry.add(name, self._wrap(handler), cancellable=cancellable)

        add("document.list", functools.partial(documents.list_documents, ws))
        add("document.create", functools.partial(documents.create_document, ws))
        add("document.close", functools.partial(documents.close_document, ws))
        add("document.activate", functools.partial(documents.activate_document, ws))
        add("document.save", functools.partial(documents.save_document, ws))
        add("document.open", functools.partial(documents.open_document, ws))
        add("document.undo", functools.partial(documents.undo, ws))
        add("document.redo", functools.partial(documents.redo, ws))
        add("primitive.create", objects.create_primitive)
        add("object.list", objects.list_objects)
        add("object.get", objects.get_object)
        add("object.delete", objects.delete_object)
        add("object.transform", objects.transform_object)
        add("boolean.union", booleans.union)
        add("boolean.subtract", booleans.subtract)
        add("boolean.intersect", booleans.intersect)
        add("file.export", functools.partial(files.export_file, ws))
        add("file.import", functools.partial(files.import_file, ws))
        add("code.execute", self.execute, cancellable=True)
        ws.register_methods(registry)
        return registry


def build_registry(workspace: Workspace, server: HostServer | None) -> Registry:
    """The FreeCAD command table; with a server, also install the document observer (main thread)."""
    host = FreeCADHost(workspace, server)
    host.install()
    return host.registry()
