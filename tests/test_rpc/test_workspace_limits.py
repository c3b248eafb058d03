"""The workspace's limits on their own (no application): the byte quota, the free-space floor, the retention of
generated files, cleaning by age, and the host-server options that set them."""

from __future__ import annotations

import base64
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from bridge3d.rpc.errors import WorkspaceFull
from bridge3d.rpc.hostmain import build_parser, workspace_limits
from bridge3d.rpc.workspace import (
    ABANDONED_UPLOAD_SECONDS,
    DEFAULT_GENERATED_MAX_AGE,
    DEFAULT_MIN_FREE_BYTES,
    DEFAULT_QUOTA_BYTES,
    GENERATED_RECORD,
    Workspace,
    WorkspaceLimits,
)

DAY = 24 * 3600.0


def limited(root: Path, quota: int = 1000, max_age: float = DAY) -> Workspace:
    return Workspace(
        root, WorkspaceLimits(quota_bytes=quota, min_free_bytes=0, generated_max_age=max_age, app="blender")
    )


def output(
    workspace: Workspace, name: str | None, size: int, stem: str = "render", ext: str = ".png"
) -> dict[str, Any]:
    """What a render does: ask for the path, write the file, report it."""
    path = workspace.output_path(name, stem, ext, "output")
    path.write_bytes(b"x" * size)
    return workspace.written(path, "output")


