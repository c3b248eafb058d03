"""Durable sessions against the real applications: kill -9 at random points loses no acknowledged command.

The state a client can observe (objects, names, transforms, dimensions, materials; FreeCAD documents, feature
types, placements, volumes) is read after every acknowledged command; after each kill and restore it must be
exactly what the last acknowledged command left.
"""

from __future__ import annotations

import os
import random
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from backends import Backend, start_backend, stop_process
from envelope import error, ok
from gateway import Gateway, start_gateway
from polling import wait_until

from .conftest import PATIENCE, SESSION, end_session, new_session, state_dir

KILLS = 50
SEED = int(os.environ.get("BRIDGE3D_DURABILITY_SEED", "20261130"))
ALWAYS = {"BRIDGE3D_DURABILITY": "always", "BRIDGE3D_SNAPSHOT_EVERY": "6", "BRIDGE3D_SNAPSHOT_INTERVAL": "3600"}
NAMES = ("Part", "Bolt", "Plate")  # few names, so the applications make Part.001 / Part001 and replays must match


@dataclass
class Scene:
    """One session under test: its app, id, and the state after its last acknowledged command."""

    app: str
    id: str
    expected: Any = None
    kills: int = 0
    commands: int = 0
    acknowledged: list[str] = field(default_factory=list)

    @property
    def headers(self) -> dict[str, str]:
        return {SESSION: self.id}


# ------------------------------------------------------------------------------------------ reading the state
def rounded(values: list[float]) -> list[float]:
    return [round(value, 4) for value in values]


def blender_state(api: httpx.Client, headers: dict[str, str]) -> dict[str, Any]:
    names = [
        o["name"] for o in ok(api.get("/api/v1/blender/objects", params={"limit": 1000}, headers=headers))["objects"]
    ]
    steps = [{"method": "object.get", "params": {"name": name}} for name in names]
    infos = (
        ok(api.post("/api/v1/blender/batch", json={"steps": steps, "full": True}, headers=headers))["steps"]
        if steps
        else []
    )
    materials = ok(api.get("/api/v1/blender/materials", headers=headers))
    return {
        "objects": {
            info["result"]["name"]: {
                "type": info["result"]["type"],
                "location": rounded(info["result"]["location"]),
                "rotation": rounded(info["result"]["rotation"]),
                "scale": rounded(info["result"]["scale"]),
                "dimensions": rounded(info["result"]["dimensions"]),
                "materials": info["result"]["materials"],
            }
            for info in infos
        },
        "materials": sorted(m["name"] for m in (materials["materials"] if isinstance(materials, dict) else materials)),
    }


def freecad_state(api: httpx.Client, headers: dict[str, str]) -> dict[str, Any]:
    documents = ok(api.get("/api/v1/freecad/documents", headers=headers))["documents"]
    state: dict[str, Any] = {}
    for document in documents:
        params = {"document": document["name"], "limit": 1000}
        listed = ok(api.get("/api/v1/freecad/objects", params=params, headers=headers))["objects"]
        steps = [{"method": "object.get", "params": {"name": o["name"], "document": document["name"]}} for o in listed]
        infos = (
            ok(api.post("/api/v1/freecad/batch", json={"steps": steps, "full": True}, headers=headers))["steps"]
            if steps
            else []
        )
        state[document["name"]] = {
            "label": document["label"],
            "active": document["active"],
            "objects": {
                info["result"]["name"]: {
                    "type": info["result"]["type"],
                    "label": info["result"]["label"],
                    "location": rounded(info["result"]["location"]),
                    "rotation": rounded(info["result"]["rotation"]),
                    "volume": round(info["result"]["volume"] or 0.0, 3),
                    "visible": info["result"]["visible"],
                }
                for info in infos
            },
        }
    return state


def read_state(api: httpx.Client, scene: Scene) -> Any:
    return blender_state(api, scene.headers) if scene.app == "blender" else freecad_state(api, scene.headers)


