"""Sessions through the SDK against a gateway with worker pools: ``with client.blender.session() as scene``
isolates what it makes, carries its id on every request and on its event stream, and ends the session (its worker
process with it) when the block ends, also when the block raised; ``with_session`` and the route methods, sync and
async; the failures of sessions as the SDK's exceptions."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from bridge3d.client import (
    AsyncBlenderSession,
    AsyncClient,
    BackendUnavailableError,
    BlenderSession,
    Client,
    ConflictError,
    FreeCADSession,
    NotFoundError,
    models,
)
from gateway import Gateway

from ._util import Calls
from .conftest import PATIENCE
from .test_operations import operations


def worker_of(client: Client, app: str, owner: str) -> models.WorkerHealth | None:
    return next((worker for worker in client.health().pools[app].workers if worker.owner == owner), None)


def process_ended(pid: int) -> bool:
    """The process is gone, or a zombie its parent has not reaped yet (it runs no more either way)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def until(condition: Any, what: str) -> None:
    """Poll ``condition()`` until it holds; an assertion error naming ``what`` if it never does."""
    deadline = time.monotonic() + PATIENCE
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.1)


def test_a_session_isolates_its_scene_and_ends_with_its_block(pooled: Client) -> None:
    with pooled.blender.session(label="sdk-isolated") as scene:
        assert isinstance(scene, BlenderSession) and scene.id.startswith("ses_")
        info = scene.info()
        assert info.id == scene.id and info.label == "sdk-isolated" and info.state == "ready" and not info.default
        assert info.worker is not None and info.worker.owner == scene.id and info.worker.pid is not None
        pid = info.worker.pid

        made = scene.cube(name="SdkIsolated", size=3)
        assert scene.objects.get(made.object_id).dimensions == [3, 3, 3]
        with pytest.raises(NotFoundError):
            pooled.blender.objects.get(made.object_id)  # the default session has no such object
        note = scene.files.upload(b"only here\n", filename="sdk-session-note.txt")
        assert scene.files.read(note.name) == b"only here\n"
        assert note.name not in {file.name for file in pooled.blender.files.list()}

        # The session's event stream hears the session; the default session's stream does not: the first object
        # event it hears is the one made in the default session afterwards.
        with scene.events("object.*") as in_session, pooled.blender.events("object.created") as in_default:
            scene.sphere(name="SdkSessionEvent")
            pooled.blender.plane(name="SdkDefaultEvent")
            assert in_session.get(timeout=PATIENCE).data["name"] == "SdkSessionEvent"
            assert in_default.get(timeout=PATIENCE).data["name"] == "SdkDefaultEvent"
        pooled.blender.objects.delete("SdkDefaultEvent")
        assert worker_of(pooled, "blender", scene.id) is not None

    with pytest.raises(NotFoundError) as ended:
        scene.objects.list()  # its id is on the request, and no such session exists any more
    assert ended.value.code == "SESSION_NOT_FOUND" and ended.value.status_code == 404
    assert ended.value.details["session"] == scene.id
    with pytest.raises(NotFoundError) as listed:
        pooled.blender.sessions.get(scene.id)
    assert listed.value.code == "SESSION_NOT_FOUND"
    assert worker_of(pooled, "blender", scene.id) is None
    until(lambda: process_ended(pid), "the session's worker process to end")


def test_a_block_that_raises_still_ends_its_session(pooled: Client) -> None:
    with pytest.raises(RuntimeError, match="the block failed"), pooled.freecad.session() as cad:
        assert isinstance(cad, FreeCADSession)
        session_id = cad.id
        cad.documents.create(name="SdkAbandoned")
        raise RuntimeError("the block failed")
    assert session_id not in {session.id for session in pooled.freecad.sessions.list()}
    assert worker_of(pooled, "freecad", session_id) is None


def test_a_session_ended_inside_its_block_is_not_ended_twice(pooled: Client) -> None:
    with pooled.freecad.session() as cad:
        assert cad.end().ended
    with pooled.freecad.session() as other:
        pooled.freecad.sessions.end(other.id)  # ended by someone else: leaving the block is quiet about it
    with pytest.raises(NotFoundError):
        other.info()


