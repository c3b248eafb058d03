"""Deleting an object leaves nothing behind that only it used: its mesh, curve, camera or light data, and the
materials and images of an import; materials a client created stay until material.delete (or scene.clear)."""

from __future__ import annotations

from typing import Any

from bridge3d.rpc import RpcClient
from bridge3d.rpc.errors import NotFound

from ._util import rpc_error

COLLECTIONS = ("objects", "meshes", "curves", "cameras", "lights", "metaballs", "materials", "images")
COUNTS = f"result = {{k: len(getattr(D, k)) for k in {COLLECTIONS!r}}}"


def counts(bl: RpcClient) -> dict[str, int]:
    result: dict[str, int] = bl.call("code.execute", {"code": COUNTS})["result"]
    return result


def test_every_kind_of_object_takes_its_data_along(bl: RpcClient) -> None:
    before = counts(bl)
    made: list[dict[str, Any]] = [
        *(bl.call("primitive.create", {"type": kind}) for kind in ("cube", "sphere", "cylinder", "cone", "torus")),
        bl.call("camera.create", {}),
        *(bl.call("light.create", {"type": kind}) for kind in ("POINT", "SUN", "SPOT", "AREA")),
    ]
    # Curves, text and metaballs come only from code; they are objects like any other for object.delete.
    code = (
        "curve = D.curves.new('Path', 'CURVE'); C.scene.collection.objects.link(D.objects.new('Path', curve))\n"
        "text = D.curves.new('Label', 'FONT'); C.scene.collection.objects.link(D.objects.new('Label', text))\n"
        "ball = D.metaballs.new('Blob'); ball.elements.new()\n"
        "C.scene.collection.objects.link(D.objects.new('Blob', ball))"
    )
    bl.call("code.execute", {"code": code})
    names = [info["name"] for info in made] + ["Path", "Label", "Blob"]
    grown = counts(bl)
    assert grown["objects"] == before["objects"] + 13 and grown["meshes"] == before["meshes"] + 5
    assert (grown["curves"], grown["metaballs"]) == (before["curves"] + 2, before["metaballs"] + 1)
    for name in names:
        assert bl.call("object.delete", {"name": name}) == {"name": name, "deleted": True}
    assert counts(bl) == before


def test_a_shared_mesh_stays_while_another_object_uses_it(bl: RpcClient) -> None:
    bl.call("primitive.create", {"type": "cube", "name": "Original"})
    bl.call(
        "code.execute", {"code": "C.scene.collection.objects.link(D.objects.new('Twin', D.objects['Original'].data))"}
    )
    before = counts(bl)
    bl.call("object.delete", {"name": "Original"})
    assert counts(bl) == {**before, "objects": before["objects"] - 1}  # the twin still shows the mesh
    assert bl.call("object.get", {"name": "Twin"})["vertices"] == 8
    bl.call("object.delete", {"name": "Twin"})
    assert counts(bl) == {**before, "objects": before["objects"] - 2, "meshes": before["meshes"] - 1}


def test_a_material_a_client_created_stays_until_deleted(bl: RpcClient) -> None:
    start = counts(bl)
    bl.call("material.create", {"name": "Paint", "color": [0.1, 0.2, 0.9]})
    for name in ("A", "B"):
        bl.call("primitive.create", {"type": "sphere", "name": name})
        bl.call("material.apply", {"object": name, "material": "Paint"})
    paint = next(m for m in bl.call("material.list", {})["materials"] if m["name"] == "Paint")
    assert paint["users"] == 2  # the two meshes (its fake user, which keeps it, is not counted)
    bl.call("object.delete", {"name": "A"})
    bl.call("object.delete", {"name": "B"})
    assert counts(bl) == {**start, "materials": start["materials"] + 1}
    bl.call("primitive.create", {"type": "cube", "name": "Later"})
    assert bl.call("material.apply", {"object": "Later", "material": "Paint"})["materials"] == ["Paint"]
    deleted = bl.call("material.delete", {"name": "Paint"})
    assert deleted == {"name": "Paint", "deleted": True, "objects": ["Later"]}
    assert bl.call("object.get", {"name": "Later"})["materials"] == []  # the slot is empty now
    assert [m["name"] for m in bl.call("material.list", {})["materials"] if m["name"] == "Paint"] == []
    assert rpc_error(NotFound, bl, "material.delete", {"name": "Paint"}).data["field"] == "name"
    bl.call("object.delete", {"name": "Later"})
    assert counts(bl) == start


def test_an_import_is_deleted_with_its_materials_and_images(bl: RpcClient) -> None:
    # A textured cube, exported as GLB (image embedded) and imported again: the importer makes its own materials
    # and images, which nobody named; deleting the imported objects removes them too.
    code = (
        "image = D.images.new('Checker', 8, 8); image.generated_type = 'COLOR_GRID'\n"
        "material = D.materials.new('Textured')\n"
        "if not material.use_nodes: material.use_nodes = True\n"
        "node = material.node_tree.nodes.new('ShaderNodeTexImage'); node.image = image\n"
        "bsdf = next(n for n in material.node_tree.nodes if n.type == 'BSDF_PRINCIPLED')\n"
        "material.node_tree.links.new(node.outputs['Color'], bsdf.inputs['Base Color'])\n"
        "D.objects['Box'].data.materials.append(material)"
    )
    bl.call("primitive.create", {"type": "cube", "name": "Box"})
    bl.call("code.execute", {"code": code})
    bl.call("file.export", {"format": "GLB", "output": "textured-box"})
    bl.call("scene.clear", {})
    bl.call("code.execute", {"code": "for image in list(D.images):\n    if image.users == 0: D.images.remove(image)"})
    before = counts(bl)
    imported = bl.call("file.import", {"name": "textured-box.glb"})["objects"]
    grown = counts(bl)
    assert grown["materials"] > before["materials"] and grown["images"] > before["images"], grown
    for name in imported:
        bl.call("object.delete", {"name": name})
    assert counts(bl) == before
