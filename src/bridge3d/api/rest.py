"""REST views of host commands: what a route accepts, its OpenAPI, and its check, all derived from the command schema.

An ``Operation`` says where a command's parameters come from in HTTP (the URL path, the query string, a JSON body)
and which the route fixes itself (a primitive's type). Its ``parse`` dependency reads them and runs the command
schema's one validator (``signature.clean``) with the REST names, so a route refuses exactly what the host would,
with the same reasons; ``openapi()`` states the same rules for the OpenAPI document. Route handlers receive the
clean params under the command's own names, ready to send.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from bridge3d import commands
from bridge3d.commands.schema import Boolean, Command, Integer, JsonSchema, NameList, Number, Param
from bridge3d.commands.signature import clean, params_schema
from bridge3d.rpc.errors import InvalidParams

from .errors import ValidationFailed
from .limits import mark_limits

Params = dict[str, Any]  # what Operation.parse gives a handler: clean params under the command's names
_INTEGER = re.compile(r"[+-]?\d+")
_BOOLEANS = {"true": True, "false": False}  # what OpenAPI (and every client) writes for a boolean query value


def from_url(param: Param, text: str) -> Any:
    """A query or path value (always text) as the parameter's kind expects it; the check then judges it."""
    kind = param.kind
    if isinstance(kind, Integer) and _INTEGER.fullmatch(text):
        return int(text)
    if isinstance(kind, Number):
        try:
            return float(text)
        except ValueError:
            return text
    if isinstance(kind, Boolean) and text in _BOOLEANS:
        return _BOOLEANS[text]
    return text


@dataclass(frozen=True)
class Operation:
    """One route's view of ``command``: ``path`` and ``query`` name parameters taken from the URL (command names),
    ``fixed`` parameters the route sets itself, ``extra`` parameters only the gateway uses (not sent to the host);
    every other parameter comes from the JSON body when ``body``."""

    command: Command
    path: tuple[str, ...] = ()
    query: tuple[str, ...] = ()
    fixed: Mapping[str, Any] = field(default_factory=dict)
    extra: tuple[Param, ...] = ()
    body: bool = True

    @functools.cached_property
    def _view(self) -> Command:
        """The command with the gateway-only parameters added: what ``clean`` checks."""
        return (
            dataclasses.replace(self.command, params=(*self.command.params, *self.extra))
            if self.extra
            else self.command
        )

    def _params(self) -> tuple[Param, ...]:
        case = self.fixed.get(self.command.variant.on) if self.command.variant is not None else None
        return (*self.command.case_params(case), *self.extra)

    def body_names(self) -> set[str]:
        """The REST names a JSON body may hold."""
        taken = {*self.path, *self.query, *self.fixed}
        return {param.rest_name for param in self._params() if param.name not in taken} if self.body else set()

    async def parse(self, request: Request) -> dict[str, Any]:
        """The route's params, checked and complete, keyed by the command's names (a FastAPI dependency)."""
        given: dict[str, Any] = {}
        errors: list[dict[str, str]] = []
        if self.body:
            given, errors = await self._body(request)
        by_name = {param.name: param for param in self._params()}
        for name in self.path:
            param = by_name[name]
            given[param.rest_name] = from_url(param, request.path_params[param.rest_name])
        for name in self.query:
            param = by_name[name]
            if isinstance(param.kind, NameList):  # ?objects=a&objects=b
                values = request.query_params.getlist(param.rest_name)
                if values:
                    given[param.rest_name] = values
            elif param.rest_name in request.query_params:
                given[param.rest_name] = from_url(param, request.query_params[param.rest_name])
        try:
            cleaned = clean(self._view, given, rest=True, fixed=self.fixed)
        except InvalidParams as exc:
            errors += exc.data["errors"] if isinstance(exc.data, dict) and "errors" in exc.data else []
        if errors:
            raise ValidationFailed([{**error, "location": self._location(error["field"])} for error in errors])
        return cleaned

    async def _body(self, request: Request) -> tuple[dict[str, Any], list[dict[str, str]]]:
        raw = await request.body()
        if not raw.strip():
            return {}, [{"field": "body", "reason": "a JSON object is required"}]
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            return {}, [{"field": "body", "reason": f"is not valid JSON: {exc}"}]
        if not isinstance(data, dict):
            return {}, [{"field": "body", "reason": "must be a JSON object"}]
        allowed = self.body_names()
        unknown = [key for key in data if key not in allowed]
        errors = [
            {"field": str(key), "reason": f"is not a field of this request (allowed: {', '.join(sorted(allowed))})"}
            for key in unknown
        ]
        return {key: value for key, value in data.items() if key in allowed}, errors

    def _location(self, field_name: str) -> str:
        base = field_name.split("[", 1)[0].split(".", 1)[0]
        by_rest = {param.rest_name: param.name for param in self._params()}
        name = by_rest.get(base, base)
        return "path" if name in self.path else "query" if name in self.query else "body"

    def split(self, params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """(what the host gets, the gateway-only values)."""
        extra = {param.name for param in self.extra}
        return {k: v for k, v in params.items() if k not in extra}, {k: v for k, v in params.items() if k in extra}

    def openapi(self) -> dict[str, Any]:
        """The operation's parameters and request body for FastAPI's ``openapi_extra``."""
        by_name = {param.name: param for param in self._params()}
        parameters = [
            {
                "name": by_name[name].rest_name,
                "in": "path",
                "required": True,
                "schema": by_name[name].kind.json_schema(),
            }
            | ({"description": by_name[name].description} if by_name[name].description else {})
            for name in self.path
        ]
        for name in self.query:
            param = by_name[name]
            schema = param.kind.json_schema()
            if not param.required and param.default is not None:
                schema["default"] = list(param.default) if isinstance(param.default, tuple) else param.default
            mark_limits(self.command.name, {param.rest_name: schema}, {param.name: param.rest_name})
            parameters.append(
                {"name": param.rest_name, "in": "query", "required": param.required, "schema": schema}
                | ({"description": param.description} if param.description else {})
            )
        extra: dict[str, Any] = {"parameters": parameters} if parameters else {}
        if self.body:
            extra["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": self.body_schema()}},
            }
        return extra

    def body_schema(self) -> JsonSchema:
        taken = {**dict.fromkeys(self.path), **dict.fromkeys(self.query), **self.fixed}
        schema = params_schema(self._view, rest=True, fixed=taken)
        schema.setdefault("title", self.command.name)
        mark_limits(self.command.name, schema["properties"], {p.name: p.rest_name for p in self._params()})
        return schema


