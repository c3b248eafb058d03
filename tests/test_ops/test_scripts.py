"""start_all.sh / health_check.sh / stop_all.sh on a fresh state directory, and the background supervisor:
a host server killed with SIGKILL is back (measured, not asserted: it takes a few seconds) while the same gateway
keeps serving.

The tests of this module share one stack and run in file order: the last one stops it.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bridge3d.api.clients.blender_client import BlenderClient
from bridge3d.api.clients.events import EventSubscription
from bridge3d.api.clients.freecad_client import FreeCADClient
from bridge3d.api.config import BackendSettings
from bridge3d.cli.state import is_alive
from envelope import ok
from wsclient import execute, open_socket, receive_until, subscribe

from .conftest import ROOT, Stack, require_applications, wait_until_ok

CLIENTS: dict[str, type[BlenderClient] | type[FreeCADClient]] = {"blender": BlenderClient, "freecad": FreeCADClient}
# How long to wait for a restart, which takes a few seconds on an idle machine: generous, for a loaded one.
PATIENCE = 120.0
CREATE = {
    "blender": ("/api/v1/blender/primitives/cube", {"name": "OpsCube", "size": 1.5}),
    "freecad": ("/api/v1/freecad/primitives/box", {"name": "OpsBox", "length": 3, "width": 2, "height": 1}),
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    require_applications()
    stack = Stack(tmp_path_factory.mktemp("ops") / "state")
    try:
        started = stack.script("start_all.sh")
        stack.outputs["start_all"] = started.stdout + started.stderr
        assert started.returncode == 0, stack.outputs["start_all"] + stack.log("supervisor")
        yield stack
    finally:
        stack.kill_everything()


@pytest.fixture(scope="module")
def api(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.url, timeout=60) as client:
        yield client


def test_start_all_runs_everything_with_pid_files_logs_and_fresh_tokens(stack: Stack) -> None:
    output = stack.outputs["start_all"]
    assert "[install]" in output  # the README's install step ran first
    assert f"API {stack.url}" in output and f"{stack.url}/docs" in output
    pids = stack.pids()
    assert all(pid is not None and is_alive(pid) for pid in pids.values()), pids
    assert len(set(pids.values())) == 4
    assert stack.status()["phase"] == "running"
    for name in ("supervisor", "api", "blender", "freecad"):
        assert (stack.state_dir / "logs" / f"{name}.log").stat().st_size > 0
    # The tokens live only in the private run file; the state directory is private too.
    assert stat.S_IMODE(stack.state_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((stack.state_dir / "run.json").stat().st_mode) == 0o600
    run = stack.run_info()
    assert run["blender"]["port"] == stack.blender_port and run["freecad"]["port"] == stack.freecad_port
    # Fresh tokens of 24 random bytes (URL-safe base64), one per host server.
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{32}", run[app]["token"]) for app in ("blender", "freecad")), run
    assert run["blender"]["token"] != run["freecad"]["token"]
    # A bug that reads files (an importer following a path) must not yield a token: no process of the stack holds
    # one in its command line or environment, which every program of this user can read.
    for app in ("blender", "freecad"):
        token = run[app]["token"].encode()
        for name in ("api", "blender", "freecad", "supervisor"):
            for exposed in ("cmdline", "environ"):
                assert token not in Path(f"/proc/{pids[name]}/{exposed}").read_bytes(), (app, name, exposed)
    for app in ("blender", "freecad"):
        assert stat.S_IMODE((stack.state_dir / "workspace" / app).stat().st_mode) == 0o700


def test_health_check_shows_a_green_table(stack: Stack) -> None:
    checked = stack.script("health_check.sh")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    rows: dict[str, list[str]] = {}
    for line in checked.stdout.splitlines()[1:]:  # a service's first row (rows of its worker pool may follow)
        rows.setdefault(line.split()[0], line.split())
    assert rows["gateway"][1] == "up" and rows["blender"][1] == "up" and rows["freecad"][1] == "up", checked.stdout
    # bpy is pinned to 5.0.x; Debian's FreeCAD is 0.20.x.
    assert re.fullmatch(r"5\.0\.\d+", rows["blender"][2]) and re.fullmatch(r"0\.20\.\d+", rows["freecad"][2]), rows
    assert all(row[-1] == "ms" for row in rows.values())


def readme_first_example() -> tuple[str, dict[str, Any]]:
    """The path and JSON body of the README's first curl example, as a new user copies it."""
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"curl -X POST http://127\.0\.0\.1:8000(\S+) .*?-d '(\{.*?\})'", readme, re.DOTALL)
    assert match is not None, "the README's first example is a curl POST with a JSON body"
    return match[1], json.loads(match[2])


