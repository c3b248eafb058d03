"""BRIDGE3D_ALLOW_EXECUTE=false: every REST path that would run code answers 403, and nothing runs.

(The WebSocket execute message has its own test in tests/test_api/test_websocket.py.)
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from backends import Backend
from bridge3d.rpc import RpcClient, RpcError
from envelope import error, field_names, ok
from gateway import Gateway, start_gateway

from ._util import APPS, upload


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory, blender_backend: Backend, freecad_backend: Backend
) -> Iterator[Gateway]:
    server = start_gateway(
        tmp_path_factory.mktemp("noexec"),
        blender_backend,
        freecad_backend,
        extra_env={"BRIDGE3D_ALLOW_EXECUTE": "false"},
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def api(gateway: Gateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=120) as client:
        yield client


def writes(marker: Path) -> str:
    return f"open({str(marker)!r}, 'w').write('ran')\nresult = 'ran'"


def disabled(response: httpx.Response) -> dict[str, Any]:
    found = error(response, 403, "EXECUTION_DISABLED")
    assert "BRIDGE3D_ALLOW_EXECUTE" in found["message"], found
    return found


@pytest.mark.parametrize("app", APPS)
def test_execute_route_is_403(api: httpx.Client, tmp_path: Path, app: str) -> None:
    marker = tmp_path / "ran"
    for body in ({"code": writes(marker)}, {"code": writes(marker), "timeout": 5}, {}, {"code": ""}):
        disabled(api.post(f"/api/v1/{app}/execute", json=body))
    assert not marker.exists()


@pytest.mark.parametrize("app", APPS)
def test_code_steps_in_a_batch_are_403_and_nothing_runs(
    api: httpx.Client, hosts: dict[str, RpcClient], tmp_path: Path, app: str
) -> None:
    marker = tmp_path / "ran"
    name = f"BeforeCode{secrets.token_hex(3)}"
    kind = "cube" if app == "blender" else "box"
    steps = [
        {"method": "primitive.create", "params": {"type": kind, "name": name}},
        {"method": "code.execute", "params": {"code": writes(marker)}},
    ]
    found = disabled(api.post(f"/api/v1/{app}/batch", json={"steps": steps}))
    assert found["details"]["step"] == 1
    assert not marker.exists()
    with pytest.raises(RpcError) as missing:
        hosts[app].call("object.get", {"name": name})
    assert missing.value.code == -32001, "the step before the code step must not have run either"
    # Spelling the method differently does not get past: no such method, so the batch is refused and runs nothing.
    for method in ("Code.Execute", "code.execute ", "code.exec"):
        steps[1]["method"] = method
        found = error(api.post(f"/api/v1/{app}/batch", json={"steps": steps}), 422, "VALIDATION_ERROR")
        assert field_names(found) == {"steps[1].method"}, found
    assert not marker.exists()


def test_other_routes_still_work(api: httpx.Client, hosts: dict[str, RpcClient]) -> None:
    name = f"StillWorks{secrets.token_hex(3)}"
    assert ok(api.post("/api/v1/blender/primitives/cube", json={"name": name}), 201)["object_id"] == name
    assert ok(api.get(f"/api/v1/blender/objects/{name}"))["type"] == "MESH"
    report = ok(api.post("/api/v1/blender/batch", json={"steps": [{"method": "object.get", "params": {"name": name}}]}))
    assert (report["completed"], report["failed"], report["steps"][0]["status"]) == (1, False, "success")
    assert hosts["blender"].call("object.get", {"name": name})["vertices"] == 8
    hosts["blender"].call("object.delete", {"name": name})


def test_opening_a_blend_does_not_run_its_scripts(
    api: httpx.Client, hosts: dict[str, RpcClient], blender_backend: Backend, tmp_path: Path
) -> None:
    """A .blend can carry a text block registered to run on load; the host keeps Blender's auto-run off."""
    marker = tmp_path / "ran-on-load"
    name = f"autorun-{secrets.token_hex(3)}.blend"
    made = hosts["blender"].call(
        "code.execute",
        {
            "code": (
                "import os\n"
                "text = bpy.data.texts.new('autorun.py')\n"
                f"text.write({writes(marker).splitlines()[0]!r} + '\\n')\n"
                "text.use_module = True\n"
                f"bpy.ops.wm.save_as_mainfile(filepath=os.path.join(workspace, {name!r}), copy=True)\n"
                "bpy.data.texts.remove(text)\n"
                "result = bpy.context.preferences.filepaths.use_scripts_auto_execute\n"
            )
        },
    )
    assert made["result"] is False
    content = base64.b64decode(hosts["blender"].call("file.read", {"name": name, "length": 16 * 1024 * 1024})["data"])
    ok(upload(api, "/api/v1/blender/scene/open", f"up-{name}", content))
    assert not marker.exists(), "opening the uploaded .blend ran its embedded script"
    found = hosts["blender"].call(
        "code.execute", {"code": "result = [bpy.app.autoexec_fail, bpy.app.autoexec_fail_message]"}
    )
    assert found["result"][0] is True and "autorun.py" in found["result"][1]
