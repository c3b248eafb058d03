"""BaseSocketClient against real host servers: pooling, timeouts, kills, cancellation, events."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
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


def start_subprocess_host(port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, str(TESTS_DIR / "fake_host.py"), "--port", str(port)], cwd=TESTS_DIR)
    deadline = time.monotonic() + 20
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
    await asyncio.sleep(0.1)
    assert server_connections(host.port) == 0


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
    client = BaseSocketClient(settings_for(host.port))
    assert await client.send_command("rpc.ping")
    assert client.pool.opened == 1
    with pytest.raises(RpcTimeout):
        await client.send_command("test.sleep", {"seconds": 1.0}, timeout=0.2)
    assert client.pool.discarded == 1 and client.pool.idle == 0
    assert await client.send_command("test.echo", {"value": "fresh"}) == "fresh"
    assert client.pool.opened == 2, "a new connection must replace the timed-out one"
    await client.disconnect()


async def test_cancelled_caller_discards_its_connection(host: InProcessHost) -> None:
    client = BaseSocketClient(settings_for(host.port))
    task = asyncio.create_task(client.send_command("test.sleep", {"seconds": 0.5}))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert client.pool.discarded == 1 and client.pool.idle == 0 and client.pool.in_use == 0
    await asyncio.sleep(0.6)  # the abandoned reply arrives on the closed socket, not on a reused one
    assert await client.send_command("test.echo", {"value": 1}) == 1
    await client.disconnect()


async def test_server_killed_mid_call_then_restarted() -> None:
    port = free_port()
    process = start_subprocess_host(port)
    client = BaseSocketClient(settings_for(port, connect_retries=1, retry_backoff=0.01))
    try:
        assert await client.send_command("test.add", {"a": 1, "b": 2}) == 3
        call = asyncio.create_task(client.send_command("test.sleep", {"seconds": 30}))
        await asyncio.sleep(0.3)
        process.kill()
        started = time.monotonic()
        with pytest.raises(RpcConnectionError):
            await asyncio.wait_for(call, timeout=5)
        assert time.monotonic() - started < 2, "the caller must learn promptly"
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
        assert client.pool.idle > 0
        process.kill()
        process.wait()
        process = start_subprocess_host(port)
        await asyncio.sleep(0.05)
        assert await client.send_command("test.echo", {"value": "back"}) == "back"
    finally:
        await client.disconnect()
        process.kill()
        process.wait()


async def test_unreachable_backend_fails_fast_with_connection_error() -> None:
    client = BaseSocketClient(settings_for(free_port(), connect_retries=2, retry_backoff=0.01))
    started = time.monotonic()
    with pytest.raises(RpcConnectionError) as caught:
        await client.send_command("rpc.ping")
    assert time.monotonic() - started < 1.0
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
    client = BaseSocketClient(settings_for(host.port, pool_size=1, acquire_timeout=0.2))
    blocker = asyncio.create_task(client.send_command("test.sleep", {"seconds": 1.0}))
    await asyncio.sleep(0.05)
    with pytest.raises(RpcTimeout, match="No free connection"):
        await client.send_command("rpc.ping")
    assert await blocker == "slept"
    await client.disconnect()


async def test_event_subscription_reconnects_and_reports_down_and_up() -> None:
    port = free_port()
    server = InProcessHost(port=port)
    client = BaseSocketClient(settings_for(port))
    subscription = EventSubscription(client, max_backoff=0.2)
    received: list[dict[str, object]] = []
    subscription.add_listener(received.append)
    subscription.start()
    try:
        await asyncio.wait_for(subscription.connected.wait(), 5)
        server.server.publish("object.created", {"name": "A"})
        await _wait_for(lambda: any(e["topic"] == "object.created" for e in received))
        server.stop()
        await _wait_for(lambda: any(e["topic"] == "backend.down" for e in received))
        server = InProcessHost(port=port)
        await _wait_for(lambda: any(e["topic"] == "backend.up" for e in received))
        await asyncio.wait_for(subscription.connected.wait(), 5)
        server.server.publish("object.created", {"name": "B"})
        await _wait_for(lambda: any(e.get("data") == {"name": "B"} for e in received))
        topics = [e["topic"] for e in received]
        assert topics == ["object.created", "backend.down", "backend.up", "object.created"]
    finally:
        await subscription.stop()
        server.stop()


async def _wait_for(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)
