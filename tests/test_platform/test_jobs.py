"""Jobs against the real applications: every kind with its output read back, cancel inside C code, a killed job
worker, a gateway restart in the middle of a queue, limits, events and interactive calls during renders."""

from __future__ import annotations

import io
import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from backends import Backend
from envelope import error, ok
from gateway import Gateway, start_gateway
from meshes import load_mesh
from polling import wait_job, wait_until
from wsclient import open_socket, receive_until, send

from .conftest import PATIENCE, end_session, in_session, new_session, worker_of

BLENDER = "/api/v1/blender"
FREECAD = "/api/v1/freecad"
JOBS = "/api/v1/jobs"
LONG_RENDER = {"engine": "CYCLES", "resolution": [1920, 1080], "samples": 1024}
# One OpenCASCADE call of about 10 s on this machine: a sphere cut by 400 rods (it holds the GIL throughout).
LONG_BOOLEAN = (
    "import Part\nfrom FreeCAD import Vector\n"
    "rods = [Part.makeCylinder(0.7, 60, Vector(x * 2.0 - 19, y * 2.0 - 19, -30))\n"
    "        for x in range(20) for y in range(20)]\n"
    "result = Part.makeSphere(20).cut(Part.makeCompound(rods)).Volume"
)


def submit(api: httpx.Client, body: dict[str, Any], **headers: str) -> dict[str, Any]:
    job: dict[str, Any] = ok(api.post(JOBS, json=body, headers=headers), 202)
    assert job["state"] in ("queued", "running") and job["id"].startswith("job_")
    return job


