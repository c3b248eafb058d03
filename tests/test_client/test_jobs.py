"""Jobs through the SDK against a gateway with worker pools: every kind runs and its outputs download and are read
back (a PNG decodes to the red cube, an STL has the box's volume), ``wait`` reports progress and ends in time,
``cancel`` stops a Cycles render, and failures raise the SDK's exceptions (a failed batch as JobFailedError with
its report, SESSION_NOT_FOUND, JOB_NOT_FOUND, TOO_MANY_JOBS); sync and async."""

from __future__ import annotations

import asyncio
import io
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import trimesh
from PIL import Image

from backends import Backend
from bridge3d.client import (
    AsyncClient,
    AsyncJob,
    Client,
    ConflictError,
    InvalidRequestError,
    Job,
    JobFailedError,
    LimitExceededError,
    NotFoundError,
    WaitTimeoutError,
    models,
)
from gateway import Gateway, start_gateway

from ._util import Calls
from .conftest import PATIENCE
from .test_operations import operations

SLEEPER: list[models.FreeCADStep] = [{"method": "code.execute", "params": {"code": "import time\ntime.sleep(600)"}}]
BOX_STL: list[models.FreeCADStep] = [
    {"method": "document.create", "params": {"name": "Boxes"}},
    {"method": "primitive.create", "params": {"type": "box", "name": "Box", "length": 10, "width": 20, "height": 30}},
    {"method": "file.export", "params": {"format": "STL", "output": "box"}},
]


def mesh_of(path: Path) -> trimesh.Trimesh:
    loaded = trimesh.load_mesh(path)
    assert isinstance(loaded, trimesh.Trimesh)
    return loaded


@pytest.fixture(scope="module")
def red_cube(pooled_gateway: Gateway) -> Iterator[str]:
    """A Blender session (its id) holding a red cube in front of a camera, with a sun."""
    with Client(pooled_gateway.url, timeout=PATIENCE) as client, client.blender.session(label="sdk-red-cube") as scene:
        scene.scene.clear()
        scene.cube(name="RedCube", size=2)
        scene.materials.create(name="Red", color=(1, 0, 0, 1))
        scene.materials.apply(object="RedCube", material="Red")
        scene.camera(location=(6, -6, 4), look_at=(0, 0, 0))
        scene.light(type="SUN", energy=4)
        yield scene.id


@pytest.fixture(scope="module")
def step_part(pooled_gateway: Gateway) -> Iterator[str]:
    """A FreeCAD session (its id) whose workspace holds part.step: a 10 x 20 x 30 mm box."""
    with Client(pooled_gateway.url, timeout=PATIENCE) as client, client.freecad.session(label="sdk-step") as cad:
        box = cad.box(name="Part", length=10, width=20, height=30)
        assert cad.export(format="STEP", objects=[box.object_id], filepath="part").name == "part.step"
        yield cad.id


def test_every_job_method_sync_and_async(pooled_sdk: Calls, tmp_path: Path) -> None:
    jobs = pooled_sdk.jobs
    batch = jobs.batch("freecad", BOX_STL)
    assert isinstance(batch, Job | AsyncJob) and batch.kind == "batch" and batch.app == "freecad"
    assert batch.state in ("queued", "running") and batch.id.startswith("job_")
    reports: list[str] = []
    done = pooled_sdk.wrap(batch, "job").wait(timeout=PATIENCE, on_progress=lambda job: reports.append(job.state))
    assert done is batch and batch.state == "succeeded" and batch.progress == 1.0 and reports[-1] == "succeeded"
    assert [output.name for output in batch.outputs] == ["box.stl"]
    stl = jobs.files.download(batch.id, "box.stl", tmp_path)
    assert stl == tmp_path / "box.stl" and jobs.files.read(batch.id, "box.stl") == stl.read_bytes()
    assert mesh_of(stl).volume == pytest.approx(6000, rel=1e-6)

    assert jobs.get(batch.id).state == "succeeded"
    assert batch.id in {job.id for job in jobs.list(state="succeeded")}
    assert batch.id not in {job.id for job in jobs.list(state="failed")}

    # The default sessions: a render of Blender's scene, a conversion of a file of FreeCAD's workspace.
    render = jobs.render(resolution=(16, 12), output="sdk-job-render")
    pooled_sdk.wrap(render, "job").wait(timeout=PATIENCE)
    assert render.request["params"]["resolution"] == [16, 12] and render.result["width"] == 16
    png = jobs.files.read(render.id, "sdk-job-render.png")
    assert Image.open(io.BytesIO(png)).size == (16, 12)

    document = pooled_sdk.freecad.documents.create(name="SdkConvertSource").name
    try:
        box = pooled_sdk.freecad.box(length=5, width=5, height=5, document=document).object_id
        source = pooled_sdk.freecad.export(format="STEP", objects=[box], filepath="sdk-cube", document=document)
    finally:
        pooled_sdk.freecad.documents.close(document)
    converted = jobs.convert(file=source.name, format="STL")
    pooled_sdk.wrap(converted, "job").wait(timeout=PATIENCE)
    pooled_sdk.freecad.files.delete(source.name)
    assert converted.result["stages"] == ["freecad"] and [o.name for o in converted.outputs] == ["sdk-cube.stl"]
    assert mesh_of(jobs.files.download(converted.id, "sdk-cube.stl", tmp_path)).volume == pytest.approx(125)

    sleeper = jobs.batch("freecad", SLEEPER)
    cancelled = jobs.cancel(sleeper.id)
    assert cancelled.id == sleeper.id and cancelled.state == "cancelled"
    assert pooled_sdk._called >= operations("jobs.", pooled=True), sorted(operations("jobs.", pooled=True))


