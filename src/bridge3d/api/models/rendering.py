from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from .common import FileName, Model, ObjectName


class RenderParams(Model):
    output: FileName | None = Field(None, description="file name in the workspace; generated when omitted")
    resolution: Annotated[list[Annotated[int, Field(ge=1, le=16384)]], Field(min_length=2, max_length=2)] = Field(
        default_factory=lambda: [640, 480], description="[width, height] in pixels"
    )
    engine: Literal["CYCLES", "EEVEE", "WORKBENCH"] = "WORKBENCH"
    samples: int = Field(16, ge=1, le=4096)
    camera: ObjectName | None = Field(None, description="camera object; the scene camera when omitted")
    format: Literal["PNG", "JPEG"] = "PNG"
    model_config = {
        "json_schema_extra": {
            "examples": [{"output": "preview.png", "resolution": [640, 480], "engine": "EEVEE", "samples": 8}]
        }
    }
