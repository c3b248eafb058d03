"""The processes a benchmark run measures, started on free ports and always stopped again.

The real headless Blender and FreeCAD host servers and the gateway are started with the
same helpers the test suite uses (tests/backends.py, tests/gateway.py), so benchmarks
and tests cannot drift apart in how they run the stack. Each process starts on first
use, so ``bench/run.py --only render`` does not pay for FreeCAD.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import http.client
import json
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from backends import Backend, free_port, start_backend, stop_process  # noqa: E402
from bridge3d.rpc import RpcClient, RpcConnectionError  # noqa: E402
from gateway import Gateway, start_gateway  # noqa: E402
from measure import Row  # noqa: E402

# The gateway runs as `bridge3d api` runs it: uvicorn's access log off (the gateway logs each request itself).
GATEWAY_ENV = {"UVICORN_ACCESS_LOG": "false"}


class Http:
    """One kept-alive HTTP/1.1 connection with the least client-side cost (stdlib http.client).

    A heavier client (httpx, requests) would add its own overhead to every REST figure.
    """

    def __init__(self, base_url: str, timeout: float = 600.0) -> None:
        host, port = base_url.removeprefix("http://").split(":")
        self._connection = http.client.HTTPConnection(host, int(port), timeout=timeout)

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        payload = json.dumps(body).encode() if body is not None else None
        try:
            self._connection.request(method, path, body=payload, headers=headers)
            response = self._connection.getresponse()
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            # uvicorn closes a connection idle for 5 s (its keep-alive timeout) before it reads a new request,
            # so the request did not run: send it again on a new connection.
            self._connection.close()
            self._connection.request(method, path, body=payload, headers=headers)
            response = self._connection.getresponse()
        return response.status, response.read()

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """The envelope's result; raises on anything but a 2xx success envelope."""
        status, data = self.request(method, path, body)
        if status >= 300:
            raise RuntimeError(f"{method} {path} -> {status}: {data[:500]!r}")
        return json.loads(data)["result"]

    def close(self) -> None:
        self._connection.close()


class Stack:
    """Lazily started processes of one benchmark run; ``close()`` stops every one that was started."""

    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="bridge3d-bench-")
        self.tmp = Path(self._tmp.name)
        self._blender: Backend | None = None
        self._freecad: Backend | None = None
        self._gateway: Gateway | None = None
        self._fake_host: subprocess.Popen[bytes] | None = None
        self._fake_host_port = 0
        self._closers: list[Any] = []

    @property
    def blender(self) -> Backend:
        if self._blender is None:
            self._blender = start_backend("blender", self.tmp)
        return self._blender

    @property
    def freecad(self) -> Backend:
        if self._freecad is None:
            self._freecad = start_backend("freecad", self.tmp)
        return self._freecad

    @property
    def gateway(self) -> Gateway:
        if self._gateway is None:
            self._gateway = start_gateway(self.tmp, self.blender, self.freecad, extra_env=GATEWAY_ENV)
        return self._gateway

    def http(self) -> Http:
        client = Http(self.gateway.url)
        self._closers.append(client.close)
        return client

    def fake_host_port(self) -> int:
        """A HostServer with no-op and blob test methods (tests/fake_host.py), no token, in a subprocess."""
        if self._fake_host is None:
            port = free_port()
            self._fake_host = subprocess.Popen(
                [sys.executable, str(ROOT / "tests" / "fake_host.py"), "--port", str(port)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            wait_for_ping(port)
            self._fake_host_port = port
        return self._fake_host_port

    def processes(self) -> list[dict[str, object]]:
        """Pid and command line of every process this stack started (the test checks none outlives the run)."""
        started: list[subprocess.Popen[bytes] | None] = [
            self._blender.process if self._blender else None,
            self._freecad.process if self._freecad else None,
            self._gateway.process if self._gateway else None,
            self._fake_host,
        ]
        return [{"pid": p.pid, "command": command_line(p)} for p in started if p is not None]

    def close(self) -> None:
        for close in self._closers:
            with contextlib.suppress(Exception):
                close()
        if self._gateway is not None:
            self._gateway.stop()
        for backend in (self._blender, self._freecad):
            if backend is not None:
                backend.stop()
        if self._fake_host is not None:
            stop_process(self._fake_host)
        self._tmp.cleanup()


def command_line(process: subprocess.Popen[bytes]) -> str:
    """The process's arguments joined by spaces, as /proc/<pid>/cmdline reads with its NULs made spaces."""
    args = process.args
    if isinstance(args, (list, tuple)):
        return " ".join(str(arg) for arg in args)
    return str(args)


def wait_for_ping(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with RpcClient(port=port, timeout=1) as probe:
                probe.call("rpc.ping")
            return
        except (RpcConnectionError, TimeoutError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def run_alone(
    figure: Callable[[Stack, Any], list[Row]], description: str | None, default_calls: int, argv: list[str] | None
) -> int:
    """A figure of bench/run.py as a script of its own: ``--calls`` a side (``--tiny``: 40), the rows printed as
    the table's lines and, with ``--json``, written to a file."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=default_calls, help=f"calls a side (default {default_calls})")
    parser.add_argument("--tiny", action="store_true", help="40 calls a side: checks it runs, in seconds")
    parser.add_argument("--json", type=Path, help="also write the rows to this file")
    args = parser.parse_args(argv)
    sizes = types.SimpleNamespace(calls=40 if args.tiny else args.calls)
    stack = Stack()
    try:
        rows = figure(stack, sizes)
    finally:
        stack.close()
    for measured in rows:
        print(f"{measured.figure} | {measured.value} | {measured.target} | {'yes' if measured.met else 'NO'}")
    if args.json:
        args.json.write_text(json.dumps([dataclasses.asdict(measured) for measured in rows], indent=2))
    return 0
