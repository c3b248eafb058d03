"""Where a batch of cubes spends its time inside Blender, without sockets or the gateway.

Imports ``bpy`` in this process, builds the host's command table (bridge3d.blender.registry, no server) and

1. runs ``run_batch`` (what ``batch.run`` does on the host's main thread) with N ``primitive.create`` steps
   (default 10,000), compact results, on a cleared scene: with the compact handler (the name only, as the host
   does it) and, alternating with it, the way it was done before, an ObjectInfo per step that ``summarize``
   then cut down to the name. Both are reported as the main thread's CPU time (less affected by other jobs on
   the machine than the wall time) and wall time, medians of the runs after a warm-up run of each;
2. times each piece of creating one cube the way primitive.create does it, summed over N cubes.

Usage: python bench/blender_batch.py [--cubes 10000] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import bpy

from bridge3d.blender.info import object_info, scene
from bridge3d.blender.objects import radians
from bridge3d.blender.registry import BlenderHost
from bridge3d.rpc.dispatcher import Registry, invoke, run_batch
from bridge3d.rpc.workspace import Workspace


def cube_step(index: int) -> dict[str, Any]:
    location = [index % 100, index // 100 % 100, index // 10_000]
    return {"method": "primitive.create", "params": {"type": "cube", "size": 0.5, "location": location}}


def without_compact_handler(registry: Registry) -> Registry:
    """The same table with primitive.create's compact handler removed: each step builds its ObjectInfo."""
    before = Registry()
    before.update(registry)
    method = registry.get("primitive.create")
    before.add(
        method.name,
        method.handler,
        main_thread=method.main_thread,
        cancellable=method.cancellable,
        validate=method.validate,
        description=method.description,
        summarize=method.summarize,
    )
    return before


def compare_batches(host: BlenderHost, cubes: int, runs: int) -> None:
    registry = host.registry()
    variants = {"compact handler": registry, "ObjectInfo, then summarize": without_compact_handler(registry)}
    steps = [cube_step(index) for index in range(cubes)]
    cpu: dict[str, list[float]] = defaultdict(list)
    wall: dict[str, list[float]] = defaultdict(list)
    for run in range(runs + 1):
        for name, table in variants.items():
            invoke(registry.get("scene.clear"), {})
            cpu_started, wall_started = time.thread_time(), time.perf_counter()
            result = run_batch(table, steps)
            cpu_seconds, wall_seconds = time.thread_time() - cpu_started, time.perf_counter() - wall_started
            if result["completed"] != cubes or list(result["steps"][-1]["result"]) != ["name"]:
                raise RuntimeError(f"{name}: unexpected result {result['steps'][-1]}")
            if run:  # run 0 is the warm-up
                cpu[name].append(cpu_seconds)
                wall[name].append(wall_seconds)
    print(f"run_batch, {cubes:,} cubes, compact results, median of {runs} runs each (alternating)")
    for name in variants:
        print(f"  {name:<28} CPU {statistics.median(cpu[name]):.3f} s   wall {statistics.median(wall[name]):.3f} s")


def time_pieces(host: BlenderHost, cubes: int) -> None:
    registry = host.registry()
    method = registry.get("primitive.create")
    assert method.validate is not None
    invoke(registry.get("scene.clear"), {})
    templates = host.objects._templates
    names = (
        "check the params (signature.clean)",
        "bpy.data.meshes.new",
        "BMesh.to_mesh (cached cube)",
        "bpy.data.objects.new",
        "location, rotation, scale",
        "link to the scene",
        "object.created event",
        "ObjectInfo (full result only)",
    )
    totals = [0.0] * len(names)
    clock = time.perf_counter
    for index in range(cubes):
        # Inline clock reads rather than a timing helper: a call per piece would cost as much as the smaller pieces.
        t0 = clock()
        params = method.validate(cube_step(index)["params"])
        t1 = clock()
        mesh = bpy.data.meshes.new("Cube")
        t2 = clock()
        templates.to_mesh("cube", {"size": params["size"]}, mesh)
        t3 = clock()
        obj = bpy.data.objects.new("Cube", mesh)
        t4 = clock()
        obj.location = params["location"]
        obj.rotation_euler = radians(params["rotation"])
        obj.scale = params["scale"]
        t5 = clock()
        scene().collection.objects.link(obj)
        t6 = clock()
        host.hub.object_event("object.created", obj, primitive="cube")
        t7 = clock()
        object_info(obj, visible=True)
        t8 = clock()
        for piece, seconds in enumerate((t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5, t7 - t6, t8 - t7)):
            totals[piece] += seconds
    print(f"one cube as primitive.create makes it, summed over {cubes:,} cubes")
    for name, seconds in zip(names, totals, strict=True):
        print(f"  {name:<36} {seconds:6.3f} s  ({seconds / cubes * 1e6:5.1f} µs each)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cubes", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bridge3d-bench-") as tmp:
        host = BlenderHost(Workspace(Path(tmp)), None)
        print(f"Blender {bpy.app.version_string}, in this process")
        compare_batches(host, args.cubes, args.runs)
        time_pieces(host, args.cubes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
