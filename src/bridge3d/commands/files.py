"""The workspace file methods both host servers have (answered on the IO thread: they touch no application data)."""

from __future__ import annotations

from ..rpc.workspace import DEFAULT_CHUNK_BYTES, MAX_CHUNK_BYTES
from . import results as r
from .schema import REQUIRED, Boolean, Command, Field, FileName, Integer, Number, Param, Shape, Text

NAME = Param("name", FileName(), REQUIRED, "a file in the workspace")
OFFSET = Param("offset", Integer(minimum=0), 0, "byte offset")

FILE_LIST = Command(
    "file.list",
    "The regular files of the workspace (renders, exports, saves, uploads), each with its size and age, and whether "
    "it is generated (written without a name: the retention policy deletes it).",
    result=Shape(
        "Files",
        (Field("files", "array", "{name, size, modified, age, generated} each", items="object"),),
    ),
    batch=False,
    main_thread=False,
)
FILE_READ = Command(
    "file.read",
    "One chunk of a workspace file, base64.",
    (NAME, OFFSET, Param("length", Integer(minimum=1, maximum=MAX_CHUNK_BYTES), DEFAULT_CHUNK_BYTES, "bytes at most")),
    Shape(
        "FileChunk",
        (
            Field("name", "string"),
            Field("size", "integer"),
            Field("offset", "integer"),
            Field("data", "string"),
            Field("eof", "boolean"),
        ),
    ),
    batch=False,
    main_thread=False,
)
FILE_WRITE = Command(
    "file.write",
    "Append one base64 chunk to an upload; the final one moves the file into place.",
    (
        NAME,
        Param("data", Text(max_length=(MAX_CHUNK_BYTES + 2) // 3 * 4), REQUIRED, "the chunk, base64"),
        Param("offset", Integer(minimum=0), 0, "0 to start, the bytes written so far to continue"),
        Param("final", Boolean(), True, "the last chunk"),
    ),
    Shape("Written", (Field("name", "string"), Field("size", "integer"), Field("complete", "boolean"))),
    batch=False,
    main_thread=False,
)
FILE_DELETE = Command(
    "file.delete", "Delete a workspace file.", (NAME,), r.DELETED, mutating=True, batch=False, main_thread=False
)

FILE_CLEAN = Command(
    "file.clean",
    "Delete the generated files (renders, exports and saves written without a name) last written at least "
    "older_than seconds ago; with include_named, files named by a client too.",
    (
        Param("older_than", Number(minimum=0.0), 0.0, "seconds since the file was last written; 0: every age"),
        Param("include_named", Boolean(), False, "also delete uploads and outputs written under a client's name"),
    ),
    r.CLEANED_FILES,
    mutating=True,
    batch=False,
    main_thread=False,
)

COMMANDS: dict[str, Command] = {
    command.name: command for command in (FILE_LIST, FILE_READ, FILE_WRITE, FILE_DELETE, FILE_CLEAN)
}
