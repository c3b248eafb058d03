"""Primitive parameters. Blender sizes are in Blender units, FreeCAD's in millimetres."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from .common import Model, ObjectName, PositiveFloat, Vector3

Segments = Annotated[int, Field(ge=3, le=1024)]
SurfaceSegments = Annotated[int, Field(ge=3, le=512, description="3..512; faces grow with the product")]


class Placed(Model):
    name: ObjectName | None = Field(None, description="requested name; a taken name gets a suffix (see object_id)")
    location: Vector3 = Field(default_factory=lambda: [0.0, 0.0, 0.0])
    rotation: Vector3 = Field(default_factory=lambda: [0.0, 0.0, 0.0], description="Euler XYZ in degrees")


class BlenderPlaced(Placed):
    scale: Vector3 = Field(default_factory=lambda: [1.0, 1.0, 1.0])


class CubeParams(BlenderPlaced):
    size: PositiveFloat = Field(2.0, le=1e6, description="edge length")
    model_config = {"json_schema_extra": {"examples": [{"name": "Cube", "location": [0, 0, 1], "size": 2.0}]}}


class SphereParams(BlenderPlaced):
    radius: PositiveFloat = Field(1.0, le=1e6)
    segments: SurfaceSegments = 32
    rings: SurfaceSegments = 16
    model_config = {"json_schema_extra": {"examples": [{"name": "Ball", "location": [0, 0, 1], "radius": 1.0}]}}


class CylinderParams(BlenderPlaced):
    radius: PositiveFloat = Field(1.0, le=1e6)
    depth: PositiveFloat = Field(2.0, le=1e6, description="height along local Z")
    vertices: Segments = 32
    model_config = {"json_schema_extra": {"examples": [{"name": "Pillar", "radius": 0.5, "depth": 3.0}]}}


class ConeParams(BlenderPlaced):
    radius1: Annotated[float, Field(ge=0, le=1e6, allow_inf_nan=False)] = Field(1.0, description="base radius")
    radius2: Annotated[float, Field(ge=0, le=1e6, allow_inf_nan=False)] = Field(0.0, description="top radius")
    depth: PositiveFloat = Field(2.0, le=1e6)
    vertices: Segments = 32
    model_config = {"json_schema_extra": {"examples": [{"name": "Cone", "radius1": 1.0, "radius2": 0.0, "depth": 2.0}]}}


class TorusParams(BlenderPlaced):
    major_radius: PositiveFloat = Field(1.0, le=1e6)
    minor_radius: PositiveFloat = Field(0.25, le=1e6)
    major_segments: SurfaceSegments = 48
    minor_segments: SurfaceSegments = 12
    model_config = {"json_schema_extra": {"examples": [{"name": "Ring", "major_radius": 1.0, "minor_radius": 0.25}]}}


class PlaneParams(BlenderPlaced):
    size: PositiveFloat = Field(2.0, le=1e6)
    model_config = {"json_schema_extra": {"examples": [{"name": "Floor", "size": 10.0}]}}


class BoxParams(Placed):
    """A FreeCAD Part::Box (mm)."""

    length: PositiveFloat = Field(10.0, le=1e9)
    width: PositiveFloat = Field(10.0, le=1e9)
    height: PositiveFloat = Field(10.0, le=1e9)
    document: ObjectName | None = None
    model_config = {"json_schema_extra": {"examples": [{"name": "Box", "length": 20, "width": 10, "height": 5}]}}


class FreeCADSphereParams(Placed):
    radius: PositiveFloat = Field(5.0, le=1e9)
    document: ObjectName | None = None
    model_config = {"json_schema_extra": {"examples": [{"name": "Sphere", "radius": 5}]}}


class FreeCADCylinderParams(Placed):
    radius: PositiveFloat = Field(2.0, le=1e9)
    height: PositiveFloat = Field(10.0, le=1e9)
    document: ObjectName | None = None
    model_config = {"json_schema_extra": {"examples": [{"name": "Cylinder", "radius": 2, "height": 10}]}}


class FreeCADConeParams(Placed):
    radius1: Annotated[float, Field(ge=0, le=1e9, allow_inf_nan=False)] = 2.0
    radius2: Annotated[float, Field(ge=0, le=1e9, allow_inf_nan=False)] = 0.0
    height: PositiveFloat = Field(10.0, le=1e9)
    document: ObjectName | None = None
    model_config = {"json_schema_extra": {"examples": [{"name": "Cone", "radius1": 2, "radius2": 0, "height": 10}]}}


class FreeCADTorusParams(Placed):
    radius1: PositiveFloat = Field(10.0, le=1e9, description="distance from the centre to the tube's centre")
    radius2: PositiveFloat = Field(2.0, le=1e9, description="tube radius")
    document: ObjectName | None = None
    model_config = {"json_schema_extra": {"examples": [{"name": "Torus", "radius1": 10, "radius2": 2}]}}
