"""``document.list|create|close|activate|save|open|undo|redo``."""

from __future__ import annotations

import os
from typing import Any

import FreeCAD

from ..commands.freecad import DOCUMENT_EXTENSION
from ..rpc.errors import Conflict, InvalidParams
from ..rpc.workspace import Workspace
from . import references
from .appdoc import DEFAULT_DOCUMENT, document_info, documents, enable_undo, find_document, gui_up

# The starting content of a new headless host (host-server setting NEW_SCENE): no document (the first command
# makes an empty one), or a template .FCStd of the workspace.
EMPTY_SCENE = "empty"


def start_document(setting: str, workspace: Workspace) -> str:
    """Make what a new headless host serves: ``empty`` (FreeCAD's own start: no document until a command needs one)
    or a .FCStd of the workspace, merged into a new untitled document named like the one commands make (so no save
    writes over the template). Returns what it started with; InvalidParams names what is wrong with the setting."""
    if setting == EMPTY_SCENE:
        return "no document"
    if not setting.lower().endswith(DOCUMENT_EXTENSION.lower()):
        raise InvalidParams.for_field(
            "new_scene", f"must be {EMPTY_SCENE} or a workspace {DOCUMENT_EXTENSION} (factory is Blender's)"
        )
    path = workspace.existing(setting, "new_scene")
    refused = references.document_file_references(path, workspace.root)
    if refused:
        raise references.refusal(path.name, refused)
    doc = FreeCAD.newDocument(DEFAULT_DOCUMENT, DEFAULT_DOCUMENT)
    try:
        doc.mergeProject(str(path))
        doc.recompute()
        refused = references.opened_references([doc], workspace.root)
    except Exception as exc:  # noqa: BLE001 - FreeCAD raises plain exceptions for corrupt files
        FreeCAD.closeDocument(doc.Name)
        raise InvalidParams.for_field("new_scene", f"FreeCAD could not read {path.name}: {exc}") from None
    if refused:
        FreeCAD.closeDocument(doc.Name)
        raise references.refusal(path.name, refused)
    enable_undo(doc)
    _activate(doc)
    return f"the template {path.name} in {doc.Name}"


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

    def save_document(self, document: str | None, name: str | None, copy: bool = False) -> dict[str, Any]:
        doc = find_document(document)
        if name is None:
            current = doc.FileName
            if current and os.path.dirname(os.path.abspath(current)) == str(self.workspace.root):
                name = os.path.basename(current)
            else:
                name = doc.Name + DOCUMENT_EXTENSION
        elif not name.lower().endswith(DOCUMENT_EXTENSION.lower()):
            name += DOCUMENT_EXTENSION
        path = self.workspace.output_path(name, doc.Name, DOCUMENT_EXTENSION, "name")
        if copy:
            doc.saveCopy(str(path))  # a snapshot (jobs): saveAs would rename the document after the file
        else:
            doc.saveAs(str(path))
        return {**self.workspace.written(path, "name"), "format": "FCStd", "document": doc.Name}

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
