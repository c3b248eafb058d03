"""A node that dies: its job runs again on the node that remains (another node offering Blender joins before the
first one dies), its session gets a new worker there and says its files are gone, its host servers die with it,
and an application no node offers any more is refused with a reason that names the missing resource."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from envelope import error, ok
from polling import wait_job, wait_until

from .conftest import SLOTS, in_session, new_session, node_id, worker_of
from .raycluster import LocalRayCluster

BLENDER = "/api/v1/blender"
# A batch step that holds its worker for as long as it runs on the first Blender node, and says where it ran.
FIRST_NODE_ONLY = (
    "import os, time\n"
    "here = os.environ.get('BRIDGE3D_NODE_DIR', '')\n"
    "while here.endswith('node-blender'):\n"
    "    time.sleep(0.1)\n"
    "result = here"
)


def test_a_lost_nodes_job_runs_again_on_another_node_and_its_session_gets_a_new_worker(
    cluster: LocalRayCluster, api: httpx.Client
) -> None:
    first = cluster.nodes["blender"]
    session = new_session(api, "blender")["id"]
    headers = in_session(session)
    ok(api.post(f"{BLENDER}/files", files={"file": ("note.txt", b"kept on the first node")}, headers=headers), 201)
    steps = [{"method": "code.execute", "params": {"code": FIRST_NODE_ONLY}}]
    job = ok(api.post("/api/v1/jobs", json={"kind": "batch", "app": "blender", "steps": steps}), 202)
    wait_until(
        lambda: (w := worker_of(api, "blender", job["id"])) is not None and w["running"] == "batch.run",
        "the job to run on the first Blender node",
    )
    second = cluster.add_node("blender2", blender=SLOTS)
    hosts = [entry["pid"] for entry in first.started_workers()]

    first.kill()

    done = wait_job(api, job["id"])
    assert done["state"] == "succeeded" and done["attempts"] == 2, done
    assert done["result"]["steps"][0]["result"]["result"] == str(second.folder)  # finished on the node that remains
    assert [entry["role"] for entry in second.started_workers()].count("job") == 1

    restarted: dict[str, Any] = wait_until(
        lambda: (s := ok(api.get(f"{BLENDER}/sessions/{session}")))["restarts"] == 1 and s["state"] == "ready" and s,
        "the session's new worker",
    )
    placement = restarted["worker"]["placement"]
    assert placement["node_id"] == node_id(second)
    assert "left the cluster" in placement["notice"] and "empty workspace" in placement["notice"]
    assert ok(api.get(f"{BLENDER}/files", headers=headers)) == []  # its files were on the lost node
    ok(api.post(f"{BLENDER}/primitives/cube", json={"name": "Again"}, headers=headers), 201)
    # The lost node's host servers went with it (each dies with its actor): none is left running.
    assert hosts and not [pid for pid in hosts if running(pid)]


def running(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie no one has reaped yet has ended)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def test_an_application_no_node_offers_any_more_is_refused_with_the_reason(
    cluster: LocalRayCluster, api: httpx.Client
) -> None:
    held = new_session(api, "freecad")["id"]
    cluster.nodes["freecad"].kill()
    wait_until(
        lambda: ok(api.get(f"/api/v1/freecad/sessions/{held}"))["state"] != "ready", "the node's loss to be noticed"
    )
    refused = error(api.post("/api/v1/freecad/sessions"), 503)
    assert "offers the resource 'freecad'" in refused["message"]
    assert "BRIDGE3D_RAY_ADDRESS" in refused["message"]
