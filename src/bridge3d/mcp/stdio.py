"""`bridge3d mcp`: the MCP server over stdio for one agent (Claude Desktop, Claude Code), talking to a running
gateway through the SDK: BRIDGE3D_URL and BRIDGE3D_API_KEY from the environment, BRIDGE3D_MCP_* for the rest.

stdout carries the protocol only: logs go to stderr, and while serving the SDK points file descriptor 1 at stderr,
so nothing else (not even a library that prints) can break the stream. The process is one MCP connection: its
sessions are ended when the client closes stdin.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import anyio
from mcp.server.context import ServerRequestContext
from mcp.server.stdio import stdio_server

from bridge3d.client import AsyncClient, Bridge3DError, InvalidRequestError, PermissionDeniedError

from .options import McpOptions, OptionError
from .server import ToolServer
from .sessions import SessionScope

logger = logging.getLogger("bridge3d.mcp")
# The SDK client's timeout: longer than any tool call may take, so the tool timeout (with its message) comes first.
CLIENT_TIMEOUT_MARGIN = 30.0


class ProcessConnections:
    """stdio serves exactly one client: one set of sessions for the whole process."""

    def __init__(self, gateway: AsyncClient, options: McpOptions) -> None:
        self.gateway = gateway
        self.options = options
        self._scope: SessionScope | None = None

    async def scope(self, ctx: ServerRequestContext[Any, Any]) -> SessionScope:
        if self._scope is None:
            client = ctx.session.client_params.client_info.name if ctx.session.client_params else "client"
            self._scope = SessionScope(self.gateway, self.options.session, f"mcp {client}")
        return self._scope

    def public_url(self, ctx: ServerRequestContext[Any, Any]) -> str:
        return self.gateway.base_url

    async def close(self) -> None:
        if self._scope is not None:
            await self._scope.close()


async def execution_allowed(gateway: AsyncClient) -> bool:
    """Whether the gateway runs code: an empty program is refused either way, before anything runs, with 403
    EXECUTION_DISABLED when execution is off (BRIDGE3D_ALLOW_EXECUTE) and 422 when it is on."""
    try:
        await gateway.blender.execute(code="")
    except PermissionDeniedError:
        return False
    except InvalidRequestError:
        return True
    except Bridge3DError as error:
        logger.warning("execute_code is not offered: could not ask the gateway whether it runs code (%s)", error)
        return False
    return True


async def serve(options: McpOptions) -> None:
    async with AsyncClient(timeout=options.tool_timeout + CLIENT_TIMEOUT_MARGIN) as gateway:
        offered = options.execute and await execution_allowed(gateway)
        if options.execute and not offered:
            logger.warning("BRIDGE3D_MCP_EXECUTE is true but the gateway does not run code (BRIDGE3D_ALLOW_EXECUTE)")
        connections = ProcessConnections(gateway, options)
        tools = ToolServer(options, connections, execute_offered=offered)
        logger.info("MCP over stdio: gateway %s, %d tools", gateway.base_url, len(tools.tools))
        try:
            async with stdio_server() as (read_stream, write_stream):
                await tools.server.run(read_stream, write_stream, tools.server.create_initialization_options())
        finally:
            await connections.close()


def main() -> int:
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per gateway request would drown the client's log
    try:
        options = McpOptions.from_environ()
    except OptionError as exc:
        logger.error("%s", exc)
        return 2
    anyio.run(serve, options)
    return 0
