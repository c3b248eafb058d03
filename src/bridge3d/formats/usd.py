"""USD layers: every string that could name a file, in text, binary (crate) and packaged layers.

USD composes sublayers, references and payloads from any path a layer gives, and Blender's importer loads the
assets (textures, volumes) named in it. USD tells a crate layer (``PXR-USDC``) from a text layer (``#usda``) by its
first bytes and opens a package (.usdz) by its extension, reading the package's local zip headers from the start
(``archive``). A file given as USD that is none of the three is refused (UncheckableFile), as is a package holding a
layer in a format USD reads but this check does not (.sdf text layers, MaterialX documents).
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Iterator
from typing import IO

from .archive import local_entries, stored_entry
from .names import READ_CHUNK_BYTES, UncheckableFile, decode
from .sniff import CRATE_MAGIC, USDA_MAGIC, ZIP_MAGIC

USD_EXTENSIONS = (".usd", ".usda", ".usdc", ".usdz")
# Layer formats Blender's USD also reads (by extension), which are not checked here.
UNCHECKED_LAYER_EXTENSIONS = (".sdf", ".mtlx")
MAX_USDZ_DEPTH = 4
MAX_CRATE_TOKEN_BYTES = 256 * 1024 * 1024
# In a text layer: @@@asset@@@, @asset@, and quoted strings (value clips name files in plain strings). None of
# them spans lines. The last group matches one cut off by the end of the buffer (read more, then match it again).
_USDA_NAME = re.compile(
    rb'@@@(.*?)@@@|@([^@\r\n]*)@|"""(.*?)"""|\'\'\'(.*?)\'\'\'|"((?:[^"\\\r\n]|\\.)*)"|\'((?:[^\'\\\r\n]|\\.)*)\''
    rb'|(@@@.*\Z|@[^@\r\n]*\Z|""".*\Z|\'\'\'.*\Z|"(?:[^"\\\r\n]|\\.)*\\?\Z|\'(?:[^\'\\\r\n]|\\.)*\\?\Z)'
)
_USDA_ESCAPE = re.compile(rb"\\(.)")
_USDA_ESCAPES = {b"n": b"\n", b"t": b"\t", b"r": b"\r"}
MAX_USDA_CARRY = 1024 * 1024


def is_usd_name(name: str) -> bool:
    return name.lower().endswith(USD_EXTENSIONS)


def usd_references(handle: IO[bytes], depth: int = 0) -> Iterator[str]:
    """Every string of a USD layer that could name a file: asset paths and strings of a text layer, every token of
    a crate layer, and those of each layer inside a package. Raises UncheckableFile for anything else, and when a
    crate or package cannot be read (USD might still read it)."""
    handle.seek(0)
    magic = handle.read(8)
    handle.seek(0)
    if magic == CRATE_MAGIC:
        yield from (decode(token) for token in crate_tokens(handle))
    elif magic.startswith(ZIP_MAGIC):
        yield from package_references(handle, depth)
    elif magic.startswith(USDA_MAGIC):
        yield from usda_references(handle)
    else:
        raise UncheckableFile("not a USD file: neither a crate (PXR-USDC), a text layer (#usda) nor a package")


def package_references(handle: IO[bytes], depth: int) -> Iterator[str]:
    """The names each layer of a package gives, its entries read as USD reads them."""
    if depth >= MAX_USDZ_DEPTH:
        raise UncheckableFile("USD packages nested too deeply")
    entries = 0
    for entry in local_entries(handle):
        entries += 1
        lowered = entry.name.lower()
        if lowered.endswith(UNCHECKED_LAYER_EXTENSIONS):
            raise UncheckableFile(f"the package holds {entry.name!r}, a layer format that is not checked")
        if lowered.endswith(USD_EXTENSIONS):
            with stored_entry(handle, entry) as layer:
                yield from usd_references(layer, depth + 1)
    if not entries:
        raise UncheckableFile("not a USD package: no entry where its zip headers should be")


def usda_references(handle: IO[bytes]) -> Iterator[str]:
    """Asset paths and (unescaped) strings of a text layer, read in chunks; a name cut by a chunk's end is read
    whole from the next one, so no chunk boundary can hide one."""
    carry = b""
    while True:
        chunk = handle.read(READ_CHUNK_BYTES)
        buffer = carry + chunk
        carry = b""
        for match in _USDA_NAME.finditer(buffer):
            if match.lastindex == 7 and chunk:
                carry = buffer[match.start() :]
                break
            index = match.lastindex or 1
            raw = match.group(index)
            if index >= 3:  # a string: its escapes, as USD reads them
                raw = _USDA_ESCAPE.sub(lambda m: _USDA_ESCAPES.get(m.group(1), m.group(1)), raw)
            yield decode(raw)
        if len(carry) > MAX_USDA_CARRY:
            raise UncheckableFile("a string or asset path in a USD text layer does not end")
        if not chunk:
            return


