"""What a new headless FreeCAD host starts with (the NEW_SCENE setting): no document by default, or a template .FCStd
of the workspace merged into a new untitled document; Blender's "factory" is refused with the setting named."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from backends import Backend, start_backend

from .conftest import Doc


def test_a_template_from_the_workspace_starts_an_untitled_document(
    doc: Doc, freecad_backend: Backend, tmp_path: Path
) -> None:
    doc.create("box", name="Base", length=20, width=20, height=2)
    doc.create("cylinder", name="Post", radius=1, height=10)
    saved = doc.call("document.save", {"name": "fixture", "copy": True})
    workspace = tmp_path / "freecad-workspace"
    workspace.mkdir(mode=0o700)
    shutil.copy(freecad_backend.workspace / saved["name"], workspace / saved["name"])
    template_bytes = (workspace / saved["name"]).read_bytes()
    templated = start_backend("freecad", tmp_path, options=("--new-scene", saved["name"]))
    try:
        client = templated.client()
        documents = client.call("document.list", {})["documents"]
        assert [(d["name"], d["file"], d["objects"]) for d in documents] == [("Unnamed", None, 2)]
        listed = client.call("object.list", {})["objects"]
        assert [item["name"] for item in listed] == ["Base", "Post"]
        assert client.call("object.get", {"name": "Base"})["volume"] == pytest.approx(800)
        # A name the template holds is taken, as in any document; the template file is never written.
        assert client.call("primitive.create", {"type": "box", "name": "Base"})["name"] == "Base001"
        assert client.call("document.save", {})["name"] == "Unnamed.FCStd"
        assert (workspace / saved["name"]).read_bytes() == template_bytes
    finally:
        templated.stop()


def test_the_factory_scene_is_blenders(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError) as failed:
        start_backend("freecad", tmp_path, options=("--new-scene", "factory"))
    said = str(failed.value)
    assert "exited with 2" in said and "cannot start with BRIDGE3D_FREECAD_NEW_SCENE=factory" in said, said
    assert "factory is Blender's" in said, said
