"""Every bound of the commands REST creates objects with, walked through REST and straight to the real host.

For each parameter, values at and just beyond each bound (tests/schema_walk.py) go to the REST route and, with the
host's names, to the host server itself. The gateway and the hosts run the same validator, so agreeing with each
other proves little on its own: each must do what the parameter's declaration promises for the value (worked out
by schema_walk without the validator). REST answers 422 VALIDATION_ERROR exactly when the host answers
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
from bridge3d.commands.schema import MAX_NAME_CHARS, Command, FileName, Param, Text
from bridge3d.rpc import RpcClient, RpcError
from bridge3d.rpc.errors import INVALID_PARAMS
from schema_walk import base_params, edges, refused_only_by_a_rule

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


def cases() -> Iterator[tuple[str, Command, str, str | None, Param, str, Any, bool]]:
    for app, method, route, kind in ROUTES:
        command = commands.command(app, method)
        for param in command.case_params(kind):
            if param.name in ("type", "document") or isinstance(param.kind, SKIPPED_KINDS):
                continue
            for label, value, valid in edges(param.kind):
                yield app, command, route, kind, param, label, value, valid


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
    """Names made unique per call, so the two calls never meet each other's objects. The serial goes at the end, or
    over the end of a name that has no room left, so the name stays as long as the walk made it (63 or 64)."""
    if param.name != "name" or not isinstance(value, str) or not value:
        return value
    serial = f"_{next(SERIAL)}"
    return value + serial if len(value) + len(serial) <= MAX_NAME_CHARS else value[: -len(serial)] + serial


@pytest.mark.parametrize(
    ("app", "command", "route", "kind", "param", "label", "value", "declared"),
    CASES,
    ids=[f"{a}-{r.rsplit('/', 1)[-1]}-{p.name}-{label}" for a, _, r, _, p, label, _, _ in CASES],
)
def test_rest_and_the_host_answer_every_bound_as_declared(
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
    declared: bool,
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
    # A value the declaration allows may still be refused by a rule across parameters (a cone's radii both 0).
    assert (host_refusal is None) == declared or (declared and refused_only_by_a_rule(command, host_params)), (
        f"the host {'refused' if host_refusal else 'took'} {host_params}; the declaration says {declared}"
    )
    if host_refusal is None:
        assert response.status_code == 201, f"the host took {host_params}; REST answered {response.text[:300]}"
        assert created is not None and isinstance(created["name"], str) and created["name"]
        if param.name == "name":  # the name asked for (each call's own); FreeCAD keeps it as the label
            assert created["name" if app == "blender" else "label"] == host_params["name"], created
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
    walked = {(app, route, param.name) for app, _, route, _, param, _, _, _ in CASES}
    expected = {
        (app, route, param.name)
        for app, method, route, kind in ROUTES
        for param in commands.command(app, method).case_params(kind)
        if param.name not in ("type", "document") and not isinstance(param.kind, SKIPPED_KINDS)
    }
    assert walked == expected
    assert ("blender", "/api/v1/blender/primitives/sphere", "segments") in walked
    assert ("freecad", "/api/v1/freecad/primitives/box", "position") in walked
    # Each parameter is walked on both sides of its bounds.
    for outcome in (True, False):
        assert {(app, route, param.name) for app, _, route, _, param, _, _, valid in CASES if valid is outcome} == (
            expected
        ), outcome
