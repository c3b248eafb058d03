"""Figures of the worker pools: sessions from warm spares, interactive calls during renders, conversion jobs on one
worker vs two, a trivial job's round trip and the cancel of a running render.

Each figure starts its own gateway with pools (the Stack's host servers are its default sessions) and measures
both sides of a comparison in the same run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import httpx

from measure import Row, ms, percentile
from stack import GATEWAY_ENV, Gateway, Stack, start_gateway  # stack puts tests/ on the path first
from wsclient import open_socket, receive_until, send

if TYPE_CHECKING:
    from figures import Sizes

JOBS = "/api/v1/jobs"
SESSION = "X-Bridge3D-Session"
PATIENCE = 600.0
LONG_RENDER = {"engine": "CYCLES", "resolution": [1920, 1080], "samples": 1024}
# A part whose STEP takes FreeCAD some work to read and tessellate: a sphere drilled by 64 rods.
DRILLED_SPHERE = (
    "import Part\nfrom FreeCAD import Vector\n"
    "rods = [Part.makeCylinder(1.2, 60, Vector(x * 4.0 - 14, y * 4.0 - 14, -30))\n"
    "        for x in range(8) for y in range(8)]\n"
    "Part.show(Part.makeSphere(20).cut(Part.makeCompound(rods)), 'Drilled')\ndoc.recompute()\nresult = 1"
)


@contextmanager
def pooled_gateway(stack: Stack, env: dict[str, str]) -> Iterator[tuple[Gateway, httpx.Client]]:
    """A gateway with worker pools (``env`` sets them) in front of the stack's host servers; stopped afterwards,
    which ends every worker it started."""
    gateway = start_gateway(stack.tmp, stack.blender, stack.freecad, extra_env={**GATEWAY_ENV, **env})
    try:
        with httpx.Client(base_url=gateway.url, timeout=PATIENCE) as client:
            yield gateway, client
    finally:
        gateway.stop()


def result(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()["result"]


def wait(condition: Any, timeout: float = PATIENCE, every: float = 0.01) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise TimeoutError("the benchmark waited too long")
        time.sleep(every)
    return value


def spare_ready(client: httpx.Client, app: str) -> bool:
    workers = result(client.get("/health"))["pools"][app]["workers"]
    return any(worker["role"] == "spare" and worker["reachable"] for worker in workers)


def session_creation(stack: Stack, sizes: Sizes) -> list[Row]:
    """POST /sessions while a warm spare is idle (each time after the pool refilled), and with none."""
    with pooled_gateway(stack, {"BRIDGE3D_BLENDER__WARM_SPARES": "1"}) as (_, client):
        warm: list[float] = []
        for _ in range(sizes.session_creates):
            wait(lambda: spare_ready(client, "blender"), every=0.1)
            started = time.perf_counter()
            session = result(client.post("/api/v1/blender/sessions"), 201)["id"]
            warm.append(time.perf_counter() - started)
            result(client.delete(f"/api/v1/blender/sessions/{session}"))
    with pooled_gateway(stack, {"BRIDGE3D_BLENDER__WARM_SPARES": "0"}) as (_, client):
        started = time.perf_counter()
        session = result(client.post("/api/v1/blender/sessions"), 201)["id"]
        cold = time.perf_counter() - started
        result(client.delete(f"/api/v1/blender/sessions/{session}"))
    p50, p99 = ms(statistics.median(warm)), ms(percentile(warm, 0.99))
    return [
        Row(
            "session create (warm pool)",
            f"p50 {p50:.0f} / p99 {p99:.0f} ms ({len(warm)}); no spare: {ms(cold):.0f} ms",
            "p50 ≤ 1 s",
            p50 <= 1000,
            {"warm_ms": [ms(s) for s in warm], "cold_ms": ms(cold)},
        )
    ]


def object_list_latencies(client: httpx.Client, session: str, calls: int) -> list[float]:
    latencies = []
    for _ in range(calls):
        started = time.perf_counter()
        result(client.get("/api/v1/blender/objects", headers={SESSION: session}))
        latencies.append(time.perf_counter() - started)
    return latencies


def interactive_during_renders(stack: Stack, sizes: Sizes) -> list[Row]:
    """GET /objects in a session: idle, then while two Cycles render jobs run on job workers."""
    env = {"BRIDGE3D_BLENDER__WARM_SPARES": "1", "BRIDGE3D_BLENDER__JOB_WORKERS": "2"}
    with pooled_gateway(stack, env) as (_, client):
        session = result(client.post("/api/v1/blender/sessions"), 201)["id"]
        for index in range(5):
            body = {"name": f"Thing{index}", "location": [index * 3, 0, 0]}
            result(client.post("/api/v1/blender/primitives/cube", json=body, headers={SESSION: session}), 201)
        object_list_latencies(client, session, 20)  # warm
        idle = object_list_latencies(client, session, sizes.interactive_calls)
        jobs = [
            result(client.post(JOBS, json={"kind": "render", "session": session, "params": LONG_RENDER}), 202)["id"]
            for _ in range(2)
        ]
        wait(lambda: all(result(client.get(f"{JOBS}/{job}"))["progress"] > 0 for job in jobs), every=0.2)
        busy = object_list_latencies(client, session, sizes.interactive_calls)
        still_running = all(result(client.get(f"{JOBS}/{job}"))["state"] == "running" for job in jobs)
        for job in jobs:
            result(client.delete(f"{JOBS}/{job}"))
    idle_p50, busy_p50 = ms(statistics.median(idle)), ms(statistics.median(busy))
    ratio = busy_p50 / idle_p50
    return [
        Row(
            "GET /objects during 2 render jobs",
            f"p50 {busy_p50:.2f} ms (max {ms(max(busy)):.0f}) vs idle {idle_p50:.2f} ms = {ratio:.1f}×",
            "p50 ≤ 3× idle, no call waits for a render",
            ratio <= 3 and still_running,
            {"idle_ms": [ms(s) for s in idle], "busy_ms": [ms(s) for s in busy], "renders_outlasted": still_running},
        )
    ]


def conversions(stack: Stack, sizes: Sizes) -> list[Row]:
    """N STEP -> STL conversion jobs with one FreeCAD job worker, then with two (same file, same gateway build)."""
    totals = {}
    for workers in (1, 2):
        env = {"BRIDGE3D_FREECAD__JOB_WORKERS": str(workers), "BRIDGE3D_FREECAD__WARM_SPARES": "1"}
        with pooled_gateway(stack, env) as (_, client):
            session = result(client.post("/api/v1/freecad/sessions"), 201)["id"]
            headers = {SESSION: session}
            result(client.post("/api/v1/freecad/execute", json={"code": DRILLED_SPHERE}, headers=headers))
            step = {"format": "STEP", "filepath": "drilled"}
            result(client.post("/api/v1/freecad/export", json=step, headers=headers))
            body = {"kind": "convert", "session": session, "file": "drilled.step", "format": "STL"}
            run_jobs(client, body, workers)  # warm: every job worker started and used once
            started = time.perf_counter()
            run_jobs(client, body, sizes.conversions)
            totals[workers] = time.perf_counter() - started
    speedup = totals[1] / totals[2]
    return [
        Row(
            f"{sizes.conversions} STEP→STL jobs, 1 vs 2 workers",
            f"{totals[1]:.1f} s vs {totals[2]:.1f} s = {speedup:.2f}×",
            "≥ 1.7×",
            speedup >= 1.7,
            {"seconds": totals},
        )
    ]


def run_jobs(client: httpx.Client, body: dict[str, Any], count: int) -> None:
    ids = [result(client.post(JOBS, json=body), 202)["id"] for _ in range(count)]
    for job in ids:
        finished = wait(lambda job=job: finished_job(client, job), every=0.05)
        assert finished["state"] == "succeeded", finished


def finished_job(client: httpx.Client, job: str) -> dict[str, Any] | None:
    found: dict[str, Any] = result(client.get(f"{JOBS}/{job}"))
    return found if found["state"] in ("succeeded", "failed", "cancelled") else None


def trivial_jobs_and_cancel(stack: Stack, sizes: Sizes) -> list[Row]:
    """Submit -> job.succeeded event of a one-step batch; cancel of a running Cycles render -> worker gone."""
    with pooled_gateway(stack, {"BRIDGE3D_BLENDER__WARM_SPARES": "1"}) as (gateway, client):
        body = {"kind": "batch", "app": "blender", "steps": [{"method": "scene.info"}]}
        round_trips = []
        with open_socket(gateway.url, "blender") as socket:
            send(socket, {"type": "subscribe", "id": "s", "topics": ["job.succeeded", "job.failed"]})
            receive_until(socket, lambda m: m.get("id") == "s")
            for index in range(sizes.trivial_jobs + 3):
                started = time.perf_counter()
                job = result(client.post(JOBS, json=body), 202)["id"]
                event = receive_until(socket, finished_event(job))
                assert event["topic"] == "job.succeeded", event
                if index >= 3:  # the first ones start and warm the job worker
                    round_trips.append(time.perf_counter() - started)
        session = result(client.post("/api/v1/blender/sessions"), 201)["id"]
        cancels = []
        for _ in range(sizes.cancels):
            render = {"kind": "render", "session": session, "params": LONG_RENDER}
            job = result(client.post(JOBS, json=render), 202)["id"]
            wait(lambda job=job: result(client.get(f"{JOBS}/{job}"))["progress"] > 0, every=0.1)
            workers = result(client.get("/health"))["pools"]["blender"]["workers"]
            pid = next(worker["pid"] for worker in workers if worker["owner"] == job)
            started = time.perf_counter()
            state = result(client.delete(f"{JOBS}/{job}"))["state"]
            wait(lambda pid=pid: not alive(pid), timeout=30, every=0.005)
            cancels.append(time.perf_counter() - started)
            assert state == "cancelled"
    p50 = ms(statistics.median(round_trips))
    worst = max(cancels)
    return [
        Row(
            "trivial job: submit → succeeded",
            f"p50 {p50:.1f} / p99 {ms(percentile(round_trips, 0.99)):.1f} ms ({len(round_trips)} jobs)",
            "p50 ≤ 50 ms",
            p50 <= 50,
            {"ms": [ms(s) for s in round_trips]},
        ),
        Row(
            "cancel a running Cycles render job",
            f"worker gone, job cancelled in {ms(worst):.0f} ms at most ({len(cancels)})",
            "≤ 2 s",
            worst <= 2,
            {"ms": [ms(s) for s in cancels]},
        ),
    ]


def finished_event(job: str) -> Callable[[dict[str, Any]], bool]:
    def matches(message: dict[str, Any]) -> bool:
        return message.get("type") == "event" and message["data"]["id"] == job

    return matches


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def back_again(client: httpx.Client, session: str, pid: int) -> dict[str, Any] | None:
    """The session's info once a new worker (not ``pid``) serves it."""
    info: dict[str, Any] = result(client.get(f"/api/v1/blender/sessions/{session}"))
    return info if info["state"] == "ready" and info["worker"]["pid"] != pid else None


