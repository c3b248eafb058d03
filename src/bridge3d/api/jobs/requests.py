"""`POST /api/v1/jobs`: the request body of each job kind, checked like every REST request (every problem named
by field and reason, nothing queued unless all is right), and its OpenAPI schema.

The render params and the batch steps are those of `/render` and `/batch`: the same command schema checks them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from bridge3d.api import limits
from bridge3d.api.config import Settings
from bridge3d.api.errors import ValidationFailed
from bridge3d.api.rest import BatchOperation
from bridge3d.api.workers.sessions import SESSION_ID_PATTERN
from bridge3d.commands import blender as blender_commands
from bridge3d.commands.schema import Choice, FileName, JsonSchema, Kind, Number
from bridge3d.commands.signature import clean, params_schema
from bridge3d.rpc.errors import InvalidParams

from . import plans

KINDS = ("render", "convert", "batch")
APPS = ("blender", "freecad")
APP = Choice(APPS)
TARGET = Choice(plans.TARGET_FORMATS)
SOURCE_FILE = FileName()
TIMEOUT = Number(exclusive_minimum=0.0)
RENDER = blender_commands.RENDER_IMAGE
BATCHES = {app: BatchOperation(app) for app in APPS}
COMMON_FIELDS = {"kind", "session", "timeout"}
FIELDS = {
    "render": COMMON_FIELDS | {"params"},
    "convert": COMMON_FIELDS | {"app", "file", "format"},
    "batch": COMMON_FIELDS | {"app", "steps", "full"},
}
Errors = list[dict[str, str]]


@dataclass
class JobRequest:
    """A checked job: ``spec`` is what the runner needs, in the command schema's names."""

    kind: str
    app: str  # where it starts: render -> blender, convert -> where the file is, batch -> the steps' application
    session: str | None
    timeout: float | None
    spec: dict[str, Any] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        return {"kind": self.kind, "app": self.app, "session": self.session, "timeout": self.timeout, **self.spec}


def _checked(kind: Kind, name: str, value: Any, errors: Errors) -> Any:
    try:
        return kind.check(name, value)
    except InvalidParams as exc:
        data = exc.data if isinstance(exc.data, dict) else {}
        errors.append({"field": str(data.get("field", name)), "reason": str(data.get("reason", exc))})
        return None


async def parse_job(request: Request) -> JobRequest:
    """The request's job, checked (a FastAPI dependency); ValidationFailed names every problem."""
    settings: Settings = request.app.state.settings
    try:
        body = json.loads(await request.body() or b"null")
    except (ValueError, RecursionError) as exc:
        raise ValidationFailed([{"field": "body", "location": "body", "reason": f"is not valid JSON: {exc}"}]) from None
    job, errors = check_job(body, settings, header_session=request.headers.get("x-bridge3d-session"))
    if errors or job is None:
        raise ValidationFailed([{**error, "location": "body"} for error in errors])
    check_limits(job, settings)
    return job


def check_limits(job: JobRequest, settings: Settings) -> None:
    """The limits the equivalent /render or /batch request would be refused for (each names its setting)."""
    if job.kind == "render":
        params = job.spec["params"]
        limits.check_render(params["resolution"], params["samples"], settings, prefix="params.")
    elif job.kind == "batch":
        limits.check_batch(job.spec["steps"], settings)
        if job.app == "blender":
            limits.check_geometry(job.spec["steps"], settings)


def check_job(body: Any, settings: Settings, *, header_session: str | None = None) -> tuple[JobRequest | None, Errors]:
    errors: Errors = []
    if not isinstance(body, dict):
        return None, [{"field": "body", "reason": "must be a JSON object with a kind"}]
    kind = body.get("kind")
    if kind not in KINDS:
        return None, [{"field": "kind", "reason": f"must be one of {', '.join(KINDS)}"}]
    errors += [
        {"field": str(key), "reason": f"is not a field of a {kind} job"} for key in body if key not in FIELDS[kind]
    ]
    session = body.get("session", header_session)
    if session is not None and not (isinstance(session, str) and re.fullmatch(SESSION_ID_PATTERN, session)):
        errors.append({"field": "session", "reason": f"must match {SESSION_ID_PATTERN}"})
    timeout = None
    if body.get("timeout") is not None:
        timeout = _checked(TIMEOUT, "timeout", body["timeout"], errors)
        if timeout is not None and timeout > settings.max_job_timeout:
            errors.append(
                {
                    "field": "timeout",
                    "reason": f"must be at most {settings.max_job_timeout:g} s (BRIDGE3D_MAX_JOB_TIMEOUT)",
                }
            )
    job = JobRequest(kind, "blender", session, timeout)
    if kind == "render":
        _render(body, job, errors)
    elif kind == "convert":
        _convert(body, job, errors)
    else:
        _batch(body, job, errors)
    return (None if errors else job), errors


