"""Blender REST endpoints: /api/v1/blender/..."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, UploadFile

from bridge3d.api import limits, references, services
from bridge3d.api.config import Settings
from bridge3d.api.deps import BlenderDep, SettingsDep, blender_client
from bridge3d.api.models.common import ObjectName
from bridge3d.api.models.export import BlenderExportParams
from bridge3d.api.models.materials import MaterialApplyParams, MaterialParams
from bridge3d.api.models.primitives import (
    BlenderPlaced,
    ConeParams,
    CubeParams,
    CylinderParams,
    PlaneParams,
    SphereParams,
    TorusParams,
)
from bridge3d.api.models.rendering import RenderParams
from bridge3d.api.models.responses import (
    APIResponse,
    CreatedObject,
    Deleted,
    FileInfo,
    ObjectInfo,
    ObjectList,
    SceneInfo,
)
from bridge3d.api.models.scene import CameraParams, LightParams, SaveParams, TransformParams

from .common import add_common_routes

router = APIRouter(prefix="/api/v1/blender", tags=["blender"])
Name = Annotated[ObjectName, "object name"]
IMPORT_FORMATS = {
    ".glb": "GLB",
    ".gltf": "GLTF",
    ".obj": "OBJ",
    ".stl": "STL",
    ".fbx": "FBX",
    ".ply": "PLY",
    ".usd": "USD",
    ".usda": "USD",
    ".usdc": "USD",
    ".usdz": "USD",
}
Created = APIResponse[CreatedObject]
Result = APIResponse[dict[str, Any]]


async def _create(client: BlenderDep, kind: str, params: BlenderPlaced, settings: Settings) -> Created:
    payload = params.model_dump(exclude_none=True)
    limits.check_primitive_faces(kind, payload, settings)
    result = await client.send_command("primitive.create", {"type": kind, **payload})
    return APIResponse(result=services.created(result, kind))


@router.post("/primitives/cube", name="create_cube", response_model=Created, status_code=201)
async def create_cube(client: BlenderDep, params: CubeParams, settings: SettingsDep) -> Created:
    """Add a cube mesh (`size` = edge length)."""
    return await _create(client, "cube", params, settings)


@router.post("/primitives/sphere", name="create_sphere", response_model=Created, status_code=201)
async def create_sphere(client: BlenderDep, params: SphereParams, settings: SettingsDep) -> Created:
    """Add a UV sphere."""
    return await _create(client, "sphere", params, settings)


@router.post("/primitives/cylinder", name="create_cylinder", response_model=Created, status_code=201)
async def create_cylinder(client: BlenderDep, params: CylinderParams, settings: SettingsDep) -> Created:
    """Add a cylinder along local Z (`depth` = height)."""
    return await _create(client, "cylinder", params, settings)


@router.post("/primitives/cone", name="create_cone", response_model=Created, status_code=201)
async def create_cone(client: BlenderDep, params: ConeParams, settings: SettingsDep) -> Created:
    """Add a cone or truncated cone (`radius2` > 0)."""
    return await _create(client, "cone", params, settings)


@router.post("/primitives/torus", name="create_torus", response_model=Created, status_code=201)
async def create_torus(client: BlenderDep, params: TorusParams, settings: SettingsDep) -> Created:
    """Add a torus."""
    return await _create(client, "torus", params, settings)


@router.post("/primitives/plane", name="create_plane", response_model=Created, status_code=201)
async def create_plane(client: BlenderDep, params: PlaneParams, settings: SettingsDep) -> Created:
    """Add a square plane (`size` = edge length)."""
    return await _create(client, "plane", params, settings)


@router.get("/objects", name="list_objects", response_model=APIResponse[ObjectList])
async def list_objects(
    client: BlenderDep,
    settings: SettingsDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, description="page size, at most BRIDGE3D_MAX_OBJECTS_PER_REQUEST")] = 100,
    type: Annotated[str | None, Query(max_length=32, description="MESH, CAMERA, LIGHT, ...")] = None,  # noqa: A002
    name_contains: Annotated[str | None, Query(max_length=63)] = None,
) -> APIResponse[ObjectList]:
    """List objects, a page at a time, optionally filtered by type and name."""
    limits.check_page_size(limit, settings)
    params = {"offset": offset, "limit": limit, "type": type, "name_contains": name_contains}
    result = await client.send_command("object.list", {k: v for k, v in params.items() if v is not None})
    return APIResponse(result=ObjectList.model_validate(result))


@router.get("/objects/{name}", name="get_object", response_model=APIResponse[ObjectInfo])
async def get_object(client: BlenderDep, name: Name) -> APIResponse[ObjectInfo]:
    """One object's transform, bounds, mesh counts, materials, parent and visibility."""
    return APIResponse(result=ObjectInfo.model_validate(await client.send_command("object.get", {"name": name})))


@router.delete("/objects/{name}", name="delete_object", response_model=APIResponse[Deleted])
async def delete_object(client: BlenderDep, name: Name) -> APIResponse[Deleted]:
    """Delete an object."""
    return APIResponse(result=Deleted.model_validate(await client.send_command("object.delete", {"name": name})))


