"""The ``look`` tool: one contact sheet of four views (front, right, top, perspective), framed on the scene bounds.

A Blender scene is drawn by a batch job on a snapshot of the connection's session (cameras are added to the copy,
never to the scene; cancelling the call cancels the job). A FreeCAD document is tessellated by FreeCAD (STL of its
visible solids) and drawn by Blender in the connection's scratch session, so no FreeCAD GUI is needed. Both use
Blender's Workbench engine: fast, no lights needed, material colours shown.

Framing: the views look at the centre of the bounds' sphere from far enough for a 50 mm lens to see all of it.
Blender cameras clip at 0.1 and 1000 units, so a scene too small or too large for that is scaled about the origin
first (in the copy), to a sphere of radius 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import anyio

from bridge3d.client import ConflictError, models
from bridge3d.client.models import BlenderStep
from bridge3d.commands import freecad as freecad_commands
from bridge3d.commands.schema import Command

from .images import contact_sheet
from .schemas import app_property, object_schema, properties
from .tools import UNITS, Args, Call, Reply, Tool, ToolRefusal, app_of, checked, follow, not_none

LENS_MM = 50.0
SENSOR_MM = 36.0
MARGIN = 1.25  # room around the bounding sphere: a perspective view makes the near side larger
CLIP_START, CLIP_END = 0.1, 1000.0
VIEWS: tuple[tuple[str, tuple[float, float, float]], ...] = (
    ("front", (0.0, -1.0, 0.0)),
    ("right", (1.0, 0.0, 0.0)),
    ("top", (0.0, -1e-4, 1.0)),  # a hair off vertical, so the camera's up (+Y) is defined
    ("perspective", (1.0, -1.0, 0.8)),
)
NOT_DRAWN = frozenset({"CAMERA", "LIGHT", "LIGHT_PROBE", "LIGHTPROBE", "SPEAKER", "EMPTY", "ARMATURE"})
BOUNDS_BATCH = 1000  # object.get steps per batch call
LIST_PAGE = 1000
OUTPUT_PREFIX = "mcp-look-"


@dataclass(frozen=True)
class Framing:
    center: tuple[float, float, float]
    radius: float
    scale: float  # applied about the origin before drawing (1: none)

    @property
    def distance(self) -> float:
        half_angle = math.atan(SENSOR_MM / 2.0 / LENS_MM)
        return self.radius * self.scale / math.sin(half_angle) * MARGIN

    def camera_steps(self, cell: int) -> list[BlenderStep]:
        """camera.create + render.image for each view (each camera becomes the scene camera it renders with)."""
        center = tuple(value * self.scale for value in self.center)
        steps: list[BlenderStep] = []
        for label, direction in VIEWS:
            length = math.sqrt(sum(value * value for value in direction))
            location = [c + d / length * self.distance for c, d in zip(center, direction, strict=True)]
            camera = {"name": f"mcp_look_{label}", "location": location, "look_at": list(center), "lens": LENS_MM}
            steps.append(BlenderStep(method="camera.create", params={**camera, "make_active": True}))
            render = {"engine": "WORKBENCH", "resolution": [cell, cell], "output": OUTPUT_PREFIX + label}
            steps.append(BlenderStep(method="render.image", params=render))
        return steps


def framing(boxes: Sequence[tuple[Sequence[float], Sequence[float]]]) -> Framing | None:
    """The sphere around the boxes' union, and the scale that keeps it inside the cameras' clip range."""
    if not boxes:
        return None
    low = [min(box[0][axis] for box in boxes) for axis in range(3)]
    high = [max(box[1][axis] for box in boxes) for axis in range(3)]
    center = (
        (low[0] + high[0]) / 2.0,
        (low[1] + high[1]) / 2.0,
        (low[2] + high[2]) / 2.0,
    )
    radius = max(math.dist(low, high) / 2.0, 1e-9)
    distance_per_radius = MARGIN / math.sin(math.atan(SENSOR_MM / 2.0 / LENS_MM))
    fits = radius * (distance_per_radius - 1.0) > CLIP_START * 2 and radius * (distance_per_radius + 1.0) < CLIP_END
    return Framing(center, radius, 1.0 if fits else 1.0 / radius)


def boxes_of(infos: Sequence[dict[str, Any]]) -> list[tuple[list[float], list[float]]]:
    found = []
    for info in infos:
        bounds = info.get("bounds") or {}
        if info.get("type") in NOT_DRAWN or not info.get("visible", True):
            continue
        if isinstance(bounds.get("min"), list) and isinstance(bounds.get("max"), list):
            found.append((bounds["min"], bounds["max"]))
    return found


def scale_steps(infos: Sequence[dict[str, Any]], scale: float) -> list[BlenderStep]:
    """Scale the whole scene about the origin: each top-level object's location and scale (children follow)."""
    if scale == 1.0:
        return []
    steps: list[BlenderStep] = []
    for info in infos:
        if info.get("parent"):
            continue
        location = [value * scale for value in info.get("location", [0.0, 0.0, 0.0])]
        scaled = [value * scale for value in info.get("scale", [1.0, 1.0, 1.0])]
        params = {"name": info["name"], "location": location, "scale": scaled}
        steps.append(BlenderStep(method="object.transform", params=params))
    return steps


