"""Routes every backend has: workspace files, batch and code execution."""
# No `from __future__ import annotations`: FastAPI must resolve the local `Client` alias at definition time.

from typing import Annotated, Any

from fastapi import APIRouter, Depends, UploadFile
from fastapi.responses import StreamingResponse

from bridge3d import commands
from bridge3d.api import limits, services
from bridge3d.api.clients.base_client import BaseSocketClient
from bridge3d.api.deps import SettingsDep, require_execute_allowed
from bridge3d.api.models.responses import APIResponse, BatchResult, FileInfo, responds
from bridge3d.api.rest import BatchOperation, Operation, Params
from bridge3d.commands import files, results
from bridge3d.commands.schema import Number, Param

FILE = Operation(files.FILE_READ, path=("name",), body=False)
DELETE_FILE = Operation(files.FILE_DELETE, path=("name",), body=False)
CLEAN_FILES = Operation(files.FILE_CLEAN, query=("older_than", "include_named"), body=False)
TIMEOUT = Param(
    "timeout",
    Number(exclusive_minimum=0.0),
    None,
    "seconds; at most BRIDGE3D_MAX_EXECUTE_TIMEOUT, which is also the cap on the default",
)


def add_common_routes(router: APIRouter, app: str, client_dependency: Any) -> None:
    """Register files, batch and execute routes for one backend on its router."""
    Client = Annotated[BaseSocketClient, Depends(client_dependency)]  # noqa: N806 - a type alias
    batch = BatchOperation(app)
    execute = Operation(commands.command(app, "code.execute"), extra=(TIMEOUT,))

    @router.get("/files", name="list_files", response_model=APIResponse[list[FileInfo]])
    async def list_files(client: Client) -> APIResponse[list[FileInfo]]:
        """List the files in the backend's workspace (renders, exports, saves, uploads): each with its `size`, when
        it was last written (`modified`, seconds since the epoch), its `age` in seconds and whether it is
        `generated` (written without a name: deleted by the retention policy when old or when room is needed)."""
        result = await client.send_command("file.list")
        return APIResponse(result=[services.file_info(app, item) for item in result["files"]])

    @router.post("/files", name="upload_file", response_model=APIResponse[FileInfo], status_code=201)
    async def upload_file(client: Client, file: UploadFile, settings: SettingsDep) -> APIResponse[FileInfo]:
        """Upload a file into the workspace under its own name (replacing one of that name), e.g. for a job."""
        return APIResponse(
            result=services.file_info(app, await services.upload(client, file, max_bytes=settings.max_upload_bytes))
        )

    @router.get(
        "/files/{name}",
        name="download_file",
        response_class=StreamingResponse,
        responses={
            200: {
                "content": {media_type: {} for media_type in services.DOWNLOAD_MEDIA_TYPES},
                "description": "the file's bytes",
            }
        },
        openapi_extra=FILE.openapi(),
    )
    async def download_file(client: Client, params: Annotated[Params, Depends(FILE.parse)]) -> StreamingResponse:
        """Download a workspace file (streamed from the host through `file.read`, so remote hosts work too)."""
        return await services.download(client, params["name"])

    @router.delete(
        "/files/{name}",
        name="delete_file",
        response_model=responds(results.DELETED),
        openapi_extra=DELETE_FILE.openapi(),
    )
    async def delete_file(client: Client, params: Annotated[Params, Depends(DELETE_FILE.parse)]) -> Any:
        """Delete a workspace file."""
        return APIResponse(result=await client.send_command("file.delete", params))

    @router.delete(
        "/files",
        name="clean_files",
        response_model=responds(results.CLEANED_FILES),
        openapi_extra=CLEAN_FILES.openapi(),
    )
    async def clean_files(client: Client, params: Annotated[Params, Depends(CLEAN_FILES.parse)]) -> Any:
        """Delete the generated files (renders, exports and saves written without a name) last written at least
        `older_than` seconds ago (default 0: all of them); `include_named=true` deletes files of every kind."""
        return APIResponse(result=await client.send_command("file.clean", params))

    @router.post("/batch", name="run_batch", response_model=APIResponse[BatchResult], openapi_extra=batch.openapi())
    async def run_batch(
        client: Client, body: Annotated[Params, Depends(batch.parse)], settings: SettingsDep
    ) -> APIResponse[BatchResult]:
        """Run host methods in order (one main-thread job), stopping at the first failure; each step is reported.

        Steps name host methods (`primitive.create`, `object.transform`, ...; see docs/blender.md and
        docs/freecad.md), each with its own params. A wrong step refuses the whole batch before anything runs; a
        step that fails while running ends the batch and the later steps are reported as `skipped`. Each step's
        result is compact (the names it made) unless `full` is true. Blender primitives of one batch may have
        BRIDGE3D_MAX_BATCH_FACES faces together.
        """
        result = await services.run_batch(client, body["steps"], full=body["full"], settings=settings)
        return APIResponse(result=BatchResult.model_validate(result))

    @router.post(
        "/execute",
        name="execute_code",
        response_model=responds(results.EXECUTED),
        dependencies=[Depends(require_execute_allowed)],
        openapi_extra=execute.openapi(),
    )
    async def execute_code(
        client: Client, params: Annotated[Params, Depends(execute.parse)], settings: SettingsDep
    ) -> Any:
        """Run Python inside the application; returns stdout, stderr and the value of a `result` variable."""
        sent, rest = execute.split(params)
        timeout = limits.execute_timeout(rest["timeout"], settings, client.settings.call_timeout)
        return APIResponse(result=await services.execute(client, sent, timeout))