# ------------------------------------------------------------------------------------------ random commands
def blender_command(rng: random.Random, state: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    objects = sorted(state["objects"])
    meshes = [name for name in objects if state["objects"][name]["type"] == "MESH"]
    choice = rng.random()
    if not objects or choice < 0.3:
        kind = rng.choice(["cube", "sphere", "cylinder", "cone"])
        body = {"name": rng.choice(NAMES), "location": [rng.uniform(-5, 5), rng.uniform(-5, 5), 0]}
        return "POST", f"/api/v1/blender/primitives/{kind}", body
    if choice < 0.5:
        return (
            "PATCH",
            f"/api/v1/blender/objects/{rng.choice(objects)}",
            {
                "location": [rng.uniform(-5, 5) for _ in range(3)],
                "rotation": [rng.choice([0, 30, 45, 90]) for _ in range(3)],
                "scale": [rng.choice([0.5, 1, 2]) for _ in range(3)],
            },
        )
    if choice < 0.6 and len(objects) > 2:
        return "DELETE", f"/api/v1/blender/objects/{rng.choice(objects)}", {}
    if choice < 0.7 and meshes:
        material = rng.choice(["Red", "Steel"])
        if material not in state["materials"]:
            return "POST", "/api/v1/blender/materials", {"name": material, "color": [rng.random(), 0.2, 0.2, 1]}
        return "POST", "/api/v1/blender/materials/apply", {"object": rng.choice(meshes), "material": material}
    if choice < 0.8:
        steps = [
            {
                "method": "primitive.create",
                "params": {"type": "cube", "name": rng.choice(NAMES), "size": rng.choice([1, 2])},
            }
            for _ in range(rng.randint(2, 3))
        ]
        return "POST", "/api/v1/blender/batch", {"steps": steps}
    if choice < 0.9:
        return "POST", "/api/v1/blender/camera", {"name": "Cam", "location": [6, -6, 4], "look_at": [0, 0, 0]}
    # Code cannot be replayed: a snapshot must hold what it did.
    code = f"import bpy\nbpy.ops.mesh.primitive_monkey_add(location=({rng.randint(-3, 3)}, 0, 2))\nresult = 1"
    return "POST", "/api/v1/blender/execute", {"code": code}


def freecad_command(rng: random.Random, state: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    if not state or rng.random() < 0.08:
        return "POST", "/api/v1/freecad/documents", {"name": rng.choice(["Assembly", "Fixture"])}
    document = rng.choice(sorted(state))
    objects = state[document]["objects"]
    solids = [name for name, info in objects.items() if info["visible"] and info["volume"] > 0]
    choice = rng.random()
    if len(solids) < 2 or choice < 0.35:
        kind = rng.choice(["box", "cylinder", "sphere"])
        sizes = {
            "box": {"length": 10, "width": 8, "height": 6},
            "cylinder": {"radius": 3, "height": 12},
            "sphere": {"radius": 4},
        }
        body = {
            "name": rng.choice(NAMES),
            "document": document,
            "location": [rng.uniform(-4, 4), rng.uniform(-4, 4), 0],
        }
        return "POST", f"/api/v1/freecad/primitives/{kind}", {**body, **sizes[kind]}
    if choice < 0.6:
        return (
            "PATCH",
            f"/api/v1/freecad/objects/{rng.choice(solids)}",
            {
                "location": [rng.uniform(-4, 4), rng.uniform(-4, 4), rng.uniform(0, 3)],
                "rotation": [0, 0, rng.choice([0, 15, 90])],
                "document": document,
            },
        )
    if choice < 0.8:
        first, second = rng.sample(solids, 2)
        operation = rng.choice(["union", "subtract"])
        return (
            "POST",
            f"/api/v1/freecad/boolean/{operation}",
            {"object1": first, "object2": second, "document": document},
        )
    if choice < 0.9:
        return "DELETE", f"/api/v1/freecad/objects/{rng.choice(solids)}?document={document}", {}
    # Undo cannot be replayed after a snapshot (which keeps no history): a snapshot holds it.
    steps = [{"method": "document.undo", "params": {"document": document}}]
    return "POST", "/api/v1/freecad/batch", {"steps": steps}


def send(api: httpx.Client, scene: Scene, command: tuple[str, str, dict[str, Any]]) -> httpx.Response:
    method, path, body = command
    return api.request(method, path, json=body if method != "DELETE" else None, headers=scene.headers)


def send_in_background(
    api: httpx.Client, scene: Scene, command: tuple[str, str, dict[str, Any]]
) -> tuple[threading.Thread, list[httpx.Response | Exception]]:
    """Send ``command`` on another thread; its answer (or the transport error) lands in the list."""
    answers: list[httpx.Response | Exception] = []

    def in_flight() -> None:
        try:
            answers.append(send(api, scene, command))
        except httpx.HTTPError as exc:
            answers.append(exc)

    thread = threading.Thread(target=in_flight)
    thread.start()
    return thread, answers


def acknowledged(response: httpx.Response) -> bool:
    """A command the gateway told its client was done (a batch is, even when one of its steps failed)."""
    return response.is_success


# ------------------------------------------------------------------------------------------ the fixtures
@pytest.fixture(scope="module")
def durable(
    tmp_path_factory: pytest.TempPathFactory, blender_backend: Backend, freecad_backend: Backend
) -> Iterator[Gateway]:
    gateway = start_gateway(tmp_path_factory.mktemp("durable"), blender_backend, freecad_backend, extra_env=ALWAYS)
    yield gateway
    gateway.stop()


def worker_pid(api: httpx.Client, scene: Scene) -> int:
    pid: int = ok(api.get(f"/api/v1/{scene.app}/sessions/{scene.id}"))["worker"]["pid"]
    return pid


def wait_restored(api: httpx.Client, scene: Scene, old_pid: int) -> dict[str, Any]:
    def restored() -> dict[str, Any] | None:
        info: dict[str, Any] = ok(api.get(f"/api/v1/{scene.app}/sessions/{scene.id}"))
        worker = info["worker"]
        return info if info["state"] == "ready" and worker is not None and worker["pid"] != old_pid else None

    result: dict[str, Any] = wait_until(restored, f"{scene.app} session {scene.id} to come back")
    return result


def kill_now(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)


# ------------------------------------------------------------------------------------------ the tests
def random_kills(gateway: Gateway, kills: int, seed: int) -> None:
    """Random mutating commands in two sessions of each application, ``kills`` kill -9s of their workers (between
    commands or during one); after each restore the state is exactly what the last acknowledged command left."""
    rng = random.Random(seed)
    with httpx.Client(base_url=gateway.url, timeout=PATIENCE) as api:
        scenes = [Scene(app, new_session(api, app)) for app in ("blender", "freecad") for _ in range(2)]
        try:
            for scene in scenes:
                scene.expected = read_state(api, scene)
            for kill in range(kills):
                scene = scenes[kill % len(scenes)]
                make = blender_command if scene.app == "blender" else freecad_command
                for _ in range(rng.randint(1, 5)):
                    command = make(rng, scene.expected)
                    response = send(api, scene, command)
                    scene.commands += 1
                    if acknowledged(response):
                        scene.acknowledged.append(f"{command[0]} {command[1]}")
                        scene.expected = read_state(api, scene)
                    else:
                        assert response.status_code in (404, 409, 422), response.text  # refused: nothing happened
                pid = worker_pid(api, scene)
                if rng.random() < 0.5:
                    kill_now(pid)  # between commands
                else:
                    # During a command: whether it was acknowledged decides what the restored state must hold.
                    command = make(rng, scene.expected)
                    thread, answers = send_in_background(api, scene, command)
                    threading.Event().wait(rng.uniform(0, 0.05))
                    kill_now(pid)
                    thread.join(PATIENCE)
                    (answer,) = answers
                    if isinstance(answer, httpx.Response) and acknowledged(answer):
                        scene.acknowledged.append(f"{command[0]} {command[1]} (in flight)")
                        scene.expected = "read after restore"  # it was done: the restore must hold it
                scene.kills += 1
                info = wait_restored(api, scene, pid)
                assert info["restored"] is not None, info
                restored = read_state(api, scene)
                if scene.expected == "read after restore":
                    scene.expected = restored
                    continue
                assert restored == scene.expected, (
                    f"kill {kill + 1} ({scene.app} {scene.id}, seed {seed}): the restored state differs after "
                    f"{len(scene.acknowledged)} acknowledged commands; restore: {info['restored']}"
                )
            assert sum(scene.kills for scene in scenes) == kills
            assert all(len(scene.acknowledged) >= kills // 8 for scene in scenes)
        finally:
            for scene in scenes:
                end_session(api, scene.app, scene.id)


def test_random_kills_lose_no_acknowledged_command(durable: Gateway) -> None:
    random_kills(durable, KILLS, SEED)


def test_everysec_loses_nothing_when_only_workers_die(
    tmp_path_factory: pytest.TempPathFactory, blender_backend: Backend, freecad_backend: Backend
) -> None:
    """everysec fsyncs once a second, but every entry is written before its answer: a worker's death (or the
    gateway's) loses nothing; only the machine losing power could lose the last second."""
    env = {**ALWAYS, "BRIDGE3D_DURABILITY": "everysec"}
    gateway = start_gateway(tmp_path_factory.mktemp("everysec"), blender_backend, freecad_backend, extra_env=env)
    try:
        random_kills(gateway, 8, SEED + 1)
    finally:
        gateway.stop()


def test_a_command_that_kills_its_worker_is_never_replayed(durable: Gateway) -> None:
    with httpx.Client(base_url=durable.url, timeout=PATIENCE) as api:
        scene = Scene("freecad", new_session(api, "freecad"))
        try:
            ok(api.post("/api/v1/freecad/documents", json={"name": "Kept"}, headers=scene.headers), 201)
            box = {"name": "Block", "length": 10, "width": 10, "height": 10}
            ok(api.post("/api/v1/freecad/primitives/box", json=box, headers=scene.headers), 201)
            expected = read_state(api, scene)
            deadly = {"code": "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"}
            for attempt in range(1, 3):  # twice: each time the session comes back without it, no crash loop
                pid = worker_pid(api, scene)
                response = api.post("/api/v1/freecad/execute", json=deadly, headers=scene.headers)
                assert response.status_code == 503 and response.json()["error"]["code"] == "CONNECTION_FAILED"
                info = wait_restored(api, scene, pid)
                assert info["restarts"] == attempt
                assert info["restored"]["skipped"] == 1 and info["restored"]["replayed"] >= 0
                assert read_state(api, scene) == expected
            # A command that hangs its worker until it is killed: not replayed either.
            pid = worker_pid(api, scene)
            hang = {"code": "import time\ntime.sleep(3600)", "timeout": 600}
            hanging = threading.Thread(
                target=lambda: api.post("/api/v1/freecad/execute", json=hang, headers=scene.headers)
            )
            hanging.start()
            wait_until(
                lambda: (
                    ok(api.get("/health"))["pools"]["freecad"]["workers"]
                    and any(
                        w["pid"] == pid and w["busy"] for w in ok(api.get("/health"))["pools"]["freecad"]["workers"]
                    )
                ),
                "the hanging command to run",
            )
            kill_now(pid)
            hanging.join(PATIENCE)
            info = wait_restored(api, scene, pid)
            assert info["restarts"] == 3 and info["restored"]["skipped"] == 1
            assert read_state(api, scene) == expected
            # Nothing restarts by itself afterwards.
            pid = worker_pid(api, scene)
            threading.Event().wait(3)
            assert worker_pid(api, scene) == pid
        finally:
            end_session(api, scene.app, scene.id)


def test_an_ended_sessions_journal_is_removed(durable: Gateway) -> None:
    with httpx.Client(base_url=durable.url, timeout=PATIENCE) as api:
        session = new_session(api, "blender")
        ok(api.post("/api/v1/blender/primitives/cube", json={"name": "Short"}, headers={SESSION: session}), 201)
        folder = state_dir(durable) / "sessions" / f"blender-{session}"
        assert (folder / "journal.jsonl").stat().st_size > 0
        end_session(api, "blender", session)
        assert not folder.exists()


def test_the_default_session_survives_a_restart_of_its_host(tmp_path: Path) -> None:
    """What the supervisor does when a host server dies: the same port and token, a new process. The gateway sees a
    new instance on its next connection and restores the default session into it before anything else runs."""
    host = start_backend("freecad", tmp_path / "host")
    gateway = start_gateway(tmp_path, None, host, extra_env=ALWAYS)
    try:
        with httpx.Client(base_url=gateway.url, timeout=PATIENCE) as api:
            default = Scene("freecad", "default")
            ok(api.post("/api/v1/freecad/documents", json={"name": "Main"}), 201)
            for height in (5, 6, 7):
                box = {"name": "Box", "length": 10, "width": 10, "height": height}
                ok(api.post("/api/v1/freecad/primitives/box", json=box), 201)
            ok(api.patch("/api/v1/freecad/objects/Box001", json={"location": [20, 0, 0]}))
            expected = read_state(api, default)
            host.process.send_signal(signal.SIGKILL)
            host.process.wait()
            error(api.get("/api/v1/freecad/documents"), 503, "CONNECTION_FAILED")
            host = start_backend("freecad", tmp_path / "host", port=host.port, token=host.token)
            assert read_state(api, default) == expected
            listed = ok(api.get("/api/v1/freecad/sessions"))["sessions"]
            assert listed[0]["restored"]["replayed"] == 5 and listed[0]["restored"]["skipped"] == 0
    finally:
        gateway.stop()
        stop_process(host.process)


def test_a_restarted_gateway_restores_sessions_whose_workers_are_gone(
    tmp_path_factory: pytest.TempPathFactory, blender_backend: Backend, freecad_backend: Backend
) -> None:
    folder = tmp_path_factory.mktemp("restart-durable")
    gateway = start_gateway(folder, blender_backend, freecad_backend, extra_env=ALWAYS)
    port = int(gateway.url.rsplit(":", 1)[1])
    try:
        with httpx.Client(base_url=gateway.url, timeout=PATIENCE) as api:
            scene = Scene("blender", new_session(api, "blender"))
            for index in range(8):
                body = {"name": "Brick", "location": [index, 0, 0]}
                ok(api.post("/api/v1/blender/primitives/cube", json=body, headers=scene.headers), 201)
            expected = read_state(api, scene)
            pid = worker_pid(api, scene)
        gateway.process.send_signal(signal.SIGKILL)  # the gateway and the session's worker both die
        gateway.process.wait()
        kill_now(pid)
        gateway = start_gateway(folder, blender_backend, freecad_backend, extra_env=ALWAYS, port=port)
        with httpx.Client(base_url=gateway.url, timeout=PATIENCE) as api:
            info = wait_restored(api, scene, pid)
            assert info["id"] == scene.id and info["restored"]["failed"] == 0
            assert read_state(api, scene) == expected
            end_session(api, scene.app, scene.id)
    finally:
        gateway.stop()
