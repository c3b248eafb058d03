"""Values at and beyond every bound of a command parameter, for the tests that walk the command schema."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from typing import Any

from bridge3d.commands.schema import (
    REQUIRED,
    Choice,
    Color,
    Command,
    FileName,
    Integer,
    Kind,
    Name,
    NameList,
    Number,
    Text,
    Vector,
)
from bridge3d.commands.signature import clean
from bridge3d.rpc.errors import InvalidParams
from bridge3d.rpc.workspace import MAX_FILE_NAME_CHARS


def sample(kind: Kind) -> Any:
    """A value the kind accepts."""
    if isinstance(kind, Number):
        low = kind.minimum if kind.minimum is not None else kind.exclusive_minimum
        value = 1.0 if low is None else float(low) + (1.0 if kind.exclusive_minimum is not None else 0.0)
        return value if kind.maximum is None or value <= kind.maximum else kind.maximum
    if isinstance(kind, Integer):
        return kind.minimum if kind.minimum is not None else 1
    if isinstance(kind, Vector):
        return [sample(kind.item)] * kind.size
    if isinstance(kind, Choice):
        return kind.options[0]
    if isinstance(kind, FileName):
        return "part" + (kind.extensions[0] if kind.extensions else ".stl")
    if isinstance(kind, NameList):
        return [f"Object{i}" for i in range(max(kind.min_items, 1))]
    if isinstance(kind, Name):
        return "Object"
    if isinstance(kind, Text):
        return "x"
    if isinstance(kind, Color):
        return [0.5, 0.5, 0.5]
    return True


def declared_number(kind: Number | Integer, value: float) -> bool:
    """Whether a number is within what the kind declares (bounds, exclusive minimum, zero rules)."""
    if isinstance(kind, Number):
        if kind.or_zero and value == 0:
            return True
        if kind.exclusive_minimum is not None and value <= kind.exclusive_minimum:
            return False
        if kind.nonzero and value == 0:
            return False
    low_ok = kind.minimum is None or value >= kind.minimum
    return low_ok and (kind.maximum is None or value <= kind.maximum)


def edges(kind: Kind) -> Iterator[tuple[str, Any, bool]]:
    """(label, value, valid) at and just beyond every bound of the kind, and of the wrong type: ``valid`` is what the
    kind's declaration promises for the value on its own (rules across parameters aside), worked out here without
    the validator, so a walk can check the validator against it."""
    if isinstance(kind, Number):
        for bound in (kind.minimum, kind.maximum, kind.exclusive_minimum):
            if bound is not None:
                for label, value in (
                    (f"{bound}", bound),
                    (f"{bound} + ulp", math.nextafter(bound, math.inf)),
                    (f"{bound} - ulp", math.nextafter(bound, -math.inf)),
                ):
                    yield label, value, declared_number(kind, value)
        if kind.nonzero or kind.or_zero:
            yield "zero", 0.0, declared_number(kind, 0.0)
        yield "string", "1", False
        yield "bool", True, False
    elif isinstance(kind, Integer):
        for bound in (kind.minimum, kind.maximum):
            if bound is not None:
                for label, number in ((f"{bound}", bound), (f"{bound} + 1", bound + 1), (f"{bound} - 1", bound - 1)):
                    yield label, number, declared_number(kind, number)
        yield "fraction", 3.5, False
        yield "integral float", 4.0, declared_number(kind, 4)  # JSON Schema's integers include 4.0
        yield "string", "3", False
    elif isinstance(kind, Vector):
        yield "short", [sample(kind.item)] * (kind.size - 1), False
        yield "long", [sample(kind.item)] * (kind.size + 1), False
        for label, value, valid in edges(kind.item):
            yield f"item {label}", [value] + [sample(kind.item)] * (kind.size - 1), valid
    elif isinstance(kind, Choice):
        yield "canonical", kind.options[-1], True
        yield "lower case", kind.options[-1].lower(), True
        yield "mixed case", kind.options[-1].swapcase(), True
        yield "unknown", "NO-SUCH-OPTION", False
        yield "number", 1, False
    elif isinstance(kind, FileName):
        ext = kind.extensions[0] if kind.extensions else ".stl"
        yield "longest", "a" * (MAX_FILE_NAME_CHARS - len(ext)) + ext, True
        yield "too long", "a" * (MAX_FILE_NAME_CHARS + 1 - len(ext)) + ext, False
        yield "path", "../x" + ext, False
        yield "dot dot", "a.." + ext, False
        yield "leading dot", ".x" + ext, False
        unicode = "模型 #1?" + ext  # CJK letters, an inner space, '#' and '?' are all allowed in a file name
        yield "unicode", unicode, not any(character in unicode for character in kind.forbid)
        yield "control", "a\x01" + ext, False
        yield "empty", "", False
        if kind.extensions:
            yield "other extension", "x.txt", False
        for character in kind.forbid:
            yield f"with {character}", f"a{character}{ext}", False
    elif isinstance(kind, NameList):
        yield "empty", [], kind.min_items == 0
        yield "one", ["A"], kind.min_items <= 1 and (kind.max_items is None or kind.max_items >= 1)
        yield "twice", ["A", "A"], False  # each name once
        yield "fewest", [f"Object{i}" for i in range(max(kind.min_items, 1))], True
        yield "not a list", "A", False
    elif isinstance(kind, Name):
        yield "longest", "n" * 63, True
        yield "too long", "n" * 64, False
        yield "empty", "", False
        yield "control", "a\nb", False
        yield "unicode", "Würfel 立方体", True
        yield "number", 7, False
    elif isinstance(kind, Text):
        yield "empty", "", kind.min_length == 0
        yield "shortest", "t" * max(kind.min_length, 1), True
        if kind.max_length is not None and kind.max_length < 10_000:
            yield "longest", "t" * kind.max_length, True
            yield "too long", "t" * (kind.max_length + 1), False
    elif isinstance(kind, Color):
        yield "rgb", [1, 0, 0], True
        yield "rgba", [1, 0, 0, 0.5], True
        yield "over 1", [1.5, 0, 0], False
        yield "hex", "#ff8000", True
        yield "hex with alpha", "#ff800080", True
        yield "bad hex", "#ff80", False
        yield "two channels", [1, 0], False
    else:
        yield "string", "true", False
        yield "true", True, True


def refused_only_by_a_rule(command: Command, params: dict[str, Any]) -> bool:
    """Whether the parameters pass on their own and only a rule across parameters refuses them (a cone whose two
    radii are both 0, a camera given a rotation and a target)."""
    without_rules = dataclasses.replace(
        command,
        rules=(),
        variant=dataclasses.replace(command.variant, rules={}) if command.variant is not None else None,
    )
    try:
        clean(without_rules, params)
    except InvalidParams:
        return False
    return True


def base_params(command: Command, case: str | None) -> dict[str, Any]:
    """The command's required parameters with valid values (and the variant's case)."""
    params = {param.name: sample(param.kind) for param in command.case_params(case) if param.default is REQUIRED}
    if command.variant is not None and case is not None:
        params[command.variant.on] = case
    if command.name == "boolean.subtract":
        params["tool"] = "Other"
    return params
