"""Every tool over Streamable HTTP (``/mcp`` of a live gateway) with the SDK's MCP client, and its real effects:
objects exist with the right dimensions, FreeCAD volumes, areas and centres of mass match their closed forms, an
inline render decodes at the capped size and shows the red cube where the camera looks, ``look`` shows it on the
right side of the front and top views, files downloaded from the links are what they say, a STEP converted by a job
has the part's volume; failures come back as tool errors with the gateway's code, never as a crash."""

from __future__ import annotations

import io
import json
import math
from typing import Any

import anyio
import httpx
import numpy as np
import pytest
import trimesh
from mcp.shared.exceptions import MCPError
from PIL import Image

from bridge3d.mcp.server import all_tools
from gateway import Gateway

from .conftest import Session, assert_not_flat, image_of, over_http, pixels, red_mask, text_of

MAX_TOOLS_LIST_CHARS = 12_000
TRIANGLE_OBJ = "v 0 0 0\nv 3 0 0\nv 0 2 0\nf 1 2 3\n"


def download(url: str) -> bytes:
    response = httpx.get(url, timeout=60)
    assert response.status_code == 200, response.text
    return response.content


def test_the_tool_list_is_curated_small_and_valid(mcp_gateway: Gateway) -> None:
    async def scenario() -> None:
        async with over_http(mcp_gateway.url) as mcp:
            assert mcp.client.protocol_version == "2025-11-25"  # the session handshake: /mcp ties sessions to it
            listed = await mcp.client.list_tools()
            wire = json.dumps(listed.model_dump(by_alias=True, mode="json", exclude_none=True), separators=(",", ":"))
            names = [tool.name for tool in listed.tools]
            assert names == [tool.name for tool in all_tools() if not tool.opt_in]  # no execute_code by default
            assert 12 <= len(names) <= 20
            assert len(wire) <= MAX_TOOLS_LIST_CHARS, f"tools/list is {len(wire)} characters"
            for tool in listed.tools:
                assert tool.description and tool.input_schema["type"] == "object"

    anyio.run(scenario)


async def blender_tools(mcp: Session, base_url: str) -> None:
    cube = await mcp.ok("create_object", {"type": "cube", "name": "RedCube", "size": 2, "location": [2, 0, 0]})
    assert cube["object"] == "RedCube" and cube["info"]["dimensions"] == [2, 2, 2]
    ball = await mcp.ok("create_object", {"type": "sphere", "name": "Ball", "radius": 1, "location": [-2, 0, 0]})
    assert ball["info"]["dimensions"] == pytest.approx([2, 2, 2], abs=1e-3)
    moved = await mcp.ok("transform_object", {"name": "Ball", "location": [-2, 0, 0.5], "scale": [1, 1, 0.5]})
    assert moved["object"]["location"] == [-2, 0, 0.5] and moved["object"]["dimensions"] == pytest.approx([2, 2, 1])
    material = await mcp.ok("material", {"name": "Red", "color": "#ff0000", "objects": ["RedCube"]})
    assert material["material"]["color"] == [1, 0, 0, 1] and material["applied"] == [
        {"name": "RedCube", "materials": ["Red"]}
    ]
    reused = await mcp.ok("material", {"name": "Red", "objects": ["Ball"]})
    assert reused["material"]["name"] == "Red" and reused["applied"][0]["materials"] == ["Red"]
    await mcp.ok("material", {"name": "Grey", "color": [0.6, 0.6, 0.6], "objects": ["Ball"]})
    camera = await mcp.ok("add_camera", {"name": "Shot", "location": [2, -8, 0], "look_at": [2, 0, 0]})
    assert camera["object"] == "Shot" and camera["info"]["type"] == "CAMERA"
    light = await mcp.ok("add_light", {"type": "SUN", "energy": 3, "location": [0, 0, 8]})
    assert light["info"]["type"] == "LIGHT"

    overview = await mcp.ok("scene", {})
    assert overview["counts"] == {"MESH": 2, "CAMERA": 1, "LIGHT": 1} and overview["objects_total"] == 4
    assert {item["name"] for item in overview["objects"]} == {"RedCube", "Ball", "Shot", "Sun"}
    meshes = await mcp.ok("scene", {"type": "mesh", "fields": ["name", "dimensions", "materials"]})
    assert meshes["matching"] == 2 and meshes["counts"]["MESH"] == 2
    assert {item["name"]: item["dimensions"] for item in meshes["objects"]} == {
        "Ball": pytest.approx([2, 2, 1]),
        "RedCube": [2, 2, 2],
    }
    assert all(set(item) == {"name", "dimensions", "materials"} for item in meshes["objects"])
    page = await mcp.ok("scene", {"name_contains": "red", "limit": 1})
    assert [item["name"] for item in page["objects"]] == ["RedCube"] and page["matching"] == 1
    measured = await mcp.ok("measure", {"app": "blender", "objects": ["RedCube"]})
    assert measured["units"] == "m" and measured["objects"]["RedCube"]["bounds"] == {
        "min": [1, -1, -1],
        "max": [3, 1, 1],
    }

    # A render job: progress on the way, the inline copy scaled to 768 px, the full file behind the link.
    mcp.progress.clear()
    rendered = await mcp.call("render", {"resolution": [1600, 1200], "camera": "Shot"})
    assert not rendered.is_error, text_of(rendered)
    data = json.loads(text_of(rendered))
    assert data["state"] == "succeeded" and data["inline"]["width"] == 768 and mcp.progress
    inline = image_of(rendered)
    assert inline.size == (768, 576)
    assert_not_flat(inline)
    middle = pixels(inline)[188:388, 284:484]
    assert red_mask(middle).mean() > 0.5, "the red cube fills the middle of the frame"
    full = Image.open(io.BytesIO(download(data["files"][0]["url"])))
    assert full.size == (1600, 1200)
    followed = await mcp.call("job", {"job_id": data["job"]})
    assert json.loads(text_of(followed))["state"] == "succeeded" and image_of(followed).size == (768, 576)

    await look_at_blender(mcp)

    exported = await mcp.ok("export_file", {"format": "GLB", "objects": ["RedCube"], "filepath": "cube"})
    assert exported["name"] == "cube.glb" and "?session=ses_" in exported["url"]
    assert exported["url"].startswith(base_url) and download(exported["url"])[:4] == b"glTF"
    imported = await mcp.ok("import_file", {"name": "triangle.obj", "text": TRIANGLE_OBJ})
    assert imported["objects"] == ["triangle"]
    triangle = await mcp.ok("measure", {"app": "blender", "objects": ["triangle"]})
    assert sorted(triangle["objects"]["triangle"]["dimensions"]) == pytest.approx([0, 2, 3])
    again = await mcp.ok("import_file", {"name": "triangle.obj"})  # the uploaded file, from the workspace
    assert again["objects"] == ["triangle.001"]
    deleted = await mcp.ok("delete_object", {"name": "triangle.001"})
    assert deleted == {"name": "triangle.001", "deleted": True}


