"""Cluster mode: session and job workers as Ray actors (``BRIDGE3D_RAY_ADDRESS``); imported only when that is set.

How a worker is

- **placed**: a named, detached actor (``ray_host.HostActor``) that asks for one unit of the custom resource named
  after its application (``blender`` / ``freecad``: a node offers it when it has the application, as many units as
  workers it can run) and no CPU (the host server is a process of its own), plus GPUs for Blender job workers when
  BRIDGE3D_RAY_BLENDER_JOB_GPUS asks. A session's new worker prefers the node that holds its workspace folder.
- **reached**: the actor starts the host server on its node, bound to the node's cluster address with a fresh token
  (sent in a method call: Ray keeps an actor's creation arguments in its control store), and answers with the
  address and port; the gateway talks JSON-RPC to it with its usual pooled client, as to a local worker.
- **watched**: one pending call per worker (``wait_exit``) returns when the host exits and fails when the actor or
  its node dies (Ray's health checks notice a lost node in about 2 s with the settings ``bridge3d cluster commands``
  prints, about 15 s with Ray's defaults); ``poll`` only looks at that call's future.
- **ended**: terminate / kill signal the host's process group on its node; release lets the actor delete its
  workspace there (kept for a session's next worker) and exit. The host dies with its actor in any case.
- **found again**: the actors are named ``bridge3d-<app>-<id>`` in BRIDGE3D_RAY_NAMESPACE and detached, so they
  outlive the gateway; ``load`` looks the name up and asks the actor whether its host still runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray
from ray.exceptions import AuthenticationError, RayError, RayTaskError
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from bridge3d import __version__
from bridge3d.api.config import Settings

from .local import EXIT_UNKNOWN, LocalProvisioner
from .provisioner import WorkerHandle, WorkerSpec, WorkerStartError
from .ray_cluster import AUTH_HELP, ClusterSetupError, require_token_auth
from .ray_host import HostActor

logger = logging.getLogger(__name__)

ACTOR_PREFIX = "bridge3d-"
# How long a caller whose connection to a worker broke waits for poll() to report the worker's end: longer than Ray
# takes to declare a node dead with its default health checks (about 15 s), so a job on a lost node is retried,
# not failed, also on a cluster started without the faster settings.
EXIT_NOTICE = 20.0
LOAD_TIMEOUT = 10.0  # seconds an actor found again after a gateway restart may take to describe itself
CPU_TIMEOUT = 1.0  # seconds for the CPU time of a worker on another node
PREVIOUS_RELEASE_WAIT = 5.0  # seconds a session's new worker waits for the old one to free its slot on that node
# An actor whose worker ended (its workspace deleted) waits this long, holding its slot, for the gateway's next worker
# of its application: starting that one then skips the start of a Ray worker process (about 0.5 s on a loaded
# 2-core machine, ~0.25 s for the host server itself). It exits by itself afterwards, also if the gateway is gone.
PARK_SECONDS = 30.0
PARK_MARGIN = 2.0  # a parked actor this close to its end is not used: it may exit before the call arrives


def join_cluster(address: str, namespace: str) -> None:
    """Join the cluster at ``address`` as a driver; refuse without token auth (checked again: callers check it before
    Ray is imported, since Ray reads RAY_AUTH_MODE at its import). ClusterSetupError says what is wrong."""
    require_token_auth()
    if ray.is_initialized():
        return
    # ray.init makes SIGTERM exit the process at once; the gateway's own handler (uvicorn's) must stay, so that a
    # stop still ends the workers and keeps the sessions' records.
    sigterm = signal.getsignal(signal.SIGTERM)
    try:
        ray.init(
            address=address,
            namespace=namespace,
            log_to_driver=False,  # the workers' output stays in their logs on their nodes
            logging_level=logging.WARNING,
        )
    except (AuthenticationError, ConnectionError, RuntimeError, ValueError) as exc:
        if refused_token(exc):
            raise ClusterSetupError(
                f"the Ray cluster at BRIDGE3D_RAY_ADDRESS={address} refused this gateway's token (missing or not "
                f"the cluster's); give it {AUTH_HELP}"
            ) from None
        raise ClusterSetupError(
            f"cannot join the Ray cluster at BRIDGE3D_RAY_ADDRESS={address}: {reason(exc)} "
            "(this machine must be a node of the cluster: docs/CLUSTER.md)"
        ) from None
    finally:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, sigterm)


def observed(ref: Any) -> Future[Any]:
    """The future of a Ray call whose outcome may never be asked for (its error is consumed, not logged as lost)."""
    future: Future[Any] = ref.future()
    future.add_done_callback(lambda done: done.exception())
    return future


def reason(exc: BaseException) -> str:
    """What went wrong on the node, without Ray's traceback."""
    cause = exc.cause if isinstance(exc, RayTaskError) and exc.cause is not None else exc
    return str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__


