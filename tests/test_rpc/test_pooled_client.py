"""BaseSocketClient against real host servers: pooling, timeouts, kills, cancellation, events."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from backends import free_port
from bridge3d.api.clients.base_client import BaseSocketClient
from bridge3d.api.clients.events import EventSubscription
from bridge3d.api.config import BackendSettings
from bridge3d.api.errors import backend_error
from bridge3d.rpc import RpcClient, RpcConnectionError, RpcError, RpcTimeout, errors
from fake_host import InProcessHost

pytestmark = pytest.mark.anyio
TESTS_DIR = Path(__file__).resolve().parent.parent
# How long to wait for what takes milliseconds on an idle machine: generous, for a loaded one.
PATIENCE = 120.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def host() -> Iterator[InProcessHost]:
    server = InProcessHost()
    yield server
    server.stop()


def settings_for(port: int, **overrides: object) -> BackendSettings:
    values: dict[str, object] = {"port": port, "pool_size": 4, "call_timeout": 10.0, "connect_timeout": 1.0}
    values.update(overrides)
    return BackendSettings.model_validate(values)


def server_connections(port: int) -> int:
    with RpcClient(port=port) as probe:
        return int(probe.call("rpc.describe")["connections"]) - 1  # minus the probe itself


def running(port: int) -> str | None:
    """The method the host's main thread runs (rpc.describe, answered by its IO thread)."""
    with RpcClient(port=port, timeout=PATIENCE) as probe:
        method: str | None = probe.call("rpc.describe")["running"]
        return method


async def until_running(port: int, method: str | None) -> None:
    await _wait_for(lambda: running(port) == method, f"the host to run {method}")


def start_subprocess_host(port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, str(TESTS_DIR / "fake_host.py"), "--port", str(port)], cwd=TESTS_DIR)
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        try:
            with RpcClient(port=port, timeout=1) as probe:
                probe.call("rpc.ping")
            return process
        except (RpcConnectionError, TimeoutError):
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("fake host did not start")


async def test_thousand_calls_from_fifty_tasks_over_four_connections(host: InProcessHost) -> None:
    client = BaseSocketClient(settings_for(host.port))

    async def worker(task_index: int) -> list[bool]:
        outcomes = []
        for call_index in range(20):
            a, b = task_index * 1000, call_index
            outcomes.append(await client.send_command("test.add", {"a": a, "b": b}) == a + b)
        return outcomes

    results = await asyncio.gather(*(worker(i) for i in range(50)))
    assert sum(len(r) for r in results) == 1000
    assert all(all(r) for r in results)
    assert client.pool.in_use == 0
    assert client.pool.opened <= 4 and client.pool.idle <= 4
    assert server_connections(host.port) == client.pool.idle
    await client.disconnect()
    await _wait_for(lambda: server_connections(host.port) == 0, "the server to see the pool's connections closed")


async def test_remote_errors_are_typed_and_keep_the_connection(host: InProcessHost) -> None:
    client = BaseSocketClient(settings_for(host.port))
    with pytest.raises(errors.InvalidParams) as caught:
        await client.send_command("test.add", {"a": 1})
    assert caught.value.backend == "backend"
    assert backend_error(caught.value).status_code == 422
    with pytest.raises(errors.MethodNotFound):
        await client.send_command("no.such")
    assert await client.send_command("test.add", {"a": 1, "b": 1}) == 2
    assert client.pool.opened == 1 and client.pool.discarded == 0
    await client.disconnect()


async def test_slow_handler_times_out_and_its_connection_is_not_reused(host: InProcessHost) -> None:
    client = BaseSocketClient(settings_for(host.port, call_timeout=PATIENCE))
    assert (await client.send_command("rpc.ping"))["pong"] is True
    assert client.pool.opened == 1
    with pytest.raises(RpcTimeout):  # test.block answers only when the gate opens, after this timeout
        await client.send_command("test.block", timeout=0.2)
    assert client.pool.discarded == 1 and client.pool.idle == 0
    host.gate.set()  # its late reply goes to the discarded connection
    assert await client.send_command("test.echo", {"value": "fresh"}) == "fresh"
    assert client.pool.opened == 2, "a new connection must replace the timed-out one"
    await client.disconnect()


async def test_cancelled_caller_discards_its_connection(host: InProcessHost) -> None:
    client = BaseSocketClient(settings_for(host.port, call_timeout=PATIENCE))
    task = asyncio.create_task(client.send_command("test.block"))
    await until_running(host.port, "test.block")  # the request is on the wire and running
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert client.pool.discarded == 1 and client.pool.idle == 0 and client.pool.in_use == 0
    host.gate.set()
    await until_running(host.port, None)  # the abandoned reply went to the closed socket, not to a reused one
    assert await client.send_command("test.echo", {"value": 1}) == 1
    await client.disconnect()


