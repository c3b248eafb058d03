"""Blender REST endpoints: /api/v1/blender/... (Blender units, rotations in degrees).

Every route's parameters, bounds and defaults come from ``commands.blender`` through an ``Operation``.
"""

# No `from __future__ import annotations`: FastAPI must resolve the routes' local operation aliases at definition time.

from typing import Annotated, Any

from fastapi import APIRouter, Depends, UploadFile

from bridge3d.api import limits, references, services
from bridge3d.api.deps import BlenderDep, SettingsDep, blender_client
from bridge3d.api.models.responses import APIResponse, BlenderObject, CreatedBlenderObject, FileInfo, responds
from bridge3d.api.rest import Operation, Params
from bridge3d.commands import blender as commands
from bridge3d.commands import results

from .common import add_common_routes

router = APIRouter(prefix="/api/v1/blender", tags=["blender"])
IMPORT_FORMATS = {ext: fmt for fmt, extensions in commands.FORMAT_EXTENSIONS.items() for ext in extensions}
Created = APIResponse[CreatedBlenderObject]
ObjectResult = APIResponse[BlenderObject]  # type: ignore[valid-type]
Result = APIResponse[dict[str, Any]]


def _primitive(kind: str) -> Operation:
    return Operation(commands.PRIMITIVE_CREATE, fixed={"type": kind})


CUBE, SPHERE, CYLINDER, CONE, TORUS, PLANE = (_primitive(kind) for kind in commands.PRIMITIVE_TYPES)
OBJECTS = Operation(commands.OBJECT_LIST, query=("offset", "limit", "type", "name_contains"), body=False)
OBJECT = Operation(commands.OBJECT_GET, path=("name",), body=False)
DELETE_OBJECT = Operation(commands.OBJECT_DELETE, path=("name",), body=False)
TRANSFORM = Operation(commands.OBJECT_TRANSFORM, path=("name",))
MATERIAL = Operation(commands.MATERIAL_CREATE)
MATERIALS = Operation(commands.MATERIAL_LIST, body=False)
DELETE_MATERIAL = Operation(commands.MATERIAL_DELETE, path=("name",), body=False)
APPLY = Operation(commands.MATERIAL_APPLY)
SCENE = Operation(commands.SCENE_INFO, body=False)
CLEAR = Operation(commands.SCENE_CLEAR, query=("orphans",), body=False)
SAVE = Operation(commands.SCENE_SAVE)
RENDER = Operation(commands.RENDER_IMAGE)
EXPORT = Operation(commands.FILE_EXPORT)
CAMERA = Operation(commands.CAMERA_CREATE)
LIGHT = Operation(commands.LIGHT_CREATE)


async def _create(client: BlenderDep, params: dict[str, Any], settings: SettingsDep) -> Created:
    limits.check_primitive_faces(params["type"], params, settings)
    result = await client.send_command("primitive.create", params)
    return APIResponse(result=services.created(CreatedBlenderObject, result, params["type"]))


def _create_route(operation: Operation, kind: str, summary: str) -> None:
    async def create(
        client: BlenderDep, params: Annotated[Params, Depends(operation.parse)], settings: SettingsDep
    ) -> Created:
        return await _create(client, params, settings)

    create.__doc__ = summary
    router.post(
        f"/primitives/{kind}",
        name=f"create_{kind}",
        response_model=Created,
        status_code=201,
        openapi_extra=operation.openapi(),
    )(create)


for _operation, _kind, _summary in (
    (CUBE, "cube", "Add a cube mesh (`size` = edge length)."),
    (SPHERE, "sphere", "Add a UV sphere (`segments` around, `rings` from pole to pole)."),
    (CYLINDER, "cylinder", "Add a cylinder along local Z (`depth` = height)."),
    (CONE, "cone", "Add a cone or truncated cone (`radius2` > 0)."),
    (TORUS, "torus", "Add a torus in the XY plane."),
    (PLANE, "plane", "Add a square plane (`size` = edge length)."),
):
    _create_route(_operation, _kind, _summary)


