"""The MCP server itself (the official SDK's low-level ``Server``): the tool list, and every call run safely.

Every call is answered: a domain failure is a tool result with ``isError`` carrying the gateway's code and message
(``VALIDATION_ERROR: ...``), never a protocol error; an unexpected exception is logged and answered the same way
(``INTERNAL_ERROR``), so nothing an agent sends crashes the server. Each call is bounded by
BRIDGE3D_MCP_TOOL_TIMEOUT; a cancelled or timed-out call cancels the job it was following.

The low-level server rather than ``MCPServer``: the tools' input schemas come from the command schema, not from
Python signatures.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Sequence
from typing import Any, Protocol

import anyio
import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import Server
from mcp.shared.exceptions import MCPError

from bridge3d import __version__
from bridge3d.client import Bridge3DError

from .look import look_tool
from .options import McpOptions
from .sessions import SessionScope
from .tools import (
    Call,
    Reply,
    Tool,
    ToolRefusal,
    boolean_tool,
    camera_tool,
    convert_tool,
    create_tool,
    delete_tool,
    execute_tool,
    export_tool,
    import_tool,
    job_tool,
    light_tool,
    material_tool,
    measure_tool,
    render_tool,
    scene_tool,
    transfer_tool,
    transform_tool,
)

logger = logging.getLogger("bridge3d.mcp")

SERVER_NAME = "bridge3d"
INSTRUCTIONS = (
    "Real Blender (metres) and real FreeCAD (millimetres) behind bridge3d; rotations in degrees. Your objects live "
    "in sessions of your own. Use look to see the scene, render for a finished image, measure for volumes."
)


def all_tools() -> list[Tool]:
    """Every tool, in the order a model reads them; execute_code last (offered only when configured)."""
    return [
        scene_tool(),
        look_tool(),
        create_tool(),
        transform_tool(),
        delete_tool(),
        material_tool(),
        camera_tool(),
        light_tool(),
        render_tool(),
        boolean_tool(),
        measure_tool(),
        export_tool(),
        import_tool(),
        transfer_tool(),
        convert_tool(),
        job_tool(),
        execute_tool(),
    ]


class Connections(Protocol):
    """Where a call's sessions and links come from: one process (stdio) or each HTTP connection."""

    async def scope(self, ctx: ServerRequestContext[Any, Any]) -> SessionScope: ...

    def public_url(self, ctx: ServerRequestContext[Any, Any]) -> str: ...


def listed(tool: Tool) -> types.Tool:
    annotations = types.ToolAnnotations(read_only_hint=True) if tool.read_only else None
    return types.Tool(
        name=tool.name, description=tool.description, input_schema=tool.input_schema, annotations=annotations
    )


def error_result(code: str, message: str, details: dict[str, Any] | None = None) -> types.CallToolResult:
    error = {"code": code, "message": message, "details": details or {}}
    text = f"{code}: {message}"
    if details:
        text += "\n" + json.dumps(details, separators=(",", ":"), default=str)[:4000]
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=text)], structured_content={"error": error}, is_error=True
    )


def success_result(reply: Reply) -> types.CallToolResult:
    content: list[types.ContentBlock] = [
        types.TextContent(type="text", text=json.dumps(reply.data, separators=(",", ":"), default=str))
    ]
    if reply.image is not None:
        encoded = base64.b64encode(reply.image.data).decode("ascii")
        content.append(types.ImageContent(type="image", data=encoded, mime_type=reply.image.mime_type))
    return types.CallToolResult(content=content, structured_content=reply.data)


def unknown_arguments(tool: Tool, arguments: dict[str, Any]) -> types.CallToolResult | None:
    """Arguments the tool does not take, or required ones missing, as the gateway would word it."""
    errors = [
        {"field": key, "reason": f"is not a parameter of {tool.name} (allowed: {', '.join(sorted(tool.fields))})"}
        for key in arguments
        if key not in tool.fields
    ]
    errors += [
        {"field": name, "reason": "is required"}
        for name in tool.input_schema.get("required", [])
        if arguments.get(name) is None
    ]
    if not errors:
        return None
    summary = "; ".join(f"{error['field']}: {error['reason']}" for error in errors[:5])
    return error_result("VALIDATION_ERROR", f"Invalid request: {summary}", {**errors[0], "errors": errors})


class ToolServer:
    """The tools of one MCP server over ``connections``; ``server`` is what a transport runs."""

    def __init__(
        self,
        options: McpOptions,
        connections: Connections,
        *,
        execute_offered: bool,
        tools: Sequence[Tool] | None = None,
    ) -> None:
        self.options = options
        self.connections = connections
        offered = [tool for tool in (tools or all_tools()) if not tool.opt_in or execute_offered]
        self.tools = {tool.name: tool for tool in offered}
        self._listed = [listed(tool) for tool in offered]
        self.server: Server[Any] = Server(
            SERVER_NAME,
            version=__version__,
            title="bridge3d: Blender and FreeCAD",
            instructions=INSTRUCTIONS,
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
        )
        # The SDK's default middleware is its OpenTelemetry span per message: a no-op without an exporter that still
        # costs every call; bridge3d's own request log and metrics cover the calls (the SDK's documented opt-out).
        self.server.middleware.clear()

    def listing(self) -> types.ListToolsResult:
        return types.ListToolsResult(tools=self._listed)

    async def _list_tools(
        self, ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return self.listing()

    async def _call_tool(
        self, ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        tool = self.tools.get(params.name)
        if tool is None:
            # Not a domain failure: the client asked for something this server does not have (JSON-RPC -32602).
            raise MCPError(code=types.INVALID_PARAMS, message=f"Unknown tool: {params.name}")
        arguments = dict(params.arguments or {})
        refused = unknown_arguments(tool, arguments)
        if refused is not None:
            return refused
        timeout = self.options.tool_timeout
        try:
            with anyio.fail_after(timeout):
                scope = await self.connections.scope(ctx)
                call = Call(scope, self.options, self.connections.public_url(ctx), ctx.session.report_progress)
                reply = await tool.handler(call, arguments)
        except ToolRefusal as refusal:
            return error_result(refusal.code, refusal.message, refusal.details)
        except Bridge3DError as error:
            return error_result(error.code, error.message, error.details)
        except TimeoutError:
            message = f"{tool.name} took longer than {timeout:g} s (BRIDGE3D_MCP_TOOL_TIMEOUT); its job is cancelled"
            return error_result("TIMEOUT", message, {"limit": timeout, "setting": "BRIDGE3D_MCP_TOOL_TIMEOUT"})
        except Exception:
            logger.exception("MCP tool %s failed unexpectedly", tool.name)
            return error_result("INTERNAL_ERROR", f"{tool.name} failed unexpectedly; the server's log has the details")
        return success_result(reply)
