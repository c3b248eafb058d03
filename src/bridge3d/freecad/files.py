"""``file.export`` and ``file.import`` (STEP, IGES, BREP, STL, OBJ) inside the workspace."""

from __future__ import annotations

import contextlib
import math
import os
from pathlib import Path
from typing import Any

from ..commands.freecad import FORMATS, FileFormat
from ..formats import references as file_refs
from ..rpc.errors import Conflict, InternalError, InvalidParams
from ..rpc.workspace import Workspace
from .appdoc import find_document, find_object, is_visible, recompute, transaction
from .spec import import_format, output_file_name

# Tessellation for STL/OBJ: the angular deflection (angular_tolerance, 5 degrees by default) bounds the facet angle,
# so curved faces lose < 0.3 % of their volume at any size; the linear deflection (default: 1/1000 of the
# bounding-box diagonal) bounds the chord height.
RELATIVE_LINEAR_DEFLECTION = 1e-3
# A finer chord height than this share of a shape's size multiplies the triangles (about size / tolerance for a
# curved face) past what FreeCAD tessellates in seconds; such a tolerance is refused for that shape.
FINEST_RELATIVE_DEFLECTION = 1e-4
# Triangles one STL/OBJ export may hold: each shape is tessellated in turn, and an export that passes this stops
# with a CONFLICT instead of holding the host for as long as a document of many curved solids would take.
MAX_EXPORT_TRIANGLES = 1_000_000


def _has_solid(obj: Any) -> bool:
    shape = getattr(obj, "Shape", None)
    return shape is not None and not shape.isNull() and bool(shape.Solids)


def _export_objects(doc: Any, names: list[str] | None, fmt: FileFormat) -> list[Any]:
    if names is None:
        objects = [obj for obj in doc.Objects if is_visible(obj) and _has_solid(obj)]
        if fmt.mesh:
            objects += [
                obj for obj in doc.Objects if obj.TypeId == "Mesh::Feature" and is_visible(obj) and obj.Mesh.CountFacets
            ]
        if not objects:
            raise Conflict.for_field("objects", f"document {doc.Name!r} has no visible solids to export")
        return objects
    objects = []
    for i, name in enumerate(names):
        field = f"objects[{i}]"
        obj = find_object(doc, name, field)
        shape = getattr(obj, "Shape", None)
        is_mesh = fmt.mesh and obj.TypeId == "Mesh::Feature"
        if not is_mesh and (shape is None or shape.isNull()):
            raise Conflict.for_field(field, f"{obj.Name!r} ({obj.TypeId}) has no shape to export as {fmt.name}")
        objects.append(obj)
    return objects


def _mesh_of(objects: list[Any], tolerance: float | None, angular_deg: float) -> Any:
    import Mesh
    import MeshPart

    merged = Mesh.Mesh()
    for obj in objects:
        if obj.TypeId == "Mesh::Feature":
            merged.addMesh(obj.Mesh)
            continue
        shape = obj.Shape
        diagonal = shape.BoundBox.DiagonalLength
        finest = diagonal * FINEST_RELATIVE_DEFLECTION
        if tolerance is not None and tolerance < finest:
            raise Conflict.for_field(
                "tolerance",
                f"{tolerance:g} mm is finer than 1/10,000 of {obj.Name!r} ({diagonal:g} mm across): at least "
                f"{finest:g} mm",
            )
        linear = tolerance if tolerance is not None else max(diagonal * RELATIVE_LINEAR_DEFLECTION, 1e-4)
        merged.addMesh(
            MeshPart.meshFromShape(
                Shape=shape, LinearDeflection=linear, AngularDeflection=math.radians(angular_deg), Relative=False
            )
        )
        if merged.CountFacets > MAX_EXPORT_TRIANGLES:
            raise Conflict(
                f"the export passed {MAX_EXPORT_TRIANGLES:,} triangles at {obj.Name!r}: export fewer objects, or "
                "raise tolerance or angular_tolerance",
                {"reason": "too many triangles", "limit": MAX_EXPORT_TRIANGLES, "object": obj.Name},
            )
    return merged


class FileCommands:
    """file.export and file.import: the params arrive checked and complete (commands.freecad)."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    def export_file(
        self,
        format: str,  # noqa: A002 - JSON parameter name
        objects: list[str] | None,
        output: str | None,
        document: str | None,
        tolerance: float | None,
        angular_tolerance: float,
    ) -> dict[str, Any]:
        fmt = FORMATS[format]
        doc = find_document(document)
        chosen = _export_objects(doc, objects, fmt)
        requested = output_file_name(output, fmt)
        extension = Path(requested).suffix if requested else fmt.extensions[0]
        target = self.workspace.output_path(requested, doc.Name, extension, "output")
        # Write beside the target under a hidden name, then move into place: a failed
        # export never leaves a half-written file under the requested name.
        partial = target.with_name(f".{target.stem}.partial{target.suffix}")
        try:
            _write(fmt, chosen, partial, tolerance, angular_tolerance)
            if not partial.exists() or partial.stat().st_size == 0:
                raise InternalError(f"FreeCAD wrote nothing for {fmt.name}", {"format": fmt.name})
            os.replace(partial, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()
        return {
            **self.workspace.written(target, "output"),
            "format": fmt.name,
            "objects": [obj.Name for obj in chosen],
            "document": doc.Name,
        }

    def import_file(
        self,
        name: str,
        format: str | None,  # noqa: A002 - JSON parameter name
        document: str | None,
    ) -> dict[str, Any]:
        path = self.workspace.existing(name, "name")
        fmt = import_format(format, path.name)
        # FreeCAD's OBJ reader loads any mtllib it is given (for colours; it never reads textures). Its mesh reader goes
        # by the extension, so a file named .obj is checked as OBJ whatever the format says.
        file_refs.check_file(fmt.name, path, self.workspace.root, textures=False)
        doc = find_document(document)
        before = {obj.Name for obj in doc.Objects}
        with transaction(doc, f"Import {path.name}"):
            try:
                _read(fmt, path, doc)
            except Exception as exc:  # noqa: BLE001 - OpenCASCADE/FreeCAD readers raise plain exceptions
                raise InvalidParams.for_field("name", f"could not be read as {fmt.name}: {exc}") from None
            created = [obj for obj in doc.Objects if obj.Name not in before]
            if not created:
                raise InvalidParams.for_field("name", f"contains nothing FreeCAD could import as {fmt.name}")
            recompute(doc, created)
        return {"objects": [obj.Name for obj in created], "format": fmt.name, "document": doc.Name}


def _write(fmt: FileFormat, objects: list[Any], path: Path, tolerance: float | None, angular_deg: float) -> None:
    import Part

    if fmt.mesh:
        _mesh_of(objects, tolerance, angular_deg).write(str(path))
    elif fmt.name in ("STEP", "IGES"):
        # Part.export writes each shape with its placement; Import.export drops it in headless 0.20.
        Part.export(objects, str(path))
    elif fmt.name == "BREP":
        shapes = [obj.Shape for obj in objects]
        shape = shapes[0] if len(shapes) == 1 else Part.makeCompound(shapes)
        shape.exportBrep(str(path))
    else:  # pragma: no cover - spec.FORMATS and this table are kept in step
        raise AssertionError(fmt.name)


def _read(fmt: FileFormat, path: Path, doc: Any) -> None:
    if fmt.mesh:
        import Mesh

        Mesh.insert(str(path), doc.Name)
    elif fmt.name == "STEP":
        import Import

        Import.insert(str(path), doc.Name)
    else:
        import Part

        Part.insert(str(path), doc.Name)
