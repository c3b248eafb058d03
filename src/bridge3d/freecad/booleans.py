"""``boolean.union|subtract|intersect``: Part::MultiFuse, Part::Cut, Part::MultiCommon features."""

from __future__ import annotations

from typing import Any

from ..rpc.errors import Conflict
from .appdoc import find_document, find_object, recompute, set_visible, transaction
from .info import object_info

# A result whose volume is below this (mm^3) counts as empty: OpenCASCADE
# returns an empty compound, not an error, for e.g. disjoint intersections.
MIN_RESULT_VOLUME = 1e-9


def _solid_operand(doc: Any, name: str, field: str) -> Any:
    obj = find_object(doc, name, field)
    shape = getattr(obj, "Shape", None)
    if shape is None:
        raise Conflict.for_field(field, f"{obj.Name!r} ({obj.TypeId}) has no shape")
    if shape.isNull() or not shape.Solids:
        raise Conflict.for_field(field, f"{obj.Name!r} ({obj.TypeId}) is not a solid")
    return obj


def _operands(doc: Any, names: list[str], field: str = "objects") -> list[Any]:
    operands = [_solid_operand(doc, n, f"{field}[{i}]") for i, n in enumerate(names)]
    seen: set[str] = set()
    for i, obj in enumerate(operands):
        if obj.Name in seen:  # a Name and a Label that point at the same object
            raise Conflict.for_field(f"{field}[{i}]", f"{obj.Name!r} is listed twice")
        seen.add(obj.Name)
    return operands


def _finish(doc: Any, result: Any, operands: list[Any], keep_inputs: bool, what: str) -> dict[str, Any]:
    """Recompute, reject empty/invalid results (the caller's transaction then removes the feature)."""
    recompute(doc, [result])
    shape = result.Shape
    names = [o.Name for o in operands]
    if shape.isNull() or not shape.Solids or shape.Volume <= MIN_RESULT_VOLUME:
        raise Conflict(
            f"boolean result is empty: the {what} of {', '.join(names)} has no volume",
            {"reason": "empty result", "operation": what, "objects": names},
        )
    if not shape.isValid():
        raise Conflict(
            f"boolean result is invalid: OpenCASCADE could not compute the {what} cleanly",
            {"reason": "invalid result", "operation": what, "objects": names},
        )
    if not keep_inputs:
        for operand in operands:
            set_visible(operand, False)
    return object_info(result)


class BooleanCommands:
    """boolean.union|subtract|intersect: the params arrive checked and complete (commands.freecad)."""

    def union(self, objects: list[str], name: str | None, keep_inputs: bool, document: str | None) -> dict[str, Any]:
        return _combine("Part::MultiFuse", "Fusion", "Union", "union", objects, name, keep_inputs, document)

    def subtract(
        self, base: str, tool: str, name: str | None, keep_inputs: bool, document: str | None
    ) -> dict[str, Any]:
        doc = find_document(document)
        base_obj = _solid_operand(doc, base, "base")
        tool_obj = _solid_operand(doc, tool, "tool")
        if base_obj.Name == tool_obj.Name:
            raise Conflict.for_field("tool", "must be a different object from base")
        with transaction(doc, "Subtract"):
            result = doc.addObject("Part::Cut", name or "Cut")
            result.Base = base_obj
            result.Tool = tool_obj
            return _finish(doc, result, [base_obj, tool_obj], keep_inputs, "subtraction")

    def intersect(
        self, objects: list[str], name: str | None, keep_inputs: bool, document: str | None
    ) -> dict[str, Any]:
        return _combine(
            "Part::MultiCommon", "Common", "Intersect", "intersection", objects, name, keep_inputs, document
        )


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
    doc = find_document(document)
    operands = _operands(doc, objects)
    with transaction(doc, transaction_name):
        result = doc.addObject(type_id, name or default_name)
        result.Shapes = operands
        return _finish(doc, result, operands, keep_inputs, operation)