@router.get(
    "/objects",
    name="list_objects",
    response_model=responds(results.OBJECT_LIST),
    openapi_extra=OBJECTS.openapi(),
)
async def list_objects(
    client: BlenderDep, params: Annotated[Params, Depends(OBJECTS.parse)], settings: SettingsDep
) -> Result:
    """List objects, a page at a time, optionally filtered by type and name."""
    limits.check_page_size(params["limit"], settings)
    return APIResponse(result=await client.send_command("object.list", params))


@router.get("/objects/{name}", name="get_object", response_model=ObjectResult, openapi_extra=OBJECT.openapi())
async def get_object(client: BlenderDep, params: Annotated[Params, Depends(OBJECT.parse)]) -> Result:
    """One object's transform, bounds, mesh counts, materials, parent and visibility."""
    return APIResponse(result=await client.send_command("object.get", params))


@router.delete(
    "/objects/{name}",
    name="delete_object",
    response_model=responds(results.DELETED),
    openapi_extra=DELETE_OBJECT.openapi(),
)
async def delete_object(client: BlenderDep, params: Annotated[Params, Depends(DELETE_OBJECT.parse)]) -> Result:
    """Delete an object and the data only it used (mesh, curve, camera or light data; materials nobody uses any
    more, except those created with `POST /materials`)."""
    return APIResponse(result=await client.send_command("object.delete", params))


@router.patch(
    "/objects/{name}", name="transform_object", response_model=ObjectResult, openapi_extra=TRANSFORM.openapi()
)
async def transform_object(client: BlenderDep, params: Annotated[Params, Depends(TRANSFORM.parse)]) -> Result:
    """Set (or with `relative`, add to) an object's location, rotation (degrees) and scale."""
    return APIResponse(result=await client.send_command("object.transform", params))


@router.post(
    "/materials",
    name="create_material",
    response_model=responds(results.MATERIAL),
    status_code=201,
    openapi_extra=MATERIAL.openapi(),
)
async def create_material(client: BlenderDep, params: Annotated[Params, Depends(MATERIAL.parse)]) -> Result:
    """Create a Principled BSDF material."""
    return APIResponse(result=await client.send_command("material.create", params))


@router.get(
    "/materials", name="list_materials", response_model=responds(results.MATERIALS), openapi_extra=MATERIALS.openapi()
)
async def list_materials(client: BlenderDep, params: Annotated[Params, Depends(MATERIALS.parse)]) -> Result:
    """Every material of the file with its colour, metallic, roughness and users (objects' meshes using it)."""
    return APIResponse(result=await client.send_command("material.list", params))


@router.delete(
    "/materials/{name}",
    name="delete_material",
    response_model=responds(results.MATERIAL_DELETED),
    openapi_extra=DELETE_MATERIAL.openapi(),
)
async def delete_material(client: BlenderDep, params: Annotated[Params, Depends(DELETE_MATERIAL.parse)]) -> Result:
    """Delete a material; the slots that held it are left empty. (Deleting objects keeps the materials a client
    created: they stay until deleted here or by `DELETE /scene`.)"""
    return APIResponse(result=await client.send_command("material.delete", params))


@router.post("/materials/apply", name="apply_material", response_model=ObjectResult, openapi_extra=APPLY.openapi())
async def apply_material(client: BlenderDep, params: Annotated[Params, Depends(APPLY.parse)]) -> Result:
    """Assign a material to a slot of an object (slot 0 by default)."""
    return APIResponse(result=await client.send_command("material.apply", params))


@router.get("/scene", name="get_scene", response_model=responds(results.SCENE), openapi_extra=SCENE.openapi())
async def get_scene(client: BlenderDep, params: Annotated[Params, Depends(SCENE.parse)]) -> Result:
    """Object count, render engine, frame range, units, active camera and Blender version."""
    return APIResponse(result=await client.send_command("scene.info", params))


