"""FreeCAD REST endpoints: /api/v1/freecad/... (lengths in millimetres)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, UploadFile

from bridge3d.api import limits, services
from bridge3d.api.deps import FreeCADDep, SettingsDep, freecad_client
from bridge3d.api.errors import OperationMismatchError
from bridge3d.api.models.boolean import BooleanParams
from bridge3d.api.models.common import ObjectName
from bridge3d.api.models.export import FreeCADExportParams
from bridge3d.api.models.primitives import (
    BoxParams,
    FreeCADConeParams,
    FreeCADCylinderParams,
    FreeCADSphereParams,
    FreeCADTorusParams,
    Placed,
)
from bridge3d.api.models.responses import APIResponse, CreatedObject, Deleted, FileInfo, ObjectInfo, ObjectList
from bridge3d.api.models.scene import DocumentCreateParams, FreeCADTransformParams, SaveParams

from .common import add_common_routes

router = APIRouter(prefix="/api/v1/freecad", tags=["freecad"])
DocumentQuery = Annotated[ObjectName | None, Query(description="document name; the active one when omitted")]
IMPORT_FORMATS = {
    ".step": "STEP",
    ".stp": "STEP",
    ".iges": "IGES",
    ".igs": "IGES",
    ".stl": "STL",
    ".brep": "BREP",
    ".brp": "BREP",
}
Created = APIResponse[CreatedObject]
Result = APIResponse[dict[str, Any]]


def _placement(params: Placed) -> dict[str, Any]:
    """REST uses `location` for both applications; FreeCAD calls it the placement's position."""
    payload = params.model_dump(exclude_none=True)
    payload["position"] = payload.pop("location")
    return payload


async def _create(client: FreeCADDep, kind: str, params: Placed) -> Created:
    result = await client.send_command("primitive.create", {"type": kind, **_placement(params)})
    return APIResponse(result=services.created(result, kind))


@router.post("/primitives/box", name="create_box", response_model=Created, status_code=201)
async def create_box(client: FreeCADDep, params: BoxParams) -> Created:
    """Add a Part::Box (length × width × height, mm)."""
    return await _create(client, "box", params)


@router.post("/primitives/sphere", name="create_sphere", response_model=Created, status_code=201)
async def create_sphere(client: FreeCADDep, params: FreeCADSphereParams) -> Created:
    """Add a Part::Sphere."""
    return await _create(client, "sphere", params)


@router.post("/primitives/cylinder", name="create_cylinder", response_model=Created, status_code=201)
async def create_cylinder(client: FreeCADDep, params: FreeCADCylinderParams) -> Created:
    """Add a Part::Cylinder."""
    return await _create(client, "cylinder", params)


@router.post("/primitives/cone", name="create_cone", response_model=Created, status_code=201)
async def create_cone(client: FreeCADDep, params: FreeCADConeParams) -> Created:
    """Add a Part::Cone."""
    return await _create(client, "cone", params)


@router.post("/primitives/torus", name="create_torus", response_model=Created, status_code=201)
async def create_torus(client: FreeCADDep, params: FreeCADTorusParams) -> Created:
    """Add a Part::Torus."""
    return await _create(client, "torus", params)


@router.get("/objects", name="list_objects", response_model=APIResponse[ObjectList])
async def list_objects(
    client: FreeCADDep,
    settings: SettingsDep,
    document: DocumentQuery = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, description="page size, at most BRIDGE3D_MAX_OBJECTS_PER_REQUEST")] = 100,
    type: Annotated[str | None, Query(max_length=64, description="TypeId, e.g. Part::Box")] = None,  # noqa: A002
) -> APIResponse[ObjectList]:
    """List a document's objects, a page at a time."""
    limits.check_page_size(limit, settings)
    params = {"offset": offset, "limit": limit, "type": type, "document": document}
    result = await client.send_command("object.list", {k: v for k, v in params.items() if v is not None})
    return APIResponse(result=ObjectList.model_validate(result))


@router.get("/objects/{name}", name="get_object", response_model=APIResponse[ObjectInfo])
async def get_object(client: FreeCADDep, name: ObjectName, document: DocumentQuery = None) -> APIResponse[ObjectInfo]:
    """Placement, bounding box and, for solids, volume, area, centre of mass and validity."""
    result = await client.send_command("object.get", _with_document({"name": name}, document))
    return APIResponse(result=ObjectInfo.model_validate(result))


@router.delete("/objects/{name}", name="delete_object", response_model=APIResponse[Deleted])
async def delete_object(client: FreeCADDep, name: ObjectName, document: DocumentQuery = None) -> APIResponse[Deleted]:
    """Delete an object (one undoable transaction)."""
    result = await client.send_command("object.delete", _with_document({"name": name}, document))
    return APIResponse(result=Deleted.model_validate(result))


