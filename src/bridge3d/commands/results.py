"""The declared shapes of host results: what the gateway's response models and the SDK's result types say, and what
the host servers' answers are checked against."""

from __future__ import annotations

from .schema import Field, Shape


def _common_object_fields() -> tuple[Field, ...]:
    return (
        Field("name", "string", "the name the application gave the object"),
        Field("type", "string"),
        Field("location", "array", "[x, y, z]", items="number"),
        Field("rotation", "array", "Euler XYZ in degrees", items="number"),
        Field("scale", "array", items="number"),
        Field("dimensions", "array", "size of the bounding box along the object's axes", items="number"),
        Field("bounds", "object", "world-space axis-aligned bounds {min, max}"),
        Field("visible", "boolean"),
    )


BLENDER_OBJECT = Shape(
    "BlenderObjectInfo",
    (
        *_common_object_fields(),
        Field("rotation_mode", "string"),
        Field("vertices", "integer"),
        Field("faces", "integer"),
        Field("materials", "array", items="string"),
        Field("parent", "string", nullable=True),
        Field("data", "string", "the object's data block (mesh, camera, light)", nullable=True),
    ),
    "A Blender object: transform, world bounds, mesh counts, materials, parent and visibility.",
    summary=("name",),
)
FREECAD_OBJECT = Shape(
    "FreeCADObjectInfo",
    (
        *_common_object_fields(),
        Field("label", "string"),
        Field("document", "string"),
        Field("volume", "number", "mm³, solids only", required=False),
        Field("area", "number", "mm²", required=False),
        Field("center_of_mass", "array", items="number", required=False, nullable=True),
    ),
    "A FreeCAD object: placement, bounds and, for solids, volume, area and centre of mass (millimetres).",
    summary=("name",),
)
OBJECT_SUMMARY = Shape("ObjectSummary", (Field("name", "string"), Field("type", "string")))
OBJECT_LIST = Shape(
    "ObjectList",
    (
        Field("objects", "array", items="object"),
        Field("total", "integer"),
        Field("offset", "integer"),
        Field("limit", "integer"),
    ),
)
DELETED = Shape("Deleted", (Field("name", "string"), Field("deleted", "boolean")))
OBJECT_DELETED = Shape(
    "ObjectDeleted",
    (
        *DELETED.fields,
        Field("shown", "array", "operands of a deleted boolean shown again (those nothing else uses)", items="string"),
    ),
    "A deleted FreeCAD object.",
)
MATERIAL_DELETED = Shape(
    "MaterialDeleted",
    (*DELETED.fields, Field("objects", "array", "objects whose slots held the material (now empty)", items="string")),
    "A deleted Blender material.",
)
CLEANED_FILES = Shape(
    "CleanedFiles",
    (
        Field("deleted", "array", "names of the deleted files", items="string"),
        Field("count", "integer"),
        Field("freed", "integer", "bytes"),
    ),
)
FILE = Shape(
    "FileInfo",
    (Field("name", "string", "the file's name in the workspace"), Field("size", "integer", "bytes")),
    "A file the command wrote into the workspace.",
)
IMPORTED = Shape(
    "Imported",
    (Field("objects", "array", "names of the objects the import created", items="string"), Field("format", "string")),
)
SCENE = Shape("SceneInfo", (Field("object_count", "integer"), Field("name", "string")))
CLEARED = Shape("Cleared", (Field("objects_removed", "integer"), Field("data_removed", "integer")))
MATERIAL = Shape(
    "MaterialInfo",
    (
        Field("name", "string"),
        Field("color", "array", items="number"),
        Field("metallic", "number"),
        Field("roughness", "number"),
        Field("users", "integer"),
    ),
)
MATERIALS = Shape("Materials", (Field("materials", "array", items="object"),))
DOCUMENT = Shape(
    "DocumentInfo",
    (
        Field("name", "string"),
        Field("label", "string"),
        Field("objects", "integer"),
        Field("active", "boolean"),
        Field("undo", "array", items="string"),
        Field("redo", "array", items="string"),
        Field("file", "string", "its file in the workspace", nullable=True),
    ),
)
DOCUMENTS = Shape("Documents", (Field("documents", "array", items="object"),))
CLOSED = Shape("Closed", (Field("name", "string"), Field("closed", "boolean")))
EXECUTED = Shape(
    "Executed",
    (
        Field("stdout", "string"),
        Field("stderr", "string"),
        Field("result", "any", "the value of the variable `result` (JSON), or its repr", required=False),
    ),
)
SCENE_VIEW = Shape(
    "SceneView",
    (
        Field("glb", "string", "the scene as binary glTF, base64"),
        Field("size", "integer", "bytes of the GLB"),
        Field("objects", "array", "each shown object's name, type and details", items="object"),
        Field("missing", "array", "asked-for names that are not there", items="string"),
        Field("up", "string", "the up axis of the coordinates (Z)"),
        Field("units", "string", "m (Blender) or mm (FreeCAD)"),
    ),
)
