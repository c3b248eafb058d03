"""What the FreeCAD commands need that does not need FreeCAD: feature types, file formats, rotations, listings.

Plain Python, unit-tested and type-checked without the application; the parameters themselves are declared in
``commands.freecad``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from ..commands.freecad import FORMATS, FileFormat
from ..rpc.errors import Unsupported


@dataclass(frozen=True)
class PrimitiveKind:
    """How a primitive.create type becomes a FreeCAD feature; its parameters are in commands.freecad."""

    type_id: str  # the feature's TypeId
    default_name: str
    properties: dict[str, str]  # JSON parameter -> FreeCAD property


PRIMITIVES: dict[str, PrimitiveKind] = {
    "box": PrimitiveKind("Part::Box", "Box", {"length": "Length", "width": "Width", "height": "Height"}),
    "sphere": PrimitiveKind("Part::Sphere", "Sphere", {"radius": "Radius"}),
    "cylinder": PrimitiveKind("Part::Cylinder", "Cylinder", {"radius": "Radius", "height": "Height"}),
    "cone": PrimitiveKind("Part::Cone", "Cone", {"radius1": "Radius1", "radius2": "Radius2", "height": "Height"}),
    "torus": PrimitiveKind("Part::Torus", "Torus", {"radius1": "Radius1", "radius2": "Radius2"}),
}
PRIMITIVE_BY_TYPE_ID: dict[str, PrimitiveKind] = {kind.type_id: kind for kind in PRIMITIVES.values()}


def primitive_volume(kind: str, values: Mapping[str, float]) -> float:
    """Closed-form volume of a primitive from its parameters (JSON names)."""
    v = values
    if kind == "box":
        return v["length"] * v["width"] * v["height"]
    if kind == "sphere":
        return 4.0 / 3.0 * math.pi * v["radius"] ** 3
    if kind == "cylinder":
        return math.pi * v["radius"] ** 2 * v["height"]
    if kind == "cone":
        r1, r2 = v["radius1"], v["radius2"]
        return math.pi * v["height"] / 3.0 * (r1 * r1 + r1 * r2 + r2 * r2)
    if kind == "torus":
        return 2.0 * math.pi**2 * v["radius1"] * v["radius2"] ** 2
    raise ValueError(kind)


# ----------------------------------------------------------------------- files
def import_format(value: str | None, file_name: str) -> FileFormat:
    """The format named by ``value`` (already checked), or the one the file's extension says."""
    if value is not None:
        return FORMATS[value]
    suffix = PurePath(file_name).suffix.lower()
    for fmt in FORMATS.values():
        if suffix in fmt.extensions:
            return fmt
    raise Unsupported(
        f"format: {suffix or file_name!r} is not a format FreeCAD imports (supported: {', '.join(FORMATS)})",
        {"field": "format", "value": suffix or file_name, "supported": list(FORMATS)},
    )


def output_file_name(output: str | None, fmt: FileFormat) -> str | None:
    """``output`` with the format's extension added unless it already has one of them (None = fresh name)."""
    if not output:
        return None
    if PurePath(output).suffix.lower() in fmt.extensions:
        return output
    return output + fmt.extensions[0]


# ------------------------------------------------------------------- rotations
# Rotations are Euler angles in degrees, order XYZ like Blender's default: the
# object is rotated about the world X axis first, then world Y, then world Z
# (R = Rz @ Ry @ Rx). In FreeCAD's terms that is Rotation(yaw=z, pitch=y, roll=x).


def euler_xyz_to_quaternion(angles: Sequence[float]) -> tuple[float, float, float, float]:
    """(x, y, z, w) of the rotation Rz(z) @ Ry(y) @ Rx(x), angles in degrees."""
    hx, hy, hz = (math.radians(a) / 2.0 for a in angles)
    cx, sx = math.cos(hx), math.sin(hx)
    cy, sy = math.cos(hy), math.sin(hy)
    cz, sz = math.cos(hz), math.sin(hz)
    return (
        sx * cy * cz - cx * sy * sz,
        cx * sy * cz + sx * cy * sz,
        cx * cy * sz - sx * sy * cz,
        cx * cy * cz + sx * sy * sz,
    )


def quaternion_to_euler_xyz(q: Sequence[float]) -> tuple[float, float, float]:
    """Inverse of :func:`euler_xyz_to_quaternion` (degrees; y in [-90, 90])."""
    x, y, z, w = q
    sin_y = max(-1.0, min(1.0, 2.0 * (w * y - z * x)))
    ex = math.atan2(2.0 * (w * x + y * z), 1.0 - 2.0 * (x * x + y * y))
    ey = math.asin(sin_y)
    ez = math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))
    return (math.degrees(ex), math.degrees(ey), math.degrees(ez))


# ------------------------------------------------------------------ listings
def type_matches(type_id: str, wanted: str) -> bool:
    """``wanted`` is a full TypeId ("Part::Box") or its short name ("box", case-insensitive)."""
    if type_id == wanted:
        return True
    short = type_id.rsplit("::", 1)[-1]
    return short.lower() == wanted.lower() or type_id.lower() == wanted.lower()


def finite(value: Any) -> float | None:
    """A float safe for strict JSON (NaN/inf become None)."""
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if math.isfinite(result) else None


def triple(values: Sequence[Any]) -> list[float | None]:
    return [finite(v) for v in values]
