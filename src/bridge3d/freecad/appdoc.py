"""Documents, transactions, recompute and visibility: the FreeCAD plumbing every command uses."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import FreeCAD

from ..rpc.errors import Conflict, NotFound

logger = logging.getLogger(__name__)

DEFAULT_DOCUMENT = "Unnamed"


def gui_up() -> bool:
    return bool(getattr(FreeCAD, "GuiUp", False))


def enable_undo(doc: Any) -> None:
    """Headless documents start with UndoMode 0 (no transactions); turn it on."""
    if not doc.UndoMode:
        doc.UndoMode = 1


def documents() -> dict[str, Any]:
    return dict(FreeCAD.listDocuments())


def find_document(name: str | None, field: str = "document") -> Any:
    """The document called ``name`` (internal name first, then label), or the active one."""
    if name is None:
        doc = FreeCAD.ActiveDocument
        if doc is None:
            existing = documents()
            if existing:
                doc = next(iter(existing.values()))
                FreeCAD.setActiveDocument(doc.Name)
            else:
                doc = FreeCAD.newDocument(DEFAULT_DOCUMENT)
        enable_undo(doc)
        return doc
    existing = documents()
    doc = existing.get(name)
    if doc is None:
        doc = next((d for d in existing.values() if d.Label == name), None)
    if doc is None:
        raise NotFound(f"No document named {name!r}", {"field": field, "document": name, "documents": sorted(existing)})
    enable_undo(doc)
    return doc


def document_info(doc: Any, workspace_root: Any = None) -> dict[str, Any]:
    active = FreeCAD.ActiveDocument
    info: dict[str, Any] = {
        "name": doc.Name,
        "label": doc.Label,
        "objects": len(doc.Objects),
        "active": active is not None and active.Name == doc.Name,
        "undo": list(doc.UndoNames),
        "redo": list(doc.RedoNames),
    }
    # Only a workspace file name is reported, never a server path.
    file_name = doc.FileName
    info["file"] = None
    if file_name and workspace_root is not None and os.path.dirname(os.path.abspath(file_name)) == str(workspace_root):
        info["file"] = os.path.basename(file_name)
    if gui_up():
        import FreeCADGui

        gui_doc = FreeCADGui.getDocument(doc.Name)
        if gui_doc is not None:
            info["modified"] = bool(gui_doc.Modified)
    return info


def find_object(doc: Any, name: str, field: str = "name") -> Any:
    """An object by internal Name, else by Label; NotFound otherwise."""
    obj = doc.getObject(name)
    if obj is None:
        matches = doc.getObjectsByLabel(name)
        obj = matches[0] if matches else None
    if obj is None:
        raise NotFound(
            f"No object named {name!r} in document {doc.Name!r}", {"field": field, "name": name, "document": doc.Name}
        )
    return obj


@contextmanager
def transaction(doc: Any, label: str) -> Iterator[None]:
    """One undo step: commit on success, abort (undo everything inside) on any error."""
    enable_undo(doc)
    doc.openTransaction(label)
    try:
        yield
    except BaseException:
        try:
            doc.abortTransaction()
        except Exception:
            logger.exception("aborting transaction %r failed", label)
        raise
    doc.commitTransaction()


def recompute(doc: Any, objects: Iterable[Any] | None = None) -> None:
    """Recompute ``objects`` (and what they depend on), or every touched object.

    Passing the new/changed objects keeps a command O(size of its own
    dependency graph) instead of walking the whole document: see
    docs/freecad.md, "Recompute".
    """
    targets = list(objects) if objects is not None else None
    if targets:
        doc.recompute(targets)
    else:
        doc.recompute()
    for obj in targets or doc.Objects:
        state = list(getattr(obj, "State", []))
        if "Invalid" in state or "Error" in state:
            message = ""
            status = getattr(obj, "getStatusString", None)
            if status is not None:
                try:
                    message = str(status())
                except Exception:  # noqa: BLE001 - only used for the message
                    message = ""
            raise Conflict(
                f"{obj.Name}: recompute failed{': ' + message if message else ''}",
                {"name": obj.Name, "state": state, "reason": message},
            )


def is_visible(obj: Any) -> bool:
    if gui_up():
        view = getattr(obj, "ViewObject", None)
        if view is not None:
            return bool(view.Visibility)
    return bool(getattr(obj, "Visibility", True))


def set_visible(obj: Any, visible: bool) -> None:
    if gui_up():
        view = getattr(obj, "ViewObject", None)
        if view is not None:
            view.Visibility = visible
    if hasattr(obj, "Visibility"):
        obj.Visibility = visible
