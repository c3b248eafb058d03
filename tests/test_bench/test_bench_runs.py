"""bench/run.py runs end to end on a tiny size: every figure is measured and printed, everything is stopped.

Timings are never asserted (they belong to the benchmark's table, see docs/PERFORMANCE.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from backends import Backend

FIGURES = [
    "gateway overhead",
    "pooled vs per-call (100 KB reply)",
    "pooled vs per-call (5 MB reply)",
    "concurrency",
    "memory",
    "bulk creation (a) one REST call each",
    "bulk creation (b) one batch call",
    "large scene: one page of 100",
    "large scene: the whole list",
    "render overhead",
    "FreeCAD boxes, one REST call each",
    "FreeCAD boolean overhead",
    "start-up",
    "SDK vs raw httpx: GET object",
    "SDK vs raw httpx: PATCH object",
    "SDK vs raw httpx: in-process GET",
    "session create (warm pool)",
    "GET /objects during 2 render jobs",
    "4 STEP→STL jobs, 1 vs 2 workers",
    "trivial job: submit → succeeded",
    "cancel a running Cycles render job",
    "mutating call: durability off / everysec / always",
    "restore a 51-object session",
    "MCP tool vs REST: measure / GET object",
    "MCP tool vs REST: transform_object / PATCH object",
    "MCP tools/list size",
    "soak RSS: gateway",
    "soak RSS: Blender host",
    "soak RSS: FreeCAD host",
]


def still_running(process: dict[str, object]) -> bool:
    """Whether the recorded process (pid and command line) is still alive; a reused pid runs something else."""
    cmdline = Path(f"/proc/{process['pid']}/cmdline")
    try:
        return cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace").strip() == process["command"]
    except OSError:
        return False


def test_the_suite_measures_every_figure_and_stops_what_it_started(
    blender_backend: Backend, freecad_backend: Backend, repo_root: Path, tmp_path: Path
) -> None:
    # The session backends are not used: requesting them applies the suite's rule for a missing application
    # (a skip on a developer's machine, a failure in CI). The benchmark starts its own processes.
    report_path = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, "bench/run.py", "--tiny", "--json", str(report_path)],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr

    report = json.loads(report_path.read_text())
    assert report["sizes"] == "tiny"
    rows = {row["figure"]: row for row in report["rows"]}
    assert list(rows) == FIGURES
    for figure, row in rows.items():
        assert not row["value"].startswith("FAILED"), row
        assert row["numbers"], f"{figure} recorded no numbers"
        assert isinstance(row["met"], bool)
    lines = [" ".join(line.split()) for line in result.stdout.splitlines()]
    assert "figure | value | target | met?" in lines
    for figure in FIGURES:
        assert any(line.startswith(f"{figure} |") for line in lines), f"{figure} is missing from the printed table"

    # Blender, FreeCAD, the gateway and the test host server were started, and none of them is left running.
    assert len(report["processes"]) == 4
    assert not [process for process in report["processes"] if still_running(process)]
