"""API keys on every REST route, what stays open, and the refusals to serve the network without a key or token."""

from __future__ import annotations

import base64
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from backends import Backend, free_port, stop_process
from bridge3d.rpc.dispatcher import Registry
from bridge3d.rpc.server import HostServer, ServerConfig
from envelope import error, ok
from gateway import Gateway, backend_env, gateway_command, start_gateway

from ._util import non_loopback_address

KEYS = [f"k1-{secrets.token_urlsafe(18)}", f"k2-{secrets.token_urlsafe(18)}"]
OPEN_PATHS = ["/health", "/health/blender", "/health/freecad", "/version", "/docs", "/redoc", "/openapi.json"]


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any bridge3d key or token, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE3D_") or k == "BRIDGE3D_FREECAD_LIB"}
    return {**env, **extra}


@pytest.fixture(scope="module")
def keyed(
    tmp_path_factory: pytest.TempPathFactory, blender_backend: Backend, freecad_backend: Backend
) -> Iterator[Gateway]:
    server = start_gateway(
        tmp_path_factory.mktemp("keyed"),
        blender_backend,
        freecad_backend,
        extra_env={"BRIDGE3D_API_KEY": ",".join(KEYS)},
    )
    yield server
    server.stop()


def operations(url: str) -> list[tuple[str, str]]:
    """(METHOD, path with placeholders filled) of every /api/v1 operation in the gateway's own OpenAPI schema."""
    paths = httpx.get(url + "/openapi.json").json()["paths"]
    found = []
    for path, methods in paths.items():
        if path.startswith("/api/v1/"):
            concrete = path.replace("{name}", "probe.png")
            found += [
                (method.upper(), concrete) for method in methods if method in {"get", "post", "put", "patch", "delete"}
            ]
    return found


def test_every_rest_route_needs_a_valid_key(keyed: Gateway) -> None:
    routes = operations(keyed.url)
    # The routes that change or reveal the most are among those tried.
    sensitive = {
        ("POST", "/api/v1/blender/execute"),
        ("POST", "/api/v1/freecad/execute"),
        ("POST", "/api/v1/blender/import"),
        ("POST", "/api/v1/blender/scene/open"),
        ("POST", "/api/v1/freecad/documents/open"),
        ("DELETE", "/api/v1/blender/scene"),
        ("GET", "/api/v1/blender/files/probe.png"),
        ("DELETE", "/api/v1/freecad/files/probe.png"),
        ("POST", "/api/v1/blender/batch"),
    }
    assert sensitive <= set(routes), sorted(sensitive - set(routes))
    wrong = [
        {},
        {"X-API-Key": "wrong"},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Bearer {KEYS[0]}x"},
        {"Authorization": f"Bearer {KEYS[0][:-1]}"},
        {"Authorization": f"Bearer {KEYS[0]},{KEYS[1]}"},
        {"Authorization": "Basic " + base64.b64encode(f"user:{KEYS[0]}".encode()).decode()},
        {"X-API-Key": ""},
    ]
    with httpx.Client(base_url=keyed.url, timeout=30) as client:
        for method, path in routes:
            for headers in wrong:
                response = client.request(method, path, headers=headers, json={} if method != "GET" else None)
                found = error(response, 401, "UNAUTHORIZED")
                assert "X-API-Key" in found["message"], found
                assert response.headers["www-authenticate"].startswith("Bearer"), (method, path)


def test_either_header_and_any_listed_key_is_accepted(keyed: Gateway) -> None:
    with httpx.Client(base_url=keyed.url, timeout=60) as client:
        for headers in (
            {"Authorization": f"Bearer {KEYS[0]}"},
            {"Authorization": f"Bearer {KEYS[1]}"},
            {"X-API-Key": KEYS[0]},
            {"X-API-Key": KEYS[1]},
            {"Authorization": "Bearer wrong", "X-API-Key": KEYS[1]},
        ):
            ok(client.get("/api/v1/blender/scene", headers=headers))
            ok(client.get("/api/v1/freecad/documents", headers=headers))


def test_health_version_and_docs_stay_open(keyed: Gateway) -> None:
    for path in OPEN_PATHS:
        assert httpx.get(keyed.url + path, timeout=30).status_code == 200, path


