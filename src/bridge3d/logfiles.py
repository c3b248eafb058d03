"""Size-bounded log files (stdlib only): the supervisor's logs and the gateway's worker logs.

The services write their logs themselves, through a file descriptor they inherited (a child's stdout, Blender's
C code included), so the file cannot be renamed under them: a log that reached its size is copied to ``<log>.1``
(older copies move to ``.2``, ``.3``, ...) and then truncated in place. Every writer opened it for appending
(O_APPEND), so each next write lands at the new end. Lines written between the copy and the truncation are lost;
a log is checked about once a second, so a log holds at most its size plus what one second adds.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

# The settings (OperationsSettings reads them from the environment or .env; the supervisor hands them on to the
# gateway in its environment, for the worker logs): the size at which a log is rotated, and how many rotated copies
# are kept. 10 MiB and 3 copies: at most 40 MiB per log.
MAX_BYTES_VARIABLE = "BRIDGE3D_LOG_MAX_BYTES"
BACKUPS_VARIABLE = "BRIDGE3D_LOG_BACKUPS"
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_BACKUPS = 3
CHECK_SECONDS = 1.0  # how often the supervisor looks at its logs' sizes


@dataclass(frozen=True)
class LogLimits:
    """``max_bytes``: rotate a log at this size (0: never); ``backups``: rotated copies kept (0: the log is only
    truncated)."""

    max_bytes: int = DEFAULT_MAX_BYTES
    backups: int = DEFAULT_BACKUPS

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> LogLimits:
        """The limits a parent process set in the environment (the defaults for anything unset or unreadable)."""
        env = os.environ if environ is None else environ
        return cls(
            max_bytes=_whole_number(env.get(MAX_BYTES_VARIABLE), DEFAULT_MAX_BYTES),
            backups=_whole_number(env.get(BACKUPS_VARIABLE), DEFAULT_BACKUPS),
        )

    def environment(self) -> dict[str, str]:
        """The variables that hand these limits to a child process (read back by ``from_environment``)."""
        return {MAX_BYTES_VARIABLE: str(self.max_bytes), BACKUPS_VARIABLE: str(self.backups)}


def _whole_number(text: str | None, default: int) -> int:
    try:
        value = int(text) if text is not None else default
    except ValueError:
        logger.warning("ignoring a log setting that is not a whole number: %r", text)
        return default
    return max(0, value)


def backup_path(path: Path, index: int) -> Path:
    return path.with_name(f"{path.name}.{index}")


def rotate_if_full(path: Path, limits: LogLimits) -> bool:
    """Copy ``path`` to its first backup and truncate it when it has reached ``limits.max_bytes``; True if it did."""
    if limits.max_bytes <= 0:
        return False
    try:
        if path.stat().st_size < limits.max_bytes:
            return False
        if limits.backups > 0:
            for index in range(limits.backups - 1, 0, -1):
                older = backup_path(path, index)
                if older.exists():
                    os.replace(older, backup_path(path, index + 1))
            shutil.copyfile(path, backup_path(path, 1))
        os.truncate(path, 0)
    except FileNotFoundError:  # removed meanwhile (a worker's log when it ended)
        return False
    except OSError as exc:
        logger.warning("cannot rotate %s: %s", path, exc)
        return False
    return True


def remove_log(path: Path, limits: LogLimits) -> None:
    """Delete a log and its rotated copies."""
    for candidate in (path, *(backup_path(path, index) for index in range(1, limits.backups + 1))):
        with contextlib.suppress(FileNotFoundError):
            candidate.unlink()