def age(workspace: Workspace, name: str, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(workspace.root / name, (then, then))


def upload(workspace: Workspace, name: str, data: bytes, chunk: int = 100) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for offset in range(0, len(data), chunk):
        part = base64.b64encode(data[offset : offset + chunk]).decode()
        result = workspace.write_chunk(name, part, offset, final=offset + chunk >= len(data))
    return result


def names(workspace: Workspace) -> list[str]:
    return [item["name"] for item in workspace.list_files()]


def test_generated_outputs_are_listed_with_their_age(tmp_path: Path) -> None:
    workspace = limited(tmp_path / "ws")
    first = output(workspace, None, 10)
    named = output(workspace, "top", 20)
    assert (first["name"], named["name"]) == ("render-0001.png", "top.png")
    age(workspace, "top.png", 90)
    listed = {item["name"]: item for item in workspace.list_files()}
    assert listed["render-0001.png"]["generated"] is True and listed["top.png"]["generated"] is False
    assert listed["top.png"]["size"] == 20 and 89 <= listed["top.png"]["age"] <= 120
    assert listed["top.png"]["modified"] == pytest.approx((workspace.root / "top.png").stat().st_mtime, abs=0.01)


def test_a_full_workspace_refuses_a_write_and_names_the_setting(tmp_path: Path) -> None:
    workspace = limited(tmp_path / "ws", quota=1000)
    upload(workspace, "mine.bin", b"m" * 990)
    with pytest.raises(WorkspaceFull) as full:
        output(workspace, "big", 200)  # fits the check before the write (990 < 1000), not the one after
    details = full.value.data
    assert (
        details["setting"] == "BRIDGE3D_BLENDER_WORKSPACE_QUOTA_BYTES"
        and details["option"] == "--workspace-quota-bytes"
    )
    assert (details["limit"], details["used"], details["size"], details["field"]) == (1000, 990, 200, "output")
    assert "BRIDGE3D_BLENDER_WORKSPACE_QUOTA_BYTES" in full.value.message
    assert names(workspace) == ["mine.bin"]  # the output that did not fit is gone, the named file stays
    upload(workspace, "more.bin", b"n" * 10)  # exactly full: allowed
    with pytest.raises(WorkspaceFull):
        workspace.output_path(None, "render", ".png", "output")  # full before writing: refused before
    assert workspace.usage() == 1000 and not (workspace.root / "render-0001.png").exists()


def test_an_upload_that_does_not_fit_leaves_nothing(tmp_path: Path) -> None:
    workspace = limited(tmp_path / "ws", quota=1000)
    upload(workspace, "half.bin", b"h" * 600)
    with pytest.raises(WorkspaceFull) as full:
        upload(workspace, "other.bin", b"o" * 600)
    assert full.value.data["field"] == "name"
    assert sorted(p.name for p in workspace.root.iterdir() if p.name != GENERATED_RECORD) == ["half.bin"]
    # Replacing a file counts the bytes it frees: the same name again fits.
    assert upload(workspace, "half.bin", b"H" * 700)["size"] == 700


def test_generated_files_make_way_oldest_first_and_named_ones_never(tmp_path: Path) -> None:
    workspace = limited(tmp_path / "ws", quota=1000)
    for index, seconds in enumerate((300, 200, 100)):
        output(workspace, None, 200)
        age(workspace, f"render-{index + 1:04d}.png", seconds)
    upload(workspace, "model.stl", b"s" * 300)  # 900 of 1000 bytes
    made = output(workspace, "scene", 350)  # 1250 bytes: the two oldest renders (400 bytes) go
    assert made["name"] == "scene.png"
    assert names(workspace) == ["model.stl", "render-0003.png", "scene.png"]
    assert workspace.usage() <= 1000
    with pytest.raises(WorkspaceFull):
        output(workspace, "huge", 900)  # even without the last render it would not fit
    assert names(workspace) == ["model.stl", "scene.png"]  # that render made way, the named files stayed


def test_generated_files_expire_named_ones_stay(tmp_path: Path) -> None:
    workspace = limited(tmp_path / "ws", quota=0, max_age=DAY)
    output(workspace, None, 10)
    output(workspace, "kept", 10)
    output(workspace, None, 10, stem="export", ext=".glb")
    for name in ("render-0001.png", "kept.png"):
        age(workspace, name, 2 * DAY)
    output(workspace, None, 10)  # any write applies the retention policy
    # The new render's name was chosen before render-0001 expired: a client never finds another file under it.
    assert names(workspace) == ["export-0001.glb", "kept.png", "render-0002.png"]


def test_a_named_write_over_a_generated_file_makes_it_named(tmp_path: Path) -> None:
    workspace = limited(tmp_path / "ws", quota=0, max_age=DAY)
    output(workspace, None, 10)
    output(workspace, "render-0001", 10)  # a client asks for that name: now theirs
    age(workspace, "render-0001.png", 2 * DAY)
    output(workspace, None, 10, stem="export", ext=".glb")
    assert names(workspace) == ["export-0001.glb", "render-0001.png"]
    upload(workspace, "export-0001.glb", b"x" * 5)  # an upload over a generated file: named too
    assert [item["generated"] for item in workspace.list_files()] == [False, False]


def test_the_record_of_generated_files_survives_a_restart(tmp_path: Path) -> None:
    workspace = limited(tmp_path / "ws", quota=0)
    output(workspace, None, 10)
    output(workspace, "mine", 10)
    again = limited(tmp_path / "ws", quota=0)  # a restarted host server, same folder
    assert {item["name"]: item["generated"] for item in again.list_files()} == {
        "mine.png": False,
        "render-0001.png": True,
    }
    assert GENERATED_RECORD not in names(again)  # hidden


def test_clean_by_age_takes_generated_files_unless_asked(tmp_path: Path) -> None:
    workspace = limited(tmp_path / "ws", quota=0)
    for name in (None, None, "named"):
        output(workspace, name, 100)
    age(workspace, "render-0001.png", 3600)
    age(workspace, "named.png", 3600)
    cleaned = workspace.clean(older_than=600)
    assert cleaned == {"deleted": ["render-0001.png"], "count": 1, "freed": 100}
    cleaned = workspace.clean(older_than=600, include_named=True)
    assert cleaned == {"deleted": ["named.png"], "count": 1, "freed": 100}
    assert workspace.clean() == {"deleted": ["render-0002.png"], "count": 1, "freed": 100}
    assert names(workspace) == []


def test_an_abandoned_upload_is_removed(tmp_path: Path) -> None:
    workspace = limited(tmp_path / "ws", quota=0)
    workspace.write_chunk("slow.bin", base64.b64encode(b"part").decode(), 0, final=False)
    partial = workspace.root / ".slow.bin.part"
    assert partial.exists()
    then = time.time() - ABANDONED_UPLOAD_SECONDS - 60
    os.utime(partial, (then, then))
    output(workspace, None, 1)
    assert not partial.exists()


def test_the_free_space_floor_refuses_and_names_its_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    workspace = Workspace(tmp_path / "ws", WorkspaceLimits(quota_bytes=0, min_free_bytes=10_000, app="freecad"))
    real = shutil.disk_usage(workspace.root)
    monkeypatch.setattr(shutil, "disk_usage", lambda _path: real._replace(free=5_000))
    with pytest.raises(WorkspaceFull) as full:
        output(workspace, "part", 10, ext=".step")
    assert full.value.data["setting"] == "BRIDGE3D_FREECAD_WORKSPACE_MIN_FREE_BYTES"
    assert full.value.data["reason"] == "disk" and full.value.data["free"] == 5_000


def test_host_options_and_environment_set_the_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [name for name in os.environ if name.startswith("BRIDGE3D_BLENDER_")]:
        monkeypatch.delenv(name)
    assert workspace_limits("blender") == WorkspaceLimits(
        DEFAULT_QUOTA_BYTES, DEFAULT_MIN_FREE_BYTES, DEFAULT_GENERATED_MAX_AGE, "blender"
    )
    monkeypatch.setenv("BRIDGE3D_BLENDER_WORKSPACE_QUOTA_BYTES", "5000")
    monkeypatch.setenv("BRIDGE3D_BLENDER_GENERATED_MAX_AGE", "60")
    monkeypatch.setenv("BRIDGE3D_BLENDER_NEW_SCENE", "factory")
    args = build_parser("blender", 9876).parse_args(["--workspace-min-free-bytes", "0"])
    assert workspace_limits("blender", args) == WorkspaceLimits(5000, 0, 60.0, "blender")
    assert args.new_scene == "factory"
    assert build_parser("blender", 9876).parse_args([]).new_scene == "factory"
    monkeypatch.delenv("BRIDGE3D_BLENDER_NEW_SCENE")
    assert build_parser("blender", 9876).parse_args([]).new_scene == "empty"
    with pytest.raises(SystemExit):
        build_parser("blender", 9876).parse_args(["--workspace-quota-bytes", "-1"])