def test_session_routes_and_sessions_made_elsewhere(pooled_sdk: Calls) -> None:
    for app in ("blender", "freecad"):
        sessions = getattr(pooled_sdk, app).sessions
        made = sessions.create(label=f"sdk-{app}")
        assert isinstance(made, models.SessionInfo) and made.app == app and made.label == f"sdk-{app}"
        listed = sessions.list()
        assert made.id in {session.id for session in listed}
        assert [session.id for session in listed if session.default] == ["default"]
        assert sessions.get(made.id).worker is not None
        assert sessions.get("default").default

        # A session someone else made: the app's operations inside it, and a whole client inside it.
        inside = pooled_sdk.wrap(getattr(pooled_sdk._target, app).with_session(made.id), f"{app}.with_session")
        assert inside.info().id == made.id
        scoped = pooled_sdk.wrap(pooled_sdk._target.with_session(made.id), "with_session")
        if app == "blender":
            inside.scene.clear()
            inside.cube(name="SdkElsewhere")
            assert scoped.blender.objects.list(name_contains="SdkElsewhere").total == 1
            assert pooled_sdk.blender.objects.list(name_contains="SdkElsewhere").total == 0
        else:
            inside.documents.create(name="SdkElsewhere")
            names = {entry["name"] for entry in scoped.freecad.documents.list().documents}
            assert "SdkElsewhere" in names
            assert "SdkElsewhere" not in {entry["name"] for entry in pooled_sdk.freecad.documents.list().documents}

        ended = sessions.end(made.id)
        assert isinstance(ended, models.SessionEnded) and ended.id == made.id and ended.ended
        with pytest.raises(NotFoundError) as gone:
            sessions.get(made.id)
        assert gone.value.code == "SESSION_NOT_FOUND"
        with pytest.raises(ConflictError):
            sessions.end("default")
    routes = operations("blender.sessions.", pooled=True) | operations("freecad.sessions.", pooled=True)
    assert pooled_sdk._called >= routes, sorted(routes - pooled_sdk._called)


def test_too_many_sessions(pooled_gateway: Gateway) -> None:
    held: list[FreeCADSession] = []
    with Client(pooled_gateway.url, max_retries=0, timeout=PATIENCE) as impatient:
        try:
            with pytest.raises(BackendUnavailableError) as refused:
                for _ in range(3):  # the gateway allows two FreeCAD sessions (conftest.POOL_LIMITS)
                    held.append(impatient.freecad.session())
            assert len(held) == 2
            assert refused.value.code == "TOO_MANY_SESSIONS" and refused.value.status_code == 503
            assert refused.value.setting == "BRIDGE3D_FREECAD__WORKERS"
        finally:
            for session in held:
                session.end()


def test_async_sessions(pooled_gateway: Gateway) -> None:
    async def scenario() -> tuple[str, list[str], bool]:
        async with AsyncClient(pooled_gateway.url, timeout=PATIENCE) as sdk:
            async with sdk.blender.session(label="sdk-async") as scene:
                assert isinstance(scene, AsyncBlenderSession)
                session_id = scene.id
                assert (await scene.info()).label == "sdk-async"
                async with scene.events("object.created") as events:
                    await scene.cube(name="SdkAsyncSession")
                    heard = [(await events.get(timeout=PATIENCE)).data["name"]]
                in_default = await sdk.blender.objects.list(name_contains="SdkAsyncSession")
                assert in_default.total == 0
            try:
                await scene.objects.list()
            except NotFoundError as error:
                assert error.code == "SESSION_NOT_FOUND"
            else:
                raise AssertionError("the ended session still answered")

            awaited = await sdk.freecad.session()  # not a context manager: ended by hand
            document = await awaited.documents.create(name="SdkAwaited")
            assert document.name == "SdkAwaited"
            ended = (await awaited.end()).ended
            return session_id, heard, ended

    session_id, heard, ended = asyncio.run(scenario())
    assert session_id.startswith("ses_") and heard == ["SdkAsyncSession"] and ended
    with Client(pooled_gateway.url) as client:
        assert session_id not in {session.id for session in client.blender.sessions.list()}


def test_sessions_are_off_without_workers(client: Client) -> None:
    """The everyday test gateway has no pools (BRIDGE3D_<APP>__WORKERS=0): a session is refused, and the block's
    body never runs."""
    ran = False
    with pytest.raises(BackendUnavailableError) as refused, client.with_options(max_retries=0).blender.session():
        ran = True
    assert not ran and refused.value.code == "TOO_MANY_SESSIONS" and refused.value.status_code == 503
