"""`/mcp` is guarded like the rest of the gateway: the API key when one is set, and `Origin` on every method (the MCP
transport's defence against DNS rebinding) with the gateway's own CORS rule; code execution is offered only when
both BRIDGE3D_MCP_EXECUTE and the gateway allow it; a failure deep in the stack is a tool error, not a crash."""

from __future__ import annotations

import anyio
import httpx
import pytest

from gateway import Gateway

from .conftest import STRICT_KEY, over_http, over_stdio

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "probe", "version": "1"}},
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def test_the_api_key_is_required(strict_gateway: Gateway) -> None:
    for headers in ({}, {"Authorization": "Bearer not-the-key"}, {"X-API-Key": "nor-this"}):
        refused = httpx.post(f"{strict_gateway.url}/mcp", json=INITIALIZE, headers=MCP_HEADERS | headers)
        assert refused.status_code == 401, refused.text
        assert refused.headers["www-authenticate"] == 'Bearer realm="bridge3d"'
        error = refused.json()["error"]
        assert error["code"] == "UNAUTHORIZED" and error["details"]["setting"] == "BRIDGE3D_API_KEY"
    accepted = httpx.post(f"{strict_gateway.url}/mcp", json=INITIALIZE, headers=MCP_HEADERS | {"X-API-Key": STRICT_KEY})
    assert accepted.status_code == 200 and accepted.headers["mcp-session-id"]


@pytest.mark.parametrize("method", ["POST", "GET", "DELETE"])
def test_a_foreign_origin_is_refused_on_every_method(strict_gateway: Gateway, method: str) -> None:
    headers = MCP_HEADERS | {"Authorization": f"Bearer {STRICT_KEY}", "Origin": "http://evil.example"}
    refused = httpx.request(method, f"{strict_gateway.url}/mcp", json=INITIALIZE, headers=headers)
    assert refused.status_code == 403, refused.text
    error = refused.json()["error"]
    assert error["code"] == "ORIGIN_NOT_ALLOWED" and error["details"]["setting"] == "BRIDGE3D_CORS_ORIGINS"
    allowed = headers | {"Origin": "http://localhost"}  # in BRIDGE3D_CORS_ORIGINS by default
    assert httpx.post(f"{strict_gateway.url}/mcp", json=INITIALIZE, headers=allowed).status_code == 200


def test_execution_is_offered_only_when_the_gateway_allows_it(strict_gateway: Gateway) -> None:
    """The strict gateway has BRIDGE3D_MCP_EXECUTE=true but BRIDGE3D_ALLOW_EXECUTE=false: neither transport
    offers execute_code; and with no application running, a tool call is a tool error naming the limit."""

    async def scenario() -> None:
        async with over_http(strict_gateway.url, key=STRICT_KEY) as mcp:
            names = [tool.name for tool in (await mcp.client.list_tools()).tools]
            assert "execute_code" not in names and "render" in names
            unavailable = await mcp.error("create_object", {"type": "cube"})
            assert unavailable["code"] == "TOO_MANY_SESSIONS"
            assert unavailable["details"]["setting"] == "BRIDGE3D_BLENDER__WORKERS"
        async with over_stdio(strict_gateway.url, BRIDGE3D_API_KEY=STRICT_KEY, BRIDGE3D_MCP_EXECUTE="true") as mcp:
            names = [tool.name for tool in (await mcp.client.list_tools()).tools]
            assert "execute_code" not in names and "look" in names

    anyio.run(scenario)
