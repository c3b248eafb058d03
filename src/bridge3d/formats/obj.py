"""OBJ files and their material libraries: the statements that name other files.

Blender's OBJ importer reads a file in bytes, line by line (a line ends at '\\n'; a '\\' before it continues the
line). Before a keyword it skips every byte up to ' ' (control characters, NUL included) and, in some builds,
'\\' and bytes from 0x80 on (compared as signed char); a keyword must be followed by one such byte; the rest of the
line, trimmed, is the name (quotes around it removed). FreeCAD's reader takes ``^mtllib\\s+(.+)\\s*$`` of each
line. The patterns below accept all of that and more (any case, a line may also start after '\\r'), so a name
either reader would take is among the names found here. A file declared as OBJ (or named .obj, which is what
FreeCAD's mesh reader goes by) must also be text: no NUL byte, no UTF-16/32; a UTF-8 byte order mark is skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO

from .names import READ_CHUNK_BYTES, UncheckableFile, decode
from .sniff import UTF8_BOM, is_wide_text

# What a reader may skip before a keyword, what may separate a keyword from its argument (a continued line too:
# Blender up to 3.x turned '\\' + newline into spaces before parsing), and the argument, to the end of the line
# with its continuations.
_LEAD = rb"[\x00-\x20\x5c\x7f-\xff]*"
_SEPARATOR = rb"(?:\\\r?\n|[\x00-\x09\x0b-\x20\x5c\x7f-\xff])"
_ARGUMENT = rb"((?:\\\r?\n|[^\n])*)"
# OBJ statements that name files (the Wavefront spec); importers use mtllib, the others are checked as well.
_OBJ_FILE_STATEMENT = re.compile(
    rb"(?:^|[\r\n])" + _LEAD + rb"(mtllib|maplib|call|shadow_obj|trace_obj)" + _SEPARATOR + _ARGUMENT,
    re.IGNORECASE,
)
# Texture statements of an .mtl: "map_Kd [-options values] file" and the older names.
_MTL_TEXTURE_STATEMENT = re.compile(
    rb"(?:^|[\r\n])" + _LEAD + rb"(map_\w+|bump|disp|decal|refl|norm)" + _SEPARATOR + _ARGUMENT, re.IGNORECASE
)
_OBJ_KEYWORDS = (b"mtllib", b"maplib", b"call", b"shadow_obj", b"trace_obj")
_MTL_KEYWORDS = (b"map_", b"bump", b"disp", b"decal", b"refl", b"norm")
_CONTROL_AND_SPACE = bytes(range(0x21))
_WORD_SEPARATORS = re.compile(rb"[\x00-\x20]+")
MAX_LINE_CARRY = 64 * 1024  # Blender reads an OBJ in 64 KiB buffers and stops at a longer line


def obj_references(handle: IO[bytes], *, text: bool = True) -> Iterator[str]:
    """The arguments of every file statement (``mtllib`` ...), read in chunks, as whole arguments and as words
    (importers differ on names with spaces). With ``text`` (a file read as OBJ), a file that is not text is
    refused (UncheckableFile). A continued line yields a name with a backslash, which no rule allows."""
    return _statement_arguments(handle, _OBJ_FILE_STATEMENT, _OBJ_KEYWORDS, text)


def mtl_texture_references(handle: IO[bytes]) -> Iterator[str]:
    """The arguments of every texture statement of a material library (``map_Kd [-options] file`` ...)."""
    return _statement_arguments(handle, _MTL_TEXTURE_STATEMENT, _MTL_KEYWORDS, True)


def _check_text(head: bytes) -> None:
    if is_wide_text(head):
        raise UncheckableFile("UTF-16 or UTF-32 text, which the OBJ readers do not read as text")


def _statement_arguments(
    handle: IO[bytes], statement: re.Pattern[bytes], keywords: tuple[bytes, ...], text: bool
) -> Iterator[str]:
    handle.seek(0)
    carry = b""
    skipping = False  # inside a physical line too long to hold; its start was already checked
    first = True
    while True:
        chunk = handle.read(READ_CHUNK_BYTES)
        if first:
            first = False
            if text:
                _check_text(chunk[:4])
            if chunk.startswith(UTF8_BOM):
                chunk = chunk[len(UTF8_BOM) :]
        if text and b"\0" in chunk:
            raise UncheckableFile("it holds NUL bytes, so it is not a text file")
        buffer = carry + chunk
        if chunk:
            cut = _end_of_last_line(buffer)  # whole lines only: an argument runs to '\n', across any '\r'
            complete, carry = buffer[:cut], buffer[cut:]
        else:
            complete, carry = buffer, b""
        if skipping:
            newline = complete.find(b"\n")
            if newline < 0:
                complete = b""
            else:
                complete, skipping = complete[newline:], False
        lowered = complete.lower()  # a plain search first: most chunks of a large model hold no statement at all
        if any(keyword in lowered for keyword in keywords):
            for match in statement.finditer(complete):
                yield from _statement_names(match.group(2))
        if len(carry) > MAX_LINE_CARRY:
            long_line = statement.match(b"\n" + carry)
            if long_line is not None:
                yield decode(long_line.group(2))  # longer than any file name: refused
            carry, skipping = b"", True
        if not chunk:
            return


def _end_of_last_line(buffer: bytes) -> int:
    """Where the last whole line of ``buffer`` ends (0 if none): after a '\\n' that does not continue the line."""
    end = buffer.rfind(b"\n")
    while end > 0 and (buffer[end - 1 : end] == b"\\" or buffer[max(end - 2, 0) : end] == b"\\\r"):
        end = buffer.rfind(b"\n", 0, end - 1)
    return end + 1


def _statement_names(argument: bytes) -> Iterator[str]:
    """The name as each reader may take it: trimmed (and unquoted, as Blender does), and each word. A '\\r' some
    readers drop stays in the whole name, which no rule allows."""
    whole = argument.strip(_CONTROL_AND_SPACE)
    candidates = [whole]
    if len(whole) > 2 and whole.startswith(b'"') and whole.endswith(b'"'):
        candidates.append(whole[1:-1])
    words = _WORD_SEPARATORS.split(whole)
    if len(words) > 1:
        candidates += words
    for candidate in dict.fromkeys(candidates):
        yield decode(candidate)
