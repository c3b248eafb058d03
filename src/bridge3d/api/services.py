"""What the Blender and FreeCAD routers share: workspace files, uploads, batches, created objects."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import UploadFile
from fastapi.responses import StreamingResponse

from .clients.base_client import BaseSocketClient
from .config import Settings
from .errors import (
    BackendTimeoutError,
    BadUploadError,
    ExecutionDisabledError,
    GatewayError,
    LimitExceededError,
    ParamLimitError,
)
from .models.rendering import RenderParams
from .models.responses import CreatedObject, FileInfo, ObjectInfo

DOWNLOAD_CHUNK_BYTES = 4 * 1024 * 1024
UPLOAD_CHUNK_BYTES = 4 * 1024 * 1024
CODE_METHODS = frozenset({"code.execute"})
MEDIA_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".glb": "model/gltf-binary",
    ".gltf": "model/gltf+json",
    ".obj": "model/obj",
    ".stl": "model/stl",
    ".step": "model/step",
    ".stp": "model/step",
    ".iges": "model/iges",
    ".igs": "model/iges",
}


def file_info(app: str, result: dict[str, Any]) -> FileInfo:
    """A host's file result plus the gateway URL that downloads it."""
    return FileInfo.model_validate({**result, "url": f"/api/v1/{app}/files/{result['name']}"})


def created(result: dict[str, Any], kind: str) -> CreatedObject:
    info = ObjectInfo.model_validate(result)
    return CreatedObject(object_id=info.name, message=f"Created {kind} {info.name}", object=info)


async def download(client: BaseSocketClient, name: str) -> StreamingResponse:
    """Stream a workspace file through file.read; the first chunk is read before answering so errors map to 4xx."""
    first = await client.send_command("file.read", {"name": name, "offset": 0, "length": DOWNLOAD_CHUNK_BYTES})

    async def chunks() -> AsyncIterator[bytes]:
        chunk = first
        while True:
            data = base64.b64decode(chunk["data"])
            yield data
            if chunk["eof"] or not data:
                return
            offset = chunk["offset"] + len(data)
            chunk = await client.send_command(
                "file.read", {"name": name, "offset": offset, "length": DOWNLOAD_CHUNK_BYTES}
            )

    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return StreamingResponse(
        chunks(),
        media_type=MEDIA_TYPES.get(suffix, "application/octet-stream"),
        headers={
            "Content-Length": str(first["size"]),
            "Content-Disposition": f'attachment; filename="{first["name"]}"',
        },
    )


async def upload(client: BaseSocketClient, upload_file: UploadFile, *, max_bytes: int) -> dict[str, Any]:
    """Copy an uploaded file into the host's workspace in chunks (atomically renamed on the last one)."""
    name = upload_file.filename or ""
    if not name:
        raise GatewayError("The upload needs a file name")
    offset = 0
    chunk = await upload_file.read(UPLOAD_CHUNK_BYTES)
    while True:
        following = await upload_file.read(UPLOAD_CHUNK_BYTES) if chunk else b""
        if offset + len(chunk) > max_bytes:
            raise LimitExceededError(f"The upload is larger than the {max_bytes}-byte limit", {"limit": max_bytes})
        result: dict[str, Any] = await client.send_command(
            "file.write",
            {"name": name, "data": base64.b64encode(chunk).decode("ascii"), "offset": offset, "final": not following},
        )
        offset += len(chunk)
        if not following:
            return result
        chunk = following


def check_extension(name: str | None, allowed: dict[str, str]) -> str:
    """The format for an upload's extension, or a 422 naming the accepted ones."""
    suffix = "." + (name or "").rsplit(".", 1)[-1].lower() if name and "." in name else ""
    if suffix not in allowed:
        raise BadUploadError(
            f"Unsupported file type {suffix or '(none)'}; accepted: {', '.join(sorted(allowed))}",
            {"field": "file", "accepted": sorted(allowed)},
        )
    return allowed[suffix]


async def run_batch(client: BaseSocketClient, steps: list[dict[str, Any]], *, allow_execute: bool) -> dict[str, Any]:
    """Run steps in order inside the host (batch.run), stopping at the first failure."""
    for index, step in enumerate(steps):
        if step["method"] in CODE_METHODS and not allow_execute:
            raise ExecutionDisabledError(
                f"Step {index} runs code, and code execution is switched off (BRIDGE3D_ALLOW_EXECUTE=false)",
                {"step": index},
            )
    result: dict[str, Any] = await client.send_command("batch.run", {"steps": steps})
    return result


async def execute(client: BaseSocketClient, code: str, timeout: float | None) -> dict[str, Any]:
    """code.execute with a time limit; on timeout the running script is interrupted (rpc.cancel)."""
    try:
        result: dict[str, Any] = await client.send_command("code.execute", {"code": code}, timeout=timeout)
    except BackendTimeoutError:
        with contextlib.suppress(GatewayError):
            await client.send_command("rpc.cancel", timeout=5)
        raise
    return result


def check_render_limits(params: RenderParams, settings: Settings) -> None:
    width, height = params.resolution
    if width * height > settings.max_render_pixels:
        raise ParamLimitError(
            f"resolution {width}x{height} is above the limit of {settings.max_render_pixels} pixels",
            {"field": "resolution", "limit": settings.max_render_pixels, "setting": "BRIDGE3D_MAX_RENDER_PIXELS"},
        )
    if params.samples > settings.max_render_samples:
        raise ParamLimitError(
            f"samples {params.samples} is above the limit of {settings.max_render_samples}",
            {"field": "samples", "limit": settings.max_render_samples, "setting": "BRIDGE3D_MAX_RENDER_SAMPLES"},
        )
