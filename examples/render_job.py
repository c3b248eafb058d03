"""Build a scene in a Blender session of its own and render it with Cycles as a job, printing its progress.

    python examples/render_job.py [--output torus.png] [--size 640x480] [--samples 64] [--timeout 600]

The session is a scene nobody else sees (on a worker of its own, ended at the end with everything in it). The
render is a job: it runs on a job worker, from a snapshot of the session's scene, so the session (and everyone
else) could go on working meanwhile; its progress (Cycles' samples) is printed as it comes.

The gateway is BRIDGE3D_URL (default http://127.0.0.1:8000), with BRIDGE3D_API_KEY when it asks for a key; it needs
worker pools (BRIDGE3D_BLENDER__WORKERS and __JOB_WORKERS, both on by default).
"""

# ruff: noqa: T201 - an example shows what it does with print

from __future__ import annotations

import argparse
from pathlib import Path

from bridge3d.client import Client, Job


def show(job: Job) -> None:
    print(f"{job.state:<9} {job.progress:4.0%}  {job.message}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=Path("torus.png"), help="the PNG to write (default torus.png)")
    parser.add_argument("--size", default="640x480", help="render resolution, WIDTHxHEIGHT (default 640x480)")
    parser.add_argument("--samples", type=int, default=64, help="Cycles samples (default 64)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for the render (default 600)")
    args = parser.parse_args(argv)
    width, height = (int(side) for side in args.size.lower().split("x"))

    with Client() as client, client.blender.session(label="render-job-example") as scene:
        scene.scene.clear()
        torus = scene.torus(major_radius=1.5, minor_radius=0.5, location=(0, 0, 0.5))
        scene.plane(size=12)
        scene.materials.create(name="Gold", color="#d4af37", metallic=1.0, roughness=0.25)
        scene.materials.apply(object=torus.object_id, material="Gold")
        scene.camera(location=(5, -5, 4), look_at=(0, 0, 0.5))
        scene.light(type="SUN", energy=3, rotation=(45, 0, 30))
        print(f"session {scene.id}: {scene.scene.info().object_count} objects")

        job = client.jobs.render(
            session=scene.id, engine="CYCLES", resolution=(width, height), samples=args.samples, output="torus"
        )
        job.wait(timeout=args.timeout, on_progress=show)  # JobFailedError if it fails, WaitTimeoutError if slow
        written = job.outputs[0].download(args.output)
        print(f"rendered {written} ({job.outputs[0].size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
