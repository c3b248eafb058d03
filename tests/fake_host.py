"""A host server with test methods, run in-process or as a killable subprocess."""

from __future__ import annotations

import argparse
import threading
import time
from typing import Any

from bridge3d.rpc import HostServer, Registry, ServerConfig
from bridge3d.rpc.execution import run_user_code

GATE_TIMEOUT = 120.0  # test.block gives up after this long, so a test that fails never leaves the pump stuck


def build_registry(gate: threading.Event | None = None) -> Registry:
    """The test methods; ``test.block`` holds the main thread until ``gate`` is set (or GATE_TIMEOUT passes)."""
    registry = Registry()
    gate = gate or threading.Event()

    def echo(value: Any = None) -> Any:
        """Return the value unchanged."""
        return value

    def add(a: float, b: float) -> float:
        """Sum of two numbers."""
        return a + b

    def sleep(seconds: float) -> str:
        """Block the main thread."""
        time.sleep(seconds)
        return "slept"

    def block() -> str:
        """Block the main thread until the test opens the gate: as long as the test needs, however slow the machine."""
        return "released" if gate.wait(GATE_TIMEOUT) else "gate timeout"

    def blob(size: int) -> str:
        """A string of ``size`` characters."""
        return "x" * size

    def noop() -> None:
        """Do nothing on the main thread."""

    def fail() -> None:
        """Raise an unexpected exception."""
        raise RuntimeError("boom")

    registry.add("test.echo", echo)
    registry.add("test.add", add)
    registry.add("test.sleep", sleep)
    registry.add("test.block", block)
    registry.add("test.blob", blob)
    registry.add("test.noop", noop)
    registry.add("test.fail", fail)
    registry.add("code.execute", lambda code: run_user_code(code, {}), cancellable=True)
    return registry


class InProcessHost:
    """A HostServer whose pump runs on a background thread standing in for the app's main thread."""

    def __init__(
        self,
        *,
        port: int = 0,
        token: str | None = None,
        max_frame_bytes: int = 64 * 1024 * 1024,
        hello_timeout: float = 10.0,
        max_connections: int = 64,
    ) -> None:
        config = ServerConfig(
            port=port,
            token=token,
            max_frame_bytes=max_frame_bytes,
            app_name="fake",
            app_version="1",
            hello_timeout=hello_timeout,
            max_connections=max_connections,
        )
        self.gate = threading.Event()  # test.block returns once this is set
        self.server = HostServer(build_registry(self.gate), config)
        self.server.start()
        self.port = self.server.port
        self._pump = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._pump.start()

    def stop(self) -> None:
        self.gate.set()  # a blocked test.block would hold the pump thread
        self.server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    server = HostServer(build_registry(), ServerConfig(port=args.port, app_name="fake"))
    server.start()
    server.serve_forever()


if __name__ == "__main__":
    main()
