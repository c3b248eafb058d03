"""Every bound of the commands REST creates objects with, walked through REST and straight to the real host.

For each parameter, values at and just beyond each bound (tests/schema_walk.py) go to the REST route and, with the
host's names, to the host server itself: REST answers 422 VALIDATION_ERROR exactly when the host answers
INVALID_PARAMS, with the same reason, and both create the object otherwise.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from backends import Backend
from bridge3d import commands
from bridge3d.commands.schema import Command, FileName, Param, Text
from bridge3d.rpc import RpcClient, RpcError
from bridge3d.rpc.errors import INVALID_PARAMS
from schema_walk import base_params, edges

SERIAL = itertools.count()
# (app, command, the route that takes it, fixed by the route)
ROUTES: list[tuple[str, str, str, str | None]] = [
    *(
        ("blender", "primitive.create", f"/api/v1/blender/primitives/{kind}", kind)
        for kind in commands.blender.PRIMITIVE_TYPES
    ),
    ("blender", "material.create", "/api/v1/blender/materials", None),
    ("blender", "camera.create", "/api/v1/blender/camera", None),
    ("blender", "light.create", "/api/v1/blender/light", None),
    *(
        ("freecad", "primitive.create", f"/api/v1/freecad/primitives/{kind}", kind)
        for kind in commands.freecad.PRIMITIVE_TYPES
    ),
]
SKIPPED_KINDS = (FileName, Text)  # no route above takes a file name; names are walked as Name


def cases() -> Iterator[tuple[str, Command, str, str | None, Param, str, Any]]:
    for app, method, route, kind in ROUTES:
        command = commands.command(app, method)
        for param in command.case_params(kind):
            if param.name in ("type", "document") or isinstance(param.kind, SKIPPED_KINDS):
                continue
            for label, value in edges(param.kind):
                yield app, command, route, kind, param, label, value


CASES = list(cases())


@pytest.fixture(scope="module")
def hosts(blender_backend: Backend, freecad_backend: Backend) -> Iterator[dict[str, RpcClient]]:
    clients = {"blender": blender_backend.client(timeout=120), "freecad": freecad_backend.client(timeout=120)}
    yield clients
    for client in clients.values():
        client.close()


@pytest.fixture(scope="module")
def document(hosts: dict[str, RpcClient]) -> str:
    return str(hosts["freecad"].call("document.create", {"name": "Bounds"})["name"])


def unique(param: Param, value: Any) -> Any:
    """Names made unique per call, so the two calls never meet each other's objects."""
    return f"{value[:55]}{next(SERIAL)}" if param.name == "name" and isinstance(value, str) and value else value


@pytest.mark.parametrize(
    ("app", "command", "route", "kind", "param", "label", "value"),
    CASES,
    ids=[f"{a}-{r.rsplit('/', 1)[-1]}-{p.name}-{label}" for a, _, r, _, p, label, _ in CASES],
)
def test_rest_and_the_host_answer_every_bound_alike(
    api: httpx.Client,
    hosts: dict[str, RpcClient],
    document: str,
    app: str,
    command: Command,
    route: str,
    kind: str | None,
    param: Param,
    label: str,
    value: Any,
) -> None:
    host_params = {**base_params(command, kind), param.name: unique(param, value)}
    if app == "freecad":
        host_params["document"] = document
    rest_params = {command.param(name).rest_name: item for name, item in host_params.items() if name != "type"} | (
        {param.rest_name: unique(param, value)}
    )
    response = api.post(route, json=rest_params)
    try:
        created = hosts[app].call(command.name, host_params)
        host_refusal = None
    except RpcError as exc:
        assert exc.code == INVALID_PARAMS, f"the host answered {exc!r}"
        host_refusal, created = exc, None
    if host_refusal is None:
        assert response.status_code == 201, f"the host took {host_params}; REST answered {response.text[:300]}"
        assert created is not None and created["name"]
        if command.result is not None and command.result.summary:  # an object: keep the scene small
            remove(hosts[app], app, created["name"], document)
            remove(hosts[app], app, response.json()["result"]["object_id"], document)
    else:
        assert response.status_code == 422, f"the host refused {host_params}; REST answered {response.text[:300]}"
        body = response.json()["error"]
        assert body["code"] == "VALIDATION_ERROR"
        rest_reasons = {error["reason"] for error in body["details"]["errors"]}
        assert host_refusal.data["reason"] in rest_reasons, (host_refusal.data, body)


def remove(host: RpcClient, app: str, name: str, document: str) -> None:
    host.call("object.delete", {"name": name, **({"document": document} if app == "freecad" else {})})


def test_the_walk_covers_the_routes() -> None:
    walked = {(app, command.name, param.name) for app, command, _, _, param, _, _ in CASES}
    assert ("blender", "primitive.create", "segments") in walked and (
        "freecad",
        "primitive.create",
        "position",
    ) in walked
    assert len(CASES) > 300
