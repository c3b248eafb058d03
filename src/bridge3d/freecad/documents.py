"""``document.list|create|close|activate|save|open|undo|redo``."""

from __future__ import annotations

import os
from typing import Any

import FreeCAD

from ..rpc import params as p
from ..rpc.errors import InvalidParams
from ..rpc.workspace import Workspace
from . import references
from .appdoc import document_info, documents, enable_undo, find_document, gui_up
from .spec import DOCUMENT_EXTENSION


def list_documents(workspace: Workspace, document: str | None = None) -> dict[str, Any]:
    """Every open document (or only ``document``)."""
    chosen = documents().values() if document is None else [find_document(document)]
    return {"documents": [document_info(doc, workspace.root) for doc in chosen]}


def create_document(workspace: Workspace, name: str | None = None) -> dict[str, Any]:
    """A new, active document; FreeCAD makes the name unique ("Unnamed" -> "Unnamed1")."""
    requested = p.name("name", name) or "Unnamed"
    # The label must be given too: FreeCAD otherwise derives a unique *label* ("T11") from a taken one.
    doc = FreeCAD.newDocument(requested, requested)
    enable_undo(doc)
    _activate(doc)
    return document_info(doc, workspace.root)


def close_document(workspace: Workspace, name: str) -> dict[str, Any]:
    """Close a document without saving."""
    doc = find_document(p.name("name", name, required=True), "name")
    real_name = doc.Name
    FreeCAD.closeDocument(real_name)
    return {"name": real_name, "closed": True}


def activate_document(workspace: Workspace, name: str) -> dict[str, Any]:
    """Make a document the default for commands that get no ``document``."""
    doc = find_document(p.name("name", name, required=True), "name")
    _activate(doc)
    return document_info(doc, workspace.root)


def save_document(workspace: Workspace, document: str | None = None, name: str | None = None) -> dict[str, Any]:
    """Save as ``name`` (.FCStd added) in the workspace; default: the document's file or <Name>.FCStd."""
    doc = find_document(document)
    if name is None:
        current = doc.FileName
        if current and os.path.dirname(os.path.abspath(current)) == str(workspace.root):
            name = os.path.basename(current)
        else:
            name = doc.Name + DOCUMENT_EXTENSION
    elif not isinstance(name, str) or not name:
        raise InvalidParams.for_field("name", "must be a file name")
    elif not name.lower().endswith(DOCUMENT_EXTENSION.lower()):
        name += DOCUMENT_EXTENSION
    path = workspace.path(name, "name")
    doc.saveAs(str(path))
    return {**workspace.describe(path), "format": "FCStd", "document": doc.Name}


def open_document(workspace: Workspace, name: str) -> dict[str, Any]:
    """Open a .FCStd file from the workspace (an already open file is just activated)."""
    path = workspace.existing(name, "name")
    if path.suffix.lower() != DOCUMENT_EXTENSION.lower():
        raise InvalidParams.for_field("name", f"must be a FreeCAD document ({DOCUMENT_EXTENSION})")
    for doc in documents().values():
        if doc.FileName and os.path.abspath(doc.FileName) == str(path):
            _activate(doc)
            return document_info(doc, workspace.root)
    # Refused, with every document it brought along closed again, if it links or names files outside.
    doc = references.open_checked(path, workspace.root)
    enable_undo(doc)
    _activate(doc)
    return document_info(doc, workspace.root)


def undo(workspace: Workspace, document: str | None = None) -> dict[str, Any]:
    """Undo the last transaction (every mutating command is one)."""
    return _history_step(workspace, document, "undo")


def redo(workspace: Workspace, document: str | None = None) -> dict[str, Any]:
    """Redo the last undone transaction."""
    return _history_step(workspace, document, "redo")


def _history_step(workspace: Workspace, document: str | None, direction: str) -> dict[str, Any]:
    doc = find_document(document)
    count, names = (doc.UndoCount, doc.UndoNames) if direction == "undo" else (doc.RedoCount, doc.RedoNames)
    if not count:
        raise InvalidParams.for_field("document", f"{doc.Name!r} has nothing to {direction}")
    step = names[0]
    getattr(doc, direction)()
    doc.recompute()
    done_key = {"undo": "undone", "redo": "redone"}[direction]
    return {**document_info(doc, workspace.root), done_key: step}


def _activate(doc: Any) -> None:
    FreeCAD.setActiveDocument(doc.Name)
    if gui_up():
        import FreeCADGui

        FreeCADGui.setActiveDocument(doc.Name)
