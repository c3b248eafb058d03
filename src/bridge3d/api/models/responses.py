"""The response envelope and the shapes routes return inside it; host results are derived from the command schema."""

from __future__ import annotations

import functools
from typing import Any, Generic, Literal, TypeVar, cast

from pydantic import BaseModel, ConfigDict, Field, create_model

from bridge3d.commands import results
from bridge3d.commands.schema import Shape

T = TypeVar("T")

_PYTHON_TYPES: dict[str, Any] = {
    "string": str,
    "number": float,
    "integer": int,
    "boolean": bool,
    "object": dict[str, Any],
    "any": Any,
}
_ARRAY_TYPES: dict[str, Any] = {
    "string": list[str],
    "number": list[float],
    "integer": list[int],
    "boolean": list[bool],
    "object": list[dict[str, Any]],
    "any": list[Any],
}


@functools.cache
def result_model(shape: Shape) -> type[BaseModel]:
    """The pydantic model of a declared host result (extra keys kept: an application adds its own details)."""
    fields: dict[str, Any] = {}
    for spec in shape.fields:
        python_type: Any = _ARRAY_TYPES[spec.items or "any"] if spec.type == "array" else _PYTHON_TYPES[spec.type]
        if spec.nullable or not spec.required:
            python_type = python_type | None
        default = ... if spec.required else None
        fields[spec.name] = (python_type, Field(default, description=spec.description or None))
    model: type[BaseModel] = create_model(
        shape.name, __config__=ConfigDict(extra="allow"), __doc__=shape.description or None, **fields
    )
    return model


def responds(shape: Shape) -> Any:
    """``APIResponse[<the shape's model>]``: the response model of a route that answers with a host result."""
    return cast(Any, APIResponse)[result_model(shape)]


class ErrorInfo(BaseModel):
    code: str = Field(examples=["CONNECTION_FAILED"])
    message: str = Field(examples=["Could not connect to blender at 127.0.0.1:9876"])
    details: dict[str, Any] = Field(default_factory=dict)


class APIResponse(BaseModel, Generic[T]):
    """`{"status": "success", "result": ...}`; errors use ErrorResponse."""

    status: Literal["success"] = "success"
    result: T


class ErrorResponse(BaseModel):
    status: Literal["error"] = "error"
    error: ErrorInfo


BlenderObject = result_model(results.BLENDER_OBJECT)
FreeCADObject = result_model(results.FREECAD_OBJECT)


class CreatedBlenderObject(BaseModel):
    object_id: str = Field(description="the name Blender actually gave the object", examples=["Cube.001"])
    message: str = Field(examples=["Created cube Cube.001"])
    object: BlenderObject  # type: ignore[valid-type]


class CreatedFreeCADObject(BaseModel):
    object_id: str = Field(description="the name FreeCAD actually gave the object", examples=["Box001"])
    message: str = Field(examples=["Created box Box001"])
    object: FreeCADObject  # type: ignore[valid-type]


class FileInfo(BaseModel):
    """A file in the backend's workspace, downloadable from `url`."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(examples=["render-0001.png"])
    size: int = Field(examples=[48213])
    url: str = Field(examples=["/api/v1/blender/files/render-0001.png"])


class HealthStatus(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str
    reachable: bool
    app_version: str | None = None
    busy: bool | None = None
    running: str | None = None
    since: float | None = Field(None, description="when the running command started (seconds since the epoch)")
    round_trip_ms: float | None = None
    error: str | None = None


class GatewayHealth(BaseModel):
    status: Literal["ok", "degraded"]
    version: str
    backends: dict[str, HealthStatus] = Field(description="the host servers of the default sessions")
    websockets: dict[str, int] = Field(default_factory=dict, description="open WebSockets per backend")
    pools: dict[str, PoolHealth] = Field(default_factory=dict, description="each application's worker pool")


class VersionInfo(BaseModel):
    name: str = "bridge3d"
    version: str
    api: str = "v1"


class BatchStep(BaseModel):
    model_config = ConfigDict(extra="allow")

    index: int
    method: str
    status: Literal["success", "error", "skipped"]


class BatchResult(BaseModel):
    completed: int
    failed: bool
    steps: list[BatchStep]


class WorkerInfo(BaseModel):
    """One host-server process of a worker pool."""

    id: str = Field(examples=["w3f9a1c2b7e"])
    role: Literal["spare", "session", "job"]
    owner: str | None = Field(None, description="the session's or the job's id")
    pid: int | None = None
    started: float = Field(description="seconds since the epoch")
    placement: dict[str, Any] | None = Field(
        None,
        description="cluster mode only (docs/CLUSTER.md): the Ray node it runs on (node, node_id, actor), and a "
        "notice when a session's workspace files could not follow it to a new node",
    )


class SessionInfo(BaseModel):
    """A session: its own worker (scene or documents, workspace, undo, executions, events)."""

    id: str = Field(examples=["ses_4f1c0a9e2b7d3c51"])
    app: Literal["blender", "freecad"]
    label: str | None = None
    default: bool = Field(description="the default session: the host server the gateway is attached to")
    created: float
    last_used: float
    expires: float | None = Field(None, description="when it ends unless used before (BRIDGE3D_SESSION_IDLE_TIMEOUT)")
    restarts: int = Field(description="times its worker died and was replaced (the workspace files stayed)")
    state: Literal["ready", "starting", "lost"]
    worker: WorkerInfo | None = None
    restored: dict[str, Any] | None = Field(
        None,
        description="what the last restore did after its worker died: replayed (journal entries), skipped (commands "
        "never acknowledged), failed, snapshot (whether one was loaded), seconds",
    )


class SessionList(BaseModel):
    sessions: list[SessionInfo]


class SessionEnded(BaseModel):
    id: str
    ended: bool = True


class WorkerHealth(WorkerInfo):
    reachable: bool
    busy: bool | None = None
    running: str | None = Field(None, description="the command it runs")
    since: float | None = Field(None, description="when that command started (seconds since the epoch)")
    error: str | None = None


class PoolHealth(BaseModel):
    workers: list[WorkerHealth] = Field(description="every worker: spares, sessions' and jobs'")
    sessions: int = Field(description="sessions besides the default one")
    lost: int = Field(description="workers whose process ended by itself (crash, kill) since the gateway started")


GatewayHealth.model_rebuild()


class JobInfo(BaseModel):
    """A job: its state, progress, outcome and the files it made."""

    id: str = Field(examples=["job_4f1c0a9e2b7d3c51"])
    kind: Literal["render", "convert", "batch"]
    app: Literal["blender", "freecad"] = Field(description="the application it starts on")
    state: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    progress: float = Field(ge=0, le=1, description="0 to 1: render samples, batch steps, conversion stages")
    message: str
    created: float
    started: float | None = None
    finished: float | None = None
    attempts: int = Field(description="times it started (a worker that died under it is replaced, and it runs again)")
    error: ErrorInfo | None = None
    result: Any = Field(None, description="render: the file; convert: the file and stages; batch: each step")
    outputs: list[FileInfo] = Field(default_factory=list, description="its files, downloaded from their url")
    request: dict[str, Any] = Field(description="the job as checked")


class JobList(BaseModel):
    jobs: list[JobInfo]
