"""The benchmark suite: every figure of the gateway against its target, side by side in one run.

    .venv/bin/python bench/run.py                 # the full sizes (about 7 minutes)
    .venv/bin/python bench/run.py --tiny          # seconds; what the test suite runs
    .venv/bin/python bench/run.py --only overhead --only render --json out.json

Starts the real headless Blender and FreeCAD host servers and the gateway on free ports
(and, for "pooled", the test host server; for "startup", a whole second stack through
scripts/start_all.sh), measures, prints one table and stops everything it started, also
on Ctrl-C or a failure. Exit status 0 means every figure was measured; whether targets
were met is in the table (timings depend on the machine, see docs/PERFORMANCE.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import sys
import time
import traceback
from dataclasses import asdict
from pathlib import Path
from types import FrameType
from typing import TypedDict

import bridge3d
import figures
import mcp_tools
import soak
from figures import FULL, TINY
from measure import Row
from stack import Stack

# figures.py's figures, then those that load what they measure: MCP (an agent's tool calls) and, last, the soak
# (thousands of mixed calls, whose memory figures must not count the other figures' work).
FIGURES = figures.FIGURES | {"mcp": mcp_tools.mcp_vs_rest, "soak": soak.soak}


def table(rows: list[Row]) -> str:
    header = ("figure", "value", "target", "met?")
    cells = [header, *((row.figure, row.value, row.target, "yes" if row.met else "NO") for row in rows)]
    widths = [max(len(cell[column]) for cell in cells) for column in range(len(header))]
    lines = [" | ".join(cell.ljust(width) for cell, width in zip(cell_row, widths, strict=True)) for cell_row in cells]
    lines.insert(1, "-+-".join("-" * width for width in widths))
    return "\n".join(lines)


class Machine(TypedDict):
    cpus: int | None
    load_average: list[float]
    python: str
    bridge3d: str


def machine() -> Machine:
    return {
        "cpus": os.cpu_count(),
        "load_average": [round(load, 2) for load in os.getloadavg()],
        "python": platform.python_version(),
        "bridge3d": bridge3d.__version__,
    }


def stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="tiny sizes: checks the suite runs, in seconds")
    parser.add_argument("--only", action="append", choices=sorted(FIGURES), help="run only this figure (repeatable)")
    parser.add_argument("--json", type=Path, help="also write the rows and machine facts to this file")
    args = parser.parse_args(argv)
    sizes = TINY if args.tiny else FULL
    names = [name for name in FIGURES if not args.only or name in args.only]
    signal.signal(signal.SIGTERM, stop_on_sigterm)

    before = machine()
    print(f"bridge3d benchmark ({'tiny' if args.tiny else 'full'} sizes); machine: {before}", file=sys.stderr)
    rows: list[Row] = []
    failed: list[str] = []
    started = time.perf_counter()
    stack = Stack()
    processes: list[dict[str, object]] = []
    try:
        for name in names:
            print(f"  {name} ...", file=sys.stderr, flush=True)
            figure_started = time.perf_counter()
            try:
                rows.extend(FIGURES[name](stack, sizes))
            except Exception as exc:
                traceback.print_exc()
                failed.append(name)
                rows.append(Row(name, f"FAILED: {type(exc).__name__}: {exc}"[:200], "-", False))
            print(f"  {name} took {time.perf_counter() - figure_started:.1f} s", file=sys.stderr, flush=True)
    finally:
        processes = stack.processes()
        stack.close()

    after = machine()
    print()
    print(table(rows))
    print(
        f"\n{len(rows)} rows in {time.perf_counter() - started:.0f} s; {after['cpus']} CPUs, "
        f"load average {before['load_average'][0]} before, {after['load_average'][0]} after"
    )
    if args.json:
        report = {
            "sizes": "tiny" if args.tiny else "full",
            "machine": after,
            "load_average_before": before["load_average"],
            "rows": [asdict(row) for row in rows],
            "processes": processes,
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    if failed:
        print(f"figures that could not be measured: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
