"""glTF and GLB: the URIs a document gives, read as Blender's importer reads the file.

``io_scene_gltf2`` (``glTFImporter.read``) decides by content alone: a file starting with ``glTF`` is binary glTF
(its first chunk must be the JSON chunk), anything else is decoded as strict UTF-8 (a byte order mark is an error)
and parsed with Python's ``json``. It then loads every buffer and image URI that is not a ``data:`` URI holding
``;base64,``: backslashes become '/', the URI is percent-decoded, normalised and joined to the file's folder. The
same decoding and parser are used here, so no URI can hide from this check that the importer would follow, and a
file this parser cannot read is refused (UncheckableFile), never taken to have no URIs.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from typing import IO, Any
from urllib.parse import unquote

from .names import UncheckableFile
from .sniff import GLB_MAGIC

GLB_JSON_CHUNK = 0x4E4F534A
_GLB_HEADER = 20  # magic, version, length; first chunk's length and type
_DATA_URI_SEPARATOR = ";base64,"


def _bad_constant(value: str) -> Any:
    raise ValueError(f"JSON contains {value}")


def parse_json(data: bytes) -> Any:
    """The JSON document as the importer parses it (strict UTF-8, Python's json, NaN/Infinity refused)."""
    try:
        return json.loads(str(data, encoding="utf-8"), parse_constant=_bad_constant)
    except UnicodeDecodeError:
        raise UncheckableFile("not a glTF file: its JSON is not UTF-8") from None
    except ValueError as exc:
        raise UncheckableFile(f"not a glTF file: its JSON cannot be read ({exc})") from None
    except RecursionError:
        raise UncheckableFile("not a glTF file: its JSON is nested too deeply") from None


def read_gltf_json(handle: IO[bytes]) -> Any:
    """The JSON of a glTF file, chosen by content as the importer chooses: binary glTF by its magic (only its
    header and JSON chunk are read), anything else as a JSON document."""
    handle.seek(0)
    header = handle.read(_GLB_HEADER)
    if not header.startswith(GLB_MAGIC):
        return parse_json(header + handle.read())
    if len(header) < _GLB_HEADER:
        raise UncheckableFile("not a binary glTF file: its header is cut short")
    length, kind = struct.unpack_from("<II", header, 12)
    if kind != GLB_JSON_CHUNK:
        raise UncheckableFile("not a binary glTF file: its first chunk is not JSON")
    data = handle.read(length)
    if len(data) != length:
        raise UncheckableFile("not a binary glTF file: its JSON chunk is cut short")
    return parse_json(data)


def _uris(node: Any) -> Iterator[str]:
    """Every string value of a "uri" key anywhere in the document (buffers, images and extensions alike), in
    document order; iterative, so a document nested as deep as the parser allows cannot overflow the stack."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            children = []
            for key, value in item.items():
                if key == "uri" and isinstance(value, str):
                    yield value
                else:
                    children.append(value)
            stack.extend(reversed(children))
        elif isinstance(item, list):
            stack.extend(reversed(item))


def is_embedded(uri: str) -> bool:
    """A URI the importer decodes instead of opening a file (``data:...;base64,...``)."""
    return uri.startswith("data:") and _DATA_URI_SEPARATOR in uri


def gltf_references(document: Any) -> Iterator[str]:
    """Every URI the importer would open as a file, as it turns it into a path (backslashes to '/', percent
    decoded). A ``data:`` URI without ``;base64,`` is a path to the importer (``data:/../x`` reaches out)."""
    for uri in _uris(document):
        if not is_embedded(uri):
            yield unquote(uri.replace("\\", "/"))
