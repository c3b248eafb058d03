"""External file references inside uploaded model files, refused before the upload reaches the workspace.

A glTF names its buffers and images by URI, and Blender's importer follows any path it is given: an uploaded
.gltf whose buffer is `/home/user/.ssh/id_rsa` turns that file's bytes into vertex coordinates, which can then be
read back or exported. An OBJ's `mtllib` is read by Blender and FreeCAD from wherever it points, and a USD layer
composes sublayers, references and payloads from any path. So every name such a file gives must be a plain file
name in the workspace (a `data:...;base64,` URI for glTF; for USD also a relative path below the layer's folder).

The upload is checked as every format its content, not only its extension, could be imported as (a `.glb` holding
glTF JSON is read as JSON, as Blender's importer reads it), and a file that cannot be checked is refused. This is
the early, cheap refusal; the host servers run the same checks (`bridge3d.formats.references`) again before every
import, with the workspace at hand.
"""

from __future__ import annotations

from typing import Any

from fastapi import UploadFile
from starlette.concurrency import run_in_threadpool

from bridge3d.formats import references
from bridge3d.formats.names import MAX_REPORTED, UncheckableFile

from .errors import BadUploadError

REASONS = {
    "mtllib": "a material library (mtllib) is not a plain file name in the workspace",
    "usd_asset": "a layer, reference, payload or asset path points outside the workspace",
    "uri": "a buffer or image URI points outside the workspace",
}


def _refused(file_format: str, reason: str, found: list[dict[str, str]] | None = None) -> BadUploadError:
    details: dict[str, Any] = {"field": "file", "reason": reason}
    if found:
        details["references"] = found[:MAX_REPORTED]
        details["count"] = len(found)
    return BadUploadError(f"Refused {file_format} upload: {reason}", details)


def check_references(upload_file: UploadFile, file_format: str) -> None:
    """Blocking: reads the spooled upload (in chunks; a .glb only up to its JSON chunk, a crate to its tokens)."""
    handle = upload_file.file
    try:
        found = references.upload_references(file_format, upload_file.filename or "", handle)
    except UncheckableFile as exc:
        raise _refused(file_format, f"the file cannot be checked for references to other files ({exc})") from None
    finally:
        handle.seek(0)
    if found:
        raise _refused(file_format, REASONS.get(found[0]["kind"], "it names files outside the workspace"), found)


async def check_upload(upload_file: UploadFile, file_format: str) -> None:
    """Refuse an upload whose file pulls in files from outside the workspace, or cannot be checked for that (see
    docs/SECURITY.md). Every format is checked: a file declared as STL may hold glTF JSON or OBJ statements."""
    await run_in_threadpool(check_references, upload_file, file_format)
