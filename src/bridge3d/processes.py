"""Facts about local processes from /proc (stdlib only): the supervisor, `bridge3d stop` and the worker pool
signal a pid only while it still runs bridge3d, and tell a busy process from a stuck one by its CPU time."""

from __future__ import annotations

import os
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def is_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie waiting to be reaped."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no procfs: trust kill(0)
    # The state letter follows the parenthesised command name, which may itself contain ") ".
    return stat.rpartition(")")[2].split()[0] != "Z"


def is_ours(pid: int) -> bool:
    """Whether ``pid`` runs bridge3d (guards against a pid recycled by an unrelated program)."""
    try:
        command_line = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        # With procfs the process is gone; without it (macOS) there is no way to tell, so trust the pid file.
        return not Path("/proc/self").exists()
    except OSError:
        return False
    return b"bridge3d" in command_line


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of ``pid`` (all its threads), or None when it is gone or there is no procfs."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()  # fields after the command name; utime and stime are the 12th, 13th
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
