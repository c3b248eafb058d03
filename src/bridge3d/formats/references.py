"""Which parsers a file needs before an importer reads it, and the checks the gateway and the host servers run.

A file is checked as every format an importer could read it as:

| parser | chosen when | the file must |
|---|---|---|
| OBJ | declared OBJ, or named .obj (FreeCAD's mesh reader goes by the extension) | be text (no NUL, no UTF-16/32) |
| OBJ, leniently | any other file without a binary signature (it could be imported as OBJ later) | — |
| glTF | declared GLTF or GLB, or content starting with ``glTF`` or a JSON object | parse as the importer parses it |
| USD | declared USD, or content that is a crate or text layer | be a crate, text layer or package named .usd* |
| FBX | declared FBX | be binary FBX (the only FBX Blender reads) |
| BLEND | declared BLEND (append) or opened | start with BLENDER, or be a gzip/zstd-compressed .blend |

A parser that cannot read the file refuses it (UncheckableFile); what they find must stay inside the workspace.
:func:`upload_references` is the gateway's check of an upload (no workspace yet: names only), :func:`check_file`
the hosts' check before every import and open (names must also resolve inside the workspace, USD layers and OBJ
material libraries it names in the workspace are checked too). FreeCAD documents have their own check
(``fcstd.document_references``). Textures that only a full importer finds (FBX, .blend) are caught after the import
by the Blender host (``bridge3d.blender.references``).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import IO

from . import sniff
from .gltf import gltf_references, read_gltf_json
from .names import (
    UncheckableFile,
    is_plain_name,
    is_texture_name_inside,
    is_usd_name_inside,
    outside,
    printable,
    refusal,
    reported,
    resolves_inside,
    uncheckable,
)
from .obj import mtl_texture_references, obj_references
from .usd import UNCHECKED_LAYER_EXTENSIONS, is_usd_name, usd_references

OBJ, GLTF, USD, FBX, BLEND = "OBJ", "GLTF", "USD", "FBX", "BLEND"
# The parser a declared format (a format name the hosts accept) needs.
DECLARED = {"OBJ": OBJ, "GLTF": GLTF, "GLB": GLTF, "USD": USD, "FBX": FBX, "BLEND": BLEND}
# The parser content of a kind (sniff) needs, whatever the file was declared as.
BY_CONTENT = {sniff.GLB: GLTF, sniff.GLTF_JSON: GLTF, sniff.USD_CRATE: USD, sniff.USD_TEXT: USD}
# What names a refused file in a report, by parser ("MTL": a texture of an OBJ's material library).
REFERENCE_KINDS = {OBJ: "mtllib", GLTF: "uri", USD: "usd_asset", "MTL": "texture"}
# OBJ and glTF name files beside them by plain name; a USD layer may also name files in folders below it.
RULES: dict[str, Callable[[str], bool]] = {OBJ: is_plain_name, GLTF: is_plain_name, USD: is_usd_name_inside}
# Anything else a parser may raise on a hostile file; each means the file cannot be checked.
PARSE_ERRORS = (ValueError, LookupError, struct.error, OSError, EOFError, RecursionError, zlib.error, OverflowError)


def readers(declared: str | None, file_name: str, content: str | None) -> dict[str, bool]:
    """The parsers a file needs: {parser: strict}. Strict parsers refuse a file they cannot read; the lenient OBJ
    scan of a file declared as something else only collects names."""
    chosen: dict[str, bool] = {}
    for parser in (DECLARED.get((declared or "").upper()), BY_CONTENT.get(content or "")):
        if parser is not None:
            chosen[parser] = True
    if file_name.lower().endswith(".obj"):
        chosen[OBJ] = True
    if OBJ not in chosen and content not in sniff.BINARY:
        chosen[OBJ] = False
    return chosen


def scan(declared: str | None, file_name: str, handle: IO[bytes]) -> dict[str, list[str]]:
    """The names each parser finds (each once, non-empty). Raises UncheckableFile. The handle is left at the start."""
    if (declared or "").upper() == "USD" and not is_usd_name(file_name):
        raise UncheckableFile("USD chooses how to read a layer by its extension, and this name has none of USD's")
    try:
        chosen = readers(declared, file_name, sniff.sniff(handle))
        found = {parser: _names(parser, strict, handle) for parser, strict in chosen.items()}
    except UncheckableFile:
        raise
    except PARSE_ERRORS as exc:
        raise UncheckableFile(f"unreadable ({type(exc).__name__}: {exc})") from None
    finally:
        handle.seek(0)
    return {parser: [name for name in dict.fromkeys(names) if name] for parser, names in found.items()}


def _names(parser: str, strict: bool, handle: IO[bytes]) -> list[str]:
    handle.seek(0)
    if parser == OBJ:
        return list(obj_references(handle, text=strict))
    if parser == GLTF:
        return list(gltf_references(read_gltf_json(handle)))
    if parser == USD:
        return list(usd_references(handle))
    if parser == FBX:
        _check_fbx(handle)
    elif parser == BLEND:
        _check_blend(handle)
    return []


def _check_fbx(handle: IO[bytes]) -> None:
    head = sniff.read_head(handle)
    if not head.startswith(sniff.FBX_MAGIC):
        kind = "an ASCII FBX file" if b"FBX" in head[:32] else "not an FBX file"
        raise UncheckableFile(f"{kind}: Blender's importer reads binary FBX only")


def _check_blend(handle: IO[bytes]) -> None:
    head = sniff.read_head(handle)
    if head.startswith(sniff.BLEND_MAGIC) or head.startswith(sniff.ZSTD_MAGIC):
        return  # zstd: Blender checks the header inside itself (the standard library cannot decompress zstd)
    if head.startswith(sniff.GZIP_MAGIC):
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        inner = b""
        while len(inner) < len(sniff.BLEND_MAGIC) and not inflater.eof:
            data = inflater.unconsumed_tail or handle.read(64 * 1024)
            if not data:
                break
            inner += inflater.decompress(data, 64)
        if inner.startswith(sniff.BLEND_MAGIC):
            return
    raise UncheckableFile("not a .blend file (neither BLENDER nor a gzip- or zstd-compressed .blend)")


# ----------------------------------------------------------------- gateway
def upload_references(declared: str, file_name: str, handle: IO[bytes]) -> list[dict[str, str]]:
    """The gateway's check of an upload before it reaches the workspace: every name that reaches outside, as
    {kind, name (the upload), path}. Raises UncheckableFile for a file that cannot be checked."""
    found: list[dict[str, str]] = []
    for parser, names in scan(declared, file_name, handle).items():
        if names:
            found += reported(REFERENCE_KINDS[parser], file_name, outside(names, RULES[parser]))
    return found


# ------------------------------------------------------------------- hosts
def check_file(
    declared: str | None, path: Path, root: Path, *, textures: bool = True, seen: set[Path] | None = None
) -> None:
    """On a host: refuse (InvalidParams) a workspace file that cannot be checked or whose names reach outside
    ``root`` before an importer reads it as ``declared``. Names must also resolve inside (no symlink out), a USD
    layer it names in the workspace is checked the same way, and with ``textures`` (an importer that loads them)
    so are the texture paths of the material libraries an OBJ names (and of the one beside it, same name .mtl)."""
    seen = set() if seen is None else seen
    seen.add(path)
    try:
        with path.open("rb") as handle:
            scanned = scan(declared, path.name, handle)
    except (UncheckableFile, OSError) as exc:
        raise uncheckable("name", path.name, exc) from None
    for parser, found in scanned.items():
        if not found:
            continue
        refused = outside(found, RULES[parser])
        refused += [name for name in found if name not in refused and not resolves_inside(path.parent, name, root)]
        if refused:
            raise refusal("name", path.name, reported(REFERENCE_KINDS[parser], path.name, refused))
    if USD in scanned:
        _check_usd_layers(path, root, scanned[USD], seen)
    if textures and readers(declared, path.name, None).get(OBJ):  # read as OBJ: its libraries are read too
        _check_material_libraries(path, root, scanned.get(OBJ, []))


def _check_usd_layers(path: Path, root: Path, names: list[str], seen: set[Path]) -> None:
    """Workspace layers a USD layer names are composed too: checked the same way (a packaged layer
    'x.usdz[inner.usda]' is in x.usdz). A layer in a format USD reads but this check does not is refused."""
    for name in names:
        file_name = name.split("[", 1)[0]
        target = path.parent / file_name
        if file_name != name and not resolves_inside(path.parent, file_name, root):
            raise refusal("name", path.name, reported(REFERENCE_KINDS[USD], path.name, [file_name]))
        if file_name.lower().endswith(UNCHECKED_LAYER_EXTENSIONS) and target.is_file():
            reason = f"it names {printable(file_name)!r}, a layer in a format that is not checked"
            raise uncheckable("name", path.name, UncheckableFile(reason))
        if is_usd_name(file_name) and target not in seen and target.is_file():
            check_file(USD, target, root, seen=seen)


def _check_material_libraries(path: Path, root: Path, names: list[str]) -> None:
    """The texture paths of the material libraries an OBJ names, and of the one the importer also reads beside it
    (same name, .mtl): neither absolute outside the workspace nor '..' (Blender's OBJ exporter writes absolute
    texture paths, which are fine inside the workspace)."""
    default = path.with_suffix(".mtl").name
    for name in dict.fromkeys([*names, default]):
        library = path.parent / name
        if name == default and not resolves_inside(path.parent, name, root) and library.exists():
            raise refusal("name", path.name, reported(REFERENCE_KINDS[OBJ], path.name, [name]))
        if not library.is_file():
            continue
        try:
            with library.open("rb") as handle:
                words = list(dict.fromkeys(mtl_texture_references(handle)))
        except (UncheckableFile, *PARSE_ERRORS) as exc:
            reason = f"its material library {printable(name)!r}: {exc}"
            raise uncheckable("name", path.name, UncheckableFile(reason)) from None
        refused = [
            word
            for word in outside(words, is_texture_name_inside)
            if not (word.startswith("/") and resolves_inside(library.parent, word, root))
        ]
        refused += [w for w in words if w not in refused and not resolves_inside(library.parent, w, root)]
        if refused:
            raise refusal("name", path.name, reported(REFERENCE_KINDS["MTL"], name, refused))