def refused_token(exc: BaseException | None) -> bool:
    """Whether ``exc`` comes from the cluster refusing the token (Ray's connect wraps that error, at times only as
    text: "InvalidAuthToken")."""
    while exc is not None:
        if isinstance(exc, AuthenticationError) or "InvalidAuthToken" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


async def resolved(ref: Any) -> Any:
    return await ref


class RayWorker:
    """A host server run by a Ray actor on some node of the cluster."""

    exit_notice = EXIT_NOTICE

    def __init__(
        self,
        actor: Any,
        namespace: str,
        described: dict[str, Any],
        token: str,
        notice: str | None = None,
        park_seconds: float = 0.0,
    ) -> None:
        self.host: str = described["host"]
        self.port: int = int(described["port"])
        self.token = token
        self.actor_name: str = described["actor"]
        self.node_id: str = described["node_id"]
        self.namespace = namespace
        self.notice = notice
        self.released: Future[Any] | None = None
        self.park_seconds = park_seconds  # released without its workspace, its actor waits this long for the next
        self.on_release: Callable[[RayWorker, bool, Future[Any]], None] | None = None
        self.actor = actor
        self._node_pid: int | None = described.get("pid")
        self._exit = observed(actor.wait_exit.remote())
        self._exit_code: int | None = None

    @property
    def pid(self) -> int | None:
        """The host's pid on its node (not on this machine)."""
        return self._node_pid

    def poll(self) -> int | None:
        if self._exit_code is None and self._exit.done():
            try:
                self._exit_code = int(self._exit.result())
            except RayError as exc:  # the actor died, or its node: the host went with it
                self._exit_code = EXIT_UNKNOWN
                logger.warning("Ray worker %s on %s ended with its actor: %s", self.actor_name, self.host, reason(exc))
        return self._exit_code

    def terminate(self) -> None:
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)

    def _signal(self, signum: int) -> None:
        if self.released is None:
            self.release(False)  # ended without release(): the worker goes entirely, its workspace with it
        if self.poll() is None:
            observed(self.actor.stop.remote(signum))

    def release(self, keep_workspace: bool) -> None:
        if self.released is None:
            park = 0.0 if keep_workspace else self.park_seconds
            self.released = observed(self.actor.release.remote(keep_workspace, park))
            if self.on_release is not None:
                self.on_release(self, keep_workspace, self.released)

    def cpu_seconds(self) -> float | None:
        """A round trip to the node (about a millisecond on a LAN); None when it does not answer in CPU_TIMEOUT."""
        try:
            seconds = ray.get(self.actor.cpu_seconds.remote(), timeout=CPU_TIMEOUT)
        except RayError:
            return None
        return float(seconds) if seconds is not None else None

    def info(self) -> dict[str, Any]:
        return {
            "provisioner": RayProvisioner.name,
            "actor": self.actor_name,
            "namespace": self.namespace,
            "host": self.host,
            "port": self.port,
            "token": self.token,
            "node_id": self.node_id,
            "node_pid": self._node_pid,  # not "pid": `bridge3d stop` signals recorded pids on the gateway's machine
        }

    def placement(self) -> dict[str, Any]:
        placement = {"provisioner": RayProvisioner.name, "node": self.host, "node_id": self.node_id}
        placement["actor"] = self.actor_name
        return placement | ({"notice": self.notice} if self.notice else {})


@dataclass
class Parked:
    """An actor between two host servers: ``parked`` resolves to True once it waits (its release call)."""

    actor: Any
    app: str
    gpus: float
    parked: Future[Any]
    until: float  # time.monotonic() after which it is not used


@dataclass
class WorkspacePlace:
    """Where a workspace folder is: the node of the worker that last had it (to send its next worker there)."""

    node_id: str
    node_ip: str
    worker: RayWorker | None = None
    alive: bool = True  # whether that node was still in the cluster when the next worker was placed


