"""The rules a name inside a model file must follow, and how a refused file is reported."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path

from ..rpc.errors import InvalidParams
from ..rpc.workspace import check_file_name

READ_CHUNK_BYTES = 4 * 1024 * 1024
MAX_REPORTED = 20
REPORTED_CHARS = 200


class UncheckableFile(ValueError):
    """The file could not be read far enough to find every name in it, or is not what its importer reads."""


def decode(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def printable(name: str) -> str:
    """A reference as it can travel in JSON (names may hold undecodable bytes) and be logged, shortened."""
    try:
        raw = name.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate from a JSON escape
        raw = name.encode("utf-8", "replace")
    text = raw.decode("utf-8", "replace")
    return text if len(text) <= REPORTED_CHARS else text[:REPORTED_CHARS] + "..."


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


def is_texture_name_inside(name: str) -> bool:
    """A word of a texture statement that cannot leave the library's folder: not absolute, no '..' (Windows
    separators count too), not starting with '~'. Option words ('-s', '1.0') pass."""
    return not name.startswith(("/", "\\", "~")) and ".." not in re.split(r"[/\\]", name)


def outside(names: Iterable[str], allowed: Callable[[str], bool] = is_plain_name) -> list[str]:
    """The non-empty names (each once, in order) that ``allowed`` refuses."""
    refused: list[str] = []
    for name in names:
        if name and name not in refused and not allowed(name):
            refused.append(name)
    return refused


def resolves_inside(folder: Path, name: str, root: Path) -> bool:
    """Whether ``name``, taken relative to ``folder``, lands inside ``root`` once symlinks are followed."""
    try:
        return (folder / name).resolve().is_relative_to(root)
    except (OSError, RuntimeError, ValueError):
        return False


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


def uncheckable(field: str, what: str, exc: Exception) -> InvalidParams:
    """The host servers' answer to a file that cannot be checked: refused, never taken to name no files."""
    reason = (
        f"{what} cannot be checked for references to other files ({exc}), so bridge3d does not let an importer read it"
    )
    return InvalidParams.for_field(field, reason)
