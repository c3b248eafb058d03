"""Other files that a model file names, for the formats whose importers follow those names.

An importer reads whatever path a file gives it. An OBJ's ``mtllib`` pulls a material library from anywhere on
disk (Blender and FreeCAD both read it), a glTF's buffer URI turns any file's bytes into vertex data, and a USD
layer composes sublayers, references and payloads from any path. So before such a file is imported, every name it
gives must stay inside the folder it sits in: the gateway checks each upload, and the host servers check again
before importing (a file can reach the workspace under another extension and be imported with ``format``).

Stdlib only: the gateway and both host servers use it. Each ``*_references`` function yields the names a file
gives; :func:`outside` keeps those a workspace must not follow; :func:`check_file` is the hosts' check (it also
resolves names, follows workspace USD layers and reads an OBJ's material libraries for their texture paths).
Textures that only a full importer finds (FBX, .blend) are caught after the import by the Blender host
(``bridge3d.blender.references``).
"""

from __future__ import annotations

import json
import re
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote

from .errors import InvalidParams
from .workspace import check_file_name

READ_CHUNK_BYTES = 4 * 1024 * 1024
MAX_REPORTED = 20
REPORTED_CHARS = 200

# OBJ statements that name files (the Wavefront spec); importers use mtllib, the others are checked as well.
_OBJ_FILE_STATEMENT = re.compile(
    rb"(?:^|[\r\n])[ \t\f\v]*(mtllib|maplib|call|shadow_obj|trace_obj)[ \t\f\v]+([^\r\n]*)", re.IGNORECASE
)
# Texture statements of an .mtl: "map_Kd [-options values] file" and the older names.
_MTL_TEXTURE_STATEMENT = re.compile(
    rb"(?:^|[\r\n])[ \t\f\v]*(map_\w+|bump|disp|decal|refl|norm)[ \t\f\v]+([^\r\n]*)", re.IGNORECASE
)
_OBJ_KEYWORDS = (b"mtllib", b"maplib", b"call", b"shadow_obj", b"trace_obj")
_MTL_KEYWORDS = (b"map_", b"bump", b"disp", b"decal", b"refl", b"norm")
MAX_OBJ_LINE_CARRY = 64 * 1024

GLB_MAGIC = b"glTF"
GLB_JSON_CHUNK = 0x4E4F534A

USD_EXTENSIONS = (".usd", ".usda", ".usdc", ".usdz")
CRATE_MAGIC = b"PXR-USDC"
ZIP_MAGIC = b"PK\x03\x04"
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


class UncheckableFile(ValueError):
    """The file could not be read far enough to find every name in it."""


def printable(name: str) -> str:
    """A reference as it can travel in JSON (names may hold undecodable bytes) and be logged, shortened."""
    try:
        raw = name.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate from a JSON escape
        raw = name.encode("utf-8", "replace")
    text = raw.decode("utf-8", "replace")
    return text if len(text) <= REPORTED_CHARS else text[:REPORTED_CHARS] + "..."


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def is_plain_name(name: str) -> bool:
    """A single workspace file name (the rule every file name a client sends must follow)."""
    try:
        check_file_name(name)
    except (InvalidParams, UnicodeEncodeError):  # undecodable bytes (surrogates) are no name either
        return False
    return True


def is_relative_inside(name: str) -> bool:
    """A relative path that cannot leave the folder it is resolved in: plain names joined by '/', no '..'.

    A leading './' is allowed (USD writes './textures/x.png' for files beside the layer)."""
    while name.startswith("./"):
        name = name[2:]
    parts = name.split("/")
    return bool(name) and all(is_plain_name(part) for part in parts)


def is_usd_name_inside(name: str) -> bool:
    """Every string of a USD layer is a candidate; one without a separator can only name a file beside the layer
    (tokens such as 'xformOp:translate' are no file names, and need not pass the file-name rule)."""
    return ("/" not in name and "\\" not in name) or is_relative_inside(name)


def outside(names: Iterable[str], allowed: Callable[[str], bool] = is_plain_name) -> list[str]:
    """The non-empty names (each once, in order) that ``allowed`` refuses."""
    refused: list[str] = []
    for name in names:
        if name and name not in refused and not allowed(name):
            refused.append(name)
    return refused


# What names a refused file in a report, by format.
REFERENCE_KINDS = {"OBJ": "mtllib", "GLTF": "uri", "GLB": "uri", "USD": "usd_asset", "MTL": "texture"}


def reported(kind: str, source: str, names: Iterable[str]) -> list[dict[str, str]]:
    """Refused names as every refusal reports them: {kind, name (what names it), path (as the file gives it)}."""
    return [{"kind": kind, "name": source, "path": printable(name)} for name in names]


