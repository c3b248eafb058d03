"""Convert every STEP file of a folder (to STL by default) with conversion jobs, and download what they made.

    python examples/convert_step_folder.py INPUT_FOLDER OUTPUT_FOLDER [--format STL|OBJ|GLB|...] [--timeout SECONDS]

The files are uploaded into a FreeCAD session of their own (its workspace is nobody else's, and it is ended at the
end, uploads and all), each becomes one conversion job, queued at once, and the gateway's job workers convert them
while this script waits for each in turn and downloads its output into OUTPUT_FOLDER (same name, new extension;
GLB and the other mesh formats go through FreeCAD and then Blender). A file that fails is reported and the others
are still converted (exit status 1 when any failed).

The gateway is BRIDGE3D_URL (default http://127.0.0.1:8000), with BRIDGE3D_API_KEY when it asks for a key; it needs
worker pools (BRIDGE3D_FREECAD__WORKERS and __JOB_WORKERS, both on by default).
"""

# ruff: noqa: T201 - an example shows what it does with print

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import Literal, get_args

from bridge3d.client import Bridge3DError, Client, ConflictError, Job

Format = Literal["STL", "OBJ", "STEP", "IGES", "BREP", "GLB", "GLTF", "FBX", "PLY"]
STEP_SUFFIXES = (".step", ".stp")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", type=Path, help="a folder of .step / .stp files")
    parser.add_argument("output", type=Path, help="where the converted files go (created when missing)")
    parser.add_argument("--format", choices=get_args(Format), default="STL", help="the target format (default STL)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for each file (default 600)")
    args = parser.parse_args(argv)
    target_format: Format = args.format

    sources = sorted(path for path in args.input.iterdir() if path.suffix.lower() in STEP_SUFFIXES)
    if not sources:
        print(f"no STEP files in {args.input}")
        return 1
    args.output.mkdir(parents=True, exist_ok=True)
    failed = 0
    with Client() as client, client.freecad.session(label="step-conversion") as cad:
        # Queue every conversion first: the job workers work through them while we wait for the first.
        jobs: dict[Path, Job] = {}
        for source in sources:
            try:
                uploaded = cad.files.upload(source)
                jobs[source] = client.jobs.convert(file=uploaded.name, format=target_format, session=cad.id)
            except Bridge3DError as exc:
                failed += 1
                print(f"FAILED {source.name}: {exc}")
        for source, job in jobs.items():
            try:
                job.wait(timeout=args.timeout)  # JobFailedError when the conversion failed
                written = [output.download(args.output) for output in job.outputs]
            except Bridge3DError as exc:
                failed += 1
                print(f"FAILED {source.name}: {exc}")
                if not job.done:  # still running after --timeout: stop it rather than leave it to nobody
                    with contextlib.suppress(ConflictError):  # it finished meanwhile
                        job.cancel()
                continue
            made = ", ".join(f"{path.name} ({path.stat().st_size} bytes)" for path in written)
            print(f"{source.name} -> {made}")
    print(f"{len(sources) - failed} of {len(sources)} converted")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