def test_a_render_job_renders_a_snapshot_of_the_session(pooled: Client, red_cube: str, tmp_path: Path) -> None:
    job = pooled.jobs.render(session=red_cube, engine="WORKBENCH", resolution=(96, 72), output="sdk-shot")
    assert job.request["session"] == red_cube and job.request["params"]["engine"] == "WORKBENCH"
    seen: list[tuple[str, float]] = []
    job.wait(timeout=PATIENCE, on_progress=lambda current: seen.append((current.state, current.progress)))
    assert seen[0][0] in ("queued", "running") and seen[-1] == ("succeeded", 1.0)
    assert job.error is None and job.attempts == 1 and job.finished is not None and job.done
    (shot,) = job.outputs
    written = shot.download(tmp_path)
    assert written == tmp_path / "sdk-shot.png" and written.stat().st_size == shot.size
    image = Image.open(written).convert("RGB")
    assert image.size == (96, 72)
    middle = np.asarray(image).astype(int)[24:48, 32:64].reshape(-1, 3)
    red = (middle[:, 0] > 120) & (middle[:, 0] > 2 * middle[:, 1]) & (middle[:, 0] > 2 * middle[:, 2])
    assert red.mean() > 0.5, "the red cube fills the middle of the frame"
    session = pooled.blender.with_session(red_cube)
    assert session.files.list() == [] and session.scene.info().object_count == 3  # a snapshot: nothing changed


def test_a_convert_job_turns_step_into_stl_with_the_boxs_volume(pooled: Client, step_part: str, tmp_path: Path) -> None:
    job = pooled.jobs.convert(file="part.step", format="STL", session=step_part).wait(timeout=PATIENCE)
    assert job.app == "freecad" and job.result["stages"] == ["freecad"]
    written = job.outputs[0].download(tmp_path / "converted.stl")
    mesh = mesh_of(written)
    assert mesh.is_watertight and mesh.volume == pytest.approx(6000, rel=0.01)
    assert sorted(np.round(mesh.extents, 3)) == [10, 20, 30]


def test_batch_jobs_that_succeed_and_fail(pooled: Client, red_cube: str, tmp_path: Path) -> None:
    scaled = pooled.jobs.batch(
        "blender",
        [
            {"method": "object.transform", "params": {"name": "RedCube", "scale": [2, 2, 2]}},
            {"method": "file.export", "params": {"format": "STL", "output": "red", "objects": ["RedCube"]}},
        ],
        session=red_cube,
    ).wait(timeout=PATIENCE)
    assert mesh_of(scaled.outputs[0].download(tmp_path)).volume == pytest.approx(64, rel=1e-6)
    assert pooled.blender.with_session(red_cube).objects.get("RedCube").scale == [1, 1, 1]

    failing = pooled.jobs.batch(
        "blender",
        [
            {"method": "primitive.create", "params": {"type": "cube", "name": "First"}},
            {"method": "object.delete", "params": {"name": "NoSuchObject"}},
            {"method": "primitive.create", "params": {"type": "cube", "name": "Never"}},
        ],
    )
    with pytest.raises(JobFailedError) as caught:
        failing.wait(timeout=PATIENCE)
    error = caught.value
    assert error.job is failing and failing.state == "failed" and error.code == "BATCH_STEP_FAILED"
    assert error.status_code is None and failing.error is not None and error.message in str(error)
    assert [step["status"] for step in failing.result["steps"]] == ["success", "error", "skipped"]
    # check=False: the job back, whatever its end.
    assert pooled.jobs.get(failing.id).wait(timeout=PATIENCE, check=False).state == "failed"


def test_wait_times_out_and_cancel_stops_a_running_render(pooled: Client, red_cube: str) -> None:
    job = pooled.jobs.render(session=red_cube, engine="CYCLES", resolution=(1920, 1080), samples=1024)  # minutes
    with pytest.raises(WaitTimeoutError) as timed_out:
        job.wait(timeout=1)
    assert isinstance(timed_out.value, TimeoutError) and timed_out.value.job is job
    assert job.state in ("queued", "running") and timed_out.value.code == "WAIT_TIMEOUT"

    seen: list[tuple[str, float, str]] = []

    def cancel_once_it_renders(current: Job) -> None:
        seen.append((current.state, current.progress, current.message))
        if current.state == "running" and 0 < current.progress < 1:
            current.cancel()

    with pytest.raises(JobFailedError) as stopped:
        job.wait(timeout=PATIENCE, on_progress=cancel_once_it_renders, poll_interval=0.25)
    assert stopped.value.code == "CANCELLED" and job.state == "cancelled" and job.outputs == []
    rendering = [(progress, message) for state, progress, message in seen if state == "running" and progress > 0]
    assert rendering and "Sample" in rendering[0][1], seen
    with pytest.raises(ConflictError) as again:
        job.cancel()  # it already finished
    assert again.value.code == "CONFLICT" and again.value.status_code == 409


