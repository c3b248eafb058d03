"""The live viewer: `GET /viewer` (the page), its static files, and `GET /api/v1/{app}/view.glb` (the scene as GLB).

The page and its files are open, like `/docs`: a browser navigation cannot send a header, and they hold no data.
The page asks for the API key itself and sends it as `X-API-Key` (and as a WebSocket subprotocol). The GLB routes
get the key check main.py gives every `/api/v1` router (`build_router(protected)`). The page's
Content-Security-Policy allows this origin only: no script, style, image or connection elsewhere (three.js is
served from the package, see scripts/install.sh).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, params
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.exceptions import HTTPException

from bridge3d import commands
from bridge3d.api import limits
from bridge3d.api.clients.base_client import BaseSocketClient
from bridge3d.api.config import Settings
from bridge3d.api.deps import BlenderDep, FreeCADDep, SettingsDep
from bridge3d.api.errors import CommandExecutionError
from bridge3d.api.models.responses import ErrorResponse
from bridge3d.api.rest import Operation, Params
from bridge3d.formats.glb import GlbError, with_asset_extras
from bridge3d.rpc import errors as rpc_errors

pages = APIRouter()  # open
scenes = APIRouter()  # the key check is added by build_router

STATIC_DIR = Path(__file__).resolve().parent.parent / "viewer" / "static"
PAGE = STATIC_DIR / "index.html"
STATIC_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", "": "text/plain"}
GLB_MEDIA_TYPE = "model/gltf-binary"
_IMPORT_MAP = re.compile(rb"<script type=\"importmap\">(.*?)</script>", re.DOTALL)

BLENDER_VIEW = Operation(commands.command("blender", "view.glb"), query=("objects",), body=False)
FREECAD_VIEW = Operation(commands.command("freecad", "view.glb"), query=("objects", "document"), body=False)
GLB_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {GLB_MEDIA_TYPE: {}},
        "description": "Binary glTF, Z up, one node per object named after it; `asset.extras.bridge3d` holds "
        "`objects` (each object's info), `missing` and, for FreeCAD, `document`",
    },
    **{
        status: {"model": ErrorResponse, "description": description}
        for status, description in {
            401: "Missing or wrong API key",
            404: "No such document",
            422: "Invalid request (details.errors) or too many objects (LIMIT_EXCEEDED)",
            502: "The backend failed unexpectedly",
            503: "The backend is unreachable or busy",
            504: "The backend did not answer in time",
        }.items()
    },
}


def content_security_policy(page: bytes) -> str:
    """This origin only; the page's one inline script (its import map) by hash."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode("ascii") + "'"
        for script in _IMPORT_MAP.findall(page)
    )
    return (
        f"default-src 'none'; script-src 'self' {hashes}; style-src 'self'; img-src 'self' blob: data:; "
        "connect-src 'self' blob: data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


def build_router(protected: Sequence[params.Depends]) -> APIRouter:
    """The viewer's routes: the page and its files open, the GLB routes with ``protected`` (the key check)."""
    router = APIRouter()
    router.include_router(pages)
    router.include_router(scenes, dependencies=protected)
    return router


@pages.get("/viewer", include_in_schema=False)
async def viewer_page() -> HTMLResponse:
    """The viewer page (docs/VIEWER.md)."""
    page = PAGE.read_bytes()
    return HTMLResponse(
        page,
        headers={
            "Content-Security-Policy": content_security_policy(page),
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )


@pages.get("/viewer/static/{path:path}", include_in_schema=False)
async def viewer_static(path: str) -> FileResponse:
    """The page's scripts and styles and the vendored three.js (with its LICENSE); nothing else."""
    candidate = (STATIC_DIR / path).resolve()
    suffix = candidate.suffix
    if (
        not candidate.is_relative_to(STATIC_DIR)
        or any(part.startswith(".") for part in Path(path).parts)
        or suffix not in STATIC_TYPES
        or (suffix == "" and candidate.name != "LICENSE")
        or not candidate.is_file()
    ):
        raise HTTPException(404, f"No viewer file {path!r}")
    return FileResponse(
        candidate,
        media_type=STATIC_TYPES[suffix],
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )


async def send_view(client: BaseSocketClient, params: dict[str, Any], settings: Settings) -> Response:
    """Ask the host for `view.glb`, put its object infos into the GLB (`asset.extras.bridge3d`), answer the bytes."""
    limits.check_objects(params["objects"], "objects", settings)
    result = await client.send_command("view.glb", params)
    extras = {key: value for key, value in result.items() if key not in ("glb", "size")}
    try:
        data = with_asset_extras(base64.b64decode(result["glb"], validate=True), {"bridge3d": extras})
    except (KeyError, TypeError, binascii.Error, GlbError) as exc:
        raise CommandExecutionError(
            rpc_errors.INTERNAL_ERROR, f"view.glb answered no readable GLB: {exc}", backend=client.app_name
        ) from None
    return Response(
        data,
        media_type=GLB_MEDIA_TYPE,
        headers={"Cache-Control": "no-store", "Content-Disposition": f'inline; filename="{client.app_name}-view.glb"'},
    )


@scenes.get(
    "/api/v1/blender/view.glb",
    tags=["blender"],
    name="view_glb",
    response_class=Response,
    responses=GLB_RESPONSES,
    openapi_extra=BLENDER_VIEW.openapi(),
)
async def blender_view(
    client: BlenderDep, settings: SettingsDep, params: Annotated[Params, Depends(BLENDER_VIEW.parse)]
) -> Response:
    """The scene (or some objects) as binary glTF for the live viewer: visible objects with their material colours.

    Exported by Blender's glTF exporter into a private temporary folder, never into the workspace.
    """
    return await send_view(client, params, settings)


@scenes.get(
    "/api/v1/freecad/view.glb",
    tags=["freecad"],
    name="view_glb",
    response_class=Response,
    responses=GLB_RESPONSES,
    openapi_extra=FREECAD_VIEW.openapi(),
)
async def freecad_view(
    client: FreeCADDep, settings: SettingsDep, params: Annotated[Params, Depends(FREECAD_VIEW.parse)]
) -> Response:
    """A document's visible shapes (or some objects) tessellated to binary glTF for the live viewer (mm, Z up).

    Colours are the GUI's ShapeColor when FreeCAD runs with its GUI, else a fixed palette by object name.
    """
    return await send_view(client, params, settings)
