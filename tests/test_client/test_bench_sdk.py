"""bench/sdk.py measures its rows through the session's gateway (timings are never asserted: see
docs/PERFORMANCE.md; the figure's table has them)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import SimpleNamespace

from gateway import Gateway

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_the_sdk_figure_measures_every_row(gateway: Gateway) -> None:
    sys.path.insert(0, str(BENCH))  # the bench scripts import each other by name, as bench/run.py runs them
    try:
        bench = importlib.import_module("sdk")
        rows = bench.sdk_vs_httpx(SimpleNamespace(gateway=gateway), SimpleNamespace(calls=20))
    finally:
        sys.path.remove(str(BENCH))
    assert [row.figure for row in rows] == [
        "SDK vs raw httpx: GET object",
        "SDK vs raw httpx: PATCH object",
        "SDK vs raw httpx: in-process GET",
    ]
    for row in rows:
        assert row.numbers["sdk_p50_ms"] > 0 and row.numbers["httpx_p50_ms"] > 0 and isinstance(row.met, bool)
