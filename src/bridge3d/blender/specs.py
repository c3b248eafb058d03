"""Parameter validation for the Blender commands that needs no ``bpy``.

Every value a client sends is checked here (or with ``rpc.params``) before
the command touches Blender data, so a bad value never reaches bpy.
"""

from __future__ import annotations

import math
from typing import Any

from ..rpc import params as p
from ..rpc.errors import InvalidParams
from . import compat

MAX_SIZE = 1.0e6  # metres (Blender units); anything larger is almost surely a client bug
MAX_SEGMENTS = 1024  # around a cylinder or cone: faces grow linearly with it
# Around and along a sphere or torus: faces grow with the product, 512 x 512 = 262,144 faces at most
# (about 0.8 s and 200 MB in Blender 5.0); BRIDGE3D_MAX_PRIMITIVE_FACES defaults to that product.
MAX_SURFACE_SEGMENTS = 512
MAX_RESOLUTION = 16384
MAX_SAMPLES = 4096
MAX_LIST_LIMIT = 10000
DEFAULT_LIST_LIMIT = 100

PRIMITIVE_TYPES = ("cube", "sphere", "cylinder", "cone", "torus", "plane")

# type -> {param: (default, kind)}; kind "size" = finite > 0, "segments" = int 3..MAX_SEGMENTS,
# "surface" = int 3..MAX_SURFACE_SEGMENTS, "size0" = finite >= 0 (a cone's radius may be 0).
PRIMITIVE_PARAMS: dict[str, dict[str, tuple[float | int, str]]] = {
    "cube": {"size": (2.0, "size")},
    "sphere": {"radius": (1.0, "size"), "segments": (32, "surface"), "rings": (16, "surface")},
    "cylinder": {"radius": (1.0, "size"), "depth": (2.0, "size"), "vertices": (32, "segments")},
    "cone": {
        "radius1": (1.0, "size0"),
        "radius2": (0.0, "size0"),
        "depth": (2.0, "size"),
        "vertices": (32, "segments"),
    },
    "torus": {
        "major_radius": (1.0, "size"),
        "minor_radius": (0.25, "size"),
        "major_segments": (48, "surface"),
        "minor_segments": (12, "surface"),
    },
    "plane": {"size": (2.0, "size")},
}

LIGHT_TYPES = ("POINT", "SUN", "SPOT", "AREA")
# Watts for POINT/SPOT/AREA, W/m^2 (irradiance) for SUN: what Blender's Add > Light menu gives.
DEFAULT_LIGHT_ENERGY = {"POINT": 1000.0, "SUN": 1.0, "SPOT": 1000.0, "AREA": 1000.0}
MAX_LIGHT_ENERGY = 1.0e9


def primitive_type(value: Any) -> str:
    return p.supported_choice("type", value, PRIMITIVE_TYPES)


def primitive_params(kind: str, extra: dict[str, Any]) -> dict[str, float | int]:
    """Validate a primitive's own parameters; unknown keys are InvalidParams."""
    spec = PRIMITIVE_PARAMS[kind]
    unknown = sorted(set(extra) - set(spec))
    if unknown:
        raise InvalidParams.for_field(
            unknown[0], f"is not a parameter of a {kind} (allowed: {', '.join(spec) or 'none'})"
        )
    result: dict[str, float | int] = {}
    for key, (default, check) in spec.items():
        value = extra.get(key, default)
        if check in ("segments", "surface"):
            maximum = MAX_SEGMENTS if check == "segments" else MAX_SURFACE_SEGMENTS
            result[key] = p.integer(key, value, minimum=3, maximum=maximum)
        elif check == "size0":
            result[key] = p.number(key, value, minimum=0.0, maximum=MAX_SIZE)
        else:
            result[key] = p.positive(key, value, maximum=MAX_SIZE)
    if kind == "cone" and result["radius1"] == 0 and result["radius2"] == 0:
        raise InvalidParams.for_field("radius1", "radius1 and radius2 cannot both be 0")
    if kind == "torus" and result["minor_radius"] >= result["major_radius"]:
        raise InvalidParams.for_field("minor_radius", "must be smaller than major_radius")
    return result


def location(value: Any, field: str = "location") -> tuple[float, float, float]:
    x, y, z = p.vector(field, value)
    for i, v in enumerate((x, y, z)):
        if abs(v) > 1.0e9:
            raise InvalidParams.for_field(f"{field}[{i}]", "must be within +-1e9")
    return (x, y, z)


def rotation_degrees(value: Any, field: str = "rotation") -> tuple[float, float, float]:
    """Euler XYZ in degrees -> radians."""
    x, y, z = p.vector(field, value)
    return (math.radians(x), math.radians(y), math.radians(z))


def scale(value: Any, field: str = "scale") -> tuple[float, float, float]:
    """Finite and non-zero per axis (negative mirrors, as in Blender)."""
    x, y, z = p.vector(field, value)
    for i, v in enumerate((x, y, z)):
        if v == 0:
            raise InvalidParams.for_field(f"{field}[{i}]", "must not be 0")
        if abs(v) > MAX_SIZE:
            raise InvalidParams.for_field(f"{field}[{i}]", f"must be within +-{MAX_SIZE:g}")
    return (x, y, z)


def paging(offset: Any, limit: Any) -> tuple[int, int]:
    return (
        p.integer("offset", offset, minimum=0),
        p.integer("limit", limit, minimum=1, maximum=MAX_LIST_LIMIT),
    )


def engine(value: Any) -> str:
    aliases = {"BLENDER_EEVEE": "EEVEE", "BLENDER_EEVEE_NEXT": "EEVEE", "BLENDER_WORKBENCH": "WORKBENCH"}
    return p.supported_choice("engine", value, compat.ENGINES, aliases=aliases)


def image_format(value: Any) -> str:
    aliases = {"JPG": "JPEG", "EXR": "OPEN_EXR", "TIF": "TIFF"}
    return p.supported_choice("format", value, tuple(compat.IMAGE_FORMATS), aliases=aliases)


def resolution(value: Any) -> tuple[int, int]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise InvalidParams.for_field("resolution", "must be [width, height]")
    width = p.integer("resolution[0]", value[0], minimum=1, maximum=MAX_RESOLUTION)
    height = p.integer("resolution[1]", value[1], minimum=1, maximum=MAX_RESOLUTION)
    return (width, height)


def file_format(value: Any, formats: tuple[str, ...], field: str = "format") -> str:
    return p.supported_choice(field, value.lstrip(".") if isinstance(value, str) else value, formats)


def render_output_name(value: Any) -> Any:
    """Blender treats '#' in an output path as a frame-number placeholder: refuse it."""
    if isinstance(value, str) and "#" in value:
        raise InvalidParams.for_field("output", "must not contain '#' (Blender's frame-number placeholder)")
    return value


def light_type(value: Any) -> str:
    return p.supported_choice("type", value, LIGHT_TYPES)
