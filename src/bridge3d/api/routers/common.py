"""Routes every backend has: workspace files, batch and code execution."""
# No `from __future__ import annotations`: FastAPI must resolve the local `Client` alias at definition time.

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from fastapi.responses import StreamingResponse

from bridge3d.api import limits, services
from bridge3d.api.clients.base_client import BaseSocketClient
from bridge3d.api.deps import SettingsDep, require_execute_allowed
from bridge3d.api.models.common import FileName
from bridge3d.api.models.responses import APIResponse, BatchResult, FileInfo
from bridge3d.api.models.scene import BatchParams, ExecuteParams

FilePath = Annotated[FileName, Path(description="file name in the workspace")]


def add_common_routes(router: APIRouter, app: str, client_dependency: Any) -> None:
    """Register files, batch and execute routes for one backend on its router."""
    Client = Annotated[BaseSocketClient, Depends(client_dependency)]  # noqa: N806 - a type alias

    @router.get("/files", name="list_files", response_model=APIResponse[list[FileInfo]])
    async def list_files(client: Client) -> APIResponse[list[FileInfo]]:
        """List the files in the backend's workspace (renders, exports, saves, uploads)."""
        result = await client.send_command("file.list")
        return APIResponse(result=[services.file_info(app, item) for item in result["files"]])

    @router.get(
        "/files/{name}",
        name="download_file",
        response_class=StreamingResponse,
        responses={200: {"content": {"application/octet-stream": {}}, "description": "the file's bytes"}},
    )
    async def download_file(client: Client, name: FilePath) -> StreamingResponse:
        """Download a workspace file (streamed from the host through `file.read`, so remote hosts work too)."""
        return await services.download(client, name)

    @router.delete("/files/{name}", name="delete_file", response_model=APIResponse[dict[str, Any]])
    async def delete_file(client: Client, name: FilePath) -> APIResponse[dict[str, Any]]:
        """Delete a workspace file."""
        return APIResponse(result=await client.send_command("file.delete", {"name": name}))

    @router.post("/batch", name="run_batch", response_model=APIResponse[BatchResult])
    async def run_batch(client: Client, body: BatchParams, settings: SettingsDep) -> APIResponse[BatchResult]:
        """Run host methods in order (one main-thread job), stopping at the first failure; each step is reported.

        Steps name host methods (`primitive.create`, `object.transform`, ...; see docs/blender.md and
        docs/freecad.md). A failed step ends the batch; the later steps are reported as `skipped`.
        """
        steps: list[dict[str, Any]] = body.model_dump()["steps"]  # one call: a dump per step costs 6 µs each
        result = await services.run_batch(client, steps, settings=settings)
        return APIResponse(result=BatchResult.model_validate(result))

    @router.post(
        "/execute",
        name="execute_code",
        response_model=APIResponse[dict[str, Any]],
        dependencies=[Depends(require_execute_allowed)],
    )
    async def execute_code(client: Client, body: ExecuteParams, settings: SettingsDep) -> APIResponse[dict[str, Any]]:
        """Run Python inside the application; returns stdout, stderr and the value of a `result` variable."""
        timeout = limits.execute_timeout(body.timeout, settings, client.settings.call_timeout)
        return APIResponse(result=await services.execute(client, body.code, timeout))
