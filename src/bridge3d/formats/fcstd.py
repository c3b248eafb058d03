"""FreeCAD documents (.FCStd): the files a document names, read as FreeCAD reads the archive.

FreeCAD 0.20 opens an .FCStd with zipios' ZipInputStream and parses the *first* entry of the archive as the
document, whatever its name (shapes and meshes are then read by name). So the first local entry must be
Document.xml, stored or deflated, and plain XML: no DOCTYPE (FreeCAD never writes one, and entity declarations are
where XML parsers part ways). In it, every ``file`` attribute (links to other documents, files inside the archive)
must be a relative name that stays inside, every document an XLink names is checked the same way (FreeCAD opens it
along), and every value of a PropertyFile/PropertyPath (``Mesh::Import.FileName``, read on recompute) must be an
absolute path inside the workspace. A document that cannot be read that far is refused (UncheckableFile).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO, NamedTuple
from xml.parsers import expat

from .archive import entry_chunks, local_entries
from .names import UncheckableFile, is_relative_inside, printable, resolves_inside

DOCUMENT_XML = "Document.xml"
# Properties whose value is a path on disk, read or written by the objects that hold them.
PATH_PROPERTY_TYPES = ("App::PropertyFile", "App::PropertyPath")
MAX_DOCUMENT_BYTES = 1024 * 1024 * 1024


class DocumentName(NamedTuple):
    label: str  # Object.Property it belongs to
    value: str
    path_property: bool  # a PropertyFile/PropertyPath value (else a ``file`` attribute)
    xlink: bool  # a link to another document


def document_xml(handle: IO[bytes]) -> Iterable[bytes]:
    """The bytes FreeCAD parses as the document: those of the archive's first entry, which must be Document.xml."""
    entry = next(local_entries(handle), None)
    if entry is None:
        raise UncheckableFile("not a FreeCAD document: not a zip archive from its first byte")
    if entry.name != DOCUMENT_XML:
        raise UncheckableFile(
            f"not a FreeCAD document: its first entry is {printable(entry.name)!r}, not {DOCUMENT_XML} "
            "(FreeCAD reads the first entry as the document)"
        )
    return entry_chunks(handle, entry, MAX_DOCUMENT_BYTES)


def document_names(xml: Iterable[bytes]) -> list[DocumentName]:
    """Every ``file`` attribute and file/path property value of a Document.xml, read with expat (streamed)."""
    parser = expat.ParserCreate()
    found: list[DocumentName] = []
    state = {"object": "", "property": "", "type": ""}

    def start(tag: str, attributes: dict[str, str]) -> None:
        if tag == "Object":
            state["object"] = attributes.get("name", "")
        elif tag == "Property":
            state["property"], state["type"] = attributes.get("name", ""), attributes.get("type", "")
        label = f"{state['object']}.{state['property']}" if state["object"] else state["property"]
        name = attributes.get("file")
        if name:
            found.append(DocumentName(label, name, False, tag.startswith("XLink")))
        value = attributes.get("value")
        if state["type"] in PATH_PROPERTY_TYPES and tag != "Property" and value:
            found.append(DocumentName(label, value, True, False))

    def doctype(*_: object) -> None:
        raise UncheckableFile(f"{DOCUMENT_XML} declares a DOCTYPE, which FreeCAD never writes")

    parser.StartElementHandler = start
    parser.StartDoctypeDeclHandler = doctype
    try:
        for chunk in xml:
            parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except expat.ExpatError as exc:
        raise UncheckableFile(f"{DOCUMENT_XML} is not well-formed XML ({exc})") from None
    return found


def absolute_inside(value: str, root: Path) -> bool:
    """An absolute path inside the workspace (a relative one would be taken relative to the process's folder)."""
    if not os.path.isabs(value):
        return False
    try:
        return Path(value).resolve().is_relative_to(root)
    except (OSError, RuntimeError, ValueError):
        return False


def document_references(path: Path, root: Path, seen: set[Path] | None = None) -> list[dict[str, str]]:
    """What a document (and every workspace document it links, which FreeCAD opens along) names outside ``root``:
    [{kind: link|path_property, name: Object.Property, path}]. Raises UncheckableFile for a document (linked ones
    included) that cannot be read."""
    seen = set() if seen is None else seen
    seen.add(path)
    with path.open("rb") as handle:
        names = document_names(document_xml(handle))
    found: list[dict[str, str]] = []
    linked: list[str] = []
    for item in names:
        if item.path_property:
            if not absolute_inside(item.value, root):
                found.append({"kind": "path_property", "name": item.label, "path": printable(item.value)})
        elif not is_relative_inside(item.value):
            found.append({"kind": "link", "name": item.label, "path": printable(item.value)})
        elif item.xlink:
            linked.append(item.value)
    for name in dict.fromkeys(linked):
        target = path.parent / name
        if not resolves_inside(path.parent, name, root):
            found.append({"kind": "link", "name": name, "path": printable(name)})
        elif target not in seen and target.is_file():
            try:
                found += document_references(target, root, seen)
            except UncheckableFile as exc:
                raise UncheckableFile(f"the document it links, {printable(name)!r}: {exc}") from None
    return found
