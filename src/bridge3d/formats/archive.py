"""Zip archives (USD packages, FreeCAD documents) read the way the applications read them.

Python's ``zipfile`` reads an archive through its central directory, at the end of the file. USD's package reader
and FreeCAD's document reader (zipios' ZipInputStream) do not: they walk the *local* headers from the first byte
on, and FreeCAD parses whatever the first entry holds as the document, whatever its name. An archive whose central
directory lists other entries than its local headers (or the same name twice) would show the checker one file and
the application another, so everything here follows the local headers, as those readers do.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from .names import READ_CHUNK_BYTES, UncheckableFile
from .sniff import ZIP_MAGIC

_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")  # signature ... file name length, extra field length (30 bytes)
ENCRYPTED = 0x01
SIZES_AFTER_DATA = 0x08  # a data descriptor follows the data; the header's sizes are zero
STORED, DEFLATED = 0, 8
MAX_ENTRIES = 100_000


@dataclass(frozen=True)
class LocalEntry:
    name: str  # as stored, undecodable bytes kept (surrogateescape)
    flags: int
    method: int
    data_offset: int
    compressed_size: int  # as the local header gives it (what USD uses)


def local_entries(handle: IO[bytes]) -> Iterator[LocalEntry]:
    """Every entry from the local headers at the start of the file on, until a record that is not a local header
    (the central directory). Like USD's reader, an entry's data is taken to be as long as its local header says."""
    offset = 0
    for _ in range(MAX_ENTRIES):
        handle.seek(offset)
        fixed = handle.read(_LOCAL_HEADER.size)
        if len(fixed) < _LOCAL_HEADER.size or fixed[:4] != ZIP_MAGIC:
            return
        _, _, flags, method, _, _, _, compressed, _, name_length, extra_length = _LOCAL_HEADER.unpack(fixed)
        name = handle.read(name_length)
        if len(name) != name_length:
            raise UncheckableFile("a zip entry's header is cut short")
        data_offset = offset + _LOCAL_HEADER.size + name_length + extra_length
        yield LocalEntry(name.decode("utf-8", "surrogateescape"), flags, method, data_offset, compressed)
        offset = data_offset + compressed
    raise UncheckableFile("too many entries in a zip archive")


class _Slice(io.RawIOBase):
    """A seekable read-only view of ``size`` bytes of ``handle`` from ``start``."""

    def __init__(self, handle: IO[bytes], start: int, size: int) -> None:
        super().__init__()
        self._handle, self._start, self._size, self._position = handle, start, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        count = min(len(buffer), self._size - self._position)
        if count <= 0:
            return 0
        self._handle.seek(self._start + self._position)
        data = self._handle.read(count)
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def tell(self) -> int:
        return self._position


def stored_entry(handle: IO[bytes], entry: LocalEntry) -> IO[bytes]:
    """The data of an uncompressed entry, as a seekable file (USD reads packaged layers only uncompressed)."""
    if entry.flags & ENCRYPTED or entry.method != STORED:
        raise UncheckableFile(f"{entry.name!r} in the package is compressed or encrypted")
    return io.BufferedReader(_Slice(handle, entry.data_offset, entry.compressed_size))


def entry_chunks(handle: IO[bytes], entry: LocalEntry, limit: int) -> Iterator[bytes]:
    """The uncompressed data of an entry (stored or deflated), in chunks, at most ``limit`` bytes.

    A deflated entry whose sizes follow its data is read to the end of its deflate stream."""
    if entry.flags & ENCRYPTED:
        raise UncheckableFile(f"{entry.name!r} is encrypted")
    position = entry.data_offset

    def read(size: int) -> bytes:  # from where this entry's reading left off, whoever moved the handle since
        nonlocal position
        handle.seek(position)
        data = handle.read(size)
        position += len(data)
        return data

    unknown_size = bool(entry.flags & SIZES_AFTER_DATA)
    if entry.method == STORED and not unknown_size:
        left = entry.compressed_size
        if left > limit:
            raise UncheckableFile(f"{entry.name!r} is too large to check")
        while left:
            chunk = read(min(READ_CHUNK_BYTES, left))
            if not chunk:
                raise UncheckableFile(f"{entry.name!r} is cut short")
            left -= len(chunk)
            yield chunk
        return
    if entry.method != DEFLATED:
        raise UncheckableFile(f"{entry.name!r} is stored in a way that cannot be checked (method {entry.method})")
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    remaining = None if unknown_size else entry.compressed_size
    produced = 0
    while not inflater.eof:
        data = inflater.unconsumed_tail
        if not data:
            want = READ_CHUNK_BYTES if remaining is None else min(READ_CHUNK_BYTES, remaining)
            data = read(want) if want else b""
            if remaining is not None:
                remaining -= len(data)
        chunk = inflater.decompress(data, READ_CHUNK_BYTES)
        if not chunk and not data:
            raise UncheckableFile(f"{entry.name!r} is cut short")
        produced += len(chunk)
        if produced > limit:
            raise UncheckableFile(f"{entry.name!r} is too large to check")
        if chunk:
            yield chunk
