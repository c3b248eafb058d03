"""FreeCAD REST endpoints: /api/v1/freecad/... (lengths in millimetres, rotations in degrees).

Every route's parameters, bounds and defaults come from ``commands.freecad`` through an ``Operation``; REST says
``location`` where the host says ``position`` (the command schema's REST name).
"""

# No `from __future__ import annotations`: FastAPI must resolve the routes' local operation aliases at definition time.

from typing import Annotated, Any

from fastapi import APIRouter, Depends, UploadFile

from bridge3d.api import limits, references, services
from bridge3d.api.deps import FreeCADDep, SettingsDep, freecad_client
from bridge3d.api.models.responses import APIResponse, CreatedFreeCADObject, FileInfo, FreeCADObject, responds
from bridge3d.api.rest import Operation, Params
from bridge3d.commands import freecad as commands
from bridge3d.commands import results
from bridge3d.commands.schema import REQUIRED, Choice, Command, Different, Name, Param
from bridge3d.rpc.errors import RpcError

from .common import add_common_routes

router = APIRouter(prefix="/api/v1/freecad", tags=["freecad"])
IMPORT_FORMATS = {ext: fmt.name for fmt in commands.FORMATS.values() for ext in fmt.extensions}
Created = APIResponse[CreatedFreeCADObject]
ObjectResult = APIResponse[FreeCADObject]  # type: ignore[valid-type]
Result = APIResponse[dict[str, Any]]

OBJECTS = Operation(commands.OBJECT_LIST, query=("offset", "limit", "type", "document"), body=False)
OBJECT = Operation(commands.OBJECT_GET, path=("name",), query=("document",), body=False)
DELETE_OBJECT = Operation(commands.OBJECT_DELETE, path=("name",), query=("document",), body=False)
TRANSFORM = Operation(commands.OBJECT_TRANSFORM, path=("name",))
EXPORT = Operation(commands.FILE_EXPORT)
IMPORT = Operation(commands.FILE_IMPORT, query=("document",), fixed={"name": None, "format": None}, body=False)
DOCUMENTS = Operation(commands.DOCUMENT_LIST, body=False)
NEW_DOCUMENT = Operation(commands.DOCUMENT_CREATE)
CLOSE_DOCUMENT = Operation(commands.DOCUMENT_CLOSE, path=("name",), body=False)
SAVE_DOCUMENT = Operation(commands.DOCUMENT_SAVE)


def boolean_body(operation: str) -> Command:
    """REST's two operands (object1 ∘ object2) for a boolean, and `operation`, which may only repeat the URL's."""
    host = commands.BOOLEAN_SUBTRACT if operation == "subtract" else commands.BOOLEAN_UNION
    shared = tuple(param for param in host.params if param.name in ("name", "keep_inputs", "document"))
    return Command(
        f"boolean.{operation}",
        host.description,
        (
            Param("object1", Name(), REQUIRED, "the first solid" + (" (cut from)" if operation == "subtract" else "")),
            Param("object2", Name(), REQUIRED, "the second solid" + (" (removed)" if operation == "subtract" else "")),
            Param("operation", Choice((operation,)), None, "optional; when given it must match the URL"),
            *shared,
        ),
        rules=(Different("object2 must be a different object from object1", "object1", "object2"),),
    )


BOOLEANS = {operation: Operation(boolean_body(operation)) for operation in ("union", "subtract", "intersect")}
OPERAND_FIELDS = {"base": "object1", "tool": "object2", "objects[0]": "object1", "objects[1]": "object2"}


def _primitive_route(kind: str, summary: str) -> None:
    operation = Operation(commands.PRIMITIVE_CREATE, fixed={"type": kind})

    async def create(client: FreeCADDep, params: Annotated[Params, Depends(operation.parse)]) -> Created:
        result = await client.send_command("primitive.create", params)
        return APIResponse(result=services.created(CreatedFreeCADObject, result, kind))

    create.__doc__ = summary
    router.post(
        f"/primitives/{kind}",
        name=f"create_{kind}",
        response_model=Created,
        status_code=201,
        openapi_extra=operation.openapi(),
    )(create)


for _kind, _summary in (
    ("box", "Create a Part::Box (mm)."),
    ("sphere", "Create a Part::Sphere."),
    ("cylinder", "Create a Part::Cylinder along Z."),
    ("cone", "Create a Part::Cone (radius2 > 0 truncates it)."),
    ("torus", "Create a Part::Torus around Z."),
):
    _primitive_route(_kind, _summary)


@router.get(
    "/objects",
    name="list_objects",
    response_model=responds(results.OBJECT_LIST),
    openapi_extra=OBJECTS.openapi(),
)
async def list_objects(
    client: FreeCADDep, params: Annotated[Params, Depends(OBJECTS.parse)], settings: SettingsDep
) -> Result:
    """Objects of a document in creation order, a page at a time; `type` filters (Part::Box or box)."""
    limits.check_page_size(params["limit"], settings)
    return APIResponse(result=await client.send_command("object.list", params))


@router.get("/objects/{name}", name="get_object", response_model=ObjectResult, openapi_extra=OBJECT.openapi())
async def get_object(client: FreeCADDep, params: Annotated[Params, Depends(OBJECT.parse)]) -> Result:
    """Placement, bounds, volume, area and centre of mass of one object (by internal Name or Label)."""
    return APIResponse(result=await client.send_command("object.get", params))


@router.delete(
    "/objects/{name}",
    name="delete_object",
    response_model=responds(results.DELETED),
    openapi_extra=DELETE_OBJECT.openapi(),
)
async def delete_object(client: FreeCADDep, params: Annotated[Params, Depends(DELETE_OBJECT.parse)]) -> Result:
    """Delete an object (409 while a boolean uses it); deleting a boolean shows its operands again."""
    return APIResponse(result=await client.send_command("object.delete", params))


