"""``primitive.create`` and ``object.list|get|delete|transform``."""

from __future__ import annotations

from typing import Any

import FreeCAD

from ..rpc import params as p
from ..rpc.errors import InvalidParams
from .appdoc import find_document, find_object, recompute, set_visible, transaction
from .info import boolean_inputs, object_info, object_summary, rotation_from_euler
from .spec import page, primitive_spec, primitive_values, type_matches


def create_primitive(
    type: str,  # noqa: A002 - JSON parameter name
    name: str | None = None,
    position: list[float] | None = None,
    rotation: list[float] | None = None,
    document: str | None = None,
    **params: Any,
) -> dict[str, Any]:
    """Create a Part primitive feature (box, sphere, cylinder, cone, torus)."""
    spec = primitive_spec(type)
    values = primitive_values(spec, params)
    requested = p.name("name", name)
    base = p.vector("position", [0, 0, 0] if position is None else position)
    angles = p.vector("rotation", [0, 0, 0] if rotation is None else rotation)
    doc = find_document(document)
    with transaction(doc, f"Create {spec.kind}"):
        obj = doc.addObject(spec.type_id, requested or spec.default_name)
        if requested and obj.Name != requested and not requested.isidentifier():
            # FreeCAD turns "my box" into the internal name "my_box"; keep what the user typed as the label.
            obj.Label = requested
        for prop, value in values.items():
            setattr(obj, prop, value)
        obj.Placement = FreeCAD.Placement(FreeCAD.Vector(*base), rotation_from_euler(angles))
        recompute(doc, [obj])
    return object_info(obj)


def list_objects(
    offset: int = 0,
    limit: int = 100,
    type: str | None = None,  # noqa: A002 - JSON parameter name
    document: str | None = None,
) -> dict[str, Any]:
    """Objects of a document in creation order, paged; ``type`` filters by TypeId or its short name."""
    start, count = page(offset, limit)
    if type is not None and (not isinstance(type, str) or not type):
        raise InvalidParams.for_field("type", "must be a type name such as 'Part::Box' or 'box'")
    doc = find_document(document)
    objects = [obj for obj in doc.Objects if type is None or type_matches(obj.TypeId, type)]
    return {
        "document": doc.Name,
        "objects": [object_summary(obj) for obj in objects[start : start + count]],
        "total": len(objects),
        "offset": start,
        "limit": count,
    }


def get_object(name: str, document: str | None = None) -> dict[str, Any]:
    """ObjectInfo of one object (internal Name first, then Label)."""
    return object_info(find_object(find_document(document), name))


def delete_object(name: str, document: str | None = None) -> dict[str, Any]:
    """Remove an object; refused while another object (e.g. a boolean) uses it."""
    doc = find_document(document)
    obj = find_object(doc, name)
    users = [user.Name for user in obj.InList]
    if users:
        raise InvalidParams(
            f"name: {obj.Name!r} is used by {', '.join(users)}; delete those first",
            {"field": "name", "reason": "object is in use", "used_by": users},
        )
    real_name = obj.Name
    with transaction(doc, f"Delete {real_name}"):
        inputs = boolean_inputs(obj)
        doc.removeObject(real_name)
        # Like FreeCAD's GUI: deleting a boolean shows its operands again.
        for operand in inputs:
            set_visible(operand, True)
    return {"name": real_name, "deleted": True}


def transform_object(
    name: str,
    position: list[float] | None = None,
    rotation: list[float] | None = None,
    relative: bool = False,
    document: str | None = None,
) -> dict[str, Any]:
    """Set (or with ``relative`` add to) an object's placement; rotation is XYZ Euler degrees."""
    if position is None and rotation is None:
        raise InvalidParams.for_field("position", "give position and/or rotation")
    if not isinstance(relative, bool):
        raise InvalidParams.for_field("relative", "must be true or false")
    base = p.vector("position", position) if position is not None else None
    angles = p.vector("rotation", rotation) if rotation is not None else None
    doc = find_document(document)
    obj = find_object(doc, name)
    if not hasattr(obj, "Placement"):
        raise InvalidParams.for_field("name", f"{obj.Name!r} ({obj.TypeId}) has no placement")
    with transaction(doc, f"Transform {obj.Name}"):
        placement = obj.Placement
        new_base = placement.Base
        new_rotation = placement.Rotation
        if base is not None:
            vector = FreeCAD.Vector(*base)
            new_base = new_base + vector if relative else vector
        if angles is not None:
            delta = rotation_from_euler(angles)
            # relative: the delta is applied after the current rotation, about world axes.
            new_rotation = delta.multiply(new_rotation) if relative else delta
        obj.Placement = FreeCAD.Placement(new_base, new_rotation)
        recompute(doc, [obj, *obj.InListRecursive])
    return object_info(obj)
