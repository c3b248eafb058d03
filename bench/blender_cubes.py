"""How adding objects scales in the headless Blender host server.

Starts its own ``python -m bridge3d.blender`` (through tests/backends.py), then

1. creates N cubes (default 10,000), one ``primitive.create`` call each, over a
   single connection, timing every block of 1,000 calls;
2. clears the scene and adds cubes with ``bpy.ops.mesh.primitive_cube_add``
   inside ``code.execute`` (200 per call, up to 2,000) for comparison.

Usage: python bench/blender_cubes.py [--cubes 10000] [--ops-cubes 2000] [--ops-batch 200]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from backends import start_backend


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cubes", type=int, default=10_000)
    parser.add_argument("--block", type=int, default=1_000)
    parser.add_argument("--ops-cubes", type=int, default=2_000)
    parser.add_argument("--ops-batch", type=int, default=200)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bridge3d-bench-") as tmp:
        backend = start_backend("blender", Path(tmp))
        try:
            client = backend.client(timeout=600)
            version = client.call("scene.info")["blender_version"]
            client.call("scene.clear", {})

            # ---- 1. primitive.create, one call per cube
            blocks: list[float] = []
            started = time.perf_counter()
            block_start = started
            for i in range(args.cubes):
                client.call("primitive.create", {"type": "cube", "size": 0.5, "location": [i % 100, i // 100, 0]})
                if (i + 1) % args.block == 0:
                    now = time.perf_counter()
                    blocks.append(now - block_start)
                    block_start = now
            total = time.perf_counter() - started
            count = client.call("scene.info")["object_count"]
            t0 = time.perf_counter()
            client.call("object.get", {"name": f"Cube.{args.cubes // 2:03d}"})
            get_ms = (time.perf_counter() - t0) * 1000
            t0 = time.perf_counter()
            client.call("object.list", {"limit": 100})
            list_ms = (time.perf_counter() - t0) * 1000
            t0 = time.perf_counter()
            client.call("scene.clear", {})
            clear_s = time.perf_counter() - t0

            # ---- 2. bpy.ops inside code.execute, batches of ops-batch
            code = f"for _ in range({args.ops_batch}):\n    bpy.ops.mesh.primitive_cube_add(size=0.5)"
            ops_batches: list[float] = []
            ops_started = time.perf_counter()
            for _ in range(args.ops_cubes // args.ops_batch):
                t0 = time.perf_counter()
                client.call("code.execute", {"code": code})
                ops_batches.append(time.perf_counter() - t0)
            ops_total = time.perf_counter() - ops_started
            ops_count = client.call("scene.info")["object_count"]
        finally:
            backend.stop()

    print(f"Blender {version} (PyPI bpy, background), one RpcClient connection\n")
    print(f"1. primitive.create x {args.cubes} (one call per cube)")
    print(f"   {'cubes':>12} {'block s':>9} {'ms/call':>9}")
    for index, seconds in enumerate(blocks):
        lo, hi = index * args.block + 1, (index + 1) * args.block
        print(f"   {f'{lo}-{hi}':>12} {seconds:9.3f} {seconds / args.block * 1000:9.3f}")
    ratio = blocks[-1] / blocks[0] if blocks and blocks[0] else float("nan")
    print(f"   total {total:.2f} s for {count} objects, {args.cubes / total:.0f} calls/s")
    print(f"   last block / first block = {ratio:.2f} (target <= 1.5)")
    print(
        f"   at {args.cubes} objects: object.get {get_ms:.1f} ms, object.list(limit 100) {list_ms:.1f} ms, "
        f"scene.clear {clear_s:.2f} s\n"
    )
    print(f"2. code.execute with bpy.ops.mesh.primitive_cube_add, {args.ops_batch} per call")
    print(f"   {'cubes':>12} {'batch s':>9} {'ms/cube':>9} {'cumulative s':>13}")
    cumulative = 0.0
    for index, seconds in enumerate(ops_batches):
        cumulative += seconds
        lo, hi = index * args.ops_batch + 1, (index + 1) * args.ops_batch
        print(f"   {f'{lo}-{hi}':>12} {seconds:9.3f} {seconds / args.ops_batch * 1000:9.3f} {cumulative:13.2f}")
    ops_ratio = ops_batches[-1] / ops_batches[0] if ops_batches and ops_batches[0] else float("nan")
    print(f"   total {ops_total:.2f} s for {ops_count} objects; last batch / first batch = {ops_ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
