"""Files outside the workspace that a FreeCAD document names.

An .FCStd can link objects of other documents (App::Link, PropertyXLink, expressions): FreeCAD opens those
documents together with it, from any path the file gives. Properties of type PropertyFile or PropertyPath name
files that features read on recompute (Part::ImportStep, Mesh::Import, fonts of ShapeStrings) or folders they
write to (solver working directories). A document is therefore checked twice: before FreeCAD sees it, the
Document.xml FreeCAD would read (the archive's first entry; ``bridge3d.formats.fcstd``), refused if it cannot be
read; and after opening, every document that opening it brought in (closed again if any of them reaches outside).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import FreeCAD

from ..formats import fcstd
from ..formats.names import UncheckableFile, uncheckable
from ..formats.names import refusal as file_refusal
from ..rpc.errors import InvalidParams

logger = logging.getLogger(__name__)

PATH_PROPERTY_TYPES = fcstd.PATH_PROPERTY_TYPES
LINK_PROPERTY_PREFIXES = ("App::PropertyXLink", "App::PropertyExpressionEngine")


def _inside(value: str, root: Path) -> bool:
    """An absolute path inside the workspace (a relative one would be taken relative to the process's folder)."""
    return fcstd.absolute_inside(value, root)


def refusal(what: str, references: list[dict[str, str]]) -> InvalidParams:
    return file_refusal(
        "name", what, references, "FreeCAD", "upload linked documents into the workspace and link them by file name"
    )


# ------------------------------------------------------------ before opening
def document_file_references(path: Path, root: Path) -> list[dict[str, str]]:
    """What the document FreeCAD would read names outside the workspace (links to other documents must be plain
    names, file/path properties absolute paths inside ``root``; a document it links in the workspace is checked
    too). A document that cannot be read that far (not a zip from its first byte, Document.xml not first, not
    XML) is refused (InvalidParams), never taken to name nothing."""
    try:
        return fcstd.document_references(path, root)
    except (UncheckableFile, OSError) as exc:
        raise uncheckable("name", path.name, exc) from None


# ------------------------------------------------------------- after opening
def _linked_documents(value: Any) -> Iterator[Any]:
    """Documents of the objects a link property's value holds (object, (object, subs), lists of those)."""
    if isinstance(value, list | tuple):
        for item in value:
            yield from _linked_documents(item)
    elif value is not None and hasattr(value, "Document") and hasattr(value, "TypeId"):
        yield value.Document


def opened_references(documents: Iterable[Any], root: Path) -> list[dict[str, str]]:
    """Documents opened from outside the workspace and path properties outside it, in ``documents``."""
    found: list[dict[str, str]] = []
    for doc in documents:
        if doc.FileName and not _inside(doc.FileName, root):
            found.append({"kind": "document", "name": doc.Name, "path": os.path.basename(doc.FileName)})
        for obj in doc.Objects:
            for prop in obj.PropertiesList:
                kind = obj.getTypeIdOfProperty(prop)
                if kind in PATH_PROPERTY_TYPES:
                    value = getattr(obj, prop, "")
                    if isinstance(value, str) and value and not _inside(value, root):
                        found.append({"kind": "path_property", "name": f"{obj.Name}.{prop}", "path": value})
                elif kind.startswith(LINK_PROPERTY_PREFIXES):
                    try:
                        value = obj.getPropertyByName(prop)
                    except Exception as exc:  # noqa: BLE001 - an unresolvable link raises; then nothing was opened
                        logger.debug("link %s.%s does not resolve: %s", obj.Name, prop, exc)
                        continue
                    for linked in _linked_documents(value):
                        if linked.FileName and not _inside(linked.FileName, root):
                            where = os.path.basename(linked.FileName)
                            found.append({"kind": "link", "name": f"{obj.Name}.{prop}", "path": where})
    return found


def open_checked(path: Path, root: Path) -> Any:
    """Open an .FCStd unless it (or a document it brings along) names files outside ``root``.

    FreeCAD opens linked documents with the one asked for; after a refusal every document the call opened is
    closed again, so nothing of them stays reachable.
    """
    refused = document_file_references(path, root)
    if refused:
        raise refusal(path.name, refused)
    before = set(FreeCAD.listDocuments())
    try:
        doc = FreeCAD.openDocument(str(path))
    except Exception as exc:  # noqa: BLE001 - FreeCAD raises plain exceptions for corrupt files
        _close_new(before)
        raise InvalidParams.for_field("name", f"could not be opened as a FreeCAD document: {exc}") from None
    opened = [d for name, d in FreeCAD.listDocuments().items() if name not in before]
    refused = opened_references(opened or [doc], root)
    if refused:
        _close_new(before)
        logger.warning("refused to open %s: %d outside references", path.name, len(refused))
        raise refusal(path.name, refused)
    return doc


def _close_new(before: set[str]) -> None:
    for name in [n for n in FreeCAD.listDocuments() if n not in before]:
        try:
            FreeCAD.closeDocument(name)
        except Exception:
            logger.exception("could not close document %s", name)
