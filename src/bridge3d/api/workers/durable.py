"""Durable sessions: nothing a client was told is done is lost when its worker dies (Redis' AOF is the model).

Each durable session has a folder (``sessions/<app>-<id>/`` in the state directory) with

- ``journal.jsonl``: one line per event of a mutating command: ``start`` (method, params) before it is sent,
  then ``ack`` (with the call to replay: the same params, asking for the names the application gave) or ``fail``
  (an error reply: nothing happened). Non-replayable commands (code, imports, opening files) are acknowledged only
  after a snapshot that holds their effect.
- ``snapshot.json`` and ``snapshot.blend`` / ``snapshot.zip``: the application state (``state.save``) and the
  last journal entry it includes. A snapshot compacts the journal.

A restore loads the snapshot into a new worker and replays the acknowledged entries after it, in order. A command
that was started but never acknowledged (its worker died under it, or its answer was lost) is never replayed: the
client got an error for it, and a command that kills its worker cannot kill the next one (no crash loop).

``BRIDGE3D_DURABILITY``: ``always`` fsyncs the journal before each acknowledgement is returned, ``everysec`` once a
second (a crash of the machine loses at most the last second; a crash of the gateway or a worker loses nothing),
``off`` never (the operating system decides).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from bridge3d import commands
from bridge3d.api.clients.base_client import BaseSocketClient, Send
from bridge3d.commands.state import STATE_EXTENSIONS
from bridge3d.rpc.client import RpcConnectionError, RpcTimeout
from bridge3d.rpc.errors import RpcError

logger = logging.getLogger(__name__)

Durability = Literal["always", "everysec", "off"]
SNAPSHOT_META = "snapshot.json"
JOURNAL = "journal.jsonl"
CHUNK_BYTES = 4 * 1024 * 1024
# Commands whose effect depends on something outside their params (code, a file's content, FreeCAD's undo history,
# which a snapshot does not keep): a snapshot holds them instead.
NOT_REPLAYABLE = frozenset(
    {"code.execute", "file.import", "scene.open", "document.open", "state.load", "document.undo", "document.redo"}
)
Call = Callable[[str, "dict[str, Any] | None"], Awaitable[Any]]  # one command to one host server


def journaled(app: str, method: str, params: dict[str, Any] | None) -> bool:
    """Commands that change what the application holds in memory (workspace files persist on their own); a batch
    when one of its steps does."""
    if method == "batch.run":
        return any(journaled(app, step["method"], None) for step in (params or {}).get("steps", []))
    declared = commands.TABLES[app].get(method)
    return declared is not None and declared.mutating and declared.main_thread


def replayable(method: str, params: dict[str, Any] | None) -> bool:
    if method == "batch.run":
        return all(step["method"] not in NOT_REPLAYABLE for step in (params or {}).get("steps", []))
    return method not in NOT_REPLAYABLE


def pinned(app: str, method: str, params: dict[str, Any], result: Any) -> dict[str, Any]:
    """``params`` asking for the name the application gave (``Cube.001``), so a replay makes the same names."""
    declared = commands.TABLES[app].get(method)
    if declared is None or declared.names is None or not isinstance(result, dict) or "name" not in result:
        return params
    return {**params, declared.names: result["name"]}


def replay_call(app: str, method: str, params: dict[str, Any] | None, result: Any) -> dict[str, Any]:
    """What to replay for an acknowledged command: a batch keeps the steps that succeeded, names pinned."""
    if method != "batch.run":
        return {"method": method, "params": pinned(app, method, dict(params or {}), result)}
    steps = (params or {}).get("steps", [])
    done = []
    for step, report in zip(steps, result.get("steps", []), strict=False):
        if report.get("status") == "success":
            done.append(
                {"method": step["method"], "params": pinned(app, step["method"], step["params"], report.get("result"))}
            )
    return {"method": "batch.run", "params": {"steps": done, "full": False}} if done else {}


# ------------------------------------------------------------------------------------------------------ the journal
@dataclass
class Journal:
    """The append-only journal file of one session; ``entries`` mirrors it in memory (seq -> entry)."""

    path: Path
    durability: Durability
    entries: dict[int, dict[str, Any]] = field(default_factory=dict)
    last_seq: int = 0
    dirty: bool = False
    size: int = 0  # bytes in the file

    def __post_init__(self) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._load()
        self._file = self.path.open("ab")
        self.size = self.path.stat().st_size

    def _load(self) -> None:
        if not self.path.exists():
            return
        for line in self.path.read_bytes().splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                break  # a torn last line (the process died while writing it): everything before it counts
            self._apply(event)

    def _apply(self, event: dict[str, Any]) -> None:
        seq = int(event["seq"])
        self.last_seq = max(self.last_seq, seq)
        if event["op"] == "start":
            self.entries[seq] = {"seq": seq, "method": event["method"], "state": "started"}
        elif seq in self.entries:
            self.entries[seq]["state"] = {"ack": "acked", "fail": "failed", "drop": "dropped"}[event["op"]]
            if event.get("replay"):
                self.entries[seq]["replay"] = event["replay"]

    def _write(self, event: dict[str, Any]) -> None:
        line = json.dumps(event, separators=(",", ":")).encode() + b"\n"
        self._file.write(line)
        self.size += len(line)
        self._file.flush()  # in the operating system's hands: a crash of this process loses nothing
        self.dirty = True
        self._apply(event)

    def start(self, method: str, params: dict[str, Any] | None) -> int:
        seq = self.last_seq + 1
        self._write({"seq": seq, "op": "start", "method": method, "params": params, "time": time.time()})
        return seq

    async def ack(self, seq: int, replay: dict[str, Any] | None) -> None:
        """Record that ``seq`` is done; with ``always`` it is on disk when this returns."""
        self._write({"seq": seq, "op": "ack", "replay": replay or None})
        if self.durability == "always":
            await self.sync()

    def fail(self, seq: int) -> None:
        self._write({"seq": seq, "op": "fail"})

    def drop(self, seqs: list[int]) -> None:
        """Mark commands that were started but never acknowledged as never to be replayed (a restore saw them)."""
        for seq in seqs:
            self._write({"seq": seq, "op": "drop"})

    async def sync(self) -> None:
        if self.dirty:
            self.dirty = False
            await asyncio.to_thread(os.fsync, self._file.fileno())

    def since(self, through: int) -> list[dict[str, Any]]:
        return [entry for seq, entry in sorted(self.entries.items()) if seq > through]

    def count_since(self, through: int) -> int:
        """``len(since(through))`` without a look at every entry on each command: entries are added in seq order and
        compaction keeps them in it, so once the first is after ``through`` all of them are."""
        first = next(iter(self.entries), None)
        if first is None:
            return 0
        if first > through:
            return len(self.entries)
        return sum(1 for seq in self.entries if seq > through)

    def compact(self, through: int) -> None:
        """Keep only the entries after ``through`` (the snapshot holds the rest): rewrite, fsync, rename."""
        kept = self.since(through)
        partial = self.path.with_suffix(".partial")
        with partial.open("wb") as file:
            for entry in kept:
                file.write(json.dumps({"seq": entry["seq"], "op": "start", "method": entry["method"]}).encode() + b"\n")
                if entry["state"] != "started":
                    op = {"acked": "ack", "failed": "fail", "dropped": "drop"}[entry["state"]]
                    line = {"seq": entry["seq"], "op": op, "replay": entry.get("replay")}
                    file.write(json.dumps(line).encode() + b"\n")
            file.flush()
            os.fsync(file.fileno())
        self._file.close()
        partial.replace(self.path)
        sync_folder(self.path.parent)
        self.entries = {entry["seq"]: entry for entry in kept}
        self._file = self.path.open("ab")
        self.size = self.path.stat().st_size
        self.dirty = False

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._file.flush()
            os.fsync(self._file.fileno())
        self._file.close()


def sync_folder(folder: Path) -> None:
    """A rename is durable once its folder is fsynced."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


