"""The host server's workspace folder: safe file names and chunked file IO.

Clients never send paths. A name is one path component, checked by
``Workspace.path()``: no separators (or look-alikes), no ``..``, no control
characters, NFKC-stable, and after resolving symlinks still inside the root.
"""

from __future__ import annotations

import base64
import os
import stat
import unicodedata
from pathlib import Path
from typing import Any

from .dispatcher import Registry
from .errors import InvalidParams, NotFound

MAX_NAME_BYTES = 200
DEFAULT_CHUNK_BYTES = 4 * 1024 * 1024
MAX_CHUNK_BYTES = 16 * 1024 * 1024
_SLASH_LOOKALIKES = set("/\\\u2215\u2044\u29f8\uff0f\uff3c\u29f5\ufe68\u2216")
_FORBIDDEN_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
PARTIAL_SUFFIX = ".part"


def check_file_name(name: Any, field: str = "name") -> str:
    """Return ``name`` if it is a safe single file name, else raise InvalidParams."""
    if not isinstance(name, str) or not name:
        raise InvalidParams.for_field(field, "must be a non-empty file name")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise InvalidParams.for_field(field, f"is longer than {MAX_NAME_BYTES} bytes")
    if any(ch in _SLASH_LOOKALIKES for ch in name):
        raise InvalidParams.for_field(field, "must be a file name, not a path (no / or \\)")
    if ".." in name or name.startswith(".") or name.strip() != name:
        raise InvalidParams.for_field(field, "must not contain '..', start with '.' or have surrounding spaces")
    if unicodedata.normalize("NFKC", name) != name:
        raise InvalidParams.for_field(field, "must be in Unicode normal form (NFKC)")
    if any(unicodedata.category(ch) in _FORBIDDEN_CATEGORIES for ch in name):
        raise InvalidParams.for_field(field, "must not contain control or invisible characters")
    if ":" in name:
        raise InvalidParams.for_field(field, "must not contain ':'")
    if "%" in name:
        # A name is never URL-decoded, but one that looks encoded ('..%2f') is a traversal attempt or a mistake.
        raise InvalidParams.for_field(field, "must not contain '%' (send the name itself, not URL-encoded)")
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

    def read_chunk(self, name: Any, offset: int = 0, length: int = DEFAULT_CHUNK_BYTES) -> dict[str, Any]:
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
            raise InvalidParams.for_field("offset", "must be an integer >= 0")
        if not isinstance(length, int) or isinstance(length, bool) or not 0 < length <= MAX_CHUNK_BYTES:
            raise InvalidParams.for_field("length", f"must be an integer in 1..{MAX_CHUNK_BYTES}")
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
        if not isinstance(data, str):
            raise InvalidParams.for_field("data", "must be a base64 string")
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
        if not isinstance(offset, int) or isinstance(offset, bool) or offset not in (0, current):
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

    def register_methods(self, registry: Registry) -> None:
        """file.read / file.write / file.list / file.delete, answered on the IO thread.

        Plain file IO touches no application data, so these answer during a long render too.
        """
        registry.add("file.read", self.read_chunk, main_thread=False)
        registry.add("file.write", self.write_chunk, main_thread=False)
        registry.add("file.list", self.list_payload, main_thread=False)
        registry.add("file.delete", self.delete, main_thread=False)

    def list_payload(self) -> dict[str, Any]:
        """Files in the workspace: {"files": [{"name", "size"}]}."""
        return {"files": self.list_files()}
