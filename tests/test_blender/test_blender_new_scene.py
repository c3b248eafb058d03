"""What a new headless Blender host starts with (the NEW_SCENE setting): empty by default, so a cube asked for as
"Cube" is named "Cube"; Blender's factory scene; or a template .blend of the workspace, loaded untitled.

The session backend started with the default; the other settings need a host of their own (a second or so each).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from backends import Backend, start_backend
from bridge3d.rpc import RpcClient

DATA = "result = {k: len(getattr(D, k)) for k in ('objects', 'meshes', 'cameras', 'lights', 'curves')}"


def test_the_default_is_an_empty_scene_with_nothing_left_of_the_factory_one(blender_backend: Backend) -> None:
    log = blender_backend.log()
    assert "starting with an empty scene" in log, log
    # The session's host may have served other tests by now: a fresh host with the default is what a user gets.
    fresh = start_backend("blender", blender_backend.workspace.parent / "fresh-default")
    try:
        client = fresh.client()
        assert client.call("scene.info", {})["object_count"] == 0
        assert client.call("code.execute", {"code": DATA})["result"] == dict.fromkeys(
            ("objects", "meshes", "cameras", "lights", "curves"), 0
        )
        assert client.call("primitive.create", {"type": "cube", "name": "Cube"})["name"] == "Cube"
    finally:
        fresh.stop()


def test_the_factory_scene_on_request(tmp_path: Path) -> None:
    factory = start_backend("blender", tmp_path, options=("--new-scene", "factory"))
    try:
        client = factory.client()
        assert client.call("scene.info", {})["objects"] == ["Camera", "Cube", "Light"]
        assert client.call("primitive.create", {"type": "cube", "name": "Cube"})["name"] == "Cube.001"
    finally:
        factory.stop()


def test_a_template_from_the_workspace_starts_untitled(bl: RpcClient, blender_backend: Backend, tmp_path: Path) -> None:
    bl.call("primitive.create", {"type": "torus", "name": "Ring"})
    bl.call("material.create", {"name": "Brass", "color": [0.8, 0.6, 0.2]})
    bl.call("material.apply", {"object": "Ring", "material": "Brass"})
    # Packed: the shared backend's world may use an image of its own workspace (a USD import adds one).
    saved = bl.call("scene.save", {"name": "studio-template", "pack": True})
    workspace = tmp_path / "blender-workspace"
    workspace.mkdir(mode=0o700)
    shutil.copy(blender_backend.workspace / saved["name"], workspace / saved["name"])
    template_bytes = (workspace / saved["name"]).read_bytes()
    templated = start_backend("blender", tmp_path, options=("--new-scene", saved["name"]))
    try:
        client = templated.client()
        info = client.call("scene.info", {})
        assert info["objects"] == ["Ring"] and info["file"] is None  # untitled: no save writes over the template
        assert client.call("object.get", {"name": "Ring"})["materials"] == ["Brass"]
        assert client.call("scene.save", {})["name"] == "scene-0001.blend"
        assert (workspace / saved["name"]).read_bytes() == template_bytes
    finally:
        templated.stop()


@pytest.mark.parametrize(
    ("setting", "reason"),
    [("missing.blend", "No file named 'missing.blend'"), ("notes.txt", "must be empty, factory or a workspace .blend")],
)
def test_a_setting_that_cannot_be_used_stops_the_host_and_says_why(tmp_path: Path, setting: str, reason: str) -> None:
    with pytest.raises(RuntimeError) as failed:
        start_backend("blender", tmp_path, options=("--new-scene", setting))
    said = str(failed.value)
    assert "exited with 2" in said and f"cannot start with BRIDGE3D_BLENDER_NEW_SCENE={setting}" in said, said
    assert reason in said, said
