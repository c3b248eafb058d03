"""Every FreeCAD host method: parameters with their bounds and defaults, rules, results (millimetres, degrees)."""

from __future__ import annotations

from dataclasses import dataclass

from . import results as r
from .schema import (
    REQUIRED,
    AtMost,
    AtMostTimes,
    Boolean,
    Choice,
    Command,
    Different,
    FileName,
    Integer,
    Name,
    NameList,
    Number,
    Param,
    Text,
    Variant,
    Vector,
)

# Largest length accepted for a primitive dimension, in mm (1 km). OpenCASCADE's tolerances are absolute
# (1e-7 mm), so absurd sizes only produce broken shapes, and it refuses a dimension below its tolerance.
MAX_LENGTH_MM = 1.0e6
MIN_LENGTH_MM = 1.0e-6
MAX_CONE_SLENDERNESS = 100.0  # a cone's height over its larger radius
MAX_COORDINATE = 1.0e9
MAX_LIST_LIMIT = 10_000
MAX_CODE_CHARS = 1_000_000
DOCUMENT_EXTENSION = ".FCStd"


@dataclass(frozen=True)
class FileFormat:
    name: str
    extensions: tuple[str, ...]  # the first is used for new files
    mesh: bool = False  # tessellated (STL, OBJ)


FORMATS: dict[str, FileFormat] = {
    fmt.name: fmt
    for fmt in (
        FileFormat("STEP", (".step", ".stp")),
        FileFormat("IGES", (".iges", ".igs")),
        FileFormat("BREP", (".brep", ".brp")),
        FileFormat("STL", (".stl",), mesh=True),
        FileFormat("OBJ", (".obj",), mesh=True),
    )
}
PRIMITIVE_TYPES = ("box", "sphere", "cylinder", "cone", "torus")

LOCATION = Vector(Number(minimum=-MAX_COORDINATE, maximum=MAX_COORDINATE))
ROTATION = Vector(Number(minimum=-MAX_COORDINATE, maximum=MAX_COORDINATE))
LENGTH = Number(minimum=MIN_LENGTH_MM, maximum=MAX_LENGTH_MM)
LENGTH_OR_ZERO = Number(minimum=MIN_LENGTH_MM, maximum=MAX_LENGTH_MM, or_zero=True)
FORMAT = Choice(tuple(FORMATS))

DOCUMENT = Param("document", Name(), None, "document name (internal name or label); the active one when omitted")
OBJECT = Param("name", Name(), REQUIRED, "object name (internal Name or Label)")
NEW_NAME = Param("name", Name(), None, "requested name; FreeCAD makes a taken one unique (Box001)")
KEEP_INPUTS = Param("keep_inputs", Boolean(), False, "keep the input objects visible")