def test_job_failures_are_the_sdks_exceptions(pooled: Client) -> None:
    with pytest.raises(NotFoundError) as no_job:
        pooled.jobs.get("job_0123456789abcdef")
    assert no_job.value.code == "JOB_NOT_FOUND"
    with pytest.raises(NotFoundError) as no_session:
        pooled.jobs.render(session="ses_0123456789abcdef")
    assert no_session.value.code == "SESSION_NOT_FOUND" and no_session.value.details["session"].endswith("cdef")
    with pytest.raises(InvalidRequestError) as impossible:
        pooled.jobs.convert(file="scan.stl", format="STEP")
    assert impossible.value.errors[0]["field"] == "format" and "cannot become STEP" in impossible.value.message

    held = [pooled.jobs.batch("freecad", SLEEPER) for _ in range(4)]  # the gateway allows 4 unfinished jobs
    try:
        with pytest.raises(LimitExceededError) as too_many:
            pooled.jobs.batch("freecad", SLEEPER)
        assert too_many.value.code == "TOO_MANY_JOBS" and too_many.value.status_code == 429
        assert too_many.value.setting == "BRIDGE3D_MAX_JOBS_PER_KEY"
    finally:
        for job in held:
            job.cancel()
    assert {job.state for job in held} == {"cancelled"}


def test_async_jobs(pooled_gateway: Gateway, tmp_path: Path) -> None:
    async def scenario() -> tuple[list[float], Path, AsyncJob, JobFailedError, WaitTimeoutError]:
        async with AsyncClient(pooled_gateway.url, timeout=PATIENCE) as sdk:
            job = await sdk.jobs.batch("freecad", BOX_STL)
            progress: list[float] = []

            async def report(current: AsyncJob) -> None:  # a coroutine function: awaited
                progress.append(current.progress)

            await job.wait(timeout=PATIENCE, on_progress=report)
            written = await job.outputs[0].adownload(tmp_path)
            assert (await job.refresh()).state == "succeeded"

            failing = await sdk.jobs.batch("freecad", [{"method": "object.delete", "params": {"name": "Ghost"}}])
            with pytest.raises(JobFailedError) as failed:
                await failing.wait(timeout=PATIENCE)
            sleeper = await sdk.jobs.batch("freecad", SLEEPER)
            with pytest.raises(WaitTimeoutError) as timed_out:
                await sleeper.wait(timeout=0.5)
            await sleeper.cancel()
            return progress, written, sleeper, failed.value, timed_out.value

    progress, written, sleeper, failed, timed_out = asyncio.run(scenario())
    assert progress[-1] == 1.0 and mesh_of(written).volume == pytest.approx(6000, rel=1e-6)
    assert failed.code == "BATCH_STEP_FAILED" and isinstance(failed.job, AsyncJob) and failed.job.state == "failed"
    assert timed_out.job is sleeper and sleeper.state == "cancelled"


def test_wait_rides_out_a_gateway_restart(
    tmp_path_factory: pytest.TempPathFactory, blender_backend: Backend, freecad_backend: Backend, tmp_path: Path
) -> None:
    """Jobs outlive a gateway restart, and so does a wait: its polls fail to connect while the gateway is down, and
    it goes on once the gateway is back (the job runs again from the start there)."""
    folder = tmp_path_factory.mktemp("sdk-restart")
    gateway = start_gateway(folder, blender_backend, freecad_backend)
    port = int(gateway.url.rsplit(":", 1)[1])
    restarted: list[Gateway] = []
    try:
        with Client(gateway.url, timeout=PATIENCE) as client:
            steps: list[models.FreeCADStep] = [
                {"method": "code.execute", "params": {"code": "import time\ntime.sleep(1)"}},
                *BOX_STL,
            ]
            job = client.jobs.batch("freecad", steps)
            gateway.process.send_signal(signal.SIGKILL)
            gateway.process.wait()
            back = threading.Thread(
                target=lambda: restarted.append(start_gateway(folder, blender_backend, freecad_backend, port=port))
            )
            back.start()
            try:
                job.wait(timeout=PATIENCE)
            finally:
                back.join()
            assert job.state == "succeeded" and [output.name for output in job.outputs] == ["box.stl"]
            assert mesh_of(job.outputs[0].download(tmp_path)).volume == pytest.approx(6000, rel=1e-6)
    finally:
        for server in (gateway, *restarted):
            server.stop()
