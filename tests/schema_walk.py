"""Values at and beyond every bound of a command parameter, for the tests that walk the command schema."""

from __future__ import annotations

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


def edges(kind: Kind) -> Iterator[tuple[str, Any]]:
    """(label, value) at and just beyond every bound of the kind, and of the wrong type."""
    if isinstance(kind, Number):
        for bound in (kind.minimum, kind.maximum, kind.exclusive_minimum):
            if bound is not None:
                yield f"{bound}", bound
                yield f"{bound} + ulp", math.nextafter(bound, math.inf)
                yield f"{bound} - ulp", math.nextafter(bound, -math.inf)
        if kind.nonzero or kind.or_zero:
            yield "zero", 0.0
        yield "string", "1"
        yield "bool", True
    elif isinstance(kind, Integer):
        for bound in (kind.minimum, kind.maximum):
            if bound is not None:
                yield f"{bound}", bound
                yield f"{bound} + 1", bound + 1
                yield f"{bound} - 1", bound - 1
        yield "fraction", 3.5
        yield "integral float", 4.0
        yield "string", "3"
    elif isinstance(kind, Vector):
        yield "short", [sample(kind.item)] * (kind.size - 1)
        yield "long", [sample(kind.item)] * (kind.size + 1)
        for label, value in edges(kind.item):
            yield f"item {label}", [value] + [sample(kind.item)] * (kind.size - 1)
    elif isinstance(kind, Choice):
        yield "canonical", kind.options[-1]
        yield "lower case", kind.options[-1].lower()
        yield "mixed case", kind.options[-1].swapcase()
        yield "unknown", "NO-SUCH-OPTION"
        yield "number", 1
    elif isinstance(kind, FileName):
        ext = kind.extensions[0] if kind.extensions else ".stl"
        yield "longest", "a" * (MAX_FILE_NAME_CHARS - len(ext)) + ext
        yield "too long", "a" * (MAX_FILE_NAME_CHARS + 1 - len(ext)) + ext
        yield "path", "../x" + ext
        yield "dot dot", "a.." + ext
        yield "leading dot", ".x" + ext
        yield "unicode", "模型 #1?" + ext
        yield "control", "a\x01" + ext
        yield "empty", ""
        if kind.extensions:
            yield "other extension", "x.txt"
        for character in kind.forbid:
            yield f"with {character}", f"a{character}{ext}"
    elif isinstance(kind, NameList):
        yield "empty", []
        yield "one", ["A"]
        yield "twice", ["A", "A"]
        yield "not a list", "A"
    elif isinstance(kind, Name):
        yield "longest", "n" * 63
        yield "too long", "n" * 64
        yield "empty", ""
        yield "control", "a\nb"
        yield "unicode", "Würfel 立方体"
        yield "number", 7
    elif isinstance(kind, Text):
        yield "empty", ""
        if kind.max_length is not None and kind.max_length < 10_000:
            yield "longest", "t" * kind.max_length
            yield "too long", "t" * (kind.max_length + 1)
    elif isinstance(kind, Color):
        yield "rgb", [1, 0, 0]
        yield "rgba", [1, 0, 0, 0.5]
        yield "over 1", [1.5, 0, 0]
        yield "hex", "#ff8000"
        yield "hex with alpha", "#ff800080"
        yield "bad hex", "#ff80"
        yield "two channels", [1, 0]
    else:
        yield "string", "true"
        yield "true", True


def base_params(command: Command, case: str | None) -> dict[str, Any]:
    """The command's required parameters with valid values (and the variant's case)."""
    params = {param.name: sample(param.kind) for param in command.case_params(case) if param.default is REQUIRED}
    if command.variant is not None and case is not None:
        params[command.variant.on] = case
    if command.name == "boolean.subtract":
        params["tool"] = "Other"
    return params
