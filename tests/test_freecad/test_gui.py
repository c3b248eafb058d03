"""The host server inside the real FreeCAD GUI (xvfb), installed from the add-on zip.

FreeCAD starts with a throw-away HOME whose Mod folder holds the unzipped
add-on (so this also proves ``build_addon_zip`` and the add-on's Init.py /
InitGui.py); a start-up script runs the add-on's ``Bridge3D_Start``
command. Everything has a timeout and the process group is killed at the end.
"""

from __future__ import annotations

import base64
import contextlib
import math
import os
import secrets
import shutil
import signal
import subprocess
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from backends import IN_CI, free_port
from bridge3d.freecad.addon_build import MOD_NAME, build_addon_zip
from bridge3d.rpc import RpcClient, RpcConnectionError
from meshes import load_mesh

pytestmark = pytest.mark.gui

START_SCRIPT = """\
import FreeCAD, FreeCADGui
FreeCAD.Console.PrintMessage("bridge3d gui test: starting server\\n")
FreeCADGui.runCommand("Bridge3D_Start")
"""


QUIT_CODE = """\
from PySide import QtCore
def _quit():
    for name in list(App.listDocuments()):
        App.closeDocument(name)   # no "save changes?" dialog
    Gui.getMainWindow().close()
QtCore.QTimer.singleShot(200, _quit)
"""


class GuiFreeCAD:
    def __init__(self, process: subprocess.Popen[bytes], port: int, token: str, workspace: Path, log: Path) -> None:
        self.process, self.port, self.token, self.workspace, self.log = process, port, token, workspace, log

    def client(self, timeout: float = 60.0) -> RpcClient:
        client = RpcClient("127.0.0.1", self.port, token=self.token, timeout=timeout)
        client.connect()
        return client

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@pytest.fixture(scope="module")
def gui_freecad(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GuiFreeCAD]:
    if not (shutil.which("freecad") and shutil.which("xvfb-run")):
        if IN_CI:
            pytest.fail("the FreeCAD GUI (freecad) and xvfb-run are required in CI")
        pytest.skip("the FreeCAD GUI or xvfb-run is not installed")
    root = tmp_path_factory.mktemp("freecad-gui")
    home = root / "home"
    mod_dir = home / ".local" / "share" / "FreeCAD" / "Mod"
    mod_dir.mkdir(parents=True)
    with zipfile.ZipFile(build_addon_zip(root / "dist")) as archive:
        archive.extractall(mod_dir)
    assert (mod_dir / MOD_NAME / "InitGui.py").is_file()
    script = root / "start_bridge3d.py"
    script.write_text(START_SCRIPT)
    workspace = root / "workspace"
    port, token = free_port(), secrets.token_hex(8)
    env = {
        **os.environ,
        "HOME": str(home),
        "QTWEBENGINE_DISABLE_SANDBOX": "1",
        "BRIDGE3D_FREECAD_PORT": str(port),
        "BRIDGE3D_FREECAD_TOKEN": token,
        "BRIDGE3D_FREECAD_WORKSPACE": str(workspace),
    }
    env.pop("BRIDGE3D_FREECAD_AUTOSTART", None)
    log = root / "freecad-gui.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["xvfb-run", "-a", "freecad", str(script)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    gui = GuiFreeCAD(process, port, token, workspace, log)
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                pytest.fail(f"FreeCAD GUI exited with {process.returncode}:\n{gui.output()[-3000:]}")
            try:
                with gui.client(timeout=5) as probe:
                    probe.call("rpc.ping")
                break
            except (RpcConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    pytest.fail(f"the GUI host server did not answer in time:\n{gui.output()[-3000:]}")
                time.sleep(0.5)
        yield gui
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def test_gui_create_list_export_and_quit(gui_freecad: GuiFreeCAD, tmp_path: Path) -> None:
    client = gui_freecad.client()
    listener = gui_freecad.client()
    listener.subscribe(["object.created"])
    try:
        assert client.call("rpc.describe")["app"] == "freecad"
        box = client.call("primitive.create", {"type": "box", "length": 4, "width": 5, "height": 6, "name": "GuiBox"})
        assert box["volume"] == pytest.approx(120, rel=1e-9)
        assert box["visible"] is True
        event = listener.next_event(timeout=60)
        assert (event["topic"], event["data"]["name"]) == ("object.created", "GuiBox")
        sphere = client.call("primitive.create", {"type": "sphere", "radius": 2, "position": [2, 2.5, 3]})
        cut = client.call("boolean.subtract", {"base": "GuiBox", "tool": sphere["name"]})
        cut_volume = 4 * 5 * 6 - 4 / 3 * math.pi * 2**3  # the sphere lies inside the box
        assert cut["volume"] == pytest.approx(cut_volume, rel=1e-6)
        # keep_inputs=false hides the operands through the view provider
        assert client.call("object.get", {"name": "GuiBox"})["visible"] is False
        listing = client.call("object.list", {})
        assert [o["name"] for o in listing["objects"]] == ["GuiBox", sphere["name"], cut["name"]]

        exported = client.call("file.export", {"format": "STL", "output": "gui_cut.stl"})
        assert exported["objects"] == [cut["name"]]
        chunk = client.call("file.read", {"name": "gui_cut.stl"})
        assert chunk["eof"] is True  # one chunk holds it all
        stl = tmp_path / "gui_cut.stl"
        stl.write_bytes(base64.b64decode(chunk["data"]))
        mesh = load_mesh(stl)
        assert mesh.is_watertight
        assert mesh.volume == pytest.approx(cut_volume, rel=0.01)

        step = client.call("file.export", {"format": "STEP", "output": "gui_cut.step"})
        assert (gui_freecad.workspace / "gui_cut.step").stat().st_size == step["size"]
        assert step["objects"] == [cut["name"]]
        imported = client.call("file.import", {"name": "gui_cut.step"})
        (name,) = imported["objects"]
        again = client.call("object.get", {"name": name})
        assert again["volume"] == pytest.approx(cut_volume, rel=1e-6)

        client.call("code.execute", {"code": QUIT_CODE})
    finally:
        client.close()
        listener.close()
    try:
        gui_freecad.process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"FreeCAD did not quit:\n{gui_freecad.output()[-3000:]}")
