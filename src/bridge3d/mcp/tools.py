"""The curated tools: what an agent needs to build, inspect and show scenes in Blender and parts in FreeCAD.

Every tool calls the gateway through the SDK (``bridge3d.client.AsyncClient``), so each goes through the gateway's
validation, authentication, sessions and limits like any REST request. Input schemas come from the command schema
(``schemas``); a tool that maps onto one command checks its arguments with that command's own validator
(``signature.clean``) before anything is sent, so a wrong call is answered with the gateway's own words.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import anyio

from bridge3d.client import AsyncClient, AsyncJob, Bridge3DError, ConflictError, models
from bridge3d.commands import blender as blender_commands
from bridge3d.commands import command, results
from bridge3d.commands import freecad as freecad_commands
from bridge3d.commands.schema import REQUIRED, Boolean, Choice, Command, FileName, JsonSchema, NameList, Number, Param
from bridge3d.commands.schema import Text as TextKind
from bridge3d.commands.signature import clean
from bridge3d.rpc.errors import InvalidParams

from . import schemas
from .images import InlineImage, inline_image
from .options import McpOptions
from .schemas import app_property, either_app_schema, merge, object_schema, properties, property_schema
from .sessions import SessionScope

logger = logging.getLogger("bridge3d.mcp")

Args = dict[str, Any]
Report = Callable[[float, float | None, str | None], Awaitable[None]]
JOB_POLL_SECONDS = 0.5
CANCEL_SECONDS = 15.0  # a cancelled call still tells the gateway to stop the job (DELETE waits up to 5 s)
MAX_PAGE = 200  # objects one scene call lists at most: an agent never gets a 10,000-object dump
COUNT_PAGE = 1000
DETAIL_CONCURRENCY = 8
UNITS = {"blender": "m", "freecad": "mm"}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


class ToolRefusal(Exception):
    """A call the tool refuses before sending anything; reported like the gateway's errors (code, message)."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}


def invalid(field_name: str, reason: str) -> ToolRefusal:
    error = {"field": field_name, "reason": reason}
    return ToolRefusal("VALIDATION_ERROR", f"Invalid request: {field_name}: {reason}", {**error, "errors": [error]})


@dataclass
class Reply:
    """What a tool answers: JSON for the model, and an image it can see."""

    data: dict[str, Any]
    image: InlineImage | None = None


@dataclass
class Call:
    """One tool call: the connection's sessions, the server's options, where links point, progress reporting."""

    scope: SessionScope
    options: McpOptions
    public_url: str  # the gateway as the client reaches it: file links are absolute
    report: Report

    async def client(self, app: str) -> AsyncClient:
        return await self.scope.client(app)

    def link(self, path: str, session: str | None = None) -> str:
        url = self.public_url.rstrip("/") + path
        return f"{url}?session={quote(session, safe='')}" if session else url


Handler = Callable[[Call, Args], Awaitable[Reply]]


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    input_schema: JsonSchema
    handler: Handler
    read_only: bool = False
    opt_in: bool = False  # offered only when the server is configured for it (execute_code)
    fields: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", frozenset(self.input_schema.get("properties", {})))


# ---------------------------------------------------------------------------------------------------- helpers
def app_of(args: Args, default: str = "blender") -> str:
    app = args.pop("app", default)
    if app not in schemas.APPS:
        raise invalid("app", f"must be one of {', '.join(schemas.APPS)}")
    return str(app)