@router.patch("/objects/{name}", name="transform_object", response_model=APIResponse[ObjectInfo])
async def transform_object(client: BlenderDep, name: Name, params: TransformParams) -> APIResponse[ObjectInfo]:
    """Set (or with `relative`, add to) an object's location, rotation (degrees) and scale."""
    result = await client.send_command("object.transform", {"name": name, **params.model_dump(exclude_none=True)})
    return APIResponse(result=ObjectInfo.model_validate(result))


@router.post("/materials", name="create_material", response_model=Result, status_code=201)
async def create_material(client: BlenderDep, params: MaterialParams) -> Result:
    """Create a Principled BSDF material."""
    return APIResponse(result=await client.send_command("material.create", params.model_dump(exclude_none=True)))


@router.post("/materials/apply", name="apply_material", response_model=Result)
async def apply_material(client: BlenderDep, params: MaterialApplyParams) -> Result:
    """Assign a material to an object."""
    return APIResponse(result=await client.send_command("material.apply", params.model_dump()))


@router.get("/scene", name="get_scene", response_model=APIResponse[SceneInfo])
async def get_scene(client: BlenderDep) -> APIResponse[SceneInfo]:
    """Object count, render engine, frame range, units, active camera and Blender version."""
    return APIResponse(result=SceneInfo.model_validate(await client.send_command("scene.info")))


@router.delete("/scene", name="clear_scene", response_model=Result)
async def clear_scene(client: BlenderDep, orphans: Annotated[bool, Query()] = True) -> Result:
    """Delete every object (and, by default, orphaned meshes, materials, cameras and lights)."""
    return APIResponse(result=await client.send_command("scene.clear", {"orphans": orphans}))


@router.post("/scene/save", name="save_scene", response_model=APIResponse[FileInfo])
async def save_scene(client: BlenderDep, params: SaveParams) -> APIResponse[FileInfo]:
    """Save the scene as a .blend in the workspace; download it from the returned URL."""
    result = await client.send_command("scene.save", {"name": params.filepath} if params.filepath else {})
    return APIResponse(result=services.file_info("blender", result))


@router.post("/scene/open", name="open_scene", response_model=Result)
async def open_scene(client: BlenderDep, file: UploadFile, settings: SettingsDep) -> Result:
    """Upload a .blend and open it (replaces the current scene)."""
    services.check_extension(file.filename, {".blend": "BLEND"})
    uploaded = await services.upload(client, file, max_bytes=settings.max_upload_bytes)
    return APIResponse(result=await client.send_command("scene.open", {"name": uploaded["name"]}))


@router.post("/render", name="render_image", response_model=APIResponse[FileInfo])
async def render_image(client: BlenderDep, params: RenderParams, settings: SettingsDep) -> APIResponse[FileInfo]:
    """Render the scene to PNG or JPEG in the workspace. With no camera, one framing all objects is added."""
    limits.check_render(params.resolution, params.samples, settings)
    result = await client.send_command("render.image", params.model_dump(exclude_none=True))
    return APIResponse(result=services.file_info("blender", result))


@router.post("/export", name="export_scene", response_model=APIResponse[FileInfo])
async def export_scene(client: BlenderDep, params: BlenderExportParams, settings: SettingsDep) -> APIResponse[FileInfo]:
    """Export chosen objects (or all) as GLB, GLTF, OBJ, STL, FBX, PLY, USD or BLEND into the workspace."""
    limits.check_objects(params.objects, "objects", settings)
    payload: dict[str, Any] = {"format": params.format}
    if params.objects is not None:
        payload["objects"] = params.objects
    if params.filepath:
        payload["output"] = params.filepath
    return APIResponse(result=services.file_info("blender", await client.send_command("file.export", payload)))


@router.post("/import", name="import_file", response_model=Result)
async def import_file(client: BlenderDep, file: UploadFile, settings: SettingsDep) -> Result:
    """Upload a GLB, GLTF, OBJ, STL, FBX, PLY or USD file and import it into the scene."""
    file_format = services.check_extension(file.filename, IMPORT_FORMATS)
    await references.check_upload(file, file_format)
    uploaded = await services.upload(client, file, max_bytes=settings.max_upload_bytes)
    return APIResponse(
        result=await client.send_command("file.import", {"name": uploaded["name"], "format": file_format})
    )


@router.post("/camera", name="create_camera", response_model=Created, status_code=201)
async def create_camera(client: BlenderDep, params: CameraParams) -> Created:
    """Add a camera, aimed by rotation or at a `look_at` point; it becomes the scene camera by default."""
    result = await client.send_command("camera.create", params.model_dump(exclude_none=True))
    return APIResponse(result=services.created(result, "camera"))


@router.post("/light", name="create_light", response_model=Created, status_code=201)
async def create_light(client: BlenderDep, params: LightParams) -> Created:
    """Add a point, sun, spot or area light."""
    result = await client.send_command("light.create", params.model_dump(exclude_none=True))
    return APIResponse(result=services.created(result, "light"))


add_common_routes(router, "blender", blender_client)
