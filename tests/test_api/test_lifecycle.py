"""A gateway that runs for months: nothing grows without bound.

* 1,000 objects of each kind created and deleted through REST and through /batch leave the application's
  data-block counts (Blender) and document object counts (FreeCAD) where they started.
* A full workspace answers 507 WORKSPACE_FULL naming the setting, and the gateway and the host go on serving;
  generated files make way for new ones, expire, and can be cleaned by age; files a client named stay.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from backends import Backend
from bridge3d.rpc import RpcClient
from bridge3d.rpc.errors import WORKSPACE_FULL
from bridge3d.rpc.workspace import DEFAULT_GENERATED_MAX_AGE, DEFAULT_QUOTA_BYTES, GENERATED_RECORD
from envelope import error, ok

BLENDER = "/api/v1/blender"
FREECAD = "/api/v1/freecad"
PER_KIND = 1000
# Booleans with their two operands each: 750 objects a way (a boolean costs FreeCAD ten times a primitive).
BOOLEANS = 250
THREADS = 4  # REST calls in flight at once: the host runs them one by one, the gateway's overhead overlaps
# Blender: the data-block collections an object's deletion must give back, and materials nobody named (a client's
# material has a fake user: it stays, see test_blender_data).
BLENDER_COUNTS = (
    "result = {k: len(getattr(D, k)) for k in ('objects', 'meshes', 'curves', 'cameras', 'lights', 'images')}\n"
    "result['unnamed_materials'] = sum(1 for m in D.materials if not m.use_fake_user)\n"
    "result['named_materials'] = sum(1 for m in D.materials if m.use_fake_user)"
)
# route, body, batch step (method, params) of each kind
BLENDER_KINDS: dict[str, tuple[str, dict[str, Any], str, dict[str, Any]]] = {
    **{
        kind: (f"/primitives/{kind}", {}, "primitive.create", {"type": kind})
        for kind in ("cube", "sphere", "cylinder", "cone", "torus", "plane")
    },
    "camera": ("/camera", {"make_active": False}, "camera.create", {"make_active": False}),
    **{
        f"{light} light": ("/light", {"type": light}, "light.create", {"type": light})
        for light in ("POINT", "SUN", "SPOT", "AREA")
    },
}
FREECAD_KINDS = ("box", "sphere", "cylinder", "cone", "torus")


@pytest.fixture(scope="module")
def blender(blender_backend: Backend) -> Iterator[RpcClient]:
    client = blender_backend.client(timeout=600.0)
    yield client
    client.close()


@pytest.fixture(scope="module")
def freecad(freecad_backend: Backend) -> Iterator[RpcClient]:
    client = freecad_backend.client(timeout=600.0)
    yield client
    client.close()


def in_parallel(call: Callable[[int], Any], count: int) -> list[Any]:
    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(call, range(count)))


def blender_counts(blender: RpcClient) -> dict[str, int]:
    counts: dict[str, int] = blender.call("code.execute", {"code": BLENDER_COUNTS})["result"]
    return counts


@pytest.mark.parametrize("kind", list(BLENDER_KINDS))
def test_a_thousand_blender_objects_of_each_kind_come_and_go(api: httpx.Client, blender: RpcClient, kind: str) -> None:
    route, body, method, params = BLENDER_KINDS[kind]
    start = blender_counts(blender)
    tag = uuid.uuid4().hex[:6]

    def create(index: int) -> str:
        name: str = ok(api.post(BLENDER + route, json={**body, "name": f"R{tag}-{index}"}), 201)["object_id"]
        return name

    names = in_parallel(create, PER_KIND)
    assert blender_counts(blender)["objects"] == start["objects"] + PER_KIND
    in_parallel(lambda index: ok(api.delete(f"{BLENDER}/objects/{names[index]}")), PER_KIND)
    assert blender_counts(blender) == start

    steps = [{"method": method, "params": {**params, "name": f"B{tag}-{index}"}} for index in range(PER_KIND)]
    made = ok(api.post(BLENDER + "/batch", json={"steps": steps}))
    names = [step["result"]["name"] for step in made["steps"]]
    assert len(set(names)) == PER_KIND and blender_counts(blender)["objects"] == start["objects"] + PER_KIND
    ok(
        api.post(
            BLENDER + "/batch", json={"steps": [{"method": "object.delete", "params": {"name": n}} for n in names]}
        )
    )
    assert blender_counts(blender) == start


def test_materials_are_listed_kept_and_deleted_through_rest(api: httpx.Client, blender: RpcClient) -> None:
    start = blender_counts(blender)
    material = f"Lacquer-{uuid.uuid4().hex[:6]}"
    ok(api.post(BLENDER + "/materials", json={"name": material, "color": [0.6, 0.1, 0.1]}), 201)
    cube = ok(api.post(BLENDER + "/primitives/cube", json={}), 201)["object_id"]
    ok(api.post(BLENDER + "/materials/apply", json={"object": cube, "material": material}))
    listed = {m["name"]: m for m in ok(api.get(BLENDER + "/materials"))["materials"]}
    assert listed[material]["users"] == 1 and listed[material]["color"][:3] == pytest.approx([0.6, 0.1, 0.1])
    ok(api.delete(f"{BLENDER}/objects/{cube}"))
    assert material in {m["name"] for m in ok(api.get(BLENDER + "/materials"))["materials"]}  # a client named it
    assert ok(api.delete(f"{BLENDER}/materials/{material}")) == {"name": material, "deleted": True, "objects": []}
    assert blender_counts(blender) == start
    missing = error(api.delete(f"{BLENDER}/materials/{material}"), 404, "NOT_FOUND")
    assert missing["details"]["field"] == "name"


def freecad_objects(freecad: RpcClient, document: str) -> int:
    count: int = freecad.call("code.execute", {"code": "result = len(doc.Objects)", "document": document})["result"]
    return count


@pytest.mark.parametrize("kind", FREECAD_KINDS)
def test_a_thousand_freecad_objects_of_each_kind_come_and_go(api: httpx.Client, freecad: RpcClient, kind: str) -> None:
    document = ok(api.post(FREECAD + "/documents", json={"name": f"Life{uuid.uuid4().hex[:6]}"}), 201)["name"]
    try:
        start = freecad_objects(freecad, document)

        def create(index: int) -> str:
            created = api.post(f"{FREECAD}/primitives/{kind}", json={"document": document, "name": f"R{index}"})
            name: str = ok(created, 201)["object_id"]
            return name

        names = in_parallel(create, PER_KIND)
        assert freecad_objects(freecad, document) == start + PER_KIND
        in_parallel(
            lambda index: ok(api.delete(f"{FREECAD}/objects/{names[index]}", params={"document": document})),
            PER_KIND,
        )
        assert freecad_objects(freecad, document) == start

        steps = [
            {"method": "primitive.create", "params": {"type": kind, "name": f"B{index}", "document": document}}
            for index in range(PER_KIND)
        ]
        names = [step["result"]["name"] for step in ok(api.post(FREECAD + "/batch", json={"steps": steps}))["steps"]]
        assert freecad_objects(freecad, document) == start + PER_KIND
        deletes = [{"method": "object.delete", "params": {"name": n, "document": document}} for n in names]
        ok(api.post(FREECAD + "/batch", json={"steps": deletes}))
        assert freecad_objects(freecad, document) == start
    finally:
        api.delete(f"{FREECAD}/documents/{document}")


def test_freecad_booleans_come_and_go(api: httpx.Client, freecad: RpcClient) -> None:
    """Each boolean with its two operands: deleting the result first shows them again, then they go too."""
    document = ok(api.post(FREECAD + "/documents", json={"name": f"Bool{uuid.uuid4().hex[:6]}"}), 201)["name"]
    box = {"document": document, "length": 2, "width": 2, "height": 2}
    try:
        start = freecad_objects(freecad, document)

        def create(index: int) -> list[str]:
            a = ok(api.post(FREECAD + "/primitives/box", json={**box, "name": f"A{index}"}), 201)["object_id"]
            b = ok(api.post(FREECAD + "/primitives/box", json={**box, "name": f"B{index}", "location": [1, 1, 1]}), 201)
            union = {"document": document, "object1": a, "object2": b["object_id"], "name": f"U{index}"}
            fused = ok(api.post(FREECAD + "/boolean/union", json=union), 201)["object_id"]
            return [fused, a, b["object_id"]]

        def delete(names: list[str]) -> None:
            shown = ok(api.delete(f"{FREECAD}/objects/{names[0]}", params={"document": document}))["shown"]
            assert shown == names[1:]
            for name in names[1:]:
                ok(api.delete(f"{FREECAD}/objects/{name}", params={"document": document}))

        made = in_parallel(create, BOOLEANS)
        assert freecad_objects(freecad, document) == start + 3 * BOOLEANS
        in_parallel(lambda index: delete(made[index]), BOOLEANS)
        assert freecad_objects(freecad, document) == start

        steps: list[dict[str, Any]] = []
        for index in range(BOOLEANS):
            operands = [f"C{index}", f"D{index}"]
            steps += [
                {"method": "primitive.create", "params": {"type": "box", "name": operands[0], "document": document}},
                {
                    "method": "primitive.create",
                    "params": {"type": "box", "name": operands[1], "document": document, "position": [1, 1, 1]},
                },
                {"method": "boolean.union", "params": {"objects": operands, "name": f"V{index}", "document": document}},
            ]
        ok(api.post(FREECAD + "/batch", json={"steps": steps}))
        assert freecad_objects(freecad, document) == start + 3 * BOOLEANS
        order = [f"{prefix}{index}" for index in range(BOOLEANS) for prefix in ("V", "C", "D")]
        deletes = [{"method": "object.delete", "params": {"name": name, "document": document}} for name in order]
        ok(api.post(FREECAD + "/batch", json={"steps": deletes}))
        assert freecad_objects(freecad, document) == start
    finally:
        api.delete(f"{FREECAD}/documents/{document}")


# ------------------------------------------------------------------------------------------------ workspace limits
def usage(workspace: Path) -> int:
    """What the host counts against its quota: every regular file directly in the folder."""
    return sum(path.lstat().st_size for path in workspace.iterdir() if path.is_file() and not path.is_symlink())


def fill(workspace: Path, leave: int) -> Path:
    """A file a client named, sized so that the workspace holds its quota less ``leave`` bytes. Sparse: it counts
    in full against the quota (file sizes are what the quota measures) without taking the disk space."""
    filler = workspace / "filler.bin"
    with filler.open("wb") as file:
        file.truncate(DEFAULT_QUOTA_BYTES - leave - usage(workspace))
    return filler


def make_old(workspace: Path, name: str, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(workspace / name, (then, then))


# The write each application refuses when full: a Blender render, a FreeCAD export.
WRITES: dict[str, tuple[str, dict[str, Any]]] = {
    "blender": ("/render", {"resolution": [32, 24], "samples": 1}),
    "freecad": ("/export", {"format": "STL"}),
}


@pytest.fixture
def emptied(api: httpx.Client, request: pytest.FixtureRequest) -> Iterator[str]:
    """The application's workspace with only its named files, something to write, and no filler afterwards."""
    app: str = request.param
    base = f"/api/v1/{app}"
    ok(api.delete(base + "/files"))  # the generated files of earlier tests (the API under test too)
    document = None
    if app == "freecad":
        document = ok(api.post(base + "/documents", json={"name": f"Full{uuid.uuid4().hex[:6]}"}), 201)["name"]
        ok(api.post(base + "/primitives/box", json={"document": document}), 201)
    else:
        ok(api.post(base + "/primitives/cube", json={}), 201)
    yield app
    api.delete(base + "/files/filler.bin")
    if document is not None:
        api.delete(f"{base}/documents/{document}")