def checked(method: Command, args: Mapping[str, Any], *, fixed: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``args`` (REST names) checked by the command's own validator; the clean params, by the command's names."""
    try:
        return clean(method, args, rest=True, fixed=fixed)
    except InvalidParams as exc:
        details = exc.data if isinstance(exc.data, dict) else {}
        raise ToolRefusal("VALIDATION_ERROR", f"Invalid request: {exc.message}", details) from None


def not_none(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def described(model: models.Model | dict[str, Any]) -> dict[str, Any]:
    data = model.model_dump(mode="json") if isinstance(model, models.Model) else dict(model)
    return {key: value for key, value in data.items() if value is not None and value != []}


def only_keys(info: Mapping[str, Any], wanted: list[str]) -> dict[str, Any]:
    return {key: info[key] for key in wanted if key in info and info[key] is not None}


def app_client(client: AsyncClient, app: str) -> Any:
    """The SDK namespace of ``app`` (``client.blender`` / ``client.freecad``)."""
    return client.blender if app == "blender" else client.freecad


def content_of(args: Args) -> bytes | None:
    """The bytes an import sends: ``text`` as UTF-8 or ``base64`` decoded; None when neither was given."""
    text, encoded = args.pop("text", None), args.pop("base64", None)
    if text is not None and encoded is not None:
        raise invalid("base64", "give text or base64, not both")
    if text is not None:
        return str(text).encode("utf-8")
    if encoded is not None:
        try:
            return base64.b64decode(str(encoded), validate=True)
        except (binascii.Error, ValueError):
            raise invalid("base64", "is not valid base64") from None
    return None


async def follow(call: Call, job: AsyncJob) -> AsyncJob:
    """Wait for ``job``, reporting its progress; a cancelled call (or the tool timeout) cancels the job too."""

    async def progressed(current: AsyncJob) -> None:
        await call.report(current.progress, 1.0, f"{current.state}: {current.message}"[:200])

    try:
        await job.wait(on_progress=progressed, check=False, poll_interval=JOB_POLL_SECONDS)
    except BaseException:
        with anyio.move_on_after(CANCEL_SECONDS, shield=True):
            try:
                await job.cancel()
                logger.info("cancelled job %s with its MCP call", job.id)
            except ConflictError:
                pass  # it finished meanwhile
            except Bridge3DError as error:
                logger.warning("could not cancel job %s: %s", job.id, error)
        raise
    if job.state != "succeeded":
        failure = job.error
        code = failure.code if failure is not None else job.state.upper()
        message = failure.message if failure is not None else f"the job ended {job.state}"
        raise ToolRefusal(code, f"Job {job.id} {job.state}: {message}", {"job": job.id})
    return job


def job_summary(call: Call, job: AsyncJob) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "job": job.id,
        "kind": job.kind,
        "state": job.state,
        "progress": job.progress,
        "message": job.message,
    }
    if job.error is not None:
        summary["error"] = {"code": job.error.code, "message": job.error.message}
    if job.outputs:
        summary["files"] = [{"name": f.name, "size": f.size, "url": call.link(f.url)} for f in job.outputs]
    return summary


async def job_image(call: Call, job: AsyncJob, *, jpeg: bool = False) -> InlineImage | None:
    """The first image a finished job made, scaled for inline display."""
    image = next((f for f in job.outputs if f.name.lower().endswith(IMAGE_SUFFIXES)), None)
    if image is None:
        return None
    return inline_image(await image.aread(), call.options.image_max_side, jpeg=jpeg)


# ------------------------------------------------------------------------------------------------------ scene
LIST_FIELDS = {"blender": ("name", "type", "location", "visible"), "freecad": ("name", "label", "type", "visible")}
NOT_LISTED = frozenset({"rotation_mode", "data", "document"})  # what a model never asks for in an overview
FIELDS = [
    name
    for name in dict.fromkeys(
        [f.name for f in results.BLENDER_OBJECT.fields] + [f.name for f in results.FREECAD_OBJECT.fields] + ["label"]
    )
    if name not in NOT_LISTED
]
DEFAULT_FIELDS = ["name", "type", "location"]


def scene_tool() -> Tool:
    sources = [
        ("blender", properties(command("blender", "object.list"))),
        ("freecad", properties(command("freecad", "object.list"))),
    ]
    props = {"app": app_property(), **merge(sources)}
    props["limit"] = {**props["limit"], "maximum": MAX_PAGE, "default": 25}
    props["fields"] = {
        "type": "array",
        "items": {"type": "string", "enum": FIELDS},
        "description": f"default: {', '.join(DEFAULT_FIELDS)}",
    }
    return Tool(
        "scene",
        "A Blender scene or FreeCAD document: counts by type, a filtered page of objects.",
        object_schema(props),
        scene,
        read_only=True,
    )


async def scene(call: Call, args: Args) -> Reply:
    app = app_of(args)
    fields = list(args.pop("fields", None) or DEFAULT_FIELDS)
    unknown = [name for name in fields if name not in FIELDS]
    if unknown:
        raise invalid("fields", f"{unknown[0]!r} is not one of {', '.join(FIELDS)}")
    args.setdefault("limit", 25)
    if isinstance(args["limit"], int) and args["limit"] > MAX_PAGE:
        raise invalid("limit", f"must be <= {MAX_PAGE}")
    listing = checked(command(app, "object.list"), args)
    client = app_client(await call.client(app), app)
    page: models.ObjectList = await client.objects.list(**not_none(args))
    document = listing.get("document")
    counts: dict[str, int] = {}
    offset, seen = 0, 0
    while True:
        counting = not_none({"offset": offset, "limit": COUNT_PAGE, "document": document})
        chunk: models.ObjectList = await client.objects.list(**counting)
        for item in chunk.objects:
            kind = str(item.get("type"))
            counts[kind] = counts.get(kind, 0) + 1
        seen += len(chunk.objects)
        offset += COUNT_PAGE
        if seen >= chunk.total or not chunk.objects:
            break
    objects = [dict(item) for item in page.objects]
    if any(name not in LIST_FIELDS[app] for name in fields):
        details: list[dict[str, Any]] = [{}] * len(objects)
        limiter = anyio.Semaphore(DETAIL_CONCURRENCY)

        async def detail(index: int, name: str) -> None:
            async with limiter:
                got = await (
                    client.objects.get(name) if app == "blender" else client.objects.get(name, document=document)
                )
            details[index] = described(got)

        async with anyio.create_task_group() as group:
            for index, item in enumerate(objects):
                group.start_soon(detail, index, str(item["name"]))
        objects = [{**item, **extra} for item, extra in zip(objects, details, strict=True)]
    reply: dict[str, Any] = {
        "app": app,
        "units": UNITS[app],
        "objects_total": sum(counts.values()),
        "counts": counts,
        "matching": page.total,
        "offset": page.offset,
        "objects": [only_keys(item, fields) for item in objects],
    }
    if "document" in (page.model_extra or {}):
        reply["document"] = (page.model_extra or {})["document"]
    return Reply(reply)


# ------------------------------------------------------------------------------------------- create / change
def primitive_properties() -> dict[str, JsonSchema]:
    """Every primitive's parameters, merged over both applications' types (a note says "(torus)" or "(blender)")."""
    sources: list[tuple[str, dict[str, JsonSchema]]] = []
    shown: dict[str, str] = {}
    groups: dict[str, list[str]] = {}
    for app in schemas.APPS:
        create = command(app, "primitive.create")
        assert create.variant is not None
        for case in create.variant.cases:
            label = f"{app} {case}"
            sources.append((label, properties(create, case=case, skip=("type",))))
            shown[label] = case
            groups.setdefault(app, []).append(label)
    return merge(sources, shown=shown, groups=groups)


def primitive_types() -> list[str]:
    found: list[str] = []
    for app in schemas.APPS:
        chooser = command(app, "primitive.create").param("type").kind
        assert isinstance(chooser, Choice)
        found += chooser.options
    return list(dict.fromkeys(found))


def create_tool() -> Tool:
    props = {
        "app": app_property(),
        "type": {
            "type": "string",
            "enum": primitive_types(),
            "description": "box: freecad only; plane, cube: blender only",
        },
        **primitive_properties(),
    }
    return Tool(
        "create_object",
        "Add a Blender mesh (metres) or a FreeCAD solid (mm); returns the name it got.",
        object_schema(props, ["type"]),
        create_object,
    )


async def create_object(call: Call, args: Args) -> Reply:
    app = app_of(args)
    params = checked(command(app, "primitive.create"), args)
    namespace = app_client(await call.client(app), app)
    sent = {key: value for key, value in args.items() if key != "type"}
    created = await getattr(namespace, params["type"])(**sent)
    return Reply({"object": created.object_id, "info": described(created.object)})


def transform_tool() -> Tool:
    return Tool(
        "transform_object",
        "Move, rotate or scale an object.",
        either_app_schema("object.transform", ["name"]),
        transform_object,
    )


async def transform_object(call: Call, args: Args) -> Reply:
    app = app_of(args)
    checked(command(app, "object.transform"), args)
    namespace = app_client(await call.client(app), app)
    name = args.pop("name")
    info = await namespace.objects.transform(name, **not_none(args))
    return Reply({"object": described(info)})


def delete_tool() -> Tool:
    return Tool(
        "delete_object",
        "Delete an object.",
        either_app_schema("object.delete", ["name"]),
        delete_object,
    )


async def delete_object(call: Call, args: Args) -> Reply:
    app = app_of(args)
    checked(command(app, "object.delete"), args)
    namespace = app_client(await call.client(app), app)
    name = args.pop("name")
    deleted = await namespace.objects.delete(name, **not_none(args))
    return Reply(described(deleted))


APPLY_TO = Param("objects", NameList(), None, "put it on these")
APPEARANCE = ("color", "metallic", "roughness", "emission_color", "emission_strength")
MATERIAL = dataclasses.replace(
    blender_commands.MATERIAL_CREATE, params=(*blender_commands.MATERIAL_CREATE.params, APPLY_TO)
)


def material_tool() -> Tool:
    props = properties(MATERIAL)
    return Tool(
        "material",
        "Blender: create a material (or reuse one by name), put it on objects.",
        object_schema(props, ["name"]),
        material,
    )


async def material(call: Call, args: Args) -> Reply:
    checked(MATERIAL, args)
    targets = args.pop("objects", None)
    client = (await call.client("blender")).blender
    name = str(args["name"])
    existing = [item for item in (await client.materials.list()).materials if item.get("name") == name]
    if existing and not any(key in args for key in APPEARANCE):
        info: dict[str, Any] = dict(existing[0])
    else:
        info = described(await client.materials.create(**args))
    applied = [
        described(await client.materials.apply(object=target, material=info["name"])) for target in targets or []
    ]
    return Reply(
        {"material": info, "applied": [{"name": obj["name"], "materials": obj.get("materials")} for obj in applied]}
    )


def camera_tool() -> Tool:
    return Tool(
        "add_camera",
        "Blender: add a camera, aimed by rotation or look_at (not both).",
        object_schema(properties(blender_commands.CAMERA_CREATE)),
        add_camera,
    )


async def add_camera(call: Call, args: Args) -> Reply:
    checked(blender_commands.CAMERA_CREATE, args)
    created = await (await call.client("blender")).blender.camera(**args)
    return Reply({"object": created.object_id, "info": described(created.object)})


def light_tool() -> Tool:
    return Tool(
        "add_light",
        "Blender: add a light.",
        object_schema(properties(blender_commands.LIGHT_CREATE)),
        add_light,
    )


async def add_light(call: Call, args: Args) -> Reply:
    checked(blender_commands.LIGHT_CREATE, args)
    created = await (await call.client("blender")).blender.light(**args)
    return Reply({"object": created.object_id, "info": described(created.object)})


# ---------------------------------------------------------------------------------------------------- render
WAIT = Param("wait", Boolean(), True, "false: return the job at once")


def render_tool() -> Tool:
    props = {**properties(blender_commands.RENDER_IMAGE), "wait": property_schema(WAIT)}
    return Tool(
        "render",
        "Render the Blender scene (a job: progress, cancellable); returns the image and its file's link.",
        object_schema(props),
        render,
    )


async def render(call: Call, args: Args) -> Reply:
    wait = bool(args.pop("wait", True))
    params = checked(blender_commands.RENDER_IMAGE, args)
    gateway = call.scope.gateway
    job = await gateway.jobs.render(session=await call.scope.session_id("blender"), **args)
    if not wait:
        return Reply(job_summary(call, job))
    await follow(call, job)
    image = await job_image(call, job, jpeg=params["format"] == "JPEG")
    result = job.result if isinstance(job.result, dict) else {}
    data = {
        **only_keys(result, ["width", "height", "engine", "samples", "camera", "seconds"]),
        **job_summary(call, job),
    }
    if image is None:
        data["inline"] = "none: this format cannot be shown inline; download the file"
    else:
        data["inline"] = {"width": image.width, "height": image.height, "type": image.mime_type}
    return Reply(data, image)


# -------------------------------------------------------------------------------------------------- FreeCAD
BOOLEAN_OPERATIONS = tuple(name.split(".", 1)[1] for name in freecad_commands.COMMANDS if name.startswith("boolean."))


def boolean_params() -> tuple[Param, ...]:
    base, tool = freecad_commands.BOOLEAN_SUBTRACT.param("base"), freecad_commands.BOOLEAN_SUBTRACT.param("tool")
    shared = [p for p in freecad_commands.BOOLEAN_SUBTRACT.params if p.name in ("name", "keep_inputs", "document")]
    return (
        Param("operation", Choice(BOOLEAN_OPERATIONS), REQUIRED, "the boolean"),
        dataclasses.replace(base, name="object1", description="the first solid (subtract: cut from)"),
        dataclasses.replace(tool, name="object2", description="the second solid (subtract: removed)"),
        *shared,
    )


BOOLEAN = Command("boolean", "object1 ∘ object2 as a new feature", boolean_params())


def boolean_tool() -> Tool:
    return Tool(
        "boolean",
        "FreeCAD: union, subtract or intersect two solids into a new one.",
        object_schema(properties(BOOLEAN), ["operation", "object1", "object2"]),
        boolean,
    )


async def boolean(call: Call, args: Args) -> Reply:
    params = checked(BOOLEAN, args)
    if params["object1"] == params["object2"]:
        raise invalid("object2", "must be a different object from object1")
    operations = (await call.client("freecad")).freecad.boolean
    operation = params["operation"]
    sent = {key: value for key, value in args.items() if key != "operation"}
    created = await getattr(operations, operation)(**sent)
    return Reply({"object": created.object_id, "info": described(created.object)})


MEASURES = {
    "freecad": ["volume", "area", "center_of_mass", "bounds", "dimensions", "location", "type", "valid", "solids"],
    "blender": ["dimensions", "bounds", "location", "rotation", "scale", "type", "vertices", "faces"],
}
MEASURE_DEFAULT_APP = "freecad"  # volumes, areas and centres of mass are FreeCAD's
MEASURED = Param("objects", NameList(max_items=50), REQUIRED, "object names")
MEASURE = Command("measure", "objects' measurements", (MEASURED, freecad_commands.DOCUMENT))


def measure_tool() -> Tool:
    props = {"app": app_property(MEASURE_DEFAULT_APP), **properties(MEASURE)}
    props["document"]["description"] = f"{props['document'].get('description', '')} (freecad)".strip()
    return Tool(
        "measure",
        "Volume, area, centre of mass, bounds (FreeCAD, mm); dimensions, bounds (Blender).",
        object_schema(props, ["objects"]),
        measure,
        read_only=True,
    )


async def measure(call: Call, args: Args) -> Reply:
    app = app_of(args, MEASURE_DEFAULT_APP)
    checked(MEASURE, args)
    document = args.get("document")
    if app == "blender" and document is not None:
        raise invalid("document", "is a FreeCAD parameter")
    namespace = app_client(await call.client(app), app)
    measured: dict[str, Any] = {}
    for name in args["objects"]:
        if app == "blender":
            info = await namespace.objects.get(name)
        else:
            info = await namespace.objects.get(name, **not_none({"document": document}))
        measured[str(info.name)] = only_keys(described(info), MEASURES[app])
    return Reply({"units": UNITS[app], "objects": measured})


# ------------------------------------------------------------------------------------------------------ files
def export_tool() -> Tool:
    return Tool(
        "export_file",
        "Export objects to a workspace file; returns its link.",
        either_app_schema("file.export"),
        export_file,
    )


async def export_file(call: Call, args: Args) -> Reply:
    app = app_of(args)
    checked(command(app, "file.export"), args)
    namespace = app_client(await call.client(app), app)
    exported: models.FileInfo = await namespace.export(**not_none(args))
    data = described(exported)
    data["url"] = call.link(exported.url, await call.scope.session_id(app))
    return Reply(data)


CONTENT = (
    Param("text", TextKind(), None, "the file's content, as text"),
    Param("base64", TextKind(), None, "the file's content, base64"),
)


def import_tool() -> Tool:
    sources = [
        (app, properties(command(app, "file.import"), skip=("format",) if app == "blender" else ()))
        for app in schemas.APPS
    ]
    props = {"app": app_property(), **merge(sources), **{param.name: property_schema(param) for param in CONTENT}}
    props["name"]["description"] = "file name (with text or base64: uploaded first)"
    return Tool(
        "import_file",
        "Import a model file (text, base64 or a workspace file); returns the new objects.",
        object_schema(props, ["name"]),
        import_file,
    )


async def import_file(call: Call, args: Args) -> Reply:
    app = app_of(args)
    data = content_of(args)
    if app == "blender" and "format" in args:
        raise invalid("format", "is a FreeCAD parameter (Blender reads the extension)")
    params = checked(command(app, "file.import"), args)
    namespace = app_client(await call.client(app), app)
    if data is not None:
        extra = not_none({"document": args.get("document")})
        imported: models.Imported = await namespace.import_file(data, filename=params["name"], **extra)
        return Reply(described(imported))
    step: dict[str, Any] = {"method": "file.import", "params": not_none(params)}
    outcome: models.BatchResult = await namespace.batch([step])
    report = outcome.steps[0].model_extra or {}
    if outcome.failed:
        error = report.get("error") or {}
        raise ToolRefusal(
            str(error.get("code", "BACKEND_ERROR")), str(error.get("message", "")), error.get("details") or {}
        )
    return Reply(described(report.get("result") or {}))


TRANSFER = (
    dataclasses.replace(
        freecad_commands.FILE_EXPORT.param("objects"),
        description="default: visible solids, as one",
    ),
    freecad_commands.DOCUMENT,
    Param("scale", Number(exclusive_minimum=0.0, maximum=1.0e6), 0.001, "Blender units per mm (0.001: metres)"),
    Param("location", blender_commands.LOCATION, None, "offset in Blender"),
)
TRANSFER_COMMAND = Command("freecad_to_blender", "a FreeCAD part into the Blender scene", TRANSFER)


def transfer_tool() -> Tool:
    return Tool(
        "freecad_to_blender",
        "Copy FreeCAD parts into the Blender scene as meshes, one object each.",
        object_schema(properties(TRANSFER_COMMAND)),
        freecad_to_blender,
    )


async def freecad_to_blender(call: Call, args: Args) -> Reply:
    params = checked(TRANSFER_COMMAND, args)
    cad = (await call.client("freecad")).freecad
    scene_ = (await call.client("blender")).blender
    document, scale = params["document"], params["scale"]
    wanted: list[str | None] = list(params["objects"]) if params["objects"] else [None]
    moved = []
    for name in wanted:
        stem = name or "FreeCAD"
        exported: models.FileInfo = await cad.export(
            **not_none({"format": "STL", "objects": [name] if name else None, "filepath": stem, "document": document})
        )
        try:
            data = await exported.aread()
        finally:
            await cad.files.delete(exported.name)
        imported: models.Imported = await scene_.import_file(data, filename=exported.name)
        await scene_.files.delete(exported.name)
        for created in imported.objects:
            info = await scene_.objects.transform(
                created, **not_none({"scale": (scale, scale, scale), "location": params["location"]})
            )
            moved.append({"freecad": name or "visible solids", "blender": info.name, "dimensions": info.dimensions})
    return Reply({"objects": moved, "scale": scale})


# ------------------------------------------------------------------------------------------------------- jobs
def convert_params() -> tuple[Param, ...]:
    formats = [command(app, "file.export").param("format").kind for app in schemas.APPS]
    options = tuple(dict.fromkeys(option for kind in formats if isinstance(kind, Choice) for option in kind.options))
    return (
        Param("file", FileName(), REQUIRED, "a workspace file name (e.g. from export_file)"),
        Param("format", Choice(options), REQUIRED),
        Param("app", Choice(schemas.APPS), REQUIRED, "whose workspace holds the file"),
        WAIT,
    )


CONVERT = Command("convert", "a workspace file into another format, as a job", convert_params())


def convert_tool() -> Tool:
    return Tool(
        "convert",
        "Convert a workspace file to another format (a job: progress, cancellable); returns its link.",
        object_schema(properties(CONVERT), ["file", "format", "app"]),
        convert,
    )


async def convert(call: Call, args: Args) -> Reply:
    params = checked(CONVERT, args)
    session = await call.scope.session_id(params["app"])
    job = await call.scope.gateway.jobs.convert(
        file=params["file"], format=params["format"], app=params["app"], session=session
    )
    if params["wait"]:
        await follow(call, job)
    return Reply(job_summary(call, job))


JOB_ID_PATTERN = r"^job_[0-9a-f]{16}$"


def job_tool() -> Tool:
    props: dict[str, JsonSchema] = {
        "job_id": {"type": "string", "pattern": JOB_ID_PATTERN},
        "action": {"type": "string", "enum": ["status", "cancel"], "default": "status"},
    }
    return Tool(
        "job",
        "A job's status (a render's image when done), or cancel it.",
        object_schema(props, ["job_id"]),
        job,
    )


async def job(call: Call, args: Args) -> Reply:
    job_id, action = str(args["job_id"]), args.get("action", "status")
    if action not in ("status", "cancel"):
        raise invalid("action", "must be one of status, cancel")
    jobs = call.scope.gateway.jobs
    found = await (jobs.cancel(job_id) if action == "cancel" else jobs.get(job_id))
    image = await job_image(call, found) if found.state == "succeeded" and found.kind == "render" else None
    return Reply(job_summary(call, found), image)


# ---------------------------------------------------------------------------------------------------- execute
EXECUTE_TIMEOUT = Param("timeout", Number(exclusive_minimum=0.0), None, "seconds")


def execute_tool() -> Tool:
    sources = [
        ("blender", properties(command("blender", "code.execute"))),
        ("freecad", properties(command("freecad", "code.execute"))),
    ]
    props = {"app": app_property(), **merge(sources), "timeout": property_schema(EXECUTE_TIMEOUT)}
    return Tool(
        "execute_code",
        "Run Python in Blender (bpy) or FreeCAD; returns stdout, stderr and `result`.",
        object_schema(props, ["code"]),
        execute_code,
        opt_in=True,
    )


async def execute_code(call: Call, args: Args) -> Reply:
    app = app_of(args)
    timeout = args.pop("timeout", None)
    checked(command(app, "code.execute"), args)
    namespace = app_client(await call.client(app), app)
    executed: models.Executed = await namespace.execute(**not_none({**args, "timeout": timeout}))
    return Reply(described(executed))
