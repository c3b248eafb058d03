"""The tools' input schemas (no stack needed): valid JSON Schema, derived from the command schema (every parameter
of the commands a tool stands for is a property of it), and as permissive as the gateway, never stricter."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from bridge3d import commands
from bridge3d.mcp.options import McpOptions, OptionError
from bridge3d.mcp.server import all_tools
from bridge3d.mcp.tools import Tool

TOOLS = {tool.name: tool for tool in all_tools()}
# tool -> the commands (application, method) whose every REST parameter it takes
DERIVED = {
    "create_object": [("blender", "primitive.create"), ("freecad", "primitive.create")],
    "transform_object": [("blender", "object.transform"), ("freecad", "object.transform")],
    "delete_object": [("blender", "object.delete"), ("freecad", "object.delete")],
    "material": [("blender", "material.create")],
    "add_camera": [("blender", "camera.create")],
    "add_light": [("blender", "light.create")],
    "render": [("blender", "render.image")],
    "export_file": [("blender", "file.export"), ("freecad", "file.export")],
    "execute_code": [("blender", "code.execute"), ("freecad", "code.execute")],
}


@pytest.mark.parametrize("tool", TOOLS.values(), ids=list(TOOLS))
def test_every_input_schema_is_valid_json_schema(tool: Tool) -> None:
    jsonschema.Draft202012Validator.check_schema(tool.input_schema)
    assert tool.input_schema["type"] == "object"
    for name, prop in tool.input_schema["properties"].items():
        assert "type" in prop or "anyOf" in prop, f"{tool.name}.{name} has no type"
    assert set(tool.input_schema.get("required", [])) <= set(tool.input_schema["properties"])


@pytest.mark.parametrize("tool_name", DERIVED)
def test_tools_take_every_parameter_of_their_commands(tool_name: str) -> None:
    properties = TOOLS[tool_name].input_schema["properties"]
    for app, method in DERIVED[tool_name]:
        declared = commands.command(app, method)
        names = {param.rest_name for param in declared.all_params()}
        assert names <= set(properties), f"{tool_name} lacks {sorted(names - set(properties))} of {app} {method}"


def valid(tool: str, arguments: dict[str, Any]) -> bool:
    return bool(jsonschema.Draft202012Validator(TOOLS[tool].input_schema).is_valid(arguments))


def test_schemas_accept_what_the_gateway_accepts() -> None:
    assert valid("create_object", {"type": "cube", "size": 2, "location": [0, 0, 1]})
    assert valid("create_object", {"app": "freecad", "type": "box", "length": 10, "width": 20, "height": 30})
    assert valid("create_object", {"app": "freecad", "type": "cone", "radius1": 0, "radius2": 3})
    assert valid("material", {"name": "Red", "color": "#ff0000", "objects": ["Cube"]})
    assert valid("material", {"name": "Red", "color": [1, 0, 0, 1]})
    assert valid("render", {"engine": "CYCLES", "resolution": [1920, 1080], "samples": 64, "format": "JPEG"})
    assert valid("scene", {"app": "freecad", "fields": ["name", "volume", "center_of_mass"], "limit": 5})


def test_schemas_state_the_rules_a_model_needs() -> None:
    assert not valid("create_object", {"size": 2})  # type is required
    assert not valid("create_object", {"type": "pyramid"})
    assert not valid("create_object", {"type": "cube", "size": 0})
    assert not valid("create_object", {"type": "cube", "location": [0, 0]})
    assert not valid("render", {"resolution": [0, 480]})
    assert not valid("scene", {"limit": 1000})  # no 10,000-object dumps
    assert not valid("scene", {"fields": ["colour"]})
    assert not valid("job", {"job_id": "42"})


def test_options_read_the_environment_and_name_a_wrong_variable() -> None:
    assert McpOptions.from_environ({}) == McpOptions()
    options = McpOptions.from_environ(
        {"BRIDGE3D_MCP_EXECUTE": "true", "BRIDGE3D_MCP_SESSION": "default", "BRIDGE3D_MCP_IMAGE_MAX_SIDE": "512"}
    )
    assert options.execute and options.session == "default" and options.image_max_side == 512
    for variable, value in [
        ("BRIDGE3D_MCP_EXECUTE", "maybe"),
        ("BRIDGE3D_MCP_SESSION", "shared"),
        ("BRIDGE3D_MCP_IMAGE_MAX_SIDE", "12"),
        ("BRIDGE3D_MCP_TOOL_TIMEOUT", "soon"),
    ]:
        with pytest.raises(OptionError, match=variable):
            McpOptions.from_environ({variable: value})
