"""Every Blender host method: parameters with their bounds and defaults, rules, results (Blender units, degrees)."""

from __future__ import annotations

from . import results as r
from .schema import (
    REQUIRED,
    Boolean,
    Color,
    Command,
    FileName,
    Integer,
    Name,
    NameList,
    NotBoth,
    NotBothZero,
    Number,
    Param,
    Text,
    Variant,
    Vector,
)
from .schema import Choice as _Choice

MAX_SIZE = 1.0e6  # metres (Blender units); anything larger is almost surely a client bug
MAX_COORDINATE = 1.0e9
MAX_SEGMENTS = 1024  # around a cylinder or cone: faces grow linearly with it
# Around and along a sphere or torus: faces grow with the product, 512 x 512 = 262,144 faces at most (about 0.8 s
# and 200 MB in Blender 5.0); BRIDGE3D_MAX_PRIMITIVE_FACES defaults to that product.
MAX_SURFACE_SEGMENTS = 512
MAX_RESOLUTION = 16384
MAX_SAMPLES = 4096
MAX_LIST_LIMIT = 10_000
MAX_LIGHT_ENERGY = 1.0e9
MAX_CODE_CHARS = 1_000_000

PRIMITIVE_TYPES = ("cube", "sphere", "cylinder", "cone", "torus", "plane")
LIGHT_TYPES = ("POINT", "SUN", "SPOT", "AREA")
ENGINES = ("EEVEE", "CYCLES", "WORKBENCH")
ENGINE_ALIASES = {"BLENDER_EEVEE": "EEVEE", "BLENDER_EEVEE_NEXT": "EEVEE", "BLENDER_WORKBENCH": "WORKBENCH"}
IMAGE_FORMATS = ("PNG", "JPEG", "OPEN_EXR", "TIFF")
IMAGE_ALIASES = {"JPG": "JPEG", "EXR": "OPEN_EXR", "TIF": "TIFF"}
# Format -> the extensions file.export writes (the first) and file.import recognises.
FORMAT_EXTENSIONS: dict[str, tuple[str, ...]] = {
    "GLB": (".glb",),
    "GLTF": (".gltf",),
    "OBJ": (".obj",),
    "STL": (".stl",),
    "FBX": (".fbx",),
    "PLY": (".ply",),
    "USD": (".usd", ".usdc", ".usda", ".usdz"),
    "BLEND": (".blend",),
}
FILE_FORMATS = tuple(FORMAT_EXTENSIONS)

LOCATION = Vector(Number(minimum=-MAX_COORDINATE, maximum=MAX_COORDINATE))
ROTATION = Vector(Number(minimum=-MAX_COORDINATE, maximum=MAX_COORDINATE))
SCALE = Vector(Number(minimum=-MAX_SIZE, maximum=MAX_SIZE, nonzero=True))
SIZE = Number(exclusive_minimum=0.0, maximum=MAX_SIZE)
SIZE_OR_ZERO = Number(minimum=0.0, maximum=MAX_SIZE)
SEGMENTS = Integer(minimum=3, maximum=MAX_SEGMENTS)
SURFACE_SEGMENTS = Integer(minimum=3, maximum=MAX_SURFACE_SEGMENTS)
UNIT = Number(minimum=0.0, maximum=1.0)
FORMAT = _Choice(FILE_FORMATS)

OBJECT = Param("name", Name(), REQUIRED, "object name")
NEW_NAME = Param("name", Name(), None, "requested name; a taken name gets Blender's .001 suffix (see the result)")


def _choice(options: tuple[str, ...], aliases: dict[str, str] | None = None) -> _Choice:
    return _Choice(options, aliases or {})


