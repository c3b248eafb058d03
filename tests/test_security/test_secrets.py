"""Secrets (API keys, host-server tokens, even wrong keys a user typed) never appear in logs, errors or /health."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import httpx
import pytest

from backends import Backend
from envelope import error, ok
from gateway import Gateway, start_gateway

KEYS = [f"key-a-{secrets.token_urlsafe(18)}", f"key-b-{secrets.token_urlsafe(18)}"]
TYPO = KEYS[0][:-1]  # a wrong key is often a mistyped right one
WRONG_TOKEN = f"wrong-token-{secrets.token_hex(12)}"


@pytest.fixture(scope="module")
def keyed(
    tmp_path_factory: pytest.TempPathFactory, blender_backend: Backend, freecad_backend: Backend
) -> Iterator[Gateway]:
    env = {"BRIDGE3D_API_KEY": ",".join(KEYS), "BRIDGE3D_LOG_LEVEL": "DEBUG"}
    server = start_gateway(tmp_path_factory.mktemp("secrets"), blender_backend, freecad_backend, extra_env=env)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def wrong_token(
    tmp_path_factory: pytest.TempPathFactory, blender_backend: Backend, freecad_backend: Backend
) -> Iterator[Gateway]:
    """A gateway configured with the wrong Blender token."""
    env = {"BRIDGE3D_API_KEY": KEYS[1], "BRIDGE3D_LOG_LEVEL": "DEBUG", "BRIDGE3D_BLENDER__TOKEN": WRONG_TOKEN}
    server = start_gateway(tmp_path_factory.mktemp("wrongtoken"), blender_backend, freecad_backend, extra_env=env)
    yield server
    server.stop()


def exercise(client: httpx.Client, key: str) -> list[httpx.Response]:
    good = {"Authorization": f"Bearer {key}"}
    return [
        client.get("/health"),
        client.get("/health/blender"),
        client.get("/health/freecad"),
        client.get("/version"),
        client.get("/openapi.json"),
        client.get("/api/v1/blender/scene"),
        client.get("/api/v1/blender/scene", headers={"Authorization": f"Bearer {TYPO}"}),
        client.get("/api/v1/freecad/documents", headers={"X-API-Key": TYPO}),
        client.get("/api/v1/blender/scene", headers=good),
        client.get("/api/v1/freecad/documents", headers={"X-API-Key": key}),
        client.post("/api/v1/blender/primitives/cube", json={"size": -1}, headers=good),
        client.get("/api/v1/blender/objects/NoSuchThing", headers=good),
        client.post("/api/v1/freecad/execute", json={"code": "raise ValueError('boom')"}, headers=good),
        client.post("/api/v1/blender/batch", json={"steps": [{"method": "nope.nothing"}]}, headers=good),
        client.get("/api/v1/blender/files/..%2Fsecret", headers=good),
    ]


EXPECTED_STATUSES = [200, 200, 200, 200, 200, 401, 401, 401, 200, 200, 422, 404, 400, 422, 404]
BLENDER_BACKED = (8, 11)  # the requests of exercise() with a right key that reach Blender


def secrets_in(text: str, backends: list[Backend]) -> list[str]:
    values = [*KEYS, TYPO, WRONG_TOKEN, *(backend.token for backend in backends)]
    return [value for value in values if value in text]


def test_keys_and_tokens_never_appear(
    keyed: Gateway, wrong_token: Gateway, blender_backend: Backend, freecad_backend: Backend
) -> None:
    backends = [blender_backend, freecad_backend]
    responses: list[httpx.Response] = []
    with httpx.Client(base_url=keyed.url, timeout=60) as client:
        keyed_responses = exercise(client, KEYS[0])
    with httpx.Client(base_url=wrong_token.url, timeout=60) as client:
        wrong_token_responses = exercise(client, KEYS[1])
        error(client.get("/api/v1/blender/scene", headers={"X-API-Key": KEYS[1]}), 502, "BACKEND_UNAUTHORIZED")
        health = ok(client.get("/health"))
        assert health["backends"]["blender"]["reachable"] is False
        responses.append(client.get("/health"))
    # Each request got the answer it was made to provoke (so the secrets were looked for in every kind of answer):
    # open routes, missing and mistyped keys, a right key, a validation error, a missing object, a failing script, a
    # refused batch and a refused path; behind a wrong host token, Blender's routes answer 502.
    assert [response.status_code for response in keyed_responses] == EXPECTED_STATUSES
    wrong_token_statuses = [502 if i in BLENDER_BACKED else status for i, status in enumerate(EXPECTED_STATUSES)]
    assert [response.status_code for response in wrong_token_responses] == wrong_token_statuses
    responses += keyed_responses + wrong_token_responses
    for response in responses:
        shown = response.text + "\n".join(f"{k}: {v}" for k, v in response.headers.items())
        assert secrets_in(shown, backends) == [], (response.request.url, response.text[:300])
    for name, log in (
        ("keyed gateway", keyed.log()),
        ("wrong-token gateway", wrong_token.log()),
        ("blender host", blender_backend.log()),
        ("freecad host", freecad_backend.log()),
    ):
        assert log.strip(), f"{name} wrote no log; nothing was checked"
        assert secrets_in(log, backends) == [], name
    # DEBUG logging was on, and the requests were logged (so the check above looked at real log lines).
    assert "/api/v1/blender/scene" in keyed.log() and "/api/v1/blender/scene" in wrong_token.log()
