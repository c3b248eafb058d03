"""Path traversal: hostile file names on every route that names a file, for both real applications.

Each hostile name is sent to render (output), export, save, open and import (upload file names), download and
delete, then as batch steps and straight to the host servers (file.read/write/delete). Canary files sit next to the
workspaces (and symlinks inside the workspaces point at them); their content must never come back, they must stay
unchanged, and a before/after scan of the tree around the workspaces must show that nothing was written outside.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import struct
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

import httpx
import pytest

from backends import Backend
from bridge3d.rpc import RpcClient, RpcError
from bridge3d.rpc.errors import INVALID_PARAMS, InvalidParams, NotFound
from bridge3d.rpc.workspace import FILE_NAME_PATTERN, check_file_name
from envelope import error, field_names, ok
from gateway import Gateway, start_gateway

from ._util import APPS, RawResponse, ascii_stl, names_containing, raw_request, recording_client, snapshot, upload

MARKER = f"sec{secrets.token_hex(4)}"
CANARY_NAME = f"canary-{MARKER}.txt"
CANARY_TEXT = f"CANARY-{secrets.token_hex(16)}"
SYMLINK_EXTENSIONS = (".png", ".stl", ".blend", ".step", ".FCStd", ".glb")
SEEN: list[bytes] = []  # every response body of this module, searched for the canary at the end


@dataclass
class Arena:
    canaries: dict[str, Path]
    basetemp: Path
    workspaces: list[Path]
    before: dict[str, tuple[int, int]]


def name_rule_reason(name: str) -> str | None:
    """Why the file-name rule refuses ``name``, or None when it passes (then only the host, resolving the name, can
    see where it leads)."""
    try:
        check_file_name(name)
    except InvalidParams as refused:
        reason: str = refused.data["reason"]
        return reason
    return None


def well_formed(name: str) -> bool:
    return name_rule_reason(name) is None


OUTSIDE = "resolves outside the workspace"  # the host's answer for a well-formed name that is a symlink out


def hostile_names(ext: str, canary: Path) -> list[str]:
    """28 names: traversal, absolute and Windows paths, encodings, NUL, length, look-alikes, invisible characters,
    dot names, and a symlink inside the workspace that points outside."""
    m = MARKER
    return [
        f"../{CANARY_NAME}",
        f"../../../../../{m}{ext}",
        f"..\\{m}{ext}",
        f"..\\..\\{CANARY_NAME}",
        str(canary),
        f"{tempfile.gettempdir()}/{m}{ext}",
        "/etc/passwd",
        f"C:\\Windows\\{m}{ext}",
        f"C:{m}{ext}",
        f"\\\\server\\share\\{m}{ext}",
        f"..%2f{CANARY_NAME}",
        f"%2e%2e%2f{m}{ext}",
        f"..%252f{m}{ext}",
        f"{m}\x00{ext}",
        f"{m}{ext}\x00.txt",
        "a" * 250 + ext,
        "é" * 120 + ext,
        f"\uff0e\uff0e\uff0f{m}{ext}",  # fullwidth ．．／
        f"..\u2215{m}{ext}",  # division slash
        f"..\u2044{m}{ext}",  # fraction slash
        f"..\uff3c{m}{ext}",  # fullwidth backslash
        f"{m}\u202e{ext}",  # right-to-left override
        f"{m}\u200b{ext}",  # zero-width space
        "..",
        f".{m}{ext}",
        f" {m}{ext}",
        f"{m}{ext}:stream",
        f"link-out{ext}",
    ]


@pytest.fixture(scope="module")
def arena(backends: dict[str, Backend]) -> Iterator[Arena]:
    """Canaries beside each workspace, symlinks to them inside it, and the 'before' scan."""
    canaries = {}
    links = []
    for app, backend in backends.items():
        canary = backend.workspace.parent / CANARY_NAME
        canary.write_text(CANARY_TEXT)
        canaries[app] = canary
        for ext in SYMLINK_EXTENSIONS:
            link = backend.workspace / f"link-out{ext}"
            link.unlink(missing_ok=True)
            link.symlink_to(canary)
            links.append(link)
    basetemp = backends["blender"].workspace.parent.parent
    workspaces = [backend.workspace for backend in backends.values()]
    yield Arena(canaries, basetemp, workspaces, snapshot(basetemp, workspaces))
    for path in links + list(canaries.values()):
        path.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, backends: dict[str, Backend]) -> Iterator[Gateway]:
    server = start_gateway(tmp_path_factory.mktemp("paths"), backends["blender"], backends["freecad"])
    yield server
    server.stop()


@pytest.fixture(scope="module")
def api(gateway: Gateway, arena: Arena) -> Iterator[httpx.Client]:
    with recording_client(gateway, SEEN, timeout=180) as client:
        yield client


@pytest.fixture(scope="module")
def document(api: httpx.Client) -> str:
    name = ok(api.post("/api/v1/freecad/documents", json={"name": f"Sec{MARKER}"}), 201)["name"]
    ok(api.post("/api/v1/freecad/primitives/box", json={"name": "Block", "document": name}), 201)
    return str(name)


def raw(api: httpx.Client, method: str, target: str) -> RawResponse:
    request = f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode("latin-1")
    response = raw_request(str(api.base_url), request)
    SEEN.append(response.body)
    return response


@dataclass(frozen=True)
class Route:
    app: str
    label: str
    ext: str
    send: Callable[[httpx.Client, str, str], httpx.Response | RawResponse]  # (api, name, document)
    by_url: bool = False


def _post(path: str, **fields: object) -> Callable[[httpx.Client, str, str], httpx.Response]:
    def send(api: httpx.Client, name: str, document: str) -> httpx.Response:
        body = {
            key: (name if value == "NAME" else document if value == "DOC" else value) for key, value in fields.items()
        }
        return api.post(path, json=body)

    return send


def _upload(path: str, content: bytes) -> Callable[[httpx.Client, str, str], httpx.Response]:
    def send(api: httpx.Client, name: str, document: str) -> httpx.Response:
        target = f"{path}?document={document}" if path.startswith("/api/v1/freecad/import") else path
        return upload(api, target, name, content)

    return send


def _by_url(app: str, method: str) -> Callable[[httpx.Client, str, str], RawResponse]:
    def send(api: httpx.Client, name: str, document: str) -> RawResponse:
        return raw(api, method, f"/api/v1/{app}/files/{quote(name, safe='')}")

    return send


B, F = "/api/v1/blender", "/api/v1/freecad"
ROUTES = [
    Route("blender", "render", ".png", _post(f"{B}/render", output="NAME", resolution=[8, 8], engine="WORKBENCH")),
    Route("blender", "export", ".stl", _post(f"{B}/export", format="STL", filepath="NAME")),
    Route("blender", "save", ".blend", _post(f"{B}/scene/save", filepath="NAME")),
    Route("blender", "import", ".stl", _upload(f"{B}/import", ascii_stl())),
    Route("blender", "open", ".blend", _upload(f"{B}/scene/open", b"BLENDER-v300 not really")),
    Route("blender", "download", ".png", _by_url("blender", "GET"), by_url=True),
    Route("blender", "delete", ".png", _by_url("blender", "DELETE"), by_url=True),
    Route("freecad", "export", ".step", _post(f"{F}/export", format="STEP", filepath="NAME", document="DOC")),
    Route("freecad", "save", ".FCStd", _post(f"{F}/documents/save", filepath="NAME", document="DOC")),
    Route("freecad", "import", ".stl", _upload(f"{F}/import", ascii_stl())),
    Route("freecad", "open", ".FCStd", _upload(f"{F}/documents/open", b"PK not really a document")),
    Route("freecad", "download", ".step", _by_url("freecad", "GET"), by_url=True),
    Route("freecad", "delete", ".step", _by_url("freecad", "DELETE"), by_url=True),
]


def expected_refusal(route: Route, name: str) -> tuple[int, str, str | None]:
    """(status, code, reason) for a hostile name on a route. By URL, a name holding a (decoded) slash matches no
    route. An upload is refused for an extension the route does not take, then for a name with a folder in it.
    Anything else meets the file-name rule, at the gateway or at the host, which also sees a symlink leading out."""
    if route.by_url and "/" in name:
        return 404, "NOT_FOUND", None
    if route.label in ("import", "open"):
        if not name.lower().endswith(route.ext.lower()):
            return 422, "INVALID_UPLOAD", None
        if "/" in name or "\\" in name:
            return 422, "INVALID_UPLOAD", "not a plain file name"
    return 422, "VALIDATION_ERROR", name_rule_reason(name) or OUTSIDE


def status_of(response: httpx.Response | RawResponse) -> int:
    return response.status_code if isinstance(response, httpx.Response) else response.status


def body_of(response: httpx.Response | RawResponse) -> bytes:
    return response.content if isinstance(response, httpx.Response) else response.body


def test_every_route_works_with_a_safe_name(api: httpx.Client, backends: dict[str, Backend], document: str) -> None:
    """The refusals below mean something only if the same routes accept an ordinary name."""
    stem = f"safe-{MARKER}"
    saved: dict[str, bytes] = {}
    for route in ROUTES:
        name = stem + route.ext
        response: httpx.Response | RawResponse
        if route.label == "open":
            name, content = f"{stem}-reopen{route.ext}", saved[route.app]
            send = _upload(f"{B}/scene/open" if route.app == "blender" else f"{F}/documents/open", content)
            response = send(api, name, document)
        elif route.label == "delete":
            continue  # deleted at the end of the module
        else:
            response = route.send(api, name, document)
        assert status_of(response) == 200, (route.app, route.label, body_of(response)[:300])
        if route.label == "save":
            saved[route.app] = (backends[route.app].workspace / name).read_bytes()
        assert (backends[route.app].workspace / name).is_file(), (route.app, route.label, name)


@pytest.mark.parametrize("route", ROUTES, ids=[f"{r.app}-{r.label}" for r in ROUTES])
def test_hostile_names_are_refused(api: httpx.Client, arena: Arena, document: str, route: Route) -> None:
    names = hostile_names(route.ext, arena.canaries[route.app])
    assert len(names) == 28
    for name in names:
        response = route.send(api, name, document)
        status, body = status_of(response), body_of(response)
        expected_status, code, reason = expected_refusal(route, name)
        where = (route.app, route.label, repr(name), status, body[:300])
        assert status == expected_status, where
        envelope = json.loads(body)
        assert envelope["status"] == "error" and envelope["error"]["code"] == code, where
        details = envelope["error"]["details"]
        if code == "INVALID_UPLOAD" and reason is None:  # the extension: the route names those it takes
            assert route.ext.lower() in details["accepted"] and details["field"] == "file", where
        elif code == "INVALID_UPLOAD":
            assert details == {"field": "file", "reason": reason}, where
        elif code == "VALIDATION_ERROR":
            assert [problem["reason"] for problem in details["errors"]] == [reason], where
        assert CANARY_TEXT.encode() not in body


@pytest.mark.parametrize("app", APPS)
def test_the_symlink_pointing_outside_is_refused_by_the_host(api: httpx.Client, arena: Arena, app: str) -> None:
    """The gateway cannot see symlinks; the host resolves the name and refuses it (not a 404, not the bytes)."""
    for method in ("GET", "DELETE"):
        response = raw(api, method, f"/api/v1/{app}/files/link-out.png")
        assert response.status == 422, response.body
        assert "outside the workspace" in response.json()["error"]["message"]
    assert Path(arena.canaries[app]).read_text() == CANARY_TEXT
    assert (Path(arena.canaries[app]).parent / f"{app}-workspace" / "link-out.png").is_symlink()


@pytest.mark.parametrize("app", APPS)
def test_the_file_list_does_not_follow_symlinks(api: httpx.Client, arena: Arena, app: str) -> None:
    """A listing that followed the link would show the outside file's size (and that it exists)."""
    listed = {item["name"]: item for item in ok(api.get(f"/api/v1/{app}/files"))}
    assert not any(name.startswith("link-out") for name in listed), sorted(listed)


