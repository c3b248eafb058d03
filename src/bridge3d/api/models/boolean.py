from __future__ import annotations

from typing import Literal

from pydantic import Field

from .common import Model, ObjectName


class BooleanParams(Model):
    """object1 ∘ object2. For subtract, object2 is removed from object1."""

    object1: ObjectName
    object2: ObjectName
    operation: Literal["union", "subtract", "intersect"] | None = Field(
        None, description="optional; must match the URL when given"
    )
    name: ObjectName | None = None
    keep_inputs: bool = Field(False, description="keep the input objects visible")
    document: ObjectName | None = None
    model_config = {"json_schema_extra": {"examples": [{"object1": "Box", "object2": "Cylinder", "name": "Drilled"}]}}
