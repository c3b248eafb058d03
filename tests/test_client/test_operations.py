"""Every operation of the SDK, sync and async, against the real Blender and FreeCAD, each result read back.

Each scenario runs once with ``Client`` and once with ``AsyncClient`` (the ``sdk`` fixture calls both the same
way) and ends by checking it called every method of its namespace, so a new operation cannot go untested.
Sessions and jobs need worker pools: test_sessions.py and test_jobs.py check theirs the same way.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from bridge3d.client import NotFoundError, models
from bridge3d.client._generate import sdk_methods

from ._util import Calls

POOLED = ("blender.sessions.", "freecad.sessions.", "jobs.")  # what only a gateway with worker pools does


def operations(prefix: str, *, pooled: bool = False) -> set[str]:
    """Every SDK method under ``prefix`` ("blender.", "freecad.", "" for the gateway's own); those of sessions and
    jobs only when ``pooled``."""
    places = {place for place in sdk_methods() if pooled or not place.startswith(POOLED)}
    return {place for place in places if place.startswith(prefix)} if prefix else {p for p in places if "." not in p}


def test_gateway_operations(sdk: Calls) -> None:
    health = sdk.health()
    assert isinstance(health, models.GatewayHealth)
    assert health.status == "ok" and health.backends["blender"].reachable and health.backends["freecad"].reachable
    version = sdk.version()
    assert isinstance(version, models.VersionInfo) and version.api == "v1" and version.version == health.version
    metrics = sdk.metrics()  # Prometheus text: the calls above are counted by route
    assert 'bridge3d_requests_total{method="GET",route="/version",status="200"}' in metrics
    assert sdk._called == operations("")


def test_blender_operations(sdk: Calls, tmp_path: Path) -> None:
    blender = sdk.blender
    assert blender.health().reachable
    blender.scene.clear()
    assert blender.objects.list().total == 0

    cube = blender.cube(name="SdkCube", size=2, location=(0, 0, 1))
    assert isinstance(cube, models.CreatedBlenderObject) and cube.object_id == "SdkCube"
    read = blender.objects.get(cube.object_id)
    assert isinstance(read, models.BlenderObjectInfo)
    assert read.location == [0, 0, 1] and read.dimensions == [2, 2, 2] and read.faces == 6

    faces = {
        blender.sphere(radius=0.5, segments=8, rings=4).object_id: 32,
        blender.cylinder(vertices=6, location=(3, 0, 0)).object_id: 8,
        blender.cone(vertices=5, radius2=0.2).object_id: 7,
        blender.torus(major_segments=6, minor_segments=4).object_id: 24,
        blender.plane(size=4, rotation=(90, 0, 0)).object_id: 1,
    }
    for name, count in faces.items():
        assert blender.objects.get(name).faces == count, name

    camera = blender.camera(name="SdkCamera", location=(6, -6, 5), look_at=(0, 0, 0))
    assert blender.objects.get(camera.object_id).type == "CAMERA"
    light = blender.light(type="SUN", energy=2.5, name="SdkSun")
    assert blender.objects.get(light.object_id).type == "LIGHT"

    moved = blender.objects.transform(cube.object_id, location=(1, 2, 3), scale=(1, 1, 2))
    assert moved.location == [1, 2, 3] and blender.objects.get(cube.object_id).dimensions == [2, 2, 4]

    material = blender.materials.create(name="SdkRed", color="#ff0000", roughness=0.25)
    assert isinstance(material, models.MaterialInfo) and material.color == [1, 0, 0, 1] and material.roughness == 0.25
    assert blender.materials.apply(object=cube.object_id, material="SdkRed").materials == ["SdkRed"]
    blender.materials.create(name="SdkUnused")
    listed_materials = {entry["name"]: entry for entry in blender.materials.list().materials}
    assert listed_materials["SdkRed"]["users"] == 1 and listed_materials["SdkUnused"]["users"] == 0
    removed = blender.materials.delete("SdkUnused")
    assert isinstance(removed, models.MaterialDeleted) and removed.deleted and removed.objects == []
    assert "SdkUnused" not in {entry["name"] for entry in blender.materials.list().materials}

    listed = blender.objects.list(type="mesh", name_contains="sdk")
    assert [entry["name"] for entry in listed.objects] == ["SdkCube"] and listed.total == 1
    everything = blender.objects.list(limit=3)
    assert len(everything.objects) == 3 and everything.total == 8
    assert blender.scene.info().object_count == 8
    assert blender.execute(code="result = sorted(o.name for o in D.objects if o.type == 'LIGHT')").result == ["SdkSun"]

    image = blender.render(resolution=(32, 24), output="sdk-render")
    assert isinstance(image, models.FileInfo) and image.name == "sdk-render.png"
    written = blender.files.download(image.name, tmp_path)
    assert written == tmp_path / "sdk-render.png" and written.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert written.stat().st_size == image.size and blender.files.read(image.name) == written.read_bytes()
    unnamed = blender.render(resolution=(8, 8))  # a generated name: what files.clean deletes
    cleaned = blender.files.clean()
    assert isinstance(cleaned, models.CleanedFiles) and unnamed.name in cleaned.deleted
    assert image.name not in cleaned.deleted and image.name in {file.name for file in blender.files.list()}

    exported = blender.export(format="STL", objects=[cube.object_id], filepath="sdk-cube")
    assert exported.name == "sdk-cube.stl" and exported.name in {file.name for file in blender.files.list()}
    local = blender.files.download(exported.name, tmp_path / "copy.stl")
    imported = blender.import_file(local)
    assert isinstance(imported, models.Imported) and len(imported.objects) == 1
    assert blender.objects.get(imported.objects[0]).faces == 12  # the cube's quads as triangles

    glb = blender.view_glb(objects=[cube.object_id])
    assert glb[:4] == b"glTF"

    saved = blender.scene.save(filepath="sdk-scene")
    assert saved.name == "sdk-scene.blend"
    count = blender.scene.info().object_count
    blend = blender.files.download(saved.name, tmp_path)
    blender.scene.clear()
    assert blender.scene.open(blend).object_count == count

    note = blender.files.upload(b"bridge3d sdk\n", filename="sdk-note.txt")
    assert note.size == 13 and blender.files.read(note.name) == b"bridge3d sdk\n"
    assert blender.files.delete(note.name).deleted
    assert note.name not in {file.name for file in blender.files.list()}

    batch = blender.batch(
        [
            {"method": "primitive.create", "params": {"type": "cube", "name": "SdkBatch", "size": 0.5}},
            {"method": "object.transform", "params": {"name": "SdkBatch", "location": [0, 0, 5]}},
        ]
    )
    assert isinstance(batch, models.BatchResult) and batch.completed == 2 and not batch.failed
    assert blender.objects.get("SdkBatch").location == [0, 0, 5]

    assert blender.objects.delete(cube.object_id).deleted
    with pytest.raises(NotFoundError):
        blender.objects.get(cube.object_id)
    assert sdk._called >= operations("blender."), sorted(operations("blender.") - sdk._called)


def test_freecad_operations(sdk: Calls, tmp_path: Path) -> None:
    freecad = sdk.freecad
    assert freecad.health().reachable
    document = freecad.documents.create(name="SdkPart")
    assert isinstance(document, models.DocumentInfo) and document.active
    doc = document.name
    assert doc in [entry["name"] for entry in freecad.documents.list().documents]

    box = freecad.box(name="SdkBox", length=20, width=20, height=10, document=doc)
    assert box.object.volume == pytest.approx(4000)
    hole = freecad.cylinder(radius=3, height=10, location=(10, 10, 0), document=doc)
    assert freecad.objects.get(hole.object_id, document=doc).volume == pytest.approx(math.pi * 9 * 10)
    cone = freecad.cone(radius1=3, radius2=1, height=6, location=(50, 0, 0), document=doc)
    assert cone.object.volume == pytest.approx(math.pi * 6 / 3 * (9 + 3 + 1))
    ring = freecad.torus(radius1=10, radius2=2, location=(100, 0, 0), document=doc)
    assert ring.object.volume == pytest.approx(2 * math.pi**2 * 10 * 4)

    cut = freecad.boolean.subtract(object1=box.object_id, object2=hole.object_id, name="SdkCut", document=doc)
    assert cut.object.volume == pytest.approx(4000 - math.pi * 9 * 10)
    left = freecad.sphere(radius=5, location=(0, 50, 0), document=doc)
    right = freecad.sphere(radius=5, location=(5, 50, 0), document=doc)
    union = freecad.boolean.union(object1=left.object_id, object2=right.object_id, keep_inputs=True, document=doc)
    common = freecad.boolean.intersect(object1=left.object_id, object2=right.object_id, document=doc)
    sphere_volume = 4 / 3 * math.pi * 125
    assert sphere_volume < (union.object.volume or 0) < 2 * sphere_volume
    assert 0 < (common.object.volume or 0) < sphere_volume

    moved = freecad.objects.transform(ring.object_id, location=(100, 10, 0), rotation=(0, 0, 90), document=doc)
    assert moved.location == pytest.approx([100, 10, 0]) and moved.rotation == pytest.approx([0, 0, 90])
    page = freecad.objects.list(type="cut", document=doc)
    assert [entry["name"] for entry in page.objects] == [cut.object_id]
    assert freecad.objects.list(document=doc).total == 9

    exported = freecad.export(format="STEP", objects=[cut.object_id], filepath="sdk-cut", document=doc)
    assert exported.name == "sdk-cut.step" and exported.name in {file.name for file in freecad.files.list()}
    unnamed = freecad.export(format="STL", objects=[cut.object_id], document=doc)
    cleaned = freecad.files.clean(older_than=0)
    assert unnamed.name in cleaned.deleted and cleaned.count == len(cleaned.deleted) and cleaned.freed > 0
    assert exported.name not in cleaned.deleted
    local = freecad.files.download(exported.name, tmp_path)
    assert b"ISO-10303-21" in freecad.files.read(exported.name)[:100]
    other = freecad.documents.create(name="SdkImport").name
    imported = freecad.import_file(local, document=other)
    assert freecad.objects.get(imported.objects[0], document=other).volume == pytest.approx(cut.object.volume)
    assert freecad.documents.close(other).closed

    assert freecad.execute(code="result = len(doc.Objects)", document=doc).result == 9
    assert freecad.view_glb(objects=[cut.object_id], document=doc)[:4] == b"glTF"

    step = {"method": "primitive.create", "params": {"type": "box", "name": "SdkBatch", "document": doc}}
    batch = freecad.batch([step])
    assert batch.completed == 1 and freecad.objects.get("SdkBatch", document=doc).volume == pytest.approx(1000)
    assert freecad.objects.delete("SdkBatch", document=doc).deleted

    saved = freecad.documents.save(document=doc, filepath="sdk-part")
    assert saved.name == "sdk-part.FCStd"
    fcstd = freecad.files.download(saved.name, tmp_path)
    assert freecad.documents.close(doc).closed
    reopened = freecad.documents.open(fcstd)
    assert reopened.objects == 9
    assert freecad.documents.close(reopened.name).closed

    note = freecad.files.upload(b"solid\n", filename="sdk-note.txt")
    assert freecad.files.read(note.name) == b"solid\n" and freecad.files.delete(note.name).deleted
    assert sdk._called >= operations("freecad."), sorted(operations("freecad.") - sdk._called)
