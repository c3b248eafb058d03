"""Each figure of the benchmark suite: one function, which measures two paths side by side when it compares them.

A figure takes the Stack (processes started on first use) and the Sizes of this run and
returns table rows. Targets are compared to the numbers measured now, never to numbers
from another machine.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pools
from bridge3d.api.clients.base_client import BaseSocketClient
from bridge3d.api.config import BackendSettings
from bridge3d.rpc import RpcClient
from measure import Row, alternate_blocks, blocks_of, ms, percentile, side_by_side, timed
from sdk import sdk_vs_httpx
from stack import ROOT, Http, Stack, free_port

BLENDER = "/api/v1/blender"
FREECAD = "/api/v1/freecad"
PROBE = "BenchProbe"


@dataclass(frozen=True)
class Sizes:
    calls: int  # per side, for the gateway overhead
    reply_calls: int  # per side, 100 KB replies
    blob_calls: int  # per side, 5 MB replies
    cubes: int
    load_seconds: float
    connections: int
    list_runs: int
    renders: int  # per side
    boxes: int
    booleans: int  # per side
    # Unrecorded runs before a figure measures (per side where two are compared): connections opened, code paths
    # and caches warm, Blender's and FreeCAD's first-call costs paid, so the first recorded sample is like the rest.
    warm_calls: int
    warm_renders: int
    warm_cubes: int
    warm_boxes: int
    warm_booleans: int
    # Worker pools (bench/pools.py)
    session_creates: int
    interactive_calls: int  # per side
    conversions: int  # per side
    trivial_jobs: int
    cancels: int
    durability_calls: int  # per policy
    restore_objects: int


FULL = Sizes(
    calls=2000,
    reply_calls=400,
    blob_calls=20,
    cubes=10_000,
    load_seconds=20,
    connections=50,
    list_runs=30,
    renders=10,
    boxes=2000,
    booleans=60,
    warm_calls=200,
    warm_renders=3,
    warm_cubes=500,
    warm_boxes=200,
    warm_booleans=5,
    session_creates=15,
    interactive_calls=200,
    conversions=40,
    trivial_jobs=40,
    cancels=3,
    durability_calls=300,
    restore_objects=1000,
)
TINY = Sizes(
    calls=40,
    reply_calls=10,
    blob_calls=2,
    cubes=200,
    load_seconds=2,
    connections=50,
    list_runs=3,
    renders=1,
    boxes=40,
    booleans=3,
    warm_calls=5,
    warm_renders=1,
    warm_cubes=10,
    warm_boxes=5,
    warm_booleans=1,
    session_creates=2,
    interactive_calls=10,
    conversions=4,
    trivial_jobs=3,
    cancels=1,
    durability_calls=10,
    restore_objects=50,
)


def latency_text(p50: float, p99: float) -> str:
    return f"p50 {p50:.2f} / p99 {p99:.2f} ms"


# ---------------------------------------------------------------------------------------------- gateway overhead
def gateway_overhead(stack: Stack, sizes: Sizes) -> list[Row]:
    """GET /objects/{name} over a kept-alive connection vs. the same object.get straight to the host server."""
    direct = stack.blender.client()
    name = probe_object(stack)
    http = stack.http()
    direct_s, rest_s = side_by_side(
        lambda: direct.call("object.get", {"name": name}),
        lambda: http.call("GET", f"{BLENDER}/objects/{name}"),
        sizes.calls,
        warm=sizes.warm_calls,
    )
    d50, d99, r50, r99 = (ms(percentile(s, q)) for s in (direct_s, rest_s) for q in (0.5, 0.99))
    return [
        Row(
            "gateway overhead",
            f"REST {latency_text(r50, r99)}; direct {latency_text(d50, d99)}",
            "REST p50 ≤ direct p50 + 1 ms",
            r50 <= d50 + 1.0,
            {"rest_p50_ms": r50, "rest_p99_ms": r99, "direct_p50_ms": d50, "direct_p99_ms": d99},
        )
    ]


def probe_object(stack: Stack) -> str:
    """An otherwise empty scene with one cube to read: a lookup by name costs more in a larger scene."""
    client = stack.blender.client()
    client.call("scene.clear", {})
    return str(client.call("primitive.create", {"type": "cube", "name": PROBE})["name"])


# ---------------------------------------------------------------------------------------------- pooled vs per-call
BLOB = "test.blob"
REPLIES = (("100 KB reply", 100 * 1024), ("5 MB reply", 5 * 1024 * 1024))


def call_on_new_connection(port: int, method: str, params: dict[str, Any]) -> Any:
    """The way many Blender bridges do it: connect, send, read until the JSON parses, close."""
    request = {"jsonrpc": "2.0", "method": method, "params": params, "id": 1}
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(json.dumps(request).encode() + b"\n")
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("the host closed the connection before a whole reply arrived")
            data += chunk
            try:
                return json.loads(data)
            except ValueError:
                continue


def pooled_vs_per_call(stack: Stack, sizes: Sizes) -> list[Row]:
    """BaseSocketClient (pooled, persistent) vs. a new TCP connection per call, on the same host server.

    The host is tests/fake_host.py: the real HostServer, whose test.blob method (run through the main-thread pump
    like every application command) returns a string of the asked size. It has no token, so the per-call side pays
    no rpc.hello. Both sides receive the same reply; they differ in the connection and in how they read it.
    """
    port = stack.fake_host_port()
    loop = asyncio.new_event_loop()
    client = BaseSocketClient(BackendSettings(port=port))

    async def pooled_calls(params: dict[str, Any], count: int) -> list[float]:
        latencies = []
        for _ in range(count):
            started = time.perf_counter()
            await client.send_command(BLOB, params)
            latencies.append(time.perf_counter() - started)
        return latencies

    def pooled(params: dict[str, Any]) -> Callable[[int], list[float]]:
        return lambda count: loop.run_until_complete(pooled_calls(params, count))

    def per_call(params: dict[str, Any]) -> Callable[[int], list[float]]:
        return lambda count: [timed(lambda: call_on_new_connection(port, BLOB, params)) for _ in range(count)]

    rows = []
    try:
        for (label, size), calls in zip(REPLIES, (sizes.reply_calls, sizes.blob_calls), strict=True):
            params = {"size": size}
            pooled_s, fresh_s = alternate_blocks(
                pooled(params),
                per_call(params),
                calls,
                rounds=min(10, calls),
                # Each side's own warm-up: the pool's connection opened, both readers and the host's allocator
                # used to replies of this size; about a tenth of the recorded calls, at least two.
                warm=max(2, calls // 10),
            )
            pooled_ms, fresh_ms = ms(percentile(pooled_s, 0.5)), ms(percentile(fresh_s, 0.5))
            rows.append(
                Row(
                    f"pooled vs per-call ({label})",
                    f"pooled p50 {pooled_ms:.2f} ms; per-call {fresh_ms:.2f} ms; {fresh_ms / pooled_ms:.1f}×",
                    "pooled ≥ 3× faster",
                    fresh_ms >= 3 * pooled_ms,
                    {
                        "reply_chars": size,
                        "pooled_p50_ms": pooled_ms,
                        "per_call_p50_ms": fresh_ms,
                        "speedup": fresh_ms / pooled_ms,
                    },
                )
            )
    finally:
        loop.run_until_complete(client.disconnect())
        loop.close()
    return rows


# ---------------------------------------------------------------------------------------------- bulk creation
def cube_params(index: int) -> dict[str, Any]:
    return {"size": 0.5, "location": [index % 100, index // 100 % 100, index // 10_000]}


def bulk_creation(stack: Stack, sizes: Sizes) -> list[Row]:
    """N cubes with one REST call each (cost of the last tenth vs. the first) and N in one batch call."""
    http = stack.http()

    def create_cube(index: int) -> float:
        return timed(lambda: http.call("POST", f"{BLENDER}/primitives/cube", cube_params(index)))

    # Warm-up, then an empty scene: the first measured tenth should differ from the last only by the scene's size,
    # not by first-call costs (the pool's connection, the cube template, code paths the gateway has not run yet).
    for index in range(sizes.warm_cubes):
        create_cube(index)
    http.call("DELETE", f"{BLENDER}/scene")
    latencies = [create_cube(index) for index in range(sizes.cubes)]
    tenth = sizes.cubes // 10
    blocks = blocks_of(latencies, tenth)
    ratio = blocks[-1] / blocks[0]
    one_by_one = sum(latencies)
    http.call("DELETE", f"{BLENDER}/scene")
    create_cubes_in_one_batch(stack, sizes.warm_cubes)  # the batch route's own warm-up
    http.call("DELETE", f"{BLENDER}/scene")
    batch_seconds = create_cubes_in_one_batch(stack, sizes.cubes)
    return [
        Row(
            "bulk creation (a) one REST call each",
            f"{sizes.cubes:,} in {one_by_one:.1f} s; last/first {tenth:,} = {ratio:.2f}",
            "ratio ≤ 1.5",
            ratio <= 1.5,
            {"cubes": sizes.cubes, "seconds": one_by_one, "last_first_ratio": ratio},
        ),
        Row(
            "bulk creation (b) one batch call",
            f"{sizes.cubes:,} in {batch_seconds:.2f} s",
            "≤ 1.2 s for 10,000",
            batch_seconds <= BATCH_TARGET_SECONDS * sizes.cubes / 10_000,
            {"cubes": sizes.cubes, "seconds": batch_seconds},
        ),
    ]


BATCH_TARGET_SECONDS = 1.2  # for 10,000 cubes; Blender's own object creation is about half of it


def create_cubes_in_one_batch(stack: Stack, count: int) -> float:
    """Seconds one POST /batch of ``count`` primitive.create steps takes at the client (reading the reply included)."""
    steps = [{"method": "primitive.create", "params": {"type": "cube", **cube_params(i)}} for i in range(count)]
    http = stack.http()
    started = time.perf_counter()
    result = http.call("POST", f"{BLENDER}/batch", {"steps": steps})
    seconds = time.perf_counter() - started
    if result["completed"] != count:
        raise RuntimeError(f"the batch stopped after {result['completed']} of {count} steps")
    return seconds


# ---------------------------------------------------------------------------------------------- large scenes
def large_scenes(stack: Stack, sizes: Sizes) -> list[Row]:
    """GET /objects with N objects in the scene: one page of 100, and the whole list."""
    http = stack.http()
    if http.call("GET", f"{BLENDER}/scene")["object_count"] != sizes.cubes:
        http.call("DELETE", f"{BLENDER}/scene")
        create_cubes_in_one_batch(stack, sizes.cubes)
    whole = http.call("GET", f"{BLENDER}/objects?limit={sizes.cubes}")
    if whole["total"] != sizes.cubes or len(whole["objects"]) != sizes.cubes:
        raise RuntimeError(f"listed {len(whole['objects'])} of {whole['total']} objects, expected {sizes.cubes}")
    rows = []
    for label, limit, target_ms in (("one page of 100", 100, 20.0), ("the whole list", sizes.cubes, 500.0)):

        def list_page(limit: int = limit) -> None:
            http.call("GET", f"{BLENDER}/objects?limit={limit}")

        list_page()  # warm
        samples = [timed(list_page) for _ in range(sizes.list_runs)]
        p50 = ms(statistics.median(samples))
        rows.append(
            Row(
                f"large scene: {label}",
                f"p50 {p50:.1f} ms with {sizes.cubes:,} objects",
                f"≤ {target_ms:.0f} ms",
                p50 <= target_ms,
                {"objects": sizes.cubes, "limit": limit, "p50_ms": p50},
            )
        )
    return rows


# ---------------------------------------------------------------------------------------------- concurrency + memory
WRK_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def parse_wrk(output: str) -> dict[str, float]:
    """Requests/s, the p50/p99 latencies (ms) and every kind of error from `wrk --latency` output."""

    def number(pattern: str) -> float:
        match = re.search(pattern, output)
        if match is None:
            raise RuntimeError(f"no {pattern!r} in the wrk output:\n{output}")
        return float(match.group(1))

    def latency(percent: str) -> float:
        match = re.search(rf"^\s*{percent}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
        if match is None:
            raise RuntimeError(f"no {percent}% latency in the wrk output:\n{output}")
        return float(match.group(1)) * WRK_UNITS[match.group(2)]

    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "requests": number(r"(\d+) requests in"),
        "requests_per_s": number(r"Requests/sec:\s+([\d.]+)"),
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "errors": sum(int(n) for n in socket_errors.groups()) if socket_errors else 0,
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
    }


def concurrency_and_memory(stack: Stack, sizes: Sizes) -> list[Row]:
    """wrk with N connections on GET /objects/{name} for a while; then the gateway's resident memory."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed (scripts/install.sh installs it: apt-get install wrk)")
    url = f"{stack.gateway.url}{BLENDER}/objects/{probe_object(stack)}"
    subprocess.run([wrk, "-t1", "-c4", "-d1s", url], check=True, capture_output=True)  # warm every pooled connection
    command = [wrk, "-t2", f"-c{sizes.connections}", f"-d{sizes.load_seconds:g}s", "--latency", "--timeout", "5s", url]
    result = subprocess.run(command, check=True, capture_output=True, text=True)
    load = parse_wrk(result.stdout)
    errors = int(load["errors"] + load["non_2xx"])
    rss_mb = resident_mb(stack.gateway.process.pid)
    met = load["requests_per_s"] >= 1500 and errors == 0 and load["p99_ms"] < 50
    return [
        Row(
            "concurrency",
            f"{load['requests_per_s']:,.0f} req/s, {errors} errors, p99 {load['p99_ms']:.1f} ms "
            f"({sizes.connections} connections, {sizes.load_seconds:g} s)",
            "≥ 1,500 req/s, 0 errors, p99 < 50 ms",
            met,
            {**load, "connections": sizes.connections, "seconds": sizes.load_seconds},
        ),
        Row(
            "memory",
            f"gateway RSS {rss_mb:.0f} MB after the concurrency run",
            "≤ 150 MB",
            rss_mb <= 150,
            {"gateway_rss_mb": rss_mb},
        ),
    ]