FULL = Param("full", Boolean(), False, "each step's full result (ObjectInfo) instead of the names it made")


class BatchOperation:
    """`/batch`: each step is a command of the application's table with its own params, checked by the command
    schema like a REST request (so a batch with one wrong step runs nothing)."""

    def __init__(self, app: str) -> None:
        self.app = app
        self.commands = {name: command for name, command in commands.TABLES[app].items() if command.batch}

    def step_schema(self, command: Command) -> JsonSchema:
        required_params = command.variant is not None or any(param.required for param in command.params)
        params = params_schema(command)
        for case in params.get("oneOf", [params]):
            mark_limits(command.name, case["properties"])
        return {
            "type": "object",
            "title": command.name,
            "properties": {"method": {"const": command.name}, "params": params},
            "required": ["method", "params"] if required_params else ["method"],
            "additionalProperties": False,
        }

    def openapi(self) -> dict[str, Any]:
        steps = {
            "type": "array",
            "minItems": 1,
            "items": {"oneOf": [self.step_schema(command) for command in self.commands.values()]},
            "description": "at most BRIDGE3D_MAX_BATCH_STEPS",
        }
        properties = {"steps": steps, "full": FULL.json_schema()}
        mark_limits("batch", properties)
        schema = {
            "type": "object",
            "properties": properties,
            "required": ["steps"],
            "additionalProperties": False,
        }
        return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}

    async def parse(self, request: Request) -> dict[str, Any]:
        try:
            body = json.loads(await request.body() or b"null")
        except (ValueError, RecursionError) as exc:
            reason = f"is not valid JSON: {exc}"
            raise ValidationFailed([{"field": "body", "location": "body", "reason": reason}]) from None
        errors: list[dict[str, str]] = []
        if not isinstance(body, dict):
            errors.append({"field": "body", "reason": "must be a JSON object with steps"})
            body = {}
        errors += [{"field": k, "reason": "is not a field of a batch"} for k in body if k not in ("steps", "full")]
        full = body.get("full", False)
        if not isinstance(full, bool):
            errors.append({"field": "full", "reason": "must be true or false"})
        steps = self.clean_steps(body.get("steps"), "steps", errors)
        if errors:
            raise ValidationFailed([{**error, "location": "body"} for error in errors])
        return {"steps": steps, "full": full}

    def clean_steps(self, given: Any, field_name: str, errors: list[dict[str, str]]) -> list[dict[str, Any]]:
        """The steps checked against the command schema; each problem is added to ``errors``."""
        if not isinstance(given, list) or not given:
            errors.append({"field": field_name, "reason": "must be a non-empty list of {method, params}"})
            return []
        steps = []
        for index, step in enumerate(given):
            where = f"{field_name}[{index}]"
            command = self.commands.get(str(step.get("method"))) if isinstance(step, dict) else None
            if command is None:
                errors.append({"field": f"{where}.method", "reason": f"must be one of {', '.join(self.commands)}"})
                continue
            extra = [key for key in step if key not in ("method", "params")]
            errors += [{"field": f"{where}.{key}", "reason": "is not a field of a step"} for key in extra]
            params = step.get("params", {})
            if not isinstance(params, dict):
                errors.append({"field": f"{where}.params", "reason": "must be an object"})
                continue
            try:
                steps.append({"method": command.name, "params": clean(command, params)})
            except InvalidParams as exc:
                for error in exc.data["errors"]:
                    errors.append({"field": f"{where}.params.{error['field']}", "reason": error["reason"]})
        return steps
