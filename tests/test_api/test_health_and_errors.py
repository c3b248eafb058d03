"""Health, version and the error envelope on every kind of error."""

from __future__ import annotations

import re

import httpx

from bridge3d import __version__
from envelope import error, ok


def test_health_reports_both_real_backends(api: httpx.Client) -> None:
    result = ok(api.get("/health"))
    assert result["status"] == "ok" and result["version"] == __version__
    assert set(result["backends"]) == {"blender", "freecad"}
    for name, version in (("blender", r"5\.0\.\d+"), ("freecad", r"0\.20\.\d+")):
        backend = dict(result["backends"][name])
        assert re.fullmatch(version, backend.pop("app_version")), backend  # bpy 5.0.x, Debian's FreeCAD 0.20
        assert isinstance(backend.pop("round_trip_ms"), float)  # measured; its value is the machine's business
        assert backend == {
            "name": name,
            "reachable": True,
            "busy": False,
            "running": None,
            "since": None,
            "error": None,
        }


def test_health_per_backend(api: httpx.Client) -> None:
    blender = ok(api.get("/health/blender"))
    freecad = ok(api.get("/health/freecad"))
    assert (blender["name"], blender["reachable"]) == ("blender", True)
    assert (freecad["name"], freecad["reachable"]) == ("freecad", True)


def test_version(api: httpx.Client) -> None:
    assert ok(api.get("/version")) == {"name": "bridge3d", "version": __version__, "api": "v1"}


def test_unknown_route_is_a_404_envelope(api: httpx.Client) -> None:
    error(api.get("/api/v1/blender/nothing-here"), 404, "NOT_FOUND")
    error(api.get("/api/v1/maya/objects"), 404, "NOT_FOUND")


def test_wrong_method_is_a_405_envelope(api: httpx.Client) -> None:
    response = api.put("/api/v1/blender/primitives/cube", json={})
    found = error(response, 405, "METHOD_NOT_ALLOWED")
    assert (found["message"], found["details"]) == ("Method Not Allowed", {})
    assert response.headers["allow"] == "POST"
    # A path served by several routes names every method they serve.
    assert api.put("/api/v1/blender/objects/Cube").headers["allow"] == "DELETE, GET, PATCH"
    # A path that is a route of its own is that resource, though DELETE /materials/{name} would take it too.
    assert api.options("/api/v1/blender/materials/apply").headers["allow"] == "POST"
    assert api.options("/api/v1/freecad/documents/save").headers["allow"] == "POST"
    assert api.options("/api/v1/blender/materials/Brass").headers["allow"] == "DELETE"


def test_validation_error_names_the_field_and_reason(api: httpx.Client) -> None:
    found = error(
        api.post("/api/v1/blender/primitives/cube", json={"size": -2, "location": [0, 0]}), 422, "VALIDATION_ERROR"
    )
    fields = {item["field"]: item["reason"] for item in found["details"]["errors"]}
    assert fields == {"size": "must be > 0", "location": "must be a list of 3 floats"}
    assert all(item["location"] == "body" for item in found["details"]["errors"])


def test_unknown_body_field_is_rejected(api: httpx.Client) -> None:
    found = error(api.post("/api/v1/blender/primitives/cube", json={"sise": 2}), 422, "VALIDATION_ERROR")
    assert found["details"]["errors"][0]["field"] == "sise"


def test_malformed_json_body_is_a_422_envelope(api: httpx.Client) -> None:
    response = api.post(
        "/api/v1/blender/primitives/cube", content=b"{not json", headers={"content-type": "application/json"}
    )
    error(response, 422, "VALIDATION_ERROR")


def test_host_not_found_maps_to_404_with_backend_details(api: httpx.Client) -> None:
    found = error(api.get("/api/v1/blender/objects/NoSuchObject-xyz"), 404, "NOT_FOUND")
    assert found["details"]["backend"] == "blender" and found["details"]["rpc_code"] == -32001
    error(api.get("/api/v1/freecad/objects/NoSuchObject"), 404, "NOT_FOUND")


def test_render_limits_are_enforced_and_named(api: httpx.Client) -> None:
    found = error(api.post("/api/v1/blender/render", json={"resolution": [640, 16384]}), 422, "LIMIT_EXCEEDED")
    assert found["details"]["field"] == "resolution[1]" and found["details"]["limit"] == 4096
    assert found["details"]["setting"] == "BRIDGE3D_MAX_RENDER_SIZE"
    found = error(api.post("/api/v1/blender/render", json={"samples": 4096}), 422, "LIMIT_EXCEEDED")
    assert found["details"]["field"] == "samples"


def test_path_like_output_names_are_rejected_before_reaching_the_host(api: httpx.Client) -> None:
    for name in ["../x.png", "/tmp/x.png", "a\\b.png", ".hidden.png", "x\x00.png"]:
        found = error(api.post("/api/v1/blender/render", json={"output": name}), 422, "VALIDATION_ERROR")
        assert found["details"]["errors"][0]["field"] == "output"


def test_every_response_carries_a_request_id(api: httpx.Client) -> None:
    response = api.get("/version", headers={"X-Request-ID": "trace-me-123"})
    assert response.headers["x-request-id"] == "trace-me-123"
    # Without one, the gateway makes one up: 16 hex digits, new for each request.
    made = [api.get("/version").headers["x-request-id"] for _ in range(2)]
    assert all(re.fullmatch(r"[0-9a-f]{16}", request_id) for request_id in made) and made[0] != made[1], made
