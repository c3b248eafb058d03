"""Everything the gateway runs besides routing: the store, a worker pool per application, sessions and jobs.

``Runtime.start`` restores what an earlier run of the gateway left (sessions keep their workers, leftover spare and
job workers are ended) before the first request; ``close`` stops every worker the gateway started.
"""

from __future__ import annotations

from dataclasses import dataclass

from bridge3d.api.clients.base_client import BaseSocketClient
from bridge3d.api.clients.blender_client import BlenderClient
from bridge3d.api.clients.freecad_client import FreeCADClient
from bridge3d.api.config import Settings
from bridge3d.api.jobs.manager import JobManager
from bridge3d.api.store import Store
from bridge3d.cli.state import StateDir

from .local import LocalProvisioner
from .pool import WorkerPool
from .provisioner import Provisioner
from .sessions import SessionManager

CLIENT_CLASSES: dict[str, type[BaseSocketClient]] = {"blender": BlenderClient, "freecad": FreeCADClient}


@dataclass
class Runtime:
    store: Store
    provisioner: Provisioner
    pools: dict[str, WorkerPool]
    sessions: SessionManager
    jobs: JobManager

    @classmethod
    def start(cls, settings: Settings, defaults: dict[str, BaseSocketClient]) -> Runtime:
        """Open the store, take back an earlier run's sessions, start the pools (spares fill in the background)."""
        state_dir = settings.state_dir.resolve()
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        store = Store(StateDir(state_dir).gateway_store)
        provisioner: Provisioner = LocalProvisioner()
        if settings.ray_address:  # cluster mode: Ray is imported only here, only when configured
            from .ray_cluster import require_token_auth

            require_token_auth()  # before Ray's import, which reads RAY_AUTH_MODE
            from .ray import RayProvisioner

            provisioner = RayProvisioner.connect(settings)
        pools = {
            app: WorkerPool(app, getattr(settings, app), provisioner, state_dir, store, CLIENT_CLASSES[app])
            for app in defaults
        }
        sessions = SessionManager(settings, pools, defaults, store)
        sessions.restore(provisioner)
        jobs = JobManager(settings, pools, sessions, store, state_dir)
        for pool in pools.values():
            pool.start()
        sessions.start()
        jobs.restore()
        return cls(store, provisioner, pools, sessions, jobs)

    async def close(self) -> None:
        await self.jobs.close()
        await self.sessions.close()
        for pool in self.pools.values():
            await pool.close()
        self.store.close()