def resident_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


# ---------------------------------------------------------------------------------------------- render
RENDER = {"engine": "WORKBENCH", "resolution": [640, 480], "format": "PNG"}
# The same render as render.image does it, timed inside Blender around bpy.ops.render.render alone.
DIRECT_RENDER = """
import time
render = bpy.context.scene.render
render.engine = "BLENDER_WORKBENCH"
render.resolution_x, render.resolution_y, render.resolution_percentage = {width}, {height}, 100
render.image_settings.file_format = "PNG"
render.image_settings.color_mode = "RGBA"
render.filepath = workspace + "/bench-direct.png"
started = time.perf_counter()
bpy.ops.render.render(write_still=True)
result = time.perf_counter() - started
"""


def render_overhead(stack: Stack, sizes: Sizes) -> list[Row]:
    """A REST render (wall time at the client) vs. the same render timed inside Blender."""
    http = stack.http()
    direct = stack.blender.client()
    http.call("DELETE", f"{BLENDER}/scene")
    for index in range(5):
        http.call("POST", f"{BLENDER}/primitives/sphere", {"location": [index * 2.5 - 5, 0, 1], "segments": 64})
    http.call("POST", f"{BLENDER}/primitives/plane", {"size": 20})
    http.call("POST", f"{BLENDER}/camera", {"location": [0, -14, 6], "look_at": [0, 0, 1]})
    http.call("POST", f"{BLENDER}/light", {"type": "SUN"})
    width, height = RENDER["resolution"]
    code = DIRECT_RENDER.format(width=width, height=height)
    inside: list[float] = []

    def render_directly() -> None:
        inside.append(direct.call("code.execute", {"code": code})["result"])

    rest_s, _ = side_by_side(
        lambda: http.call("POST", f"{BLENDER}/render", {**RENDER, "output": "bench-rest.png"}),
        render_directly,
        sizes.renders,
        rounds=sizes.renders,  # alternate every render
        warm=sizes.warm_renders,  # shaders compiled, the scene's first evaluation and the PNG writer paid on each side
    )
    del inside[: sizes.warm_renders]  # the warm-up renders
    rest, direct_s = statistics.median(rest_s), statistics.median(inside)
    ratio = rest / direct_s
    return [
        Row(
            "render overhead",
            f"REST {ms(rest):.0f} ms vs. {ms(direct_s):.0f} ms inside Blender = {ratio:.3f} (Workbench 640×480)",
            "ratio ≤ 1.05",
            ratio <= 1.05,
            {"rest_ms": ms(rest), "inside_ms": ms(direct_s), "ratio": ratio},
        )
    ]