def refusal(
    field: str, what: str, references: list[dict[str, str]], reader: str = "an importer", advice: str = ""
) -> InvalidParams:
    """The host servers' answer to a file that names files outside the workspace."""
    reason = f"{what} refers to files outside the workspace, which bridge3d does not let {reader} read"
    reason += f" ({advice})" if advice else ""
    return InvalidParams(
        f"{field}: {reason}",
        {"field": field, "reason": reason, "references": references[:MAX_REPORTED], "count": len(references)},
    )


# ----------------------------------------------------------------------- OBJ
def obj_references(handle: IO[bytes]) -> Iterator[str]:
    """The arguments of every file statement (``mtllib`` ...), read in chunks; each whole argument and each of its
    words (importers differ on names with spaces). A line continued with '\\' yields a name with a backslash, which
    no rule allows."""
    return _statement_arguments(handle, _OBJ_FILE_STATEMENT, _OBJ_KEYWORDS)


def mtl_texture_references(handle: IO[bytes]) -> Iterator[str]:
    """The arguments of every texture statement of a material library (``map_Kd [-options] file`` ...)."""
    return _statement_arguments(handle, _MTL_TEXTURE_STATEMENT, _MTL_KEYWORDS)


def is_texture_name_inside(name: str) -> bool:
    """A word of a texture statement that cannot leave the library's folder: not absolute, no '..' (Windows
    separators count too), not starting with '~'. Option words ('-s', '1.0') pass."""
    return not name.startswith(("/", "\\", "~")) and ".." not in re.split(r"[/\\]", name)


def _statement_arguments(handle: IO[bytes], statement: re.Pattern[bytes], keywords: tuple[bytes, ...]) -> Iterator[str]:
    carry = b""
    skipping = False  # inside a physical line too long to hold; its start was already checked
    while True:
        chunk = handle.read(READ_CHUNK_BYTES)
        buffer = carry + chunk
        if chunk:
            cut = max(buffer.rfind(b"\n"), buffer.rfind(b"\r")) + 1
            complete, carry = buffer[:cut], buffer[cut:]
        else:
            complete, carry = buffer, b""
        if skipping:
            newline = re.search(rb"[\r\n]", complete)
            if newline is None:
                complete = b""
            else:
                complete, skipping = complete[newline.start() :], False
        lowered = complete.lower()  # a plain search first: most chunks of a large model hold no statement at all
        if any(keyword in lowered for keyword in keywords):
            for match in statement.finditer(complete):
                yield from _statement_names(match.group(2))
        if len(carry) > MAX_OBJ_LINE_CARRY:
            long_line = statement.match(b"\n" + carry)
            if long_line is not None:
                yield _decode(long_line.group(2))  # longer than any file name: refused
            carry, skipping = b"", True
        if not chunk:
            return


def _statement_names(argument: bytes) -> Iterator[str]:
    whole = argument.strip()
    yield _decode(whole)
    words = whole.split()
    if len(words) > 1:
        yield from (_decode(word) for word in words)


# ---------------------------------------------------------------------- glTF
def gltf_json(data: bytes, binary: bool) -> Any:
    """The JSON part of a .gltf or .glb file; None when it cannot be read (the importer then fails on it too:
    Blender reads glTF JSON with the same parser, so it cannot follow references hidden from this one)."""
    if binary:
        if len(data) < 20 or data[:4] != GLB_MAGIC:
            return None
        length, kind = struct.unpack_from("<II", data, 12)
        if kind != GLB_JSON_CHUNK:
            return None
        data = data[20 : 20 + length]
    try:
        return json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None


def read_gltf_json(handle: IO[bytes], binary: bool) -> Any:
    """Only the header and the JSON chunk of a .glb (not its binary payload); all of a .gltf."""
    if not binary:
        return gltf_json(handle.read(), binary=False)
    header = handle.read(20)
    if len(header) == 20:
        header += handle.read(struct.unpack_from("<I", header, 12)[0])
    return gltf_json(header, binary=True)


