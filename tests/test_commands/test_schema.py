"""The command schema without any application: the one validator and its JSON Schema agree on every bound.

For every parameter of every command, values at and just beyond each bound (and of the wrong type) go through
``signature.clean`` and through a JSON Schema validator of ``signature.params_schema``: each must accept exactly what
the parameter's declaration promises (tests/schema_walk.py works that out on its own; a rule across parameters may
refuse more). The same walk through REST and the real hosts is in tests/test_api/test_bounds.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema_rs
import pytest

from bridge3d import commands
from bridge3d.commands.schema import Command, Param
from bridge3d.commands.signature import clean, params_schema
from bridge3d.rpc.errors import InvalidParams
from schema_walk import base_params, edges, refused_only_by_a_rule

COMMANDS = [(app, command) for app, table in commands.TABLES.items() for command in table.values()]


def walks() -> Iterator[tuple[str, Command, str | None, Param, str, Any, bool]]:
    for app, command in COMMANDS:
        cases = list(command.variant.cases) if command.variant is not None else [None]
        for case in cases:
            for param in command.case_params(case):
                if command.variant is not None and param.name == command.variant.on:
                    continue
                for label, value, valid in edges(param.kind):
                    yield app, command, case, param, label, value, valid


WALKS = list(walks())


@pytest.mark.parametrize(
    ("app", "command", "case", "param", "label", "value", "declared"),
    WALKS,
    ids=[f"{a}-{c.name}-{k or ''}-{p.name}-{label}" for a, c, k, p, label, _, _ in WALKS],
)
def test_validator_and_json_schema_accept_what_is_declared(
    app: str, command: Command, case: str | None, param: Param, label: str, value: Any, declared: bool
) -> None:
    params = {**base_params(command, case), param.name: value}
    try:
        clean(command, params)
        accepted = True
    except InvalidParams:
        accepted = False
    by_rule = not accepted and declared and refused_only_by_a_rule(command, params)
    assert accepted == declared or by_rule, f"clean {'accepts' if accepted else 'refuses'} {params!r}"
    schema = params_schema(command, case=case) if command.variant is not None else params_schema(command)
    valid = jsonschema_rs.validator_for(schema).is_valid(params)
    if valid and by_rule:  # a rule JSON Schema cannot state: the schema's description must say it
        assert "Also:" in schema.get("description", ""), "a rule JSON Schema cannot state is in the description"
        return
    assert accepted == valid, f"clean {'accepts' if accepted else 'refuses'} {params!r}, the schema does not"


def test_the_walk_covers_every_parameter() -> None:
    walked = {(app, command.name, param.name) for app, command, _, param, _, _, _ in WALKS}
    expected = {
        (app, command.name, param.name)
        for app, command in COMMANDS
        for param in command.all_params()
        if command.variant is None or param.name != command.variant.on
    }
    assert walked == expected
    # Both outcomes are walked for every parameter that has a value to refuse: the walk is not all refusals.
    accepted = {(app, command.name, param.name) for app, command, _, param, _, _, valid in WALKS if valid}
    assert accepted == expected, sorted(expected - accepted)


@pytest.mark.parametrize(("app", "command"), COMMANDS, ids=[f"{a}-{c.name}" for a, c in COMMANDS])
def test_every_command_schema_is_valid_json_schema(app: str, command: Command) -> None:
    jsonschema_rs.validator_for(params_schema(command))
    jsonschema_rs.validator_for(params_schema(command, rest=True))
    if command.result is not None:
        jsonschema_rs.validator_for(command.result.json_schema())


def test_defaults_are_filled_and_choices_canonical() -> None:
    cube = clean(commands.command("blender", "primitive.create"), {"type": "CUBE"})
    assert cube == {
        "type": "cube",
        "name": None,
        "location": (0.0, 0.0, 0.0),
        "rotation": (0.0, 0.0, 0.0),
        "scale": (1.0, 1.0, 1.0),
        "size": 2.0,
    }
    render = clean(commands.command("blender", "render.image"), {"engine": "blender_eevee_next", "format": "jpg"})
    assert (render["engine"], render["format"], render["resolution"], render["samples"]) == (
        "EEVEE",
        "JPEG",
        (640, 480),
        16,
    )
    box = clean(commands.command("freecad", "primitive.create"), {"type": "box", "location": [1, 2, 3]}, rest=True)
    assert box["position"] == (1.0, 2.0, 3.0) and "location" not in box


def test_errors_name_every_field_in_the_callers_names() -> None:
    with pytest.raises(InvalidParams) as refused:
        clean(commands.command("freecad", "object.transform"), {"location": [0, "x", 0], "colour": 1}, rest=True)
    errors = refused.value.data["errors"]
    assert errors == [
        {"field": "name", "reason": "is required"},
        {"field": "location[1]", "reason": "must be a number"},
        {
            "field": "colour",
            "reason": "is not a parameter of object.transform (allowed: document, location, name, relative, rotation)",
        },
    ]


def test_rules_across_parameters() -> None:
    cone = commands.command("blender", "primitive.create")
    with pytest.raises(InvalidParams, match="cannot both be 0"):
        clean(cone, {"type": "cone", "radius1": 0, "radius2": 0})
    assert clean(cone, {"type": "cone", "radius1": 0, "radius2": 1})["radius1"] == 0.0
    camera = commands.command("blender", "camera.create")
    with pytest.raises(InvalidParams, match="not both"):
        clean(camera, {"rotation": [0, 0, 0], "look_at": [1, 1, 1]})
    torus = commands.command("freecad", "primitive.create")
    with pytest.raises(InvalidParams, match="at most radius1"):
        clean(torus, {"type": "torus", "radius1": 2, "radius2": 3})
    schema = params_schema(camera)
    validator = jsonschema_rs.validator_for(schema)
    assert not validator.is_valid({"rotation": [0, 0, 0], "look_at": [1, 1, 1]})
    assert validator.is_valid({"rotation": [0, 0, 0], "look_at": None})
    assert "at most radius1" in params_schema(torus, case="torus")["description"]


def test_every_result_shape_has_the_keys_hosts_answer_with() -> None:
    blender_object = commands.command("blender", "object.get").result
    assert blender_object is not None
    blender_object.check(
        {
            "name": "Cube",
            "type": "MESH",
            "location": [0, 0, 0],
            "rotation": [0, 0, 0],
            "scale": [1, 1, 1],
            "dimensions": [2, 2, 2],
            "bounds": {"min": [-1, -1, -1], "max": [1, 1, 1]},
            "visible": True,
            "rotation_mode": "XYZ",
            "vertices": 8,
            "faces": 6,
            "materials": [],
            "parent": None,
            "data": "Cube",
        }
    )
    with pytest.raises(ValueError, match="vertices should be integer"):
        blender_object.check(
            {
                "name": "x",
                "type": "MESH",
                "location": [],
                "rotation": [],
                "scale": [],
                "dimensions": [],
                "bounds": {},
                "visible": True,
                "rotation_mode": "XYZ",
                "vertices": "8",
                "faces": 6,
                "materials": [],
                "parent": None,
                "data": None,
            }
        )
