"""How much mesh a Blender primitive makes, from its parameters alone.

The geometry budget (``BRIDGE3D_MAX_PRIMITIVE_FACES``, ``BRIDGE3D_MAX_BATCH_FACES``) is checked with these counts
before anything reaches Blender: creating and holding a mesh costs time and memory in proportion to its faces.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# The defaults of primitive.create per type (what an omitted parameter means).
SEGMENT_DEFAULTS: dict[str, dict[str, int]] = {
    "sphere": {"segments": 32, "rings": 16},
    "cylinder": {"vertices": 32},
    "cone": {"vertices": 32},
    "torus": {"major_segments": 48, "minor_segments": 12},
}


def primitive_faces(kind: str, params: Mapping[str, Any]) -> int:
    """Faces a primitive of ``kind`` gets (0 for a kind or a value that validation will refuse anyway)."""
    counts = {
        **SEGMENT_DEFAULTS.get(kind, {}),
        **{k: v for k, v in params.items() if k in SEGMENT_DEFAULTS.get(kind, {})},
    }
    if not all(isinstance(value, int) and not isinstance(value, bool) and value > 0 for value in counts.values()):
        return 0
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