# ---------------------------------------------------------------------------------------------- FreeCAD
def freecad(stack: Stack, sizes: Sizes) -> list[Row]:
    """N boxes, one REST call each (last quarter vs. first); boolean.subtract through REST vs. direct."""
    http = stack.http()
    direct = stack.freecad.client()

    def add_boxes(count: int) -> list[float]:
        """Latencies of ``count`` POST /primitives/box into a new document, closed afterwards."""
        doc = direct.call("document.create", {"name": "BenchBoxes"})["name"]

        def add_box(index: int) -> float:
            body = {"document": doc, "location": [index * 12.0, 0, 0]}
            return timed(lambda: http.call("POST", f"{FREECAD}/primitives/box", body))

        try:
            return [add_box(index) for index in range(count)]
        finally:
            direct.call("document.close", {"name": doc})

    # Warm-up in a document of its own: the first measured quarter should differ from the last only by the
    # document's size, not by the first calls' costs (the pool's connection, FreeCAD's first Part::Box).
    add_boxes(sizes.warm_boxes)
    latencies = add_boxes(sizes.boxes)
    quarter = sizes.boxes // 4
    ratio = statistics.mean(latencies[-quarter:]) / statistics.mean(latencies[:quarter])
    rest50, direct50 = boolean_overhead(http, direct, sizes)
    return [
        Row(
            "FreeCAD boxes, one REST call each",
            f"{sizes.boxes:,} in {sum(latencies):.1f} s; last/first {quarter:,} = {ratio:.2f}",
            "last/first ≤ 1.5",
            ratio <= 1.5,
            {"boxes": sizes.boxes, "seconds": sum(latencies), "last_first_ratio": ratio},
        ),
        Row(
            "FreeCAD boolean overhead",
            f"REST p50 {rest50:.2f} ms; direct {direct50:.2f} ms; {rest50 - direct50:+.2f} ms",
            "≤ 1 ms",
            rest50 - direct50 <= 1.0,
            {"rest_p50_ms": rest50, "direct_p50_ms": direct50, "overhead_ms": rest50 - direct50},
        ),
    ]


