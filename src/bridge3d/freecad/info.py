"""ObjectInfo: what ``object.get`` and every create command return."""

from __future__ import annotations

import math
from typing import Any

import FreeCAD

from .appdoc import is_visible
from .spec import PRIMITIVE_BY_TYPE_ID, euler_xyz_to_quaternion, finite, quaternion_to_euler_xyz, triple


def rotation_from_euler(angles: tuple[float, ...] | list[float]) -> Any:
    """A FreeCAD.Rotation from XYZ Euler degrees (see spec: R = Rz @ Ry @ Rx)."""
    return FreeCAD.Rotation(*euler_xyz_to_quaternion(angles))


def euler_of(rotation: Any) -> list[float | None]:
    return triple(quaternion_to_euler_xyz(tuple(rotation.Q)))


def placement_info(placement: Any) -> dict[str, Any]:
    rotation = placement.Rotation
    axis = rotation.Axis
    return {
        "position": triple(placement.Base),
        "rotation_axis": triple(axis),
        "rotation_angle": finite(math.degrees(rotation.Angle)),
        "quaternion": triple(rotation.Q),  # x, y, z, w
    }


def _shape(obj: Any) -> Any:
    shape = getattr(obj, "Shape", None)
    if shape is None or shape.isNull():
        return None
    return shape


def _center_of_mass(shape: Any) -> list[float | None] | None:
    solids = list(shape.Solids)
    if not solids:
        return None
    total = sum(s.Volume for s in solids)
    if total <= 0:
        return None
    acc = [0.0, 0.0, 0.0]
    for solid in solids:
        com = solid.CenterOfMass
        for i in range(3):
            acc[i] += com[i] * solid.Volume
    return triple([a / total for a in acc])


def shape_metrics(obj: Any) -> dict[str, Any]:
    """dimensions/bounds for anything with a Shape or Mesh, plus volume etc. for solids."""
    placement = getattr(obj, "Placement", None)
    base = list(placement.Base) if placement is not None else [0.0, 0.0, 0.0]
    shape = _shape(obj)
    mesh = getattr(obj, "Mesh", None) if shape is None else None
    bound_box = None
    if shape is not None:
        bound_box = shape.BoundBox
    elif mesh is not None and mesh.CountFacets:
        bound_box = mesh.BoundBox
    metrics: dict[str, Any] = {}
    if bound_box is None:
        metrics["dimensions"] = [0.0, 0.0, 0.0]
        metrics["bounds"] = {"min": triple(base), "max": triple(base)}
    else:
        metrics["dimensions"] = triple([bound_box.XLength, bound_box.YLength, bound_box.ZLength])
        metrics["bounds"] = {
            "min": triple([bound_box.XMin, bound_box.YMin, bound_box.ZMin]),
            "max": triple([bound_box.XMax, bound_box.YMax, bound_box.ZMax]),
        }
    if shape is not None:
        solids = list(shape.Solids)
        metrics["shape_type"] = shape.ShapeType
        metrics["solids"] = len(solids)
        metrics["valid"] = bool(shape.isValid())
        metrics["area"] = finite(shape.Area)
        if solids:
            metrics["volume"] = finite(shape.Volume)
            metrics["center_of_mass"] = _center_of_mass(shape)
    elif mesh is not None and mesh.CountFacets:
        metrics["facets"] = int(mesh.CountFacets)
        metrics["area"] = finite(mesh.Area)
        metrics["valid"] = not mesh.hasNonManifolds()
        if mesh.isSolid():
            metrics["volume"] = finite(mesh.Volume)
    return metrics


def primitive_parameters(obj: Any) -> dict[str, float | None] | None:
    kind = PRIMITIVE_BY_TYPE_ID.get(obj.TypeId)
    if kind is None:
        return None
    return {param: finite(getattr(obj, prop).Value) for param, prop in kind.properties.items()}


def object_info(obj: Any) -> dict[str, Any]:
    placement = getattr(obj, "Placement", None)
    info: dict[str, Any] = {
        "name": obj.Name,
        "label": obj.Label,
        "type": obj.TypeId,
        "document": obj.Document.Name,
        "location": triple(placement.Base) if placement is not None else [0.0, 0.0, 0.0],
        "rotation": euler_of(placement.Rotation) if placement is not None else [0.0, 0.0, 0.0],
        "scale": [1.0, 1.0, 1.0],
        "visible": is_visible(obj),
    }
    info.update(shape_metrics(obj))
    if placement is not None:
        info["placement"] = placement_info(placement)
    parameters = primitive_parameters(obj)
    if parameters is not None:
        info["parameters"] = parameters
    inputs = boolean_inputs(obj)
    if inputs:
        info["inputs"] = [o.Name for o in inputs]
    return info


def object_summary(obj: Any) -> dict[str, Any]:
    return {"name": obj.Name, "label": obj.Label, "type": obj.TypeId, "visible": is_visible(obj)}


def boolean_inputs(obj: Any) -> list[Any]:
    """The operands of a Part boolean feature (empty for anything else)."""
    if obj.TypeId in ("Part::Cut", "Part::Fuse", "Part::Common"):
        return [o for o in (obj.Base, obj.Tool) if o is not None]
    if obj.TypeId in ("Part::MultiFuse", "Part::MultiCommon"):
        return list(obj.Shapes)
    return []
