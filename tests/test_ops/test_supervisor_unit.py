"""The supervisor's rules against small fake host servers (tests/fake_host.py): backoff and the restart limit,
start-up failures that name the service and its log, and the hang / busy decisions of HostMonitor."""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from backends import free_port
from bridge3d.cli.policy import SupervisionPolicy
from bridge3d.cli.probes import HostEndpoint, HostMonitor
from bridge3d.cli.service import Service, ServiceSpec, ServiceState, StartupError
from bridge3d.cli.state import StateDir, is_alive
from bridge3d.cli.supervisor import Supervisor
from bridge3d.rpc import RpcClient
from bridge3d.rpc.errors import CANCELLED, RpcError
from fake_host import InProcessHost

FAKE_HOST = Path(__file__).resolve().parents[1] / "fake_host.py"
# How long to wait for what takes a fraction of a second on an idle machine: generous, for a loaded one.
PATIENCE = 120.0
# Restarts of exited hosts, quickly: short backoff, a small restart cap. Hang and busy limits far beyond anything a
# slow machine could reach, so only exits (what these tests cause) lead to restarts.
FAST = SupervisionPolicy(
    ping_interval=0.1,
    ping_timeout=10,
    hang_timeout=PATIENCE,
    max_busy=PATIENCE,
    cancel_grace=10,
    max_restarts=2,
    restart_window=PATIENCE,
    backoff=0.1,
    backoff_max=1.0,
    start_timeout=PATIENCE,
    stop_grace=5,
)


def fake_host_spec(port: int, command: list[str] | None = None) -> ServiceSpec:
    return ServiceSpec(
        name="fake",
        description="fake host server",
        command=command or [sys.executable, str(FAKE_HOST), "--port", str(port)],
        env=dict(os.environ),
        endpoint=HostEndpoint("127.0.0.1", port, None),
    )


def wait_until(condition: Callable[[], bool], timeout: float = PATIENCE) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def restarted(service: Service, old_pid: int) -> bool:
    return service.pid != old_pid and service.state is ServiceState.UP


@pytest.fixture
def events() -> list[tuple[str, dict[str, Any]]]:
    return []


@pytest.fixture
def supervisor(tmp_path: Path, events: list[tuple[str, dict[str, Any]]]) -> Iterator[Supervisor]:
    supervisor = Supervisor(
        [fake_host_spec(free_port())], StateDir(tmp_path / "state"), FAST, on_event=lambda *e: events.append(e)
    )
    assert supervisor.acquire()
    yield supervisor
    supervisor.shutdown()
    supervisor.release()


def test_a_second_supervisor_on_the_same_state_directory_is_refused(tmp_path: Path) -> None:
    first = Supervisor([], StateDir(tmp_path), FAST)
    second = Supervisor([], StateDir(tmp_path), FAST)
    assert first.acquire()
    try:
        assert not second.acquire()
        assert StateDir(tmp_path).read_pid("supervisor") == os.getpid()
    finally:
        first.release()
    assert second.acquire()
    second.release()


@pytest.fixture
def supervisor_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """caplog, fed by a handler on the supervisor's own logger: a gateway built in this process (the SDK generator
    does) stops the 'bridge3d' loggers from propagating to the root logger, where caplog listens."""
    logger = logging.getLogger("bridge3d.supervisor")
    caplog.set_level(logging.INFO, logger=logger.name)
    logger.addHandler(caplog.handler)
    yield caplog
    logger.removeHandler(caplog.handler)


def test_restarts_back_off_and_stop_at_the_limit(
    supervisor: Supervisor, events: list[tuple[str, dict[str, Any]]], supervisor_log: pytest.LogCaptureFixture
) -> None:
    supervisor.start()
    supervisor.watch()
    service = supervisor.services["fake"]
    state = supervisor.state_dir
    for restart in (1, 2):
        old_pid = service.pid
        assert old_pid is not None and state.read_pid("fake") == old_pid
        os.kill(old_pid, signal.SIGKILL)
        wait_until(partial(restarted, service, old_pid))
        assert service.restarts == restart and state.read_pid("fake") == service.pid
        assert service.spec.endpoint is not None
        with RpcClient("127.0.0.1", service.spec.endpoint.port, timeout=PATIENCE) as client:
            assert client.call("test.add", {"a": 1, "b": 2}) == 3
    last_pid = service.pid
    assert last_pid is not None
    os.kill(last_pid, signal.SIGKILL)
    wait_until(lambda: service.state is ServiceState.FAILED)

    assert [topic for topic, _ in events] == [
        "backend.down",
        "backend.up",
        "backend.down",
        "backend.up",
        "backend.down",
        "backend.failed",
    ]
    assert all(data["reason"] == "exited with signal SIGKILL" for _, data in events)
    # The delay doubles with each restart inside the window.
    assert "restarting in 0.1 s (restart 1 within 120 s; at most 2)" in supervisor_log.text
    assert "restarting in 0.2 s (restart 2 within 120 s; at most 2)" in supervisor_log.text
    assert "2 restarts within 120 s; giving up" in supervisor_log.text
    time.sleep(0.5)  # longer than every backoff above: a restart, were one coming, would have begun
    assert service.pid == last_pid and not is_alive(last_pid), "a failed service is not started again"
    assert state.read_pid("fake") is None
    status = state.read_json(state.status_file)["services"]["fake"]
    assert status["state"] == "failed" and status["restarts"] == 2
    assert status["last_reason"] == "exited with signal SIGKILL"