async def look_at_blender(mcp: Session) -> None:
    looked = await mcp.call("look", {})
    assert not looked.is_error, text_of(looked)
    assert json.loads(text_of(looked))["views"] == ["front", "right", "top", "perspective"]
    sheet = image_of(looked)
    assert sheet.size == (768, 768)
    cells = {
        "front": pixels(sheet)[0:384, 0:384],
        "right": pixels(sheet)[0:384, 384:768],
        "top": pixels(sheet)[384:768, 0:384],
        "perspective": pixels(sheet)[384:768, 384:768],
    }
    for name, cell in cells.items():
        assert cell.std() > 10, f"the {name} view is flat"
        assert red_mask(cell).mean() > 0.01, f"the red cube is not in the {name} view"
    for name in ("front", "top"):  # the cube is at +X: the right-hand side seen from the front and from above
        columns = np.nonzero(red_mask(cells[name]))[1]
        assert columns.mean() > 192, f"the red cube is not on the right of the {name} view"


async def freecad_tools(mcp: Session) -> None:
    box = await mcp.ok(
        "create_object", {"app": "freecad", "type": "box", "name": "Block", "length": 10, "width": 20, "height": 30}
    )
    assert box["info"]["volume"] == pytest.approx(6000) and box["info"]["dimensions"] == [10, 20, 30]
    drill = await mcp.ok(
        "create_object",
        {"app": "freecad", "type": "cylinder", "name": "Drill", "radius": 3, "height": 40, "location": [5, 10, -5]},
    )
    assert drill["info"]["volume"] == pytest.approx(math.pi * 9 * 40)
    cut = await mcp.ok("boolean", {"operation": "subtract", "object1": "Block", "object2": "Drill", "name": "Part"})
    assert cut["object"] == "Part"
    measured = (await mcp.ok("measure", {"objects": ["Part"]}))["objects"]["Part"]
    assert measured["volume"] == pytest.approx(6000 - math.pi * 9 * 30, rel=1e-6)
    assert measured["area"] == pytest.approx(2200 - 2 * math.pi * 9 + 2 * math.pi * 3 * 30, rel=1e-6)
    assert measured["center_of_mass"] == pytest.approx([5, 10, 15], abs=1e-6)
    assert measured["bounds"] == {"min": [0, 0, 0], "max": [10, 20, 30]}
    overview = await mcp.ok("scene", {"app": "freecad", "fields": ["name", "visible", "volume"]})
    assert overview["counts"] == {"Part::Box": 1, "Part::Cylinder": 1, "Part::Cut": 1}
    visible = [item["name"] for item in overview["objects"] if item["visible"]]
    assert visible == ["Part"]  # the operands are hidden

    exported = await mcp.ok(
        "export_file", {"app": "freecad", "format": "STEP", "objects": ["Part"], "filepath": "part"}
    )
    assert exported["name"] == "part.step"
    mcp.progress.clear()
    converted = await mcp.ok("convert", {"app": "freecad", "file": "part.step", "format": "STL"})
    assert converted["state"] == "succeeded" and mcp.progress
    stl = trimesh.load_mesh(io.BytesIO(download(converted["files"][0]["url"])), file_type="stl")
    assert isinstance(stl, trimesh.Trimesh)
    assert stl.volume == pytest.approx(6000 - math.pi * 9 * 30, rel=0.01)
    step_text = download(exported["url"]).decode()
    imported = await mcp.ok("import_file", {"app": "freecad", "name": "again.step", "text": step_text})
    assert len(imported["objects"]) == 1
    copy = (await mcp.ok("measure", {"objects": imported["objects"]}))["objects"]
    assert next(iter(copy.values()))["volume"] == pytest.approx(6000 - math.pi * 9 * 30, rel=1e-6)
    moved = await mcp.ok("transform_object", {"app": "freecad", "name": imported["objects"][0], "location": [50, 0, 0]})
    assert moved["object"]["bounds"]["min"] == pytest.approx([50, 0, 0])
    removed = await mcp.ok("delete_object", {"app": "freecad", "name": imported["objects"][0]})
    assert removed["deleted"] is True

    transferred = await mcp.ok("freecad_to_blender", {"objects": ["Part"], "location": [0, 4, 0]})
    assert [item["blender"] for item in transferred["objects"]] == ["Part"]
    in_blender = (await mcp.ok("measure", {"app": "blender", "objects": ["Part"]}))["objects"]["Part"]
    assert in_blender["dimensions"] == pytest.approx([0.01, 0.02, 0.03], abs=1e-6)  # millimetres to metres
    assert in_blender["bounds"]["min"] == pytest.approx([0, 4, 0], abs=1e-6)

    looked = await mcp.call("look", {"app": "freecad"})
    assert not looked.is_error, text_of(looked)
    sheet = image_of(looked)
    assert sheet.size == (768, 768)
    for top in (0, 384):
        for left in (0, 384):
            assert pixels(sheet)[top : top + 384, left : left + 384].std() > 10, "a view of the part is flat"
    assert json.loads(text_of(looked))["center"] == pytest.approx([5, 10, 15])


