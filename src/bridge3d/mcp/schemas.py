"""Tool input schemas, derived from the one command schema (``bridge3d.commands``) and made small for a model.

Each property is its parameter's kind's JSON Schema (``Kind.json_schema``), pruned of what only costs tokens: the
file-name and object-name patterns (the gateway checks them and names the field when one is wrong), ``examples``
and choices spelled as any-case patterns (an ``enum`` of the canonical spellings instead; the gateway still takes
any case). A tool that stands for several commands (both applications, or every primitive type) gets the union of
their parameters: a property several commands share keeps the constraints they agree on, and says which commands
it belongs to when not all of them have it. The gateway validates every call with the command schema itself, so a
schema here may be looser than the rule, never stricter.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bridge3d.commands import command
from bridge3d.commands.schema import (
    HEX_COLOR_PATTERN,
    MAX_NAME_CHARS,
    NAME_PATTERN,
    Choice,
    Color,
    Command,
    FileName,
    JsonSchema,
    Name,
    Param,
)
from bridge3d.rpc.workspace import FILE_NAME_PATTERN

LONG_PATTERNS = frozenset({FILE_NAME_PATTERN, NAME_PATTERN, HEX_COLOR_PATTERN})
# Bounds this far out guard against runaway requests (coordinates to 1e9, sizes to 1e6, renders to 16,384 px, code
# to 1,000,000 characters): the gateway keeps them, and its own often narrower limits (BRIDGE3D_MAX_RENDER_SIZE,
# ...), which it names when it refuses; a model never needs to read them.
GUARD_BOUND = 4096
BOUND_KEYS = frozenset({"minimum", "maximum", "maxLength"})
APPS = ("blender", "freecad")
# The command schema's longer descriptions of the parameters most tools share, as a model needs them.
SHORTER = {
    "document name (internal name or label); the active one when omitted": "",
    "requested name; a taken name gets Blender's .001 suffix (see the result)": "",
    "requested name; FreeCAD makes a taken one unique (Box001)": "",
    "file name; the extension is added; generated when omitted": "file name (default: generated)",
    "object names; all when omitted": "default: all",
    "object names; every visible solid when omitted": "default: visible solids",
    "STL/OBJ chord height in mm (default 1/1000 of each shape's size; at least 1/10,000 of it)": "STL/OBJ chord "
    "height, mm",
    "object name": "",
    "object name (internal Name or Label)": "",
    "object names": "",
    "material name": "",
    "the kind of light": "",
    "the primitive": "",
    "[x, y, z]": "",
    "placement base [x, y, z] in mm": "",
    "Euler XYZ in degrees": "degrees",
    "top radius (> 0: a truncated cone)": "top radius",
    "add location and rotation, multiply scale": "add to the current values",
    "add to the current placement (rotation about world axes)": "add to the current values",
    "W (sun: W/m²); Blender's default for the type when omitted": "W (sun: W/m²)",
    "camera object; the scene camera when omitted": "default: the scene camera",
    "render samples (Cycles, EEVEE)": "Cycles, EEVEE",
    "from the file's extension when omitted": "default: from the extension",
    "the boolean": "",
}
# Defaults a model assumes anyway (nothing, zero, no rotation, unit scale): not worth the tokens.
OBVIOUS_DEFAULTS = ([0, 0, 0], [1, 1, 1], 0, False)
COLOR_SCHEMA: JsonSchema = {"type": ["array", "string"], "description": "[r, g, b(, a)] in 0..1 or '#rrggbb'"}
# Keys every source of a merged property may state differently without the property losing its kind.
ANNOTATIONS = frozenset({"description", "default"})


def prune(schema: Any) -> Any:
    """``schema`` without examples, the long name and colour patterns (file names keep their length limit), the
    guard bounds, and with whole numbers written as integers."""
    if isinstance(schema, list):
        return [prune(item) for item in schema]
    if isinstance(schema, float) and schema.is_integer():
        return int(schema)
    if not isinstance(schema, dict):
        return schema
    pruned = {
        key: prune(value)
        for key, value in schema.items()
        if key != "examples" and not (key in BOUND_KEYS and abs(value) >= GUARD_BOUND)
    }
    if pruned.get("pattern") in LONG_PATTERNS:
        del pruned["pattern"]
        pruned.pop("allOf", None)  # a file name's extension and forbidden characters: the gateway says which
    for key, implied in (("minLength", 0), ("minLength", 1), ("maxLength", MAX_NAME_CHARS), ("uniqueItems", True)):
        if pruned.get(key) == implied:
            del pruned[key]  # not empty, a name's length, no name twice: the gateway names the field otherwise
    return pruned


def property_schema(param: Param) -> JsonSchema:
    """One parameter as a tool property: its kind's schema, pruned, with its description and default."""
    kind = param.kind
    if isinstance(kind, Choice):
        schema: JsonSchema = {"type": "string", "enum": list(kind.options)}
    elif isinstance(kind, Color):
        schema = dict(COLOR_SCHEMA)  # its two spellings in words; the gateway checks the channels
    elif isinstance(kind, Name):
        schema = {"type": "string"}  # 1-63 characters, no control characters: the gateway names a wrong one
    else:
        schema = prune(kind.json_schema())
    described = SHORTER.get(param.description, param.description)
    hint = schema.get("description", "") if isinstance(kind, Color) or not param.description else ""
    described = f"{described} ({hint})" if described and hint else described or hint
    if isinstance(kind, FileName) and "file name" not in described:
        described = f"{described}; a file name, no folders" if described else "a file name, no folders"
    schema.pop("description", None)
    if described:
        schema["description"] = described
    if not param.required and param.default is not None:
        default = prune(list(param.default) if isinstance(param.default, tuple) else param.default)
        if not any(default == obvious and type(default) is type(obvious) for obvious in OBVIOUS_DEFAULTS):
            schema["default"] = default
    return schema


