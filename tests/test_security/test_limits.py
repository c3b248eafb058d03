"""Every configurable limit, exceeded against a gateway with small limits: the documented status, the limit named,
nothing run, and the gateway and both host servers still serving afterwards."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from backends import Backend
from bridge3d.rpc import RpcClient, RpcError
from envelope import error, ok
from gateway import Gateway, start_gateway

from ._util import APPS, ascii_stl, binary_stl, upload

LIMITS = {
    "BRIDGE3D_MAX_REQUEST_BYTES": 16 * 1024,
    "BRIDGE3D_MAX_UPLOAD_BYTES": 64 * 1024,
    "BRIDGE3D_MAX_RENDER_SIZE": 64,
    "BRIDGE3D_MAX_RENDER_SAMPLES": 4,
    "BRIDGE3D_MAX_BATCH_STEPS": 5,
    "BRIDGE3D_MAX_OBJECTS_PER_REQUEST": 3,
    # Small enough to wait for a runaway loop; large enough that a trivial script never meets it on a loaded machine.
    "BRIDGE3D_MAX_EXECUTE_TIMEOUT": 5,
    "BRIDGE3D_MAX_PRIMITIVE_FACES": 1000,
    "BRIDGE3D_MAX_BATCH_FACES": 3000,
}
TAG = f"lim{secrets.token_hex(3)}"


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory, blender_backend: Backend, freecad_backend: Backend
) -> Iterator[Gateway]:
    env = {name: str(value) for name, value in LIMITS.items()}
    server = start_gateway(tmp_path_factory.mktemp("limits"), blender_backend, freecad_backend, extra_env=env)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def api(gateway: Gateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=120) as client:
        yield client


def over(found: dict[str, Any], setting: str, field: str | None = None) -> None:
    """The refusal names the setting and its value, in the details and in the message."""
    details = found["details"]
    assert details["setting"] == setting and details["limit"] == LIMITS[setting], found
    assert setting in found["message"] and str(LIMITS[setting]) in found["message"], found
    if field is not None:
        assert details["field"] == field, found


def absent(host: RpcClient, name: str) -> bool:
    try:
        host.call("object.get", {"name": name})
    except RpcError as exc:
        return exc.code == -32001
    return False


# ---------------------------------------------------------------------------------------------- request body
def test_json_body_over_the_request_limit_is_413(api: httpx.Client, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    code = f"open({str(marker)!r}, 'w').write('ran')\n" + "#" * (20 * 1024)
    found = error(api.post("/api/v1/blender/execute", json={"code": code}), 413, "LIMIT_EXCEEDED")
    over(found, "BRIDGE3D_MAX_REQUEST_BYTES")
    assert found["details"]["size"] > LIMITS["BRIDGE3D_MAX_REQUEST_BYTES"]
    assert not marker.exists(), "the oversized request must not have run"
    # Just under the limit is served.
    assert ok(api.post("/api/v1/blender/execute", json={"code": "result = 1\n" + "#" * (12 * 1024)}))["result"] == 1


def test_chunked_body_without_length_is_counted(api: httpx.Client) -> None:
    def body() -> Iterator[bytes]:
        yield b'{"code": "result = 1\\n'
        for _ in range(40):
            yield b"#" * 1024
        yield b'"}'

    response = api.post("/api/v1/freecad/execute", content=body(), headers={"content-type": "application/json"})
    assert "content-length" not in response.request.headers
    over(error(response, 413, "LIMIT_EXCEEDED"), "BRIDGE3D_MAX_REQUEST_BYTES")


def test_multipart_to_a_json_route_gets_the_small_limit(api: httpx.Client) -> None:
    """Only the upload routes accept large multipart bodies."""
    response = upload(api, "/api/v1/blender/render", "x.png", b"x" * (40 * 1024))
    over(error(response, 413, "LIMIT_EXCEEDED"), "BRIDGE3D_MAX_REQUEST_BYTES")


# ---------------------------------------------------------------------------------------------- uploads
@pytest.mark.parametrize("app", APPS)
def test_uploads_have_their_own_limit(api: httpx.Client, backends: dict[str, Backend], app: str) -> None:
    suffix = "" if app == "blender" else "?document=" + ok(api.post("/api/v1/freecad/documents", json={}), 201)["name"]
    # Larger than the request limit, smaller than the upload limit: accepted.
    fits = binary_stl(800)  # 40 084 bytes
    assert LIMITS["BRIDGE3D_MAX_REQUEST_BYTES"] < len(fits) < LIMITS["BRIDGE3D_MAX_UPLOAD_BYTES"]
    imported = ok(upload(api, f"/api/v1/{app}/import{suffix}", f"{TAG}-fits.stl", fits))
    assert (imported["format"], len(imported["objects"])) == ("STL", 1)  # one mesh object, of the uploaded file
    # Just over the upload limit (within the multipart allowance): refused by the upload itself.
    for size, name in ((1400, f"{TAG}-over.stl"), (6000, f"{TAG}-far-over.stl")):
        found = error(upload(api, f"/api/v1/{app}/import{suffix}", name, binary_stl(size)), 413, "LIMIT_EXCEEDED")
        over(found, "BRIDGE3D_MAX_UPLOAD_BYTES")
        assert not (backends[app].workspace / name).exists()


# ---------------------------------------------------------------------------------------------- render
def test_render_limits(api: httpx.Client) -> None:
    render = "/api/v1/blender/render"
    found = error(api.post(render, json={"resolution": [65, 64], "samples": 4}), 422, "LIMIT_EXCEEDED")
    over(found, "BRIDGE3D_MAX_RENDER_SIZE", "resolution[0]")
    found = error(api.post(render, json={"resolution": [64, 64], "samples": 5}), 422, "LIMIT_EXCEEDED")
    over(found, "BRIDGE3D_MAX_RENDER_SAMPLES", "samples")
    # The default resolution (640x480) is itself over this gateway's limit.
    over(
        error(api.post(render, json={"samples": 4}), 422, "LIMIT_EXCEEDED"), "BRIDGE3D_MAX_RENDER_SIZE", "resolution[0]"
    )
    # The OpenAPI document states both limits.
    schema = api.get("/openapi.json").json()["paths"][render]["post"]["requestBody"]["content"]["application/json"]
    properties = schema["schema"]["properties"]
    assert properties["resolution"]["items"]["maximum"] == 64 and properties["samples"]["maximum"] == 4
    done = ok(api.post(render, json={"resolution": [64, 64], "samples": 4, "engine": "WORKBENCH"}))
    assert (done["width"], done["height"]) == (64, 64)


def test_batch_render_steps_get_the_same_render_limits(api: httpx.Client, hosts: dict[str, RpcClient]) -> None:
    name = f"{TAG}BeforeRender"
    create = {"method": "primitive.create", "params": {"type": "cube", "name": name}}
    for render, field, setting in (
        ({"resolution": [32, 100], "samples": 4}, "resolution[1]", "BRIDGE3D_MAX_RENDER_SIZE"),
        ({"samples": 4}, "resolution[0]", "BRIDGE3D_MAX_RENDER_SIZE"),
        ({"resolution": [32, 32], "samples": 5}, "samples", "BRIDGE3D_MAX_RENDER_SAMPLES"),
    ):
        steps = [create, {"method": "render.image", "params": render}]
        found = error(api.post("/api/v1/blender/batch", json={"steps": steps}), 422, "LIMIT_EXCEEDED")
        over(found, setting, f"steps[1].params.{field}")
        assert absent(hosts["blender"], name), "no step may run when one is over a limit"


# ---------------------------------------------------------------------------------------------- geometry budget
def test_a_primitive_over_the_face_budget_is_refused(api: httpx.Client, hosts: dict[str, RpcClient]) -> None:
    name = f"{TAG}BigBall"
    found = error(
        api.post("/api/v1/blender/primitives/sphere", json={"name": name, "segments": 64, "rings": 32}),
        422,
        "LIMIT_EXCEEDED",
    )
    over(found, "BRIDGE3D_MAX_PRIMITIVE_FACES")
    assert found["details"]["value"] == 64 * 32
    assert absent(hosts["blender"], name)
    torus = {"name": name, "major_segments": 40, "minor_segments": 26}  # 1040 faces
    over(
        error(api.post("/api/v1/blender/primitives/torus", json=torus), 422, "LIMIT_EXCEEDED"),
        "BRIDGE3D_MAX_PRIMITIVE_FACES",
    )
    at_the_limit = ok(
        api.post("/api/v1/blender/primitives/sphere", json={"name": name, "segments": 40, "rings": 25}), 201
    )
    assert at_the_limit["object"]["faces"] == 40 * 25 == LIMITS["BRIDGE3D_MAX_PRIMITIVE_FACES"]


def test_a_batch_over_the_face_budget_runs_nothing(api: httpx.Client, hosts: dict[str, RpcClient]) -> None:
    def spheres(count: int, prefix: str) -> list[dict[str, Any]]:
        params = {"type": "sphere", "segments": 32, "rings": 24}  # 768 faces each
        return [{"method": "primitive.create", "params": {**params, "name": f"{prefix}{i}"}} for i in range(count)]

    found = error(api.post("/api/v1/blender/batch", json={"steps": spheres(4, f"{TAG}Over")}), 422, "LIMIT_EXCEEDED")
    over(found, "BRIDGE3D_MAX_BATCH_FACES", "steps")
    assert found["details"]["value"] == 4 * 768
    assert all(absent(hosts["blender"], f"{TAG}Over{i}") for i in range(4))
    one_too_big = [{"method": "primitive.create", "params": {"type": "sphere", "segments": 64, "rings": 32}}]
    found = error(api.post("/api/v1/blender/batch", json={"steps": one_too_big}), 422, "LIMIT_EXCEEDED")
    over(found, "BRIDGE3D_MAX_PRIMITIVE_FACES", "steps[0].params")
    assert ok(api.post("/api/v1/blender/batch", json={"steps": spheres(3, f"{TAG}Fits")}))["completed"] == 3


# ---------------------------------------------------------------------------------------------- batch length
@pytest.mark.parametrize("app", APPS)
def test_batch_length(api: httpx.Client, app: str) -> None:
    step: dict[str, Any] = {"method": "document.list" if app == "freecad" else "scene.info", "params": {}}
    found = error(api.post(f"/api/v1/{app}/batch", json={"steps": [step] * 6}), 422, "LIMIT_EXCEEDED")
    over(found, "BRIDGE3D_MAX_BATCH_STEPS", "steps")
    assert ok(api.post(f"/api/v1/{app}/batch", json={"steps": [step] * 5}))["completed"] == 5


# ---------------------------------------------------------------------------------------------- objects per request
@pytest.mark.parametrize("app", APPS)
def test_objects_per_request(api: httpx.Client, app: str) -> None:
    base = f"/api/v1/{app}"
    fmt = "STL"
    names = [f"{TAG}Ghost{i}" for i in range(4)]
    found = error(api.post(f"{base}/export", json={"format": fmt, "objects": names}), 422, "LIMIT_EXCEEDED")
    over(found, "BRIDGE3D_MAX_OBJECTS_PER_REQUEST", "objects")
    # Three are allowed (and then the application says they do not exist).
    error(api.post(f"{base}/export", json={"format": fmt, "objects": names[:3]}), 404, "NOT_FOUND")
    found = error(api.get(f"{base}/objects", params={"limit": 4}), 422, "LIMIT_EXCEEDED")
    over(found, "BRIDGE3D_MAX_OBJECTS_PER_REQUEST", "limit")
    assert ok(api.get(f"{base}/objects", params={"limit": 3}))["limit"] == 3
    found = error(
        api.post(f"{base}/batch", json={"steps": [{"method": "object.list", "params": {"limit": 4}}]}),
        422,
        "LIMIT_EXCEEDED",
    )
    over(found, "BRIDGE3D_MAX_OBJECTS_PER_REQUEST", "steps[0].params.limit")


def test_boolean_operands_in_a_batch(api: httpx.Client) -> None:
    """REST booleans take two objects; a batch step could list many, and is held to the same limit."""
    step = {"method": "boolean.union", "params": {"objects": [f"{TAG}Op{i}" for i in range(4)]}}
    found = error(api.post("/api/v1/freecad/batch", json={"steps": [step]}), 422, "LIMIT_EXCEEDED")
    over(found, "BRIDGE3D_MAX_OBJECTS_PER_REQUEST", "steps[0].params.objects")


# ---------------------------------------------------------------------------------------------- execution timeout
@pytest.mark.parametrize("app", APPS)
def test_execution_timeout_limit(api: httpx.Client, gateway: Gateway, hosts: dict[str, RpcClient], app: str) -> None:
    execute = f"/api/v1/{app}/execute"
    cap = LIMITS["BRIDGE3D_MAX_EXECUTE_TIMEOUT"]
    found = error(api.post(execute, json={"code": "result = 1", "timeout": cap + 0.5}), 422, "LIMIT_EXCEEDED")
    over(found, "BRIDGE3D_MAX_EXECUTE_TIMEOUT", "timeout")
    assert ok(api.post(execute, json={"code": "result = 2", "timeout": cap}))["result"] == 2
    # Without a timeout the cap still applies (the call timeout is 120 s): a runaway loop is stopped. The gateway
    # interrupts it with rpc.cancel, retrying while the spinning main thread holds the GIL and the host answers
    # slowly; a cancel that never got through would leave the loop running and is logged.
    log_before = len(gateway.log())
    found = error(api.post(execute, json={"code": "while True:\n    pass"}), 504, "TIMEOUT")
    assert found["details"] == {"backend": app, "method": "code.execute", "timeout": float(cap)}
    assert "could not interrupt" not in gateway.log()[log_before:]
    assert ok(api.post(execute, json={"code": "result = 3"}))["result"] == 3  # the host's main thread is free
    assert hosts[app].call("rpc.describe")["busy"] is False


# ---------------------------------------------------------------------------------------------- still up
def test_everything_still_serves(api: httpx.Client, backends: dict[str, Backend]) -> None:
    health = ok(api.get("/health"))
    assert health["status"] == "ok", health
    for backend in backends.values():
        assert backend.process.poll() is None
    imported = ok(api.post("/api/v1/blender/import", files={"file": (f"{TAG}-last.stl", ascii_stl())}))
    assert imported == {"name": f"{TAG}-last.stl", "format": "STL", "objects": [f"{TAG}-last"]}
