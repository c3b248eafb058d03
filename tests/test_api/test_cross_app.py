"""CAD to render: a FreeCAD part travels to Blender through the gateway and is rendered."""

from __future__ import annotations

import io
import math

import httpx
import numpy as np
import pytest
import trimesh
from PIL import Image, ImageStat

from envelope import ok


def test_freecad_part_rendered_in_blender(api: httpx.Client) -> None:
    document = ok(api.post("/api/v1/freecad/documents", json={"name": "CrossApp"}), 201)["name"]
    box = ok(
        api.post(
            "/api/v1/freecad/primitives/box",
            json={"name": "Plate", "length": 40, "width": 30, "height": 10, "document": document},
        ),
        201,
    )["object_id"]
    hole = ok(
        api.post(
            "/api/v1/freecad/primitives/cylinder",
            json={"name": "Hole", "radius": 5, "height": 30, "location": [20, 15, -10], "document": document},
        ),
        201,
    )["object_id"]
    drilled = ok(
        api.post(
            "/api/v1/freecad/boolean/subtract",
            json={"object1": box, "object2": hole, "name": "Drilled", "document": document},
        ),
        201,
    )
    expected_volume = 40 * 30 * 10 - math.pi * 5**2 * 10
    assert drilled["object"]["volume"] == pytest.approx(expected_volume, rel=1e-6)

    exported = ok(
        api.post(
            "/api/v1/freecad/export",
            json={"objects": [drilled["object_id"]], "format": "STL", "filepath": "drilled.stl", "document": document},
        )
    )
    stl = api.get(exported["url"])
    assert stl.status_code == 200 and len(stl.content) == exported["size"]
    mesh = trimesh.load(io.BytesIO(stl.content), file_type="stl", force="mesh")
    assert isinstance(mesh, trimesh.Trimesh)
    assert mesh.is_watertight
    assert mesh.volume == pytest.approx(expected_volume, rel=0.01)

    ok(api.delete("/api/v1/blender/scene"))
    imported = ok(api.post("/api/v1/blender/import", files={"file": ("drilled.stl", stl.content, "model/stl")}))
    assert imported == {"name": "drilled.stl", "format": "STL", "objects": ["drilled"]}  # named after the file
    part = "drilled"
    info = ok(api.get(f"/api/v1/blender/objects/{part}"))
    # FreeCAD works in millimetres, Blender's STL importer keeps the numbers: 40 x 30 x 10 units, where FreeCAD
    # made them, with the triangles FreeCAD exported.
    assert np.allclose(info["dimensions"], [40, 30, 10], atol=1e-3)
    assert np.allclose(info["bounds"]["min"], [0, 0, 0], atol=1e-3)
    assert info["faces"] == len(mesh.faces)
    ok(api.patch(f"/api/v1/blender/objects/{part}", json={"scale": [0.05, 0.05, 0.05], "location": [-1, -0.75, 0]}))

    ok(
        api.post(
            "/api/v1/blender/materials", json={"name": "Steel", "color": "#3366cc", "metallic": 0.8, "roughness": 0.3}
        ),
        201,
    )
    ok(api.post("/api/v1/blender/materials/apply", json={"object": part, "material": "Steel"}))
    assert ok(api.get(f"/api/v1/blender/objects/{part}"))["materials"] == ["Steel"]
    ok(api.post("/api/v1/blender/camera", json={"name": "Cam", "location": [3, -3, 2.5], "look_at": [0, 0, 0.25]}), 201)
    ok(api.post("/api/v1/blender/light", json={"type": "SUN", "energy": 3, "rotation": [40, 0, 30]}), 201)

    render = ok(
        api.post(
            "/api/v1/blender/render",
            json={"engine": "EEVEE", "resolution": [160, 120], "samples": 4, "output": "cad-render.png"},
        )
    )
    assert render["camera"] == "Cam" and render["camera_added"] is False
    png = api.get(render["url"])
    assert png.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(png.content)).convert("RGB")
    assert image.size == (160, 120)
    assert max(ImageStat.Stat(image).stddev) > 5, "the render is a flat colour: the part is not visible"
    centre = np.asarray(image)[40:80, 50:110].astype(float)
    corner = np.asarray(image)[:15, :15].astype(float)
    assert abs(centre.mean() - corner.mean()) > 3, "the middle of the frame (the part) looks like the background"
