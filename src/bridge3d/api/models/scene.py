from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from .common import Color, FileName, Model, ObjectName, Vector3


class TransformParams(Model):
    location: Vector3 | None = None
    rotation: Vector3 | None = Field(None, description="Euler XYZ in degrees")
    scale: Vector3 | None = None
    relative: bool = Field(False, description="add location/rotation and multiply scale instead of setting them")
    model_config = {"json_schema_extra": {"examples": [{"location": [1, 2, 3], "rotation": [0, 0, 45]}]}}


class FreeCADTransformParams(Model):
    location: Vector3 | None = None
    rotation: Vector3 | None = Field(None, description="Euler XYZ in degrees")
    relative: bool = False
    document: ObjectName | None = None


class CameraParams(Model):
    name: ObjectName | None = None
    location: Vector3 = Field(default_factory=lambda: [7.0, -7.0, 5.0])
    rotation: Vector3 | None = Field(None, description="Euler XYZ in degrees; ignored when look_at is given")
    look_at: Vector3 | None = Field(None, description="point the camera at this location")
    lens: float = Field(50.0, ge=1, le=5000, allow_inf_nan=False, description="focal length in mm")
    make_active: bool = True
    model_config = {"json_schema_extra": {"examples": [{"location": [7, -7, 5], "look_at": [0, 0, 0]}]}}


class LightParams(Model):
    type: Literal["POINT", "SUN", "SPOT", "AREA"] = "POINT"
    name: ObjectName | None = None
    energy: float | None = Field(
        None,
        ge=0,
        le=1e9,
        allow_inf_nan=False,
        description="W (sun: W/m²); Blender's default for the type when omitted",
    )
    color: Color = Field(default_factory=lambda: [1.0, 1.0, 1.0])
    location: Vector3 = Field(default_factory=lambda: [4.0, -4.0, 6.0])
    rotation: Vector3 | None = Field(None, description="Euler XYZ in degrees")
    model_config = {"json_schema_extra": {"examples": [{"type": "SUN", "energy": 3, "rotation": [45, 0, 45]}]}}


class SaveParams(Model):
    filepath: FileName | None = Field(None, description="file name in the workspace; generated when omitted")
    document: ObjectName | None = None


class DocumentCreateParams(Model):
    name: ObjectName | None = None
    model_config = {"json_schema_extra": {"examples": [{"name": "Part1"}]}}


class BatchOperation(Model):
    method: str = Field(min_length=1, max_length=64, examples=["primitive.create"])
    params: dict[str, Any] = Field(default_factory=dict)


class BatchParams(Model):
    steps: list[BatchOperation] = Field(min_length=1, description="at most BRIDGE3D_MAX_BATCH_STEPS")
    model_config = {
        "json_schema_extra": {
            "examples": [{"steps": [{"method": "primitive.create", "params": {"type": "cube", "name": "A"}}]}]
        }
    }


class ExecuteParams(Model):
    code: str = Field(min_length=1, max_length=1_000_000)
    timeout: float | None = Field(
        None,
        gt=0,
        allow_inf_nan=False,
        description="seconds; at most BRIDGE3D_MAX_EXECUTE_TIMEOUT, which is also the cap on the default",
    )