def boolean_overhead(http: Http, direct: RpcClient, sizes: Sizes) -> tuple[float, float]:
    """Median ms of boolean/subtract through REST and of boolean.subtract straight to the host, alternating one
    by one, each on a fresh two-solid document set up directly and untimed."""

    def fresh_pair() -> str:
        small = str(direct.call("document.create", {"name": "BenchCut"})["name"])
        direct.call("primitive.create", {"type": "box", "document": small, "name": "A"})
        direct.call("primitive.create", {"type": "sphere", "document": small, "name": "B", "position": [5, 5, 5]})
        return small

    def timed_boolean(run: Callable[[str], Any], samples: list[float]) -> Callable[[], None]:
        """Time only the boolean: each run gets a fresh two-solid document, closed afterwards."""

        def one() -> None:
            small = fresh_pair()
            samples.append(timed(lambda: run(small)))
            direct.call("document.close", {"name": small})

        return one

    def through_rest(doc: str) -> Any:
        return http.call("POST", f"{FREECAD}/boolean/subtract", {"object1": "A", "object2": "B", "document": doc})

    def straight_to_host(doc: str) -> Any:
        return direct.call("boolean.subtract", {"base": "A", "tool": "B", "keep_inputs": False, "document": doc})

    rest_samples: list[float] = []
    direct_samples: list[float] = []
    side_by_side(
        timed_boolean(through_rest, rest_samples),
        timed_boolean(straight_to_host, direct_samples),
        sizes.booleans,
        rounds=sizes.booleans,  # alternate every run: a boolean varies by milliseconds from run to run
        warm=sizes.warm_booleans,
    )
    del rest_samples[: sizes.warm_booleans], direct_samples[: sizes.warm_booleans]  # the warm-up runs
    return ms(statistics.median(rest_samples)), ms(statistics.median(direct_samples))


