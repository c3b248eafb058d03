"""view.glb: a document's visible shapes tessellated into binary glTF for the live viewer, returned inline.

Each Part shape is tessellated face by face (so edges between faces stay sharp and curved faces smooth) in its
own space: the node carries the shape's placement, so a placement change reported over REST moves the node
without new geometry. Mesh features are sent as they are. Colours: the GUI's ShapeColor and Transparency when
there is a GUI, else a fixed palette picked by object name, so neighbouring shapes are told apart and keep their
colour from one view to the next. Coordinates are FreeCAD's: Z up, millimetres.

Only this module's functions that touch documents import FreeCAD; the palette and deflection rules need nothing.
"""

from __future__ import annotations

import base64
import zlib
from typing import Any

from ..formats.glb import MeshNode, vertex_normals, write_glb

# Distinct, mid-bright colours (Tableau 10), as RGB in 0..1.
PALETTE: tuple[tuple[float, float, float], ...] = tuple(
    (int(code[0:2], 16) / 255, int(code[2:4], 16) / 255, int(code[4:6], 16) / 255)
    for code in ("4e79a7", "f28e2b", "e15759", "76b7b2", "59a14f", "edc948", "b07aa1", "ff9da7", "9c755f", "bab0ac")
)
RELATIVE_DEFLECTION = 0.002  # of the bounding box diagonal: smooth enough to look round, few triangles
MIN_DEFLECTION_MM = 1e-3
MAX_TRIANGLES = 2_000_000  # per view; shapes past it are listed but not drawn


def palette_color(name: str) -> tuple[float, float, float, float]:
    """The colour an object gets without a GUI: stable for its name."""
    red, green, blue = PALETTE[zlib.crc32(name.encode("utf-8")) % len(PALETTE)]
    return (red, green, blue, 1.0)


def deflection(diagonal: float) -> float:
    """The tessellation tolerance for a shape whose bounding box has this diagonal (mm)."""
    return max(diagonal * RELATIVE_DEFLECTION, MIN_DEFLECTION_MM)


def gui_color(obj: Any) -> tuple[float, float, float, float] | None:
    """ShapeColor with Transparency as alpha, when FreeCAD runs with its GUI."""
    from .appdoc import gui_up

    view = getattr(obj, "ViewObject", None) if gui_up() else None
    color = getattr(view, "ShapeColor", None) if view is not None else None
    if color is None:
        return None
    transparency = float(getattr(view, "Transparency", 0) or 0)
    return (float(color[0]), float(color[1]), float(color[2]), max(0.0, min(1.0, 1.0 - transparency / 100.0)))


def _geometry(obj: Any) -> tuple[str, Any] | None:
    """("shape", Part shape) or ("mesh", Mesh) for objects that have geometry, else None."""
    shape = getattr(obj, "Shape", None)
    if shape is not None and hasattr(shape, "isNull") and not shape.isNull():
        return "shape", shape
    mesh = getattr(obj, "Mesh", None)
    if mesh is not None and hasattr(mesh, "Topology"):
        return "mesh", mesh
    return None


def _local(points: Any, to_local: Any) -> list[float]:
    """World points (what FreeCAD's tessellation gives) in the object's own space, flat x, y, z."""
    flat: list[float] = []
    for point in points:
        moved = to_local.multVec(point)
        flat += (moved.x, moved.y, moved.z)
    return flat


def _placed(node: MeshNode, placement: Any) -> MeshNode:
    base, quaternion = placement.Base, placement.Rotation.Q  # Q is x, y, z, w
    node.translation = (base.x, base.y, base.z)
    node.rotation = (quaternion[0], quaternion[1], quaternion[2], quaternion[3])
    return node


