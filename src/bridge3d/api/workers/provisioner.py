"""What the pool needs of whatever places a worker (a local subprocess, a Ray actor): a small ``Popen``-like
interface, plus the information to persist so a restarted gateway can find its workers again.

Modeled on Jupyter's kernel provisioners (``jupyter_client/provisioning/provisioner_base.py``): the pool, the
sessions and the jobs never know which provisioner placed a worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

Role = Literal["spare", "session", "job"]


class WorkerStartError(Exception):
    """A worker did not start (or did not listen within its time); the message says why."""


@dataclass(frozen=True)
class WorkerSpec:
    """What to start: a host server of ``app`` with ``workspace`` as its folder. A provisioner that runs workers on
    other machines (Ray) keeps a folder of that name where the worker runs: no filesystem is shared."""

    app: str
    workspace: str
    log_path: str | None = None
    nice: int = 0  # job workers run at a lower priority than interactive sessions
    role: Role = "spare"  # what it is started for (a spare may become a session's or a job's later)


class WorkerHandle(Protocol):
    """One started host server: where it listens and how to watch and end it."""

    host: str
    port: int
    token: str
    # Seconds within which poll() reports a worker that ended: how long a caller whose connection broke waits to
    # tell a dead worker from a broken connection (a local exit is seen at once; a lost Ray node takes seconds).
    exit_notice: float

    @property
    def pid(self) -> int | None: ...

    def poll(self) -> int | None:
        """None while it runs, else its exit status (negative: the signal that ended it)."""

    def terminate(self) -> None:
        """Ask it to stop (it saves nothing: the pool only stops workers whose state is no longer wanted)."""

    def kill(self) -> None:
        """End it now, also inside a C-level render or boolean (the only sure way)."""

    def cpu_seconds(self) -> float | None:
        """CPU time it has used so far (None when unknown), to tell a busy worker from a stuck one."""

    def info(self) -> dict[str, Any]:
        """What to persist so ``Provisioner.load`` finds this worker again after a gateway restart."""

    def placement(self) -> dict[str, Any]:
        """Where it runs, for the API's worker info: {} for a local process."""

    def release(self, keep_workspace: bool) -> None:
        """The pool is done with it (ended, or found ended): free what it holds where it ran, its workspace there
        too unless ``keep_workspace`` (a session's, for the worker that replaces it). terminate() or kill() without
        an earlier release() release it with its workspace."""


class Provisioner(Protocol):
    name: str

    async def launch(self, spec: WorkerSpec, timeout: float) -> WorkerHandle:
        """Start a worker and return once it listens; WorkerStartError when it cannot."""

    def load(self, info: dict[str, Any]) -> WorkerHandle | None:
        """The worker ``info`` describes if it still runs, else None."""
