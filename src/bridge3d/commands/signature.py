"""How a command is called: checking the parameters a caller sent, and the JSON Schema of what it may send.

``clean`` is the one validator: host servers run it before a handler, the gateway before it forwards a request,
so the REST API and the host answer every value alike. ``params_schema`` is the JSON Schema of the same rules.
Both speak either the command's own parameter names or its REST names (``rest=True``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..rpc.errors import InvalidParams
from .schema import Choice, Command, JsonSchema, Param


def _namer(command: Command, rest: bool) -> Any:
    if not rest:
        return lambda name: name
    renamed = {param.name: param.rest_name for param in command.all_params()}
    return lambda name: renamed.get(name, name)


def clean(
    command: Command, given: Mapping[str, Any], *, rest: bool = False, fixed: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Every parameter of ``command``, checked and with defaults filled in, keyed by the command's own names.

    ``given`` uses the REST names when ``rest``; ``fixed`` holds values the caller may not send (set by the URL,
    such as a primitive's type). Raises InvalidParams naming every wrong field (``details.errors``), in the names
    the caller used.
    """
    name = _namer(command, rest)
    fixed = fixed or {}
    values: dict[str, Any] = {}
    errors: list[dict[str, str]] = []

    def check(param: Param, present: dict[str, Any]) -> None:
        field = name(param.name)
        if param.name in fixed:
            values[param.name] = fixed[param.name]
        elif field in present:
            try:
                values[param.name] = param.check(field, present[field])
            except InvalidParams as exc:
                errors.append(_error(exc, field))
        elif param.required:
            errors.append({"field": field, "reason": "is required"})
        else:
            values[param.name] = param.default

    present = dict(given)
    case = None
    variant = command.variant
    if variant is not None:
        chooser = command.param(variant.on)
        check(chooser, present)
        case = values.get(variant.on)
        if case is None and not errors:
            errors.append({"field": name(variant.on), "reason": "is required"})
    params = command.case_params(case) if case is not None or variant is None else command.params
    for param in params:
        if variant is None or param.name != variant.on:
            check(param, present)
    accepted = {name(param.name) for param in params if param.name not in fixed}
    for key in present:
        if key not in accepted:
            allowed = ", ".join(sorted(accepted)) or "none"
            what = f"a {case}" if case else command.name
            errors.append({"field": str(key), "reason": f"is not a parameter of {what} (allowed: {allowed})"})
    if not errors:
        for rule in command.case_rules(case):
            try:
                rule.check(values, name)
            except InvalidParams as exc:
                errors.append(_error(exc, ""))
    if errors:
        summary = "; ".join(f"{e['field']}: {e['reason']}" for e in errors[:5])
        raise InvalidParams(summary, {"field": errors[0]["field"], "reason": errors[0]["reason"], "errors": errors})
    return values


def _error(exc: InvalidParams, field: str) -> dict[str, str]:
    """{field, reason} of a check's refusal; its field may be more precise than the parameter ('location[1]')."""
    data = exc.data if isinstance(exc.data, dict) else {}
    return {"field": str(data.get("field", field)), "reason": str(data.get("reason", exc.message))}


def params_schema(
    command: Command, *, rest: bool = False, fixed: Mapping[str, Any] | None = None, case: str | None = None
) -> JsonSchema:
    """The JSON Schema of the parameters ``clean`` accepts (for one ``case`` of a variant command, or all cases)."""
    variant = command.variant
    if variant is not None and case is None and variant.on not in (fixed or {}):
        cases = [
            params_schema(command, rest=rest, fixed=fixed, case=option)
            for option in variant.cases  # the chooser's pattern in each case names that case only
        ]
        return {"oneOf": cases}
    if variant is not None and case is None:
        case = (fixed or {})[variant.on]
    name = _namer(command, rest)
    fixed = fixed or {}
    properties: dict[str, JsonSchema] = {}
    required: list[str] = []
    for param in command.case_params(case):
        if param.name in fixed:
            continue
        schema = param.json_schema()
        if variant is not None and param.name == variant.on and case is not None:
            chooser = param.kind
            assert isinstance(chooser, Choice)
            schema = Choice((case,)).json_schema()
        properties[name(param.name)] = schema
        if param.required or (variant is not None and param.name == variant.on):
            required.append(name(param.name))
    body: JsonSchema = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        body["required"] = required
    defaults = {param.name: param.default for param in command.case_params(case)}
    constraints = [rule.json_schema(name, defaults) for rule in command.case_rules(case)]
    expressed = [constraint for constraint in constraints if constraint is not None]
    if expressed:
        body["allOf"] = expressed
    rules = command.case_rules(case)
    unstated = [rule.text for rule, constraint in zip(rules, constraints, strict=True) if constraint is None]
    if unstated:
        body["description"] = "Also: " + "; ".join(unstated) + "."
    return body