def test_the_readme_example_gets_what_it_asks_for(api: httpx.Client) -> None:
    """A fresh stack starts with empty scenes (BRIDGE3D_<APP>_NEW_SCENE=empty): the cube asked for as "Cube" is
    named "Cube", and it is the only object."""
    path, body = readme_first_example()
    created = ok(api.post(path, json=body), 201)
    assert created["object_id"] == body["name"] == "Cube"
    listed = ok(api.get("/api/v1/blender/objects"))
    assert [item["name"] for item in listed["objects"]] == ["Cube"]
    ok(api.delete("/api/v1/blender/objects/Cube"))


@pytest.mark.parametrize("app", ["blender", "freecad"])
def test_rest_creates_objects_in_both_applications(api: httpx.Client, app: str) -> None:
    path, body = CREATE[app]
    created = ok(api.post(path, json=body), 201)
    assert created["object_id"] == body["name"]
    listed = ok(api.get(f"/api/v1/{app}/objects"))
    name: str = created["object_id"]
    assert [item["name"] for item in listed["objects"]] == [name]  # a fresh stack: nothing else in the scene


@pytest.mark.parametrize("app", ["blender", "freecad"])
def test_sigkilled_host_is_back_without_gateway_restart(
    stack: Stack, api: httpx.Client, app: str, record_property: Any
) -> None:
    gateway_pid, old_pid, restarts = stack.pid("api"), stack.pid(app), stack.restarts(app)
    assert gateway_pid is not None and old_pid is not None
    marker = stack.state_dir / "workspace" / app / f"kept-{app}.txt"
    marker.write_text("the workspace survives a restart")
    path, body = CREATE[app]

    killed_at = time.monotonic()
    os.kill(old_pid, signal.SIGKILL)
    while is_alive(old_pid):
        time.sleep(0.01)
    created = ok(wait_until_ok(api, "POST", path, timeout=PATIENCE, json=body), 201)
    seconds = time.monotonic() - killed_at
    record_property(f"{app}_sigkill_to_rest_success_s", round(seconds, 2))
    print(f"{app}: SIGKILL -> REST success in {seconds:.2f} s")

    new_pid = stack.wait_for_restart(app, old_pid, restarts, timeout=PATIENCE)
    assert is_alive(new_pid) and new_pid != old_pid
    assert stack.pid("api") == gateway_pid and is_alive(gateway_pid), "the gateway must not be restarted"
    assert stack.restarts("api") == 0
    # Same port and token (the gateway reached it), same workspace:
    files = ok(api.get(f"/api/v1/{app}/files"))
    assert f"kept-{app}.txt" in {item["name"] for item in files}
    assert created["object_id"] in {item["name"] for item in ok(api.get(f"/api/v1/{app}/objects"))["objects"]}
    supervisor_log = stack.log("supervisor")
    assert f"{app}: down: exited with signal SIGKILL" in supervisor_log
    assert f"{app}: back up (pid {new_pid})" in supervisor_log
    assert stack.script("health_check.sh").returncode == 0


@pytest.mark.parametrize("app", ["blender", "freecad"])
def test_a_supervised_restart_reaches_the_gateways_event_subscription_as_down_and_up(stack: Stack, app: str) -> None:
    """The gateway's EventSubscription (what its WebSockets relay) reports backend.down then backend.up."""
    run = stack.run_info()[app]
    settings = BackendSettings(port=run["port"], token=run["token"], connect_timeout=1.0)
    old_pid, restarts = stack.pid(app), stack.restarts(app)
    assert old_pid is not None

    async def watch_a_kill() -> list[dict[str, Any]]:
        client = CLIENTS[app](settings)
        subscription = EventSubscription(lambda: client, client.app_name, max_backoff=0.2)
        received: list[dict[str, Any]] = []
        subscription.add_listener(received.append)
        subscription.start()
        try:
            await asyncio.wait_for(subscription.connected.wait(), PATIENCE)
            os.kill(old_pid, signal.SIGKILL)
            deadline = time.monotonic() + PATIENCE
            while not any(event["topic"] == "backend.up" for event in received):
                assert time.monotonic() < deadline, received
                await asyncio.sleep(0.05)
            return received
        finally:
            await subscription.stop()
            await client.disconnect()

    received = asyncio.run(watch_a_kill())
    topics = [event["topic"] for event in received if event["topic"].startswith("backend.")]
    assert topics == ["backend.down", "backend.up"], received
    assert all(event["data"]["backend"] == app for event in received if event["topic"].startswith("backend."))
    stack.wait_for_restart(app, old_pid, restarts, timeout=PATIENCE)
    supervisor_log = stack.log("supervisor")
    assert "event backend.down" in supervisor_log and "event backend.up" in supervisor_log


