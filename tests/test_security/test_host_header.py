"""Browser attacks on a loopback gateway: DNS rebinding (foreign Host header, HTTP and WebSocket) and CORS."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator

import httpx
import pytest

from backends import Backend
from bridge3d.rpc import RpcClient, RpcError
from envelope import error, ok
from gateway import Gateway, start_gateway

from ._util import raw_get, websocket_handshake

ALLOWED_HOSTS = '["bridge3d.test", "*.lab.test"]'
PATHS = ["/health", "/version", "/docs", "/openapi.json", "/api/v1/blender/scene", "/api/v1/freecad/documents"]


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory, blender_backend: Backend, freecad_backend: Backend
) -> Iterator[Gateway]:
    server = start_gateway(
        tmp_path_factory.mktemp("hosts"),
        blender_backend,
        freecad_backend,
        extra_env={"BRIDGE3D_ALLOWED_HOSTS": ALLOWED_HOSTS},
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def port(gateway: Gateway) -> int:
    return int(gateway.url.rsplit(":", 1)[1])


def foreign_hosts(port: int) -> list[str]:
    return [
        "evil.example",
        f"evil.example:{port}",
        f"localhost.evil.example:{port}",
        "127.0.0.1.nip.io",
        f"attacker.localhost:{port}",
        f"192.0.2.2:{port}",
        "lab.test",  # '*.lab.test' matches subdomains only
        "bridge3d.test.evil.example",
        "xbridge3d.test",
        f"localhost:{port}:1",
        "localhost:http",
        "[::1",
        "[::1]x",
        "@localhost",
    ]


def allowed_hosts(port: int) -> list[str]:
    return [
        "localhost",
        f"localhost:{port}",
        f"LOCALHOST:{port}",
        "localhost.",
        f"127.0.0.1:{port}",
        "127.0.0.2",
        f"[::1]:{port}",
        "[::1]",
        "bridge3d.test",
        f"Bridge3D.test:{port}",
        "a.lab.test",
        "deep.a.lab.test:443",
    ]


def test_a_foreign_host_header_is_refused_everywhere(gateway: Gateway, port: int) -> None:
    with httpx.Client(base_url=gateway.url, timeout=30) as client:
        for host in foreign_hosts(port):
            for path in PATHS:
                found = error(client.get(path, headers={"Host": host}), 400, "HOST_NOT_ALLOWED")
                assert found["details"]["setting"] == "BRIDGE3D_ALLOWED_HOSTS", found


def test_loopback_names_and_configured_hosts_are_served(gateway: Gateway, port: int) -> None:
    with httpx.Client(base_url=gateway.url, timeout=30) as client:
        for host in allowed_hosts(port):
            ok(client.get("/version", headers={"Host": host}))


def test_missing_empty_or_doubled_host_is_refused(gateway: Gateway, port: int) -> None:
    # HTTP/1.1 requires a Host header; the server itself rejects a request without one.
    assert raw_get(gateway.url, "/version", None).status == 400
    assert raw_get(gateway.url, "/version", "").status == 400
    doubled = raw_get(gateway.url, "/version", f"127.0.0.1:{port}", extra="Host: evil.example\r\n")
    assert doubled.status == 400
    assert raw_get(gateway.url, "/version", f"127.0.0.1:{port}").status == 200


def test_a_rebinding_page_cannot_make_the_application_do_anything(
    gateway: Gateway, blender_backend: Backend, port: int
) -> None:
    """The point of DNS rebinding is to drive the app: the refused request must not have run."""
    name = f"Rebound{secrets.token_hex(3)}"
    with httpx.Client(base_url=gateway.url, timeout=60) as client:
        response = client.post(
            "/api/v1/blender/primitives/cube",
            json={"name": name},
            headers={"Host": f"rebind.evil.example:{port}", "Origin": f"http://rebind.evil.example:{port}"},
        )
        error(response, 400, "HOST_NOT_ALLOWED")
        error(
            client.post("/api/v1/blender/execute", json={"code": "result = 1"}, headers={"Host": "evil.example"}),
            400,
            "HOST_NOT_ALLOWED",
        )
    with RpcClient("127.0.0.1", blender_backend.port, token=blender_backend.token, timeout=30) as host:
        with pytest.raises(RpcError) as missing:
            host.call("object.get", {"name": name})
        assert missing.value.code == -32001


@pytest.mark.parametrize("app", ["blender", "freecad"])
def test_websocket_handshake_with_a_foreign_host_is_refused(gateway: Gateway, port: int, app: str) -> None:
    for host in ("evil.example", f"evil.example:{port}", f"127.0.0.1.nip.io:{port}"):
        refused = websocket_handshake(gateway.url, f"/ws/{app}", host)
        assert refused.status == 400, refused
        assert json.loads(refused.body)["error"]["code"] == "HOST_NOT_ALLOWED"
    accepted = websocket_handshake(gateway.url, f"/ws/{app}", f"127.0.0.1:{port}")
    assert accepted.status == 101, accepted


def test_cors_allows_only_the_listed_origins(gateway: Gateway) -> None:
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    with httpx.Client(base_url=gateway.url, timeout=30) as client:
        for origin in ("http://evil.example", "http://localhost.evil.example", "null", "http://localhost:9999"):
            answer = client.options("/api/v1/blender/primitives/cube", headers={"Origin": origin, **preflight})
            assert "access-control-allow-origin" not in answer.headers, origin
            simple = client.get("/version", headers={"Origin": origin})
            assert "access-control-allow-origin" not in simple.headers, origin
        for origin in ("http://localhost:8000", "http://127.0.0.1:8000", "http://localhost"):
            answer = client.options("/api/v1/blender/primitives/cube", headers={"Origin": origin, **preflight})
            assert answer.headers.get("access-control-allow-origin") == origin


def test_a_foreign_page_cannot_post_an_upload(gateway: Gateway, blender_backend: Backend, port: int) -> None:
    """A multipart form POST is a 'simple' request: browsers send it cross-site without a preflight, so CORS alone
    would let a page make Blender import or open a file (replacing the user's scene). The Origin check stops it."""
    stl = b"solid x\nendsolid x\n"
    with httpx.Client(base_url=gateway.url, timeout=60) as client:
        for origin in ("http://evil.example", "null", f"http://localhost.evil.example:{port}", "http://[::1"):
            name = f"csrf-{secrets.token_hex(3)}.stl"
            response = client.post("/api/v1/blender/import", files={"file": (name, stl)}, headers={"Origin": origin})
            found = error(response, 403, "ORIGIN_NOT_ALLOWED")
            assert found["details"]["setting"] == "BRIDGE3D_CORS_ORIGINS"
            assert not (blender_backend.workspace / name).exists()
            for method, path in (("POST", "/api/v1/blender/scene/save"), ("DELETE", "/api/v1/blender/scene")):
                error(client.request(method, path, json={}, headers={"Origin": origin}), 403, "ORIGIN_NOT_ALLOWED")
        # Listed origins, this gateway's own pages (same origin: /docs "Try it out"), and clients without Origin.
        for headers in ({"Origin": "http://localhost:8000"}, {"Origin": f"http://127.0.0.1:{port}"}, {}):
            ok(client.post("/api/v1/blender/batch", json={"steps": [{"method": "scene.info"}]}, headers=headers))
        # Reads are not refused (the browser hides the answer from a foreign page anyway).
        ok(client.get("/api/v1/blender/scene", headers={"Origin": "http://evil.example"}))