def durability(stack: Stack, sizes: Sizes) -> list[Row]:
    """A mutating call's latency with BRIDGE3D_DURABILITY off, everysec and always (three gateways, one session each,
    in alternating blocks); then the time from kill -9 of a session's worker to the session ready again, with its
    objects restored."""
    policies = ("off", "everysec", "always")
    with contextlib.ExitStack() as gateways:
        clients = {
            policy: gateways.enter_context(pooled_gateway(stack, {"BRIDGE3D_DURABILITY": policy}))[1]
            for policy in policies
        }
        sessions = {
            policy: result(client.post("/api/v1/blender/sessions"), 201)["id"] for policy, client in clients.items()
        }
        for policy, client in clients.items():
            body = {"name": "Moved"}
            result(client.post("/api/v1/blender/primitives/cube", json=body, headers={SESSION: sessions[policy]}), 201)
        latencies: dict[str, list[float]] = {policy: [] for policy in policies}

        def transform(policy: str, count: int) -> list[float]:
            client, headers = clients[policy], {SESSION: sessions[policy]}
            taken = []
            for index in range(count):
                started = time.perf_counter()
                body = {"location": [index % 7, 0, 0]}
                result(client.patch("/api/v1/blender/objects/Moved", json=body, headers=headers))
                taken.append(time.perf_counter() - started)
            return taken

        for policy in policies:
            transform(policy, sizes.warm_calls)
        rounds = 10
        for _ in range(rounds):
            for policy in policies:
                latencies[policy] += transform(policy, sizes.durability_calls // rounds)
        # A session of many objects, killed: the time until it answers again with all of them.
        client, session = clients["everysec"], sessions["everysec"]
        steps = [
            {"method": "primitive.create", "params": {"type": "cube", "location": [i % 40, i // 40, 0]}}
            for i in range(sizes.restore_objects)
        ]
        result(client.post("/api/v1/blender/batch", json={"steps": steps}, headers={SESSION: session}))
        info = result(client.get(f"/api/v1/blender/sessions/{session}"))
        pid = info["worker"]["pid"]
        started = time.perf_counter()
        os.kill(pid, signal.SIGKILL)
        restored = wait(
            lambda: (
                (i := result(client.get(f"/api/v1/blender/sessions/{session}")))["state"] == "ready"
                and i["worker"]["pid"] != pid
                and i
            ),
            every=0.02,
        )
        back = time.perf_counter() - started
        count = result(client.get("/api/v1/blender/scene", headers={SESSION: session}))["object_count"]
    p50 = {policy: ms(statistics.median(values)) for policy, values in latencies.items()}
    ratio = p50["everysec"] / p50["off"]
    return [
        Row(
            "mutating call: durability off / everysec / always",
            f"p50 {p50['off']:.2f} / {p50['everysec']:.2f} / {p50['always']:.2f} ms; everysec = {ratio:.2f}× off",
            "everysec ≤ 1.1× off",
            ratio <= 1.1,
            {"p50_ms": p50},
        ),
        Row(
            f"restore a {sizes.restore_objects + 1}-object session",
            f"kill -9 to ready in {back:.2f} s (restore {restored['restored']['seconds']:.2f} s, {count} objects back)",
            "≤ 5 s",
            back <= 5 and count == sizes.restore_objects + 1,
            {"seconds": back, "restore": restored["restored"], "objects": count},
        ),
    ]
