"""The host server's workspace folder: safe file names and chunked file IO.

Clients never send paths. A name is one path component, checked by
``Workspace.path()``: characters from a list that holds no separator (or
look-alike), control or invisible character, no ``..``, and after resolving
symlinks still inside the root.
"""

from __future__ import annotations

import base64
import os
import re
import stat
from pathlib import Path
from typing import Any

from .errors import InvalidParams, NotFound

DEFAULT_CHUNK_BYTES = 4 * 1024 * 1024
MAX_CHUNK_BYTES = 16 * 1024 * 1024
PARTIAL_SUFFIX = ".part"

# The characters a workspace file name may use: letters and digits of the common scripts, space and punctuation
# that means nothing to a file system or a URL decoder. Nothing here is a separator, a look-alike of one ('∕',
# '／'), a control, format or invisible character, or normalises to any of those. Every character is in the BMP,
# so 80 of them stay under the 255-byte limit of a file name in UTF-8.
_FILE_CHARACTERS = (
    r"A-Za-z0-9_\-+=,;!@#$&'()\[\]{}~^?"
    r"\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u024F\u0370-\u03FF\u0400-\u04FF\u0590-\u05FF"
    r"\u0606-\u061B\u061D-\u06DC\u06DE-\u06FF\u0E00-\u0E7F\u1E00-\u1EFF"
    r"\u3040-\u30FF\u3400-\u4DBF\u4E00-\u9FFF\uAC00-\uD7A3"
)
_WORD = f"[{_FILE_CHARACTERS}](?:[{_FILE_CHARACTERS} ]*[{_FILE_CHARACTERS}])?"
# Words separated by single dots: no leading or trailing dot or space, never '..'.
FILE_NAME_PATTERN = f"^{_WORD}(?:\\.{_WORD})*$"
MAX_FILE_NAME_CHARS = 80
_FILE_NAME = re.compile(FILE_NAME_PATTERN)


def check_file_name(name: Any, field: str = "name") -> str:
    """Return ``name`` if it is a safe single file name, else raise InvalidParams (the rule of FILE_NAME_PATTERN)."""
    if not isinstance(name, str) or not name:
        raise InvalidParams.for_field(field, "must be a non-empty file name")
    if len(name) > MAX_FILE_NAME_CHARS:
        raise InvalidParams.for_field(field, f"must be at most {MAX_FILE_NAME_CHARS} characters")
    if any(ch in "/\\" for ch in name):
        raise InvalidParams.for_field(field, "must be a file name, not a path (no / or \\)")
    if ".." in name or name.startswith("."):
        raise InvalidParams.for_field(field, "must not contain '..' or start with '.'")
    if not _FILE_NAME.match(name):
        raise InvalidParams.for_field(
            field,
            "may hold letters, digits, spaces (not at either end), single dots between words and the "
            "characters _-+=,;!@#$&'()[]{}~^? only",
        )
    return name


def check_private_folder(root: Path) -> None:
    """Refuse a workspace another local user could plant files or symlinks in (e.g. a /tmp folder made first)."""
    if not hasattr(os, "getuid"):  # Windows: access is governed by ACLs, not owner and mode bits
        return
    info = root.stat()
    if info.st_uid != os.getuid():
        raise PermissionError(
            f"workspace {root} belongs to another user (uid {info.st_uid}); choose a folder you own (--workspace)"
        )
    if info.st_mode & stat.S_IWOTH:
        raise PermissionError(
            f"workspace {root} is writable by every user (mode {stat.filemode(info.st_mode)}); "
            "remove that (chmod o-w) or choose another folder"
        )