PRIMITIVE_CREATE = Command(
    "primitive.create",
    "Create a Part primitive feature (box, sphere, cylinder, cone, torus), sizes in mm.",
    params=(
        Param("type", Choice(PRIMITIVE_TYPES), REQUIRED, "the primitive"),
        NEW_NAME,
        Param("position", LOCATION, (0.0, 0.0, 0.0), "placement base [x, y, z] in mm", "location"),
        Param("rotation", ROTATION, (0.0, 0.0, 0.0), "Euler XYZ in degrees"),
        DOCUMENT,
    ),
    variant=Variant(
        "type",
        {
            "box": (Param("length", LENGTH, 10.0), Param("width", LENGTH, 10.0), Param("height", LENGTH, 10.0)),
            "sphere": (Param("radius", LENGTH, 5.0),),
            "cylinder": (Param("radius", LENGTH, 2.0), Param("height", LENGTH, 10.0)),
            "cone": (
                Param("radius1", LENGTH_OR_ZERO, 2.0, "base radius"),
                Param("radius2", LENGTH_OR_ZERO, 0.0, "top radius"),
                Param("height", LENGTH, 10.0),
            ),
            "torus": (
                Param("radius1", LENGTH, 10.0, "from the centre to the middle of the tube"),
                Param("radius2", LENGTH, 2.0, "of the tube, at most radius1"),
            ),
        },
        rules={
            "cone": (
                Different("radius2 must differ from radius1 (equal radii make a cylinder)", "radius1", "radius2"),
                # FreeCAD's mesher (exports, the viewer, look) makes about 1,700 triangles per unit of this ratio:
                # 3 s at 100, and it does not come back from a cone of 1 mm by 1 km.
                AtMostTimes(
                    f"height must be at most {MAX_CONE_SLENDERNESS:g} times the larger radius (a slenderer cone "
                    "takes FreeCAD minutes to tessellate)",
                    "height",
                    ("radius1", "radius2"),
                    MAX_CONE_SLENDERNESS,
                ),
            ),
            "torus": (
                AtMost("radius2 must be at most radius1 (the tube would pass the centre)", "radius2", "radius1"),
            ),
        },
    ),
    result=r.FREECAD_OBJECT,
    mutating=True,
    names="name",
)
OBJECT_LIST = Command(
    "object.list",
    "Objects of a document in creation order, a page at a time; type filters by TypeId or its short name (box).",
    params=(
        Param("offset", Integer(minimum=0), 0, "objects to skip"),
        Param("limit", Integer(minimum=1, maximum=MAX_LIST_LIMIT), 100, "page size"),
        Param("type", Text(min_length=1, max_length=64), None, "Part::Box or box"),
        DOCUMENT,
    ),
    result=r.OBJECT_LIST,
)
OBJECT_GET = Command("object.get", "One object's full information.", (OBJECT, DOCUMENT), r.FREECAD_OBJECT)
OBJECT_DELETE = Command(
    "object.delete",
    "Remove an object (refused while another object, e.g. a boolean, uses it); deleting a boolean shows again "
    "the inputs no other object uses (as FreeCAD's GUI does).",
    (OBJECT, DOCUMENT),
    r.OBJECT_DELETED,
    mutating=True,
)
OBJECT_TRANSFORM = Command(
    "object.transform",
    "Set (or with relative, add to) an object's placement; rotation in Euler XYZ degrees. Nothing given: unchanged.",
    (
        OBJECT,
        Param("position", LOCATION, None, "placement base [x, y, z] in mm", "location"),
        Param("rotation", ROTATION, None, "Euler XYZ in degrees"),
        Param("relative", Boolean(), False, "add to the current placement (rotation about world axes)"),
        DOCUMENT,
    ),
    r.FREECAD_OBJECT,
    mutating=True,
)
OPERANDS = Param("objects", NameList(min_items=2), REQUIRED, "two or more solids")
BOOLEAN_UNION = Command(
    "boolean.union",
    "Fuse 2+ solids into a Part::MultiFuse feature; the inputs are hidden unless keep_inputs.",
    (OPERANDS, NEW_NAME, KEEP_INPUTS, DOCUMENT),
    r.FREECAD_OBJECT,
    mutating=True,
    names="name",
)
BOOLEAN_INTERSECT = Command(
    "boolean.intersect",
    "The common volume of 2+ solids as a Part::MultiCommon feature; an empty result is refused.",
    (OPERANDS, NEW_NAME, KEEP_INPUTS, DOCUMENT),
    r.FREECAD_OBJECT,
    mutating=True,
    names="name",
)
BOOLEAN_SUBTRACT = Command(
    "boolean.subtract",
    "base minus tool as a Part::Cut feature.",
    (
        Param("base", Name(), REQUIRED, "the solid to cut from"),
        Param("tool", Name(), REQUIRED, "the solid to remove"),
        NEW_NAME,
        KEEP_INPUTS,
        DOCUMENT,
    ),
    r.FREECAD_OBJECT,
    rules=(Different("tool must be a different object from base", "base", "tool"),),
    mutating=True,
    names="name",
)
FILE_EXPORT = Command(
    "file.export",
    "Write objects (default: every visible solid) to a workspace file; STL and OBJ are tessellated.",
    (
        Param("format", FORMAT, "STEP"),
        Param("objects", NameList(), None, "object names; every visible solid when omitted"),
        Param("output", FileName(), None, "file name; the extension is added; generated when omitted", "filepath"),
        DOCUMENT,
        Param(
            "tolerance",
            Number(minimum=1e-3, maximum=MAX_LENGTH_MM),
            None,
            "STL/OBJ chord height in mm (default 1/1000 of each shape's size; at least 1/10,000 of it)",
        ),
        # At least 3 degrees: FreeCAD's mesher slows down much faster than the facets grow (a torus: 3 s at 3, 24 s
        # at 2, minutes at 1 on a 2-core machine), and one export must not hold the host for minutes.
        Param("angular_tolerance", Number(minimum=3.0, maximum=90.0), 5.0, "STL/OBJ facet angle, degrees"),
    ),
    r.FILE,
)
FILE_IMPORT = Command(
    "file.import",
    "Import a STEP, IGES, BREP, STL or OBJ workspace file into a document; returns the objects it created.",
    (
        Param("name", FileName(), REQUIRED, "a file in the workspace"),
        Param("format", FORMAT, None, "from the file's extension when omitted"),
        DOCUMENT,
    ),
    r.IMPORTED,
    mutating=True,
)
DOCUMENT_LIST = Command("document.list", "Every open document (or only the one named).", (DOCUMENT,), r.DOCUMENTS)
DOCUMENT_CREATE = Command(
    "document.create",
    "A new document, made active; FreeCAD makes a taken name unique (Unnamed1).",
    (Param("name", Name(), None, "document name"),),
    r.DOCUMENT,
    mutating=True,
)
NAMED_DOCUMENT = Param("name", Name(), REQUIRED, "document name")
DOCUMENT_CLOSE = Command(
    "document.close", "Close a document without saving.", (NAMED_DOCUMENT,), r.CLOSED, mutating=True
)
DOCUMENT_ACTIVATE = Command(
    "document.activate",
    "Make a document the default for commands given no document.",
    (NAMED_DOCUMENT,),
    r.DOCUMENT,
    mutating=True,
)
DOCUMENT_SAVE = Command(
    "document.save",
    "Save a document as .FCStd in the workspace (default: its file, or <Name>.FCStd).",
    (
        DOCUMENT,
        Param("name", FileName(), None, "file name; .FCStd is added when missing", "filepath"),
        Param("copy", Boolean(), False, "write a copy: the document keeps its own file name and label"),
    ),
    r.FILE,
)
DOCUMENT_OPEN = Command(
    "document.open",
    "Open a .FCStd file from the workspace (an open one is made active).",
    (Param("name", FileName((DOCUMENT_EXTENSION,)), REQUIRED, "a .FCStd file in the workspace"),),
    r.DOCUMENT,
    mutating=True,
)
DOCUMENT_UNDO = Command(
    "document.undo",
    "Undo the last transaction (every mutating command is one).",
    (DOCUMENT,),
    r.DOCUMENT,
    mutating=True,
)
DOCUMENT_REDO = Command("document.redo", "Redo the last undone transaction.", (DOCUMENT,), r.DOCUMENT, mutating=True)
CODE_EXECUTE = Command(
    "code.execute",
    "Run Python with FreeCAD, App, Part, Mesh and doc (the document) in scope; the variable `result` is returned.",
    (Param("code", Text(min_length=1, max_length=MAX_CODE_CHARS), REQUIRED, "Python source"), DOCUMENT),
    r.EXECUTED,
    mutating=True,
    cancellable=True,
)

VIEW_GLB = Command(
    "view.glb",
    "A document's visible shapes (or the named objects) tessellated into binary glTF, inline, for the viewer.",
    (Param("objects", NameList(min_items=0), None, "object names; all when omitted; absent ones are listed"), DOCUMENT),
    r.SCENE_VIEW,
    batch=False,
)

COMMANDS: dict[str, Command] = {
    command.name: command
    for command in (
        DOCUMENT_LIST,
        DOCUMENT_CREATE,
        DOCUMENT_CLOSE,
        DOCUMENT_ACTIVATE,
        DOCUMENT_SAVE,
        DOCUMENT_OPEN,
        DOCUMENT_UNDO,
        DOCUMENT_REDO,
        PRIMITIVE_CREATE,
        OBJECT_LIST,
        OBJECT_GET,
        OBJECT_DELETE,
        OBJECT_TRANSFORM,
        BOOLEAN_UNION,
        BOOLEAN_SUBTRACT,
        BOOLEAN_INTERSECT,
        FILE_EXPORT,
        FILE_IMPORT,
        CODE_EXECUTE,
        VIEW_GLB,
    )
}