# ---------------------------------------------------------------------------------------------- start-up
def start_up(stack: Stack, sizes: Sizes) -> list[Row]:
    """scripts/start_all.sh until all-green health (it waits for that itself), then scripts/stop_all.sh."""
    with tempfile.TemporaryDirectory(prefix="bridge3d-bench-state-") as state:
        env = {
            **os.environ,
            "BRIDGE3D_STATE_DIR": state,
            "BRIDGE3D_PORT": str(free_port()),
            "BRIDGE3D_BLENDER__PORT": str(free_port()),
            "BRIDGE3D_FREECAD__PORT": str(free_port()),
        }
        started = time.perf_counter()
        try:
            result = subprocess.run(
                ["bash", str(ROOT / "scripts" / "start_all.sh")], env=env, capture_output=True, text=True, timeout=180
            )
            seconds = time.perf_counter() - started
            if result.returncode != 0:
                raise RuntimeError(f"start_all.sh failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        finally:
            subprocess.run(
                ["bash", str(ROOT / "scripts" / "stop_all.sh")], env=env, capture_output=True, timeout=120, check=False
            )
    return [
        Row(
            "start-up",
            f"start_all.sh to all-green health in {seconds:.1f} s",
            "≤ 10 s",
            seconds <= 10,
            {"seconds": seconds},
        )
    ]


# In this order: the concurrency run reads from a small scene before bulk creation fills it.
FIGURES: dict[str, Callable[[Stack, Sizes], list[Row]]] = {
    "overhead": gateway_overhead,
    "pooled": pooled_vs_per_call,
    "concurrency": concurrency_and_memory,
    "bulk": bulk_creation,
    "large": large_scenes,
    "render": render_overhead,
    "freecad": freecad,
    "startup": start_up,
    "sdk": sdk_vs_httpx,
    "sessions": pools.session_creation,
    "interactive": pools.interactive_during_renders,
    "conversions": pools.conversions,
    "jobs": pools.trivial_jobs_and_cancel,
    "durability": pools.durability,
}
