"""Routes every backend has: workspace files, batch and code execution."""
# No `from __future__ import annotations`: FastAPI must resolve the local `Client` alias at definition time.

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, UploadFile
from fastapi.responses import StreamingResponse

from bridge3d import commands
from bridge3d.api import limits, services
from bridge3d.api.clients.base_client import BaseSocketClient
from bridge3d.api.deps import SettingsDep, require_execute_allowed
from bridge3d.api.errors import ValidationFailed
from bridge3d.api.models.responses import APIResponse, BatchResult, FileInfo, responds
from bridge3d.api.rest import Operation, Params
from bridge3d.commands import files, results
from bridge3d.commands.schema import Boolean, Command, JsonSchema, Number, Param
from bridge3d.commands.signature import clean, params_schema
from bridge3d.rpc.errors import InvalidParams

FILE = Operation(files.FILE_READ, path=("name",), body=False)
DELETE_FILE = Operation(files.FILE_DELETE, path=("name",), body=False)
TIMEOUT = Param(
    "timeout",
    Number(exclusive_minimum=0.0),
    None,
    "seconds; at most BRIDGE3D_MAX_EXECUTE_TIMEOUT, which is also the cap on the default",
)
FULL = Param("full", Boolean(), False, "each step's full result (ObjectInfo) instead of the names it made")


class BatchOperation:
    """`/batch`: each step is a command of the application's table with its own params, checked by the command
    schema like a REST request (so a batch with one wrong step runs nothing)."""

    def __init__(self, app: str) -> None:
        self.app = app
        self.commands = {name: command for name, command in commands.TABLES[app].items() if command.batch}

    def step_schema(self, command: Command) -> JsonSchema:
        required_params = command.variant is not None or any(param.required for param in command.params)
        params = params_schema(command)
        for case in params.get("oneOf", [params]):
            limits.mark_limits(command.name, case["properties"])
        return {
            "type": "object",
            "title": command.name,
            "properties": {"method": {"const": command.name}, "params": params},
            "required": ["method", "params"] if required_params else ["method"],
            "additionalProperties": False,
        }

    def openapi(self) -> dict[str, Any]:
        steps = {
            "type": "array",
            "minItems": 1,
            "items": {"oneOf": [self.step_schema(command) for command in self.commands.values()]},
            "description": "at most BRIDGE3D_MAX_BATCH_STEPS",
        }
        properties = {"steps": steps, "full": FULL.json_schema()}
        limits.mark_limits("batch", properties)
        schema = {
            "type": "object",
            "properties": properties,
            "required": ["steps"],
            "additionalProperties": False,
        }
        return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}

    async def parse(self, request: Request) -> dict[str, Any]:
        try:
            body = json.loads(await request.body() or b"null")
        except (ValueError, RecursionError) as exc:
            reason = f"is not valid JSON: {exc}"
            raise ValidationFailed([{"field": "body", "location": "body", "reason": reason}]) from None
        errors: list[dict[str, str]] = []
        if not isinstance(body, dict) or not isinstance(body.get("steps"), list) or not body["steps"]:
            errors.append({"field": "steps", "reason": "must be a non-empty list of {method, params}"})
            body = body if isinstance(body, dict) else {}
        errors += [{"field": k, "reason": "is not a field of a batch"} for k in body if k not in ("steps", "full")]
        full = body.get("full", False)
        if not isinstance(full, bool):
            errors.append({"field": "full", "reason": "must be true or false"})
        steps = []
        for index, step in enumerate([] if errors else body["steps"]):
            where = f"steps[{index}]"
            command = self.commands.get(str(step.get("method"))) if isinstance(step, dict) else None
            if command is None:
                errors.append({"field": f"{where}.method", "reason": f"must be one of {', '.join(self.commands)}"})
                continue
            extra = [key for key in step if key not in ("method", "params")]
            errors += [{"field": f"{where}.{key}", "reason": "is not a field of a step"} for key in extra]
            params = step.get("params", {})
            if not isinstance(params, dict):
                errors.append({"field": f"{where}.params", "reason": "must be an object"})
                continue
            try:
                steps.append({"method": command.name, "params": clean(command, params)})
            except InvalidParams as exc:
                for error in exc.data["errors"]:
                    errors.append({"field": f"{where}.params.{error['field']}", "reason": error["reason"]})
        if errors:
            raise ValidationFailed([{**error, "location": "body"} for error in errors])
        return {"steps": steps, "full": full}


def add_common_routes(router: APIRouter, app: str, client_dependency: Any) -> None:
    """Register files, batch and execute routes for one backend on its router."""
    Client = Annotated[BaseSocketClient, Depends(client_dependency)]  # noqa: N806 - a type alias
    batch = BatchOperation(app)
    execute = Operation(commands.command(app, "code.execute"), extra=(TIMEOUT,))

    @router.get("/files", name="list_files", response_model=APIResponse[list[FileInfo]])
    async def list_files(client: Client) -> APIResponse[list[FileInfo]]:
        """List the files in the backend's workspace (renders, exports, saves, uploads)."""
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