# ---------------------------------------------------------------------------------------------- start-up refusals
@pytest.mark.parametrize("key", [None, "", " , "])
def test_bridge3d_api_refuses_a_wide_bind_without_a_key(tmp_path: Path, key: str | None) -> None:
    env = clean_env(**({} if key is None else {"BRIDGE3D_API_KEY": key}))
    command = [sys.executable, "-m", "bridge3d.cli.main", "api", "--host", "0.0.0.0", "--port", str(free_port())]
    done = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done
    assert "refusing to serve on 0.0.0.0 without an API key" in done.stderr and "BRIDGE3D_API_KEY" in done.stderr


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10"])
def test_uvicorn_factory_refuses_a_wide_host_setting_without_a_key(tmp_path: Path, host: str) -> None:
    """However the gateway is started, create_app() itself refuses."""
    done = subprocess.run(
        gateway_command(free_port()),
        env=clean_env(BRIDGE3D_HOST=host),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done  # uvicorn's exit code when the app factory raises
    assert f"refusing to serve on {host} without an API key" in done.stdout + done.stderr


def test_a_wide_host_setting_with_a_key_starts(tmp_path: Path) -> None:
    server = start_gateway(tmp_path, extra_env={"BRIDGE3D_HOST": "0.0.0.0", "BRIDGE3D_API_KEY": KEYS[0]})
    try:
        ok(httpx.get(server.url + "/version"))
    finally:
        server.stop()


def run_uvicorn_wide(tmp_path: Path, **env: str) -> Gateway:
    """`uvicorn --host 0.0.0.0` started by hand (settings say nothing about the bind)."""
    port = free_port()
    log_path = tmp_path / f"wide-{port}.log"
    env = clean_env(**backend_env("blender", None, free_port()), **backend_env("freecad", None, free_port()), **env)
    command = [sys.executable, "-m", "uvicorn", "--factory", "bridge3d.api.main:app_factory"]
    command += ["--host", "0.0.0.0", "--port", str(port), "--log-level", "warning"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    server = Gateway(f"http://127.0.0.1:{port}", process, log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(server.url + "/version", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
    stop_process(process)
    raise RuntimeError(f"gateway did not start:\n{server.log()}")


def test_a_hand_started_wide_gateway_without_key_serves_loopback_only(tmp_path: Path) -> None:
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address to connect to")
    server = run_uvicorn_wide(tmp_path)
    try:
        port = server.url.rsplit(":", 1)[1]
        ok(httpx.get(server.url + "/version"))
        for path in ("/version", "/health", "/api/v1/blender/scene", "/docs"):
            found = error(httpx.get(f"http://{address}:{port}{path}", timeout=30), 403, "LOOPBACK_ONLY")
            assert "BRIDGE3D_API_KEY" in found["message"]
    finally:
        server.stop()


def test_a_wide_gateway_with_a_key_serves_the_network_with_the_key(tmp_path: Path) -> None:
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address to connect to")
    server = run_uvicorn_wide(tmp_path, BRIDGE3D_HOST="0.0.0.0", BRIDGE3D_API_KEY=KEYS[1])
    try:
        remote = f"http://{address}:{server.url.rsplit(':', 1)[1]}"
        ok(httpx.get(remote + "/version"))  # open, and the Host check is for loopback connections only
        error(httpx.get(remote + "/api/v1/blender/files"), 401, "UNAUTHORIZED")
        # Authorised: this gateway simply has no Blender behind it.
        error(httpx.get(remote + "/api/v1/blender/files", headers={"X-API-Key": KEYS[1]}), 503, "CONNECTION_FAILED")
    finally:
        server.stop()


# ---------------------------------------------------------------------------------------------- host servers
@pytest.mark.parametrize("app", ["blender", "freecad"])
def test_host_server_refuses_a_wide_bind_without_a_token(
    tmp_path: Path, blender_backend: Backend, freecad_backend: Backend, app: str
) -> None:
    command = [sys.executable, "-m", f"bridge3d.{app}", "--host", "0.0.0.0", "--port", str(free_port())]
    command += ["--workspace", str(tmp_path / "ws")]
    done = subprocess.run(command, env=clean_env(), cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done
    assert "without a token" in done.stderr
    assert not (tmp_path / "ws").exists()


def test_host_server_core_refuses_a_wide_bind_without_a_token() -> None:
    """The rule lives in HostServer.start(), so the GUI add-ons cannot open a wide, token-less port either."""
    for host in ("0.0.0.0", "::", "192.0.2.2"):
        with pytest.raises(PermissionError, match="without a token"):
            HostServer(Registry(), ServerConfig(host=host, token=None)).start()
    token = secrets.token_hex(8)
    server = HostServer(Registry(), ServerConfig(host="0.0.0.0", token=token))
    server.start()
    try:
        # Port 0 asked for any free port; the server listens on the one it got and lets the token holder in.
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
            connection.sendall(
                b'{"jsonrpc":"2.0","method":"rpc.hello","params":{"token":"' + token.encode() + b'"},"id":1}\n'
            )
            reply = json.loads(connection.makefile("rb").readline())
        assert reply["id"] == 1 and "result" in reply, reply
    finally:
        server.stop()