@router.patch("/objects/{name}", name="transform_object", response_model=APIResponse[ObjectInfo])
async def transform_object(
    client: FreeCADDep, name: ObjectName, params: FreeCADTransformParams, document: DocumentQuery = None
) -> APIResponse[ObjectInfo]:
    """Set (or with `relative`, add to) an object's placement; `document` may be given in the query or the body."""
    payload = _with_document(params.model_dump(exclude_none=True), params.document or document)
    if "location" in payload:
        payload["position"] = payload.pop("location")
    result = await client.send_command("object.transform", {"name": name, **payload})
    return APIResponse(result=ObjectInfo.model_validate(result))


async def _boolean(client: FreeCADDep, operation: str, params: BooleanParams) -> Created:
    if params.operation is not None and params.operation != operation:
        raise OperationMismatchError(
            f"operation {params.operation!r} does not match the URL ({operation})",
            {"field": "operation", "reason": f"must be {operation!r} or omitted"},
        )
    common = _with_document({"keep_inputs": params.keep_inputs, "name": params.name}, params.document)
    if operation == "subtract":
        payload = {"base": params.object1, "tool": params.object2, **common}
    else:
        payload = {"objects": [params.object1, params.object2], **common}
    result = await client.send_command(f"boolean.{operation}", {k: v for k, v in payload.items() if v is not None})
    return APIResponse(result=services.created(result, operation))


@router.post("/boolean/union", name="boolean_union", response_model=Created, status_code=201)
async def boolean_union(client: FreeCADDep, params: BooleanParams) -> Created:
    """object1 ∪ object2 as a new Part::MultiFuse feature; inputs hidden unless `keep_inputs`."""
    return await _boolean(client, "union", params)


@router.post("/boolean/subtract", name="boolean_subtract", response_model=Created, status_code=201)
async def boolean_subtract(client: FreeCADDep, params: BooleanParams) -> Created:
    """object1 − object2 as a new Part::Cut feature."""
    return await _boolean(client, "subtract", params)


@router.post("/boolean/intersect", name="boolean_intersect", response_model=Created, status_code=201)
async def boolean_intersect(client: FreeCADDep, params: BooleanParams) -> Created:
    """object1 ∩ object2 as a new Part::MultiCommon feature; an empty result is an error."""
    return await _boolean(client, "intersect", params)


@router.post("/export", name="export_shapes", response_model=APIResponse[FileInfo])
async def export_shapes(
    client: FreeCADDep, params: FreeCADExportParams, settings: SettingsDep
) -> APIResponse[FileInfo]:
    """Export chosen objects (or all visible solids) as STEP, IGES, STL, OBJ or BREP into the workspace."""
    limits.check_objects(params.objects, "objects", settings)
    payload: dict[str, Any] = _with_document({"format": params.format}, params.document)
    if params.objects is not None:
        payload["objects"] = params.objects
    if params.filepath:
        payload["output"] = params.filepath
    return APIResponse(result=services.file_info("freecad", await client.send_command("file.export", payload)))


@router.post("/import", name="import_file", response_model=Result)
async def import_file(
    client: FreeCADDep, file: UploadFile, settings: SettingsDep, document: DocumentQuery = None
) -> Result:
    """Upload a STEP, IGES, STL or BREP file and import it into a document."""
    file_format = services.check_extension(file.filename, IMPORT_FORMATS)
    uploaded = await services.upload(client, file, max_bytes=settings.max_upload_bytes)
    payload = _with_document({"name": uploaded["name"], "format": file_format}, document)
    return APIResponse(result=await client.send_command("file.import", payload))


@router.get("/documents", name="list_documents", response_model=Result)
async def list_documents(client: FreeCADDep) -> Result:
    """Open documents, their object counts and which one is active."""
    return APIResponse(result=await client.send_command("document.list"))


@router.post("/documents", name="create_document", response_model=Result, status_code=201)
async def create_document(client: FreeCADDep, params: DocumentCreateParams) -> Result:
    """Create a new document and make it active."""
    return APIResponse(result=await client.send_command("document.create", params.model_dump(exclude_none=True)))


@router.delete("/documents/{name}", name="close_document", response_model=Result)
async def close_document(client: FreeCADDep, name: ObjectName) -> Result:
    """Close a document without saving."""
    return APIResponse(result=await client.send_command("document.close", {"name": name}))


@router.post("/documents/save", name="save_document", response_model=APIResponse[FileInfo])
async def save_document(client: FreeCADDep, params: SaveParams) -> APIResponse[FileInfo]:
    """Save a document as .FCStd in the workspace; download it from the returned URL."""
    payload = _with_document({"name": params.filepath} if params.filepath else {}, params.document)
    return APIResponse(result=services.file_info("freecad", await client.send_command("document.save", payload)))


@router.post("/documents/open", name="open_document", response_model=Result)
async def open_document(client: FreeCADDep, file: UploadFile, settings: SettingsDep) -> Result:
    """Upload a .FCStd file and open it as a document."""
    services.check_extension(file.filename, {".fcstd": "FCSTD"})
    uploaded = await services.upload(client, file, max_bytes=settings.max_upload_bytes)
    return APIResponse(result=await client.send_command("document.open", {"name": uploaded["name"]}))


def _with_document(payload: dict[str, Any], document: str | None) -> dict[str, Any]:
    return {**payload, "document": document} if document else payload


add_common_routes(router, "freecad", freecad_client)
