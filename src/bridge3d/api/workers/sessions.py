"""Sessions: each client's own worker (scene or documents, workspace, undo, executions, events).

A request names its session with the ``X-Bridge3D-Session`` header (or ``?session=``); without one it uses the
default session, the host server the gateway is attached to, exactly as before sessions existed. With API keys a
session belongs to the key that created it: any other key gets 404, as if it did not exist. When a session's
worker dies, the session gets a new one with the same workspace (its files stay; what the application held in
memory is lost) and requests wait for it, bounded by ``worker_start_timeout``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridge3d.api.clients.base_client import BaseSocketClient
from bridge3d.api.config import Settings
from bridge3d.api.errors import BackendConnectionError, SessionLostError, SessionNotFoundError, TooManySessionsError
from bridge3d.api.store import Store
from bridge3d.rpc.client import RpcConnectionError, RpcTimeout
from bridge3d.rpc.errors import RpcError

from .durable import DurableState
from .pool import Worker, WorkerPool
from .provisioner import Provisioner, WorkerStartError

logger = logging.getLogger(__name__)

DEFAULT_SESSION = "default"
SESSION_ID_PATTERN = r"^(default|ses_[0-9a-f]{16})$"
EXPIRY_INTERVAL = 5.0  # seconds between looks for idle sessions
SessionListener = Callable[["Session"], Awaitable[None]]
EventListener = Callable[["Session", str, dict[str, Any]], None]
RESTORE_ATTEMPTS = 3  # new workers a session gets in a row when each dies while being restored; then it is lost


@dataclass(eq=False)
class Session:
    id: str
    app: str
    owner: str | None  # the fingerprint of the API key that created it (None without keys)
    label: str | None = None
    idle_timeout: float = 0.0  # 0: never expires (the default session)
    workspace: Path | None = None
    worker: Worker | None = None
    attached: BaseSocketClient | None = None  # the default session's host server
    created: float = field(default_factory=time.time)
    last_used: float = field(default_factory=time.time)
    restarts: int = 0
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    durable: DurableState | None = None
    lost: str | None = None  # why the session could not be brought back (its requests get 503)
    restored: dict[str, Any] | None = None  # what the last restore did

    @property
    def is_default(self) -> bool:
        return self.id == DEFAULT_SESSION

    @property
    def client(self) -> BaseSocketClient | None:
        return self.attached if self.attached is not None else self.worker.client if self.worker else None

    async def wait_client(self, timeout: float) -> BaseSocketClient:
        """The client to this session's host server, once it has one (a restarted worker may take ``timeout``)."""
        if not self.ready.is_set() and self.lost is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.ready.wait(), timeout)
        if self.lost is not None:
            raise SessionLostError(f"{self.app} session {self.id} is lost: {self.lost}", {"session": self.id})
        client = self.client
        if client is None:
            raise BackendConnectionError(
                f"The worker of {self.app} session {self.id} is being restarted; try again", {"backend": self.app}
            )
        self.last_used = time.time()
        return client

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "app": self.app,
            "label": self.label,
            "default": self.is_default,
            "created": self.created,
            "last_used": self.last_used,
            "expires": self.last_used + self.idle_timeout if self.idle_timeout else None,
            "restarts": self.restarts,
            "worker": self.worker.describe() if self.worker is not None else None,
            "state": "lost" if self.lost else "ready" if self.ready.is_set() else "starting",
            "restored": self.restored,
        }

    def record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "app": self.app,
            "owner": self.owner,
            "label": self.label,
            "idle_timeout": self.idle_timeout,
            "workspace": str(self.workspace) if self.workspace else None,
            "created": self.created,
            "last_used": self.last_used,
            "restarts": self.restarts,
        }


