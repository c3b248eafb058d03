"""The response envelope and the shapes routes return inside it."""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


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


class Bounds(BaseModel):
    min: list[float]
    max: list[float]


class ObjectInfo(BaseModel):
    """An object as the application reports it; application-specific extras are kept."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(examples=["Cube"])
    type: str = Field(examples=["MESH"])
    location: list[float] = Field(examples=[[0.0, 0.0, 0.0]])
    rotation: list[float] = Field(description="Euler XYZ in degrees", examples=[[0.0, 0.0, 0.0]])
    scale: list[float] = Field(examples=[[1.0, 1.0, 1.0]])
    dimensions: list[float] = Field(examples=[[2.0, 2.0, 2.0]])
    bounds: Bounds | None = None


class ObjectSummary(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str
    type: str


class ObjectList(BaseModel):
    objects: list[ObjectSummary]
    total: int
    offset: int
    limit: int


class CreatedObject(BaseModel):
    object_id: str = Field(description="the name the application actually gave the object", examples=["Cube.001"])
    message: str = Field(examples=["Created cube"])
    object: ObjectInfo


class Deleted(BaseModel):
    name: str
    deleted: bool = True


class FileInfo(BaseModel):
    """A file in the backend's workspace, downloadable from `url`."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(examples=["render-0001.png"])
    size: int = Field(examples=[48213])
    url: str = Field(examples=["/api/v1/blender/files/render-0001.png"])


class SceneInfo(BaseModel):
    model_config = ConfigDict(extra="allow")

    object_count: int


class HealthStatus(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str
    reachable: bool
    app_version: str | None = None
    busy: bool | None = None
    running: str | None = None
    round_trip_ms: float | None = None
    error: str | None = None


class GatewayHealth(BaseModel):
    status: Literal["ok", "degraded"]
    version: str
    backends: dict[str, HealthStatus]
    websockets: dict[str, int] = Field(default_factory=dict, description="open WebSockets per backend")


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
