"""Pure tables of the FreeCAD host server (no FreeCAD needed)."""

from __future__ import annotations

import math

import pytest

from bridge3d import commands
from bridge3d.commands.signature import clean
from bridge3d.freecad import spec
from bridge3d.rpc.errors import InvalidParams, Unsupported


@pytest.mark.parametrize("angles", [(0, 0, 0), (10, 20, 30), (-45, 80, 170), (90, 0, -90), (33, -12, 5)])
def test_euler_quaternion_round_trip(angles: tuple[float, float, float]) -> None:
    q = spec.euler_xyz_to_quaternion(angles)
    assert math.isclose(sum(c * c for c in q), 1.0, rel_tol=1e-12)
    back = spec.quaternion_to_euler_xyz(q)
    assert back == pytest.approx(angles, abs=1e-9)


def test_euler_is_x_then_y_then_z_about_world_axes() -> None:
    # Rotating x by 90 deg about X leaves X; then 90 about Z turns X into Y.
    x, y, z, w = spec.euler_xyz_to_quaternion((90, 0, 90))
    v = (1.0, 0.0, 0.0)
    # q v q* for unit q
    t = (2 * (y * v[2] - z * v[1]), 2 * (z * v[0] - x * v[2]), 2 * (x * v[1] - y * v[0]))
    rotated = (
        v[0] + w * t[0] + (y * t[2] - z * t[1]),
        v[1] + w * t[1] + (z * t[0] - x * t[2]),
        v[2] + w * t[2] + (x * t[1] - y * t[0]),
    )
    assert rotated == pytest.approx((0.0, 1.0, 0.0), abs=1e-12)


def primitive(params: dict[str, object]) -> dict[str, object]:
    return clean(commands.command("freecad", "primitive.create"), params)


def test_primitive_defaults_and_unknown_params() -> None:
    values = primitive({"type": "Box"})
    assert (values["type"], values["length"], values["width"], values["height"]) == ("box", 10.0, 10.0, 10.0)
    assert spec.PRIMITIVES["box"].properties == {"length": "Length", "width": "Width", "height": "Height"}
    with pytest.raises(InvalidParams) as info:
        primitive({"type": "box", "radius": 2})
    assert info.value.data["field"] == "radius"
    with pytest.raises(InvalidParams) as info:
        primitive({"type": "pyramid"})
    assert info.value.data["field"] == "type"


@pytest.mark.parametrize(
    ("kind", "params", "field"),
    [
        ("box", {"length": 0}, "length"),
        ("box", {"width": -1}, "width"),
        ("box", {"height": float("nan")}, "height"),
        ("sphere", {"radius": float("inf")}, "radius"),
        ("sphere", {"radius": "5"}, "radius"),
        ("cylinder", {"height": True}, "height"),
        ("cone", {"radius1": 3, "radius2": 3}, "radius2"),
        ("cone", {"radius1": -1}, "radius1"),
        ("torus", {"radius1": 2, "radius2": 3}, "radius2"),
        ("box", {"length": 1e9}, "length"),
    ],
)
def test_bad_primitive_values_name_the_field(kind: str, params: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidParams) as info:
        primitive({"type": kind, **params})
    assert info.value.data["field"] == field


def test_cone_may_end_in_a_point_and_a_torus_may_touch_its_centre() -> None:
    assert primitive({"type": "cone", "radius1": 2, "radius2": 0})["radius2"] == 0.0
    assert primitive({"type": "torus", "radius1": 5, "radius2": 5})["radius2"] == 5.0


def test_formats() -> None:
    assert primitive({"type": "box"})["position"] == (0.0, 0.0, 0.0)
    assert clean(commands.command("freecad", "file.export"), {"format": "step"})["format"] == "STEP"
    assert spec.import_format(None, "part.STP").name == "STEP"
    assert spec.import_format(None, "mesh.stl").name == "STL"
    with pytest.raises(InvalidParams) as info:
        clean(commands.command("freecad", "file.export"), {"format": "DXF"})
    assert info.value.data["field"] == "format" and "STEP" in info.value.data["reason"]
    with pytest.raises(Unsupported):
        spec.import_format(None, "notes.txt")
    assert spec.output_file_name("part", spec.FORMATS["STEP"]) == "part.step"
    assert spec.output_file_name("part.stp", spec.FORMATS["STEP"]) == "part.stp"
    assert spec.output_file_name(None, spec.FORMATS["STL"]) is None


def test_type_matches_full_or_short_names() -> None:
    assert spec.type_matches("Part::Box", "Part::Box")
    assert spec.type_matches("Part::Box", "box")
    assert not spec.type_matches("Part::Box", "sphere")


def test_closed_form_volumes() -> None:
    assert spec.primitive_volume("cone", {"radius1": 2, "radius2": 0, "height": 3}) == pytest.approx(4 * math.pi)
    assert spec.primitive_volume("torus", {"radius1": 10, "radius2": 2}) == pytest.approx(2 * math.pi**2 * 40)
