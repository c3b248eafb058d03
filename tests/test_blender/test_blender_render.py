"""render.image with every engine, read back with Pillow; render events; bad input."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageStat

from backends import Backend
from bridge3d.rpc import RpcClient
from bridge3d.rpc.errors import Conflict, InvalidParams, NotFound

from ._util import fetch, rpc_error

W, H = 64, 48


def stage(bl: RpcClient, *, camera: bool = True) -> None:
    """A red cube on a grey plane with a sun, so every engine has something to shade."""
    bl.call("primitive.create", {"type": "plane", "size": 8})
    bl.call("primitive.create", {"type": "cube", "location": [0, 0, 1]})
    bl.call("material.create", {"name": "Red", "color": [0.9, 0.05, 0.05]})
    bl.call("material.apply", {"object": "Cube", "material": "Red"})
    bl.call("light.create", {"type": "SUN", "energy": 4, "rotation": [40, 10, 30]})
    if camera:
        bl.call("camera.create", {"name": "Cam", "location": [6, -6, 5], "look_at": [0, 0, 0.5]})


def check_image(path: Path, size: tuple[int, int]) -> Image.Image:
    image = Image.open(path)
    image.load()
    assert image.size == size
    rgb = image.convert("RGB")
    stddev = ImageStat.Stat(rgb).stddev
    assert max(stddev) > 5.0, f"image looks flat: stddev {stddev}"
    assert len(rgb.getcolors(maxcolors=W * H) or []) > 4
    return rgb


@pytest.mark.parametrize("engine", ["WORKBENCH", "CYCLES", "EEVEE"])
def test_each_engine_renders_a_real_image(bl: RpcClient, tmp_path: Path, engine: str) -> None:
    stage(bl)
    result = bl.call("render.image", {"engine": engine, "resolution": [W, H], "samples": 2, "output": f"shot-{engine}"})
    assert result["name"] == f"shot-{engine}.png" and result["format"] == "PNG"
    assert (result["width"], result["height"], result["engine"]) == (W, H, engine)
    assert result["camera"] == "Cam" and result["camera_added"] is False and result["seconds"] >= 0
    assert result["light_added"] is False  # the stage has its sun
    image = check_image(fetch(bl, result["name"], tmp_path), (W, H))
    assert result["size"] == (tmp_path / result["name"]).stat().st_size
    # The red cube is in the middle of the frame: some pixel there is clearly red.
    centre = [image.getpixel((x, y)) for x in range(W // 3, 2 * W // 3) for y in range(H // 4, 3 * H // 4)]
    assert any(p[0] > p[1] + 30 and p[0] > p[2] + 30 for p in centre if isinstance(p, tuple))


def test_render_restores_scene_settings(bl: RpcClient) -> None:
    stage(bl)
    before = bl.call("code.execute", {"code": "r = C.scene.render\nresult = [r.engine, r.resolution_x, r.filepath]"})
    bl.call("render.image", {"engine": "CYCLES", "resolution": [W, H], "samples": 1})
    after = bl.call("code.execute", {"code": "r = C.scene.render\nresult = [r.engine, r.resolution_x, r.filepath]"})
    assert before["result"] == after["result"]


def test_camera_is_added_when_the_scene_has_none(bl: RpcClient, tmp_path: Path) -> None:
    stage(bl, camera=False)
    result = bl.call("render.image", {"engine": "WORKBENCH", "resolution": [W, H], "samples": 1})
    assert result["camera_added"] is True and result["name"].startswith("render-")
    camera = bl.call("object.get", {"name": result["camera"]})
    assert camera["type"] == "CAMERA"
    assert bl.call("scene.info", {})["active_camera"] == result["camera"]
    check_image(fetch(bl, result["name"], tmp_path), (W, H))
    # The second render reuses that camera.
    again = bl.call("render.image", {"engine": "WORKBENCH", "resolution": [W, H], "samples": 1})
    assert again["camera_added"] is False and again["camera"] == result["camera"]


@pytest.mark.parametrize("engine", ["WORKBENCH", "CYCLES", "EEVEE"])
def test_an_empty_scene_renders_with_an_added_camera_and_light(bl: RpcClient, tmp_path: Path, engine: str) -> None:
    """A new scene is empty: the first render adds a camera and, for the engines that light with lights, a sun
    (Workbench has its own studio light). Both stay, and the next render adds nothing."""
    bl.call("primitive.create", {"type": "cube"})
    lit = engine != "WORKBENCH"
    result = bl.call("render.image", {"engine": engine, "resolution": [W, H], "samples": 4})
    assert (result["camera_added"], result["light_added"]) == (True, lit)
    assert bl.call("object.list", {"type": "LIGHT"})["total"] == int(lit)
    image = check_image(fetch(bl, result["name"], tmp_path), (W, H))
    # The default grey cube, lit: its brightest face is far above the dim default world behind it.
    extrema = ImageStat.Stat(image).extrema
    assert max(high for _, high in extrema) > 140, extrema
    again = bl.call("render.image", {"engine": engine, "resolution": [W, H], "samples": 1})
    assert (again["camera_added"], again["light_added"]) == (False, False)


def test_render_with_named_camera_and_other_formats(bl: RpcClient, tmp_path: Path) -> None:
    stage(bl)
    bl.call("camera.create", {"name": "Top", "location": [0, 0, 12], "rotation": [0, 0, 0], "make_active": False})
    jpeg = bl.call(
        "render.image",
        {
            "engine": "WORKBENCH",
            "resolution": [80, 40],
            "samples": 1,
            "camera": "Top",
            "format": "JPEG",
            "output": "top",
        },
    )
    assert jpeg["name"] == "top.jpg" and jpeg["camera"] == "Top" and jpeg["format"] == "JPEG"
    image = Image.open(fetch(bl, "top.jpg", tmp_path))
    assert image.format == "JPEG" and image.size == (80, 40)
    assert bl.call("scene.info", {})["active_camera"] == "Cam"  # the scene camera is put back
    tiff = bl.call("render.image", {"engine": "WORKBENCH", "resolution": [W, H], "samples": 1, "format": "TIFF"})
    check_image(fetch(bl, tiff["name"], tmp_path), (W, H))
    exr = bl.call("render.image", {"engine": "WORKBENCH", "resolution": [W, H], "samples": 1, "format": "OPEN_EXR"})
    assert exr["name"].endswith(".exr")
    assert fetch(bl, exr["name"], tmp_path).read_bytes()[:4] == b"\x76\x2f\x31\x01"  # OpenEXR magic


def test_render_bad_input(bl: RpcClient, blender_backend: Backend) -> None:
    stage(bl)
    base = {"engine": "WORKBENCH", "resolution": [W, H], "samples": 1}
    error = rpc_error(InvalidParams, bl, "render.image", {**base, "engine": "POVRAY"})
    assert "EEVEE, CYCLES, WORKBENCH" in error.data["reason"]
    assert rpc_error(InvalidParams, bl, "render.image", {**base, "format": "GIF"}).data["field"] == "format"
    for resolution, field in (
        ([0, 48], "resolution[0]"),
        ([64, 16385], "resolution[1]"),
        ([64], "resolution"),
        ([64.5, 48], "resolution[0]"),
        ("64x48", "resolution"),
    ):
        assert rpc_error(InvalidParams, bl, "render.image", {**base, "resolution": resolution}).data["field"] == field
    for samples in (0, -3, 100000, 1.5, float("nan")):
        assert rpc_error(InvalidParams, bl, "render.image", {**base, "samples": samples}).data["field"] == "samples"
    rpc_error(NotFound, bl, "render.image", {**base, "camera": "Nope"})
    rpc_error(Conflict, bl, "render.image", {**base, "camera": "Cube"})

    parent = blender_backend.workspace.parent
    before = sorted(p.name for p in parent.iterdir())
    inside_before = sorted(p.name for p in blender_backend.workspace.iterdir())
    for output in ("../escape", "a/b", "a\\b", "/tmp/abs", "..", "frame_###", f"{parent}/x.png"):
        assert rpc_error(InvalidParams, bl, "render.image", {**base, "output": output}).data["field"] == "output"
    assert sorted(p.name for p in parent.iterdir()) == before
    assert sorted(p.name for p in blender_backend.workspace.iterdir()) == inside_before


def collect_until(listener: RpcClient, topic: str, timeout: float = 120.0) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        event = listener.next_event(timeout=deadline - time.monotonic())
        events.append(event)
        if event["topic"] == topic:
            return events
    raise AssertionError(f"no {topic} event; got {[e['topic'] for e in events]}")


def test_render_events(bl: RpcClient, blender_backend: Backend) -> None:
    stage(bl)
    listener = blender_backend.client()
    try:
        listener.subscribe(["render.*"])
        result = bl.call("render.image", {"engine": "CYCLES", "resolution": [W, H], "samples": 2, "output": "evented"})
        events = collect_until(listener, "render.finished")
        topics = [e["topic"] for e in events]
        assert topics[0] == "render.started" and topics[-1] == "render.finished"
        # render_stats fires in background mode too: Cycles reports its stages as progress.
        assert "render.progress" in topics
        assert events[0]["data"]["output"] == result["name"] == events[-1]["data"]["output"]
        assert events[0]["data"]["engine"] == "CYCLES" and events[0]["data"]["resolution"] == [W, H]
        assert events[-1]["data"]["seconds"] >= 0
    finally:
        listener.close()
