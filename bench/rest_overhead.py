"""What the gateway adds to a cheap call, back to back and after a pause, on both host servers.

Starts headless Blender, FreeCAD and the gateway (bench/stack.py) and times one cheap call per application
through REST and straight to its host server (Blender: GET /objects/{name} vs. object.get on a one-cube scene;
FreeCAD: GET /documents vs. document.list), all four interleaved call by call:

- back to back: the next call starts as soon as the last one returned;
- after a pause: the client sleeps before each call (default 10 ms), so the gateway and the host have been idle
  for about as long as during a FreeCAD boolean (bench/run.py's "FreeCAD boolean overhead").

Prints the p50 of each and the REST overhead (REST p50 minus direct p50). Numbers are printed, never asserted.

Usage: python bench/rest_overhead.py [--calls 300] [--pause-ms 10]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from measure import ms, timed
from stack import Stack

BLENDER = "/api/v1/blender"
FREECAD = "/api/v1/freecad"
PROBE = "OverheadProbe"


def measure(calls: dict[str, Callable[[], Any]], count: int, pause: float) -> dict[str, float]:
    """p50 seconds of each call, the calls interleaved one by one, each after ``pause`` seconds of sleep."""
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(count):
        for name, call in calls.items():
            if pause:
                time.sleep(pause)
            samples[name].append(timed(call))
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=300, help="calls of each kind per condition")
    parser.add_argument("--pause-ms", type=float, default=10.0, help="the client's sleep before each call")
    args = parser.parse_args()
    stack = Stack()
    try:
        http = stack.http()
        blender, freecad = stack.blender.client(), stack.freecad.client()
        blender.call("scene.clear", {})
        blender.call("primitive.create", {"type": "cube", "name": PROBE})
        calls: dict[str, Callable[[], Any]] = {
            "Blender REST": lambda: http.call("GET", f"{BLENDER}/objects/{PROBE}"),
            "Blender direct": lambda: blender.call("object.get", {"name": PROBE}),
            "FreeCAD REST": lambda: http.call("GET", f"{FREECAD}/documents"),
            "FreeCAD direct": lambda: freecad.call("document.list", {}),
        }
        measure(calls, max(20, args.calls // 10), 0.0)  # warm-up: connections opened, code paths run once
        print(f"p50 of {args.calls} calls each, interleaved one by one")
        print(f"{'condition':<24} {'app':<8} {'REST':>8} {'direct':>8} {'overhead':>9}")
        for label, pause in (("back to back", 0.0), (f"after a {args.pause_ms:g} ms pause", args.pause_ms / 1000)):
            p50 = measure(calls, args.calls, pause)
            for app in ("Blender", "FreeCAD"):
                rest, direct = ms(p50[f"{app} REST"]), ms(p50[f"{app} direct"])
                print(f"{label:<24} {app:<8} {rest:6.2f}ms {direct:6.2f}ms {rest - direct:+7.2f}ms", flush=True)
    finally:
        stack.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
