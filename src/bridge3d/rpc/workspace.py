"""The host server's workspace folder: safe file names and chunked file IO.

Clients never send paths. A name is one path component, checked by
``Workspace.path()``: characters from a list that holds no separator (or
look-alike), control or invisible character, no ``..``, and after resolving
symlinks still inside the root.

A workspace has limits (``WorkspaceLimits``, host-server settings): a byte quota, a free-space floor for its disk,
and an age after which *generated* files (renders, exports and saves written without a name, ``render-0001.png``)
are deleted. Generated files are also the first to make way when a write needs room; files a client named
(uploads, named outputs) are never deleted by the workspace: a write that does not fit is refused with
``WorkspaceFull`` naming the setting. The names of generated files are kept in a hidden file of the workspace, so
a restarted host server still knows them.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import re
import shutil
import stat
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InvalidParams, NotFound, WorkspaceFull

logger = logging.getLogger(__name__)

DEFAULT_CHUNK_BYTES = 4 * 1024 * 1024
MAX_CHUNK_BYTES = 16 * 1024 * 1024
PARTIAL_SUFFIX = ".part"

# The workspace limits are host-server settings: BRIDGE3D_<APP>_<SETTING> in the environment, --<setting> on the
# command line (option_name). The defaults keep a laptop usable: at most 1 GiB per workspace, no write that would
# leave less than 512 MiB on its disk, generated files kept a week.
QUOTA_SETTING = "WORKSPACE_QUOTA_BYTES"
MIN_FREE_SETTING = "WORKSPACE_MIN_FREE_BYTES"
GENERATED_AGE_SETTING = "GENERATED_MAX_AGE"
DEFAULT_QUOTA_BYTES = 1024**3
DEFAULT_MIN_FREE_BYTES = 512 * 1024**2
DEFAULT_GENERATED_MAX_AGE = 7 * 24 * 3600.0
# An upload whose partial file has not grown for this long was abandoned: the gateway sends the chunks of one upload
# back to back, so its partial file changes every few milliseconds while the upload lives.
ABANDONED_UPLOAD_SECONDS = 3600.0
GENERATED_RECORD = ".bridge3d-generated.json"  # hidden: never listed, and no client file name starts with a dot


def setting_name(app: str, setting: str) -> str:
    """The environment variable of a host-server setting: BRIDGE3D_BLENDER_WORKSPACE_QUOTA_BYTES."""
    return f"BRIDGE3D_{app.upper()}_{setting}"


def option_name(setting: str) -> str:
    """The command-line option of a host-server setting: --workspace-quota-bytes."""
    return "--" + setting.lower().replace("_", "-")


@dataclass(frozen=True)
class WorkspaceLimits:
    """What a workspace may hold; 0 switches a limit off.

    ``quota_bytes`` counts every regular file directly in the folder (hidden ones and partial uploads too);
    ``min_free_bytes`` is what a write must leave free on the folder's disk; ``generated_max_age`` is how many
    seconds a generated file is kept. ``app`` names the settings in refusals (BRIDGE3D_<APP>_...).
    """

    quota_bytes: int = DEFAULT_QUOTA_BYTES
    min_free_bytes: int = DEFAULT_MIN_FREE_BYTES
    generated_max_age: float = DEFAULT_GENERATED_MAX_AGE
    app: str = "<app>"

    def names(self, setting: str) -> dict[str, str]:
        """How a refusal names a setting: its environment variable and its option."""
        return {"setting": setting_name(self.app, setting), "option": option_name(setting)}


def _size(size: int) -> str:
    return f"{size} bytes" if size < 10 * 1024 else f"{size / 1024**2:.1f} MiB"


# The characters a workspace file name may use: letters and digits of the common scripts, space and punctuation
# that means nothing to a file system or a URL decoder. Nothing here is a separator, a look-alike of one ('∕',
# '／'), a control, format or invisible character, or normalises to any of those. Every character is in the BMP,
# so 80 of them stay under the 255-byte limit of a file name in UTF-8.
# No '{' or '}': Blender 5 reads them in an output path as a path template ("{frame}"), so a render or an export
# to such a name fails inside Blender.
FILE_PUNCTUATION = "_-+=,;!@#$&'()[]~^?"
# Escaped only where a character class needs it, so the pattern reads the same in Python and in ECMAScript (OpenAPI).
_PUNCTUATION_IN_CLASS = "".join("\\" + ch if ch in "-[]^\\" else ch for ch in FILE_PUNCTUATION)
_FILE_CHARACTERS = (
    "A-Za-z0-9"
    + _PUNCTUATION_IN_CLASS
    + r"\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u024F\u0370-\u03FF\u0400-\u04FF\u0590-\u05FF"
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
            f"characters {FILE_PUNCTUATION} only",
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
    def __init__(self, root: str | os.PathLike[str], limits: WorkspaceLimits | None = None) -> None:
        self.root = Path(root).expanduser().resolve()
        # A new workspace is private: renders and models are the user's, and nobody else may add files to it.
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        check_private_folder(self.root)
        self.limits = limits if limits is not None else WorkspaceLimits()
        # The IO thread (uploads, deletes) and the main thread (renders, exports) both write: one lock guards the
        # accounting and the record of generated files.
        self._lock = threading.RLock()
        self._generated = self._load_generated()

    def path(self, name: Any, field: str = "name") -> Path:
        """The absolute path for a workspace file name, guaranteed inside the root."""
        candidate = (self.root / check_file_name(name, field)).resolve()
        if not candidate.is_relative_to(self.root) or candidate.parent != self.root:
            raise InvalidParams.for_field(field, "resolves outside the workspace")
        return candidate

    def existing(self, name: Any, field: str = "name") -> Path:
        path = self.path(name, field)
        if not path.is_file():
            raise NotFound(f"No file named {name!r} in the workspace", {"field": field, "name": name})
        return path

    def output_path(self, name: Any, default_stem: str, extension: str, field: str = "name") -> Path:
        """Where to write an output: the given name (extension added if missing) or a fresh one, recorded as
        generated. Room is made first (expired and then the oldest generated files go); ``WorkspaceFull`` when
        the workspace is full of named files. Report the written file with ``written``."""
        with self._lock:
            generated = name is None or name == ""
            if generated:
                name = self.fresh_name(default_stem, extension)
            elif not str(name).lower().endswith(extension.lower()):
                name = f"{name}{extension}"
            path = self.path(name, field)
            self._fit(field, keep=(path.name,), added=1)  # room for at least a byte: the size is not known yet
            self._mark({path.name}, generated)
            return path

    def written(self, path: Path, field: str = "name", companions: Collection[str] = ()) -> dict[str, Any]:
        """``path`` (and its ``companions``, such as a glTF's .bin) was just written: generated files make way if
        the workspace is now over a limit; if that is not enough the new file is removed and the write refused
        (``WorkspaceFull``). Returns the file's name and size."""
        with self._lock:
            names = {path.name, *companions}
            self._mark(set(companions), path.name in self._generated)
            try:
                self._fit(field, keep=names, added=0)
            except WorkspaceFull as full:
                size = 0
                for name in names:
                    with contextlib.suppress(FileNotFoundError):
                        size += (self.root / name).stat().st_size
                        (self.root / name).unlink()
                self._mark(names, False)
                raise self._refusal(full.data["reason"], field, size) from None
            return self.describe(path)

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
        """Regular files only: a symlink is not followed (its target's size could tell what lies outside). Each
        with its size, when it was last written (``modified``, seconds since the epoch), its ``age`` in seconds
        and whether it is ``generated`` (the retention policy deletes it when old or when room is needed)."""
        now = time.time()
        listed = []
        with self._lock:
            for path in sorted(self.root.iterdir()):
                if path.name.startswith(".") or path.name.endswith(PARTIAL_SUFFIX):
                    continue
                info = path.lstat()
                if stat.S_ISREG(info.st_mode):
                    listed.append(
                        {
                            "name": path.name,
                            "size": info.st_size,
                            "modified": round(info.st_mtime, 3),
                            "age": round(max(0.0, now - info.st_mtime), 1),
                            "generated": path.name in self._generated,
                        }
                    )
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
        with self._lock:
            try:
                replaced = (current if offset == 0 else 0) + (target.lstat().st_size if target.is_file() else 0)
                self._fit("name", keep=(target.name,), added=len(raw), replaced=replaced)
            except WorkspaceFull:
                partial.unlink(missing_ok=True)  # nothing of a refused upload stays behind
                raise
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
            with self._lock:
                self._mark({target.name}, False)  # an upload is named by its client
        return {"name": target.name, "size": size, "complete": bool(final)}

    def delete(self, name: Any) -> dict[str, Any]:
        path = self.existing(name)
        path.unlink()
        with self._lock:
            self._mark({path.name}, False)
        return {"name": path.name, "deleted": True}

    def clean(self, older_than: float = 0.0, include_named: bool = False) -> dict[str, Any]:
        """Delete the generated files (every file with ``include_named``) last written at least ``older_than``
        seconds ago; returns their names, how many and the bytes freed."""
        now = time.time()
        deleted: list[str] = []
        freed = 0
        with self._lock:
            for item in self.list_files():
                if (item["generated"] or include_named) and now - item["modified"] >= older_than:
                    (self.root / item["name"]).unlink(missing_ok=True)
                    deleted.append(item["name"])
                    freed += item["size"]
            self._mark(set(deleted), False)
        if deleted:
            logger.info("deleted %d files older than %g s (%s)", len(deleted), older_than, _size(freed))
        return {"deleted": deleted, "count": len(deleted), "freed": freed}

    def usage(self) -> int:
        """Bytes of every regular file directly in the workspace (hidden files and partial uploads too)."""
        used = 0
        with os.scandir(self.root) as entries:
            for entry in entries:
                try:
                    if entry.is_file(follow_symlinks=False):
                        used += entry.stat(follow_symlinks=False).st_size
                except FileNotFoundError:  # deleted while we looked
                    continue
        return used

    # ------------------------------------------------------------------ limits and retention (hold self._lock)
    def _fit(self, field: str, keep: Collection[str], added: int, replaced: int = 0) -> None:
        """Make room for ``added`` more bytes (of which ``replaced`` replace bytes already counted): expired
        generated files go, then the oldest generated ones while a limit is exceeded; ``WorkspaceFull`` names the
        limit when that is not enough. ``keep``: files that never make way here (the one being written)."""
        self._expire(keep)
        over_quota, short_of_floor = self._excess(added, replaced)
        if over_quota or short_of_floor:
            self._evict(max(over_quota, short_of_floor), keep)
            over_quota, short_of_floor = self._excess(added, replaced)
        if over_quota:
            raise self._refusal("quota", field, added)
        if short_of_floor:
            raise self._refusal("disk", field, added)

    def _refusal(self, reason: str, field: str, size: int) -> WorkspaceFull:
        """The refusal of a write of ``size`` bytes (0 or 1: not known) that hit the quota or the disk's floor."""
        limits = self.limits
        what = f"{_size(size)} more do not fit" if size > 1 else "no room is left"
        if reason == "quota":
            used = self.usage()
            setting = setting_name(limits.app, QUOTA_SETTING)
            return WorkspaceFull(
                f"the {limits.app} workspace is full: {what} in its {_size(limits.quota_bytes)} quota ({setting}); "
                f"{_size(used)} are in use, and no generated file is left to make way: delete files, or raise "
                "the quota",
                {
                    "field": field,
                    "reason": reason,
                    **limits.names(QUOTA_SETTING),
                    "limit": limits.quota_bytes,
                    "used": used,
                    "size": size,
                },
            )
        free = shutil.disk_usage(self.root).free
        setting = setting_name(limits.app, MIN_FREE_SETTING)
        return WorkspaceFull(
            f"the disk of the {limits.app} workspace is nearly full: {what}, since a write must leave "
            f"{_size(limits.min_free_bytes)} free ({setting}) and {_size(free)} are: free some space",
            {
                "field": field,
                "reason": reason,
                **limits.names(MIN_FREE_SETTING),
                "limit": limits.min_free_bytes,
                "free": free,
                "size": size,
            },
        )

    def _excess(self, added: int, replaced: int) -> tuple[int, int]:
        """(bytes over the quota, bytes short of the free-space floor) were ``added`` bytes written now."""
        limits = self.limits
        over_quota = self.usage() + added - replaced - limits.quota_bytes if limits.quota_bytes else 0
        short = limits.min_free_bytes - (shutil.disk_usage(self.root).free - added) if limits.min_free_bytes else 0
        return max(0, over_quota), max(0, short)

    def _generated_files(self, keep: Collection[str]) -> list[tuple[float, int, str]]:
        """(modified, size, name) of each generated file still there, oldest first; forgets the vanished ones."""
        found: list[tuple[float, int, str]] = []
        vanished = set()
        for name in self._generated:
            try:
                info = (self.root / name).lstat()
            except FileNotFoundError:
                vanished.add(name)
                continue
            if name not in keep and stat.S_ISREG(info.st_mode):
                found.append((info.st_mtime, info.st_size, name))
        self._mark(vanished, False)
        return sorted(found)

    def _expire(self, keep: Collection[str]) -> None:
        """Delete generated files older than the retention age, and partial uploads abandoned long ago."""
        now = time.time()
        max_age = self.limits.generated_max_age
        expired = [name for modified, _, name in self._generated_files(keep) if max_age and now - modified > max_age]
        for name in expired:
            (self.root / name).unlink(missing_ok=True)
        self._mark(set(expired), False)
        if expired:
            logger.info("deleted %d generated files older than %g s: %s", len(expired), max_age, ", ".join(expired))
        with os.scandir(self.root) as entries:
            for entry in entries:
                if entry.name.startswith(".") and entry.name.endswith(PARTIAL_SUFFIX):
                    try:
                        stale = entry.is_file(follow_symlinks=False) and (
                            now - entry.stat(follow_symlinks=False).st_mtime > ABANDONED_UPLOAD_SECONDS
                        )
                        if stale:
                            os.unlink(entry.path)
                    except FileNotFoundError:
                        continue

    def _evict(self, wanted: int, keep: Collection[str]) -> None:
        """Delete the oldest generated files until ``wanted`` bytes are freed (or none is left)."""
        freed = 0
        evicted = []
        for _, size, name in self._generated_files(keep):
            if freed >= wanted:
                break
            (self.root / name).unlink(missing_ok=True)
            evicted.append(name)
            freed += size
        self._mark(set(evicted), False)
        if evicted:
            logger.info("made room (%s): deleted the generated files %s", _size(freed), ", ".join(evicted))

    def _mark(self, names: Collection[str], generated: bool) -> None:
        """Record ``names`` as generated (or as named: forgotten); the record is saved when it changed."""
        before = len(self._generated)
        if generated:
            self._generated.update(names)
        else:
            self._generated.difference_update(names)
        if len(self._generated) != before:
            self._save_generated()

    def _load_generated(self) -> set[str]:
        try:
            names = json.loads((self.root / GENERATED_RECORD).read_text(encoding="utf-8"))["files"]
        except (OSError, ValueError, KeyError, TypeError):
            return set()
        return {name for name in names if isinstance(name, str) and (self.root / name).is_file()}

    def _save_generated(self) -> None:
        record = self.root / GENERATED_RECORD
        scratch = self.root / f"{GENERATED_RECORD}{PARTIAL_SUFFIX}"
        scratch.write_text(json.dumps({"files": sorted(self._generated)}), encoding="utf-8")
        os.replace(scratch, record)

    def list_payload(self) -> dict[str, Any]:
        """Files in the workspace: {"files": [{"name", "size", "modified", "age", "generated"}]}."""
        return {"files": self.list_files()}

    def handlers(self) -> dict[str, Any]:
        """file.read / file.write / file.list / file.delete / file.clean. Plain file IO touches no application
        data, so the host answers them on its IO thread, during a long render too."""
        return {
            "file.read": self.read_chunk,
            "file.write": self.write_chunk,
            "file.list": self.list_payload,
            "file.delete": self.delete,
            "file.clean": self.clean,
        }
