"""Files outside the workspace that a FreeCAD document or an imported OBJ names.

An .FCStd can link objects of other documents (App::Link, PropertyXLink, expressions): FreeCAD opens those
documents together with it, from any path the file gives. Properties of type PropertyFile or PropertyPath name
files that features read on recompute (Part::ImportStep, Mesh::Import, fonts of ShapeStrings) or folders they
write to (solver working directories). And FreeCAD's OBJ reader loads the ``mtllib`` it is given. A document is
therefore checked twice: its Document.xml before FreeCAD sees it, and every document that opening it brought in
afterwards (closed again if any of them reaches outside).
"""

from __future__ import annotations

import logging
import os
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import FreeCAD

from ..rpc import references as file_refs
from ..rpc.errors import InvalidParams

logger = logging.getLogger(__name__)

DOCUMENT_XML = "Document.xml"
# Properties whose value is a path on disk, read or written by the objects that hold them.
PATH_PROPERTY_TYPES = ("App::PropertyFile", "App::PropertyPath")
LINK_PROPERTY_PREFIXES = ("App::PropertyXLink", "App::PropertyExpressionEngine")


def _inside(value: str, root: Path) -> bool:
    """An absolute path inside the workspace (a relative one would be taken relative to the process's folder)."""
    if not os.path.isabs(value):
        return False
    try:
        return Path(value).resolve().is_relative_to(root)
    except (OSError, RuntimeError, ValueError):
        return False


def refusal(what: str, references: list[dict[str, str]]) -> InvalidParams:
    return file_refs.refusal(
        "name", what, references, "FreeCAD", "upload linked documents into the workspace and link them by file name"
    )


# ------------------------------------------------------------ before opening
def document_file_references(path: Path, root: Path, seen: set[Path] | None = None) -> list[dict[str, str]]:
    """What Document.xml names outside the workspace: every ``file`` attribute (links to other documents, and
    names of files inside the archive) must be a plain name, every file/path property a path inside ``root``.
    A document it links by name in the workspace is checked the same way (FreeCAD opens it too)."""
    seen = set() if seen is None else seen
    seen.add(path)
    linked: list[str] = []
    try:
        with zipfile.ZipFile(path) as archive, archive.open(DOCUMENT_XML) as xml:
            found = list(_xml_references(xml, root, linked))
    except KeyError:
        return []  # no Document.xml: FreeCAD cannot open it either
    except (zipfile.BadZipFile, ElementTree.ParseError, OSError, NotImplementedError, EOFError):
        return []  # not a readable document; FreeCAD reports that when it tries
    for name in dict.fromkeys(linked):
        target = path.parent / name
        if not file_refs.resolves_inside(path.parent, name, root):
            found.append({"kind": "link", "name": name, "path": file_refs.printable(name)})
        elif target not in seen and target.is_file() and zipfile.is_zipfile(target):
            found += document_file_references(target, root, seen)
    return found


def _xml_references(xml: Any, root: Path, linked: list[str]) -> Iterator[dict[str, str]]:
    obj_name = ""
    prop_name, prop_type = "", ""
    # Python's expat (>= 2.4) refuses entity-expansion bombs and ElementTree never loads external entities;
    # defusedxml is not in FreeCAD's Python.
    for event, element in ElementTree.iterparse(xml, events=("start", "end")):  # noqa: S314
        if event == "end":
            if element.tag in ("Object", "Property"):
                element.clear()
            continue
        if element.tag == "Object":
            obj_name = element.get("name", "")
        elif element.tag == "Property":
            prop_name, prop_type = element.get("name", ""), element.get("type", "")
        label = f"{obj_name}.{prop_name}" if obj_name else prop_name
        name = element.get("file")
        if name and not file_refs.is_relative_inside(name):
            yield {"kind": "link", "name": label, "path": file_refs.printable(name)}
        elif name and element.tag.startswith("XLink"):
            linked.append(name)
        value = element.get("value")
        if prop_type in PATH_PROPERTY_TYPES and element.tag != "Property" and value and not _inside(value, root):
            yield {"kind": "path_property", "name": label, "path": file_refs.printable(value)}


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
