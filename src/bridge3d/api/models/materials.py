from __future__ import annotations

from pydantic import Field

from .common import Color, Model, ObjectName, UnitFloat


class MaterialParams(Model):
    """A Principled BSDF material."""

    name: ObjectName
    color: Color = Field(default_factory=lambda: [0.8, 0.8, 0.8, 1.0])
    metallic: UnitFloat = 0.0
    roughness: UnitFloat = 0.5
    emission_color: Color | None = None
    emission_strength: float = Field(0.0, ge=0, le=1e6, allow_inf_nan=False)
    model_config = {"json_schema_extra": {"examples": [{"name": "Red", "color": [0.8, 0.1, 0.1, 1], "roughness": 0.4}]}}


class MaterialApplyParams(Model):
    object: ObjectName
    material: ObjectName
    model_config = {"json_schema_extra": {"examples": [{"object": "Cube", "material": "Red"}]}}
