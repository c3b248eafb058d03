"""Property-based run of the whole OpenAPI schema against the real backends, with every schemathesis check.

Positive cases (schema-valid requests) must be accepted, negative ones (schema-invalid) refused, responses must
conform, and no 5xx may happen at all: a fuzzed input that makes a backend answer 503/504 has wedged it.

JSON Schema cannot say everything the API checks. These operations may also answer 422 to a schema-valid request,
each for the reason given (the rule is stated in the operation's description, and the host refuses it alike):
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case, CheckContext, CheckFunction, Response
from schemathesis.checks import CHECKS, load_all_checks, not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from backends import Backend, start_backend
from gateway import Gateway, start_gateway

# Small limits keep generated renders and uploads cheap; code execution is off so random code never runs.
FUZZ_ENV = {
    "BRIDGE3D_MAX_RENDER_SIZE": "96",
    "BRIDGE3D_MAX_RENDER_SAMPLES": "2",
    "BRIDGE3D_ALLOW_EXECUTE": "false",
    "BRIDGE3D_MAX_UPLOAD_BYTES": str(1024 * 1024),
    "BRIDGE3D_MAX_BATCH_STEPS": "20",
    # A command may hold a host's main thread for a few seconds; meanwhile a new connection's rpc.hello waits too.
    # Anything slower than these is a wedge, and fails.
    "BRIDGE3D_BLENDER__CONNECT_TIMEOUT": "15",
    "BRIDGE3D_FREECAD__CONNECT_TIMEOUT": "15",
    "BRIDGE3D_BLENDER__CALL_TIMEOUT": "60",
    "BRIDGE3D_FREECAD__CALL_TIMEOUT": "60",
    # No worker processes: each session or job would start an application (tests/test_platform covers them).
    "BRIDGE3D_BLENDER__WORKERS": "0",
    "BRIDGE3D_FREECAD__WORKERS": "0",
    "BRIDGE3D_BLENDER__JOB_WORKERS": "0",
    "BRIDGE3D_FREECAD__JOB_WORKERS": "0",
}
ALSO_422 = {
    "/api/v1/freecad/primitives/cone": "radius2 must differ from radius1, height at most 100 times the larger radius",
    "/api/v1/freecad/primitives/torus": "radius2 at most radius1 (a wider tube passes the centre)",
    "/api/v1/freecad/boolean/union": "object2 must differ from object1",
    "/api/v1/freecad/boolean/subtract": "object2 must differ from object1",
    "/api/v1/freecad/boolean/intersect": "object2 must differ from object1",
    "/api/v1/blender/batch": "the rules of each step's command, and the faces of all steps together",
    "/api/v1/freecad/batch": "the rules of each step's command",
    "/api/v1/blender/import": "the uploaded file's name and content (a readable model, no outside references)",
    "/api/v1/freecad/import": "the uploaded file's name and content",
    "/api/v1/blender/scene/open": "the uploaded file's name and content (a .blend)",
    "/api/v1/freecad/documents/open": "the uploaded file's name and content (an .FCStd)",
    "/api/v1/blender/files": "the uploaded file's name (a workspace file name)",
    "/api/v1/freecad/files": "the uploaded file's name",
    "/api/v1/jobs": "a conversion no application can make (a mesh into STEP), and each batch step's rules",
}
# Sessions and jobs are switched off in this gateway (FUZZ_ENV): creating one is answered 503 with the setting named,
# so schema-valid requests there are judged by no_server_error (that code only) instead of the positive-data checks.
ALSO_503 = {
    "/api/v1/blender/sessions": "TOO_MANY_SESSIONS",
    "/api/v1/freecad/sessions": "TOO_MANY_SESSIONS",
    "/api/v1/jobs": "UNAVAILABLE",
}
# A random session id only ever finds 404 SESSION_NOT_FOUND: the fuzzer leaves the session header and query out, so
# every request reaches the application (sessions have their own tests).
SESSION_PARAMETERS = {("header", "X-Bridge3D-Session"), ("query", "session")}
# A file part is bytes whatever the generator meant them to be, and any bytes are a file to store.
UPLOADS_ANY_BYTES = ("/api/v1/blender/files", "/api/v1/freecad/files")
ACCEPTED = ["2xx", "401", "403", "404", "409"]
EXAMPLES = 15  # generated requests per operation and generation mode


def fuzz_config() -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(
        {
            "generation": {"mode": "all"},
            "operations": [
                {
                    "include-path": path,
                    "include-method": "POST",
                    "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, "422"]}},
                }
                for path in ALSO_422
            ],
            "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED}},
        }
    )


@pytest.fixture(scope="module")
def fuzz_gateway(
    tmp_path_factory: pytest.TempPathFactory, blender_backend: Backend, freecad_backend: Backend
) -> Iterator[Gateway]:
    """A gateway in front of host servers of the fuzzer's own: a generated request that wedges an application fails
    this test (no_server_error), and only this one, not every later test that shares the session's backends (which
    are requested for the suite's rule about a missing application)."""
    folder = tmp_path_factory.mktemp("fuzz")
    blender, freecad = start_backend("blender", folder), start_backend("freecad", folder)
    try:
        server = start_gateway(folder, blender, freecad, extra_env=FUZZ_ENV)
        yield server
        server.stop()
    finally:
        blender.stop()
        freecad.stop()


def without_session_parameters(document: dict[str, Any]) -> dict[str, Any]:
    for operations in document["paths"].values():
        for operation in operations.values():
            operation["parameters"] = [
                parameter
                for parameter in operation.get("parameters", [])
                if (parameter["in"], parameter["name"]) not in SESSION_PARAMETERS
            ]
    return document