def _render(body: dict[str, Any], job: JobRequest, errors: Errors) -> None:
    given = body.get("params", {})
    if not isinstance(given, dict):
        errors.append({"field": "params", "reason": "must be an object (the params of /render)"})
        return
    try:
        params = clean(RENDER, given, rest=True)
    except InvalidParams as exc:
        errors += [{"field": f"params.{e['field']}", "reason": e["reason"]} for e in exc.data["errors"]]
        return
    job.spec["params"] = params


def _convert(body: dict[str, Any], job: JobRequest, errors: Errors) -> None:
    source = _checked(SOURCE_FILE, "file", body.get("file"), errors)
    target = _checked(TARGET, "format", body.get("format"), errors)
    app = _checked(APP, "app", body["app"], errors) if body.get("app") is not None else None
    if source is None or target is None:
        return
    try:
        stages = plans.plan(source, target)
    except plans.ConversionError as exc:
        errors.append({"field": "format", "reason": str(exc)})
        return
    # The file is in the workspace of the application that reads it unless the request says where it is.
    job.app = app or stages[0].app
    job.spec |= {"file": source, "format": target}


def _batch(body: dict[str, Any], job: JobRequest, errors: Errors) -> None:
    app = _checked(APP, "app", body.get("app"), errors)
    full = body.get("full", False)
    if not isinstance(full, bool):
        errors.append({"field": "full", "reason": "must be true or false"})
    if app is None:
        return
    steps = BATCHES[app].clean_steps(body.get("steps"), "steps", errors)
    job.app = app
    job.spec |= {"steps": steps, "full": full}


# ---------------------------------------------------------------------------------------------------- OpenAPI
def _common(kind: str) -> dict[str, JsonSchema]:
    return {
        "kind": {"const": kind},
        "session": {
            "type": "string",
            "pattern": SESSION_ID_PATTERN,
            "description": "render: the session whose scene is rendered (default: the default session); "
            "convert: the session whose workspace holds the file; batch: start from a snapshot of this session "
            "(default: an empty scene). The X-Bridge3D-Session header is used when this is omitted.",
        },
        "timeout": {
            **TIMEOUT.json_schema(),
            "description": "seconds the job may run (default BRIDGE3D_JOB_TIMEOUT, at most BRIDGE3D_MAX_JOB_TIMEOUT)",
        },
    }


def openapi() -> dict[str, Any]:
    render_params = params_schema(RENDER, rest=True)
    limits.mark_limits(RENDER.name, render_params["properties"])
    variants: list[JsonSchema] = [
        {
            "type": "object",
            "title": "render",
            "properties": {**_common("render"), "params": render_params},
            "required": ["kind"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "title": "convert",
            "properties": {
                **_common("convert"),
                "file": {**SOURCE_FILE.json_schema(), "description": "a file in the session's workspace"},
                "format": {**TARGET.json_schema(), "description": "the format to write"},
                "app": {**APP.json_schema(), "description": "the application whose workspace holds the file"},
            },
            "required": ["kind", "file", "format"],
            "additionalProperties": False,
        },
    ]
    for app, batch in BATCHES.items():
        steps = batch.openapi()["requestBody"]["content"]["application/json"]["schema"]["properties"]["steps"]
        variants.append(
            {
                "type": "object",
                "title": f"batch ({app})",
                "properties": {
                    **_common("batch"),
                    "app": {"const": app},
                    "steps": steps,
                    "full": {"type": "boolean", "default": False},
                },
                "required": ["kind", "app", "steps"],
                "additionalProperties": False,
            }
        )
    schema = {"oneOf": variants}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}
