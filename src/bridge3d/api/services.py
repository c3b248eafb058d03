"""What the Blender and FreeCAD routers share: workspace files, uploads, batches, created objects."""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar
from urllib.parse import quote

from fastapi import UploadFile
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from bridge3d.rpc.client import RpcConnectionError, RpcTimeout
from bridge3d.rpc.errors import RpcError

from . import limits
from .clients.base_client import BaseSocketClient
from .config import Settings
from .errors import BadUploadError, LimitExceededError
from .models.responses import FileInfo

CreatedModel = TypeVar("CreatedModel", bound=BaseModel)
logger = logging.getLogger(__name__)

DOWNLOAD_CHUNK_BYTES = 4 * 1024 * 1024
_FILENAME_PARAMETER = re.compile(r'(?:^|;)\s*filename\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)', re.IGNORECASE)
UPLOAD_CHUNK_BYTES = 4 * 1024 * 1024
MEDIA_TYPES = {  # by extension; anything else is application/octet-stream
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
DOWNLOAD_MEDIA_TYPES = sorted({*MEDIA_TYPES.values(), "application/octet-stream"})


def file_info(app: str, result: dict[str, Any]) -> FileInfo:
    """A host's file result plus the gateway URL that downloads it."""
    return FileInfo.model_validate({**result, "url": f"/api/v1/{app}/files/{quote(result['name'], safe='')}"})


def created(model: type[CreatedModel], result: dict[str, Any], kind: str) -> CreatedModel:
    """The 201 answer to a create: the name the application gave (``object_id``) and the object's info."""
    name = result["name"]
    return model.model_validate({"object_id": name, "message": f"Created {kind} {name}", "object": result})


async def read_chunks(client: BaseSocketClient, name: str) -> AsyncIterator[tuple[dict[str, Any], bytes]]:
    """A workspace file through file.read, chunk by chunk: (the chunk's reply, its bytes); the first reply says the
    file's size. Works for a host on another machine too: nothing here touches the gateway's disk."""
    offset = 0
    while True:
        chunk = await client.send_command("file.read", {"name": name, "offset": offset, "length": DOWNLOAD_CHUNK_BYTES})
        data = base64.b64decode(chunk["data"])
        yield chunk, data
        if chunk["eof"] or not data:
            return
        offset = chunk["offset"] + len(data)


async def download(client: BaseSocketClient, name: str) -> StreamingResponse:
    """Stream a workspace file through file.read; the first chunk is read before answering so errors map to 4xx."""
    chunks = read_chunks(client, name)
    first, first_data = await anext(chunks)

    async def body() -> AsyncIterator[bytes]:
        yield first_data
        async for _, data in chunks:
            yield data

    return StreamingResponse(
        body(),
        media_type=media_type(name),
        headers={
            "Content-Length": str(first["size"]),
            "Content-Disposition": content_disposition(first["name"]),
        },
    )


async def copy_file(source: BaseSocketClient, name: str, target: BaseSocketClient, target_name: str) -> int:
    """Copy a workspace file from one host server to another (file.read, then file.write); the bytes copied."""
    offset = 0
    async for chunk, data in read_chunks(source, name):
        final = bool(chunk["eof"]) or not data
        await target.send_command(
            "file.write", {"name": target_name, "data": chunk["data"], "offset": offset, "final": final}
        )
        offset += len(data)
    return offset


def media_type(name: str) -> str:
    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return MEDIA_TYPES.get(suffix, "application/octet-stream")


def content_disposition(name: str) -> str:
    """`attachment` with the name as ASCII fallback plus RFC 5987 UTF-8 (headers are latin-1; names may be any text)."""
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\' else "_" for ch in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def upload_name(upload_file: UploadFile) -> str:
    """The upload's file name. A path is refused here: the multipart parser would quietly cut 'C:\\dir\\x.stl'
    down to 'x.stl', and a client that sends a path has made a mistake (or is probing)."""
    sent = _FILENAME_PARAMETER.search(upload_file.headers.get("content-disposition", ""))
    if not upload_file.filename or (sent is not None and ("/" in sent.group(1) or "\\" in sent.group(1))):
        raise BadUploadError(
            "The upload needs a plain file name (no folders)", {"field": "file", "reason": "not a plain file name"}
        )
    return upload_file.filename


async def upload(client: BaseSocketClient, upload_file: UploadFile, *, max_bytes: int) -> dict[str, Any]:
    """Copy an uploaded file into the host's workspace in chunks (atomically renamed on the last one)."""
    name = upload_name(upload_file)
    offset = 0
    chunk = await upload_file.read(UPLOAD_CHUNK_BYTES)
    while True:
        following = await upload_file.read(UPLOAD_CHUNK_BYTES) if chunk else b""
        if offset + len(chunk) > max_bytes:
            raise LimitExceededError(
                f"The upload is larger than the {max_bytes}-byte limit (BRIDGE3D_MAX_UPLOAD_BYTES)",
                {"limit": max_bytes, "setting": "BRIDGE3D_MAX_UPLOAD_BYTES"},
            )
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


async def run_batch(
    client: BaseSocketClient, steps: list[dict[str, Any]], *, full: bool, settings: Settings
) -> dict[str, Any]:
    """Run checked steps in order inside the host (batch.run), stopping at the first failure.

    Nothing runs unless every step passes the limits its REST route would apply (and the execute switch).
    """
    limits.check_batch(steps, settings)
    if client.app_name == "blender":
        limits.check_geometry(steps, settings)
    result: dict[str, Any] = await client.send_command("batch.run", {"steps": steps, "full": full})
    return result


async def execute(
    client: BaseSocketClient,
    params: dict[str, Any],
    timeout: float | None,
    *,
    on_start: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """code.execute with a time limit; on timeout the running script is interrupted (rpc.cancel).

    Executions take turns on the backend (``client.execution_lock``); the time limit starts with the turn, and
    ``on_start`` is called then.
    """
    async with client.execution_lock:
        if on_start is not None:
            on_start()
        try:
            result: dict[str, Any] = await client.send_command("code.execute", params, timeout=timeout)
        except RpcTimeout:
            try:
                await client.cancel()
            except (RpcConnectionError, RpcTimeout, RpcError) as exc:
                logger.warning("%s: could not interrupt the timed-out execution: %s", client.app_name, exc)
            raise
        return result