@pytest.mark.parametrize("app", APPS)
def test_url_encoded_download_paths(api: httpx.Client, app: str) -> None:
    """Encodings in the URL itself: decoded once by the server, then refused; never decoded twice."""
    targets = [
        f"..%2f{CANARY_NAME}",
        f"%2e%2e%2f{CANARY_NAME}",
        f"%2E%2E%2F{CANARY_NAME}",
        f"..%5c{CANARY_NAME}",
        f"%2e%2e%5c{CANARY_NAME}",
        f"%252e%252e%252f{CANARY_NAME}",
        f"..%c0%af{CANARY_NAME}",
        f"%2F{MARKER}",
        "%2Fetc%2Fpasswd",
        "%00",
        f"{MARKER}%00.png",
        f"{MARKER}.png%00.txt",
        "..",
        "%2e%2e",
        f"../{CANARY_NAME}",
        f"../../{CANARY_NAME}",
    ]
    for target in targets:
        decoded = unquote(target, errors="replace")  # what the server makes of the path, once
        for method in ("GET", "DELETE"):
            response = raw(api, method, f"/api/v1/{app}/files/{target}")
            where = (method, target, response.status, response.body[:300])
            if "/" in decoded:  # no route has a longer path
                assert (response.status, response.json()["error"]["code"]) == (404, "NOT_FOUND"), where
            else:
                assert (response.status, response.json()["error"]["code"]) == (422, "VALIDATION_ERROR"), where
                (problem,) = response.json()["error"]["details"]["errors"]
                assert (problem["field"], problem["reason"]) == ("name", name_rule_reason(decoded)), where
            assert CANARY_TEXT.encode() not in response.body