async def test_server_killed_mid_call_then_restarted() -> None:
    port = free_port()
    process = start_subprocess_host(port)
    # A call timeout far beyond the test's patience: the caller learns of the kill from the closed connection
    # (RpcConnectionError), never by waiting for its timeout (which would be RpcTimeout).
    client = BaseSocketClient(settings_for(port, connect_retries=1, retry_backoff=0.01, call_timeout=10 * PATIENCE))
    try:
        assert await client.send_command("test.add", {"a": 1, "b": 2}) == 3
        call = asyncio.create_task(client.send_command("test.sleep", {"seconds": 10 * PATIENCE}))
        await until_running(port, "test.sleep")
        process.kill()
        with pytest.raises(RpcConnectionError, match="closed by the host server"):
            await asyncio.wait_for(call, timeout=PATIENCE)
        process.wait()
        with pytest.raises(RpcConnectionError):
            await client.send_command("rpc.ping")
        process = start_subprocess_host(port)
        assert await client.send_command("test.add", {"a": 2, "b": 2}) == 4
    finally:
        await client.disconnect()
        process.kill()
        process.wait()


async def test_idle_connections_to_a_restarted_server_are_replaced() -> None:
    port = free_port()
    process = start_subprocess_host(port)
    client = BaseSocketClient(settings_for(port))
    try:
        await asyncio.gather(*(client.send_command("test.noop") for _ in range(8)))
        idle = client.pool.idle
        assert 1 <= idle == client.pool.opened <= 4 and client.pool.in_use == 0  # kept open for the next calls
        # Restarted off the event loop, which keeps running meanwhile as the gateway's does: it sees the idle
        # connections closed by the dying host.
        process.kill()
        await asyncio.to_thread(process.wait)
        process = await asyncio.to_thread(start_subprocess_host, port)
        # Each idle connection is dead now: the call goes out on a fresh one, and the dead ones are dropped.
        assert await client.send_command("test.echo", {"value": "back"}) == "back"
        assert client.pool.opened == idle + 1 and client.pool.idle == 1
    finally:
        await client.disconnect()
        process.kill()
        process.wait()


async def test_unreachable_backend_is_a_connection_error_not_a_timeout() -> None:
    port = free_port()
    client = BaseSocketClient(settings_for(port, connect_retries=2, retry_backoff=0.01, call_timeout=10 * PATIENCE))
    with pytest.raises(RpcConnectionError) as caught:
        await asyncio.wait_for(client.send_command("rpc.ping"), timeout=PATIENCE)  # refused: no waiting involved
    assert str(caught.value).startswith(f"Could not connect to backend at 127.0.0.1:{port}")
    mapped = backend_error(caught.value)
    assert mapped.status_code == 503 and mapped.code == "CONNECTION_FAILED"


async def test_wrong_token_is_reported_as_backend_unauthorized() -> None:
    server = InProcessHost(token="right")
    try:
        client = BaseSocketClient(settings_for(server.port, token="wrong"))
        with pytest.raises(RpcError) as caught:
            await client.send_command("rpc.ping")
        assert caught.value.code == errors.UNAUTHORIZED and backend_error(caught.value).status_code == 502
        good = BaseSocketClient(settings_for(server.port, token="right"))
        assert (await good.send_command("rpc.ping"))["pong"] is True
        await good.disconnect()
    finally:
        server.stop()


async def test_pool_acquire_times_out_when_all_connections_are_busy(host: InProcessHost) -> None:
    client = BaseSocketClient(settings_for(host.port, pool_size=1, acquire_timeout=0.2, call_timeout=PATIENCE))
    blocker = asyncio.create_task(client.send_command("test.block"))  # holds the one connection until the gate opens
    await until_running(host.port, "test.block")
    with pytest.raises(RpcTimeout, match="No free connection"):
        await client.send_command("rpc.ping")
    host.gate.set()
    assert await blocker == "released"
    await client.disconnect()


async def test_event_subscription_reconnects_and_reports_down_and_up() -> None:
    port = free_port()
    server = InProcessHost(port=port)
    client = BaseSocketClient(settings_for(port))
    subscription = EventSubscription(lambda: client, client.app_name, max_backoff=0.2)
    received: list[dict[str, object]] = []
    subscription.add_listener(received.append)
    subscription.start()
    try:
        await asyncio.wait_for(subscription.connected.wait(), PATIENCE)
        server.server.publish("object.created", {"name": "A"})
        await _wait_for(lambda: any(e["topic"] == "object.created" for e in received), "event A")
        server.stop()
        await _wait_for(lambda: any(e["topic"] == "backend.down" for e in received), "backend.down")
        server = InProcessHost(port=port)
        await _wait_for(lambda: any(e["topic"] == "backend.up" for e in received), "backend.up")
        await asyncio.wait_for(subscription.connected.wait(), PATIENCE)
        server.server.publish("object.created", {"name": "B"})
        await _wait_for(lambda: any(e.get("data") == {"name": "B"} for e in received), "event B")
        topics = [e["topic"] for e in received]
        assert topics == ["object.created", "backend.down", "backend.up", "object.created"]
    finally:
        await subscription.stop()
        server.stop()


async def _wait_for(condition: Callable[[], bool], what: str, timeout: float = PATIENCE) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout} s for {what}")
        await asyncio.sleep(0.02)
