from __future__ import annotations

from typing import Literal

from pydantic import Field

from .common import FileName, Model, ObjectName

BlenderExportFormat = Literal["GLB", "GLTF", "OBJ", "STL", "FBX", "PLY", "USD", "BLEND"]
FreeCADExportFormat = Literal["STEP", "IGES", "STL", "OBJ", "BREP"]


class ExportParams(Model):
    objects: list[ObjectName] | None = Field(
        None, description="object names; all when omitted (at most BRIDGE3D_MAX_OBJECTS_PER_REQUEST)"
    )
    filepath: FileName | None = Field(
        None, description="file name in the workspace (not a path); generated when omitted"
    )
    format: str = Field(examples=["GLB"])


class BlenderExportParams(ExportParams):
    format: BlenderExportFormat = "GLB"
    model_config = {"json_schema_extra": {"examples": [{"objects": ["Cube"], "filepath": "cube.glb", "format": "GLB"}]}}


class FreeCADExportParams(ExportParams):
    format: FreeCADExportFormat = "STEP"
    document: ObjectName | None = None
    model_config = {"json_schema_extra": {"examples": [{"objects": ["Box"], "filepath": "box.step", "format": "STEP"}]}}
