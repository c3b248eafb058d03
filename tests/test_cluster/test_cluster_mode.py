"""Cluster mode against a real Ray cluster (head, a Blender node, a FreeCAD node): sessions and every job kind run
on the node that offers their application, files move only over the gateway's RPC, events and health work as on
one machine, a cancel ends a render on its node, and `bridge3d cluster` checks nodes and shows workers."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from envelope import ok
from gateway import Gateway, start_gateway
from meshes import load_mesh
from polling import wait_job, wait_until
from wsclient import open_socket, receive_until, send

from .conftest import PATIENCE, bridge3d, cluster_status, in_session, new_session, node_id, worker_of
from .raycluster import LocalRayCluster

BLENDER = "/api/v1/blender"
FREECAD = "/api/v1/freecad"
JOBS = "/api/v1/jobs"
LONG_RENDER = {"engine": "CYCLES", "resolution": [1920, 1080], "samples": 1024}


def operator_env(cluster: LocalRayCluster) -> dict[str, str]:
    """An operator's shell on the head: the token settings, and nothing of the test runner's Ray settings."""
    base = {key: value for key, value in os.environ.items() if not key.startswith(("RAY_", "BRIDGE3D_RAY_"))}
    return base | cluster.driver_env()


def succeeded(api: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    job = wait_job(api, ok(api.post(JOBS, json=body), 202)["id"])
    assert job["state"] == "succeeded", job
    return job


def download(api: httpx.Client, job: dict[str, Any]) -> bytes:
    response = api.get(job["outputs"][0]["url"])
    assert response.status_code == 200
    return response.content


@pytest.fixture(scope="module")
def blender_session(api: httpx.Client) -> dict[str, Any]:
    """A Blender session with a red cube, a camera and a light."""
    session = new_session(api, "blender")
    headers = in_session(session["id"])
    ok(api.post(f"{BLENDER}/primitives/cube", json={"name": "RedCube", "size": 2}, headers=headers), 201)
    ok(api.post(f"{BLENDER}/materials", json={"name": "Red", "color": [1, 0, 0, 1]}, headers=headers), 201)
    ok(api.post(f"{BLENDER}/materials/apply", json={"object": "RedCube", "material": "Red"}, headers=headers))
    ok(api.post(f"{BLENDER}/camera", json={"location": [6, -6, 4], "look_at": [0, 0, 0]}, headers=headers), 201)
    ok(api.post(f"{BLENDER}/light", json={"type": "SUN", "energy": 4}, headers=headers), 201)
    return session


@pytest.fixture(scope="module")
def step_session(api: httpx.Client) -> dict[str, Any]:
    """A FreeCAD session whose workspace (on the FreeCAD node) holds part.step, a 10 x 20 x 30 mm box."""
    session = new_session(api, "freecad")
    headers = in_session(session["id"])
    box = {"name": "Part", "length": 10, "width": 20, "height": 30}
    ok(api.post(f"{FREECAD}/primitives/box", json=box, headers=headers), 201)
    exported = ok(api.post(f"{FREECAD}/export", json={"format": "STEP", "filepath": "part"}, headers=headers))
    assert exported["name"] == "part.step"
    return session


def test_sessions_run_on_the_node_that_offers_their_application(
    cluster: LocalRayCluster, api: httpx.Client, blender_session: dict[str, Any], step_session: dict[str, Any]
) -> None:
    blender_node, freecad_node = cluster.nodes["blender"], cluster.nodes["freecad"]
    assert blender_session["worker"]["placement"]["node_id"] == node_id(blender_node)
    assert step_session["worker"]["placement"]["node_id"] == node_id(freecad_node)
    # Each session's workspace is a folder of its own node: the STEP file is there, and nowhere else.
    assert list((freecad_node.folder / "workspaces" / "freecad").glob("*/part.step"))
    assert not list(blender_node.folder.glob("workspaces/*/*/part.step"))
    # Files go both ways through the gateway (file.write / file.read on the node).
    headers = in_session(blender_session["id"])
    payload = os.urandom(300_000)
    ok(api.post(f"{BLENDER}/files", files={"file": ("noise.bin", payload)}, headers=headers), 201)
    assert api.get(f"{BLENDER}/files/noise.bin", headers=headers).content == payload
    ok(api.delete(f"{BLENDER}/files/noise.bin", headers=headers))
    assert ok(api.get(f"{BLENDER}/objects", headers=headers))["total"] == 3


def test_session_events_and_health_work_as_on_one_machine(
    gateway: Gateway, api: httpx.Client, blender_session: dict[str, Any]
) -> None:
    session = blender_session["id"]
    with open_socket(gateway.url, "blender", session) as socket:
        send(socket, {"type": "subscribe", "id": "s", "topics": ["object.*"]})
        receive_until(socket, lambda m: m.get("id") == "s")
        ok(api.post(f"{BLENDER}/primitives/sphere", json={"name": "Ball"}, headers=in_session(session)), 201)
        event = receive_until(socket, lambda m: m.get("type") == "event", timeout=PATIENCE)
        assert event["topic"] == "object.created" and event["data"]["name"] == "Ball"
    ok(api.delete(f"{BLENDER}/objects/Ball", headers=in_session(session)))
    worker = worker_of(api, "blender", session)
    assert worker is not None and worker["reachable"] is True and worker["placement"]["actor"].startswith("bridge3d-")
    metrics = api.get("/metrics").text
    assert 'bridge3d_sessions{app="blender"} 1.0' in metrics


def test_every_job_kind_runs_on_the_node_of_its_application(
    cluster: LocalRayCluster, api: httpx.Client, blender_session: dict[str, Any], step_session: dict[str, Any]
) -> None:
    params = {"engine": "workbench", "resolution": [96, 72], "output": "shot"}
    render = succeeded(api, {"kind": "render", "session": blender_session["id"], "params": params})
    assert Image.open(io.BytesIO(download(api, render))).size == (96, 72)

    # STEP to GLB: the FreeCAD stage on the FreeCAD node, the Blender stage on the Blender node; the intermediate
    # file passes through the gateway.
    convert = {"kind": "convert", "session": step_session["id"], "file": "part.step", "format": "GLB"}
    converted = succeeded(api, convert)
    assert converted["result"]["stages"] == ["freecad", "blender"]
    mesh = load_mesh(download(api, converted), "glb")
    mesh.merge_vertices()
    assert abs(mesh.volume) == pytest.approx(10 * 20 * 30, rel=0.01)

    steps = [
        {"method": "primitive.create", "params": {"type": "box", "name": "Block", "length": 4}},
        {"method": "file.export", "params": {"format": "STL", "output": "block"}},
    ]
    batch = succeeded(api, {"kind": "batch", "app": "freecad", "steps": steps})
    assert [f["name"] for f in batch["outputs"]] == ["block.stl"]

    # Where every worker ran: each application's only on the node that offers it.
    for app, node in (("blender", cluster.nodes["blender"]), ("freecad", cluster.nodes["freecad"])):
        started = node.started_workers()
        assert {entry["app"] for entry in started} == {app}
        assert any(entry["role"] == "job" for entry in started), f"no {app} job worker ran on its node"


def test_cancel_ends_a_render_on_its_node(
    cluster: LocalRayCluster, api: httpx.Client, blender_session: dict[str, Any]
) -> None:
    job = ok(api.post(JOBS, json={"kind": "render", "session": blender_session["id"], "params": LONG_RENDER}), 202)
    wait_until(
        lambda: (j := ok(api.get(f"{JOBS}/{job['id']}")))["state"] == "running" and j["progress"] > 0,
        "the render to report its first samples",
    )
    worker = worker_of(api, "blender", job["id"])
    assert worker is not None and worker["running"] == "render.image"
    actor = worker["placement"]["actor"]
    cancelled = ok(api.delete(f"{JOBS}/{job['id']}"))
    assert cancelled["state"] == "cancelled"

    def on_its_node(event: str) -> dict[str, Any] | None:
        journal = cluster.nodes["blender"].journal()
        return next((e for e in journal if e["actor"] == actor and e["event"] == event), None)

    exited = wait_until(lambda: on_its_node("exited"), "the render's host server to end on its node", 30)
    assert exited["exit_code"] == -9 and exited["asked"] is True  # killed inside Cycles, as asked
    # Its actor deleted the workspace, then waits (parked) for the next Blender worker, or has gone.
    wait_until(lambda: on_its_node("parked") or on_its_node("released"), "its actor to be done with it", 30)
    assert not (cluster.nodes["blender"].folder / "workspaces" / "blender" / exited["workspace"]).exists()


def test_cluster_cli_checks_the_nodes_and_shows_the_workers(
    cluster: LocalRayCluster, gateway: Gateway, api: httpx.Client, step_session: dict[str, Any]
) -> None:
    env = operator_env(cluster)
    checked = bridge3d("cluster", "check", "--address", cluster.address, env=env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "blender: offers 3, ok" in checked.stdout and "freecad: offers 3, ok" in checked.stdout

    state_dir = Path(gateway.log_path).parent / f"state-{gateway.url.rsplit(':', 1)[1]}"
    state = cluster_status(cluster, env, "--state-dir", str(state_dir))
    offers = {node["node_id"]: node["offers"] for node in state["nodes"] if node["alive"]}
    assert offers[node_id(cluster.nodes["freecad"])]["freecad"] == 3
    session_worker = next(w for w in state["workers"] if w["owner"] == step_session["id"])
    assert session_worker["app"] == "freecad" and session_worker["role"] == "session"
    assert session_worker["node_id"] == node_id(cluster.nodes["freecad"])


def test_a_gateway_with_another_token_is_refused_by_the_cluster(
    cluster: LocalRayCluster, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("intruder")
    wrong = folder / "token"
    wrong.write_text("not-the-cluster-token")
    wrong.chmod(0o600)
    env = cluster.driver_env() | {"RAY_AUTH_TOKEN_PATH": str(wrong)}
    with pytest.raises(RuntimeError) as refused:
        start_gateway(folder, extra_env=env)
    assert "refused this gateway's token" in str(refused.value) and "RAY_AUTH_TOKEN_PATH" in str(refused.value)
