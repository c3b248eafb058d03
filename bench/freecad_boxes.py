"""Benchmark the headless FreeCAD host server.

1. Create N boxes (default 2,000) in one document, one primitive.create call
   each: total time and the mean latency of the last 500 calls divided by the
   first 500 (a ratio well above 1 means each call costs O(document size)).
2. boolean.subtract latency (p50/p99) between two solids, each run in a fresh
   small document so earlier runs do not slow later ones.

Run: .venv/bin/python bench/freecad_boxes.py [--boxes 2000] [--runs 50]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from backends import start_backend  # needs the sys.path entry above
from measure import percentile  # bench/, the script's own folder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--boxes", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    window = min(500, args.boxes // 2)

    with tempfile.TemporaryDirectory(prefix="bench-freecad-") as tmp:
        backend = start_backend("freecad", Path(tmp))
        try:
            client = backend.client(timeout=120)
            doc = client.call("document.create", {"name": "Boxes"})["name"]
            latencies: list[float] = []
            started = time.perf_counter()
            for i in range(args.boxes):
                t0 = time.perf_counter()
                client.call("primitive.create", {"type": "box", "document": doc, "position": [i * 12.0, 0, 0]})
                latencies.append(time.perf_counter() - t0)
            total = time.perf_counter() - started
            first = statistics.mean(latencies[:window])
            last = statistics.mean(latencies[-window:])
            count = client.call("object.list", {"document": doc, "limit": 1})["total"]
            assert count == args.boxes, count

            subtract: list[float] = []
            for _ in range(args.runs):
                small = client.call("document.create", {"name": "Cut"})["name"]
                client.call("primitive.create", {"type": "box", "document": small, "name": "A"})
                sphere = {"type": "sphere", "document": small, "name": "B", "position": [5, 5, 5]}
                client.call("primitive.create", sphere)
                t0 = time.perf_counter()
                client.call("boolean.subtract", {"base": "A", "tool": "B", "document": small})
                subtract.append(time.perf_counter() - t0)
                client.call("document.close", {"name": small})
        finally:
            backend.stop()

    rows = [
        ("boxes created", f"{args.boxes}"),
        ("total time", f"{total:.2f} s"),
        ("mean per call", f"{total / args.boxes * 1000:.2f} ms"),
        (f"first {window} mean", f"{first * 1000:.2f} ms"),
        (f"last {window} mean", f"{last * 1000:.2f} ms"),
        (f"last/first {window} ratio", f"{last / first:.2f}"),
        ("p99 create", f"{percentile(latencies, 0.99) * 1000:.2f} ms"),
        (f"boolean.subtract p50 ({args.runs} runs)", f"{percentile(subtract, 0.5) * 1000:.2f} ms"),
        (f"boolean.subtract p99 ({args.runs} runs)", f"{percentile(subtract, 0.99) * 1000:.2f} ms"),
    ]
    width = max(len(label) for label, _ in rows)
    print(f"{'metric':<{width}}  value")
    print(f"{'-' * width}  {'-' * 12}")
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
