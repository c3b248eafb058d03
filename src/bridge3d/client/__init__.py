"""The bridge3d SDK: Blender and FreeCAD behind the bridge3d gateway, from Python, typed.

    from bridge3d.client import Client

    with Client() as client:  # BRIDGE3D_URL / BRIDGE3D_API_KEY, or Client("http://host:8000", api_key=...)
        cube = client.blender.cube(size=2, location=(0, 0, 1))
        image = client.blender.render(resolution=(640, 480))
        image.download("render.png")

        with client.blender.session(label="mine") as scene:  # a scene of your own, ended with the block
            scene.sphere(radius=1)
            job = client.jobs.render(session=scene.id, engine="CYCLES", samples=64)
            job.wait(timeout=600, on_progress=lambda job: print(f"{job.progress:.0%}"))
            job.outputs[0].download("sphere.png")

``AsyncClient`` is the same with coroutines. Results are pydantic models (``bridge3d.client.models``); failures
raise the exceptions of ``bridge3d.client.errors``. docs/SDK.md has a quick start and the reference.
"""

from __future__ import annotations

from . import models
from ._api import AsyncBlenderSession, AsyncFreeCADSession, BlenderSession, FreeCADSession
from ._base import FileModel, Model
from ._client import NOT_GIVEN, AsyncClient, Client
from ._events import AsyncEventStream, Event, EventStream
from ._jobs import AsyncJob, Job
from ._sessions import AsyncSessionStart
from ._transport import DEFAULT_BASE_URL, DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT, SESSION_HEADER, FileSource
from .errors import (
    AuthenticationError,
    BackendError,
    BackendUnavailableError,
    Bridge3DError,
    ConflictError,
    ExecutionError,
    GatewayUnreachableError,
    InvalidRequestError,
    JobFailedError,
    LimitExceededError,
    NotFoundError,
    PermissionDeniedError,
    RequestTimeoutError,
    WaitTimeoutError,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT",
    "NOT_GIVEN",
    "SESSION_HEADER",
    "AsyncBlenderSession",
    "AsyncClient",
    "AsyncEventStream",
    "AsyncFreeCADSession",
    "AsyncJob",
    "AsyncSessionStart",
    "AuthenticationError",
    "BackendError",
    "BackendUnavailableError",
    "BlenderSession",
    "Bridge3DError",
    "Client",
    "ConflictError",
    "Event",
    "EventStream",
    "ExecutionError",
    "FileModel",
    "FileSource",
    "FreeCADSession",
    "GatewayUnreachableError",
    "InvalidRequestError",
    "Job",
    "JobFailedError",
    "LimitExceededError",
    "Model",
    "NotFoundError",
    "PermissionDeniedError",
    "RequestTimeoutError",
    "WaitTimeoutError",
    "models",
]