@pytest.mark.parametrize("emptied", ["blender", "freecad"], indirect=True)
def test_a_full_workspace_answers_507_naming_the_setting_and_goes_on_serving(
    api: httpx.Client, emptied: str, blender_backend: Backend, freecad_backend: Backend
) -> None:
    app = emptied
    base = f"/api/v1/{app}"
    workspace = {"blender": blender_backend, "freecad": freecad_backend}[app].workspace
    route, body = WRITES[app]
    filler = fill(workspace, leave=0)
    assert usage(workspace) == DEFAULT_QUOTA_BYTES
    full = error(api.post(base + route, json=body), 507, "WORKSPACE_FULL")
    setting = f"BRIDGE3D_{app.upper()}_WORKSPACE_QUOTA_BYTES"
    assert full["details"]["setting"] == setting and setting in full["message"]
    assert full["details"]["rpc_code"] == WORKSPACE_FULL and full["details"]["option"] == "--workspace-quota-bytes"
    # (Bigger than the few bytes the host's record of generated files may shrink by when it forgets vanished ones.)
    upload = error(api.post(base + "/files", files={"file": ("notes.txt", b"x" * 65536)}), 507, "WORKSPACE_FULL")
    assert upload["details"]["setting"] == setting
    assert not (workspace / "notes.txt").exists() and not (workspace / ".notes.txt.part").exists()
    # Nothing else is affected: health, reads and work that writes no file go on.
    assert ok(api.get("/health"))["status"] == "ok"
    assert ok(api.get(base + "/files"))
    assert usage(workspace) == DEFAULT_QUOTA_BYTES
    ok(api.delete(f"{base}/files/{filler.name}"))
    written = ok(api.post(base + route, json=body))
    assert (workspace / written["name"]).stat().st_size == written["size"]


