"""`bridge3d up` in the foreground with small supervision limits: hung host servers are found and restarted,
a runaway Python loop is cancelled instead, and Ctrl-C stops everything.

The tests of this module share one stack and run in file order: the last one presses Ctrl-C.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bridge3d.cli.state import is_alive
from envelope import error, ok

from .conftest import Stack, require_applications, wait_until_ok

# Small enough for the tests to wait for, large enough that a host that merely answers slowly on a loaded machine is
# not taken for hung: a host answers a ping in milliseconds, and a cancelled Python loop stops as quickly.
LIMITS = {
    "BRIDGE3D_SUPERVISE_PING_INTERVAL": "0.5",
    "BRIDGE3D_SUPERVISE_PING_TIMEOUT": "3",
    "BRIDGE3D_SUPERVISE_HANG_TIMEOUT": "6",
    "BRIDGE3D_SUPERVISE_MAX_BUSY": "3",
    "BRIDGE3D_SUPERVISE_CANCEL_GRACE": "3",
    "BRIDGE3D_SUPERVISE_BACKOFF": "0.2",
}
# How long to wait for what takes seconds on an idle machine (a restart, a cancelled request): generous.
PATIENCE = 120.0


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    require_applications()
    stack = Stack(tmp_path_factory.mktemp("supervised") / "state", extra_env=LIMITS)
    try:
        stack.start_foreground()
        yield stack
    finally:
        stack.kill_everything()


@pytest.fixture(scope="module")
def api(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.url, timeout=120) as client:
        yield client


class Background:
    """One HTTP request running in a thread while the test watches the supervisor."""

    def __init__(self, api: httpx.Client, method: str, path: str, **kwargs: Any) -> None:
        self.response: httpx.Response | None = None
        self.failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(api, method, path), kwargs=kwargs, daemon=True)
        self._thread.start()

    def _run(self, api: httpx.Client, method: str, path: str, **kwargs: Any) -> None:
        try:
            self.response = api.request(method, path, **kwargs)
        except BaseException as exc:
            self.failure = exc

    def result(self, timeout: float) -> httpx.Response:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the request did not finish"
        assert self.response is not None, self.failure
        return self.response


def wait_for_busy(api: httpx.Client, app: str, timeout: float = PATIENCE) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        backend = ok(api.get("/health"))["backends"][app]
        if backend.get("busy"):
            return
        time.sleep(0.05)
    raise AssertionError(f"{app} never reported busy")


def test_a_script_stuck_in_an_uninterruptible_call_is_restarted(
    stack: Stack, api: httpx.Client, record_property: Any
) -> None:
    old_pid, restarts, gateway_pid = stack.pid("blender"), stack.restarts("blender"), stack.pid("api")
    assert old_pid is not None
    started = time.monotonic()
    request = Background(api, "POST", "/api/v1/blender/execute", json={"code": "import time\ntime.sleep(10**6)"})
    wait_for_busy(api, "blender")
    new_pid = stack.wait_for_restart("blender", old_pid, restarts, timeout=PATIENCE)
    seconds = time.monotonic() - started
    record_property("busy_script_to_restart_s", round(seconds, 2))
    print(f"blender: stuck script (max_busy 3 s, cancel grace 3 s) restarted after {seconds:.2f} s")
    assert not is_alive(old_pid) and is_alive(new_pid)
    # The request that hung gets an error envelope, not a hang: the host it waited on went away under it. The next
    # one works on the new process.
    err = error(request.result(timeout=PATIENCE), 503, "CONNECTION_FAILED")
    assert err["message"].startswith("Lost connection to blender"), err
    created = wait_until_ok(api, "POST", "/api/v1/blender/primitives/cube", timeout=PATIENCE, json={"name": "After"})
    assert ok(created, 201)["object_id"] == "After"
    assert stack.pid("api") == gateway_pid
    log = stack.log("supervisor")
    assert "blender: main thread busy with code.execute" in log and "sent rpc.cancel" in log
    assert "rpc.cancel did not stop it" in log


def test_a_runaway_python_loop_is_cancelled_without_a_restart(stack: Stack, api: httpx.Client) -> None:
    pid, restarts = stack.pid("freecad"), stack.restarts("freecad")
    assert pid is not None
    cancels_before = stack.log("supervisor").count("freecad: main thread busy")
    request = Background(api, "POST", "/api/v1/freecad/execute", json={"code": "while True:\n    pass"})
    err = error(request.result(timeout=PATIENCE), 409, "CANCELLED")
    assert err["message"] == "code.execute was cancelled by rpc.cancel", err
    assert stack.log("supervisor").count("freecad: main thread busy") == cancels_before + 1
    # Give the supervisor a few more probes: it must not restart a host that recovered.
    time.sleep(2)
    assert stack.pid("freecad") == pid and is_alive(pid) and stack.restarts("freecad") == restarts
    assert ok(api.post("/api/v1/freecad/primitives/box", json={"name": "StillHere"}), 201)["object_id"] == "StillHere"


def test_a_frozen_host_that_stops_answering_ping_is_restarted(
    stack: Stack, api: httpx.Client, record_property: Any
) -> None:
    old_pid, restarts = stack.pid("freecad"), stack.restarts("freecad")
    assert old_pid is not None
    frozen_at = time.monotonic()
    os.kill(old_pid, signal.SIGSTOP)  # answers nothing, not even on its IO thread
    try:
        new_pid = stack.wait_for_restart("freecad", old_pid, restarts, timeout=PATIENCE)
    finally:
        if is_alive(old_pid):
            os.kill(old_pid, signal.SIGCONT)
    seconds = time.monotonic() - frozen_at
    record_property("frozen_host_to_restart_s", round(seconds, 2))
    print(f"freecad: frozen host (hang timeout 6 s) restarted after {seconds:.2f} s")
    assert not is_alive(old_pid) and is_alive(new_pid)
    assert "freecad: down: no answer to rpc.ping for" in stack.log("supervisor")
    created = wait_until_ok(api, "POST", "/api/v1/freecad/primitives/box", timeout=PATIENCE, json={"name": "Thawed"})
    assert ok(created, 201)["object_id"] == "Thawed"


def test_ctrl_c_stops_everything_cleanly(stack: Stack) -> None:
    assert stack.foreground is not None
    pids = {name: pid for name, pid in stack.pids().items() if pid is not None}
    assert set(pids) == {"supervisor", "api", "blender", "freecad"} and pids["supervisor"] == stack.foreground.pid
    stack.foreground.send_signal(signal.SIGINT)
    assert stack.foreground.wait(timeout=PATIENCE) == 0, stack.foreground_log()
    assert not any(is_alive(pid) for pid in pids.values())
    assert stack.our_processes() == []
    assert stack.ports_free()
    assert not any(stack.pids().values())
    assert not (stack.state_dir / "run.json").exists()  # the tokens of a stopped run are gone
    log = stack.foreground_log()
    assert "SIGINT: stopping everything" in log and "all services stopped" in log
    assert "killing it" not in log