def _uris(node: Any) -> Iterator[str]:
    """Every value of a "uri" key anywhere in the document (buffers, images and extensions alike)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "uri" and isinstance(value, str):
                yield value
            else:
                yield from _uris(value)
    elif isinstance(node, list):
        for item in node:
            yield from _uris(item)


def gltf_references(document: Any) -> Iterator[str]:
    """Every URI that is not a ``data:`` URI, percent-decoded as the importer decodes it."""
    for uri in _uris(document):
        if not uri.startswith("data:"):
            yield unquote(uri)


# ----------------------------------------------------------------------- USD
def usd_references(handle: IO[bytes], depth: int = 0) -> Iterator[str]:
    """Every string of a USD layer that could name a file: asset paths and strings of a text layer, every token of
    a binary (crate) layer, and those of each layer inside a .usdz package. Raises UncheckableFile when a crate or
    package cannot be read (USD might still read it)."""
    handle.seek(0)
    magic = handle.read(8)
    handle.seek(0)
    if magic == CRATE_MAGIC:
        yield from (_decode(token) for token in crate_tokens(handle))
    elif magic.startswith(ZIP_MAGIC):
        if depth >= MAX_USDZ_DEPTH:
            raise UncheckableFile("USD packages nested too deeply")
        try:
            with zipfile.ZipFile(handle) as package:
                for member in package.infolist():
                    if member.filename.lower().endswith(USD_EXTENSIONS):
                        with package.open(member) as layer:
                            yield from usd_references(layer, depth + 1)
        except UncheckableFile:
            raise
        except (zipfile.BadZipFile, NotImplementedError, EOFError, OSError, RuntimeError, ValueError, zlib.error) as e:
            raise UncheckableFile(f"not a readable USD package: {e}") from None
    else:
        yield from usda_references(handle)


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
            yield _decode(raw)
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
        if offset >= length:
            out += out[start : start + length]
        else:  # an overlapping match repeats the last `offset` bytes
            pattern = bytes(out[start:])
            out += (pattern * (length // offset + 1))[:length]
        if len(out) > limit:
            raise UncheckableFile("LZ4 data in USD file is larger than it says")
    return bytes(out)


# ------------------------------------------------------------------- together
def file_references(fmt: str, handle: IO[bytes]) -> Iterator[str] | None:
    """The names a file of format ``fmt`` (OBJ, GLTF, GLB, USD) gives; None for formats without such names."""
    if fmt == "OBJ":
        return obj_references(handle)
    if fmt in ("GLTF", "GLB"):
        return gltf_references(read_gltf_json(handle, binary=fmt == "GLB"))
    if fmt == "USD":
        return usd_references(handle)
    return None


def allowed_rule(fmt: str) -> Callable[[str], bool]:
    """OBJ and glTF name files beside them by plain name; a USD layer may also name files in folders below it."""
    return is_usd_name_inside if fmt == "USD" else is_plain_name


def names_outside(fmt: str, handle: IO[bytes]) -> list[str]:
    """The names in the file that reach outside its folder ([] for formats that name no files).
    Raises UncheckableFile when they cannot all be found."""
    names = file_references(fmt, handle)
    return [] if names is None else outside(names, allowed_rule(fmt))


def check_file(fmt: str, path: Path, root: Path, *, textures: bool = True, seen: set[Path] | None = None) -> None:
    """On a host: refuse (InvalidParams) a workspace file whose names reach outside ``root`` before an importer
    reads it. Names must also resolve inside (no symlink out), and a USD layer it names in the workspace is
    checked the same way. With ``textures`` (an importer that loads them), so are the texture paths of the
    material libraries an OBJ names."""
    seen = set() if seen is None else seen
    seen.add(path)
    try:
        with path.open("rb") as handle:
            names = file_references(fmt, handle)
            found = [] if names is None else [name for name in dict.fromkeys(names) if name]
    except UncheckableFile as exc:
        raise InvalidParams.for_field(
            "name", f"{path.name} cannot be checked for references to other files: {exc}"
        ) from None
    refused = outside(found, allowed_rule(fmt))
    refused += [name for name in found if name not in refused and not resolves_inside(path.parent, name, root)]
    if refused:
        raise refusal("name", path.name, reported(REFERENCE_KINDS[fmt], path.name, refused))
    if fmt == "USD":
        for name in found:
            layer = path.parent / name
            if name.lower().endswith(USD_EXTENSIONS) and layer not in seen and layer.is_file():
                check_file("USD", layer, root, seen=seen)
    if fmt == "OBJ" and textures:
        for name in found:
            library = path.parent / name
            if library.is_file():
                with library.open("rb") as handle:
                    words = list(dict.fromkeys(mtl_texture_references(handle)))
                # Blender's OBJ exporter writes absolute texture paths (path_mode AUTO): fine inside the workspace.
                refused = [
                    word
                    for word in outside(words, is_texture_name_inside)
                    if not (word.startswith("/") and resolves_inside(library.parent, word, root))
                ]
                refused += [w for w in words if w not in refused and not resolves_inside(library.parent, w, root)]
                if refused:
                    raise refusal("name", path.name, reported(REFERENCE_KINDS["MTL"], name, refused))


def resolves_inside(folder: Path, name: str, root: Path) -> bool:
    """Whether ``name``, taken relative to ``folder``, lands inside ``root`` once symlinks are followed."""
    try:
        return (folder / name).resolve().is_relative_to(root)
    except (OSError, RuntimeError, ValueError):
        return False