def shape_node(name: str, shape: Any, budget: int) -> MeshNode:
    """A node in the shape's own space (its placement on the node), faces tessellated one by one."""
    to_local = shape.Placement.inverse().toMatrix()
    tolerance = deflection(shape.BoundBox.DiagonalLength)
    shape.tessellate(tolerance)  # meshes the whole shape at once (shared edges match); faces reuse it below
    positions: list[float] = []
    normals: list[float] = []
    indices: list[int] = []
    for face in shape.Faces:
        points, triangles = face.tessellate(tolerance)
        if len(indices) // 3 + len(triangles) > budget:
            return MeshNode(name)  # over the view's triangle budget: listed, not drawn
        local = _local(points, to_local)
        face_indices = [index for triangle in triangles for index in triangle]
        first = len(positions) // 3
        positions += local
        normals += vertex_normals(local, face_indices)
        indices += [first + index for index in face_indices]
    return _placed(MeshNode(name, positions, indices, normals), shape.Placement)


def mesh_node(name: str, mesh: Any, budget: int) -> MeshNode:
    """A mesh feature as it is, in its own space (no normals: viewers shade it flat)."""
    points, facets = mesh.Topology
    if len(facets) > budget:
        return MeshNode(name)
    positions = _local(points, mesh.Placement.inverse().toMatrix())
    return _placed(MeshNode(name, positions, [index for facet in facets for index in facet]), mesh.Placement)


def object_info(obj: Any, kind: str | None, geometry: Any) -> dict[str, Any]:
    """What the viewer shows about an object: type, placement, bounds and, for solids, the volume."""
    from .appdoc import is_visible
    from .info import euler_of
    from .spec import triple

    placement = getattr(obj, "Placement", None)
    info: dict[str, Any] = {
        "name": obj.Name,
        "label": obj.Label,
        "type": obj.TypeId,
        "visible": is_visible(obj),
        "location": triple(placement.Base) if placement is not None else [0.0, 0.0, 0.0],
        "rotation": euler_of(placement.Rotation) if placement is not None else [0.0, 0.0, 0.0],
        "quaternion": triple(placement.Rotation.Q) if placement is not None else [0.0, 0.0, 0.0, 1.0],
    }
    if geometry is not None:
        box = geometry.BoundBox
        info["dimensions"] = triple([box.XLength, box.YLength, box.ZLength]) if box.isValid() else [0.0, 0.0, 0.0]
    if kind == "shape" and geometry.Solids:
        info["volume"] = triple([geometry.Volume])[0]
        info["solids"] = len(geometry.Solids)
    elif kind == "mesh" and geometry.CountFacets and geometry.isSolid():
        info["volume"] = triple([geometry.Volume])[0]
    return info


def view_glb(objects: list[str] | None = None, document: str | None = None) -> dict[str, Any]:
    """The document's visible shapes (or the named objects) as GLB bytes in base64, with each object's info.

    Without ``document`` the active document is shown; with no document at all the view is empty (no document
    is created for it). Names not in the document are listed in ``missing``.
    """
    import FreeCAD

    from .appdoc import find_document, is_visible

    names: list[str] | None = objects  # already checked against commands view.glb
    doc = None
    if document is not None or FreeCAD.ActiveDocument is not None or FreeCAD.listDocuments():
        doc = find_document(document)
    missing: list[str] = []
    if doc is None:
        listed: list[Any] = []
        missing = list(names or [])
    elif names is None:
        listed = list(doc.Objects)
    else:
        found = {name: doc.getObject(name) for name in dict.fromkeys(names)}
        listed = [obj for obj in found.values() if obj is not None]
        missing = [name for name, obj in found.items() if obj is None]
    nodes: list[MeshNode] = []
    infos: list[dict[str, Any]] = []
    budget = MAX_TRIANGLES
    for obj in listed:
        geometry = _geometry(obj)
        if geometry is None:
            if names is not None:
                infos.append(object_info(obj, None, None))
            continue
        kind, data = geometry
        infos.append(object_info(obj, kind, data))
        if not is_visible(obj):
            continue
        node = shape_node(obj.Name, data, budget) if kind == "shape" else mesh_node(obj.Name, data, budget)
        node.color = gui_color(obj) or palette_color(obj.Name)
        budget -= len(node.indices) // 3
        nodes.append(node)
    data_bytes = write_glb(nodes, generator="bridge3d (FreeCAD)")
    return {
        "glb": base64.b64encode(data_bytes).decode("ascii"),
        "size": len(data_bytes),
        "document": doc.Name if doc is not None else None,
        "objects": infos,
        "missing": missing,
        "up": "Z",
        "units": "mm",
    }