async def object_infos(namespace: Any) -> list[dict[str, Any]]:
    """Every object of the Blender scene with its full information (bounds, parent, transform), in few calls."""
    names: list[str] = []
    offset = 0
    while True:
        page: models.ObjectList = await namespace.objects.list(offset=offset, limit=LIST_PAGE)
        names += [str(item["name"]) for item in page.objects]
        offset += LIST_PAGE
        if offset >= page.total or not page.objects:
            break
    infos: list[dict[str, Any]] = []
    for start in range(0, len(names), BOUNDS_BATCH):
        chunk = names[start : start + BOUNDS_BATCH]
        steps = [BlenderStep(method="object.get", params={"name": name}) for name in chunk]
        outcome: models.BatchResult = await namespace.batch(steps, full=True)
        infos += [dict((step.model_extra or {}).get("result") or {}) for step in outcome.steps]
    return infos


def look_tool() -> Tool:
    props = {"app": app_property(), **properties(LOOK)}
    props["document"]["description"] = f"{props['document'].get('description', '')} (freecad)".strip()
    return Tool(
        "look",
        "See the scene or document: one image of four views (front, right, top, perspective).",
        object_schema(props),
        look,
        read_only=True,
    )


LOOK = Command("look", "four views of a scene", (freecad_commands.DOCUMENT,))


async def look(call: Call, args: Args) -> Reply:
    app = app_of(args)
    params = checked(LOOK, args)
    cell = max(32, call.options.image_max_side // 2)
    if app == "blender":
        if params["document"] is not None:
            raise ToolRefusal("VALIDATION_ERROR", "Invalid request: document: is a FreeCAD parameter")
        return await look_at_blender(call, cell)
    return await look_at_freecad(call, cell, params["document"])


async def look_at_blender(call: Call, cell: int) -> Reply:
    session = await call.scope.session_id("blender")
    namespace = (await call.client("blender")).blender
    await call.report(0.0, 1.0, "measuring the scene")
    infos = await object_infos(namespace)
    frame = framing(boxes_of(infos))
    if frame is None:
        return Reply({"app": "blender", "views": [], "note": "nothing visible to draw: the scene has no geometry"})
    steps = scale_steps(infos, frame.scale) + frame.camera_steps(cell)
    job = await call.scope.gateway.jobs.batch("blender", steps, session=session)
    await follow(call, job)
    drawn = {output.name: output for output in job.outputs}
    views = []
    for label, _ in VIEWS:
        output = drawn.get(f"{OUTPUT_PREFIX}{label}.png")
        if output is None:
            raise ToolRefusal("BACKEND_ERROR", f"the {label} view was not rendered", {"job": job.id})
        views.append((label, await output.aread()))
    return sheet_reply(call, "blender", frame, views, cell)


async def look_at_freecad(call: Call, cell: int, document: str | None) -> Reply:
    cad = (await call.client("freecad")).freecad
    await call.report(0.0, 1.0, "tessellating the document")
    try:
        exported: models.FileInfo = await cad.export(
            **not_none({"format": "STL", "filepath": OUTPUT_PREFIX + "document", "document": document})
        )
    except ConflictError as error:
        return Reply({"app": "freecad", "views": [], "note": f"nothing visible to draw: {error.message}"})
    try:
        mesh = await exported.aread()
    finally:
        await cad.files.delete(exported.name)
    try:
        return await draw_in_scratch(call, cell, mesh)
    except BaseException:
        # Cancelled or failed midway: ending the scratch session stops whatever it still renders.
        with anyio.CancelScope(shield=True):
            await call.scope.drop_scratch()
        raise


async def draw_in_scratch(call: Call, cell: int, mesh: bytes) -> Reply:
    scratch = (await call.scope.scratch()).blender
    await scratch.scene.clear()
    await call.report(0.3, 1.0, "drawing with Blender")
    imported: models.Imported = await scratch.import_file(mesh, filename=f"{OUTPUT_PREFIX}document.stl")
    infos = [(await scratch.objects.get(name)).model_dump(mode="json") for name in imported.objects]
    frame = framing(boxes_of(infos))
    if frame is None:
        return Reply({"app": "freecad", "views": [], "note": "nothing visible to draw"})
    outcome: models.BatchResult = await scratch.batch(scale_steps(infos, frame.scale) + frame.camera_steps(cell))
    if outcome.failed:
        failed = next(step for step in outcome.steps if step.status == "error")
        error = (failed.model_extra or {}).get("error") or {}
        raise ToolRefusal(str(error.get("code", "BACKEND_ERROR")), str(error.get("message", "drawing failed")))
    views = []
    for label, _ in VIEWS:
        name = f"{OUTPUT_PREFIX}{label}.png"
        views.append((label, await scratch.files.read(name)))
        await scratch.files.delete(name)
    await scratch.files.delete(f"{OUTPUT_PREFIX}document.stl")
    return sheet_reply(call, "freecad", frame, views, cell)


def sheet_reply(call: Call, app: str, frame: Framing, views: list[tuple[str, bytes]], cell: int) -> Reply:
    sheet = contact_sheet(views, cell)
    data = {
        "app": app,
        "views": [label for label, _ in views],
        "layout": "2x2: front, right / top, perspective",
        "center": [round(value, 6) for value in frame.center],
        "radius": round(frame.radius, 6),
        "units": UNITS[app],
        "image": {"width": sheet.width, "height": sheet.height, "type": sheet.mime_type},
    }
    return Reply(data, sheet)