def succeeded(api: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    job = wait_job(api, submit(api, body)["id"])
    assert job["state"] == "succeeded", job
    assert job["progress"] == 1.0 and job["error"] is None
    return job


def output(api: httpx.Client, job: dict[str, Any], index: int = 0) -> bytes:
    file = job["outputs"][index]
    response = api.get(file["url"])
    assert response.status_code == 200 and len(response.content) == file["size"]
    return response.content


@pytest.fixture(scope="module")
def red_cube_session(api: httpx.Client) -> Iterator[str]:
    """A Blender session holding a red cube in front of a camera, with a light."""
    session = new_session(api, "blender")
    headers = in_session(session)
    ok(api.delete(f"{BLENDER}/scene", headers=headers))
    ok(api.post(f"{BLENDER}/primitives/cube", json={"name": "RedCube", "size": 2}, headers=headers), 201)
    ok(api.post(f"{BLENDER}/materials", json={"name": "Red", "color": [1, 0, 0, 1]}, headers=headers), 201)
    ok(api.post(f"{BLENDER}/materials/apply", json={"object": "RedCube", "material": "Red"}, headers=headers))
    ok(api.post(f"{BLENDER}/camera", json={"location": [6, -6, 4], "look_at": [0, 0, 0]}, headers=headers), 201)
    ok(api.post(f"{BLENDER}/light", json={"type": "SUN", "energy": 4}, headers=headers), 201)
    yield session
    end_session(api, "blender", session)


@pytest.fixture(scope="module")
def step_session(api: httpx.Client) -> Iterator[str]:
    """A FreeCAD session whose workspace holds part.step: a 10 x 20 x 30 mm box."""
    session = new_session(api, "freecad")
    headers = in_session(session)
    box = {"name": "Part", "length": 10, "width": 20, "height": 30}
    ok(api.post(f"{FREECAD}/primitives/box", json=box, headers=headers), 201)
    exported = ok(api.post(f"{FREECAD}/export", json={"format": "STEP", "filepath": "part"}, headers=headers))
    assert exported["name"] == "part.step"
    yield session
    end_session(api, "freecad", session)


def test_a_render_job_renders_a_snapshot_of_the_session(api: httpx.Client, red_cube_session: str) -> None:
    params = {"engine": "workbench", "resolution": [96, 72], "output": "shot"}
    job = succeeded(api, {"kind": "render", "session": red_cube_session, "params": params})
    assert job["kind"] == "render" and job["app"] == "blender" and job["attempts"] == 1
    assert job["request"]["params"]["engine"] == "WORKBENCH"  # answered in the canonical spelling
    assert [f["name"] for f in job["outputs"]] == ["shot.png"]  # the snapshot is not an output
    image = Image.open(io.BytesIO(output(api, job))).convert("RGB")
    assert image.size == (96, 72)
    pixels = np.asarray(image).astype(int)
    middle = pixels[24:48, 32:64].reshape(-1, 3)
    red = (middle[:, 0] > 120) & (middle[:, 0] > 2 * middle[:, 1]) & (middle[:, 0] > 2 * middle[:, 2])
    assert red.mean() > 0.5, "the red cube fills the middle of the frame"
    # The session's own scene and files are as they were: the snapshot was a copy, deleted after the copy.
    assert ok(api.get(f"{BLENDER}/files", headers=in_session(red_cube_session))) == []
    assert ok(api.get(f"{BLENDER}/scene", headers=in_session(red_cube_session)))["object_count"] == 3


@pytest.mark.parametrize("target", ["stl", "GLB"])
def test_a_convert_job_turns_step_into_a_mesh_with_the_solids_volume(
    api: httpx.Client, step_session: str, target: str
) -> None:
    job = succeeded(api, {"kind": "convert", "session": step_session, "file": "part.step", "format": target})
    stages = ["freecad"] if target == "stl" else ["freecad", "blender"]  # STEP to GLB: FreeCAD, then Blender
    assert job["result"]["stages"] == stages and job["app"] == "freecad"
    assert [f["name"] for f in job["outputs"]] == [f"part.{target.lower()}"]
    loaded = load_mesh(output(api, job), target.lower())
    loaded.merge_vertices()  # glTF splits vertices along sharp edges (one normal each)
    assert loaded.is_watertight
    assert abs(loaded.volume) == pytest.approx(10 * 20 * 30, rel=0.01)
    assert sorted(np.round(loaded.extents, 3)) == [10, 20, 30]


def test_a_convert_job_refuses_what_no_application_can_write(api: httpx.Client, step_session: str) -> None:
    refused = error(
        api.post(JOBS, json={"kind": "convert", "session": step_session, "file": "scan.stl", "format": "STEP"}),
        422,
        "VALIDATION_ERROR",
    )
    assert refused["details"]["errors"][0]["field"] == "format"
    assert "STL (a mesh or scene) cannot become STEP" in refused["details"]["errors"][0]["reason"]


def test_batch_jobs_run_on_an_empty_scene_or_on_a_snapshot(api: httpx.Client, red_cube_session: str) -> None:
    steps = [
        {"method": "primitive.create", "params": {"type": "cube", "name": "Cube", "size": 4}},
        {"method": "file.export", "params": {"format": "STL", "output": "made"}},
    ]
    fresh = succeeded(api, {"kind": "batch", "app": "blender", "steps": steps})
    assert fresh["result"]["completed"] == 2 and fresh["result"]["steps"][0]["result"] == {"name": "Cube"}
    mesh = load_mesh(output(api, fresh), "stl")
    assert mesh.volume == pytest.approx(64, rel=1e-6)  # only the new cube: the scene started empty

    on_snapshot = [
        {"method": "object.transform", "params": {"name": "RedCube", "scale": [2, 2, 2]}},
        {"method": "file.export", "params": {"format": "STL", "output": "red", "objects": ["RedCube"]}},
    ]
    job = succeeded(api, {"kind": "batch", "app": "blender", "steps": on_snapshot, "session": red_cube_session})
    mesh = load_mesh(output(api, job), "stl")
    assert mesh.volume == pytest.approx(64, rel=1e-6)  # the session's 2 m cube, scaled by 2 in the job only
    kept = ok(api.get(f"{BLENDER}/objects/RedCube", headers=in_session(red_cube_session)))
    assert kept["scale"] == [1, 1, 1]


def test_a_freecad_batch_job_on_a_snapshot_of_every_document(api: httpx.Client, step_session: str) -> None:
    steps = [
        {"method": "primitive.create", "params": {"type": "cylinder", "name": "Drill", "radius": 2, "height": 40}},
        {"method": "boolean.subtract", "params": {"base": "Part", "tool": "Drill", "name": "Drilled"}},
    ]
    job = succeeded(api, {"kind": "batch", "app": "freecad", "steps": steps, "session": step_session})
    assert job["result"]["steps"][1]["result"]["name"] == "Drilled"
    assert job["outputs"] == []  # nothing was written; the documents' snapshots are not outputs
    error(api.get(f"{FREECAD}/objects/Drilled", headers=in_session(step_session)), 404)


def test_a_failing_batch_step_fails_the_job_with_every_step_reported(api: httpx.Client) -> None:
    steps = [
        {"method": "primitive.create", "params": {"type": "cube", "name": "First"}},
        {"method": "object.delete", "params": {"name": "NoSuchObject"}},
        {"method": "primitive.create", "params": {"type": "cube", "name": "Never"}},
    ]
    job = wait_job(api, submit(api, {"kind": "batch", "app": "blender", "steps": steps})["id"])
    assert job["state"] == "failed" and job["error"]["code"] == "BATCH_STEP_FAILED"
    assert [s["status"] for s in job["result"]["steps"]] == ["success", "error", "skipped"]


def test_cancel_stops_a_running_cycles_render_by_ending_its_worker(api: httpx.Client, red_cube_session: str) -> None:
    job = submit(api, {"kind": "render", "session": red_cube_session, "params": LONG_RENDER})
    running = wait_until(
        lambda: (j := ok(api.get(f"{JOBS}/{job['id']}")))["state"] == "running" and j["progress"] > 0 and j,
        "the render to report its first samples",
    )
    assert "Sample" in running["message"]
    worker = worker_of(api, "blender", job["id"])
    assert worker is not None and worker["busy"] is True and worker["running"] == "render.image"
    cancelled = ok(api.delete(f"{JOBS}/{job['id']}"))
    assert cancelled["state"] == "cancelled" and cancelled["outputs"] == []
    wait_until(lambda: _gone(worker["pid"]), "the render's worker to be gone", 30)
    error(api.delete(f"{JOBS}/{job['id']}"), 409, "CONFLICT")  # already finished


def test_cancel_stops_a_long_opencascade_boolean(api: httpx.Client) -> None:
    steps = [{"method": "code.execute", "params": {"code": LONG_BOOLEAN}}]
    job = submit(api, {"kind": "batch", "app": "freecad", "steps": steps})
    # Running, with its worker: the host cannot say it is busy once the boolean holds the GIL (rpc.describe waits),
    # so the job's state tells instead; the rods take a moment to build before the cut starts.
    worker = wait_until(
        lambda: ok(api.get(f"{JOBS}/{job['id']}"))["state"] == "running" and worker_of(api, "freecad", job["id"]),
        "the boolean's job to run",
    )
    threading.Event().wait(2)
    cancelled = ok(api.delete(f"{JOBS}/{job['id']}"))
    assert cancelled["state"] == "cancelled"
    wait_until(lambda: _gone(worker["pid"]), "the boolean's worker to be gone", 30)


def test_a_job_whose_worker_is_killed_runs_again_on_a_new_one(api: httpx.Client, red_cube_session: str) -> None:
    params = {"engine": "CYCLES", "resolution": [320, 240], "samples": 64, "output": "again"}
    job = submit(api, {"kind": "render", "session": red_cube_session, "params": params})
    worker = wait_until(
        lambda: (w := worker_of(api, "blender", job["id"])) is not None and w["running"] == "render.image" and w,
        "the render to start",
        every=0.02,
    )
    os.kill(worker["pid"], signal.SIGKILL)
    done = wait_job(api, job["id"])
    assert done["state"] == "succeeded" and done["attempts"] == 2, done
    assert Image.open(io.BytesIO(output(api, done))).size == (320, 240)


def test_interactive_calls_do_not_wait_for_render_jobs(api: httpx.Client, red_cube_session: str) -> None:
    session = new_session(api, "blender")
    try:
        renders = [
            submit(api, {"kind": "render", "session": red_cube_session, "params": {**LONG_RENDER, "samples": 64}})
            for _ in range(2)
        ]
        wait_until(lambda: ok(api.get(f"{JOBS}/{renders[0]['id']}"))["state"] == "running", "a render to run")
        for _ in range(20):
            ok(api.get(f"{BLENDER}/objects", headers=in_session(session)))
        # Every call above returned while the renders were still running: none waited for a render.
        assert ok(api.get(f"{JOBS}/{renders[0]['id']}"))["state"] == "running"
        for render in renders:
            ok(api.delete(f"{JOBS}/{render['id']}"))
    finally:
        end_session(api, "blender", session)


def test_job_events_reach_the_websocket(platform: Gateway, api: httpx.Client) -> None:
    with open_socket(platform.url, "freecad") as socket:
        send(socket, {"type": "subscribe", "id": "s", "topics": ["job.*"]})
        receive_until(socket, lambda m: m.get("id") == "s")
        steps = [{"method": "document.create", "params": {"name": "Evented"}}]
        job = submit(api, {"kind": "batch", "app": "freecad", "steps": steps})
        topics: list[str] = []
        while not topics or topics[-1] != "job.succeeded":
            event = receive_until(socket, lambda m: m.get("type") == "event", timeout=PATIENCE)
            assert event["data"]["id"] == job["id"]
            topics.append(event["topic"])
        assert topics[0] == "job.queued" and "job.started" in topics


def test_job_requests_are_checked_before_anything_is_queued(api: httpx.Client) -> None:
    def refused(body: Any, status: int = 422, code: str = "VALIDATION_ERROR") -> list[str]:
        found = error(api.post(JOBS, json=body), status, code)
        return [e["field"] for e in found["details"].get("errors", [])]

    assert refused({"kind": "sculpt"}) == ["kind"]
    assert refused([1, 2]) == ["body"]
    assert refused({"kind": "render", "params": {"resolution": [0, 10]}, "colour": 1}) == [
        "colour",
        "params.resolution[0]",
    ]
    assert refused({"kind": "render", "timeout": 10**6}) == ["timeout"]
    assert refused({"kind": "batch", "app": "blender", "steps": [{"method": "view.glb"}]}) == ["steps[0].method"]
    assert refused({"kind": "convert", "file": "../x.step", "format": "STL"}) == ["file"]
    limit = error(api.post(JOBS, json={"kind": "render", "params": {"resolution": [5000, 10]}}), 422, "LIMIT_EXCEEDED")
    assert limit["details"]["setting"] == "BRIDGE3D_MAX_RENDER_SIZE"
    missing = error(
        api.post(JOBS, json={"kind": "render", "session": "ses_0123456789abcdef"}), 404, "SESSION_NOT_FOUND"
    )
    assert missing["details"]["session"] == "ses_0123456789abcdef"
    error(api.get(f"{JOBS}/job_0123456789abcdef"), 404, "JOB_NOT_FOUND")
    assert ok(api.get(JOBS, params={"state": "queued"}))["jobs"] == []


def test_job_limits_name_their_settings(tight: Gateway) -> None:
    first, second = {"X-API-Key": "first"}, {"X-API-Key": "second"}
    with httpx.Client(base_url=tight.url, timeout=PATIENCE) as api:
        big = submit(api, {"kind": "batch", "app": "blender", "steps": [
            {"method": "primitive.create", "params": {"type": "sphere", "segments": 64, "rings": 32}},
            {"method": "file.export", "params": {"format": "STL"}},
        ]}, **first)  # fmt: skip
        failed = wait_job(_as(api, first), big["id"])
        assert failed["state"] == "failed" and failed["error"]["code"] == "LIMIT_EXCEEDED"
        assert failed["error"]["details"]["setting"] == "BRIDGE3D_MAX_JOB_OUTPUT_BYTES"

        slow = {
            "kind": "batch",
            "app": "freecad",
            "steps": [{"method": "code.execute", "params": {"code": LONG_BOOLEAN}}],
        }
        timed = wait_job(_as(api, first), submit(api, slow, **first)["id"])
        assert timed["state"] == "failed" and timed["error"]["code"] == "TIMEOUT"
        assert timed["error"]["details"]["timeout"] == 3

        held = [submit(api, slow, **first)["id"] for _ in range(2)]
        too_many = error(api.post(JOBS, json=slow, headers=first), 429, "TOO_MANY_JOBS")
        assert too_many["details"] == {"limit": 2, "setting": "BRIDGE3D_MAX_JOBS_PER_KEY"}
        wait_until(lambda: ok(api.get(f"{JOBS}/{held[0]}", headers=first))["state"] == "running", "the first to run")
        queued = [submit(api, slow, **second)["id"] for _ in range(1)]
        full = error(api.post(JOBS, json=slow, headers=second), 503, "QUEUE_FULL")
        assert full["details"] == {"limit": 2, "setting": "BRIDGE3D_MAX_QUEUED_JOBS"}
        # Jobs belong to their key: the other key does not see them.
        error(api.get(f"{JOBS}/{held[0]}", headers=second), 404, "JOB_NOT_FOUND")
        assert [j["id"] for j in ok(api.get(JOBS, headers=second))["jobs"]] == queued
        for job_id, key in [*((h, first) for h in held), *((q, second) for q in queued)]:
            api.delete(f"{JOBS}/{job_id}", headers=key)


def _as(api: httpx.Client, headers: dict[str, str]) -> httpx.Client:
    return httpx.Client(base_url=str(api.base_url), headers=headers, timeout=PATIENCE)


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_a_gateway_restart_in_the_middle_of_a_queue_loses_no_job_and_runs_none_twice(
    tmp_path_factory: pytest.TempPathFactory, blender_backend: Backend, freecad_backend: Backend
) -> None:
    folder = tmp_path_factory.mktemp("restart-jobs")
    gateway = start_gateway(folder, blender_backend, freecad_backend)
    port = int(gateway.url.rsplit(":", 1)[1])
    try:
        with httpx.Client(base_url=gateway.url, timeout=PATIENCE) as api:
            bodies = [
                {"kind": "batch", "app": "blender", "steps": [
                    {"method": "primitive.create", "params": {"type": "cube", "size": index + 1}},
                    {"method": "render.image", "params": {"engine": "CYCLES", "samples": 32, "resolution": [200, 150]}},
                    {"method": "file.export", "params": {"format": "STL", "output": f"cube{index}"}},
                ]}
                for index in range(5)
            ]  # fmt: skip
            ids = [submit(api, body)["id"] for body in bodies]
            wait_until(lambda: ok(api.get(f"{JOBS}/{ids[1]}"))["state"] == "running", "the second job to run")
            before = {job["id"]: job for job in ok(api.get(JOBS))["jobs"]}
        gateway.process.send_signal(signal.SIGKILL)
        gateway.process.wait()
        gateway = start_gateway(folder, blender_backend, freecad_backend, port=port)
        with httpx.Client(base_url=gateway.url, timeout=PATIENCE) as api:
            jobs = [wait_job(api, job_id) for job_id in ids]
            for index, job in enumerate(jobs):
                assert job["state"] == "succeeded", job
                names = sorted(f["name"] for f in job["outputs"])
                assert names == [f"cube{index}.stl", "render-0001.png"], names  # one run's files, not two
                mesh = load_mesh(output(api, job, 0), "stl")
                assert mesh.volume == pytest.approx((index + 1) ** 3, rel=1e-6)
            for job_id, earlier in before.items():
                if earlier["state"] == "succeeded":  # finished before the restart: kept as it was, not run again
                    assert ok(api.get(f"{JOBS}/{job_id}"))["finished"] == earlier["finished"]
            assert all(job["attempts"] == 1 for job in jobs if before[job["id"]]["state"] == "queued")
    finally:
        gateway.stop()
