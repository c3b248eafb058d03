"""Uploads from a path, a file object or bytes, and downloads streamed to disk, round trip through the real
workspaces (sync and async), including a file larger than the gateway's 4 MiB chunks."""

from __future__ import annotations

import asyncio
import io
import os
from pathlib import Path

import pytest

from bridge3d.client import AsyncClient, Client, NotFoundError
from gateway import Gateway

BIG = 9 * 1024 * 1024 + 123  # three of the gateway's 4 MiB download chunks, the last one short


def test_upload_sources_and_download_targets(client: Client, tmp_path: Path) -> None:
    files = client.blender.files
    source = tmp_path / "sdk-from-path.bin"
    source.write_bytes(b"from a path")
    assert files.upload(source).name == "sdk-from-path.bin"
    with source.open("rb") as handle:
        handle.seek(5)  # a file object is sent whole (httpx seeks to its start)
        assert files.upload(handle, filename="sdk-from-handle.bin").size == len(b"from a path")
    assert files.upload(io.BytesIO(b"from memory"), filename="sdk-from-memory.bin").size == 11
    assert files.upload(b"plain bytes", filename="sdk-from-bytes.bin").size == 11
    with pytest.raises(ValueError, match="filename"):
        files.upload(io.BytesIO(b"no name"))

    folder = tmp_path / "downloads"
    folder.mkdir()
    assert files.download("sdk-from-path.bin", folder).read_bytes() == b"from a path"
    assert files.download("sdk-from-handle.bin", folder / "renamed.bin").read_bytes() == b"from a path"
    assert files.read("sdk-from-memory.bin") == b"from memory"
    assert sorted(path.name for path in folder.iterdir()) == ["renamed.bin", "sdk-from-path.bin"]
    for name in ("sdk-from-path.bin", "sdk-from-handle.bin", "sdk-from-memory.bin", "sdk-from-bytes.bin"):
        files.delete(name)


def test_a_missing_file_leaves_nothing_behind(client: Client, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError) as caught:
        client.freecad.files.download("sdk-not-there.step", tmp_path)
    assert caught.value.field == "name"
    assert list(tmp_path.iterdir()) == []


def test_a_big_file_round_trip_streams_to_disk(client: Client, tmp_path: Path) -> None:
    payload = os.urandom(BIG)
    source = tmp_path / "sdk-big.bin"
    source.write_bytes(payload)
    uploaded = client.freecad.files.upload(source)
    assert uploaded.size == BIG
    written = uploaded.download(tmp_path / "back")  # a path that is no folder: the file itself
    assert written == tmp_path / "back" and written.read_bytes() == payload
    assert [path.name for path in tmp_path.iterdir() if path.name.endswith(".part")] == []
    with pytest.raises(TypeError, match=r"came from a Client: use `file.download"):
        asyncio.run(uploaded.adownload(tmp_path))
    client.freecad.files.delete(uploaded.name)


def test_async_uploads_and_downloads(gateway: Gateway, tmp_path: Path) -> None:
    payload = os.urandom(BIG)

    async def round_trip() -> tuple[bytes, bytes, bytes]:
        async with AsyncClient(gateway.url) as sdk:
            uploaded = await sdk.blender.files.upload(io.BytesIO(payload), filename="sdk-async.bin")
            written = await uploaded.adownload(tmp_path)
            via_files = await sdk.blender.files.read("sdk-async.bin")
            with pytest.raises(TypeError, match=r"came from an AsyncClient: use `await file.adownload"):
                uploaded.download(tmp_path)
            await sdk.blender.files.delete(uploaded.name)
            small = await sdk.blender.files.upload(b"x", filename="s.txt")
            return written.read_bytes(), via_files, await small.aread()

    from_disk, from_memory, small = asyncio.run(round_trip())
    assert from_disk == payload and from_memory == payload and small == b"x"
    with Client(gateway.url) as client:
        client.blender.files.delete("s.txt")
