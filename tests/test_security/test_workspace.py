"""The workspace folder itself: private when created, refused when another local user could plant files in it."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from bridge3d.rpc.errors import InvalidParams
from bridge3d.rpc.workspace import Workspace


def test_a_new_workspace_is_private(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "fresh" / "ws")
    assert stat.S_IMODE(workspace.root.stat().st_mode) & 0o077 == 0


def test_a_world_writable_workspace_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(PermissionError, match="writable by every user"):
        Workspace(shared)
    shared.chmod(0o755)
    Workspace(shared)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to chown to another user")
def test_a_workspace_owned_by_someone_else_is_refused(tmp_path: Path) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    os.chown(theirs, 65534, 65534)
    with pytest.raises(PermissionError, match="belongs to another user"):
        Workspace(theirs)


def test_a_planted_partial_file_symlink_is_not_followed(tmp_path: Path) -> None:
    """An upload is written to '.<name>.part' first; a symlink waiting under that name must not redirect it."""
    workspace = Workspace(tmp_path / "ws")
    outside = tmp_path / "outside.txt"
    outside.write_text("precious")
    (workspace.root / ".upload.stl.part").symlink_to(outside)
    data = base64.b64encode(b"overwrite?").decode()
    with pytest.raises(InvalidParams):
        workspace.write_chunk("upload.stl", data, offset=0, final=True)
    assert outside.read_text() == "precious"
    assert not (workspace.root / "upload.stl").exists()


def test_the_listing_shows_regular_files_only(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "ws")
    (workspace.root / "model.stl").write_bytes(b"solid x\nendsolid x\n")
    outside = tmp_path / "secret.bin"
    outside.write_bytes(b"x" * 12345)
    (workspace.root / "link.stl").symlink_to(outside)
    (workspace.root / "folder").mkdir()
    listed = workspace.list_files()
    assert [(item["name"], item["size"], item["generated"]) for item in listed] == [("model.stl", 19, False)]
    # The symlink's target is not counted in the workspace's usage either.
    assert workspace.usage() == 19