@router.patch(
    "/objects/{name}", name="transform_object", response_model=ObjectResult, openapi_extra=TRANSFORM.openapi()
)
async def transform_object(client: FreeCADDep, params: Annotated[Params, Depends(TRANSFORM.parse)]) -> Result:
    """Set (or with `relative`, add to) an object's location and rotation (degrees); an empty body changes
    nothing."""
    return APIResponse(result=await client.send_command("object.transform", params))


def _boolean_route(operation: str, summary: str) -> None:
    view = BOOLEANS[operation]

    async def combine(client: FreeCADDep, params: Annotated[Params, Depends(view.parse)]) -> Created:
        shared = {key: params[key] for key in ("name", "keep_inputs", "document")}
        operands = (
            {"base": params["object1"], "tool": params["object2"]}
            if operation == "subtract"
            else {"objects": [params["object1"], params["object2"]]}
        )
        try:
            result = await client.send_command(f"boolean.{operation}", {**operands, **shared})
        except RpcError as exc:
            # The host names the operands base/tool or objects[i]; this route's caller sent object1 and object2.
            if isinstance(exc.data, dict) and exc.data.get("field") in OPERAND_FIELDS:
                exc.data["field"] = OPERAND_FIELDS[exc.data["field"]]
            raise
        return APIResponse(result=services.created(CreatedFreeCADObject, result, operation))

    combine.__doc__ = summary
    router.post(
        f"/boolean/{operation}",
        name=f"boolean_{operation}",
        response_model=Created,
        status_code=201,
        openapi_extra=view.openapi(),
    )(combine)


for _operation, _summary in (
    ("union", "object1 ∪ object2 as a new Part::MultiFuse feature; inputs hidden unless `keep_inputs`."),
    ("subtract", "object1 − object2 as a new Part::Cut feature."),
    ("intersect", "object1 ∩ object2 as a new Part::MultiCommon feature; an empty result is a 409."),
):
    _boolean_route(_operation, _summary)


@router.post("/export", name="export_shapes", response_model=APIResponse[FileInfo], openapi_extra=EXPORT.openapi())
async def export_shapes(
    client: FreeCADDep, params: Annotated[Params, Depends(EXPORT.parse)], settings: SettingsDep
) -> APIResponse[FileInfo]:
    """Export chosen objects (or all visible solids) as STEP, IGES, STL, OBJ or BREP into the workspace."""
    limits.check_objects(params["objects"], "objects", settings)
    return APIResponse(result=services.file_info("freecad", await client.send_command("file.export", params)))


@router.post(
    "/import",
    name="import_file",
    response_model=responds(results.IMPORTED),
    openapi_extra=IMPORT.openapi(),
)
async def import_file(
    client: FreeCADDep, file: UploadFile, params: Annotated[Params, Depends(IMPORT.parse)], settings: SettingsDep
) -> Result:
    """Upload a STEP, IGES, BREP, STL or OBJ file and import it into a document."""
    file_format = services.check_extension(file.filename, IMPORT_FORMATS)
    await references.check_upload(file, file_format)
    uploaded = await services.upload(client, file, max_bytes=settings.max_upload_bytes)
    payload = {**params, "name": uploaded["name"], "format": file_format}
    return APIResponse(result=await client.send_command("file.import", payload))


@router.get(
    "/documents",
    name="list_documents",
    response_model=responds(results.DOCUMENTS),
    openapi_extra=DOCUMENTS.openapi(),
)
async def list_documents(client: FreeCADDep, params: Annotated[Params, Depends(DOCUMENTS.parse)]) -> Result:
    """Open documents, their object counts and which one is active."""
    return APIResponse(result=await client.send_command("document.list", params))


@router.post(
    "/documents",
    name="create_document",
    response_model=responds(results.DOCUMENT),
    status_code=201,
    openapi_extra=NEW_DOCUMENT.openapi(),
)
async def create_document(client: FreeCADDep, params: Annotated[Params, Depends(NEW_DOCUMENT.parse)]) -> Result:
    """Create a new document and make it active."""
    return APIResponse(result=await client.send_command("document.create", params))


@router.delete(
    "/documents/{name}",
    name="close_document",
    response_model=responds(results.CLOSED),
    openapi_extra=CLOSE_DOCUMENT.openapi(),
)
async def close_document(client: FreeCADDep, params: Annotated[Params, Depends(CLOSE_DOCUMENT.parse)]) -> Result:
    """Close a document without saving."""
    return APIResponse(result=await client.send_command("document.close", params))


@router.post(
    "/documents/save", name="save_document", response_model=APIResponse[FileInfo], openapi_extra=SAVE_DOCUMENT.openapi()
)
async def save_document(
    client: FreeCADDep, params: Annotated[Params, Depends(SAVE_DOCUMENT.parse)]
) -> APIResponse[FileInfo]:
    """Save a document as .FCStd in the workspace; download it from the returned URL."""
    return APIResponse(result=services.file_info("freecad", await client.send_command("document.save", params)))


@router.post("/documents/open", name="open_document", response_model=responds(results.DOCUMENT))
async def open_document(client: FreeCADDep, file: UploadFile, settings: SettingsDep) -> Result:
    """Upload a .FCStd file and open it as a document."""
    services.check_extension(file.filename, {".fcstd": "FCSTD"})
    uploaded = await services.upload(client, file, max_bytes=settings.max_upload_bytes)
    return APIResponse(result=await client.send_command("document.open", {"name": uploaded["name"]}))


add_common_routes(router, "freecad", freecad_client)