async def failures(mcp: Session) -> None:
    invalid = await mcp.error("create_object", {"type": "cube", "size": -1})
    assert invalid["code"] == "VALIDATION_ERROR" and invalid["details"]["field"] == "size"
    unknown = await mcp.error("create_object", {"type": "cube", "colour": "red"})
    assert unknown["code"] == "VALIDATION_ERROR" and unknown["details"]["field"] == "colour"
    wrong_app = await mcp.error("create_object", {"type": "box"})  # a FreeCAD type asked of Blender
    assert wrong_app["details"]["field"] == "type"
    missing = await mcp.error("measure", {"objects": ["Ghost"]})
    assert missing["code"] == "NOT_FOUND" and missing["details"]["backend"] == "freecad"
    in_use = await mcp.error("delete_object", {"app": "freecad", "name": "Block"})
    assert in_use["code"] == "CONFLICT"
    no_camera = await mcp.error("render", {"camera": "RedCube"})
    assert no_camera["code"] == "VALIDATION_ERROR" or no_camera["code"] == "CONFLICT"
    no_job = await mcp.error("job", {"job_id": "job_0000000000000000"})
    assert no_job["code"] == "JOB_NOT_FOUND"
    with pytest.raises(MCPError):  # not a domain failure: the client asked for a tool that does not exist
        await mcp.call("format_disk", {})


def test_every_tool_over_http_with_real_effects(mcp_gateway: Gateway) -> None:
    async def scenario() -> None:
        async with over_http(mcp_gateway.url) as mcp:
            await blender_tools(mcp, mcp_gateway.url)
            await freecad_tools(mcp)
            await failures(mcp)
            expected = {tool.name for tool in all_tools() if not tool.opt_in}
            assert mcp.called >= expected, f"not called: {sorted(expected - mcp.called)}"

    anyio.run(scenario)


def test_an_agent_that_sends_nothing_sensible_gets_tool_errors(mcp_gateway: Gateway) -> None:
    odd: list[tuple[str, dict[str, Any]]] = [
        ("scene", {"app": "maya"}),
        ("scene", {"limit": 10_000}),
        ("transform_object", {}),
        ("import_file", {"name": "x.obj", "base64": "***"}),
        ("look", {"app": "blender", "document": "Unnamed"}),
        ("convert", {"app": "freecad", "file": "../../etc/passwd", "format": "STL"}),
    ]

    async def scenario() -> None:
        async with over_http(mcp_gateway.url) as mcp:
            for name, arguments in odd:
                error = await mcp.error(name, arguments)
                assert error["code"] == "VALIDATION_ERROR", (name, error)
            assert (await mcp.ok("scene", {}))["objects_total"] == 0  # still serving, in an empty scene of its own

    anyio.run(scenario)
