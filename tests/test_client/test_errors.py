"""Every exception family of the SDK, each from a real failure of the real stack, with the envelope's code,
message and details and the HTTP status; retries happen for connection failures and 503 only."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from backends import free_port
from bridge3d.client import (
    AsyncClient,
    AuthenticationError,
    BackendError,
    BackendUnavailableError,
    Bridge3DError,
    Client,
    ConflictError,
    ExecutionError,
    GatewayUnreachableError,
    InvalidRequestError,
    LimitExceededError,
    NotFoundError,
    PermissionDeniedError,
    RequestTimeoutError,
)
from bridge3d.client.errors import FAMILIES, error_for
from gateway import Gateway

from .conftest import STRICT_KEY


def retries(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if "; retry " in record.getMessage()]


def test_not_found(client: Client) -> None:
    with pytest.raises(NotFoundError) as caught:
        client.blender.objects.get("Ghost")
    error = caught.value
    assert error.status_code == 404 and error.code == "NOT_FOUND" and "Ghost" in error.message
    assert error.field == "name" and error.backend == "blender" and error.request_id
    assert str(error).startswith("404 NOT_FOUND: ")


def test_invalid_request_names_every_field(client: Client) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        client.blender.cube(size=-1, scale=(1, 0, 1))
    error = caught.value
    assert error.status_code == 422 and error.code == "VALIDATION_ERROR"
    assert {entry["field"] for entry in error.errors} == {"size", "scale[1]"}
    # An upload the route does not accept: another code of the same family.
    with pytest.raises(InvalidRequestError) as refused:
        client.blender.import_file(b"not a model", filename="notes.xyz")
    assert refused.value.code == "INVALID_UPLOAD" and ".glb" in refused.value.details["accepted"]


def test_limit_exceeded(client: Client) -> None:
    with pytest.raises(LimitExceededError) as caught:
        client.blender.render(resolution=(16384, 16384))
    assert caught.value.status_code == 422 and (caught.value.setting or "").startswith("BRIDGE3D_MAX_RENDER_")


def test_conflict(client: Client) -> None:
    doc = client.freecad.documents.create(name="SdkConflict").name
    try:
        box = client.freecad.box(document=doc).object_id
        tool = client.freecad.cylinder(radius=2, height=20, document=doc).object_id
        client.freecad.boolean.subtract(object1=box, object2=tool, document=doc)
        with pytest.raises(ConflictError) as caught:
            client.freecad.objects.delete(box, document=doc)  # the cut still uses it
        assert caught.value.status_code == 409 and caught.value.code == "CONFLICT" and caught.value.backend == "freecad"
    finally:
        client.freecad.documents.close(doc)


def test_execution_error(client: Client) -> None:
    with pytest.raises(ExecutionError) as caught:
        client.blender.execute(code="print('before')\n1 / 0")
    error = caught.value
    assert error.status_code == 400 and error.error_type == "ZeroDivisionError"
    assert "ZeroDivisionError" in error.traceback and error.stdout == "before\n"


def test_timeouts_of_the_gateway_and_of_the_client(client: Client) -> None:
    with pytest.raises(RequestTimeoutError) as gateway_said:
        client.blender.execute(code="import time\ntime.sleep(5)", timeout=0.3)
    assert gateway_said.value.status_code == 504 and gateway_said.value.code == "TIMEOUT"
    started = time.monotonic()
    with pytest.raises(RequestTimeoutError) as client_said:
        client.with_options(timeout=0.3).blender.execute(code="import time\ntime.sleep(1)")
    assert client_said.value.status_code is None and client_said.value.code == "CLIENT_TIMEOUT"
    assert time.monotonic() - started < 1  # the client's own limit, not the script's second
    time.sleep(1)  # the script finishes in Blender before the next test's command takes its turn


def test_unreachable_gateway_is_retried_then_raised(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bridge3d.client")
    with Client(f"http://127.0.0.1:{free_port()}", max_retries=2) as nowhere, pytest.raises(GatewayUnreachableError):
        nowhere.version()
    assert len(retries(caplog)) == 2
    caplog.clear()
    with Client(f"http://127.0.0.1:{free_port()}", max_retries=0) as nowhere, pytest.raises(GatewayUnreachableError):
        nowhere.version()
    assert retries(caplog) == []


def test_authentication(strict_gateway: Gateway) -> None:
    with Client(strict_gateway.url, api_key="") as anonymous, pytest.raises(AuthenticationError) as caught:
        anonymous.blender.scene.info()
    assert caught.value.status_code == 401
    with Client(strict_gateway.url, api_key="wrong") as wrong, pytest.raises(AuthenticationError):
        wrong.freecad.documents.list()


def test_permission_denied(strict_gateway: Gateway) -> None:
    with Client(strict_gateway.url, api_key=STRICT_KEY) as keyed, pytest.raises(PermissionDeniedError) as caught:
        keyed.blender.execute(code="result = 1")
    assert caught.value.status_code == 403 and caught.value.code == "EXECUTION_DISABLED"


def test_backend_error(strict_gateway: Gateway, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bridge3d.client")
    with Client(strict_gateway.url, api_key=STRICT_KEY) as keyed, pytest.raises(BackendError) as caught:
        keyed.blender.scene.info()  # the gateway holds a wrong token for Blender's host server
    assert caught.value.status_code == 502 and caught.value.code == "BACKEND_UNAUTHORIZED"
    assert retries(caplog) == []  # a 502 would fail again: not retried


def test_backend_unavailable_is_retried_then_raised(strict_gateway: Gateway, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bridge3d.client")
    with (
        Client(strict_gateway.url, api_key=STRICT_KEY, max_retries=2) as keyed,
        pytest.raises(BackendUnavailableError) as caught,
    ):
        keyed.freecad.documents.list()  # nothing listens where the gateway expects FreeCAD
    assert caught.value.status_code == 503 and caught.value.code == "CONNECTION_FAILED"
    assert caught.value.backend is None or caught.value.backend == "freecad"
    assert len(retries(caplog)) == 2


def test_async_client_raises_the_same(strict_gateway: Gateway, gateway: Gateway) -> None:
    async def failures() -> list[Bridge3DError]:
        raised: list[Bridge3DError] = []
        async with AsyncClient(gateway.url) as sdk:
            for call in (sdk.blender.objects.get("Ghost"), sdk.blender.cube(size=-1)):
                try:
                    await call
                except Bridge3DError as exc:
                    raised.append(exc)
        async with AsyncClient(strict_gateway.url, api_key=STRICT_KEY, max_retries=0) as keyed:
            try:
                await keyed.freecad.documents.list()
            except Bridge3DError as exc:
                raised.append(exc)
        return raised

    raised = asyncio.run(failures())
    assert [type(error) for error in raised] == [NotFoundError, InvalidRequestError, BackendUnavailableError]


def test_the_environment_configures_the_client(strict_gateway: Gateway, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRIDGE3D_URL", strict_gateway.url + "/")
    monkeypatch.setenv("BRIDGE3D_API_KEY", f"{STRICT_KEY}, another-key")  # the gateway's list: the first is sent
    with Client() as configured:
        assert configured.base_url == strict_gateway.url
        with pytest.raises(PermissionDeniedError):  # past the key check
            configured.blender.execute(code="result = 1")


def test_the_codes_of_sessions_and_jobs_have_their_families() -> None:
    """Those a test cannot cheaply cause for real (test_sessions.py and test_jobs.py cause the others)."""
    queue_full = error_for("QUEUE_FULL", "m", status_code=503, details={"setting": "BRIDGE3D_MAX_QUEUED_JOBS"})
    assert type(queue_full) is BackendUnavailableError and queue_full.setting == "BRIDGE3D_MAX_QUEUED_JOBS"
    assert type(error_for("TOO_MANY_JOBS", "m", status_code=429)) is LimitExceededError
    assert type(error_for("TOO_MANY_SESSIONS", "m", status_code=503)) is BackendUnavailableError
    assert type(error_for("JOB_NOT_FOUND", "m", status_code=404)) is NotFoundError


def test_unknown_codes_fall_into_a_family_by_status() -> None:
    assert type(error_for("SOMETHING_NEW", "m", status_code=404)) is NotFoundError
    assert type(error_for("QUEUE_FULL", "m", status_code=503)) is BackendUnavailableError
    assert type(error_for("HTTP_418", "m", status_code=418)) is Bridge3DError
    codes = [code for family in FAMILIES for code in family.codes]
    assert len(codes) == len(set(codes)), "a code belongs to one family"


def test_every_code_the_gateway_answers_with_has_its_family() -> None:
    from bridge3d.api import errors as gateway_errors

    raised = {
        code
        for value in vars(gateway_errors).values()
        if isinstance(value, type) and isinstance(code := getattr(value, "code", None), str)
    }
    mapped = {code for _, code in gateway_errors.CommandExecutionError.STATUS_BY_RPC_CODE.values()}
    known = {code for family in FAMILIES for code in family.codes}
    missing = (raised | mapped | set(gateway_errors.HTTP_CODES.values())) - known
    assert missing == set(), f"gateway codes no SDK exception family names: {sorted(missing)}"
