"""`bridge3d health`: one table of the gateway, both default backends and every pool worker."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any


def fetch_health(url: str, timeout: float) -> dict[str, Any]:
    with urllib.request.urlopen(url.rstrip("/") + "/health", timeout=timeout) as response:  # noqa: S310 - our URL
        body: dict[str, Any] = json.load(response)
    result: dict[str, Any] = body["result"]
    return result


def health_rows(url: str, timeout: float) -> tuple[list[tuple[str, str, str, str]], bool]:
    """Rows (service, state, version, round trip) and whether everything is up (busy counts as up)."""
    rows = [("service", "state", "version", "round trip")]
    try:
        started = time.perf_counter()
        health = fetch_health(url, timeout)
        rows.append(("gateway", "up", health["version"], f"{(time.perf_counter() - started) * 1000:.1f} ms"))
        for name, backend in health["backends"].items():
            state = ("busy" if backend.get("busy") else "up") if backend["reachable"] else "down"
            trip = backend.get("round_trip_ms")
            rows.append((name, state, backend.get("app_version") or "-", "-" if trip is None else f"{trip:.1f} ms"))
        for app, pool in health.get("pools", {}).items():
            for worker in pool["workers"]:
                rows.append(worker_row(app, worker))
        healthy = health["status"] == "ok"
    except (urllib.error.URLError, OSError, ValueError, KeyError) as exc:
        rows.append(("gateway", "down", "-", f"{url}: {getattr(exc, 'reason', exc)}"))
        healthy = False
    return rows, healthy


def worker_row(app: str, worker: dict[str, Any]) -> tuple[str, str, str, str]:
    """A pool worker: `blender worker w1a2b3 (session ses_...)`, up/busy with what since when/down, its pid."""
    owner = f" {worker['owner']}" if worker.get("owner") else ""
    name = f"{app} worker {worker['id']} ({worker['role']}{owner})"
    if not worker.get("reachable"):
        state = "down"
    elif worker.get("busy"):
        since = worker.get("since")
        state = f"busy: {worker.get('running')}" + (f" for {time.time() - since:.0f} s" if since else "")
    else:
        state = "up"
    return (name, state, f"pid {worker.get('pid')}", "-")


def print_health(url: str, timeout: float) -> bool:
    """Print the table; True when the gateway and both backends are up."""
    rows, healthy = health_rows(url, timeout)
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return healthy
