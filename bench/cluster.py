"""Cluster mode figures: job submit -> start latency, local pool vs Ray, side by side; and the time 40 conversion
jobs take with one FreeCAD node vs two.

    .venv/bin/python bench/cluster.py [--jobs 30] [--conversions 40] [--json out.json]

It starts its own Ray cluster on this machine (a head and FreeCAD nodes, each `ray start` with token auth, as in
tests/test_cluster) and its own gateways; it needs no running bridge3d. On one machine a second node adds no CPU:
the throughput figure shows what Ray's placement costs or gains, not what a second machine would add.

- **submit -> start**: a job's ``started - created`` (the gateway's own timestamps: queued, given a job worker,
  reset, marked running), for a trivial FreeCAD batch job, local gateway and Ray gateway alternating in blocks.
  *warm*: the job worker of the previous job is reused (the usual case); *cold*: each job gets a new worker (a
  code step makes its worker unusable for the next job), so the figure includes starting FreeCAD: a local
  process vs a Ray actor that starts one.
- **40 conversions**: STEP -> STL of a drilled sphere (FreeCAD reads and tessellates it), all submitted at once;
  one node with 2 job workers vs two nodes with 2 each (BRIDGE3D_FREECAD__JOB_WORKERS 2 vs 4).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import httpx

from gateway import Gateway, start_gateway
from test_cluster.raycluster import LocalRayCluster

JOBS = "/api/v1/jobs"
PATIENCE = 600.0
BLOCK = 5  # jobs per block when the two gateways alternate
TRIVIAL = [{"method": "document.create", "params": {"name": "Probe"}}]
COLD = [{"method": "code.execute", "params": {"code": "result = 1"}}]  # its worker serves no other job
# A part whose STEP takes FreeCAD some work to read and tessellate: a sphere drilled by 64 rods.
DRILLED_SPHERE = (
    "import Part\nfrom FreeCAD import Vector\n"
    "rods = [Part.makeCylinder(1.2, 60, Vector(x * 4.0 - 14, y * 4.0 - 14, -30))\n"
    "        for x in range(8) for y in range(8)]\n"
    "Part.show(Part.makeSphere(20).cut(Part.makeCompound(rods)), 'Drilled')\ndoc.recompute()\nresult = 1"
)
QUIET = {"BRIDGE3D_LOG_LEVEL": "WARNING"}  # the gateways' request logs are not part of what is measured


def result(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()["result"]


def finished(client: httpx.Client, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + PATIENCE
    while True:
        job: dict[str, Any] = result(client.get(f"{JOBS}/{job_id}"))
        if job["state"] in ("succeeded", "failed", "cancelled"):
            assert job["state"] == "succeeded", job
            return job
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job_id} did not finish")
        time.sleep(0.005)


def submit_to_start(client: httpx.Client, steps: list[dict[str, Any]], count: int) -> list[float]:
    """Seconds from submit to start of ``count`` jobs run one after the other."""
    delays = []
    for _ in range(count):
        job = result(client.post(JOBS, json={"kind": "batch", "app": "freecad", "steps": steps}), 202)
        done = finished(client, job["id"])
        delays.append(done["started"] - done["created"])
    return delays


def alternating(local: httpx.Client, ray: httpx.Client, steps: list[dict[str, Any]], jobs: int) -> dict[str, Any]:
    submit_to_start(local, steps, 1)  # each side's first job starts its first worker: not counted
    submit_to_start(ray, steps, 1)
    samples: dict[str, list[float]] = {"local": [], "ray": []}
    while len(samples["ray"]) < jobs:
        samples["local"] += submit_to_start(local, steps, BLOCK)
        samples["ray"] += submit_to_start(ray, steps, BLOCK)
    return {
        name: {"p50_ms": statistics.median(values) * 1000, "p90_ms": sorted(values)[int(0.9 * len(values))] * 1000}
        | {"samples": len(values)}
        for name, values in samples.items()
    }


def gateway(folder: Path, env: dict[str, str]) -> Gateway:
    folder.mkdir(parents=True, exist_ok=True)
    return start_gateway(folder, extra_env=QUIET | env)


def latency(cluster: LocalRayCluster, folder: Path, jobs: int) -> dict[str, Any]:
    pools = {"BRIDGE3D_FREECAD__JOB_WORKERS": "1", "BRIDGE3D_FREECAD__WARM_SPARES": "0"}
    local_gateway = gateway(folder / "local", pools)
    ray_gateway = gateway(folder / "ray", pools | cluster.driver_env())
    try:
        with (
            httpx.Client(base_url=local_gateway.url, timeout=PATIENCE) as local,
            httpx.Client(base_url=ray_gateway.url, timeout=PATIENCE) as ray,
        ):
            warm = alternating(local, ray, TRIVIAL, jobs)
            cold = alternating(local, ray, COLD, max(BLOCK, jobs // 3))
    finally:
        local_gateway.stop()
        ray_gateway.stop()
    return {"warm": warm, "cold": cold}


def conversions(cluster: LocalRayCluster, folder: Path, count: int, job_workers: int) -> dict[str, Any]:
    env = cluster.driver_env() | {"BRIDGE3D_FREECAD__JOB_WORKERS": str(job_workers)}
    env |= {"BRIDGE3D_FREECAD__WARM_SPARES": "0", "BRIDGE3D_MAX_JOBS_PER_KEY": str(count + 10)}
    running = gateway(folder, env)
    try:
        with httpx.Client(base_url=running.url, timeout=PATIENCE) as client:
            session = result(client.post("/api/v1/freecad/sessions"), 201)["id"]
            headers = {"X-Bridge3D-Session": session}
            result(client.post("/api/v1/freecad/execute", json={"code": DRILLED_SPHERE}, headers=headers))
            exported = result(client.post("/api/v1/freecad/export", json={"format": "STEP", "filepath": "part"},
                                          headers=headers))  # fmt: skip
            body = {"kind": "convert", "session": session, "file": exported["name"], "format": "STL"}
            finished(client, result(client.post(JOBS, json=body), 202)["id"])  # the job workers exist (not timed)
            started = time.perf_counter()
            ids = [result(client.post(JOBS, json=body), 202)["id"] for _ in range(count)]
            jobs = [finished(client, job_id) for job_id in ids]
            seconds = time.perf_counter() - started
    finally:
        running.stop()
    return {"jobs": len(jobs), "seconds": seconds, "per_second": len(jobs) / seconds, "job_workers": job_workers}


def load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=30, help="warm jobs per side for the latency figure (default 30)")
    parser.add_argument("--conversions", type=int, default=40, help="conversion jobs per run (default 40)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    figures: dict[str, Any] = {"load_before": load()}
    with tempfile.TemporaryDirectory(prefix="bridge3d-bench-cluster-") as scratch:
        folder = Path(scratch)
        cluster = LocalRayCluster(folder / "ray")
        try:
            cluster.start_head()
            cluster.add_node("freecad1", freecad=3)
            figures["latency"] = latency(cluster, folder / "latency", args.jobs)
            figures["one_node"] = conversions(cluster, folder / "one", args.conversions, 2)
            cluster.add_node("freecad2", freecad=3)
            figures["two_nodes"] = conversions(cluster, folder / "two", args.conversions, 4)
        finally:
            cluster.stop()
    figures["load_after"] = load()
    print(f"load before: {figures['load_before']}")
    for kind in ("warm", "cold"):
        local, ray = figures["latency"][kind]["local"], figures["latency"][kind]["ray"]
        added = ray["p50_ms"] - local["p50_ms"]
        print(
            f"submit -> start, {kind} job worker: local p50 {local['p50_ms']:.1f} ms (p90 {local['p90_ms']:.1f}), "
            f"Ray p50 {ray['p50_ms']:.1f} ms (p90 {ray['p90_ms']:.1f}); Ray adds {added:+.1f} ms "
            f"({ray['samples']} jobs each; target: adds <= 50 ms)"
        )
    for name in ("one_node", "two_nodes"):
        run = figures[name]
        print(
            f"{run['jobs']} STEP -> STL conversions, {name.replace('_', ' ')} ({run['job_workers']} job workers): "
            f"{run['seconds']:.1f} s, {run['per_second']:.2f} jobs/s"
        )
    print(f"load after: {figures['load_after']}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
