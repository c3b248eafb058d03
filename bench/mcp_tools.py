"""An MCP tool call against the same REST call, side by side, and the size of the `tools/list` answer.

    .venv/bin/python bench/mcp_tools.py            # 1000 calls a side (about a minute)
    .venv/bin/python bench/mcp_tools.py --tiny --json mcp.json

Both sides run on one event loop in the same process, over Streamable HTTP to `/mcp` (the SDK's MCP client, one
MCP session) and over plain HTTP to the REST route (httpx, one kept-alive connection), in alternating blocks
(measure.alternate_blocks), against the real gateway and Blender, in the same session: the MCP connection's own,
which the REST calls name with X-Bridge3D-Session. Two rows: `measure` (one object) against GET /objects/{name},
`transform_object` against PATCH /objects/{name}. Target: a tool call adds at most 2 ms at p50. Each of the two
rows also shows an MCP ping's round trip: the MCP transport alone, with no tool and no gateway call. A third row is
the `tools/list` answer's size in characters of JSON (target: at most 12,000).

For bench/run.py: ``mcp_vs_rest(stack, sizes)`` is a figure function like those of figures.py (named "mcp").
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import httpx2
import mcp_types as types
from anyio.from_thread import BlockingPortal, start_blocking_portal
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPDeprecationWarning

from bridge3d.client import Client as Bridge3DClient
from measure import Row, alternate_blocks, ms, percentile
from stack import Stack, run_alone

PROBE = "McpBenchProbe"
LABEL = "bench-mcp"
TARGET_MS = 2.0
MAX_TOOLS_LIST_CHARS = 12_000


@dataclass
class Sides:
    """One MCP session and one REST connection in the same bridge3d session, on the portal's event loop."""

    mcp: Client
    rest: httpx.AsyncClient


@asynccontextmanager
async def connected(url: str) -> AsyncIterator[Sides]:
    async with (
        httpx2.AsyncClient(timeout=60) as mcp_http,
        Client(
            streamable_http_client(f"{url}/mcp", http_client=mcp_http),
            client_info=types.Implementation(name=LABEL, version="1"),
        ) as mcp,
    ):
        created = await mcp.call_tool("create_object", {"type": "cube", "name": PROBE})  # opens the MCP session's own
        assert not created.is_error, created.content
        with Bridge3DClient(url) as gateway:
            session = next(info.id for info in gateway.blender.sessions.list() if info.label == f"mcp {LABEL}")
        async with httpx.AsyncClient(base_url=url, headers={"X-Bridge3D-Session": session}, timeout=60) as rest:
            yield Sides(mcp, rest)


def block(portal: BlockingPortal, call: Callable[[], Awaitable[Any]]) -> Callable[[int], list[float]]:
    """``count`` timed calls run on the portal's loop (only the calls themselves are timed)."""

    async def timed_calls(count: int) -> list[float]:
        samples = []
        for _ in range(count):
            started = time.perf_counter()
            await call()
            samples.append(time.perf_counter() - started)
        return samples

    return lambda count: portal.call(timed_calls, count)


async def tool(sides: Sides, name: str, arguments: dict[str, Any]) -> None:
    result = await sides.mcp.call_tool(name, arguments)
    if result.is_error:
        raise RuntimeError(f"{name}: {result.content}")


async def rest(sides: Sides, method: str, path: str, body: Any = None) -> None:
    response = await sides.rest.request(method, path, json=body)
    response.raise_for_status()
    response.json()


def compared(figure: str, tool_side: list[float], rest_side: list[float], pings: list[float]) -> Row:
    """The tool against REST, and an MCP ping's round trip (the transport alone: no tool, no gateway call)."""
    tool_p50, rest_p50 = ms(percentile(tool_side, 0.5)), ms(percentile(rest_side, 0.5))
    tool_p99, rest_p99 = ms(percentile(tool_side, 0.99)), ms(percentile(rest_side, 0.99))
    ping_p50 = ms(percentile(pings, 0.5))
    added = tool_p50 - rest_p50
    return Row(
        figure,
        f"tool p50 {tool_p50:.2f} / p99 {tool_p99:.2f} ms, REST p50 {rest_p50:.2f} / p99 {rest_p99:.2f} ms "
        f"({added:+.2f} ms; an MCP ping alone p50 {ping_p50:.2f} ms)",
        f"≤ +{TARGET_MS:g} ms p50",
        added <= TARGET_MS,
        {
            "tool_p50_ms": tool_p50,
            "tool_p99_ms": tool_p99,
            "rest_p50_ms": rest_p50,
            "rest_p99_ms": rest_p99,
            "mcp_ping_p50_ms": ping_p50,
        },
    )


def mcp_vs_rest(stack: Stack, sizes: Any) -> list[Row]:
    """A figure of the suite: what a tool call over /mcp costs over the same REST call, and tools/list's size."""
    calls: int = sizes.calls
    url = stack.gateway.url
    path = f"/api/v1/blender/objects/{PROBE}"
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(connected(url)) as sides:
        listed = portal.call(sides.mcp.list_tools)
        wire = json.dumps(listed.model_dump(by_alias=True, mode="json", exclude_none=True), separators=(",", ":"))
        reads = alternate_blocks(
            block(portal, lambda: tool(sides, "measure", {"app": "blender", "objects": [PROBE]})),
            block(portal, lambda: rest(sides, "GET", path)),
            calls,
        )
        moves = alternate_blocks(
            block(portal, lambda: tool(sides, "transform_object", {"name": PROBE, "location": [1, 2, 3]})),
            block(portal, lambda: rest(sides, "PATCH", path, {"location": [1, 2, 3]})),
            calls,
        )
        with warnings.catch_warnings():  # ping is legacy-only from protocol 2026-07-28; this session uses 2025-11-25
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            pings = block(portal, sides.mcp.send_ping)(calls)
    size = Row(
        "MCP tools/list size",
        f"{len(wire):,} characters of JSON, {len(listed.tools)} tools",
        f"≤ {MAX_TOOLS_LIST_CHARS:,}",
        len(wire) <= MAX_TOOLS_LIST_CHARS,
        {"characters": len(wire), "tools": len(listed.tools)},
    )
    return [
        compared("MCP tool vs REST: measure / GET object", *reads, pings),
        compared("MCP tool vs REST: transform_object / PATCH object", *moves, pings),
        size,
    ]


def main(argv: list[str] | None = None) -> int:
    return run_alone(mcp_vs_rest, __doc__, 1000, argv)


if __name__ == "__main__":
    sys.exit(main())