class RayProvisioner:
    name = "ray"

    def __init__(self, settings: Settings) -> None:
        self.address = settings.ray_address
        self.namespace = settings.ray_namespace
        self.blender_job_gpus = settings.ray_blender_job_gpus
        self.local = LocalProvisioner()  # for workers an earlier run started before cluster mode was switched on
        self.places: dict[str, WorkspacePlace] = {}  # by the workspace path the pool names (its identity)
        self.parked: list[Parked] = []
        self._actor_class: Any = ray.remote(HostActor)  # Ray's stubs do not type an actor's methods

    @classmethod
    def connect(cls, settings: Settings) -> RayProvisioner:
        """Join the cluster as a driver (this machine must be one of its nodes)."""
        join_cluster(settings.ray_address or "auto", settings.ray_namespace)
        logger.info(
            "cluster mode: workers are Ray actors of %s (namespace %s)", settings.ray_address, settings.ray_namespace
        )
        return cls(settings)

    # ------------------------------------------------------------------ starting
    async def launch(self, spec: WorkerSpec, timeout: float) -> WorkerHandle:
        gpus = self.blender_job_gpus if spec.app == "blender" and spec.role == "job" else 0.0
        earlier = self.places.get(spec.workspace)  # a session's workspace: its next worker should go there
        workspace = Path(spec.workspace).name
        token = secrets.token_urlsafe(24)
        call = (workspace, token, spec.nice, spec.role, timeout)
        started = await self._unpark(spec.app, gpus, call) if earlier is None else None
        if started is None:
            await asyncio.to_thread(self._check_offered, spec.app, gpus)
            started = await self._new_actor(spec, gpus, earlier, call, timeout)
        actor, described = started
        if described["version"] != __version__:
            ray.kill(actor, no_restart=True)
            raise WorkerStartError(
                f"the node {described['host']} runs bridge3d {described['version']}, this gateway {__version__}: "
                "install the same version on every node"
            )
        notice = None
        if earlier is not None and not described["found_workspace"]:
            notice = lost_workspace(earlier, described["node_id"])
            logger.warning("%s worker for workspace %s: %s", spec.app, workspace, notice)
        worker = RayWorker(actor, self.namespace, described, token, notice, PARK_SECONDS)
        worker.on_release = self._released(spec.workspace, spec.app, gpus)
        self.places[spec.workspace] = WorkspacePlace(worker.node_id, worker.host, worker)
        logger.info(
            "%s worker (workspace %s) runs on Ray node %s (node id %s, actor %s)",
            spec.app,
            workspace,
            worker.host,
            worker.node_id,
            worker.actor_name,
        )
        return worker

    async def _new_actor(
        self, spec: WorkerSpec, gpus: float, earlier: WorkspacePlace | None, call: tuple[Any, ...], timeout: float
    ) -> tuple[Any, dict[str, Any]]:
        actor_name = f"{ACTOR_PREFIX}{spec.app}-{secrets.token_hex(6)}"
        actor = self._actor_class.options(
            name=actor_name,
            namespace=self.namespace,
            lifetime="detached",  # a restarted gateway takes its sessions' workers back
            max_restarts=0,  # a restarted actor would hold no host server: its end must be seen
            num_cpus=0,
            num_gpus=gpus,
            resources={spec.app: 1},
            scheduling_strategy=await self._near(earlier) if earlier is not None else "DEFAULT",
        ).remote(spec.app, actor_name)
        try:
            described = await asyncio.wait_for(resolved(actor.start.remote(*call)), timeout)
        except BaseException as exc:  # not placed or not listening in time, failed, or the gateway stops
            ray.kill(actor, no_restart=True)
            if isinstance(exc, TimeoutError):
                raise WorkerStartError(await asyncio.to_thread(self._not_started, spec.app, gpus, timeout)) from None
            if isinstance(exc, RayError):
                await asyncio.to_thread(self._check_offered, spec.app, gpus)  # its node may have just left
                raise WorkerStartError(f"the {spec.app} worker did not start: {reason(exc)}") from None
            raise
        return actor, described

    async def _unpark(self, app: str, gpus: float, call: tuple[Any, ...]) -> tuple[Any, dict[str, Any]] | None:
        """A parked actor of ``app`` starts the host server, if there is one (None: a new actor is needed)."""
        now = time.monotonic()
        self.parked = [entry for entry in self.parked if entry.until > now]
        for entry in [entry for entry in self.parked if entry.app == app and entry.gpus == gpus]:
            self.parked.remove(entry)
            try:
                if not await asyncio.wait_for(asyncio.wrap_future(entry.parked), PREVIOUS_RELEASE_WAIT):
                    continue
                described = await asyncio.wait_for(resolved(entry.actor.start.remote(*call)), call[-1])
            except (TimeoutError, RayError):  # it expired meanwhile, its node left, or it could not start this one
                ray.kill(entry.actor, no_restart=True)
                continue
            return entry.actor, described
        return None

    def _released(self, workspace: str, app: str, gpus: float) -> Callable[[RayWorker, bool, Future[Any]], None]:
        """What to remember when a worker is released: where its workspace is no longer, and its parked actor (for
        the next worker of the same application)."""

        def released(worker: RayWorker, keep_workspace: bool, outcome: Future[Any]) -> None:
            if keep_workspace:
                return
            place = self.places.get(workspace)
            if place is not None and place.worker is worker:
                del self.places[workspace]
            if worker.park_seconds > 0:
                until = time.monotonic() + worker.park_seconds - PARK_MARGIN
                self.parked.append(Parked(worker.actor, app, gpus, outcome, until))

        return released

    def _check_offered(self, app: str, gpus: float) -> None:
        """Refuse at once, saying why, what no node of the cluster could ever run."""
        offered = ray.cluster_resources()
        if offered.get(app, 0) < 1:
            raise WorkerStartError(
                f"no node of the Ray cluster (BRIDGE3D_RAY_ADDRESS={self.address}) offers the resource {app!r}: "
                f"start one with ray start --resources '{{\"{app}\": 2}}' (bridge3d cluster commands prints it)"
            )
        if gpus and offered.get("GPU", 0) < gpus:
            raise WorkerStartError(
                f"Blender job workers ask for {gpus:g} GPUs (BRIDGE3D_RAY_BLENDER_JOB_GPUS) and the Ray cluster "
                f"has {offered.get('GPU', 0):g}"
            )

    def _not_started(self, app: str, gpus: float, timeout: float) -> str:
        setting = f"BRIDGE3D_{app.upper()}__WORKER_START_TIMEOUT"
        free = ray.available_resources()
        if free.get(app, 0) < 1:
            total = ray.cluster_resources().get(app, 0)
            return (
                f"no {app!r} slot of the Ray cluster came free within {timeout:g} s ({setting}): all {total:g} are "
                f"held by workers; add nodes, or keep <APP>__WORKERS + JOB_WORKERS + WARM_SPARES within them"
            )
        if gpus and free.get("GPU", 0) < gpus:
            return f"no node with {gpus:g} free GPUs and a free {app!r} slot within {timeout:g} s ({setting})"
        return f"the {app} worker did not listen within {timeout:g} s ({setting})"

    async def _near(self, earlier: WorkspacePlace) -> Any:
        """Preferably (soft) the node that holds the workspace, if it is still there; anywhere else."""
        if earlier.worker is not None and earlier.worker.released is not None:
            # The old worker frees its slot on that node as it exits (the call's answer is the actor's end); a slow
            # one is not waited for: the placement is only a wish.
            with contextlib.suppress(TimeoutError, RayError):
                await asyncio.wait_for(asyncio.wrap_future(earlier.worker.released), PREVIOUS_RELEASE_WAIT)
        earlier.alive = await asyncio.to_thread(node_alive, earlier.node_id)
        return NodeAffinitySchedulingStrategy(earlier.node_id, soft=True) if earlier.alive else "DEFAULT"

    # ------------------------------------------------------------------ finding again
    def load(self, info: dict[str, Any]) -> WorkerHandle | None:
        if info.get("provisioner") == LocalProvisioner.name:
            return self.local.load(info)
        try:
            actor_name, token = str(info["actor"]), str(info["token"])
            node_id, node_ip = str(info["node_id"]), str(info["host"])
            namespace = str(info.get("namespace") or self.namespace)
        except (KeyError, TypeError):
            return None
        workspace = info.get("workspace")
        if isinstance(workspace, str):
            self.places[workspace] = WorkspacePlace(node_id, node_ip)
        try:
            actor: Any = ray.get_actor(actor_name, namespace=namespace)
            described: Any = ray.get(actor.describe.remote(), timeout=LOAD_TIMEOUT)
        except (ValueError, RayError):  # no such actor any more (its node died, or it was ended), or no answer
            return None
        if described["exit_code"] is not None:  # the host died while no gateway watched: the actor goes
            observed(actor.release.remote(True))  # the workspace stays for the session's next worker
            return None
        return RayWorker(actor, namespace, described, token)


def lost_workspace(earlier: WorkspacePlace, node_id: str) -> str:
    """Why a session's new worker has an empty workspace, for the session's info."""
    where = f"node {earlier.node_ip} ({earlier.node_id[:12]})"
    if not earlier.alive:
        why = f"its workspace files were on {where}, which left the cluster, and went with it"
    elif node_id == earlier.node_id:
        why = f"its workspace folder on {where} was deleted"
    else:
        why = f"its workspace files are on {where}, which had no free slot, so this worker runs elsewhere"
    return f"{why}; this worker started with an empty workspace"


def node_alive(node_id: str) -> bool:
    return any(node["NodeID"] == node_id and node["Alive"] for node in ray.nodes())