PRIMITIVE_CREATE = Command(
    "primitive.create",
    "Add a mesh primitive (cube, sphere, cylinder, cone, torus, plane), built from data, with a UV map.",
    params=(
        Param("type", _choice(PRIMITIVE_TYPES), REQUIRED, "the primitive"),
        NEW_NAME,
        Param("location", LOCATION, (0.0, 0.0, 0.0), "[x, y, z]"),
        Param("rotation", ROTATION, (0.0, 0.0, 0.0), "Euler XYZ in degrees"),
        Param("scale", SCALE, (1.0, 1.0, 1.0), "per axis, not 0 (negative mirrors)"),
    ),
    variant=Variant(
        "type",
        {
            "cube": (Param("size", SIZE, 2.0, "edge length"),),
            "sphere": (
                Param("radius", SIZE, 1.0),
                Param("segments", SURFACE_SEGMENTS, 32, "vertices around"),
                Param("rings", SURFACE_SEGMENTS, 16, "rings from pole to pole"),
            ),
            "cylinder": (
                Param("radius", SIZE, 1.0),
                Param("depth", SIZE, 2.0, "height along local Z"),
                Param("vertices", SEGMENTS, 32, "vertices around"),
            ),
            "cone": (
                Param("radius1", SIZE_OR_ZERO, 1.0, "base radius"),
                Param("radius2", SIZE_OR_ZERO, 0.0, "top radius (> 0: a truncated cone)"),
                Param("depth", SIZE, 2.0, "height along local Z"),
                Param("vertices", SEGMENTS, 32, "vertices around"),
            ),
            "torus": (
                Param("major_radius", SIZE, 1.0, "from the centre to the middle of the tube"),
                Param("minor_radius", SIZE, 0.25, "of the tube"),
                Param("major_segments", SURFACE_SEGMENTS, 48, "around the centre"),
                Param("minor_segments", SURFACE_SEGMENTS, 12, "around the tube"),
            ),
            "plane": (Param("size", SIZE, 2.0, "edge length"),),
        },
        rules={"cone": (NotBothZero("radius1 and radius2 cannot both be 0", "radius1", "radius2"),)},
    ),
    result=r.BLENDER_OBJECT,
    mutating=True,
    names="name",
)
OBJECT_LIST = Command(
    "object.list",
    "Objects of the scene sorted by name, a page at a time, filtered by type and a case-insensitive name part.",
    params=(
        Param("offset", Integer(minimum=0), 0, "objects to skip"),
        Param("limit", Integer(minimum=1, maximum=MAX_LIST_LIMIT), 100, "page size"),
        Param("type", Text(min_length=1, max_length=32), None, "MESH, CAMERA, LIGHT, ... (any case)"),
        Param("name_contains", Text(max_length=63), None, "part of the name, any case"),
    ),
    result=r.OBJECT_LIST,
)
OBJECT_GET = Command("object.get", "One object's full information.", (OBJECT,), r.BLENDER_OBJECT)
OBJECT_DELETE = Command(
    "object.delete",
    "Delete an object and the data only it used (its mesh, curve, camera or light data; materials nothing uses "
    "any more unless a client created them with material.create).",
    (OBJECT,),
    r.DELETED,
    mutating=True,
)
OBJECT_TRANSFORM = Command(
    "object.transform",
    "Set (or with relative, add to) an object's location and rotation and set (multiply) its scale.",
    params=(
        OBJECT,
        Param("location", LOCATION, None, "[x, y, z]"),
        Param("rotation", ROTATION, None, "Euler XYZ in degrees"),
        Param("scale", SCALE, None, "per axis, not 0"),
        Param("relative", Boolean(), False, "add location and rotation, multiply scale"),
    ),
    result=r.BLENDER_OBJECT,
    mutating=True,
)
OBJECT_RENAME = Command(
    "object.rename",
    "Rename an object; a taken name gets Blender's .001 suffix.",
    (OBJECT, Param("new_name", Name(), REQUIRED, "the new name")),
    r.BLENDER_OBJECT,
    mutating=True,
    names="new_name",
)
MATERIAL_CREATE = Command(
    "material.create",
    "Create a Principled BSDF material.",
    params=(
        Param("name", Name(), REQUIRED, "material name"),
        Param("color", Color(), (0.8, 0.8, 0.8, 1.0), "base colour"),
        Param("metallic", UNIT, 0.0),
        Param("roughness", UNIT, 0.5),
        Param("emission_color", Color(), None),
        Param("emission_strength", Number(minimum=0.0, maximum=1.0e6), 0.0),
    ),
    result=r.MATERIAL,
    mutating=True,
    names="name",
)
MATERIAL_APPLY = Command(
    "material.apply",
    "Put a material in a slot of an object (slot 0 by default, added when the object has none).",
    (
        Param("object", Name(), REQUIRED, "object name"),
        Param("material", Name(), REQUIRED, "material name"),
        Param("slot", Integer(minimum=0, maximum=255), None, "material slot"),
    ),
    r.BLENDER_OBJECT,
    mutating=True,
)
MATERIAL_LIST = Command("material.list", "Every material of the file.", result=r.MATERIALS)
MATERIAL_DELETE = Command(
    "material.delete",
    "Delete a material; the slots that held it are left empty (as Blender's Outliner does).",
    (Param("name", Name(), REQUIRED, "material name"),),
    r.MATERIAL_DELETED,
    mutating=True,
)
SCENE_INFO = Command(
    "scene.info", "Object count, render engine, frame range, units, active camera, Blender version.", result=r.SCENE
)
SCENE_CLEAR = Command(
    "scene.clear",
    "Delete every object of the scene (and, by default, the meshes, materials, cameras, lights and curves nothing "
    "uses, materials created with material.create included).",
    (Param("orphans", Boolean(), True, "also remove data no object uses"),),
    r.CLEARED,
    mutating=True,
)
SCENE_SAVE = Command(
    "scene.save",
    "Save the whole file as a .blend in the workspace (a copy: the open file keeps its name).",
    (
        Param("name", FileName(), None, "file name; .blend is added when missing; generated when omitted", "filepath"),
        Param("pack", Boolean(), False, "pack the images the file uses into it, so it opens anywhere"),
    ),
    r.FILE,
)
SCENE_OPEN = Command(
    "scene.open",
    "Open a .blend from the workspace, replacing the current file.",
    (Param("name", FileName((".blend",)), REQUIRED, "a .blend file in the workspace"),),
    r.SCENE,
    mutating=True,
)
CAMERA_CREATE = Command(
    "camera.create",
    "Add a camera aimed by rotation or at look_at (a look_at equal to the location leaves the rotation as given); "
    "it becomes the scene camera by default.",
    params=(
        Param("location", LOCATION, (7.0, -7.0, 5.0), "[x, y, z]"),
        NEW_NAME,
        Param("rotation", ROTATION, None, "Euler XYZ in degrees"),
        Param("look_at", LOCATION, None, "a point to aim at"),
        Param("lens", Number(minimum=1.0, maximum=5000.0), 50.0, "focal length in mm"),
        Param("make_active", Boolean(), True, "make it the scene camera"),
    ),
    rules=(NotBoth("give rotation or look_at, not both", "rotation", "look_at"),),
    result=r.BLENDER_OBJECT,
    mutating=True,
    names="name",
)
LIGHT_CREATE = Command(
    "light.create",
    "Add a point, sun, spot or area light.",
    params=(
        Param("type", _choice(LIGHT_TYPES), "POINT", "the kind of light"),
        NEW_NAME,
        Param(
            "energy",
            Number(minimum=0.0, maximum=MAX_LIGHT_ENERGY),
            None,
            "W (sun: W/m²); Blender's default for the type when omitted",
        ),
        Param("color", Color(), (1.0, 1.0, 1.0)),
        Param("location", LOCATION, (4.0, -4.0, 6.0), "[x, y, z]"),
        Param("rotation", ROTATION, None, "Euler XYZ in degrees"),
    ),
    result=r.BLENDER_OBJECT,
    mutating=True,
    names="name",
)
RENDER_IMAGE = Command(
    "render.image",
    "Render a still into the workspace; with no camera in the scene, one framing every object is added, and for "
    "EEVEE and Cycles a sun light when the scene has no light.",
    params=(
        Param("engine", _choice(ENGINES, ENGINE_ALIASES), "WORKBENCH"),
        Param("resolution", Vector(Integer(minimum=1, maximum=MAX_RESOLUTION), 2), (640, 480), "[width, height]"),
        Param("samples", Integer(minimum=1, maximum=MAX_SAMPLES), 16, "render samples (Cycles, EEVEE)"),
        Param("camera", Name(), None, "camera object; the scene camera when omitted"),
        Param("format", _choice(IMAGE_FORMATS, IMAGE_ALIASES), "PNG"),
        Param("output", FileName(forbid="#"), None, "file name; the extension is added; generated when omitted"),
    ),
    result=r.FILE,
)
FILE_EXPORT = Command(
    "file.export",
    "Export objects (default: all of the scene) into the workspace.",
    params=(
        Param("format", FORMAT, "GLB"),
        Param("objects", NameList(), None, "object names; all when omitted"),
        Param("output", FileName(), None, "file name; the extension is added; generated when omitted", "filepath"),
    ),
    result=r.FILE,
)
FILE_IMPORT = Command(
    "file.import",
    "Import a workspace file into the scene; returns the objects it created.",
    (
        Param("name", FileName(), REQUIRED, "a file in the workspace"),
        Param("format", FORMAT, None, "from the file's extension when omitted"),
    ),
    r.IMPORTED,
    mutating=True,
)
CODE_EXECUTE = Command(
    "code.execute",
    "Run Python with bpy, bmesh, mathutils, C (context) and D (data); the variable `result` is returned.",
    (Param("code", Text(min_length=1, max_length=MAX_CODE_CHARS), REQUIRED, "Python source"),),
    r.EXECUTED,
    mutating=True,
    cancellable=True,
)

VIEW_GLB = Command(
    "view.glb",
    "The scene (or the named objects) as binary glTF, inline, for the viewer; no file is written.",
    (Param("objects", NameList(min_items=0), None, "object names; all when omitted; absent ones are listed"),),
    r.SCENE_VIEW,
    batch=False,
)

COMMANDS: dict[str, Command] = {
    command.name: command
    for command in (
        PRIMITIVE_CREATE,
        OBJECT_LIST,
        OBJECT_GET,
        OBJECT_DELETE,
        OBJECT_TRANSFORM,
        OBJECT_RENAME,
        MATERIAL_CREATE,
        MATERIAL_APPLY,
        MATERIAL_LIST,
        MATERIAL_DELETE,
        SCENE_INFO,
        SCENE_CLEAR,
        SCENE_SAVE,
        SCENE_OPEN,
        CAMERA_CREATE,
        LIGHT_CREATE,
        RENDER_IMAGE,
        FILE_EXPORT,
        FILE_IMPORT,
        CODE_EXECUTE,
        VIEW_GLB,
    )
}