@pytest.mark.parametrize("app", APPS)
def test_batch_steps_with_hostile_names_are_refused(api: httpx.Client, arena: Arena, document: str, app: str) -> None:
    """The gateway checks batch steps with the command schema (the name rule), so a hostile name refuses the whole
    batch; a well-formed name that is a symlink out of the workspace passes that rule and the host refuses it."""
    steps: dict[str, list[tuple[str, str, dict[str, object], str]]] = {
        "blender": [
            ("render.image", "output", {"resolution": [8, 8], "engine": "WORKBENCH"}, ".png"),
            ("file.export", "output", {"format": "STL"}, ".stl"),
            ("scene.save", "name", {}, ".blend"),
            ("scene.open", "name", {}, ".blend"),
            ("file.import", "name", {"format": "STL"}, ".stl"),
        ],
        "freecad": [
            ("file.export", "output", {"format": "STEP", "document": document}, ".step"),
            ("document.save", "name", {"document": document}, ".FCStd"),
            ("document.open", "name", {}, ".FCStd"),
            ("file.import", "name", {"format": "STL", "document": document}, ".stl"),
        ],
    }
    for method, field, params, ext in steps[app]:
        for name in hostile_names(ext, arena.canaries[app]):
            response = api.post(
                f"/api/v1/{app}/batch", json={"steps": [{"method": method, "params": {**params, field: name}}]}
            )
            if well_formed(name):
                (step,) = ok(response)["steps"]
                assert step["status"] == "error", (method, repr(name), step)
                assert step["error"]["code"] == -32602, (method, repr(name), step)
                assert "outside the workspace" in step["error"]["message"]
            else:
                refused = error(response, 422, "VALIDATION_ERROR")
                assert field_names(refused) == {f"steps[0].params.{field}"}, (method, repr(name), refused)


