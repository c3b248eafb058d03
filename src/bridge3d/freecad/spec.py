"""The FreeCAD command tables that do not need FreeCAD: primitives, formats, rotations.

Everything here is plain Python so it can be unit-tested (and type-checked)
without the application; ``commands`` and friends apply it to FreeCAD.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from ..rpc import params as p
from ..rpc.errors import InvalidParams

# Largest length accepted for a primitive dimension, in mm (1 km). OpenCASCADE's
# tolerances are absolute (1e-7 mm), so absurd sizes only produce broken shapes.
MAX_LENGTH_MM = 1.0e6


@dataclass(frozen=True)
class PrimitiveParam:
    name: str  # JSON parameter name
    prop: str  # FreeCAD property name
    default: float
    allow_zero: bool = False


@dataclass(frozen=True)
class PrimitiveSpec:
    kind: str  # JSON type name
    type_id: str  # FreeCAD feature TypeId
    default_name: str
    params: tuple[PrimitiveParam, ...]


PRIMITIVES: dict[str, PrimitiveSpec] = {
    spec.kind: spec
    for spec in (
        PrimitiveSpec(
            "box",
            "Part::Box",
            "Box",
            (
                PrimitiveParam("length", "Length", 10.0),
                PrimitiveParam("width", "Width", 10.0),
                PrimitiveParam("height", "Height", 10.0),
            ),
        ),
        PrimitiveSpec("sphere", "Part::Sphere", "Sphere", (PrimitiveParam("radius", "Radius", 5.0),)),
        PrimitiveSpec(
            "cylinder",
            "Part::Cylinder",
            "Cylinder",
            (PrimitiveParam("radius", "Radius", 2.0), PrimitiveParam("height", "Height", 10.0)),
        ),
        PrimitiveSpec(
            "cone",
            "Part::Cone",
            "Cone",
            (
                PrimitiveParam("radius1", "Radius1", 2.0, allow_zero=True),
                PrimitiveParam("radius2", "Radius2", 0.0, allow_zero=True),
                PrimitiveParam("height", "Height", 10.0),
            ),
        ),
        PrimitiveSpec(
            "torus",
            "Part::Torus",
            "Torus",
            (PrimitiveParam("radius1", "Radius1", 10.0), PrimitiveParam("radius2", "Radius2", 2.0)),
        ),
    )
}

PRIMITIVE_BY_TYPE_ID: dict[str, PrimitiveSpec] = {spec.type_id: spec for spec in PRIMITIVES.values()}


def primitive_spec(kind: Any) -> PrimitiveSpec:
    if not isinstance(kind, str) or kind.lower() not in PRIMITIVES:
        raise InvalidParams(
            f"type: must be one of {', '.join(PRIMITIVES)}",
            {"field": "type", "reason": "unknown primitive type", "supported": list(PRIMITIVES)},
        )
    return PRIMITIVES[kind.lower()]


def primitive_values(spec: PrimitiveSpec, given: Mapping[str, Any]) -> dict[str, float]:
    """Validated FreeCAD property values for a primitive, keyed by FreeCAD property name."""
    known = {param.name for param in spec.params}
    for key in given:
        if key not in known:
            raise InvalidParams(
                f"{key}: is not a parameter of a {spec.kind} (expected {', '.join(sorted(known)) or 'none'})",
                {"field": key, "reason": "unknown parameter", "expected": sorted(known)},
            )
    values: dict[str, float] = {}
    by_name: dict[str, float] = {}
    for param in spec.params:
        raw = given.get(param.name, param.default)
        if param.allow_zero:
            value = p.number(param.name, raw, minimum=0.0, maximum=MAX_LENGTH_MM)
        else:
            value = p.positive(param.name, raw, maximum=MAX_LENGTH_MM)
        values[param.prop] = value
        by_name[param.name] = value
    if spec.kind == "cone" and by_name["radius1"] == by_name["radius2"]:
        raise InvalidParams.for_field("radius2", "must differ from radius1 (equal radii make a cylinder)")
    if spec.kind == "torus" and by_name["radius2"] >= by_name["radius1"]:
        raise InvalidParams.for_field("radius2", "must be smaller than radius1 (the tube would self-intersect)")
    return values


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
@dataclass(frozen=True)
class FileFormat:
    name: str
    extensions: tuple[str, ...]  # first one is used for new files
    export: bool = True
    import_: bool = True
    mesh: bool = False  # tessellated output (STL/OBJ)


FORMATS: dict[str, FileFormat] = {
    fmt.name: fmt
    for fmt in (
        FileFormat("STEP", (".step", ".stp")),
        FileFormat("IGES", (".iges", ".igs")),
        FileFormat("BREP", (".brep", ".brp")),
        FileFormat("STL", (".stl",), mesh=True),
        FileFormat("OBJ", (".obj",), mesh=True),
    )
}
EXPORT_FORMATS = [f.name for f in FORMATS.values() if f.export]
IMPORT_FORMATS = [f.name for f in FORMATS.values() if f.import_]
DOCUMENT_EXTENSION = ".FCStd"


def export_format(value: Any) -> FileFormat:
    if not isinstance(value, str) or value.upper() not in FORMATS or not FORMATS[value.upper()].export:
        raise p.unsupported("format", value, EXPORT_FORMATS)
    return FORMATS[value.upper()]


def import_format(value: Any, file_name: str) -> FileFormat:
    """The format named by ``value``, or guessed from the file's extension."""
    if value is not None:
        if not isinstance(value, str) or value.upper() not in FORMATS or not FORMATS[value.upper()].import_:
            raise p.unsupported("format", value, IMPORT_FORMATS)
        return FORMATS[value.upper()]
    suffix = PurePath(file_name).suffix.lower()
    for fmt in FORMATS.values():
        if fmt.import_ and suffix in fmt.extensions:
            return fmt
    raise p.unsupported("format", suffix or file_name, IMPORT_FORMATS)


def output_file_name(output: Any, default_stem: str, fmt: FileFormat) -> str | None:
    """``output`` with the format's extension added unless it already has one of them (None = fresh name)."""
    if output is None or output == "":
        return None
    if not isinstance(output, str):
        raise InvalidParams.for_field("output", "must be a file name")
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
MAX_LIST_LIMIT = 10_000


def page(offset: Any, limit: Any) -> tuple[int, int]:
    return (
        p.integer("offset", offset, minimum=0),
        p.integer("limit", limit, minimum=1, maximum=MAX_LIST_LIMIT),
    )


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