def test_restart_delays_double_up_to_the_cap() -> None:
    policy = SupervisionPolicy(backoff=0.5, backoff_max=3)
    assert [policy.restart_delay(n) for n in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_a_host_that_exits_during_start_up_is_named_with_its_log(tmp_path: Path) -> None:
    crash = [sys.executable, "-c", "import sys; print('cannot start: no licence', flush=True); sys.exit(3)"]
    state = StateDir(tmp_path / "state")
    supervisor = Supervisor([fake_host_spec(free_port(), crash)], state, FAST)
    assert supervisor.acquire()
    try:
        with pytest.raises(StartupError) as raised:
            supervisor.start()
    finally:
        supervisor.shutdown()
        supervisor.release()
    assert raised.value.service == "fake"
    assert str(raised.value) == (
        f"fake host server exited during start-up with exit code 3; its log is {state.log_file('fake')}"
    )
    assert "cannot start: no licence" in state.log_file("fake").read_text()
    assert state.read_pid("fake") is None and state.read_pid("supervisor") is None


def test_a_host_that_never_answers_during_start_up_is_named(tmp_path: Path) -> None:
    silent = [sys.executable, "-c", "import time; time.sleep(60)"]
    state = StateDir(tmp_path / "state")
    policy = SupervisionPolicy(start_timeout=1.0, stop_grace=2)  # the silent process never answers: 1 s is plenty
    supervisor = Supervisor([fake_host_spec(free_port(), silent)], state, policy)
    assert supervisor.acquire()
    try:
        with pytest.raises(StartupError, match=r"fake host server did not answer within 1 s; its log is .*fake\.log"):
            supervisor.start()
        pid = supervisor.services["fake"].pid
    finally:
        supervisor.shutdown()
        supervisor.release()
    assert pid is not None and not is_alive(pid)


@pytest.fixture
def host() -> Iterator[InProcessHost]:
    server = InProcessHost()
    yield server
    server.stop()


# The monitor's own decisions, quickly: a command busy for 0.5 s is cancelled. Pings get all the time they need
# (the in-process host answers them on its IO thread, which a loaded machine may slow down).
BUSY = SupervisionPolicy(ping_interval=0.05, ping_timeout=10, hang_timeout=PATIENCE, max_busy=0.5)


@contextmanager
def monitoring(
    host: InProcessHost, policy: SupervisionPolicy, cpu_seconds: Callable[[], float | None] = lambda: None
) -> Iterator[HostMonitor]:
    monitor = HostMonitor("fake", HostEndpoint("127.0.0.1", host.port, None), policy, cpu_seconds)
    try:
        yield monitor
    finally:
        monitor.probe.close()


@dataclass
class Call:
    """A call made on another thread, with what it ended in (its result, or the error it raised)."""

    thread: threading.Thread
    outcome: list[Any] = field(default_factory=list)


def run_in_thread(port: int, method: str, params: dict[str, Any]) -> Call:
    """Call ``method`` on another thread; its result, or the error it raised, lands in ``outcome`` to be asserted."""
    outcome: list[Any] = []

    def call() -> None:
        try:
            with RpcClient("127.0.0.1", port, timeout=PATIENCE) as client:
                outcome.append(client.call(method, params))
        except (RpcError, OSError) as exc:  # kept for the test to judge
            outcome.append(exc)

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    return Call(thread, outcome)


def checks_until(
    monitor: HostMonitor, condition: Callable[[str | None], bool], timeout: float = PATIENCE
) -> list[str | None]:
    """Every decision of the monitor, one check after another, up to the first that meets ``condition``."""
    deadline = time.monotonic() + timeout
    decisions: list[str | None] = []
    while True:
        decisions.append(monitor.check())
        if condition(decisions[-1]):
            return decisions
        assert time.monotonic() < deadline, f"the monitor never decided: {decisions[-5:]}"
        time.sleep(0.02)


def test_a_busy_command_that_cancel_cannot_stop_means_restart(host: InProcessHost) -> None:
    with monitoring(host, replace(BUSY, cancel_grace=0.3)) as monitor:
        assert monitor.check() is None
        # test.block is not cancellable and holds the main thread until the test opens the gate.
        blocked = run_in_thread(host.port, "test.block", {})
        try:
            decisions = checks_until(monitor, lambda reason: reason is not None)
        finally:
            host.gate.set()
            blocked.thread.join(PATIENCE)
        assert blocked.outcome == ["released"], "rpc.cancel could not stop it: the command ran to its end"
        reason = decisions[-1]
        assert set(decisions[:-1]) == {None}  # no other decision came first
        assert reason is not None and reason.startswith("main thread busy with test.block for "), reason
        assert "(limit 0.5 s)" in reason, reason
        assert reason.endswith("rpc.cancel did not stop it within 0.3 s, and it uses no CPU"), reason
        assert monitor.cancelled_job is not None and monitor.cancelled_job[0] == "test.block"


def test_a_busy_script_that_cancel_stops_is_not_restarted(host: InProcessHost) -> None:
    # A grace far longer than a cancelled loop takes to stop, even on a loaded machine.
    with monitoring(host, replace(BUSY, cancel_grace=30)) as monitor:
        script = run_in_thread(host.port, "code.execute", {"code": "while True:\n    pass"})
        decisions = checks_until(monitor, lambda _: monitor.cancelled_job is not None)
        script.thread.join(PATIENCE)
        assert not script.thread.is_alive(), "rpc.cancel interrupted the loop"
        (ended,) = script.outcome
        assert isinstance(ended, RpcError) and ended.code == CANCELLED, ended
        # A few more probes: the host is idle again and the monitor says so, without a restart in between.
        decisions += checks_until(monitor, lambda _: time.monotonic() - monitor.cancelled_at > 1.0)
        assert set(decisions) == {None}, decisions
        assert monitor.cancelled_job is None


def test_a_host_that_accepts_but_never_answers_is_hung_after_the_timeout() -> None:
    # Nothing ever answers, so short limits cannot be met by chance, however loaded the machine.
    frozen_policy = SupervisionPolicy(ping_interval=0.1, ping_timeout=0.5, hang_timeout=1.0)
    with socket.socket() as frozen:  # the kernel completes the handshake; nobody ever reads
        frozen.bind(("127.0.0.1", 0))
        frozen.listen()
        monitor = HostMonitor("fake", HostEndpoint("127.0.0.1", frozen.getsockname()[1], "token"), frozen_policy)
        started = time.monotonic()
        try:
            decisions = checks_until(monitor, lambda reason: reason is not None)
        finally:
            monitor.probe.close()
        waited = time.monotonic() - started
    reason = decisions[-1]
    assert reason is not None and reason.startswith("no answer to rpc.ping for ") and "(limit 1 s)" in reason, reason
    assert waited >= frozen_policy.hang_timeout  # not decided before the limit


class BusyCpu:
    """A host's CPU time as the monitor reads it: one more second at every read (a process hard at work)."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self) -> float:
        self.seconds += 1.0
        return self.seconds


def test_a_busy_command_that_works_is_left_to_work(host: InProcessHost, caplog: pytest.LogCaptureFixture) -> None:
    """A render or a boolean in C ignores rpc.cancel but uses CPU: no restart, however long it takes."""
    with monitoring(host, replace(BUSY, cancel_grace=0.3), BusyCpu()) as monitor:
        blocked = run_in_thread(host.port, "test.block", {})
        try:
            decisions = checks_until(monitor, lambda _: monitor.spared is not None)
            started = time.monotonic()
            decisions += checks_until(monitor, lambda _: time.monotonic() - started > 1.0)
        finally:
            host.gate.set()
            blocked.thread.join(PATIENCE)
        assert set(decisions) == {None}, decisions  # cancelled once, never restarted
        assert monitor.cancelled_job is not None and monitor.cancelled_job[0] == "test.block"
        assert blocked.outcome == ["released"]
        held_back = [r.message for r in caplog.records if "left to work" in r.message]
        assert len(held_back) == 1, held_back  # said once, not at every probe


def test_a_silent_host_that_works_is_not_taken_for_hung() -> None:
    """A long OpenCASCADE operation holds the GIL (no ping answer) but uses CPU."""
    frozen_policy = SupervisionPolicy(ping_interval=0.1, ping_timeout=0.5, hang_timeout=1.0)
    with socket.socket() as frozen:
        frozen.bind(("127.0.0.1", 0))
        frozen.listen()
        port = frozen.getsockname()[1]
        working = HostMonitor("fake", HostEndpoint("127.0.0.1", port, "token"), frozen_policy, BusyCpu())
        stuck = HostMonitor("fake", HostEndpoint("127.0.0.1", port, "token"), frozen_policy, lambda: 5.0)
        try:
            started = time.monotonic()
            decisions = checks_until(working, lambda _: time.monotonic() - started > 3 * frozen_policy.hang_timeout)
            stuck_decisions = checks_until(stuck, lambda reason: reason is not None)
        finally:
            working.probe.close()
            stuck.probe.close()
    assert set(decisions) == {None}, decisions
    assert working.spared is not None
    reason = stuck_decisions[-1]
    assert reason is not None and reason.startswith("no answer to rpc.ping for "), reason