@pytest.mark.parametrize("app", APPS)
def test_host_file_methods_refuse_hostile_names(hosts: dict[str, RpcClient], arena: Arena, app: str) -> None:
    """Straight to the host server (as a gateway bypass would): file.read, file.write and file.delete."""
    client = hosts[app]
    payload = base64.b64encode(b"written by the security suite").decode()
    for name in hostile_names(".png", arena.canaries[app]):
        for method, params in (
            ("file.read", {"name": name}),
            ("file.write", {"name": name, "data": payload, "offset": 0, "final": True}),
            ("file.delete", {"name": name}),
        ):
            with pytest.raises(RpcError) as refused:
                client.call(method, params)
            # Refused for the name itself (never "not found", which would mean the host looked the file up).
            where = (method, repr(name), refused.value)
            assert refused.value.code == INVALID_PARAMS, where
            assert refused.value.data["reason"] == (name_rule_reason(name) or OUTSIDE), where
            SEEN.append(json.dumps(refused.value.data or {}).encode())
    # The symlink specifically: resolved, found outside, refused (not "not found").
    with pytest.raises(RpcError) as refused:
        client.call("file.read", {"name": "link-out.png"})
    assert refused.value.code == -32602 and "outside the workspace" in str(refused.value)


def test_unusual_but_valid_names_round_trip(api: httpx.Client, backends: dict[str, Backend]) -> None:
    """Strict names must not break legitimate ones: spaces, '#', '?', non-Latin text reach their file and back."""
    name = f"模型 #1? {MARKER}.stl"
    result = ok(api.post(f"{B}/export", json={"format": "STL", "filepath": name}))
    assert result["name"] == name and (backends["blender"].workspace / name).is_file()
    assert result["url"] == f"{B}/files/{quote(name, safe='')}"
    response = api.get(result["url"])
    assert response.status_code == 200 and response.content == (backends["blender"].workspace / name).read_bytes()
    assert f"filename*=UTF-8''{quote(name, safe='')}" in response.headers["content-disposition"]
    assert ok(api.delete(result["url"]))["deleted"] is True


def _gltf(uri: str) -> bytes:
    points = struct.pack("<9f", 0, 0, 0, 1, 0, 0, 0, 1, 0)
    return json.dumps(
        {
            "asset": {"version": "2.0"},
            "scene": 0,
            "scenes": [{"nodes": [0]}],
            "nodes": [{"mesh": 0, "name": f"Ref{MARKER}"}],
            "meshes": [{"primitives": [{"attributes": {"POSITION": 0}}]}],
            "buffers": [{"uri": uri.replace("DATA", base64.b64encode(points).decode()), "byteLength": 36}],
            "bufferViews": [{"buffer": 0, "byteLength": 36}],
            "accessors": [
                {"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3", "min": [0, 0, 0], "max": [1, 1, 0]}
            ],
        }
    ).encode()


