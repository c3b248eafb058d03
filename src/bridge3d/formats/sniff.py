"""What a file is by its first bytes, the way the importers tell.

Blender's glTF importer reads a file starting with ``glTF`` as binary glTF and anything else as JSON; its .blend
reader takes plain, gzip- and zstd-compressed files; its FBX importer reads binary FBX only; USD tells a crate
from a text layer by its first bytes and a package by its extension. The signatures below are the ones those
readers test.
"""

from __future__ import annotations

from typing import IO

HEAD_BYTES = 64

GLB_MAGIC = b"glTF"
CRATE_MAGIC = b"PXR-USDC"
USDA_MAGIC = b"#usda"
ZIP_MAGIC = b"PK\x03\x04"
BLEND_MAGIC = b"BLENDER"
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
FBX_MAGIC = b"Kaydara FBX Binary  \x00"
UTF8_BOM = b"\xef\xbb\xbf"
# UTF-32 before UTF-16: the UTF-32 LE mark starts with the UTF-16 LE one.
WIDE_BOMS = (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff", b"\xff\xfe", b"\xfe\xff")
JSON_SPACE = b" \t\r\n"

# What sniff() answers.
GLB = "GLB"  # binary glTF
GLTF_JSON = "GLTF_JSON"  # a JSON object (with or without a UTF-8 byte order mark): glTF to Blender's importer
USD_CRATE = "USD_CRATE"
USD_TEXT = "USD_TEXT"
ZIP = "ZIP"  # a USD package (.usdz) or a FreeCAD document (.FCStd)
BLEND = "BLEND"
GZIP = "GZIP"  # a compressed .blend, to Blender
ZSTD = "ZSTD"  # likewise
FBX = "FBX"  # binary FBX
# Signatures of binary containers: a file that starts with one is read by its own parser, not as text.
BINARY = frozenset({GLB, USD_CRATE, ZIP, BLEND, GZIP, ZSTD, FBX})

_SIGNATURES = (
    (GLB_MAGIC, GLB),
    (CRATE_MAGIC, USD_CRATE),
    (USDA_MAGIC, USD_TEXT),
    (ZIP_MAGIC, ZIP),
    (BLEND_MAGIC, BLEND),
    (GZIP_MAGIC, GZIP),
    (ZSTD_MAGIC, ZSTD),
    (FBX_MAGIC, FBX),
)


def read_head(handle: IO[bytes], size: int = HEAD_BYTES) -> bytes:
    """The first ``size`` bytes; the handle is left at the start."""
    handle.seek(0)
    head = handle.read(size)
    handle.seek(0)
    return head


def sniff(handle: IO[bytes]) -> str | None:
    """The kind of content (one of the names above) or None (text or binary data of no signature known here).
    The handle is left at the start."""
    head = read_head(handle)
    for magic, kind in _SIGNATURES:
        if head.startswith(magic):
            return kind
    return GLTF_JSON if _starts_json_object(handle, head) else None


def _starts_json_object(handle: IO[bytes], head: bytes) -> bool:
    """Whether the first byte after a UTF-8 byte order mark and JSON white space is '{' (however much space)."""
    text = head[len(UTF8_BOM) :] if head.startswith(UTF8_BOM) else head
    rest = text.lstrip(JSON_SPACE)
    if rest or len(head) < HEAD_BYTES:
        return rest.startswith(b"{")
    handle.seek(len(head))
    try:
        while True:
            chunk = handle.read(64 * 1024)
            if not chunk:
                return False
            rest = chunk.lstrip(JSON_SPACE)
            if rest:
                return rest.startswith(b"{")
    finally:
        handle.seek(0)


def is_wide_text(head: bytes) -> bool:
    """Text in UTF-16 or UTF-32 (by its byte order mark): no importer of a text format here reads it as text."""
    return head.startswith(WIDE_BOMS)
