"""Round-trip latency and throughput of a no-op call: pooled persistent connections vs a new TCP connection per call.

Usage: python bench/rpc_roundtrip.py [--calls N] [--concurrency C]
Starts the fake host server (tests/fake_host.py) in a subprocess and prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from backends import free_port  # noqa: E402
from bridge3d.api.clients.base_client import BaseSocketClient  # noqa: E402
from bridge3d.api.config import BackendSettings  # noqa: E402
from bridge3d.rpc import RpcClient, RpcConnectionError  # noqa: E402

METHOD = "test.noop"  # runs through the main-thread pump, like every application command


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def call_with_new_connection(port: int, request_id: int) -> None:
    """The way many Blender bridges do it: connect, send, read until the JSON parses, close."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(json.dumps({"jsonrpc": "2.0", "method": METHOD, "id": request_id}).encode() + b"\n")
        data = b""
        while True:
            data += sock.recv(65536)
            try:
                json.loads(data)
                return
            except ValueError:
                continue


async def pooled(port: int, calls: int, concurrency: int) -> tuple[list[float], float]:
    client = BaseSocketClient(BackendSettings(port=port, pool_size=max(1, min(concurrency, 4))))
    latencies: list[float] = []

    async def worker(count: int) -> None:
        for _ in range(count):
            started = time.perf_counter()
            await client.send_command(METHOD)
            latencies.append(time.perf_counter() - started)

    await client.send_command("rpc.ping")  # warm the pool
    started = time.perf_counter()
    await asyncio.gather(*(worker(calls // concurrency) for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    await client.disconnect()
    return latencies, elapsed


async def per_call(port: int, calls: int, concurrency: int) -> tuple[list[float], float]:
    latencies: list[float] = []

    async def worker(offset: int, count: int) -> None:
        for index in range(count):
            started = time.perf_counter()
            await asyncio.to_thread(call_with_new_connection, port, offset + index)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker(i * calls, calls // concurrency) for i in range(concurrency)))
    return latencies, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args()
    port = free_port()
    host = subprocess.Popen([sys.executable, str(ROOT / "tests" / "fake_host.py"), "--port", str(port)])
    try:
        for _ in range(200):
            try:
                with RpcClient(port=port, timeout=1) as probe:
                    probe.call("rpc.ping")
                break
            except (RpcConnectionError, TimeoutError):
                time.sleep(0.05)
        rows = []
        for concurrency in sorted({1, args.concurrency}):
            for label, runner in (("pooled persistent", pooled), ("new TCP connection per call", per_call)):
                latencies, elapsed = asyncio.run(runner(port, args.calls, concurrency))
                rows.append(
                    (
                        label,
                        concurrency,
                        len(latencies),
                        percentile(latencies, 0.5) * 1e3,
                        percentile(latencies, 0.99) * 1e3,
                        len(latencies) / elapsed,
                    )
                )
        print(f"\nno-op round trip ({METHOD} through the main-thread pump), {args.calls} calls per row")
        print(f"{'client':<30} {'tasks':>5} {'calls':>6} {'p50 ms':>8} {'p99 ms':>8} {'calls/s':>9}")
        for label, concurrency, count, p50, p99, rate in rows:
            print(f"{label:<30} {concurrency:>5} {count:>6} {p50:>8.3f} {p99:>8.3f} {rate:>9.0f}")
        pooled_p50 = statistics.median(r[3] for r in rows if r[0].startswith("pooled"))
        fresh_p50 = statistics.median(r[3] for r in rows if r[0].startswith("new"))
        print(f"\npooled p50 is {fresh_p50 / pooled_p50:.1f}x faster than a new connection per call")
    finally:
        host.terminate()
        host.wait()


if __name__ == "__main__":
    main()
