"""Validation of command parameters, shared by the Blender and FreeCAD tables.

Each check raises InvalidParams naming the field and the reason, so a bad
value never reaches bpy or FreeCAD.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import InvalidParams, Unsupported


def number(
    field: str,
    value: Any,
    *,
    minimum: float | None = None,
    exclusive_minimum: float | None = None,
    maximum: float | None = None,
) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidParams.for_field(field, "must be a number")
    result = float(value)
    if not math.isfinite(result):
        raise InvalidParams.for_field(field, "must be finite (not NaN or infinite)")
    if minimum is not None and result < minimum:
        raise InvalidParams.for_field(field, f"must be >= {minimum}")
    if exclusive_minimum is not None and result <= exclusive_minimum:
        raise InvalidParams.for_field(field, f"must be > {exclusive_minimum}")
    if maximum is not None and result > maximum:
        raise InvalidParams.for_field(field, f"must be <= {maximum}")
    return result


def positive(field: str, value: Any, *, maximum: float | None = None) -> float:
    return number(field, value, exclusive_minimum=0.0, maximum=maximum)


def integer(field: str, value: Any, *, minimum: int | None = None, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParams.for_field(field, "must be an integer")
    if minimum is not None and value < minimum:
        raise InvalidParams.for_field(field, f"must be >= {minimum}")
    if maximum is not None and value > maximum:
        raise InvalidParams.for_field(field, f"must be <= {maximum}")
    return value


def vector(field: str, value: Any, size: int = 3) -> tuple[float, ...]:
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != size:
        raise InvalidParams.for_field(field, f"must be a list of {size} numbers")
    return tuple(number(f"{field}[{i}]", v) for i, v in enumerate(value))


def color(field: str, value: Any) -> tuple[float, float, float, float]:
    """RGB or RGBA in 0..1, or '#rrggbb' / '#rrggbbaa'; alpha defaults to 1."""
    if isinstance(value, str):
        text = value.lstrip("#")
        if len(text) not in (6, 8) or not value.startswith("#"):
            raise InvalidParams.for_field(field, "must be '#rrggbb', '#rrggbbaa' or a list of 3-4 numbers in 0..1")
        try:
            channels = [int(text[i : i + 2], 16) / 255.0 for i in range(0, len(text), 2)]
        except ValueError:
            raise InvalidParams.for_field(field, "is not a hex colour") from None
    elif isinstance(value, Sequence) and len(value) in (3, 4):
        channels = [number(f"{field}[{i}]", v, minimum=0.0, maximum=1.0) for i, v in enumerate(value)]
    else:
        raise InvalidParams.for_field(field, "must be '#rrggbb' or a list of 3-4 numbers in 0..1")
    if len(channels) == 3:
        channels.append(1.0)
    return (channels[0], channels[1], channels[2], channels[3])


def name(field: str, value: Any, *, required: bool = False) -> str | None:
    """An object/material name: optional unless ``required``, 1..63 chars, no control chars."""
    if value is None:
        if required:
            raise InvalidParams.for_field(field, "is required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidParams.for_field(field, "must be a non-empty string")
    if len(value) > 63:
        raise InvalidParams.for_field(field, "must be at most 63 characters")
    if any(ord(ch) < 32 for ch in value):
        raise InvalidParams.for_field(field, "must not contain control characters")
    return value


def unsupported(field: str, value: Any, supported: Sequence[str]) -> Unsupported:
    """The error for a well-formed value this application (version) does not offer."""
    return Unsupported(
        f"{field}: {value!r} is not supported (supported: {', '.join(supported)})",
        {"field": field, "value": value, "supported": list(supported)},
    )


def supported_choice(
    field: str, value: Any, options: Sequence[str], *, aliases: Mapping[str, str] | None = None
) -> str:
    """The option ``value`` names, case-insensitively (or through an alias).

    A non-string is InvalidParams; an unknown name is Unsupported, listing the options.
    """
    if not isinstance(value, str):
        raise InvalidParams.for_field(field, f"must be one of {', '.join(options)}")
    key = value.upper()
    key = (aliases or {}).get(key, key).upper()
    for option in options:
        if option.upper() == key:
            return option
    raise unsupported(field, value, options)


def string_list(field: str, value: Any, *, allow_empty: bool = False) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InvalidParams.for_field(field, "must be a list of names")
    if not value and not allow_empty:
        raise InvalidParams.for_field(field, "must not be empty")
    return value