@pytest.fixture(scope="module")
def api_schema(fuzz_gateway: Gateway) -> schemathesis.schemas.BaseSchema:
    document = without_session_parameters(httpx.get(fuzz_gateway.url + "/openapi.json").json())
    return schemathesis.openapi.from_dict(document, config=fuzz_config())


schema = schemathesis.pytest.from_fixture("api_schema")
load_all_checks()
# Every registered check is a function today; a class-based one could not be passed as `checks` (schemathesis
# would call the class), so test_every_registered_check_is_run fails the day one appears instead of skipping it.
ALL_CHECKS: list[CheckFunction] = [check for check in CHECKS.get_all() if not isinstance(check, type)]


def no_server_error(ctx: CheckContext, response: Response, case: Case[Any]) -> bool:
    """No 5xx at all (but the switched-off sessions and jobs): each is a bug or a backend a generated request wedged."""
    body = response.content.decode("utf-8", "replace")  # a GLB is not text
    where = f"{case.method} {case.formatted_path} -> {response.status_code}: {body[:500]}"
    switched_off = ALSO_503.get(case.operation.path) if case.method == "POST" else None
    if switched_off is not None and response.status_code == 503:
        assert response.json()["error"]["code"] == switched_off, where
        return True
    assert response.status_code < 500, where
    return True


def test_every_registered_check_is_run() -> None:
    assert len(ALL_CHECKS) == len(CHECKS.get_all()), [check for check in CHECKS.get_all() if isinstance(check, type)]


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_api_conforms_to_its_schema(case: Case[Any], fuzz_gateway: Gateway) -> None:
    checks: list[CheckFunction] = [*ALL_CHECKS, no_server_error]
    if case.operation.path in UPLOADS_ANY_BYTES:
        checks = [check for check in checks if check is not negative_data_rejection]
    if case.method == "POST" and case.operation.path in ALSO_503:
        checks = [check for check in checks if check not in (not_a_server_error, positive_data_acceptance)]
    case.call_and_validate(base_url=fuzz_gateway.url, checks=checks, timeout=60)


def test_every_exemption_is_stated_in_the_schema(fuzz_gateway: Gateway) -> None:
    """An operation allowed to refuse schema-valid input says why in its own description."""
    paths = httpx.get(fuzz_gateway.url + "/openapi.json").json()["paths"]
    for path in ALSO_422:
        operation = paths[path]["post"]
        content = operation.get("requestBody", {}).get("content", {})
        texts = [operation.get("description", "")]
        texts += [str(media.get("schema", {})) for media in content.values()]
        assert any(word in text.lower() for text in texts for word in ("also:", "upload", "faces")), path


def test_schema_lists_every_planned_operation(fuzz_gateway: Gateway) -> None:
    paths = httpx.get(fuzz_gateway.url + "/openapi.json").json()["paths"]
    planned = [
        "/health",
        "/health/blender",
        "/health/freecad",
        "/version",
        *(f"/api/v1/blender/primitives/{kind}" for kind in ("cube", "sphere", "cylinder", "cone", "torus", "plane")),
        "/api/v1/blender/objects",
        "/api/v1/blender/objects/{name}",
        "/api/v1/blender/materials",
        "/api/v1/blender/materials/apply",
        "/api/v1/blender/scene",
        "/api/v1/blender/render",
        "/api/v1/blender/export",
        "/api/v1/blender/camera",
        "/api/v1/blender/light",
        *(f"/api/v1/freecad/primitives/{kind}" for kind in ("box", "sphere", "cylinder", "cone", "torus")),
        "/api/v1/freecad/objects",
        "/api/v1/freecad/objects/{name}",
        *(f"/api/v1/freecad/boolean/{op}" for op in ("union", "subtract", "intersect")),
        "/api/v1/freecad/export",
        "/api/v1/freecad/documents",
        "/api/v1/blender/files/{name}",
        "/api/v1/freecad/files/{name}",
        "/api/v1/blender/import",
        "/api/v1/freecad/import",
        "/api/v1/blender/batch",
        "/api/v1/freecad/batch",
        "/api/v1/blender/scene/save",
        "/api/v1/blender/scene/open",
        "/api/v1/freecad/documents/save",
        "/api/v1/freecad/documents/open",
        *(f"/api/v1/{app}/sessions{rest}" for app in ("blender", "freecad") for rest in ("", "/{session_id}")),
        "/api/v1/jobs",
        "/api/v1/jobs/{job_id}",
        "/api/v1/jobs/{job_id}/files/{name}",
        "/metrics",
    ]
    missing = [path for path in planned if path not in paths]
    assert missing == [], missing
    operation_ids = []
    for path, operations in paths.items():
        for method, operation in operations.items():
            assert operation.get("description") or operation.get("summary"), f"{method} {path} has no docstring"
            operation_ids.append(operation["operationId"])
    # Generated clients name their methods after these: identifiers, each used once.
    assert [name for name in operation_ids if not re.fullmatch(r"[a-z][a-z0-9_]*", name)] == []
    assert len(set(operation_ids)) == len(operation_ids)


def test_no_security_is_declared_without_a_key(fuzz_gateway: Gateway) -> None:
    document = httpx.get(fuzz_gateway.url + "/openapi.json").json()
    assert "securitySchemes" not in document.get("components", {})
    assert not [path for path, ops in document["paths"].items() for op in ops.values() if op.get("security")]


def test_docs_pages_use_no_cdn(fuzz_gateway: Gateway) -> None:
    for page in ("/docs", "/redoc"):
        html = httpx.get(fuzz_gateway.url + page).text
        assert "cdn.jsdelivr" not in html and "unpkg.com" not in html
    assert httpx.get(fuzz_gateway.url + "/static-offline-docs/swagger-ui-bundle.js").status_code == 200
