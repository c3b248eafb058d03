"""The add-on zip: layout, literal bl_info, and installing it as a 4.2+ extension into PyPI bpy 5.0."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from backends import blender_available, free_port
from bridge3d.blender.addon_build import ADDON_MODULE, build_addon_zip, main

INSTALL_SCRIPT = """
import json, sys
import bpy
zip_path, port, out = sys.argv[-3:]
result = bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default", enable_on_install=True)
key = next(k for k in bpy.context.preferences.addons.keys() if k.endswith("bridge3d_blender"))
prefs = bpy.context.preferences.addons[key].preferences
prefs.port = int(port)
prefs.token = "secret"
started = bpy.ops.bridge3d.server_start()
from bridge3d.rpc import RpcClient  # the dev install, only used as a client here
with RpcClient("127.0.0.1", int(port), token="secret", timeout=10) as client:
    pong = client.call("rpc.ping")["pong"]
    methods = client.call("rpc.describe")["methods"]
stopped = bpy.ops.bridge3d.server_stop()
with open(out, "w") as handle:
    json.dump({"install": sorted(result), "key": key, "started": sorted(started), "pong": pong,
               "methods": methods, "stopped": sorted(stopped)}, handle)
"""


def test_zip_layout_and_bl_info(tmp_path: Path) -> None:
    path = build_addon_zip(tmp_path)
    assert path.name.startswith(f"{ADDON_MODULE}-") and path.suffix == ".zip"
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        shim = archive.read(f"{ADDON_MODULE}/__init__.py").decode()
        manifest = archive.read(f"{ADDON_MODULE}/blender_manifest.toml").decode()
    for required in (
        "bridge3d/__init__.py",
        "bridge3d/rpc/server.py",
        "bridge3d/blender/registry.py",
        "bridge3d/blender/compat.py",
        "bridge3d/blender/addon/__init__.py",
    ):
        assert f"{ADDON_MODULE}/{required}" in names
    assert not any("__pycache__" in n for n in names)
    assert all(n.startswith(f"{ADDON_MODULE}/") for n in names)  # one top-level folder
    # Blender 3.4-4.1 read bl_info with ast, without importing: it must be a literal.
    tree = ast.parse(shim)
    bl_info = next(ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign))
    assert bl_info["name"] == "bridge3d" and tuple(bl_info["blender"]) == (3, 4, 0)
    assert 'id = "bridge3d_blender"' in manifest and 'blender_version_min = "4.2.0"' in manifest
    assert 'type = "add-on"' in manifest
    # No vendored module imports bridge3d absolutely (that would pick up another install or fail).
    with zipfile.ZipFile(path) as archive:
        for name in names:
            if name.endswith(".py"):
                source = archive.read(name).decode()
                assert "from bridge3d" not in source and "import bridge3d" not in source, name


def test_cli_entry_point(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "out")]) == 0
    assert Path(capsys.readouterr().out.strip()).is_file()


@pytest.mark.skipif(not blender_available(), reason="PyPI bpy is not installed")
def test_installs_as_extension_and_serves(tmp_path: Path) -> None:
    path = build_addon_zip(tmp_path / "dist")
    script = tmp_path / "install.py"
    script.write_text(INSTALL_SCRIPT)
    out = tmp_path / "out.json"
    env = {**os.environ, "BLENDER_USER_RESOURCES": str(tmp_path / "resources")}
    subprocess.run(
        [sys.executable, str(script), str(path), str(free_port()), str(out)],
        env=env,
        timeout=180,
        check=True,
        capture_output=True,
    )
    result = json.loads(out.read_text())
    assert result["install"] == ["FINISHED"] and result["key"] == "bl_ext.user_default.bridge3d_blender"
    assert result["started"] == ["FINISHED"] and result["stopped"] == ["FINISHED"] and result["pong"] is True
    assert {"primitive.create", "render.image", "file.export", "code.execute"} <= set(result["methods"])