def test_websocket_users_see_a_supervised_restart_as_backend_down_then_up(stack: Stack) -> None:
    old_pid, restarts = stack.pid("blender"), stack.restarts("blender")
    assert old_pid is not None
    with open_socket(stack.url, "blender") as socket:
        subscribe(socket, ["object.*"])
        os.kill(old_pid, signal.SIGKILL)
        down = receive_until(socket, lambda m: m["type"] == "event", timeout=PATIENCE)
        # The default session's state is put back (session.restored) before the backend is announced up.
        up = receive_until(socket, lambda m: m["type"] == "event" and m["topic"] != "session.restored", PATIENCE)
        assert (down["topic"], up["topic"]) == ("backend.down", "backend.up"), (down, up)
        assert down["data"]["backend"] == up["data"]["backend"] == "blender"
        assert execute(socket, "back", "result = 'Blender is back'")["result"] == "Blender is back"
    stack.wait_for_restart("blender", old_pid, restarts, timeout=PATIENCE)


def test_start_all_twice_starts_nothing_twice(stack: Stack) -> None:
    before = stack.pids()
    processes_before = sorted(stack.our_processes())
    starts_before = stack.log("supervisor").count(": started ")
    again = stack.script("start_all.sh")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "already running" in again.stdout + again.stderr
    assert "nothing started" in again.stdout + again.stderr
    assert stack.pids() == before
    assert sorted(stack.our_processes()) == processes_before
    assert stack.log("supervisor").count(": started ") == starts_before


def test_a_port_taken_by_another_program_is_named(fresh_stack: Stack) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", fresh_stack.blender_port))
        squatter.listen()
        started = fresh_stack.script("start_all.sh")
    said = started.stdout + started.stderr
    assert started.returncode == 1, said
    assert f"port {fresh_stack.blender_port} (for the Blender host server) is already in use" in said
    assert "BRIDGE3D_BLENDER__PORT" in said
    assert not any(fresh_stack.pids().values()) and fresh_stack.our_processes() == []


def test_stop_all_with_nothing_running_says_so(fresh_stack: Stack) -> None:
    stopped = fresh_stack.script("stop_all.sh")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert "nothing is running" in stopped.stdout


def test_services_left_by_a_killed_supervisor_are_refused_then_stopped_by_pid(fresh_stack: Stack) -> None:
    require_applications()
    started = fresh_stack.script("start_all.sh")
    assert started.returncode == 0, started.stdout + started.stderr
    pids = fresh_stack.pids()
    assert pids["supervisor"] is not None
    os.kill(pids["supervisor"], signal.SIGKILL)
    while is_alive(pids["supervisor"]):
        time.sleep(0.01)

    again = fresh_stack.script("start_all.sh")
    assert again.returncode == 1
    listed = f"api (pid {pids['api']}), blender (pid {pids['blender']}), freecad (pid {pids['freecad']})"
    assert f"{listed} from an earlier run still running without its supervisor" in again.stderr
    assert fresh_stack.pids() == pids

    stopped = fresh_stack.script("stop_all.sh")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert f"stopped {listed}" in stopped.stdout
    assert fresh_stack.our_processes() == [] and fresh_stack.ports_free()
    assert not (fresh_stack.state_dir / "run.json").exists()


def test_stop_all_leaves_no_process_and_frees_the_ports(stack: Stack) -> None:
    pids = {name: pid for name, pid in stack.pids().items() if pid is not None}
    assert set(pids) == {"supervisor", "api", "blender", "freecad"}
    stopped = stack.script("stop_all.sh")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert "stopped" in stopped.stdout and all(str(pid) in stopped.stdout for pid in pids.values())
    assert not any(is_alive(pid) for pid in pids.values())
    assert stack.our_processes() == []
    assert stack.ports_free()
    assert not any(stack.pids().values())
    # The services shut down on SIGTERM (no SIGKILL needed) and the supervisor went first.
    assert "killing it" not in stopped.stdout + stack.log("supervisor")
    assert "all services stopped" in stack.log("supervisor")
    again = stack.script("stop_all.sh")
    assert again.returncode == 0 and "nothing is running" in again.stdout