def _glb(uri: str) -> bytes:
    document = json.dumps({"asset": {"version": "2.0"}, "buffers": [{"uri": uri, "byteLength": 36}]}).encode()
    document += b" " * (-len(document) % 4)
    chunk = struct.pack("<II", len(document), 0x4E4F534A) + document
    return b"glTF" + struct.pack("<II", 2, 12 + len(chunk)) + chunk


def test_gltf_that_references_files_outside_is_refused(
    api: httpx.Client, arena: Arena, hosts: dict[str, RpcClient], backends: dict[str, Backend]
) -> None:
    """Blender follows a glTF buffer URI anywhere: an upload must not turn an outside file into vertices."""
    canary = arena.canaries["blender"]
    canary_bytes = canary.read_bytes()
    outside = [
        str(canary),
        f"../{CANARY_NAME}",
        f"..%2F{CANARY_NAME}",
        f"file://{canary}",
        f"file:{canary}",
        "/etc/passwd",
        "%2Fetc%2Fpasswd",
    ]
    for uri in outside:
        name = f"ref-{MARKER}.gltf"
        error(upload(api, f"{B}/import", name, _gltf(uri)), 422, "INVALID_UPLOAD")
        assert not (backends["blender"].workspace / name).exists(), "the refused upload must not reach the workspace"
        error(upload(api, f"{B}/import", f"ref-{MARKER}.glb", _glb(uri)), 422, "INVALID_UPLOAD")
    with pytest.raises(NotFound):
        hosts["blender"].call("object.get", {"name": f"Ref{MARKER}"})
    # An embedded (data:) buffer is fine.
    imported = ok(upload(api, f"{B}/import", f"ref-{MARKER}.gltf", _gltf("data:application/octet-stream;base64,DATA")))
    assert imported["objects"] == [f"Ref{MARKER}"]
    assert canary.read_bytes() == canary_bytes


def test_zz_nothing_was_written_or_read_outside_the_workspaces(
    api: httpx.Client, arena: Arena, backends: dict[str, Backend], gateway: Gateway
) -> None:
    """Runs last: the canaries are intact and never came back; the scans find nothing new outside."""
    for route in ROUTES:
        if route.label == "download":
            name = f"safe-{MARKER}{'.png' if route.app == 'blender' else '.step'}"
            assert raw(api, "DELETE", f"/api/v1/{route.app}/files/{name}").status == 200
    for app, canary in arena.canaries.items():
        assert canary.read_text() == CANARY_TEXT, app
        for ext in SYMLINK_EXTENSIONS:
            assert (backends[app].workspace / f"link-out{ext}").is_symlink(), (app, ext)
    leaked = [body for body in SEEN if CANARY_TEXT.encode() in body or base64.b64encode(CANARY_TEXT.encode()) in body]
    assert leaked == [], "the canary's content came back in a response"
    assert len(SEEN) > 500

    assert gateway.state_dir is not None  # the gateway's own records and session snapshots: written by it, on purpose
    after = snapshot(arena.basetemp, [*arena.workspaces, gateway.state_dir])
    new_or_changed = sorted(path for path, state in after.items() if arena.before.get(path) != state)
    assert new_or_changed == [], f"written outside the workspaces: {new_or_changed}"
    stray = names_containing(arena.basetemp, MARKER, recursive=True)
    stray = [path for path in stray if not any(path.startswith(str(ws) + os.sep) for ws in arena.workspaces)]
    assert sorted(stray) == sorted(str(canary) for canary in arena.canaries.values()), stray
    for folder in (Path(tempfile.gettempdir()), Path.cwd(), Path.cwd().parent, Path("/")):
        assert names_containing(folder, MARKER, recursive=False) == [], folder


def test_braces_are_not_in_a_file_name_since_blender_5_reads_them_as_a_template() -> None:
    # An output path with {...} fails inside Blender 5 ("Invalid or incomplete template expression"): refused up front.
    assert name_rule_reason("shot-{frame}.png") is not None and name_rule_reason("a}.obj") is not None
    assert name_rule_reason("shot-[1] (v2) #3.png") is None
    assert re.fullmatch(FILE_NAME_PATTERN, "shot-[1] (v2) #3.png") and not re.fullmatch(FILE_NAME_PATTERN, "{a}.png")
