"""The soak figure: does anything grow in a stack that keeps working? Resident memory (RSS) of the gateway and of
each host server after a warm-up, and again after many mixed REST calls (create, transform, list, delete in both
applications, and renders), side by side in one run. Target: each process ends at most 1.1 times where it started.

    .venv/bin/python bench/soak.py                 # 30,000 calls after 2,000 to warm up (a few minutes)
    .venv/bin/python bench/soak.py --tiny          # 600 calls: checks that it runs
    .venv/bin/python bench/soak.py --calls 5000 --json soak.json

``soak(stack, sizes)`` has the signature of the figures in bench/figures.py, so bench/run.py can list it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from stack import Http, Stack  # first: it puts tests/ (the helpers figures' imports need) on sys.path

# isort: split
from figures import FULL, TINY, Sizes
from measure import Row

BLENDER = "/api/v1/blender"
FREECAD = "/api/v1/freecad"
TARGET_RATIO = 1.1
# The soak's length from the run's sizes: 15 times the gateway-overhead calls (FULL: 30,000; TINY: 600), warmed up
# with 10 times its warm-up calls (FULL: 2,000).
CALLS_PER_OVERHEAD_CALL = 15
WARM_PER_OVERHEAD_WARM_CALL = 10
LIVE_OBJECTS = 50  # objects kept in each application while the soak runs: a real scene, not an empty one
RENDER_EVERY = 100  # one small render in this many calls
SETTLE_SECONDS = 2.0  # idle time before reading RSS, so nothing in flight is counted
BLENDER_KINDS = ("cube", "sphere", "cylinder", "cone", "torus", "plane")
FREECAD_KINDS = ("box", "sphere", "cylinder", "cone", "torus")


@dataclass(frozen=True)
class SoakSizes:
    calls: int
    warm_calls: int


def soak_sizes(sizes: Sizes) -> SoakSizes:
    return SoakSizes(sizes.calls * CALLS_PER_OVERHEAD_CALL, sizes.warm_calls * WARM_PER_OVERHEAD_WARM_CALL)


def rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` in MB (VmRSS from /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


class MixedLoad:
    """The calls of the soak, round-robin: in each application create, transform, list and delete, keeping
    LIVE_OBJECTS objects alive (the oldest goes once there are more), and a small render now and then."""

    def __init__(self, http: Http, document: str) -> None:
        self.http = http
        self.document = document
        self.serial = 0
        self.live: dict[str, list[str]] = {"blender": [], "freecad": []}
        self.renders: list[str] = []
        steps: list[Callable[[], Any]] = [
            self.create_blender,
            self.transform_blender,
            self.list_blender,
            self.delete_blender,
            self.create_freecad,
            self.transform_freecad,
            self.list_freecad,
            self.delete_freecad,
        ]
        self.steps = steps

    def run(self, calls: int) -> None:
        for index in range(calls):
            if index % RENDER_EVERY == 0:  # the first call of a run too: the warm-up pays the first render's costs
                self.render()
            else:
                self.steps[index % len(self.steps)]()

    def create_blender(self) -> None:
        self.serial += 1
        kind = BLENDER_KINDS[self.serial % len(BLENDER_KINDS)]
        body = {"name": f"Soak{self.serial}", "location": [self.serial % 10, 0, 0]}
        self.live["blender"].append(self.http.call("POST", f"{BLENDER}/primitives/{kind}", body)["object_id"])

    def transform_blender(self) -> None:
        if self.live["blender"]:
            body = {"rotation": [0, 0, 5], "relative": True}
            self.http.call("PATCH", f"{BLENDER}/objects/{self.live['blender'][-1]}", body)

    def list_blender(self) -> None:
        self.http.call("GET", f"{BLENDER}/objects?limit=20")

    def delete_blender(self) -> None:
        if len(self.live["blender"]) > LIVE_OBJECTS:
            self.http.call("DELETE", f"{BLENDER}/objects/{self.live['blender'].pop(0)}")

    def create_freecad(self) -> None:
        self.serial += 1
        kind = FREECAD_KINDS[self.serial % len(FREECAD_KINDS)]
        body = {"name": f"Soak{self.serial}", "document": self.document}
        self.live["freecad"].append(self.http.call("POST", f"{FREECAD}/primitives/{kind}", body)["object_id"])

    def transform_freecad(self) -> None:
        if self.live["freecad"]:
            body = {"location": [1, 0, 0], "relative": True, "document": self.document}
            self.http.call("PATCH", f"{FREECAD}/objects/{self.live['freecad'][-1]}", body)

    def list_freecad(self) -> None:
        self.http.call("GET", f"{FREECAD}/objects?limit=20&document={self.document}")

    def delete_freecad(self) -> None:
        if len(self.live["freecad"]) > LIVE_OBJECTS:
            name = self.live["freecad"].pop(0)
            self.http.call("DELETE", f"{FREECAD}/objects/{name}?document={self.document}")

    def render(self) -> None:
        body = {"engine": "WORKBENCH", "resolution": [64, 48], "samples": 1}
        self.renders.append(self.http.call("POST", f"{BLENDER}/render", body)["name"])


def soak(stack: Stack, sizes: Sizes) -> list[Row]:
    """RSS of the gateway, Blender and FreeCAD after the warm-up and after the mixed calls."""
    counts = soak_sizes(sizes)
    http = stack.http()
    pids = {
        "gateway": stack.gateway.process.pid,
        "Blender host": stack.blender.process.pid,
        "FreeCAD host": stack.freecad.process.pid,
    }
    http.call("DELETE", f"{BLENDER}/scene")
    document = http.call("POST", f"{FREECAD}/documents", {"name": "Soak"})["name"]
    load = MixedLoad(http, document)
    try:
        load.run(counts.warm_calls)
        time.sleep(SETTLE_SECONDS)
        before = {name: rss_mb(pid) for name, pid in pids.items()}
        started = time.perf_counter()
        load.run(counts.calls)
        seconds = time.perf_counter() - started
        time.sleep(SETTLE_SECONDS)
        after = {name: rss_mb(pid) for name, pid in pids.items()}
    finally:
        http.call("DELETE", f"{FREECAD}/documents/{document}")
        http.call("DELETE", f"{BLENDER}/scene")
        http.call("DELETE", f"{BLENDER}/files")  # the renders: generated files
    rows = []
    for name in pids:
        ratio = after[name] / before[name]
        rows.append(
            Row(
                f"soak RSS: {name}",
                f"{before[name]:.0f} MB after {counts.warm_calls:,} calls, {after[name]:.0f} MB after "
                f"{counts.calls:,} more ({ratio:.3f}×, {seconds:.0f} s)",
                f"≤ {TARGET_RATIO}×",
                ratio <= TARGET_RATIO,
                {
                    "rss_mb_after_warm_up": before[name],
                    "rss_mb_after_soak": after[name],
                    "ratio": ratio,
                    "calls": counts.calls,
                    "warm_calls": counts.warm_calls,
                    "renders": len(load.renders),
                    "seconds": seconds,
                },
            )
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    from run import machine, table

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="600 calls after 50: checks the figure runs")
    parser.add_argument("--calls", type=int, help="mixed calls after the warm-up (default 30,000)")
    parser.add_argument("--json", type=Path, help="also write the rows and machine facts to this file")
    args = parser.parse_args(argv)
    sizes = TINY if args.tiny else FULL
    if args.calls is not None:
        per_call = max(1, -(-args.calls // CALLS_PER_OVERHEAD_CALL))
        sizes = Sizes(**{**asdict(sizes), "calls": per_call})
    before = machine()
    print(f"bridge3d soak; machine: {before}", file=sys.stderr)
    stack = Stack()
    try:
        rows = soak(stack, sizes)
    finally:
        stack.close()
    after = machine()
    print(table(rows))
    print(f"\n{os.cpu_count()} CPUs, load average {before['load_average']} before, {after['load_average']} after")
    if args.json:
        report = {"machine": after, "load_average_before": before["load_average"], "rows": [asdict(r) for r in rows]}
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
