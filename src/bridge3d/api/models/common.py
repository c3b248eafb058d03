"""Shared field types: vectors, colours, names, file names."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from bridge3d.rpc.errors import InvalidParams
from bridge3d.rpc.workspace import check_file_name

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
Vector3 = Annotated[
    list[FiniteFloat],
    Field(min_length=3, max_length=3, description="[x, y, z]", examples=[[0.0, 0.0, 0.0]]),
]
PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
UnitFloat = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]

_HEX_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")


def _check_color(value: list[float] | str) -> list[float] | str:
    if isinstance(value, str) and not _HEX_COLOR.match(value):
        raise ValueError("a colour string must look like '#rrggbb' or '#rrggbbaa'")
    return value


Color = Annotated[
    Annotated[list[UnitFloat], Field(min_length=3, max_length=4)] | str,
    AfterValidator(_check_color),
    Field(
        description="[r, g, b] or [r, g, b, a] with each channel in 0..1, or '#rrggbb'", examples=[[0.8, 0.1, 0.1, 1.0]]
    ),
]

ObjectName = Annotated[
    str,
    Field(min_length=1, max_length=63, pattern=r"^[^\x00-\x1f]+$", description="object name", examples=["Cube"]),
]


def _check_file_name(value: str) -> str:
    """The same rule the host servers apply (one component, no '..', no look-alike slashes)."""
    try:
        return check_file_name(value)
    except InvalidParams as exc:
        raise ValueError(f"not a valid workspace file name: {exc.data['reason']}") from None


FileName = Annotated[
    str,
    AfterValidator(_check_file_name),
    Field(
        min_length=1,
        max_length=200,
        description="a file name in the backend's workspace (no folders, no '..'); the server picks one when omitted",
        examples=["render.png"],
    ),
]


class Model(BaseModel):
    """Request models reject unknown fields so a typo is an error, not a silent default."""

    model_config = ConfigDict(extra="forbid")
