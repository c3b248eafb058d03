"""External file references inside uploaded model files, refused before the upload reaches the workspace.

A glTF names its buffers and images by URI, and Blender's importer follows any path it is given: an uploaded
.gltf whose buffer is `/home/user/.ssh/id_rsa` turns that file's bytes into vertex coordinates, which can then be
read back or exported. An OBJ's `mtllib` is read by Blender and FreeCAD from wherever it points, and a USD layer
composes sublayers, references and payloads from any path. So every name such a file gives must be a plain file
name in the workspace (a `data:` URI for glTF; for USD also a relative path below the layer's folder). The host
servers check the same again before importing (`bridge3d.rpc.references`); this is the early, cheap refusal.
"""

from __future__ import annotations

from typing import Any

from fastapi import UploadFile
from starlette.concurrency import run_in_threadpool

from bridge3d.rpc import references

from .errors import BadUploadError

CHECKED_FORMATS = ("OBJ", "GLTF", "GLB", "USD")


def _refused(file_format: str, reason: str, names: list[str] | None = None, source: str = "") -> BadUploadError:
    details: dict[str, Any] = {"field": "file", "reason": reason}
    if names:
        kind = references.REFERENCE_KINDS[file_format]
        details["references"] = references.reported(kind, source, names[: references.MAX_REPORTED])
        details["count"] = len(names)
    return BadUploadError(f"Refused {file_format} upload: {reason}", details)


def check_references(upload_file: UploadFile, file_format: str) -> None:
    """Blocking: reads the spooled upload (in chunks for OBJ and USD; a .glb only up to its JSON chunk)."""
    handle = upload_file.file
    handle.seek(0)
    try:
        refused = references.names_outside(file_format, handle)
    except references.UncheckableFile as exc:
        raise _refused(file_format, f"the file cannot be checked for references to other files ({exc})") from None
    finally:
        handle.seek(0)
    if refused:
        what = {
            "OBJ": "a material library (mtllib) is not a plain file name in the workspace",
            "USD": "a layer, reference, payload or asset path points outside the workspace",
        }.get(file_format, "a buffer or image URI points outside the workspace")
        raise _refused(file_format, what, refused, upload_file.filename or "")


async def check_upload(upload_file: UploadFile, file_format: str) -> None:
    """Refuse an upload whose file pulls in files from outside the workspace (see docs/SECURITY.md)."""
    if file_format in CHECKED_FORMATS:
        await run_in_threadpool(check_references, upload_file, file_format)
