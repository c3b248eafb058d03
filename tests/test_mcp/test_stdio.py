"""`bridge3d mcp` over stdio, spawned by the SDK's MCP client against a live gateway: the same tools, code execution
only when BRIDGE3D_MCP_EXECUTE=true, sessions ended when the client closes, and a call that would outlast
BRIDGE3D_MCP_TOOL_TIMEOUT answered with a TIMEOUT tool error, its render job cancelled."""

from __future__ import annotations

import json

import anyio

from bridge3d.client import Client as Bridge3DClient
from bridge3d.mcp.server import all_tools
from gateway import Gateway

from .conftest import image_of, over_stdio, text_of


def test_stdio_serves_the_same_tools_without_execute_by_default(mcp_gateway: Gateway) -> None:
    async def scenario() -> None:
        async with over_stdio(mcp_gateway.url) as mcp:
            names = [tool.name for tool in (await mcp.client.list_tools()).tools]
            assert names == [tool.name for tool in all_tools() if not tool.opt_in]
            created = await mcp.ok("create_object", {"type": "cube", "name": "Piped", "size": 4})
            assert created["info"]["dimensions"] == [4, 4, 4]
            overview = await mcp.ok("scene", {})
            assert [item["name"] for item in overview["objects"]] == ["Piped"]  # a scene of its own
            rendered = await mcp.call("render", {"resolution": [320, 240], "format": "JPEG"})
            assert json.loads(text_of(rendered))["inline"]["type"] == "image/jpeg"
            assert image_of(rendered).size == (320, 240)  # smaller than the cap: left as it is

    anyio.run(scenario)
    with Bridge3DClient(mcp_gateway.url) as gateway:  # stdin closed: the process ended its session
        assert not [info for info in gateway.blender.sessions.list() if (info.label or "").startswith("mcp ")]


def test_execute_code_is_a_tool_only_when_asked_for(mcp_gateway: Gateway) -> None:
    async def scenario() -> None:
        async with over_stdio(mcp_gateway.url, BRIDGE3D_MCP_EXECUTE="true") as mcp:
            names = [tool.name for tool in (await mcp.client.list_tools()).tools]
            assert names[-1] == "execute_code"
            executed = await mcp.ok("execute_code", {"code": "import bpy\nresult = 6 * 7"})
            assert executed["result"] == 42
            freecad = await mcp.ok("execute_code", {"app": "freecad", "code": "result = doc.Name"})
            assert isinstance(freecad["result"], str)
            failed = await mcp.error("execute_code", {"code": "raise ValueError('no')"})
            assert failed["code"] == "EXECUTION_ERROR" and "ValueError" in failed["message"] + str(failed["details"])

    anyio.run(scenario)


def test_a_call_never_outlasts_the_tool_timeout(mcp_gateway: Gateway) -> None:
    async def scenario() -> None:
        async with over_stdio(mcp_gateway.url, BRIDGE3D_MCP_TOOL_TIMEOUT="5") as mcp:
            await mcp.ok("create_object", {"type": "sphere"})
            render = {"engine": "CYCLES", "resolution": [1920, 1080], "samples": 1024, "output": "timed-out"}
            error = await mcp.error("render", render)
            assert error["code"] == "TIMEOUT" and error["details"]["setting"] == "BRIDGE3D_MCP_TOOL_TIMEOUT"

    anyio.run(scenario)
    with Bridge3DClient(mcp_gateway.url) as gateway:
        jobs = [job for job in gateway.jobs.list() if job.request.get("params", {}).get("output") == "timed-out"]
        assert len(jobs) == 1 and jobs[0].state == "cancelled", jobs