@pytest.mark.parametrize("emptied", ["blender"], indirect=True)
def test_generated_files_make_way_and_expire_named_ones_stay(
    api: httpx.Client, emptied: str, blender_backend: Backend
) -> None:
    workspace = blender_backend.workspace
    render = {"resolution": [32, 24], "samples": 1}
    older = ok(api.post(BLENDER + "/render", json=render))
    assert older["name"].startswith("render-")
    listed = {item["name"]: item for item in ok(api.get(BLENDER + "/files"))}
    assert listed[older["name"]]["generated"] is True and listed[older["name"]]["age"] >= 0
    # Room for a little less than one more render: the generated one makes way for a named one.
    fill(workspace, leave=older["size"] - 10)
    kept = ok(api.post(BLENDER + "/render", json={**render, "output": "keep-me"}))
    assert kept["name"] == "keep-me.png" and not (workspace / older["name"]).exists()
    assert usage(workspace) <= DEFAULT_QUOTA_BYTES
    # The next one does not fit, and no file a client named is given up for it.
    full = error(api.post(BLENDER + "/render", json=render), 507, "WORKSPACE_FULL")
    assert full["details"]["reason"] == "quota"
    assert (workspace / "keep-me.png").exists() and (workspace / "filler.bin").exists()
    ok(api.delete(BLENDER + "/files/filler.bin"))

    # Retention: a generated file older than BRIDGE3D_BLENDER_GENERATED_MAX_AGE goes at the next write.
    stale = ok(api.post(BLENDER + "/render", json=render))["name"]
    for name in (stale, "keep-me.png"):
        make_old(workspace, name, DEFAULT_GENERATED_MAX_AGE + 3600)
    fresh = ok(api.post(BLENDER + "/render", json=render))["name"]
    assert not (workspace / stale).exists() and (workspace / fresh).exists() and (workspace / "keep-me.png").exists()

    # Cleaning by age: generated files only, unless named ones are asked for too.
    make_old(workspace, fresh, 7200)
    young = ok(api.post(BLENDER + "/render", json=render))["name"]
    cleaned = ok(api.delete(BLENDER + "/files", params={"older_than": 3600}))
    assert cleaned["deleted"] == [fresh] and cleaned["count"] == 1 and cleaned["freed"] > 0
    assert (workspace / young).exists() and (workspace / "keep-me.png").exists()
    cleaned = ok(api.delete(BLENDER + "/files", params={"older_than": 3600, "include_named": "true"}))
    assert cleaned["deleted"] == ["keep-me.png"] and (workspace / young).exists()
    assert (workspace / GENERATED_RECORD).exists()  # the host's record of generated files, never listed
    assert GENERATED_RECORD not in {item["name"] for item in ok(api.get(BLENDER + "/files"))}
    bad = error(api.delete(BLENDER + "/files", params={"older_than": -1}), 422, "VALIDATION_ERROR")
    assert bad["details"]["errors"][0]["field"] == "older_than"
