"""The add-on in a real Blender GUI (Debian's /usr/bin/blender under xvfb-run).

Builds the add-on zip, lets Blender install and enable it (gui_boot.py), starts
the server with a token through the add-on's operator, drives it over
RpcClient, and finally asks Blender to quit. Everything has a timeout and the
process group is killed at the end whatever happens.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trimesh
from PIL import Image, ImageStat

from backends import IN_CI, free_port
from bridge3d.blender.addon_build import build_addon_zip
from bridge3d.rpc import RpcClient
from bridge3d.rpc.errors import Cancelled, Unauthorized, Unsupported

from ._util import approx_list, fetch

pytestmark = pytest.mark.gui

BLENDER = os.environ.get("BRIDGE3D_BLENDER_GUI", "/usr/bin/blender")
BOOT_SCRIPT = Path(__file__).with_name("gui_boot.py")


@dataclass
class GuiBlender:
    process: subprocess.Popen[bytes]
    port: int
    token: str
    workspace: Path
    log: Path

    def client(self, timeout: float = 60.0) -> RpcClient:
        rpc = RpcClient("127.0.0.1", self.port, token=self.token, timeout=timeout)
        rpc.connect()
        return rpc

    def kill(self) -> None:
        if self.process.poll() is None:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(self.process.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.process.wait(timeout=10)
                    break
                except subprocess.TimeoutExpired:
                    continue


@pytest.fixture(scope="module")
def gui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GuiBlender]:
    missing = [tool for tool in (BLENDER, "xvfb-run") if shutil.which(tool) is None]
    if missing:
        if IN_CI:
            pytest.fail(f"GUI test needs {missing}; in CI a missing application is a failure")
        pytest.skip(f"not installed: {missing}")
    tmp = tmp_path_factory.mktemp("blender-gui")
    zip_path = build_addon_zip(tmp / "dist")
    workspace = tmp / "workspace"
    workspace.mkdir()
    status_file = tmp / "status.json"
    port, token = free_port(), secrets.token_hex(8)
    env = {
        **os.environ,
        # Keep the add-on install, preferences and quit.blend out of the user's own Blender folders.
        "BLENDER_USER_SCRIPTS": str(tmp / "user" / "scripts"),
        "BLENDER_USER_CONFIG": str(tmp / "user" / "config"),
        "TMPDIR": str(tmp),
    }
    log = tmp / "blender.log"
    command = [
        "xvfb-run",
        "-a",
        BLENDER,
        "--factory-startup",
        "--python",
        str(BOOT_SCRIPT),
        "--",
        str(zip_path),
        str(port),
        token,
        str(workspace),
        str(status_file),
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    blender = GuiBlender(process, port, token, workspace, log)
    try:
        deadline = time.monotonic() + 120
        while not status_file.exists() or not status_file.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"Blender GUI did not start the add-on (rc={process.poll()}):\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        status = json.loads(status_file.read_text())
        assert status["ok"] and status["running"] and status["background"] is False, status
        assert status["port"] == port and Path(status["workspace"]) == workspace
        yield blender
    finally:
        blender.kill()


def test_gui_requires_the_token(gui: GuiBlender) -> None:
    with RpcClient("127.0.0.1", gui.port, timeout=30) as anonymous, pytest.raises(Unauthorized):
        anonymous.call("scene.info")
    with gui.client() as rpc:
        hello = rpc.server_info
        assert hello["app"] == "blender" and hello["app_version"].startswith("3.4")


def test_gui_objects(gui: GuiBlender) -> None:
    with gui.client() as rpc:
        rpc.call("scene.clear", {})
        cube = rpc.call("primitive.create", {"type": "cube", "location": [1, 2, 3]})
        assert cube["name"] == "Cube" and cube["bounds"] == {"min": [0, 1, 2], "max": [2, 3, 4]}
        rpc.call("primitive.create", {"type": "sphere", "location": [-5, 0, 0]})
        listed = rpc.call("object.list", {})
        assert [o["name"] for o in listed["objects"]] == ["Cube", "Sphere"] and listed["total"] == 2
        # Principled input names differ in 3.4 ('Emission'): compat picks the right one.
        material = rpc.call("material.create", {"name": "Glow", "color": "#00ff00", "emission_color": [0, 1, 0]})
        assert approx_list(material["emission_color"], [0, 1, 0, 1])
        assert rpc.call("material.apply", {"object": "Cube", "material": "Glow"})["materials"] == ["Glow"]


def test_gui_render(gui: GuiBlender, tmp_path: Path) -> None:
    with gui.client(timeout=180) as rpc:
        rpc.call("light.create", {"type": "SUN", "rotation": [30, 20, 0]})
        result = rpc.call("render.image", {"engine": "WORKBENCH", "resolution": [64, 48], "samples": 1})
        assert result["camera_added"] is True and (result["width"], result["height"]) == (64, 48)
        image = Image.open(fetch(rpc, result["name"], tmp_path))
        assert image.size == (64, 48)
        assert max(ImageStat.Stat(image.convert("RGB")).stddev) > 5.0


def test_gui_export(gui: GuiBlender, tmp_path: Path) -> None:
    with gui.client(timeout=120) as rpc:
        for fmt in ("STL", "OBJ", "PLY"):  # 3.4 uses export_mesh.stl / wm.obj_export / export_mesh.ply
            result = rpc.call("file.export", {"format": fmt, "objects": ["Cube"], "output": f"gui-cube-{fmt.lower()}"})
            mesh = trimesh.load(fetch(rpc, result["name"], tmp_path), force="mesh")
            # OBJ is written Y-up (x, z, -y); STL and PLY keep Blender's Z-up.
            expected = ([0.0, 1.0, 2.0], [2.0, 3.0, 4.0]) if fmt != "OBJ" else ([0.0, 2.0, -3.0], [2.0, 4.0, -1.0])
            assert approx_list(list(mesh.bounds[0]), expected[0]) and approx_list(list(mesh.bounds[1]), expected[1])
        # Debian builds Blender without USD: the export is then refused, naming the operator that is missing.
        if rpc.call("code.execute", {"code": "result = bpy.app.build_options.usd"})["result"]:
            exported = rpc.call("file.export", {"format": "USD", "objects": ["Cube"], "output": "gui-cube-usd"})
            assert (exported["format"], exported["objects"]) == ("USD", ["Cube"])
        else:
            with pytest.raises(Unsupported) as refused:
                rpc.call("file.export", {"format": "USD", "objects": ["Cube"]})
            assert refused.value.data["field"] == "format" and refused.value.data["operator"] == "wm.usd_export"


def test_gui_cancel(gui: GuiBlender) -> None:
    with gui.client() as rpc, gui.client() as other:
        rpc.send_raw(b'{"jsonrpc":"2.0","id":"spin","method":"code.execute","params":{"code":"while True: pass"}}\n')
        deadline = time.monotonic() + 30
        while other.call("rpc.describe")["running_id"] != "spin":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert other.call("rpc.cancel", {"id": "spin"})["cancelled"] is True
        assert rpc.read_message(timeout=30)["error"]["code"] == Cancelled.code
        assert rpc.call("code.execute", {"code": "result = bpy.app.background"})["result"] is False


def test_gui_quits_when_asked(gui: GuiBlender) -> None:
    with gui.client() as rpc:
        code = (
            "def _quit():\n    bpy.ops.wm.quit_blender()\n    return None\n"
            "bpy.app.timers.register(_quit, first_interval=0.2)"
        )
        rpc.call("code.execute", {"code": code})
    gui.process.wait(timeout=60)
    assert gui.process.returncode == 0
