"""``boolean.union|subtract|intersect``: Part::MultiFuse, Part::Cut, Part::MultiCommon features."""

from __future__ import annotations

from typing import Any

from ..rpc import params as p
from ..rpc.errors import InvalidParams
from .appdoc import find_document, find_object, recompute, set_visible, transaction
from .info import object_info

# A result whose volume is below this (mm^3) counts as empty: OpenCASCADE
# returns an empty compound, not an error, for e.g. disjoint intersections.
MIN_RESULT_VOLUME = 1e-9


def _solid_operand(doc: Any, name: Any, field: str) -> Any:
    obj = find_object(doc, name, field)
    shape = getattr(obj, "Shape", None)
    if shape is None:
        raise InvalidParams.for_field(field, f"{obj.Name!r} ({obj.TypeId}) has no shape")
    if shape.isNull() or not shape.Solids:
        raise InvalidParams.for_field(field, f"{obj.Name!r} ({obj.TypeId}) is not a solid")
    return obj


def _operands(doc: Any, names: Any, field: str = "objects") -> list[Any]:
    names = p.string_list(field, names)
    if len(names) < 2:
        raise InvalidParams.for_field(field, "needs at least 2 objects")
    operands = [_solid_operand(doc, n, f"{field}[{i}]") for i, n in enumerate(names)]
    seen: set[str] = set()
    for i, obj in enumerate(operands):
        if obj.Name in seen:
            raise InvalidParams.for_field(f"{field}[{i}]", f"{obj.Name!r} is listed twice")
        seen.add(obj.Name)
    return operands


def _finish(doc: Any, result: Any, operands: list[Any], keep_inputs: Any, what: str) -> dict[str, Any]:
    """Recompute, reject empty/invalid results (the caller's transaction then removes the feature)."""
    recompute(doc, [result])
    shape = result.Shape
    if shape.isNull() or not shape.Solids or shape.Volume <= MIN_RESULT_VOLUME:
        raise InvalidParams(
            f"boolean result is empty: the {what} of {', '.join(o.Name for o in operands)} has no volume",
            {"reason": "empty result", "operation": what, "objects": [o.Name for o in operands]},
        )
    if not shape.isValid():
        raise InvalidParams(
            f"boolean result is invalid: OpenCASCADE could not compute the {what} cleanly",
            {"reason": "invalid result", "operation": what, "objects": [o.Name for o in operands]},
        )
    if not keep_inputs:
        for operand in operands:
            set_visible(operand, False)
    return object_info(result)


def _keep(keep_inputs: Any) -> bool:
    if not isinstance(keep_inputs, bool):
        raise InvalidParams.for_field("keep_inputs", "must be true or false")
    return keep_inputs


def union(
    objects: list[str], name: str | None = None, keep_inputs: bool = False, document: str | None = None
) -> dict[str, Any]:
    """Fuse 2+ solids into a Part::MultiFuse feature."""
    return _combine("Part::MultiFuse", "Fusion", "Union", "union", objects, name, keep_inputs, document)


def subtract(
    base: str, tool: str, name: str | None = None, keep_inputs: bool = False, document: str | None = None
) -> dict[str, Any]:
    """``base`` minus ``tool`` as a Part::Cut feature."""
    keep = _keep(keep_inputs)
    requested = p.name("name", name)
    doc = find_document(document)
    base_obj = _solid_operand(doc, base, "base")
    tool_obj = _solid_operand(doc, tool, "tool")
    if base_obj.Name == tool_obj.Name:
        raise InvalidParams.for_field("tool", "must be a different object from base")
    with transaction(doc, "Subtract"):
        result = doc.addObject("Part::Cut", requested or "Cut")
        result.Base = base_obj
        result.Tool = tool_obj
        return _finish(doc, result, [base_obj, tool_obj], keep, "subtraction")


def intersect(
    objects: list[str], name: str | None = None, keep_inputs: bool = False, document: str | None = None
) -> dict[str, Any]:
    """The common volume of 2+ solids as a Part::MultiCommon feature."""
    return _combine("Part::MultiCommon", "Common", "Intersect", "intersection", objects, name, keep_inputs, document)


def _combine(
    type_id: str,
    default_name: str,
    transaction_name: str,
    operation: str,
    objects: list[str],
    name: str | None,
    keep_inputs: bool,
    document: str | None,
) -> dict[str, Any]:
    """A multi-operand boolean feature (MultiFuse / MultiCommon) over 2+ solids."""
    keep = _keep(keep_inputs)
    requested = p.name("name", name)
    doc = find_document(document)
    operands = _operands(doc, objects)
    with transaction(doc, transaction_name):
        result = doc.addObject(type_id, requested or default_name)
        result.Shapes = operands
        return _finish(doc, result, operands, keep, operation)
