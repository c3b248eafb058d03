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