class Workspace:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().resolve()
        # A new workspace is private: renders and models are the user's, and nobody else may add files to it.
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        check_private_folder(self.root)

    def path(self, name: Any, field: str = "name") -> Path:
        """The absolute path for a workspace file name, guaranteed inside the root."""
        check_file_name(name, field)
        candidate = (self.root / name).resolve()
        if not candidate.is_relative_to(self.root) or candidate.parent != self.root:
            raise InvalidParams.for_field(field, "resolves outside the workspace")
        return candidate

    def existing(self, name: Any, field: str = "name") -> Path:
        path = self.path(name, field)
        if not path.is_file():
            raise NotFound(f"No file named {name!r} in the workspace", {"field": field, "name": name})
        return path

    def output_path(self, name: Any, default_stem: str, extension: str, field: str = "name") -> Path:
        """Where to write an output: the given name (extension added if missing) or a fresh one."""
        if name is None or name == "":
            name = self.fresh_name(default_stem, extension)
        elif not str(name).lower().endswith(extension.lower()):
            name = f"{name}{extension}"
        return self.path(name, field)

    def fresh_name(self, stem: str, extension: str) -> str:
        index = 1
        while True:
            name = f"{stem}-{index:04d}{extension}"
            if not (self.root / name).exists():
                return name
            index += 1

    def describe(self, path: Path) -> dict[str, Any]:
        return {"name": path.name, "size": path.stat().st_size}

    def list_files(self) -> list[dict[str, Any]]:
        """Regular files only: a symlink is not followed (its target's size could tell what lies outside)."""
        listed = []
        for path in sorted(self.root.iterdir()):
            if path.name.startswith(".") or path.name.endswith(PARTIAL_SUFFIX):
                continue
            info = path.lstat()
            if stat.S_ISREG(info.st_mode):
                listed.append({"name": path.name, "size": info.st_size})
        return listed

    def read_chunk(self, name: str, offset: int = 0, length: int = DEFAULT_CHUNK_BYTES) -> dict[str, Any]:
        path = self.existing(name)
        size = path.stat().st_size
        with path.open("rb") as handle:
            handle.seek(offset)
            data = handle.read(length)
        return {
            "name": path.name,
            "size": size,
            "offset": offset,
            "data": base64.b64encode(data).decode("ascii"),
            "eof": offset + len(data) >= size,
        }

    def write_chunk(self, name: Any, data: str, offset: int = 0, final: bool = True) -> dict[str, Any]:
        """Append one base64 chunk to an upload; ``final`` moves it into place atomically.

        Chunks go to a hidden partial file so an interrupted upload never
        replaces an existing file with half of a new one.
        """
        target = self.path(name)
        try:
            raw = base64.b64decode(data, validate=True)
        except ValueError:
            raise InvalidParams.for_field("data", "is not valid base64") from None
        if len(raw) > MAX_CHUNK_BYTES:
            raise InvalidParams.for_field("data", f"chunk is larger than {MAX_CHUNK_BYTES} bytes")
        partial = self.root / f".{target.name}{PARTIAL_SUFFIX}"
        try:
            current = partial.lstat().st_size
        except FileNotFoundError:
            current = 0
        if offset not in (0, current):
            raise InvalidParams.for_field("offset", f"must be 0 (start) or {current} (continue)")
        # O_NOFOLLOW: a symlink planted under the partial file's name must not redirect the write.
        flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if offset == 0 else os.O_APPEND)
        try:
            descriptor = os.open(partial, flags | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0), 0o600)
        except OSError as exc:
            raise InvalidParams.for_field("name", f"cannot write the upload: {exc.strerror}") from None
        with os.fdopen(descriptor, "wb" if offset == 0 else "ab") as handle:
            handle.write(raw)
        size = offset + len(raw)
        if final:
            os.replace(partial, target)
        return {"name": target.name, "size": size, "complete": bool(final)}

    def delete(self, name: Any) -> dict[str, Any]:
        path = self.existing(name)
        path.unlink()
        return {"name": path.name, "deleted": True}

    def list_payload(self) -> dict[str, Any]:
        """Files in the workspace: {"files": [{"name", "size"}]}."""
        return {"files": self.list_files()}

    def handlers(self) -> dict[str, Any]:
        """file.read / file.write / file.list / file.delete. Plain file IO touches no application data, so the
        host answers them on its IO thread, during a long render too."""
        return {
            "file.read": self.read_chunk,
            "file.write": self.write_chunk,
            "file.list": self.list_payload,
            "file.delete": self.delete,
        }
