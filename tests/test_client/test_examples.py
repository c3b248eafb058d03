"""Each script of examples/ runs against the real stack, as a user runs it (a subprocess configured by
BRIDGE3D_URL), and what it made is read back. The scripts with sessions and jobs run against the gateway with
worker pools."""

from __future__ import annotations

import os
import selectors
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import trimesh

from bridge3d.client import Client
from gateway import Gateway

from .conftest import PATIENCE

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
EXERCISED = {"freecad_part_to_blender.py", "convert_step_folder.py", "render_job.py", "watch_events.py"}
PLATE_VOLUME = 40 * 30 * 5 - 3.141592653589793 * 6**2 * 5
NAMES = {"crate.step", "ball.stp", "broken.step"}


def example(name: str, *args: str, gateway: Gateway, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        env={**os.environ, "BRIDGE3D_URL": gateway.url},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=PATIENCE,
    )


def only_the_default_sessions(client: Client) -> bool:
    return [session.id for session in client.blender.sessions.list() + client.freecad.sessions.list()] == [
        "default",
        "default",
    ]


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_every_example_is_exercised() -> None:
    assert {path.name for path in EXAMPLES.glob("*.py")} == EXERCISED


def test_freecad_part_rendered_in_blender(gateway: Gateway, client: Client, tmp_path: Path) -> None:
    done = example(
        "freecad_part_to_blender.py", "--output", "out/plate.png", "--size", "320x240", gateway=gateway, cwd=tmp_path
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert png_size((tmp_path / "out" / "plate.png").read_bytes()) == (320, 240)
    assert f"{PLATE_VOLUME:.1f} mm³" in done.stdout
    part = client.blender.objects.get("plate-with-hole")
    assert part.materials == ["Steel"] and part.dimensions == pytest.approx([40, 30, 5])
    assert client.blender.objects.list(type="camera").total == 1  # the render's own, framing the part
    assert "Plate" not in [entry["name"] for entry in client.freecad.documents.list().documents]


def test_batch_conversion_of_a_step_folder(pooled_gateway: Gateway, pooled: Client, tmp_path: Path) -> None:
    client = pooled
    source = tmp_path / "in"
    source.mkdir()
    doc = client.freecad.documents.create(name="SdkStepSources").name
    try:
        box = client.freecad.box(name="Crate", length=30, width=20, height=10, document=doc).object_id
        ball = client.freecad.sphere(name="Ball", radius=8, document=doc).object_id
        for name, filepath in ((box, "crate.step"), (ball, "ball.stp")):
            made = client.freecad.export(format="STEP", objects=[name], filepath=filepath, document=doc)
            made.download(source)
            client.freecad.files.delete(made.name)
    finally:
        client.freecad.documents.close(doc)
    (source / "broken.step").write_text("ISO-10303-21;\nthis is no model\n")
    (source / "notes.txt").write_text("not a STEP file: left alone")

    done = example("convert_step_folder.py", "in", "out", "--format", "STL", gateway=pooled_gateway, cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr  # one file failed, the others were converted
    assert "FAILED broken.step" in done.stdout and "2 of 3 converted" in done.stdout
    output = tmp_path / "out"
    assert sorted(path.name for path in output.iterdir()) == ["ball.stl", "crate.stl"]
    crate = trimesh.load_mesh(output / "crate.stl")
    assert crate.is_watertight and crate.volume == pytest.approx(6000, rel=1e-3)
    assert trimesh.load_mesh(output / "ball.stl").volume == pytest.approx(4 / 3 * 3.14159265 * 8**3, rel=0.02)
    # Each file was one job, and the failure is the broken file's own.
    conversions = [job for job in client.jobs.list() if job.kind == "convert" and job.request["file"] in NAMES]
    assert sorted((job.request["file"], job.state) for job in conversions[-3:]) == [
        ("ball.stp", "succeeded"),
        ("broken.step", "failed"),
        ("crate.step", "succeeded"),
    ]
    # Nothing is left behind: the session is ended (its uploads with it), the default workspace never saw them.
    assert only_the_default_sessions(client)
    assert not {file.name for file in client.freecad.files.list()} & {"crate.step", "ball.stp", "broken.step"}


def test_a_render_job_with_its_progress(pooled_gateway: Gateway, pooled: Client, tmp_path: Path) -> None:
    done = example(
        "render_job.py", "--output", "out/torus.png", "--size", "160x120", "--samples", "16",
        gateway=pooled_gateway, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert png_size((tmp_path / "out" / "torus.png").read_bytes()) == (160, 120)
    lines = done.stdout.splitlines()
    assert lines[0].startswith("session ses_") and lines[0].endswith(": 4 objects")  # torus, plane, camera, sun
    assert lines[-2].startswith("succeeded 100%") and lines[-1].startswith("rendered out/torus.png")
    assert only_the_default_sessions(pooled)


def test_watching_live_events(gateway: Gateway, client: Client, tmp_path: Path) -> None:
    watcher = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "watch_events.py"), "--count", "2", "object.*"],
        env={**os.environ, "BRIDGE3D_URL": gateway.url},
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert watcher.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(watcher.stdout, selectors.EVENT_READ)
            assert selector.select(timeout=30), "the watcher did not start"
        assert watcher.stdout.readline().startswith("watching blender: object.*")  # subscribed: nothing is missed
        client.blender.cube(name="SdkWatched")
        client.blender.objects.delete("SdkWatched")
        out, err = watcher.communicate(timeout=30)
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
    assert watcher.returncode == 0, err
    lines = out.splitlines()
    assert len(lines) == 2 and all('"SdkWatched"' in line for line in lines), out
    assert "object.created" in lines[0] and "object.deleted" in lines[1]
