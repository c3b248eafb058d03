"""Sessions against the real applications: isolation, a killed worker, ownership, limits, expiry, restarts."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from backends import Backend
from envelope import error, ok
from gateway import Gateway, start_gateway
from polling import wait_until
from wsclient import open_socket, receive_until, send

from .conftest import PATIENCE, SESSION, end_session, in_session, new_session, worker_of

BLENDER = "/api/v1/blender"
FREECAD = "/api/v1/freecad"


def object_names(api: httpx.Client, session: str) -> set[str]:
    listed = ok(api.get(f"{BLENDER}/objects", params={"limit": 1000}, headers=in_session(session)))
    return {item["name"] for item in listed["objects"]}


def test_two_sessions_get_the_names_they_ask_for_and_see_only_their_own_objects(api: httpx.Client) -> None:
    first, second = new_session(api, "blender"), new_session(api, "blender")
    try:
        made = [
            ok(api.post(f"{BLENDER}/primitives/cube", json={"name": "Widget"}, headers=in_session(s)), 201)
            for s in (first, second)
        ]
        assert [m["object_id"] for m in made] == ["Widget", "Widget"]  # no Widget.001: separate scenes
        ok(api.post(f"{BLENDER}/primitives/sphere", json={"name": "OnlyInSecond"}, headers=in_session(second)), 201)
        assert "OnlyInSecond" in object_names(api, second)
        assert "OnlyInSecond" not in object_names(api, first)
        error(api.get(f"{BLENDER}/objects/OnlyInSecond", headers=in_session(first)), 404, "NOT_FOUND")
        # The default session (the attached host) holds neither.
        error(api.get(f"{BLENDER}/objects/OnlyInSecond"), 404, "NOT_FOUND")
        # The query parameter names the session as well as the header does.
        assert ok(api.get(f"{BLENDER}/objects/OnlyInSecond", params={"session": second}))["type"] == "MESH"
    finally:
        end_session(api, "blender", first)
        end_session(api, "blender", second)


def test_files_executions_and_undo_stay_in_their_session(api: httpx.Client) -> None:
    first, second = new_session(api, "freecad"), new_session(api, "freecad")
    try:
        uploaded = ok(
            api.post(f"{FREECAD}/files", files={"file": ("notes.txt", b"first only")}, headers=in_session(first)), 201
        )
        assert uploaded["name"] == "notes.txt"
        assert [f["name"] for f in ok(api.get(f"{FREECAD}/files", headers=in_session(second)))] == []
        error(api.get(f"{FREECAD}/files/notes.txt", headers=in_session(second)), 404)
        assert api.get(f"{FREECAD}/files/notes.txt", params={"session": first}).content == b"first only"

        marker = "import sys\nsys.bridge3d_marker = 'first'\nresult = sys.bridge3d_marker"
        assert ok(api.post(f"{FREECAD}/execute", json={"code": marker}, headers=in_session(first)))["result"] == "first"
        probe = "import sys\nresult = getattr(sys, 'bridge3d_marker', None)"
        assert ok(api.post(f"{FREECAD}/execute", json={"code": probe}, headers=in_session(second)))["result"] is None

        for session in (first, second):
            ok(api.post(f"{FREECAD}/documents", json={"name": "Part"}, headers=in_session(session)), 201)
            box = {"name": "Block", "length": 10, "width": 10, "height": 10}
            ok(api.post(f"{FREECAD}/primitives/box", json=box, headers=in_session(session)), 201)
        undo = {"steps": [{"method": "document.undo", "params": {"document": "Part"}}]}
        assert ok(api.post(f"{FREECAD}/batch", json=undo, headers=in_session(first)))["completed"] == 1
        error(api.get(f"{FREECAD}/objects/Block", headers=in_session(first)), 404)  # undone in the first only
        assert ok(api.get(f"{FREECAD}/objects/Block", headers=in_session(second)))["volume"] == pytest.approx(1000)
    finally:
        end_session(api, "freecad", first)
        end_session(api, "freecad", second)


def test_events_reach_only_the_sockets_of_their_session(platform: Gateway, api: httpx.Client) -> None:
    first, second = new_session(api, "blender"), new_session(api, "blender")
    try:
        with open_socket(platform.url, "blender") as default_socket, open_socket(platform.url, "blender", first) as own:
            for socket in (default_socket, own):
                send(socket, {"type": "subscribe", "id": "s", "topics": ["object.*"]})
                receive_until(socket, lambda m: m.get("id") == "s")
            ok(api.post(f"{BLENDER}/primitives/cube", json={"name": "FromSecond"}, headers=in_session(second)), 201)
            ok(api.post(f"{BLENDER}/primitives/cube", json={"name": "FromFirst"}, headers=in_session(first)), 201)
            event = receive_until(own, lambda m: m.get("type") == "event")
            # The first event the first session's socket hears is its own object: the second's never reached it.
            assert event["topic"] == "object.created" and event["data"]["name"] == "FromFirst", event
            send(default_socket, {"type": "ping", "id": "p"})
            heard = receive_until(default_socket, lambda m: m.get("type") in ("event", "pong"))
            assert heard["type"] == "pong", f"the default session heard another session's event: {heard}"
    finally:
        end_session(api, "blender", first)
        end_session(api, "blender", second)


def test_a_killed_session_worker_leaves_the_other_sessions_answering(api: httpx.Client) -> None:
    victim, bystander = new_session(api, "blender"), new_session(api, "blender")
    try:
        ok(api.post(f"{BLENDER}/primitives/cube", json={"name": "Kept"}, headers=in_session(victim)), 201)
        ok(api.post(f"{BLENDER}/files", files={"file": ("kept.txt", b"on disk")}, headers=in_session(victim)), 201)
        ok(api.post(f"{BLENDER}/primitives/cube", json={"name": "Safe"}, headers=in_session(bystander)), 201)
        doomed = worker_of(api, "blender", victim)
        assert doomed is not None and doomed["role"] == "session"
        answers: list[int] = []
        stop = threading.Event()

        def keep_asking() -> None:  # the bystander under load for the whole time
            with httpx.Client(base_url=str(api.base_url), timeout=PATIENCE) as client:
                while not stop.is_set():
                    answers.append(client.get(f"{BLENDER}/objects/Safe", headers=in_session(bystander)).status_code)

        load = threading.Thread(target=keep_asking)
        load.start()
        try:
            wait_until(lambda: len(answers) >= 5, "the bystander's first answers")
            os.kill(doomed["pid"], signal.SIGKILL)
            replaced = wait_until(
                lambda: (w := worker_of(api, "blender", victim)) is not None and w["pid"] != doomed["pid"] and w,
                "a new worker for the victim's session",
            )
            asked_before = len(answers)
            wait_until(lambda: len(answers) >= asked_before + 5, "more answers after the kill")
        finally:
            stop.set()
            load.join(PATIENCE)
        assert answers and set(answers) == {200}, f"the bystander got {sorted(set(answers))}"
        assert replaced["reachable"] is True
        session = ok(api.get(f"{BLENDER}/sessions/{victim}"))
        assert session["restarts"] == 1 and session["state"] == "ready"
        # The session keeps its id and its files, and its scene: restored from its snapshot and journal.
        assert "Kept" in object_names(api, victim)
        assert session["restored"]["failed"] == 0
        assert api.get(f"{BLENDER}/files/kept.txt", headers=in_session(victim)).content == b"on disk"
        assert ok(api.get(f"{BLENDER}/objects/Safe", headers=in_session(bystander)))["name"] == "Safe"
    finally:
        end_session(api, "blender", victim)
        end_session(api, "blender", bystander)


def test_sessions_are_listed_shown_and_ended(api: httpx.Client) -> None:
    session = new_session(api, "freecad")
    listed = ok(api.get(f"{FREECAD}/sessions"))["sessions"]
    assert listed[0]["id"] == "default" and listed[0]["default"] is True and listed[0]["worker"] is None
    assert session in [s["id"] for s in listed]
    shown = ok(api.get(f"{FREECAD}/sessions/{session}"))
    assert shown["worker"]["role"] == "session" and shown["worker"]["owner"] == session
    assert shown["expires"] == pytest.approx(shown["last_used"] + 3600, abs=1)  # BRIDGE3D_SESSION_IDLE_TIMEOUT
    pid = shown["worker"]["pid"]
    error(api.delete(f"{FREECAD}/sessions/default"), 409, "CONFLICT")
    assert ok(api.delete(f"{FREECAD}/sessions/{session}")) == {"id": session, "ended": True}
    error(api.get(f"{FREECAD}/sessions/{session}"), 404, "SESSION_NOT_FOUND")
    error(api.get(f"{FREECAD}/documents", headers=in_session(session)), 404, "SESSION_NOT_FOUND")
    wait_until(lambda: not os.path.exists(f"/proc/{pid}") or _zombie(pid), "the ended session's worker to exit")
    # A malformed id is a validation error, not a lookup.
    assert error(api.get(f"{FREECAD}/documents", headers=in_session("../etc")), 422, "VALIDATION_ERROR")


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


@pytest.fixture(scope="module")
def keyed(
    tmp_path_factory: pytest.TempPathFactory, blender_backend: Backend, freecad_backend: Backend
) -> Iterator[Gateway]:
    """Two API keys, room for two Blender sessions, one per key."""
    env = {
        "BRIDGE3D_API_KEY": "key-one,key-two",
        "BRIDGE3D_BLENDER__WORKERS": "2",
        "BRIDGE3D_FREECAD__WORKERS": "0",
        "BRIDGE3D_MAX_SESSIONS_PER_KEY": "1",
    }
    gateway = start_gateway(tmp_path_factory.mktemp("keyed"), blender_backend, freecad_backend, extra_env=env)
    yield gateway
    gateway.stop()


def test_a_session_is_usable_only_with_the_key_that_created_it(keyed: Gateway) -> None:
    one, two = {"X-API-Key": "key-one"}, {"Authorization": "Bearer key-two"}
    with httpx.Client(base_url=keyed.url, timeout=PATIENCE) as api:
        session = new_session(api, "blender", **one)
        try:
            ok(api.post(f"{BLENDER}/primitives/cube", json={"name": "Mine"}, headers={**one, SESSION: session}), 201)
            assert ok(api.get(f"{BLENDER}/objects/Mine", headers={**one, SESSION: session}))["name"] == "Mine"
            # Another key: the session does not exist for it (404, never 403).
            error(api.get(f"{BLENDER}/objects/Mine", headers={**two, SESSION: session}), 404, "SESSION_NOT_FOUND")
            error(api.get(f"{BLENDER}/sessions/{session}", headers=two), 404, "SESSION_NOT_FOUND")
            error(api.delete(f"{BLENDER}/sessions/{session}", headers=two), 404, "SESSION_NOT_FOUND")
            assert [s["id"] for s in ok(api.get(f"{BLENDER}/sessions", headers=two))["sessions"]] == ["default"]
            with pytest.raises(InvalidStatus) as refused_socket:
                connect(f"{keyed.url.replace('http', 'ws')}/ws/blender?session={session}", additional_headers=two)
            assert refused_socket.value.response.status_code == 404
            # Each key holds one session at most (BRIDGE3D_MAX_SESSIONS_PER_KEY=1).
            too_many = error(api.post(f"{BLENDER}/sessions", headers=one), 503, "TOO_MANY_SESSIONS")
            assert too_many["details"] == {"limit": 1, "setting": "BRIDGE3D_MAX_SESSIONS_PER_KEY"}
            other = new_session(api, "blender", **two)
            end_session(api, "blender", other, **two)
            # FreeCAD sessions are switched off here.
            off = error(api.post(f"{FREECAD}/sessions", headers=one), 503, "TOO_MANY_SESSIONS")
            assert off["details"] == {"limit": 0, "setting": "BRIDGE3D_FREECAD__WORKERS"}
        finally:
            end_session(api, "blender", session, **one)


def test_an_idle_session_expires(
    tmp_path_factory: pytest.TempPathFactory, blender_backend: Backend, freecad_backend: Backend
) -> None:
    env = {"BRIDGE3D_SESSION_IDLE_TIMEOUT": "2", "BRIDGE3D_FREECAD__WORKERS": "1"}
    gateway = start_gateway(tmp_path_factory.mktemp("idle"), blender_backend, freecad_backend, extra_env=env)
    try:
        with httpx.Client(base_url=gateway.url, timeout=PATIENCE) as api:
            session = new_session(api, "freecad")
            pid = ok(api.get(f"{FREECAD}/sessions/{session}"))["worker"]["pid"]
            wait_until(
                lambda: api.get(f"{FREECAD}/sessions/{session}").status_code == 404, "the idle session to end", 60
            )
            wait_until(lambda: _zombie(pid), "its worker to exit", 30)
    finally:
        gateway.stop()


def test_a_restarted_gateway_keeps_its_sessions_and_their_workers(
    tmp_path_factory: pytest.TempPathFactory, blender_backend: Backend, freecad_backend: Backend
) -> None:
    folder = tmp_path_factory.mktemp("restart-sessions")
    gateway = start_gateway(folder, blender_backend, freecad_backend)
    port = int(gateway.url.rsplit(":", 1)[1])
    pid = None
    try:
        with httpx.Client(base_url=gateway.url, timeout=PATIENCE) as api:
            session = new_session(api, "blender")
            ok(api.post(f"{BLENDER}/primitives/cone", json={"name": "Survivor"}, headers=in_session(session)), 201)
            pid = ok(api.get(f"{BLENDER}/sessions/{session}"))["worker"]["pid"]
        gateway.process.send_signal(signal.SIGKILL)  # no clean shutdown: the records are all that is left
        gateway.process.wait()
        gateway = start_gateway(folder, blender_backend, freecad_backend, port=port)
        with httpx.Client(base_url=gateway.url, timeout=PATIENCE) as api:
            kept = ok(api.get(f"{BLENDER}/sessions/{session}"))
            assert kept["worker"]["pid"] == pid and kept["restarts"] == 0  # the same process, taken back
            assert ok(api.get(f"{BLENDER}/objects/Survivor", headers=in_session(session)))["type"] == "MESH"
            end_session(api, "blender", session)
    finally:
        gateway.stop()
        if pid is not None:
            wait_until(lambda: _zombie(pid), "the worker to exit with its session", 30)
