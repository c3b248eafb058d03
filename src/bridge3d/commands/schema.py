"""The building blocks of the command schema: kinds of values, parameters, commands, result shapes.

Each kind knows three things about its values, so they can never disagree: how to check one (the host servers and
the gateway run the same check), its JSON Schema (the OpenAPI document, MCP tool schemas), and its Python type
(the SDK's signatures). Stdlib only: Blender's and FreeCAD's own Python import it (3.10 syntax).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..rpc.errors import InvalidParams
from ..rpc.workspace import FILE_NAME_PATTERN, MAX_FILE_NAME_CHARS, check_file_name

JsonSchema = dict[str, Any]


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()


def refuse(field: str, reason: str) -> InvalidParams:
    return InvalidParams.for_field(field, reason)


def _shown(value: float) -> str:
    return f"{value:g}"


# ----------------------------------------------------------------------------------------------------- kinds
class Kind:
    """A kind of value. ``check`` returns the clean value or raises InvalidParams naming ``field``."""

    python_type = "Any"

    def check(self, field: str, value: Any) -> Any:  # pragma: no cover - every kind overrides it
        raise NotImplementedError

    def json_schema(self) -> JsonSchema:  # pragma: no cover
        raise NotImplementedError


@dataclass(frozen=True)
class Number(Kind):
    """A finite number (an integer is accepted); ``nonzero`` refuses 0 (a scale); ``or_zero`` also accepts 0 below
    the minimum (a cone's radius: 0, or at least what the geometry kernel can build)."""

    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    nonzero: bool = False
    or_zero: bool = False
    python_type = "float"

    def check(self, field: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise refuse(field, "must be a number")
        number = float(value)
        if not math.isfinite(number):
            raise refuse(field, "must be finite (not NaN or infinite)")
        if self.or_zero and number == 0:
            return 0.0
        if self.minimum is not None and number < self.minimum:
            raise refuse(
                field,
                f"must be 0 or >= {_shown(self.minimum)}" if self.or_zero else f"must be >= {_shown(self.minimum)}",
            )
        if self.exclusive_minimum is not None and number <= self.exclusive_minimum:
            raise refuse(field, f"must be > {_shown(self.exclusive_minimum)}")
        if self.maximum is not None and number > self.maximum:
            raise refuse(field, f"must be <= {_shown(self.maximum)}")
        if self.nonzero and number == 0:
            raise refuse(field, "must not be 0")
        return number

    def json_schema(self) -> JsonSchema:
        schema: JsonSchema = {"type": "number"}
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.exclusive_minimum is not None:
            schema["exclusiveMinimum"] = self.exclusive_minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        if self.nonzero:
            schema["not"] = {"const": 0}
        if self.or_zero:
            return {"anyOf": [{"type": "number", "const": 0}, schema]}
        return schema


@dataclass(frozen=True)
class Integer(Kind):
    """An integer (a float with no fractional part counts, as in JSON Schema)."""

    minimum: int | None = None
    maximum: int | None = None
    python_type = "int"

    def check(self, field: str, value: Any) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise refuse(field, "must be an integer")
        if self.minimum is not None and value < self.minimum:
            raise refuse(field, f"must be >= {self.minimum}")
        if self.maximum is not None and value > self.maximum:
            raise refuse(field, f"must be <= {self.maximum}")
        return value

    def json_schema(self) -> JsonSchema:
        schema: JsonSchema = {"type": "integer"}
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        return schema


@dataclass(frozen=True)
class Boolean(Kind):
    python_type = "bool"

    def check(self, field: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise refuse(field, "must be true or false")
        return value

    def json_schema(self) -> JsonSchema:
        return {"type": "boolean"}


def _encodable(field: str, value: str) -> None:
    """JSON may carry lone surrogates (\\ud800); no application can store them."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise refuse(field, "must be valid Unicode text (no lone surrogates)") from None


@dataclass(frozen=True)
class Text(Kind):
    """Free text (Python source, a search string)."""

    min_length: int = 0
    max_length: int | None = None
    python_type = "str"

    def check(self, field: str, value: Any) -> str:
        if not isinstance(value, str):
            raise refuse(field, "must be a string")
        if len(value) < self.min_length:
            raise refuse(field, "must not be empty" if self.min_length == 1 else f"must be >= {self.min_length} chars")
        if self.max_length is not None and len(value) > self.max_length:
            raise refuse(field, f"must be at most {self.max_length} characters")
        _encodable(field, value)
        return value

    def json_schema(self) -> JsonSchema:
        schema: JsonSchema = {"type": "string", "minLength": self.min_length}
        if self.max_length is not None:
            schema["maxLength"] = self.max_length
        return schema


# Object, material and document names: what Blender (63 bytes) and FreeCAD accept, minus control characters.
MAX_NAME_CHARS = 63
NAME_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]+$"
_NAME = re.compile(NAME_PATTERN)


@dataclass(frozen=True)
class Name(Kind):
    """An object, material or document name: 1..63 characters, no control characters."""

    python_type = "str"

    def check(self, field: str, value: Any) -> str:
        if not isinstance(value, str) or not value:
            raise refuse(field, "must be a non-empty string")
        if len(value) > MAX_NAME_CHARS:
            raise refuse(field, f"must be at most {MAX_NAME_CHARS} characters")
        if not _NAME.match(value):
            raise refuse(field, "must not contain control characters")
        _encodable(field, value)
        return value

    def json_schema(self) -> JsonSchema:
        return {"type": "string", "minLength": 1, "maxLength": MAX_NAME_CHARS, "pattern": NAME_PATTERN}


@dataclass(frozen=True)
class FileName(Kind):
    """A file in the workspace: one name, never a path (the rule of ``rpc.workspace.check_file_name``).

    ``extensions``: the name must end in one of them (any case); ``forbid``: characters refused on top of the rule
    (Blender reads '#' in a render output as a frame-number placeholder).
    """

    extensions: tuple[str, ...] = ()
    forbid: str = ""
    python_type = "str"

    def check(self, field: str, value: Any) -> str:
        name = check_file_name(value, field)
        if self.extensions and not name.lower().endswith(tuple(ext.lower() for ext in self.extensions)):
            raise refuse(field, f"must end in {' or '.join(self.extensions)}")
        for character in self.forbid:
            if character in name:
                raise refuse(field, f"must not contain {character!r}")
        return name

    def json_schema(self) -> JsonSchema:
        schema: JsonSchema = {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_FILE_NAME_CHARS,
            "pattern": FILE_NAME_PATTERN,
        }
        more = []
        if self.extensions:
            more.append({"pattern": "(?:" + "|".join(any_case(ext) for ext in self.extensions) + ")$"})
        if self.forbid:
            more.append({"pattern": "^[^" + re.escape(self.forbid) + "]*$"})
        if more:
            schema["allOf"] = more
        return schema


def any_case(text: str) -> str:
    """A pattern matching ``text`` in any mix of upper and lower case ('glb', 'Glb', 'GLB')."""
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c) for c in text)


def any_case_pattern(options: Sequence[str]) -> str:
    """A pattern matching exactly one of ``options``, in any case."""
    return "^(?:" + "|".join(any_case(option) for option in options) + ")$"


@dataclass(frozen=True)
class Choice(Kind):
    """One of ``options``, in any case, or one of their ``aliases``; answered with the canonical spelling."""

    options: tuple[str, ...]
    aliases: Mapping[str, str] = field(default_factory=dict)

    @property
    def python_type(self) -> str:  # type: ignore[override]
        return "Literal[" + ", ".join(repr(option) for option in self.options) + "]"

    def check(self, field: str, value: Any) -> str:
        if not isinstance(value, str):
            raise refuse(field, f"must be one of {', '.join(self.options)}")
        key = value.upper()
        key = {alias.upper(): target for alias, target in self.aliases.items()}.get(key, key).upper()
        for option in self.options:
            if option.upper() == key:
                return option
        raise refuse(field, f"must be one of {', '.join(self.options)} (any case)")

    def json_schema(self) -> JsonSchema:
        return {
            "type": "string",
            "pattern": any_case_pattern((*self.options, *self.aliases)),
            "description": f"one of {', '.join(self.options)} (any case)",
            "examples": [self.options[0]],
        }


@dataclass(frozen=True)
class Vector(Kind):
    """``size`` values, each checked by ``item``."""

    item: Kind = Number()
    size: int = 3

    @property
    def python_type(self) -> str:  # type: ignore[override]
        return "tuple[" + ", ".join([self.item.python_type] * self.size) + "]"

    def check(self, field: str, value: Any) -> tuple[Any, ...]:
        if not isinstance(value, (list, tuple)) or len(value) != self.size:
            raise refuse(field, f"must be a list of {self.size} {self.item.python_type}s")
        return tuple(self.item.check(f"{field}[{i}]", v) for i, v in enumerate(value))

    def json_schema(self) -> JsonSchema:
        return {"type": "array", "items": self.item.json_schema(), "minItems": self.size, "maxItems": self.size}


HEX_COLOR_PATTERN = r"^#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$"
_HEX_COLOR = re.compile(HEX_COLOR_PATTERN)
_UNIT = Number(minimum=0.0, maximum=1.0)


@dataclass(frozen=True)
class Color(Kind):
    """RGB or RGBA in 0..1, or '#rrggbb' / '#rrggbbaa'; answered as RGBA (alpha 1 when not given)."""

    python_type = "tuple[float, float, float] | tuple[float, float, float, float] | str"

    def check(self, field: str, value: Any) -> tuple[float, float, float, float]:
        if isinstance(value, str):
            if not _HEX_COLOR.match(value):
                raise refuse(field, "must be '#rrggbb', '#rrggbbaa' or a list of 3-4 numbers in 0..1")
            text = value[1:]
            channels = [int(text[i : i + 2], 16) / 255.0 for i in range(0, len(text), 2)]
        elif isinstance(value, (list, tuple)) and len(value) in (3, 4):
            channels = [_UNIT.check(f"{field}[{i}]", v) for i, v in enumerate(value)]
        else:
            raise refuse(field, "must be '#rrggbb' or a list of 3-4 numbers in 0..1")
        if len(channels) == 3:
            channels.append(1.0)
        return (channels[0], channels[1], channels[2], channels[3])

    def json_schema(self) -> JsonSchema:
        return {
            "anyOf": [
                {"type": "array", "items": _UNIT.json_schema(), "minItems": 3, "maxItems": 4},
                {"type": "string", "pattern": HEX_COLOR_PATTERN},
            ],
            "description": "[r, g, b] or [r, g, b, a], each in 0..1, or '#rrggbb' / '#rrggbbaa'",
        }


@dataclass(frozen=True)
class NameList(Kind):
    """A list of names, each once."""

    min_items: int = 1
    max_items: int | None = None
    python_type = "list[str]"

    def check(self, field: str, value: Any) -> list[str]:
        if not isinstance(value, list):
            raise refuse(field, "must be a list of names")
        if len(value) < self.min_items:
            raise refuse(
                field, "must not be empty" if self.min_items == 1 else f"needs at least {self.min_items} names"
            )
        if self.max_items is not None and len(value) > self.max_items:
            raise refuse(field, f"must have at most {self.max_items} names")
        names = [Name().check(f"{field}[{i}]", item) for i, item in enumerate(value)]
        if len(set(names)) != len(names):
            raise refuse(field, "must not name an object twice")
        return names

    def json_schema(self) -> JsonSchema:
        schema: JsonSchema = {"type": "array", "items": Name().json_schema(), "minItems": self.min_items}
        if self.max_items is not None:
            schema["maxItems"] = self.max_items
        schema["uniqueItems"] = True
        return schema


# ------------------------------------------------------------------------------------------------ parameters
@dataclass(frozen=True)
class Param:
    """One named parameter. ``default`` None means optional and null allowed; REQUIRED means it must be given.

    ``rest`` is its name in the REST API when that differs (FreeCAD's placement ``position`` is ``location``).
    """

    name: str
    kind: Kind
    default: Any = None
    description: str = ""
    rest: str | None = None

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def rest_name(self) -> str:
        return self.rest or self.name

    def check(self, field: str, value: Any) -> Any:
        if value is None and self.default is None:
            return None
        return self.kind.check(field, value)

    def json_schema(self) -> JsonSchema:
        schema = dict(self.kind.json_schema())
        if self.description:
            schema["description"] = self.description + (
                f" ({schema['description']})" if "description" in schema else ""
            )
        if self.default is None:
            schema = {"anyOf": [schema, {"type": "null"}], "default": None}
            if self.description:
                schema["description"] = self.description
        elif not self.required:
            schema["default"] = list(self.default) if isinstance(self.default, tuple) else self.default
        return schema


# ------------------------------------------------------------------------------- rules across parameters
@dataclass(frozen=True)
class Rule:
    """A rule over several parameters, checked after each parameter on its own. ``json_schema`` is None when
    JSON Schema cannot say it (it is then stated in the command's description)."""

    text: str

    def check(self, values: Mapping[str, Any], name: Callable[[str], str]) -> None:  # pragma: no cover
        raise NotImplementedError

    def json_schema(self, name: Callable[[str], str], defaults: Mapping[str, Any]) -> JsonSchema | None:
        return None


@dataclass(frozen=True)
class NotBoth(Rule):
    first: str = ""
    second: str = ""

    def check(self, values: Mapping[str, Any], name: Callable[[str], str]) -> None:
        if values.get(self.first) is not None and values.get(self.second) is not None:
            raise refuse(name(self.second), f"give {name(self.first)} or {name(self.second)}, not both")

    def json_schema(self, name: Callable[[str], str], defaults: Mapping[str, Any]) -> JsonSchema | None:
        both = {"required": [name(self.first), name(self.second)]}
        nulls = [{"properties": {name(p): {"type": "null"}}} for p in (self.first, self.second)]
        return {"anyOf": [{"not": both}, *nulls]}


@dataclass(frozen=True)
class NotBothZero(Rule):
    first: str = ""
    second: str = ""

    def check(self, values: Mapping[str, Any], name: Callable[[str], str]) -> None:
        if values.get(self.first) == 0 and values.get(self.second) == 0:
            raise refuse(name(self.first), f"{name(self.first)} and {name(self.second)} cannot both be 0")

    def json_schema(self, name: Callable[[str], str], defaults: Mapping[str, Any]) -> JsonSchema | None:
        def positive(param: str) -> JsonSchema:
            given = {"required": [name(param)], "properties": {name(param): {"exclusiveMinimum": 0}}}
            return {"anyOf": [given, {"not": {"required": [name(param)]}}]} if defaults[param] != 0 else given

        return {"anyOf": [positive(self.first), positive(self.second)]}


@dataclass(frozen=True)
class Different(Rule):
    first: str = ""
    second: str = ""

    def check(self, values: Mapping[str, Any], name: Callable[[str], str]) -> None:
        if values.get(self.first) == values.get(self.second):
            raise refuse(name(self.second), f"must differ from {name(self.first)}")


@dataclass(frozen=True)
class AtMost(Rule):
    """``smaller`` <= ``larger``."""

    smaller: str = ""
    larger: str = ""

    def check(self, values: Mapping[str, Any], name: Callable[[str], str]) -> None:
        if values[self.smaller] > values[self.larger]:
            raise refuse(name(self.smaller), f"must be at most {name(self.larger)}")


@dataclass(frozen=True)
class AtMostTimes(Rule):
    """``length`` <= ``factor`` times the largest of ``widths``."""

    length: str = ""
    widths: tuple[str, ...] = ()
    factor: float = 1.0

    def check(self, values: Mapping[str, Any], name: Callable[[str], str]) -> None:
        if values[self.length] > self.factor * max(values[width] for width in self.widths):
            widths = " and ".join(name(width) for width in self.widths)
            raise refuse(name(self.length), f"must be at most {self.factor:g} times the larger of {widths}")


# -------------------------------------------------------------------------------------------------- results
@dataclass(frozen=True)
class Field:
    """One key of a result: its JSON type ('string', 'number', 'integer', 'boolean', 'array', 'object'),
    whether it may be null and whether every result has it."""

    name: str
    type: str
    description: str = ""
    nullable: bool = False
    required: bool = True
    items: str | None = None  # the JSON type of an array's items


@dataclass(frozen=True)
class Shape:
    """The declared shape of a result. Extra keys are allowed (an application adds its own details)."""

    name: str
    fields: tuple[Field, ...]
    description: str = ""
    summary: tuple[str, ...] = ()  # the keys a batch step reports unless asked for the full result

    def summarize(self, value: Any) -> Any:
        if not self.summary or not isinstance(value, dict):
            return value
        return {key: value[key] for key in self.summary if key in value}

    def check(self, value: Any) -> None:
        """Raise ValueError unless ``value`` has every required key with the declared type."""
        if not isinstance(value, dict):
            raise ValueError(f"{self.name}: expected an object, got {type(value).__name__}")
        for spec in self.fields:
            if spec.name not in value:
                if spec.required:
                    raise ValueError(f"{self.name}.{spec.name} is missing")
                continue
            item = value[spec.name]
            if item is None and spec.nullable:
                continue
            if not _is_json_type(item, spec.type):
                raise ValueError(f"{self.name}.{spec.name} should be {spec.type}, got {type(item).__name__}")

    def json_schema(self) -> JsonSchema:
        properties: dict[str, JsonSchema] = {}
        for spec in self.fields:
            schema: JsonSchema = {} if spec.type == "any" else {"type": spec.type}
            if spec.items:
                schema["items"] = {"type": spec.items}
            if spec.nullable:
                schema = {"anyOf": [schema, {"type": "null"}]}
            if spec.description:
                schema["description"] = spec.description
            properties[spec.name] = schema
        return {
            "title": self.name,
            "type": "object",
            "properties": properties,
            "required": [spec.name for spec in self.fields if spec.required],
            "additionalProperties": True,
        }


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "any": (object,),
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "array": (list, tuple),
    "object": (dict,),
}


def _is_json_type(value: Any, json_type: str) -> bool:
    if json_type in ("number", "integer") and isinstance(value, bool):
        return False
    return isinstance(value, _JSON_TYPES[json_type])


# ------------------------------------------------------------------------------------------------- commands
@dataclass(frozen=True)
class Variant:
    """Parameters that depend on a choice parameter (``primitive.create``'s ``type``)."""

    on: str
    cases: Mapping[str, tuple[Param, ...]]
    rules: Mapping[str, tuple[Rule, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Command:
    """One host method: its parameters (checked in order), rules across them and the shape of its result.

    ``mutating`` commands change the scene or documents (a durable session journals them); ``batch`` says whether
    it may be a step of ``batch.run``; ``main_thread`` commands run on the application's main thread. ``names`` is
    the parameter that asks for a new name the application may change (``Cube`` becomes ``Cube.001``): a durable
    session's replay asks for the name the application gave, so it makes the same names again (not for FreeCAD's
    documents: asking for ``Unnamed1`` would also make it the label, where the application kept ``Unnamed``).
    """

    name: str
    description: str
    params: tuple[Param, ...] = ()
    result: Shape | None = None
    rules: tuple[Rule, ...] = ()
    variant: Variant | None = None
    mutating: bool = False
    batch: bool = True
    main_thread: bool = True
    cancellable: bool = False
    names: str | None = None

    def param(self, name: str) -> Param:
        for param in self.all_params():
            if param.name == name:
                return param
        raise KeyError(name)

    def all_params(self) -> tuple[Param, ...]:
        if self.variant is None:
            return self.params
        seen: dict[str, Param] = {param.name: param for param in self.params}
        for case in self.variant.cases.values():
            for param in case:
                seen.setdefault(param.name, param)
        return tuple(seen.values())

    def case_params(self, case: str | None) -> tuple[Param, ...]:
        if self.variant is None or case is None:
            return self.params
        return self.params + tuple(self.variant.cases[case])

    def case_rules(self, case: str | None) -> tuple[Rule, ...]:
        if self.variant is None or case is None:
            return self.rules
        return self.rules + tuple(self.variant.rules.get(case, ()))