# ---------------------------------------------------------------------------------------------- a durable session
class DurableState:
    """One session's journal and snapshot, and the two things done with them: recording and restoring.

    ``around`` is installed as its client's command hook. Mutating commands of the session are recorded one at a
    time (``lock``), and a snapshot holds the lock, so it captures exactly the entries up to ``through``.
    """

    def __init__(
        self, app: str, folder: Path, durability: Durability, *, snapshot_every: int, snapshot_interval: float
    ) -> None:
        self.app = app
        self.folder = folder
        self.journal = Journal(folder / JOURNAL, durability)
        self.snapshot_every = snapshot_every
        self.snapshot_interval = snapshot_interval
        self.lock = asyncio.Lock()
        meta = self._read_meta()
        self.through: int = int(meta.get("through", 0))
        self.snapshot_file: str | None = meta.get("file")
        self.instance: str | None = meta.get("instance")  # the default session's host process it matches
        self.last_snapshot = time.monotonic()
        self.client: BaseSocketClient | None = None
        self.in_flight: set[int] = set()  # started commands still waiting for their answer
        self._snapshotting: asyncio.Task[None] | None = None

    def _read_meta(self) -> dict[str, Any]:
        try:
            meta: dict[str, Any] = json.loads((self.folder / SNAPSHOT_META).read_text())
        except (OSError, ValueError):
            return {}
        return meta

    def _write_meta(self) -> None:
        partial = self.folder / (SNAPSHOT_META + ".partial")
        meta = {"through": self.through, "file": self.snapshot_file, "instance": self.instance, "taken": time.time()}
        with partial.open("w") as file:
            json.dump(meta, file)
            file.flush()
            os.fsync(file.fileno())
        partial.replace(self.folder / SNAPSHOT_META)
        sync_folder(self.folder)

    @property
    def snapshot_name(self) -> str:
        """The file name state.save writes in the worker's workspace (deleted once copied here)."""
        return f"bridge3d-snapshot-{self.folder.name}{STATE_EXTENSIONS[self.app]}"

    def attach(self, client: BaseSocketClient) -> None:
        self.client = client
        client.around = self.around

    # ------------------------------------------------------------------ recording
    async def around(self, method: str, params: dict[str, Any] | None, timeout: float | None, send: Send) -> Any:
        if not journaled(self.app, method, params):
            return await send(method, params, timeout)
        async with self.lock:
            seq = self.journal.start(method, params)
            self.in_flight.add(seq)
            try:
                result = await send(method, params, timeout)
            except RpcError:
                self.journal.fail(seq)  # a complete error reply: the command did not happen
                raise
            except (RpcConnectionError, RpcTimeout, asyncio.CancelledError):
                # Its outcome is unknown: it stays "started" and is never replayed. If the worker lives on, a
                # snapshot soon takes whatever it did.
                self._schedule_snapshot()
                raise
            finally:
                self.in_flight.discard(seq)
            if replayable(method, params):
                await self.journal.ack(seq, replay_call(self.app, method, params, result))
            else:
                await self._snapshot(send)  # the reply waits: only a snapshot can hold what code or a file did
                await self.journal.ack(seq, None)
        if self._due():
            self._schedule_snapshot()
        return result

    def _due(self) -> bool:
        """Snapshot when the journal outgrew the snapshot (replaying it would cost more than loading one, as Redis
        rewrites its AOF when it doubled) and holds ``snapshot_every`` entries, or ``snapshot_interval`` after a
        change: the cost of snapshots stays proportional to the work done, however large the scene grows."""
        pending = self.journal.count_since(self.through)
        if pending == 0:
            return False
        if time.monotonic() - self.last_snapshot >= self.snapshot_interval:
            return True
        snapshot = self.folder / self.snapshot_file if self.snapshot_file else None
        snapshot_bytes = snapshot.stat().st_size if snapshot is not None and snapshot.exists() else 0
        return pending >= self.snapshot_every and self.journal.size >= snapshot_bytes

    def _schedule_snapshot(self) -> None:
        if self._snapshotting is None or self._snapshotting.done():
            self._snapshotting = asyncio.create_task(self.snapshot(), name=f"snapshot-{self.folder.name}")

    async def snapshot(self) -> None:
        """Take a snapshot now (in the background of normal work: mutations of this session wait for it)."""
        client = self.client
        if client is None:
            return
        try:
            async with self.lock:
                await self._snapshot(client.send_raw)
        except (RpcConnectionError, RpcTimeout, RpcError, OSError) as exc:
            logger.warning("%s session %s: no snapshot: %s", self.app, self.folder.name, exc)

    async def _snapshot(self, send: Send) -> None:
        """``state.save`` on the worker, the file copied here (fsynced, renamed), the journal compacted."""
        through = self.journal.last_seq
        saved = await send("state.save", {"name": self.snapshot_name}, None)
        target = f"snapshot{STATE_EXTENSIONS[self.app]}"
        partial = self.folder / (target + ".partial")
        try:
            with partial.open("wb") as file:
                offset = 0
                while True:
                    chunk = await send(
                        "file.read", {"name": saved["name"], "offset": offset, "length": CHUNK_BYTES}, None
                    )
                    data = base64.b64decode(chunk["data"])
                    file.write(data)
                    offset += len(data)
                    if chunk["eof"] or not data:
                        break
                file.flush()
                os.fsync(file.fileno())
            partial.replace(self.folder / target)
        finally:
            with contextlib.suppress(RpcError, RpcConnectionError, RpcTimeout):
                await send("file.delete", {"name": saved["name"]}, None)
        self.snapshot_file, self.through = target, through
        self._write_meta()
        self.journal.compact(through)
        self.last_snapshot = time.monotonic()

    # ------------------------------------------------------------------ restoring
    async def restore(self, call: Call) -> dict[str, Any]:
        """Bring a fresh host server to the session's state: the snapshot, then the acknowledged commands after it.
        ``call`` sends one command to that host (not through ``around``).

        It does not take ``lock``: nothing else reaches the fresh host meanwhile (a session's requests wait until it
        is ready; the default host's new connections wait for the restore), and the command that noticed the
        restart may be holding the lock, waiting for its connection. Commands in flight are left alone.
        """
        started = time.monotonic()
        if self.snapshot_file is not None and (self.folder / self.snapshot_file).exists():
            name = self.snapshot_name
            await send_file(call, self.folder / self.snapshot_file, name)
            try:
                await call("state.load", {"name": name})
            finally:
                with contextlib.suppress(RpcError):
                    await call("file.delete", {"name": name})
        replayed, failed = 0, 0
        abandoned = []
        for entry in self.journal.since(self.through):
            if entry["seq"] in self.in_flight:
                continue  # sent after the restore, through the hook, as usual
            if entry["state"] == "started":
                abandoned.append(entry["seq"])  # never acknowledged: never replayed
            elif entry["state"] == "acked" and entry.get("replay"):
                replay = entry["replay"]
                try:
                    await call(replay["method"], replay["params"])
                    replayed += 1
                except RpcError as exc:
                    failed += 1
                    logger.error(
                        "%s session %s: replaying %s (entry %d) failed: %s",
                        self.app, self.folder.name, replay["method"], entry["seq"], exc,
                    )  # fmt: skip
        self.journal.drop(abandoned)
        stats = {
            "replayed": replayed,
            "skipped": len(abandoned),
            "failed": failed,
            "snapshot": self.snapshot_file is not None,
            "seconds": round(time.monotonic() - started, 3),
        }
        logger.info("%s session %s restored: %s", self.app, self.folder.name, stats)
        return stats

    @property
    def empty(self) -> bool:
        """Nothing acknowledged yet: no snapshot and no acknowledged journal entry."""
        return self.snapshot_file is None and not any(e["state"] == "acked" for e in self.journal.entries.values())

    def remember_instance(self, instance: str | None) -> None:
        self.instance = instance
        self._write_meta()

    def close(self) -> None:
        self.journal.close()


async def send_file(call: Call, path: Path, name: str) -> None:
    """A file from the gateway's disk into the host's workspace (file.write in chunks)."""
    offset = 0
    with path.open("rb") as file:
        chunk = file.read(CHUNK_BYTES)
        while True:
            following = file.read(CHUNK_BYTES) if chunk else b""
            data = base64.b64encode(chunk).decode("ascii")
            await call("file.write", {"name": name, "data": data, "offset": offset, "final": not following})
            offset += len(chunk)
            if not following:
                return
            chunk = following
