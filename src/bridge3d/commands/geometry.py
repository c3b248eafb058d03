"""How much mesh a Blender primitive makes, from its parameters alone.

The geometry budget (``BRIDGE3D_MAX_PRIMITIVE_FACES``, ``BRIDGE3D_MAX_BATCH_FACES``) is checked with these counts
before anything reaches Blender: creating and holding a mesh costs time and memory in proportion to its faces.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .blender import PRIMITIVE_CREATE
from .schema import Integer


def primitive_faces(kind: str, params: Mapping[str, Any]) -> int:
    """Faces a primitive of ``kind`` gets, its defaults filled in (0 for what validation refuses anyway)."""
    assert PRIMITIVE_CREATE.variant is not None
    case = PRIMITIVE_CREATE.variant.cases.get(kind, ())
    counts: dict[str, int] = {}
    for param in case:
        if isinstance(param.kind, Integer):
            value = params.get(param.name, param.default)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                return 0
            counts[param.name] = value
    if kind == "cube":
        return 6
    if kind == "plane":
        return 1
    if kind == "sphere":
        return counts["segments"] * counts["rings"]
    if kind in ("cylinder", "cone"):
        return counts["vertices"] + 2  # the side quads and two caps
    if kind == "torus":
        return counts["major_segments"] * counts["minor_segments"]
    return 0
