"""MCP: agents drive Blender and FreeCAD through bridge3d with curated tools, and see what they made.

Served two ways with the same tools (docs/MCP.md): `bridge3d mcp` over stdio (``stdio``: one agent, a running
gateway reached through the SDK) and Streamable HTTP at ``/mcp`` on the gateway (``http``: tools call the gateway
in-process). ``options`` (stdlib only) holds the settings; ``tools`` and ``look`` the tools; ``server`` the MCP
server; ``sessions`` the sessions of one MCP connection; ``schemas`` the tool input schemas from the command
schema; ``images`` the inline images. Importing this package loads nothing of the MCP SDK.
"""
