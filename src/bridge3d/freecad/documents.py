"""``document.list|create|close|activate|save|open|undo|redo``."""

from __future__ import annotations

import os
from typing import Any

import FreeCAD

from ..commands.freecad import DOCUMENT_EXTENSION
from ..rpc.errors import Conflict
from ..rpc.workspace import Workspace
from . import references
from .appdoc import document_info, documents, enable_undo, find_document, gui_up


class DocumentCommands:
    """document.*: the params arrive checked and complete (commands.freecad)."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    def list_documents(self, document: str | None) -> dict[str, Any]:
        chosen = documents().values() if document is None else [find_document(document)]
        return {"documents": [document_info(doc, self.workspace.root) for doc in chosen]}

    def create_document(self, name: str | None) -> dict[str, Any]:
        requested = name or "Unnamed"
        # The label must be given too: FreeCAD otherwise derives a unique *label* ("T11") from a taken one.
        doc = FreeCAD.newDocument(requested, requested)
        enable_undo(doc)
        _activate(doc)
        return document_info(doc, self.workspace.root)

    def close_document(self, name: str) -> dict[str, Any]:
        doc = find_document(name, "name")
        real_name = doc.Name
        FreeCAD.closeDocument(real_name)
        return {"name": real_name, "closed": True}

    def activate_document(self, name: str) -> dict[str, Any]:
        doc = find_document(name, "name")
        _activate(doc)
        return document_info(doc, self.workspace.root)

    def save_document(self, document: str | None, name: str | None) -> dict[str, Any]:
        doc = find_document(document)
        if name is None:
            current = doc.FileName
            if current and os.path.dirname(os.path.abspath(current)) == str(self.workspace.root):
                name = os.path.basename(current)
            else:
                name = doc.Name + DOCUMENT_EXTENSION
        elif not name.lower().endswith(DOCUMENT_EXTENSION.lower()):
            name += DOCUMENT_EXTENSION
        path = self.workspace.path(name, "name")
        doc.saveAs(str(path))
        return {**self.workspace.describe(path), "format": "FCStd", "document": doc.Name}

    def open_document(self, name: str) -> dict[str, Any]:
        path = self.workspace.existing(name, "name")
        for doc in documents().values():
            if doc.FileName and os.path.abspath(doc.FileName) == str(path):
                _activate(doc)
                return document_info(doc, self.workspace.root)
        # Refused, with every document it brought along closed again, if it links or names files outside.
        doc = references.open_checked(path, self.workspace.root)
        enable_undo(doc)
        _activate(doc)
        return document_info(doc, self.workspace.root)

    def undo(self, document: str | None) -> dict[str, Any]:
        return self._history_step(document, "undo")

    def redo(self, document: str | None) -> dict[str, Any]:
        return self._history_step(document, "redo")

    def _history_step(self, document: str | None, direction: str) -> dict[str, Any]:
        doc = find_document(document)
        count, names = (doc.UndoCount, doc.UndoNames) if direction == "undo" else (doc.RedoCount, doc.RedoNames)
        if not count:
            raise Conflict.for_field("document", f"{doc.Name!r} has nothing to {direction}")
        step = names[0]
        getattr(doc, direction)()
        doc.recompute()
        done_key = {"undo": "undone", "redo": "redone"}[direction]
        return {**document_info(doc, self.workspace.root), done_key: step}


def _activate(doc: Any) -> None:
    FreeCAD.setActiveDocument(doc.Name)
    if gui_up():
        import FreeCADGui

        FreeCADGui.setActiveDocument(doc.Name)