class SessionManager:
    def __init__(
        self,
        settings: Settings,
        pools: dict[str, WorkerPool],
        defaults: dict[str, BaseSocketClient],
        store: Store,
    ) -> None:
        self.settings = settings
        self.pools = pools
        self.store = store
        self.folder = settings.state_dir.resolve() / "sessions"
        self.sessions: dict[str, Session] = {}
        self.end_listeners: list[SessionListener] = []
        self.event_listeners: list[EventListener] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._expiry: asyncio.Task[None] | None = None
        self._syncer: asyncio.Task[None] | None = None
        self._restoring: dict[str, asyncio.Lock] = {app: asyncio.Lock() for app in defaults}
        self.defaults = {app: self._default(app, client) for app, client in defaults.items()}
        for pool in pools.values():
            pool.listeners.append(self._worker_exited)

    def _durable(self, app: str, session_id: str) -> DurableState:
        return DurableState(
            app,
            self.folder / f"{app}-{session_id}",
            self.settings.durability,
            snapshot_every=self.settings.snapshot_every,
            snapshot_interval=self.settings.snapshot_interval,
        )

    def _default(self, app: str, client: BaseSocketClient) -> Session:
        """The attached host server's session: durable too when bridge3d started that host headless (a GUI's own
        scene is never replaced)."""
        session = Session(DEFAULT_SESSION, app, None, label="default", attached=client)
        session.durable = self._durable(app, DEFAULT_SESSION)
        session.durable.attach(client)

        async def connected(info: dict[str, Any]) -> None:
            await self._default_connected(session, info)

        client.on_connect = connected
        session.ready.set()
        return session

    async def _default_connected(self, session: Session, info: dict[str, Any]) -> None:
        """A new connection to the default host server: if that is a new process, bring it to the session's state
        first (the supervisor restarted it, or the gateway was restarted after it)."""
        durable, client = session.durable, session.attached
        instance = info.get("instance")
        if durable is None or client is None or not instance or not info.get("headless"):
            return
        if durable.instance == instance:
            return
        async with self._restoring[session.app]:
            if durable.instance == instance:
                return
            if durable.instance is None and durable.empty:
                durable.remember_instance(instance)  # the first host this session knows: nothing to restore
                return
            connection = await client.open_connection(hooked=False)
            try:
                timeout = client.settings.call_timeout

                async def call(method: str, params: dict[str, Any] | None) -> Any:
                    return await connection.call(method, params, timeout=timeout)

                stats = await durable.restore(call)
            finally:
                connection.close()
            durable.remember_instance(instance)
            session.restored = stats
            self._emit(session, "session.restored", stats)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self._expiry = asyncio.create_task(self._expire(), name="session-expiry")
        if self.settings.durability == "everysec":
            self._syncer = asyncio.create_task(self._sync_every_second(), name="journal-sync")

    async def close(self) -> None:
        """The gateway stops: its workers stop with it (the pools end them); the records and journals stay for the
        next start, which restores every session."""
        for task in (self._expiry, self._syncer, *self._tasks):
            if task is not None:
                task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for session in [*self.sessions.values(), *self.defaults.values()]:
            if session.durable is not None:
                session.durable.close()
            if not session.is_default:
                self.store.save_session(session.id, session.app, session.record())

    async def _sync_every_second(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            for session in [*self.sessions.values(), *self.defaults.values()]:
                if session.durable is not None:
                    try:
                        await session.durable.journal.sync()
                    except (OSError, ValueError):
                        logger.exception("%s session %s: the journal could not be synced", session.app, session.id)

    def _emit(self, session: Session, topic: str, data: dict[str, Any]) -> None:
        for listener in list(self.event_listeners):
            try:
                listener(session, topic, {"session": session.id, **data})
            except Exception:
                logger.exception("a session event listener failed")

    def restore(self, provisioner: Provisioner) -> None:
        """Take back the sessions of an earlier run of the gateway: a worker still running is adopted, any other
        session gets a new worker (its workspace files are kept); leftover spare and job workers are ended."""
        workers = {
            owner: (worker_id, app, info)
            for worker_id, app, role, owner, info in self.store.workers()
            if role == "session"
        }
        for record in self.store.sessions():
            app = record["app"]
            if app not in self.pools:
                self.store.delete_session(record["id"])
                continue
            session = Session(
                record["id"],
                app,
                record.get("owner"),
                label=record.get("label"),
                idle_timeout=float(record.get("idle_timeout") or self.settings.session_idle_timeout),
                workspace=Path(record["workspace"]) if record.get("workspace") else None,
                created=float(record["created"]),
                last_used=time.time(),  # the gateway was down: give the client its full idle time again
                restarts=int(record.get("restarts", 0)),
            )
            self.sessions[session.id] = session
            session.durable = self._durable(app, session.id)
            found = workers.pop(session.id, None)
            handle = provisioner.load(found[2]) if found is not None else None
            if found is not None and handle is not None:
                session.worker = self.pools[app].adopt(
                    found[0], handle, session.workspace or Path(found[2]["workspace"]), "session", session.id
                )
                session.durable.attach(session.worker.client)  # its state is intact: nothing to restore
                session.ready.set()
                logger.info("%s session %s: worker %s adopted (pid %s)", app, session.id, found[0], handle.pid)
            else:
                self._background(self._replace(session), f"restore-{session.id}")
        adopted = {worker_id for pool in self.pools.values() for worker_id in pool.workers}
        for worker_id, _app, _role, _owner, info in list(self.store.workers()):
            if worker_id not in adopted:  # spares and job workers of the earlier run, and orphans
                handle = provisioner.load(info)
                if handle is not None:
                    handle.kill()
                self.store.delete_worker(worker_id)

    def _background(self, coroutine: Awaitable[Any], name: str) -> None:
        task = asyncio.ensure_future(coroutine)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ the API
    async def create(self, app: str, owner: str | None, *, label: str | None = None) -> Session:
        """A new session on a worker of its own (a warm spare when there is one)."""
        self._check_capacity(app, owner)
        session_id = "ses_" + secrets.token_hex(8)
        session = Session(session_id, app, owner, label=label, idle_timeout=self.settings.session_idle_timeout)
        self.sessions[session_id] = session  # counted against the limits while its worker starts
        try:
            worker = await self.pools[app].take("session", session_id)
        except WorkerStartError as exc:
            self.sessions.pop(session_id, None)
            raise BackendConnectionError(
                f"No {app} worker could be started for the session: {exc}", {"backend": app}
            ) from None
        except BaseException:
            self.sessions.pop(session_id, None)
            raise
        session.worker, session.workspace = worker, worker.workspace
        session.durable = self._durable(app, session_id)
        session.durable.attach(worker.client)
        session.ready.set()
        self.store.save_session(session.id, app, session.record())
        logger.info("%s session %s created on worker %s", app, session_id, worker.id)
        return session

    def _check_capacity(self, app: str, owner: str | None) -> None:
        limit = self.pools[app].backend.workers
        setting = f"BRIDGE3D_{app.upper()}__WORKERS"
        held = [session for session in self.sessions.values() if session.app == app]
        if len(held) >= limit:
            raise TooManySessionsError(
                f"{app} has {len(held)} sessions, the most {setting}={limit} allows; end one (DELETE) or wait",
                {"limit": limit, "setting": setting},
            )
        per_key = self.settings.max_sessions_per_key
        if sum(1 for session in held if session.owner == owner) >= per_key:
            raise TooManySessionsError(
                f"This API key holds {per_key} {app} sessions, the most BRIDGE3D_MAX_SESSIONS_PER_KEY allows",
                {"limit": per_key, "setting": "BRIDGE3D_MAX_SESSIONS_PER_KEY"},
            )

    def find(self, app: str, session_id: str, owner: str | None) -> Session:
        """The session, if it is of ``app`` and of this key; else 404 (another key's session does not exist)."""
        if session_id == DEFAULT_SESSION:
            return self.defaults[app]
        session = self.sessions.get(session_id)
        if session is None or session.app != app or session.owner != owner:
            raise SessionNotFoundError(
                f"No {app} session {session_id!r} (it ended, expired, or was created with another API key)",
                {"session": session_id, "app": app},
            )
        return session

    def listed(self, app: str, owner: str | None) -> list[Session]:
        own = [s for s in self.sessions.values() if s.app == app and s.owner == owner]
        return [self.defaults[app], *sorted(own, key=lambda s: s.created)]

    async def client(self, app: str, session_id: str | None, owner: str | None) -> BaseSocketClient:
        """The client a request of this session talks to; waits (bounded) while the session's worker restarts."""
        session = self.find(app, session_id or DEFAULT_SESSION, owner)
        return await session.wait_client(self.pools[app].backend.worker_start_timeout)

    async def end(self, session: Session) -> None:
        """End the session: its worker stops and its workspace is deleted."""
        if session.is_default:
            return
        self.sessions.pop(session.id, None)
        self.store.delete_session(session.id)
        worker, session.worker = session.worker, None
        session.ready.clear()
        for listener in list(self.end_listeners):
            try:
                await listener(session)
            except Exception:
                logger.exception("a listener failed at the end of session %s", session.id)
        if worker is not None:
            await self.pools[session.app].end(worker)
        if session.workspace is not None:
            shutil.rmtree(session.workspace, ignore_errors=True)
        if session.durable is not None:
            session.durable.close()
            self._retire(session.durable.folder)
        logger.info("%s session %s ended", session.app, session.id)

    def _retire(self, folder: Path) -> None:
        """An ended session's journal and snapshot: deleted, or kept for BRIDGE3D_SESSION_STATE_RETENTION seconds."""
        if self.settings.session_state_retention <= 0:
            shutil.rmtree(folder, ignore_errors=True)
        elif folder.exists():
            folder.rename(folder.with_name(f"ended-{int(time.time())}-{folder.name}"))

    def _purge_ended(self) -> None:
        if not self.folder.exists():
            return
        for folder in self.folder.glob("ended-*"):
            ended = int(folder.name.split("-", 2)[1])
            if time.time() - ended > self.settings.session_state_retention:
                shutil.rmtree(folder, ignore_errors=True)

    # ------------------------------------------------------------------ keeping sessions alive
    async def _worker_exited(self, worker: Worker, code: int) -> None:
        session = self.sessions.get(worker.owner or "")
        if worker.role != "session" or session is None or session.worker is not worker:
            return
        session.worker = None
        session.ready.clear()
        logger.warning("%s session %s lost its worker (status %d); starting a new one", session.app, session.id, code)
        self._background(self._replace(session), f"replace-{session.id}")

    async def _replace(self, session: Session) -> None:
        """A new worker for the session, with its workspace folder, brought to the session's state (snapshot and
        journal) before any request reaches it. A session whose new workers die while being restored, again and
        again, is given up (``lost``): no command can make the gateway start workers forever."""
        delay, failed_restores = 0.5, 0
        pool = self.pools[session.app]
        while session.id in self.sessions:
            try:
                worker = await pool.launch("session", session.id, workspace=session.workspace)
            except WorkerStartError as exc:
                logger.error(
                    "%s session %s: no new worker: %s; retrying in %.0f s", session.app, session.id, exc, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            if session.id not in self.sessions:  # ended while its worker started
                await pool.end(worker)
                return
            stats: dict[str, Any] | None = None
            if session.durable is not None:
                client = worker.client
                try:
                    stats = await session.durable.restore(client.send_raw)
                except (RpcConnectionError, RpcTimeout, RpcError) as exc:
                    failed_restores += 1
                    logger.error("%s session %s: restore failed (%s)", session.app, session.id, exc)
                    await pool.end(worker, kill=True, keep_workspace=True)
                    if failed_restores >= RESTORE_ATTEMPTS:
                        session.lost = f"{failed_restores} restores in a row failed, the last with: {exc}"
                        logger.error("%s session %s is lost: %s", session.app, session.id, session.lost)
                        self._emit(session, "session.lost", {"reason": session.lost})
                        return
                    continue
                session.durable.attach(client)
            session.worker = worker
            session.workspace = worker.workspace
            session.restarts += 1
            session.restored = stats
            session.ready.set()
            self.store.save_session(session.id, session.app, session.record())
            if stats is not None:
                self._emit(session, "session.restored", stats)
            return

    async def _expire(self) -> None:
        while True:
            await asyncio.sleep(EXPIRY_INTERVAL)
            self._purge_ended()
            now = time.time()
            for session in list(self.sessions.values()):
                if session.idle_timeout and now - session.last_used > session.idle_timeout:
                    logger.info(
                        "%s session %s idle for %.0f s: ending it", session.app, session.id, now - session.last_used
                    )
                    await self.end(session)

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(self.pools, 0)
        for session in self.sessions.values():
            counts[session.app] += 1
        return counts