def crate_tokens(handle: IO[bytes]) -> list[bytes]:
    """The token table of a binary USD layer. Every string in a crate file (asset paths, reference and sublayer
    paths, string values) is stored as an index into it, so it holds every name the layer can give."""
    try:
        header = handle.read(88)
        if len(header) < 88 or header[:8] != CRATE_MAGIC:
            raise UncheckableFile("not a USD crate file")
        version = (header[8], header[9])
        (toc_offset,) = struct.unpack_from("<q", header, 16)
        handle.seek(toc_offset)
        (section_count,) = struct.unpack("<Q", _read_exactly(handle, 8))
        if section_count > 64:
            raise UncheckableFile("USD crate file with an implausible table of contents")
        sections = {}
        for _ in range(section_count):
            name, start, _size = struct.unpack("<16sqq", _read_exactly(handle, 32))
            sections[name.rstrip(b"\0")] = start
        if b"TOKENS" not in sections:
            raise UncheckableFile("USD crate file without a token table")
        handle.seek(sections[b"TOKENS"])
        (token_count,) = struct.unpack("<Q", _read_exactly(handle, 8))
        if version < (0, 4):
            (size,) = struct.unpack("<Q", _read_exactly(handle, 8))
            _check_size(size)
            raw = _read_exactly(handle, size)
        else:
            size, compressed_size = struct.unpack("<QQ", _read_exactly(handle, 16))
            _check_size(size)
            _check_size(compressed_size)
            raw = fast_decompress(_read_exactly(handle, compressed_size), size)
    except UncheckableFile:
        raise
    except (struct.error, OSError, ValueError, IndexError, zlib.error) as exc:
        raise UncheckableFile(f"unreadable USD crate file: {exc}") from None
    tokens = raw.split(b"\0")
    if len(tokens) < token_count:
        raise UncheckableFile("USD crate token table is shorter than it says")
    return tokens[:token_count]


def _check_size(size: int) -> None:
    if size > MAX_CRATE_TOKEN_BYTES:
        raise UncheckableFile("USD crate token table too large to check")


def _read_exactly(handle: IO[bytes], size: int) -> bytes:
    data = handle.read(size)
    if len(data) != size:
        raise UncheckableFile("USD crate file ends early")
    return data


def fast_decompress(data: bytes, size: int) -> bytes:
    """USD's TfFastCompression: a chunk count byte, then one LZ4 block (count 0) or count x (int32 size, block)."""
    if not data:
        raise UncheckableFile("empty compressed USD data")
    chunk_count = data[0]
    if chunk_count == 0:
        return lz4_block(data[1:], size)
    out = bytearray()
    position = 1
    for _ in range(chunk_count):
        (chunk_size,) = struct.unpack_from("<i", data, position)
        position += 4
        out += lz4_block(data[position : position + chunk_size], size - len(out))
        position += chunk_size
    return bytes(out)


def _lz4_length(data: bytes, position: int, length: int) -> tuple[int, int]:
    """A 4-bit LZ4 length; 15 means more bytes follow, each added, until one is not 255."""
    if length == 15:
        while True:
            extra = data[position]
            position += 1
            length += extra
            if extra != 255:
                break
    return length, position


def lz4_block(data: bytes, limit: int) -> bytes:
    """Decode one raw LZ4 block (no frame) of at most ``limit`` bytes."""
    out = bytearray()
    position, end = 0, len(data)
    while position < end:
        token = data[position]
        position += 1
        literal, position = _lz4_length(data, position, token >> 4)
        if len(out) + literal > limit:
            raise UncheckableFile("LZ4 data in USD file is larger than it says")
        out += data[position : position + literal]
        position += literal
        if position >= end:
            break
        offset = data[position] | data[position + 1] << 8
        position += 2
        length, position = _lz4_length(data, position, token & 15)
        length += 4
        start = len(out) - offset
        if offset == 0 or start < 0:
            raise UncheckableFile("corrupt LZ4 data in USD file")
        if len(out) + length > limit:  # before the copy: a run of 255s makes a length far beyond any real file
            raise UncheckableFile("LZ4 data in USD file is larger than it says")
        if offset >= length:
            out += out[start : start + length]
        else:  # an overlapping match repeats the last `offset` bytes
            pattern = bytes(out[start:])
            out += (pattern * (length // offset + 1))[:length]
        if len(out) > limit:
            raise UncheckableFile("LZ4 data in USD file is larger than it says")
    return bytes(out)