@router.delete(
    "/scene",
    name="clear_scene",
    response_model=responds(results.CLEARED),
    openapi_extra=CLEAR.openapi(),
)
async def clear_scene(client: BlenderDep, params: Annotated[Params, Depends(CLEAR.parse)]) -> Result:
    """Delete every object (and, by default, orphaned meshes, materials, cameras and lights)."""
    return APIResponse(result=await client.send_command("scene.clear", params))


@router.post("/scene/save", name="save_scene", response_model=APIResponse[FileInfo], openapi_extra=SAVE.openapi())
async def save_scene(client: BlenderDep, params: Annotated[Params, Depends(SAVE.parse)]) -> APIResponse[FileInfo]:
    """Save the scene as a .blend in the workspace; download it from the returned URL."""
    return APIResponse(result=services.file_info("blender", await client.send_command("scene.save", params)))


@router.post("/scene/open", name="open_scene", response_model=responds(results.SCENE))
async def open_scene(client: BlenderDep, file: UploadFile, settings: SettingsDep) -> Result:
    """Upload a .blend and open it (replaces the current scene)."""
    services.check_extension(file.filename, {".blend": "BLEND"})
    await references.check_upload(file, "BLEND")
    uploaded = await services.upload(client, file, max_bytes=settings.max_upload_bytes)
    return APIResponse(result=await client.send_command("scene.open", {"name": uploaded["name"]}))


@router.post("/render", name="render_image", response_model=APIResponse[FileInfo], openapi_extra=RENDER.openapi())
async def render_image(
    client: BlenderDep, params: Annotated[Params, Depends(RENDER.parse)], settings: SettingsDep
) -> APIResponse[FileInfo]:
    """Render the scene to an image in the workspace. With no camera, one framing all objects is added."""
    limits.check_render(params["resolution"], params["samples"], settings)
    return APIResponse(result=services.file_info("blender", await client.send_command("render.image", params)))


@router.post("/export", name="export_scene", response_model=APIResponse[FileInfo], openapi_extra=EXPORT.openapi())
async def export_scene(
    client: BlenderDep, params: Annotated[Params, Depends(EXPORT.parse)], settings: SettingsDep
) -> APIResponse[FileInfo]:
    """Export chosen objects (or all) as GLB, GLTF, OBJ, STL, FBX, PLY, USD or BLEND into the workspace."""
    limits.check_objects(params["objects"], "objects", settings)
    return APIResponse(result=services.file_info("blender", await client.send_command("file.export", params)))


@router.post("/import", name="import_file", response_model=responds(results.IMPORTED))
async def import_file(client: BlenderDep, file: UploadFile, settings: SettingsDep) -> Result:
    """Upload a GLB, GLTF, OBJ, STL, FBX, PLY, USD or .blend file and import it into the scene."""
    file_format = services.check_extension(file.filename, IMPORT_FORMATS)
    await references.check_upload(file, file_format)
    uploaded = await services.upload(client, file, max_bytes=settings.max_upload_bytes)
    return APIResponse(
        result=await client.send_command("file.import", {"name": uploaded["name"], "format": file_format})
    )


@router.post("/camera", name="create_camera", response_model=Created, status_code=201, openapi_extra=CAMERA.openapi())
async def create_camera(client: BlenderDep, params: Annotated[Params, Depends(CAMERA.parse)]) -> Created:
    """Add a camera, aimed by rotation or at a `look_at` point; it becomes the scene camera by default."""
    result = await client.send_command("camera.create", params)
    return APIResponse(result=services.created(CreatedBlenderObject, result, "camera"))


@router.post("/light", name="create_light", response_model=Created, status_code=201, openapi_extra=LIGHT.openapi())
async def create_light(client: BlenderDep, params: Annotated[Params, Depends(LIGHT.parse)]) -> Created:
    """Add a point, sun, spot or area light."""
    result = await client.send_command("light.create", params)
    return APIResponse(result=services.created(CreatedBlenderObject, result, "light"))


add_common_routes(router, "blender", blender_client)
