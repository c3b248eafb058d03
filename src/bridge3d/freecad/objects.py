"""``primitive.create`` and ``object.list|get|delete|transform``."""

from __future__ import annotations

from typing import Any

import FreeCAD

from ..rpc.errors import Conflict
from .appdoc import find_document, find_object, recompute, set_visible, transaction
from .info import boolean_inputs, object_info, object_summary, rotation_from_euler
from .spec import PRIMITIVES, type_matches


class ObjectCommands:
    """primitive.create and object.*: the params arrive checked and complete (commands.freecad)."""

    def create_primitive(
        self,
        type: str,  # noqa: A002 - JSON parameter name
        name: str | None,
        position: tuple[float, float, float],
        rotation: tuple[float, float, float],
        document: str | None,
        **sizes: float,
    ) -> dict[str, Any]:
        kind = PRIMITIVES[type]
        doc = find_document(document)
        with transaction(doc, f"Create {type}"):
            obj = doc.addObject(kind.type_id, name or kind.default_name)
            if name and obj.Name != name and not name.isidentifier():
                # FreeCAD turns "my box" into the internal name "my_box"; keep what the user typed as the label.
                obj.Label = name
            for param, value in sizes.items():
                setattr(obj, kind.properties[param], value)
            obj.Placement = FreeCAD.Placement(FreeCAD.Vector(*position), rotation_from_euler(rotation))
            recompute(doc, [obj])
        return object_info(obj)

    def list_objects(self, offset: int, limit: int, type: str | None, document: str | None) -> dict[str, Any]:  # noqa: A002
        doc = find_document(document)
        objects = [obj for obj in doc.Objects if type is None or type_matches(obj.TypeId, type)]
        return {
            "document": doc.Name,
            "objects": [object_summary(obj) for obj in objects[offset : offset + limit]],
            "total": len(objects),
            "offset": offset,
            "limit": limit,
        }

    def get_object(self, name: str, document: str | None) -> dict[str, Any]:
        return object_info(find_object(find_document(document), name))

    def delete_object(self, name: str, document: str | None) -> dict[str, Any]:
        doc = find_document(document)
        obj = find_object(doc, name)
        users = [user.Name for user in obj.InList]
        if users:
            raise Conflict(
                f"name: {obj.Name!r} is used by {', '.join(users)}; delete those first",
                {"field": "name", "reason": "object is in use", "used_by": users},
            )
        real_name = obj.Name
        with transaction(doc, f"Delete {real_name}"):
            inputs = boolean_inputs(obj)
            doc.removeObject(real_name)
            # Like FreeCAD's GUI, deleting a boolean shows its operands again (its Undo hides them once more); an
            # operand another feature still uses stays as it is: that feature stands for it.
            shown = [operand for operand in inputs if not operand.InList]
            for operand in shown:
                set_visible(operand, True)
        return {"name": real_name, "deleted": True, "shown": [operand.Name for operand in shown]}

    def transform_object(
        self,
        name: str,
        position: tuple[float, float, float] | None,
        rotation: tuple[float, float, float] | None,
        relative: bool,
        document: str | None,
    ) -> dict[str, Any]:
        doc = find_document(document)
        obj = find_object(doc, name)
        if not hasattr(obj, "Placement"):
            raise Conflict.for_field("name", f"{obj.Name!r} ({obj.TypeId}) has no placement")
        if position is None and rotation is None:
            return object_info(obj)
        with transaction(doc, f"Transform {obj.Name}"):
            placement = obj.Placement
            new_base = placement.Base
            new_rotation = placement.Rotation
            if position is not None:
                vector = FreeCAD.Vector(*position)
                new_base = new_base + vector if relative else vector
            if rotation is not None:
                delta = rotation_from_euler(rotation)
                # relative: the delta is applied after the current rotation, about world axes.
                new_rotation = delta.multiply(new_rotation) if relative else delta
            obj.Placement = FreeCAD.Placement(new_base, new_rotation)
            recompute(doc, [obj, *obj.InListRecursive])
        return object_info(obj)