def properties(
    command: Command,
    *,
    only: Iterable[str] | None = None,
    skip: Iterable[str] = (),
    case: str | None = None,
) -> dict[str, JsonSchema]:
    """The REST-named properties of ``command`` (of one ``case`` of a variant command), in declaration order."""
    wanted = set(only) if only is not None else None
    skipped = set(skip)
    found: dict[str, JsonSchema] = {}
    for param in command.case_params(case):
        name = param.rest_name
        if name in skipped or (wanted is not None and name not in wanted):
            continue
        found[name] = property_schema(param)
    return found


def required(command: Command, *, case: str | None = None, skip: Iterable[str] = ()) -> list[str]:
    skipped = set(skip)
    return [p.rest_name for p in command.case_params(case) if p.required and p.rest_name not in skipped]


def merge(
    sources: Sequence[tuple[str, Mapping[str, JsonSchema]]],
    *,
    shown: Mapping[str, str] | None = None,
    groups: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, JsonSchema]:
    """The union of several commands' properties, each source labelled (an application, a primitive type).

    A property every source has alike is kept as it is. Otherwise it keeps the constraints all its sources agree on
    (choices become the union of their options) and its default only when they agree; its description says where
    each of its meanings applies when not every source has it: by ``shown`` name (``cone`` for ``blender cone``),
    or by group (``blender``) when it applies to every source of one.
    """
    labels = [label for label, _ in sources]
    holders: dict[str, list[tuple[str, JsonSchema]]] = {}
    for label, props in sources:
        for name, schema in props.items():
            holders.setdefault(name, []).append((label, schema))
    merged: dict[str, JsonSchema] = {}
    for name, held in holders.items():
        schemas = [schema for _, schema in held]
        combined = dict(schemas[0]) if all(schema == schemas[0] for schema in schemas) else _common(schemas)
        combined.pop("description", None)
        meanings: dict[str, list[str]] = {}
        for label, schema in held:
            meanings.setdefault(schema.get("description", ""), []).append(label)
        texts = [
            meaning if set(where) == set(labels) else f"{meaning} {_where(where, shown or {}, groups or {})}".strip()
            for meaning, where in meanings.items()
        ]
        texts = [text for text in texts if text]
        if texts:
            combined["description"] = "; ".join(texts)
        merged[name] = combined
    return merged


def _where(labels: Sequence[str], shown: Mapping[str, str], groups: Mapping[str, Sequence[str]]) -> str:
    """ "(blender)" for every label of a group, else the labels' shown names: "(cube, plane)"."""
    rest = list(labels)
    parts = []
    for group, members in groups.items():
        if members and set(members) <= set(rest):
            parts.append(group)
            rest = [label for label in rest if label not in members]
    parts += list(dict.fromkeys(shown.get(label, label) for label in rest))
    return f"({', '.join(parts)})"


def _common(schemas: Sequence[JsonSchema]) -> JsonSchema:
    """What every schema says alike; enums joined; the first description; the default when all agree."""
    first = schemas[0]
    combined: JsonSchema = {}
    for key, value in first.items():
        if key in ANNOTATIONS:
            continue
        if key == "enum" and all("enum" in schema for schema in schemas):
            combined["enum"] = list(dict.fromkeys(option for schema in schemas for option in schema["enum"]))
        elif all(schema.get(key) == value for schema in schemas):
            combined[key] = value
    if "type" not in combined and "anyOf" not in combined:
        kinds = {json_type(schema) for schema in schemas}
        if len(kinds) == 1 and None not in kinds:
            combined["type"] = kinds.pop()
    defaults = [json.dumps(schema.get("default"), sort_keys=True) for schema in schemas]
    if "default" in first and len(set(defaults)) == 1:
        combined["default"] = first["default"]
    return combined


def json_type(schema: JsonSchema) -> str | None:
    """The one JSON type a schema accepts (through ``anyOf`` too), or None."""
    if isinstance(schema.get("type"), str):
        return str(schema["type"])
    kinds = {json_type(option) for option in schema.get("anyOf", [])}
    return kinds.pop() if len(kinds) == 1 else None


def app_property(default: str = "blender", apps: Sequence[str] = APPS) -> JsonSchema:
    return {"type": "string", "enum": list(apps), "default": default}


def either_app_schema(method: str, required_names: Sequence[str] = ()) -> JsonSchema:
    """The input schema of a tool that runs ``method`` in either application: ``app`` and the union of both
    commands' parameters."""
    sources = [(app, properties(command(app, method))) for app in APPS]
    return object_schema({"app": app_property(), **merge(sources)}, required_names)


def object_schema(props: Mapping[str, JsonSchema], required_names: Sequence[str] = ()) -> JsonSchema:
    """A tool's input schema. It leaves out ``additionalProperties: false`` (tokens in every tool): the server
    refuses an unknown argument anyway, naming it and the ones allowed."""
    schema: JsonSchema = {"type": "object", "properties": dict(props)}
    if required_names:
        schema["required"] = list(dict.fromkeys(required_names))
    return schema
