"""Each MCP connection works in sessions of its own: two agents at once never see each other's objects, and a
connection's sessions end with it; a call without a connection (the single-exchange protocol) is refused rather
than left to act in someone's scene. Long work: cancelling a render's MCP call cancels its job."""

from __future__ import annotations

import time

import anyio
import mcp_types as types
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client

from bridge3d.client import Client as Bridge3DClient
from gateway import Gateway

from .conftest import PATIENCE, Session, over_http


def labelled(url: str, app: str, label: str) -> list[str]:
    with Bridge3DClient(url) as client:
        sessions = client.blender.sessions if app == "blender" else client.freecad.sessions
        return [info.id for info in sessions.list() if info.label == label]


def test_two_agents_at_once_see_only_their_own_objects(mcp_gateway: Gateway) -> None:
    seen: dict[str, dict[str, list[float]]] = {}

    async def agent(name: str, size: float) -> None:
        async with (
            Client(
                streamable_http_client(f"{mcp_gateway.url}/mcp"),
                client_info=types.Implementation(name=name, version="1"),
            ) as client,
        ):
            mcp = Session(client)
            created = await mcp.ok("create_object", {"type": "cube", "name": "Thing", "size": size})
            assert created["object"] == "Thing"  # nobody else's Thing makes this one Thing.001
            await anyio.sleep(0.5)  # both exist at the same time
            overview = await mcp.ok("scene", {"fields": ["name", "dimensions"]})
            seen[name] = {item["name"]: item["dimensions"] for item in overview["objects"]}
            assert len(labelled(mcp_gateway.url, "blender", f"mcp {name}")) == 1

    async def both() -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(agent, "agent-a", 1.0)
            group.start_soon(agent, "agent-b", 3.0)

    anyio.run(both)
    assert seen == {"agent-a": {"Thing": [1, 1, 1]}, "agent-b": {"Thing": [3, 3, 3]}}
    # The connections ended, and their sessions with them.
    assert labelled(mcp_gateway.url, "blender", "mcp agent-a") == []
    assert labelled(mcp_gateway.url, "blender", "mcp agent-b") == []


def test_a_connection_ends_every_session_it_made(mcp_gateway: Gateway) -> None:
    async def scenario() -> None:
        async with Client(
            streamable_http_client(f"{mcp_gateway.url}/mcp"),
            client_info=types.Implementation(name="ender", version="1"),
        ) as client:
            mcp = Session(client)
            await mcp.ok("create_object", {"app": "freecad", "type": "box"})
            await mcp.ok("look", {"app": "freecad"})  # also a scratch Blender session that draws it
            assert len(labelled(mcp_gateway.url, "freecad", "mcp ender")) == 1
            assert len(labelled(mcp_gateway.url, "blender", "mcp ender (drawing)")) == 1

    anyio.run(scenario)
    assert labelled(mcp_gateway.url, "freecad", "mcp ender") == []
    assert labelled(mcp_gateway.url, "blender", "mcp ender (drawing)") == []


def test_a_call_without_an_mcp_session_is_refused(mcp_gateway: Gateway) -> None:
    async def scenario() -> None:
        async with over_http(mcp_gateway.url, mode="2026-07-28") as mcp:  # single exchanges, no Mcp-Session-Id
            assert "scene" in [tool.name for tool in (await mcp.client.list_tools()).tools]
            refused = await mcp.error("create_object", {"type": "cube"})
            assert refused["code"] == "SESSION_REQUIRED" and refused["details"]["setting"] == "BRIDGE3D_MCP_SESSION"

    anyio.run(scenario)


def test_cancelling_a_render_call_cancels_its_job(mcp_gateway: Gateway) -> None:
    async def scenario() -> None:
        async with over_http(mcp_gateway.url) as mcp:
            await mcp.ok("create_object", {"type": "torus"})
            running = anyio.Event()
            answered: list[types.CallToolResult] = []

            async def progressed(progress: float, total: float | None, message: str | None) -> None:
                if (message or "").startswith("running"):
                    running.set()

            async def render() -> None:
                arguments = {"engine": "CYCLES", "resolution": [1920, 1080], "samples": 1024, "output": "cancelled"}
                answered.append(await mcp.client.call_tool("render", arguments, progress_callback=progressed))
                running.set()  # answered before it ran: the assertion below says with what

            async with anyio.create_task_group() as group:
                group.start_soon(render)
                with anyio.fail_after(PATIENCE):
                    await running.wait()
                assert not answered, answered
                group.cancel_scope.cancel()  # the client sends notifications/cancelled

    anyio.run(scenario)
    with Bridge3DClient(mcp_gateway.url) as gateway:
        jobs = [job for job in gateway.jobs.list() if job.request.get("params", {}).get("output") == "cancelled"]
        assert len(jobs) == 1
        deadline = time.monotonic() + 30
        while (job := gateway.jobs.get(jobs[0].id)).state == "running" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert job.state == "cancelled", job
