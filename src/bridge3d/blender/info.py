"""ObjectInfo dicts and world-space bounds, computed without a depsgraph evaluation.

``Object.matrix_world`` and ``Object.bound_box`` are only refreshed when the
depsgraph is evaluated, which a background Blender does not do between
commands. Evaluating it on every call would make each call cost O(scene), so
the world matrix is composed from location/rotation/scale (and the parent
chain) and the bounds from the mesh's own vertices.
"""

from __future__ import annotations

import math
from array import array
from typing import Any

import bpy
from mathutils import Matrix, Vector

from ..rpc.errors import NotFound


def _round(values: Any) -> list[float]:
    return [round(float(v), 6) for v in values]


def world_matrix(obj: Any, _depth: int = 0) -> Matrix:
    """matrix_world composed from the object's own transform and its parents' (object parenting)."""
    matrix = obj.matrix_basis.copy()
    if obj.parent is not None and _depth < 100:
        matrix = world_matrix(obj.parent, _depth + 1) @ obj.matrix_parent_inverse @ matrix
    return matrix


def local_bounds(obj: Any) -> tuple[Vector, Vector] | None:
    """Axis-aligned bounds in object space: mesh vertices, else the evaluated bound box, else None."""
    data = obj.data
    if obj.type == "MESH" and data is not None and not obj.modifiers:
        count = len(data.vertices)
        if count == 0:
            return None
        coords = array("f", bytes(4 * 3 * count))
        data.vertices.foreach_get("co", coords)
        xs, ys, zs = coords[0::3], coords[1::3], coords[2::3]
        return Vector((min(xs), min(ys), min(zs))), Vector((max(xs), max(ys), max(zs)))
    if obj.type in {
        "MESH",
        "CURVE",
        "SURFACE",
        "FONT",
        "META",
        "VOLUME",
        "POINTCLOUD",
        "CURVES",
        "GPENCIL",
        "GREASEPENCIL",
    }:
        corners = [Vector(c) for c in obj.bound_box]
        if not any(c.length for c in corners):
            return None
        return (
            Vector((min(c.x for c in corners), min(c.y for c in corners), min(c.z for c in corners))),
            Vector((max(c.x for c in corners), max(c.y for c in corners), max(c.z for c in corners))),
        )
    return None


def world_bounds(obj: Any, matrix: Matrix | None = None) -> tuple[Vector, Vector]:
    matrix = world_matrix(obj) if matrix is None else matrix
    return _transformed_bounds(matrix, local_bounds(obj))


def _transformed_bounds(matrix: Matrix, local: tuple[Vector, Vector] | None) -> tuple[Vector, Vector]:
    if local is None:
        point = matrix.translation
        return point.copy(), point.copy()
    lo, hi = local
    corners = [matrix @ Vector((x, y, z)) for x in (lo.x, hi.x) for y in (lo.y, hi.y) for z in (lo.z, hi.z)]
    xs, ys, zs = zip(*corners, strict=True)  # per axis in one pass: bulk creation reports thousands of these
    return Vector((min(xs), min(ys), min(zs))), Vector((max(xs), max(ys), max(zs)))


def object_info(obj: Any, *, visible: bool | None = None) -> dict[str, Any]:
    """The ObjectInfo dict: rotation is Euler XYZ in degrees, bounds are world space."""
    matrix = world_matrix(obj)
    local = local_bounds(obj)
    if local is None:
        dimensions = [0.0, 0.0, 0.0]
    else:
        size = local[1] - local[0]
        dimensions = [abs(size[i] * obj.scale[i]) for i in range(3)]
    lo, hi = _transformed_bounds(matrix, local)
    mesh = obj.data if obj.type == "MESH" else None
    if visible is None:
        try:
            visible = bool(obj.visible_get())
        except RuntimeError:
            visible = not obj.hide_viewport
    return {
        "name": obj.name,
        "type": obj.type,
        "location": _round(obj.location),
        "rotation": _round(math.degrees(a) for a in obj.rotation_euler),
        "rotation_mode": obj.rotation_mode,
        "scale": _round(obj.scale),
        "dimensions": _round(dimensions),
        "bounds": {"min": _round(lo), "max": _round(hi)},
        "vertices": len(mesh.vertices) if mesh is not None else 0,
        "faces": len(mesh.polygons) if mesh is not None else 0,
        "materials": [slot.material.name for slot in obj.material_slots if slot.material is not None],
        "parent": obj.parent.name if obj.parent is not None else None,
        "visible": visible,
        "data": obj.data.name if obj.data is not None else None,
    }


def short_info(obj: Any) -> dict[str, Any]:
    return {
        "name": obj.name,
        "type": obj.type,
        "location": _round(obj.location),
        "visible": not obj.hide_viewport and not obj.hide_render,
    }


def scene() -> Any:
    return bpy.context.scene


def find_object(name: str, field: str = "name") -> Any:
    """The object called ``name`` in the current scene, or NotFound."""
    # One lookup: both are linear in the number of objects, and the scene's answer is the object itself.
    obj = scene().objects.get(name)
    if obj is None:
        raise NotFound(f"No object named {name!r} in the scene", {"field": field, "name": name})
    return obj


def find_material(name: str, field: str = "material") -> Any:
    material = bpy.data.materials.get(name)
    if material is None:
        raise NotFound(f"No material named {name!r}", {"field": field, "name": name})
    return material
