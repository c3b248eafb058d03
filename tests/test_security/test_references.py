"""Model files that name other files: nothing outside the workspace may be read (or written) through them.

Each hostile file is built in a separate process with the real bpy or FreeCAD (so the shared session backends
stay untouched) and points at canaries in a folder beside the workspaces: an OBJ's mtllib and its textures, FBX
and USD textures, USD layers, a .blend with linked libraries, external images, caches, Geometry Nodes file
imports and a compositor File Output node, FreeCAD documents that link other documents or name files. Each is
uploaded (or put in the workspace and imported through a batch or a direct host call, as an earlier upload
would) and must be refused; the scene or documents must be as before; the canaries' content must never come back
in a response or an exported file; and a before/after scan must show nothing written outside the workspaces.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import os
import re
import secrets
import struct
import subprocess
import sys
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from backends import FREECAD_LIB, Backend
from bridge3d.rpc import RpcClient, RpcError
from envelope import error, ok
from gateway import Gateway, start_gateway

from ._util import ascii_stl, names_containing, recording_client, snapshot, upload

M = f"ref{secrets.token_hex(4)}"
CANARY_TEXT = f"CANARY-{secrets.token_hex(16)}"
# A glTF buffer names a file whose bytes become vertex coordinates: nine float32 values, exact in float32 and in
# decimal (x.5 below 2**23), found in any later answer or export as float32 of either sign (importers flip axes)
# or as decimal text.
BUFFER_VALUES = tuple(float(2**22 + secrets.randbelow(2**22)) + 0.5 for _ in range(9))
BUFFER_CANARY = struct.pack("<9f", *BUFFER_VALUES)
BUFFER_TEXT = f"BUFFER-CANARY-{secrets.token_hex(16)}"
B, F = "/api/v1/blender", "/api/v1/freecad"
SEEN: list[bytes] = []  # every response body of this module, searched for the canary at the end

# .blend files that each point outside in one way (name -> what the host must report), built by BLEND_BUILDER.
HOSTILE_BLENDS = {
    "library": "library",
    "image": "image",
    "file_output": "file_output",
    "node_import": "node_import",
    "node_import_computed": "node_import",
    "strip": "file",
    "point_cache": "point_cache",
}

BLEND_BUILDER = r"""
import json, os, sys
import bpy

cfg = json.loads(sys.argv[1])
out, build, m = cfg["outside"], cfg["build"], cfg["marker"]


def fresh(name):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata([(0, 0, 0), (1, 0, 0), (0, 1, 0)], [], [(0, 1, 2)])
    mesh.uv_layers.new()
    obj = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(obj)
    return obj


def textured(obj, image):
    mat = bpy.data.materials.new("Mat" + m)
    tex = mat.node_tree.nodes.new("ShaderNodeTexImage")
    tex.image = image
    bsdf = mat.node_tree.nodes["Principled BSDF"]
    mat.node_tree.links.new(tex.outputs["Color"], bsdf.inputs["Base Color"])
    obj.data.materials.append(mat)


def save(name):
    bpy.ops.wm.save_as_mainfile(filepath=os.path.join(build, name))


fresh("LibCanary" + m)
bpy.ops.wm.save_as_mainfile(filepath=os.path.join(out, "lib-" + m + ".blend"))

bpy.ops.wm.read_factory_settings(use_empty=True)
with bpy.data.libraries.load(os.path.join(out, "lib-" + m + ".blend"), link=True) as (src, dst):
    dst.meshes = ["LibCanary" + m]
# A local object whose mesh stays in the outside library: appending the object brings the library along.
bpy.context.scene.collection.objects.link(bpy.data.objects.new("Host" + m, dst.meshes[0]))
save("library.blend")

textured(fresh("Host" + m), bpy.data.images.load(cfg["png"]))
save("image.blend")

fresh("Host" + m)
scene = bpy.context.scene
tree = bpy.data.node_groups.new("Comp", "CompositorNodeTree")
scene.compositing_node_group = tree
layers = tree.nodes.new("CompositorNodeRLayers")
node = tree.nodes.new("CompositorNodeOutputFile")
node.directory = os.path.join(out, "written-" + m) + "/"
node.file_name = "leak"
node.file_output_items.new("RGBA", "Image")
tree.links.new(layers.outputs["Image"], node.inputs[0])
save("file_output.blend")

for computed in (False, True):
    obj = fresh("Host" + m)
    group = bpy.data.node_groups.new("Imports", "GeometryNodeTree")
    group.interface.new_socket("Geometry", in_out="OUTPUT", socket_type="NodeSocketGeometry")
    output = group.nodes.new("NodeGroupOutput")
    importer = group.nodes.new("GeometryNodeImportOBJ")
    group.links.new(importer.outputs[0], output.inputs[0])
    if computed:
        text = group.nodes.new("FunctionNodeInputString")
        text.string = cfg["obj"]
        group.links.new(text.outputs[0], importer.inputs["Path"])
    else:
        importer.inputs["Path"].default_value = cfg["obj"]
    obj.modifiers.new("Import", "NODES").node_group = group
    save("node_import_computed.blend" if computed else "node_import.blend")

fresh("Host" + m)
bpy.context.scene.sequence_editor_create()
bpy.context.scene.sequence_editor.strips.new_image("Strip", cfg["png"], 1, 1)
save("strip.blend")

obj = fresh("Host" + m)
obj.modifiers.new("Particles", "PARTICLE_SYSTEM")
cache = obj.particle_systems[0].point_cache
cache.use_external = True
cache.filepath = out
save("point_cache.blend")

textured(fresh("Clean" + m), bpy.data.images.load(cfg["png"]))
bpy.data.images[0].pack()
save("clean.blend")

textured(fresh("Fbx" + m), bpy.data.images.load(cfg["png"]))
# Relative texture paths are followed from where the FBX is imported: write it as deep as the workspace is.
bpy.ops.export_scene.fbx(filepath=cfg["fbx"], path_mode="RELATIVE", embed_textures=False)
bpy.ops.wm.usd_export(
    filepath=os.path.join(build, "tex.usdc"), export_materials=True, export_textures_mode="KEEP", relative_paths=False
)
"""

FREECAD_BUILDER = r"""
import json, os, sys

cfg = json.loads(sys.argv[1])
sys.path.append(cfg["lib"])
import FreeCAD as App

out, build, m = cfg["outside"], cfg["build"], cfg["marker"]

secret = App.newDocument("Outside" + m)
box = secret.addObject("Part::Box", "Secret" + m)
box.Length = 77.125
secret.recompute()
secret.saveAs(os.path.join(out, "outside-" + m + ".FCStd"))

host = App.newDocument("Linker" + m)
host.saveAs(os.path.join(build, "link.FCStd"))
host.addObject("App::Link", "Link" + m).LinkedObject = box
host.recompute()
host.save()

mesh = App.newDocument("Meshes" + m)
mesh.addObject("Mesh::Import", "Imported" + m).FileName = cfg["stl"]
mesh.saveAs(os.path.join(build, "mesh_import.FCStd"))

target = App.newDocument("Target" + m)
inner = target.addObject("Part::Box", "Inner" + m)
target.recompute()
target.saveAs(os.path.join(build, "target-" + m + ".FCStd"))
friend = App.newDocument("Friend" + m)
friend.saveAs(os.path.join(build, "friend-" + m + ".FCStd"))
friend.addObject("App::Link", "Friendly" + m).LinkedObject = inner
friend.recompute()
friend.save()
"""


def canary_png() -> bytes:
    """A 4x4 PNG whose tEXt chunk carries the canary (and which any leak of the file would carry too)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\0" + bytes((201, 13, 77)) * 4 for _ in range(4))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0))
        + chunk(b"tEXt", b"Comment\0" + CANARY_TEXT.encode())
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def canary_stl() -> bytes:
    return ascii_stl(CANARY_TEXT, 7.25)


TRIANGLE_OBJ = "v 0 0 0\nv 1 0 0\nv 0 1 0\nvt 0 0\nvt 1 0\nvt 0 1\nf 1/1 2/2 3/3\n"
SECRET_USDA = (
    "#usda 1.0\n"
    'def Mesh "Secret" {\n'
    "    int[] faceVertexCounts = [3]\n"
    "    int[] faceVertexIndices = [0, 1, 2]\n"
    "    point3f[] points = [(0, 0, 0), (7.25, 0, 0), (0, 7.25, 0)]\n"
    "}\n"
)


@dataclass
class Arena:
    outside: Path
    build: Path
    png: Path
    mtl: Path
    usda: Path
    outside_fcstd: Path
    basetemp: Path
    workspaces: list[Path]
    before: dict[str, tuple[int, int]]


def _run(script: str, config: dict[str, str], cwd: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(config)], cwd=cwd, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.fixture(scope="module")
def arena(tmp_path_factory: pytest.TempPathFactory, backends: dict[str, Backend]) -> Iterator[Arena]:
    """Canaries in a folder beside the workspaces, the hostile files built from them, then the 'before' scan."""
    outside = tmp_path_factory.mktemp(f"outside-{M}")
    build = tmp_path_factory.mktemp(f"build-{M}")
    png = outside / f"canary-{M}.png"
    png.write_bytes(canary_png())
    mtl = outside / f"canary-{M}.mtl"
    mtl.write_text(f"# {CANARY_TEXT}\nnewmtl Canary{M}\nKd 0.25 0.5 0.75\nmap_Kd {png}\n")
    usda = outside / f"secret-{M}.usda"
    usda.write_text(SECRET_USDA)
    stl = outside / f"canary-{M}.stl"
    stl.write_bytes(canary_stl())
    (outside / f"canary-{M}.obj").write_text(f"# {CANARY_TEXT}\no Leak{M}\n{TRIANGLE_OBJ}")
    (outside / f"canary-{M}.bin").write_bytes(BUFFER_CANARY + BUFFER_TEXT.encode())
    config = {"outside": str(outside), "build": str(build), "marker": M, "png": str(png)}
    depth = len(backends["blender"].workspace.relative_to(outside.parent).parts)
    fbx = build.joinpath(*["fbx"] * (depth - 1), "tex.fbx")
    fbx.parent.mkdir(parents=True, exist_ok=True)
    _run(BLEND_BUILDER, {**config, "obj": str(outside / f"canary-{M}.obj"), "fbx": str(fbx)}, build)
    _run(FREECAD_BUILDER, {**config, "lib": str(FREECAD_LIB), "stl": str(stl)}, build)
    basetemp = backends["blender"].workspace.parent.parent
    workspaces = [backend.workspace for backend in backends.values()]
    yield Arena(
        outside,
        build,
        png,
        mtl,
        usda,
        outside / f"outside-{M}.FCStd",
        basetemp,
        workspaces,
        snapshot(basetemp, workspaces),
    )


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, backends: dict[str, Backend]) -> Iterator[Gateway]:
    server = start_gateway(tmp_path_factory.mktemp("references"), backends["blender"], backends["freecad"])
    yield server
    server.stop()


@pytest.fixture(scope="module")
def api(gateway: Gateway, arena: Arena) -> Iterator[httpx.Client]:
    with recording_client(gateway, SEEN) as client:
        yield client


def run(host: RpcClient, code: str) -> Any:
    """Look inside the application (the suite's own backends run with execution on)."""
    return host.call("code.execute", {"code": code})["result"]


BLENDER_STATE = (
    "import os\n"
    "result = {'objects': sorted(o.name for o in bpy.data.objects),"
    " 'images': sorted(os.path.normpath(bpy.path.abspath(i.filepath))"
    "  for i in bpy.data.images if i.filepath and i.users),"
    " 'libraries': sorted(lib.filepath for lib in bpy.data.libraries),"
    " 'node_groups': sorted(g.name for g in bpy.data.node_groups if g.users),"
    " 'file': bpy.path.basename(bpy.data.filepath)}"
)


def blender_state(hosts: dict[str, RpcClient]) -> dict[str, Any]:
    """What a refused import or open must leave as it was (data without users is dropped by any save, and by the
    copy a refused open restores from)."""
    state: dict[str, Any] = run(hosts["blender"], BLENDER_STATE)
    return state


def refused_references(response: httpx.Response, status: int = 422, code: str = "VALIDATION_ERROR") -> list[Any]:
    err = error(response, status, code)
    references: list[Any] = err["details"]["references"]
    assert references, err
    return references


def no_canary_in_glb(api: httpx.Client) -> None:
    """Export everything as GLB (which embeds every texture it can read) and look for the canary in it."""
    exported = ok(api.post(f"{B}/export", json={"format": "GLB", "filepath": f"check-{M}-{secrets.token_hex(3)}"}))
    data = api.get(exported["url"]).content
    assert CANARY_TEXT.encode() not in data
    length = struct.unpack_from("<I", data, 12)[0]
    document = json.loads(data[20 : 20 + length])
    assert not document.get("images"), "an image was exported: the canary texture stayed in the scene"
    assert api.delete(exported["url"]).status_code == 200


def same_file(reported: str, host: RpcClient, expected: Path) -> bool:
    """A path as Blender keeps it: absolute, or '//'-relative to the open file."""
    absolute = run(host, f"result = bpy.path.abspath({reported!r})")
    return bool(Path(absolute).resolve() == expected.resolve())


def put(backend: Backend, name: str, content: bytes) -> Path:
    """A file in the workspace, as an earlier (checked or not) upload of it would have left it."""
    path = backend.workspace / name
    path.write_bytes(content)
    return path


# ---------------------------------------------------------------------- OBJ
def test_obj_material_library_outside_is_refused_at_upload(
    api: httpx.Client, arena: Arena, backends: dict[str, Backend]
) -> None:
    """Blender reads an mtllib from wherever it points ('../' or absolute): refused before it reaches the workspace."""
    relative = os.path.relpath(arena.mtl, backends["blender"].workspace)
    absolute = str(arena.mtl)
    # (statement, the library names reported: each way a reader may take it that leads outside)
    for statement, paths in (
        (f"mtllib {absolute}", [absolute]),
        (f"mtllib {relative}", [relative]),
        (f"  MTLLIB\t{relative}", [relative]),
        (f"mtllib ok.mtl {relative}", [f"ok.mtl {relative}", relative]),
        (f"mtllib \\\n{absolute}", [f"\\\n{absolute}", "\\", absolute]),
        (f"v 0 0 0\rmtllib {relative}", [relative]),
    ):
        name = f"mtl-{M}.obj"
        content = f"# a model\n{statement}\no Obj{M}\nusemtl Canary{M}\n{TRIANGLE_OBJ}".encode()
        err = error(upload(api, f"{B}/import", name, content), 422, "INVALID_UPLOAD")
        assert err["details"]["references"] == [{"kind": "mtllib", "name": name, "path": path} for path in paths], err
        assert not (backends["blender"].workspace / name).exists(), statement
    assert not any(n.startswith(f"Obj{M}") for n in ok(api.get(f"{B}/scene"))["objects"])


def test_obj_material_library_in_the_workspace_still_imports(
    api: httpx.Client, backends: dict[str, Backend], hosts: dict[str, RpcClient]
) -> None:
    """The same file with its .mtl beside it in the workspace imports with its material (the check is not blanket)."""
    put(backends["blender"], f"plain-{M}.mtl", f"newmtl Plain{M}\nKd 0.25 0.5 0.75\n".encode())
    content = f"mtllib plain-{M}.mtl\no Plain{M}\nusemtl Plain{M}\n{TRIANGLE_OBJ}".encode()
    imported = ok(upload(api, f"{B}/import", f"plain-{M}.obj", content))
    assert imported["objects"] == [f"Plain{M}"]
    materials = run(hosts["blender"], f"result = [m.name for m in bpy.data.objects['Plain{M}'].data.materials]")
    assert materials == [f"Plain{M}"]
    ok(api.delete(f"{B}/objects/Plain{M}"))


def test_obj_texture_outside_is_refused_and_the_import_undone(
    api: httpx.Client, arena: Arena, backends: dict[str, Backend], hosts: dict[str, RpcClient]
) -> None:
    """An .mtl in the workspace whose map_Kd names a PNG outside (absolute, or '../'): Blender would load that
    image and a GLB export would embed it. The host refuses before the importer runs."""
    before = blender_state(hosts)
    relative = os.path.relpath(arena.png, backends["blender"].workspace)
    for index, texture in enumerate((str(arena.png), f"-s 1 1 1 {relative}")):
        library = f"tex{index}-{M}.mtl"
        put(backends["blender"], library, f"newmtl Tex{M}\nKd 1 1 1\nmap_Kd {texture}\n".encode())
        content = f"mtllib {library}\no Tex{M}\nusemtl Tex{M}\n{TRIANGLE_OBJ}".encode()
        references = refused_references(upload(api, f"{B}/import", f"tex-{M}.obj", content))
        assert {"kind": "texture", "name": library, "path": texture.split()[-1]} in references
        assert blender_state(hosts) == before
    no_canary_in_glb(api)


def test_textured_obj_exported_by_blender_imports_again(
    api: httpx.Client, backends: dict[str, Backend], hosts: dict[str, RpcClient]
) -> None:
    """Blender writes the texture of an image in the workspace into the .mtl by absolute path: that path is inside,
    so the round trip works (only paths leaving the workspace are refused)."""
    put(backends["blender"], f"own-{M}.png", canary_png().replace(CANARY_TEXT.encode(), b"x" * len(CANARY_TEXT)))
    run(
        hosts["blender"],
        "import os\n"
        f"bpy.ops.mesh.primitive_plane_add()\nobj = bpy.context.active_object\nobj.name = 'Own{M}'\n"
        f"mat = bpy.data.materials.new('Own{M}')\n"
        "tex = mat.node_tree.nodes.new('ShaderNodeTexImage')\n"
        f"tex.image = bpy.data.images.load(os.path.join(workspace, 'own-{M}.png'))\n"
        "mat.node_tree.links.new(tex.outputs['Color'], mat.node_tree.nodes['Principled BSDF'].inputs['Base Color'])\n"
        "obj.data.materials.append(mat)\nresult = None\n",
    )
    ok(api.post(f"{B}/export", json={"format": "OBJ", "objects": [f"Own{M}"], "filepath": f"own-{M}.obj"}))
    library = (backends["blender"].workspace / f"own-{M}.mtl").read_text()
    assert f"own-{M}.png" in library, library
    ok(api.delete(f"{B}/objects/Own{M}"))
    steps = [{"method": "file.import", "params": {"name": f"own-{M}.obj"}}]
    report = ok(api.post(f"{B}/batch", json={"steps": steps}))["steps"][0]
    assert report["status"] == "success" and report["result"]["objects"] == [f"Own{M}"], report
    ok(api.delete(f"{B}/objects/Own{M}"))
    run(hosts["blender"], "bpy.data.orphans_purge(do_recursive=True)\nresult = None")


def test_a_renamed_model_is_checked_by_the_host(
    api: httpx.Client, arena: Arena, backends: dict[str, Backend], hosts: dict[str, RpcClient]
) -> None:
    """An OBJ or glTF that reached the workspace as .stl (written straight into it, as a batch `file.write` can;
    the gateway refuses such an upload, see test_gltf_json_uploaded_as_stl_is_refused_at_upload): importing it with
    `format` (in a batch, or straight to the host) is refused by the host's own check, before the importer runs."""
    obj = f"mtllib {arena.mtl}\no Renamed{M}\n{TRIANGLE_OBJ}".encode()
    gltf = json.dumps({"asset": {"version": "2.0"}, "buffers": [{"uri": str(arena.png), "byteLength": 36}]}).encode()
    for fmt, content, kind, outside in (("OBJ", obj, "mtllib", arena.mtl), ("GLTF", gltf, "uri", arena.png)):
        name = f"renamed-{M}-{fmt.lower()}.stl"
        put(backends["blender"], name, content)
        steps = [{"method": "file.import", "params": {"name": name, "format": fmt}}]
        report = ok(api.post(f"{B}/batch", json={"steps": steps}))["steps"][0]
        assert report["status"] == "error" and report["error"]["code"] == -32602, report
        assert report["error"]["data"]["references"] == [{"kind": kind, "name": name, "path": str(outside)}], report
        with pytest.raises(RpcError) as refused:
            hosts["blender"].call("file.import", {"name": name, "format": fmt})
        assert refused.value.name == "INVALID_PARAMS"
    obj_for_freecad = f"mtllib {arena.mtl}\no Renamed{M}\n{TRIANGLE_OBJ}".encode()
    put(backends["freecad"], f"renamed-{M}.obj", obj_for_freecad)
    with pytest.raises(RpcError) as refused:
        hosts["freecad"].call("file.import", {"name": f"renamed-{M}.obj", "format": "OBJ"})
    assert refused.value.name == "INVALID_PARAMS"
    assert refused.value.data["references"] == [{"kind": "mtllib", "name": f"renamed-{M}.obj", "path": str(arena.mtl)}]
    assert "Renamed" not in json.dumps(hosts["blender"].call("scene.info"))


def test_a_symlink_beside_the_model_is_not_followed(
    api: httpx.Client, arena: Arena, backends: dict[str, Backend], hosts: dict[str, RpcClient]
) -> None:
    """A plain mtllib name that is a symlink out of the workspace is refused too (the host resolves the name)."""
    link = backends["blender"].workspace / f"linked-{M}.mtl"
    link.symlink_to(arena.mtl)
    try:
        put(backends["blender"], f"viaslink-{M}.obj", f"mtllib {link.name}\n{TRIANGLE_OBJ}".encode())
        with pytest.raises(RpcError) as refused:
            hosts["blender"].call("file.import", {"name": f"viaslink-{M}.obj"})
        assert refused.value.name == "INVALID_PARAMS"
        assert [r["path"] for r in refused.value.data["references"]] == [link.name]
    finally:
        link.unlink()


# ---------------------------------------------------------------- FBX, USD
def test_fbx_texture_outside_is_refused_and_the_import_undone(
    api: httpx.Client, arena: Arena, hosts: dict[str, RpcClient], backends: dict[str, Backend]
) -> None:
    """Blender's FBX importer loads a texture's relative path from the FBX's folder ('../../x.png')."""
    before = blender_state(hosts)
    content = next(arena.build.rglob("tex.fbx")).read_bytes()
    relative = os.path.relpath(arena.png, backends["blender"].workspace)
    assert relative.startswith("../") and relative.encode() in content
    references = refused_references(upload(api, f"{B}/import", f"tex-{M}.fbx", content))
    assert [r["kind"] for r in references] == ["image"], references
    assert same_file(references[0]["path"], hosts["blender"], arena.png)
    assert blender_state(hosts) == before
    no_canary_in_glb(api)


def test_usd_layers_and_assets_outside_are_refused_at_upload(
    api: httpx.Client, arena: Arena, backends: dict[str, Backend]
) -> None:
    """Sublayers, references and payloads are composed when the stage opens (the importer would bring in the
    outside mesh); texture asset paths in a binary layer too. Text, binary and packaged layers are all checked."""
    relative = os.path.relpath(arena.usda, backends["blender"].workspace)
    outside = {"sublayer.usda": str(arena.usda), "reference.usda": relative, "payload.usda": str(arena.usda)}
    layers = {
        "sublayer.usda": f"#usda 1.0\n(\n    subLayers = [@{arena.usda}@]\n)\n",
        "reference.usda": f'#usda 1.0\ndef Xform "Root" {{\n  def "In" (references = @{relative}@</Secret>) {{}}\n}}\n',
        "payload.usda": f'#usda 1.0\ndef "In" (payload = @@@{arena.usda}@@@</Secret>) {{}}\n',
        "clips.usda": (
            f'#usda 1.0\ndef "In" (clips = {{ dictionary c = {{ string templateAssetPath = "{relative}" }} }}) {{}}\n'
        ),
    }
    for name, text in layers.items():
        err = error(upload(api, f"{B}/import", f"{M}-{name}", text.encode()), 422, "INVALID_UPLOAD")
        expected = [{"kind": "usd_asset", "name": f"{M}-{name}", "path": outside.get(name, relative)}]
        assert err["details"]["references"] == expected, (name, err)
    packaged = backends["blender"].workspace.parent / f"pack-{M}.usdz"
    with zipfile.ZipFile(packaged, "w", zipfile.ZIP_STORED) as package:
        package.writestr("root.usda", layers["reference.usda"])
    error(upload(api, f"{B}/import", f"{M}.usdz", packaged.read_bytes()), 422, "INVALID_UPLOAD")
    packaged.unlink()
    binary = (arena.build / "tex.usdc").read_bytes()
    err = error(upload(api, f"{B}/import", f"{M}.usdc", binary), 422, "INVALID_UPLOAD")
    assert err["details"]["references"] == [{"kind": "usd_asset", "name": f"{M}.usdc", "path": str(arena.png)}]
    assert not [p for p in backends["blender"].workspace.iterdir() if p.name.startswith(M)]


def test_usd_layer_in_the_workspace_that_reaches_outside_is_refused_by_the_host(
    api: httpx.Client, arena: Arena, backends: dict[str, Backend], hosts: dict[str, RpcClient]
) -> None:
    """A layer naming another workspace layer by plain name passes the gateway; the host checks that one too."""
    before = blender_state(hosts)
    put(backends["blender"], f"inner-{M}.usda", f"#usda 1.0\n(\n    subLayers = [@{arena.usda}@]\n)\n".encode())
    outer = f'#usda 1.0\ndef Xform "Outer{M}" (references = @inner-{M}.usda@) {{}}\n'
    references = refused_references(upload(api, f"{B}/import", f"outer-{M}.usda", outer.encode()))
    assert references == [{"kind": "usd_asset", "name": f"inner-{M}.usda", "path": str(arena.usda)}]
    assert blender_state(hosts) == before


def test_usd_layer_that_stays_in_the_workspace_imports(api: httpx.Client, backends: dict[str, Backend]) -> None:
    put(backends["blender"], f"part-{M}.usda", SECRET_USDA.replace("Secret", f"Part{M}").encode())
    outer = (
        f'#usda 1.0\n(\n    defaultPrim = "Outer{M}"\n)\ndef Xform "Outer{M}" (references = @./part-{M}.usda@) {{}}\n'
    )
    imported = ok(upload(api, f"{B}/import", f"outer-ok-{M}.usda", outer.encode()))
    assert imported["objects"] == [f"Outer{M}"], imported
    ok(api.delete(f"{B}/objects/Outer{M}"))


# ------------------------------------------------- content, not extension
UTF8_BOM = b"\xef\xbb\xbf"


def buffer_canary_in(data: bytes) -> list[Any]:
    """What of the buffer canary ``data`` holds: its values (as float32 of either sign, or as decimal text), its
    text (also base64-encoded)."""
    found: list[Any] = [
        value
        for value in BUFFER_VALUES
        if struct.pack("<f", value) in data or struct.pack("<f", -value) in data or f"{value:.1f}".encode() in data
    ]
    text = BUFFER_TEXT.encode()
    return found + ([BUFFER_TEXT] if text in data or base64.b64encode(text) in data else [])


@pytest.fixture(scope="module")
def buffer_canary(arena: Arena) -> Path:
    """Outside every workspace (written with the other canaries): the canary floats (one triangle), then text."""
    return arena.outside / f"canary-{M}.bin"


def gltf_triangle(uri: str, name: str) -> dict[str, Any]:
    """A glTF whose one triangle's vertices are the 36 bytes at ``uri``."""
    return {
        "asset": {"version": "2.0"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0, "name": name}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}}]}],
        "buffers": [{"uri": uri, "byteLength": 36}],
        "bufferViews": [{"buffer": 0, "byteLength": 36}],
        "accessors": [{"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3"}],
    }


def as_glb(document: dict[str, Any]) -> bytes:
    data = json.dumps(document).encode()
    data += b" " * (-len(data) % 4)
    chunk = struct.pack("<I4s", len(data), b"JSON") + data
    return b"glTF" + struct.pack("<II", 2, 12 + len(chunk)) + chunk


# JSON bytes in a .glb, binary glTF in a .gltf: Blender's importer goes by the content.
MISNAMED_GLTF = {"json_named_glb": (".glb", lambda d: json.dumps(d).encode()), "glb_named_gltf": (".gltf", as_glb)}


def buffer_uris(canary: Path, workspace: Path) -> list[str]:
    """Ways a buffer URI can name the canary: absolute, relative ('../'), percent-encoded, file: URIs, and a
    'data:' URI without ';base64,' (a path to the importer: 'data:/..' cancels out when it normalises it)."""
    relative = os.path.relpath(canary, workspace)
    return [str(canary), relative, quote(relative), f"file://{canary}", f"file:{canary}", f"data:/../{relative}"]


def write(host: RpcClient, name: str, content: bytes) -> None:
    """A file in a host's workspace through ``file.write`` (which writes whatever it is given)."""
    host.call("file.write", {"name": name, "data": base64.b64encode(content).decode()})


def refused_by_host(host: RpcClient, method: str, params: dict[str, Any]) -> RpcError:
    """Call ``method`` straight on a host, expect INVALID_PARAMS, and keep the answer (searched for canaries)."""
    with pytest.raises(RpcError) as refused:
        host.call(method, params)
    SEEN.append(json.dumps({"message": refused.value.message, "data": refused.value.data}).encode())
    assert refused.value.name == "INVALID_PARAMS", (refused.value.message, refused.value.data)
    return refused.value


@pytest.mark.parametrize("shape", sorted(MISNAMED_GLTF))
def test_gltf_under_the_other_extension_is_checked_by_its_content(
    shape: str,
    api: httpx.Client,
    backends: dict[str, Backend],
    hosts: dict[str, RpcClient],
    buffer_canary: Path,
) -> None:
    """JSON glTF named .glb and binary glTF named .gltf both import in Blender (it reads the content), so the
    check reads the content too: a buffer naming a file outside the workspace is refused at upload and straight
    to the host, whatever format the import names; the canary's bytes never become vertices."""
    workspace = backends["blender"].workspace
    extension, encode = MISNAMED_GLTF[shape]
    name = f"{shape}-{M}{extension}"
    before = blender_state(hosts)
    for uri in buffer_uris(buffer_canary, workspace):
        content = encode(gltf_triangle(uri, f"Leak{M}"))
        err = error(upload(api, f"{B}/import", name, content), 422, "INVALID_UPLOAD")
        assert "outside the workspace" in err["message"], err
        assert [r["kind"] for r in err["details"]["references"]] == ["uri"], err
        assert not (workspace / name).exists(), "the refused upload must not reach the workspace"
        write(hosts["blender"], name, content)
        for fmt in (None, "GLB", "GLTF"):
            params = {"name": name} if fmt is None else {"name": name, "format": fmt}
            refused = refused_by_host(hosts["blender"], "file.import", params)
            assert "outside the workspace" in refused.message, refused.message
            assert [r["kind"] for r in refused.data["references"]] == ["uri"], refused.data
        hosts["blender"].call("file.delete", {"name": name})
    assert blender_state(hosts) == before


@pytest.mark.parametrize("shape", sorted(MISNAMED_GLTF))
def test_gltf_under_the_other_extension_imports_when_its_buffer_is_embedded(
    shape: str, api: httpx.Client, backends: dict[str, Backend]
) -> None:
    """The same files with the triangle in a data: URI import: the check reads the content, it does not refuse a
    glTF for its extension."""
    extension, encode = MISNAMED_GLTF[shape]
    points = base64.b64encode(struct.pack("<9f", 0, 0, 0, 1, 0, 0, 0, 1, 0)).decode()
    content = encode(gltf_triangle(f"data:application/octet-stream;base64,{points}", f"Emb{shape}{M}"))
    imported = ok(upload(api, f"{B}/import", f"emb-{shape}-{M}{extension}", content))
    assert imported["objects"] == [f"Emb{shape}{M}"], imported
    ok(api.delete(f"{B}/objects/Emb{shape}{M}"))


def test_gltf_json_uploaded_as_stl_is_refused_at_upload(
    api: httpx.Client, arena: Arena, backends: dict[str, Backend], buffer_canary: Path
) -> None:
    """A file declared as a format that names no files (STL) is checked as whatever its content is: it could be
    imported as glTF, OBJ or USD later (a batch names any format)."""
    workspace = backends["blender"].workspace
    relative = os.path.relpath(buffer_canary, workspace)
    layer = f"#usda 1.0\n(\n    subLayers = [@{arena.usda}@]\n)\n"
    for label, content, kind in (
        ("gltf", json.dumps(gltf_triangle(relative, f"Leak{M}")).encode(), "uri"),
        ("glb", as_glb(gltf_triangle(relative, f"Leak{M}")), "uri"),
        ("obj", f"mtllib {os.path.relpath(arena.mtl, workspace)}\n{TRIANGLE_OBJ}".encode(), "mtllib"),
        ("usda", layer.encode(), "usd_asset"),
    ):
        name = f"as-stl-{label}-{M}.stl"
        err = error(upload(api, f"{B}/import", name, content), 422, "INVALID_UPLOAD")
        assert [r["kind"] for r in err["details"]["references"]] == [kind], (label, err)
        assert not (workspace / name).exists(), label


# What an importer could read but no check can: refused, never taken to name no files.
UNCHECKABLE_UPLOADS = {
    "cut.gltf": b'{"asset": {"version": "2.0"}, "buffers": [{"uri": ',
    "bom.gltf": UTF8_BOM + b'{"asset": {"version": "2.0"}}',
    "utf16.gltf": '{"asset": {"version": "2.0"}}'.encode("utf-16"),
    "cut.glb": b"glTF" + struct.pack("<II", 2, 1000) + struct.pack("<I4s", 900, b"JSON") + b'{"asset": ',
    "binchunk.glb": b"glTF" + struct.pack("<II", 2, 28) + struct.pack("<I4s", 8, b"BIN\0") + b"\0" * 8,
    "text.usda": b"def Xform 'Root' {}\n",
    "bom.usda": UTF8_BOM + b"#usda 1.0\n",
    "cut.usdc": b"PXR-USDC" + b"\0" * 40,
    "empty.usdz": b"PK\x05\x06" + b"\0" * 18,
    "cut.usdz": b"PK\x03\x04" + b"\0" * 10,
    "ascii.fbx": b"; FBX 7.4.0 project file\nFBXHeaderExtension:  {\n}\n",
    "junk.fbx": b"not an FBX file at all",
}


@pytest.mark.parametrize("file_name", sorted(UNCHECKABLE_UPLOADS))
def test_uncheckable_model_is_refused_at_upload_and_by_the_host(
    file_name: str, api: httpx.Client, backends: dict[str, Backend], hosts: dict[str, RpcClient]
) -> None:
    workspace = backends["blender"].workspace
    name = f"{M}-{file_name}"
    content = UNCHECKABLE_UPLOADS[file_name]
    err = error(upload(api, f"{B}/import", name, content), 422, "INVALID_UPLOAD")
    assert "cannot be checked" in err["details"]["reason"], err
    assert not (workspace / name).exists()
    write(hosts["blender"], name, content)
    refused = refused_by_host(hosts["blender"], "file.import", {"name": name})
    assert "cannot be checked" in refused.data["reason"], refused.data
    hosts["blender"].call("file.delete", {"name": name})


def test_usd_package_read_by_its_local_headers(
    api: httpx.Client, arena: Arena, backends: dict[str, Backend], hosts: dict[str, RpcClient]
) -> None:
    """USD reads a package by the zip headers in front of each entry, from the first byte; Python's zipfile by the
    central directory at the end. A package whose directory shows a harmless layer while the first entry sublayers
    an outside file is refused (USD would compose the outside mesh)."""
    hostile, harmless = io.BytesIO(), io.BytesIO()
    with zipfile.ZipFile(hostile, "w", zipfile.ZIP_STORED) as package:
        package.writestr("root.usda", f"#usda 1.0\n(\n    subLayers = [@{arena.usda}@]\n)\n")
    with zipfile.ZipFile(harmless, "w", zipfile.ZIP_STORED) as package:
        package.writestr("root.usda", f'#usda 1.0\ndef Xform "Harmless{M}" {{}}\n')
    entries = hostile.getvalue()
    content = entries[: entries.index(b"PK\x01\x02")] + harmless.getvalue()
    with zipfile.ZipFile(io.BytesIO(content)) as package:  # what a central-directory reader sees
        assert package.read("root.usda").startswith(b'#usda 1.0\ndef Xform "Harmless')
    before = blender_state(hosts)
    err = error(upload(api, f"{B}/import", f"hidden-{M}.usdz", content), 422, "INVALID_UPLOAD")
    assert err["details"]["references"] == [{"kind": "usd_asset", "name": f"hidden-{M}.usdz", "path": str(arena.usda)}]
    write(hosts["blender"], f"hidden-{M}.usdz", content)
    refused = refused_by_host(hosts["blender"], "file.import", {"name": f"hidden-{M}.usdz"})
    assert refused.data["references"][0]["path"] == str(arena.usda)
    hosts["blender"].call("file.delete", {"name": f"hidden-{M}.usdz"})
    assert blender_state(hosts) == before


# An OBJ whose mtllib line an old reader of "mtllib<space>" at a line start missed (Blender skips any control
# character before a keyword and takes one after it as the separator; FreeCAD reads by line).
OBJ_DISGUISES = {
    "utf8_bom": lambda text: UTF8_BOM + text.encode(),
    "utf16": lambda text: text.encode("utf-16"),
    "nul_first": lambda text: b"\0" + text.encode(),
    "nul_separator": lambda text: text.replace("mtllib ", "mtllib\0", 1).encode(),
    "control_first": lambda text: b"\x01\x1a" + text.encode(),
}


@pytest.mark.parametrize("disguise", sorted(OBJ_DISGUISES))
def test_obj_in_another_encoding_naming_a_library_outside_is_refused(
    disguise: str,
    api: httpx.Client,
    arena: Arena,
    backends: dict[str, Backend],
    hosts: dict[str, RpcClient],
) -> None:
    """A byte order mark, UTF-16, a NUL or control byte before the keyword, a NUL after it: refused at upload,
    and by both hosts (an OBJ that is not text is refused outright)."""
    before = blender_state(hosts)
    document = ok(api.post(f"{F}/documents", json={"name": f"Enc{M}"}), 201)["name"]
    name = f"enc-{disguise}-{M}.obj"
    for app in ("blender", "freecad"):
        relative = os.path.relpath(arena.mtl, backends[app].workspace)
        content = OBJ_DISGUISES[disguise](f"mtllib {relative}\no Enc{M}\nusemtl Canary{M}\n{TRIANGLE_OBJ}")
        if app == "blender":
            error(upload(api, f"{B}/import", name, content), 422, "INVALID_UPLOAD")
            assert not (backends[app].workspace / name).exists()
        write(hosts[app], name, content)
        params = {"name": name, "format": "OBJ"} | ({"document": document} if app == "freecad" else {})
        refused_by_host(hosts[app], "file.import", params)
        hosts[app].call("file.delete", {"name": name})
    assert blender_state(hosts) == before
    assert ok(api.get(f"{F}/objects", params={"document": document}))["objects"] == []
    ok(api.delete(f"{F}/documents/{document}"))


def test_freecad_reads_a_file_named_obj_as_obj_whatever_the_format(
    api: httpx.Client, arena: Arena, backends: dict[str, Backend], hosts: dict[str, RpcClient]
) -> None:
    """FreeCAD's mesh reader goes by the extension: an .obj imported with format STL is read as OBJ (its mtllib
    too), so it is checked as OBJ."""
    document = ok(api.post(f"{F}/documents", json={"name": f"Named{M}"}), 201)["name"]
    relative = os.path.relpath(arena.mtl, backends["freecad"].workspace)
    write(hosts["freecad"], f"named-{M}.obj", f"mtllib {relative}\no Named{M}\n{TRIANGLE_OBJ}".encode())
    params = {"name": f"named-{M}.obj", "format": "STL", "document": document}
    refused = refused_by_host(hosts["freecad"], "file.import", params)
    assert refused.data["references"] == [{"kind": "mtllib", "name": f"named-{M}.obj", "path": relative}]
    ok(api.delete(f"{F}/documents/{document}"))


def test_exports_hold_nothing_of_the_buffer_canary(api: httpx.Client, hosts: dict[str, RpcClient]) -> None:
    """After the refusals above, the whole scene exported as PLY and GLB holds none of the buffer canary's bytes
    (before the .blend tests below open a file that carries the other canary, packed, as it may)."""
    assert not [n for n in blender_state(hosts)["objects"] if n.startswith(("Leak", "Enc", "Named"))]
    ok(api.post(f"{B}/primitives/cube", json={"name": f"Export{M}"}), 201)
    for fmt in ("PLY", "GLB"):
        exported = ok(api.post(f"{B}/export", json={"format": fmt, "filepath": f"all-{M}-{fmt.lower()}"}))
        data = api.get(exported["url"]).content
        assert data and buffer_canary_in(data) == [], fmt
        assert api.delete(exported["url"]).status_code == 200
    ok(api.delete(f"{B}/objects/Export{M}"))


# ------------------------------------------------------------------ .blend
@pytest.mark.parametrize("vector", sorted(HOSTILE_BLENDS))
def test_blend_pointing_outside_is_refused_on_open_and_the_scene_kept(
    vector: str, api: httpx.Client, arena: Arena, hosts: dict[str, RpcClient], backends: dict[str, Backend]
) -> None:
    """Opening reads linked libraries at once and the rest later (render, evaluation, export); the open is refused
    and the previous file, unsaved changes included, is back."""
    workspace = backends["blender"].workspace
    ok(api.post(f"{B}/primitives/cube", json={"name": f"Keep{M}"}), 201)
    before = blender_state(hosts)
    scene_before = ok(api.get(f"{B}/scene"))
    references = refused_references(upload(api, f"{B}/scene/open", f"{vector}-{M}.blend", _blend(arena, vector)))
    assert {r["kind"] for r in references} == {HOSTILE_BLENDS[vector]}, references
    assert blender_state(hosts) == before
    assert ok(api.get(f"{B}/scene")) == scene_before
    assert [p.name for p in workspace.iterdir() if p.name.startswith(".bridge3d-restore")] == []
    ok(api.delete(f"{B}/objects/Keep{M}"))


def _blend(arena: Arena, vector: str) -> bytes:
    return (arena.build / f"{vector}.blend").read_bytes()


def test_blend_import_pointing_outside_is_undone(
    api: httpx.Client, arena: Arena, backends: dict[str, Backend], hosts: dict[str, RpcClient]
) -> None:
    """file.import of a .blend appends its objects, with their linked libraries and images: all removed again."""
    before = blender_state(hosts)
    for vector in ("library", "image", "node_import"):
        name = f"append-{vector}-{M}.blend"
        put(backends["blender"], name, _blend(arena, vector))
        with pytest.raises(RpcError) as refused:
            hosts["blender"].call("file.import", {"name": name, "format": "BLEND"})
        assert refused.value.name == "INVALID_PARAMS", vector
        assert blender_state(hosts) == before, vector


def test_refused_blend_left_nothing_to_render_or_export(
    api: httpx.Client, arena: Arena, hosts: dict[str, RpcClient]
) -> None:
    """After the refusals, rendering (which would run a File Output node) and exporting work and show nothing of
    the refused files."""
    ok(api.post(f"{B}/primitives/cube", json={"name": f"Render{M}"}), 201)
    render = ok(api.post(f"{B}/render", json={"resolution": [16, 16], "engine": "WORKBENCH"}))
    assert api.get(render["url"]).status_code == 200
    assert not (arena.outside / f"written-{M}").exists()
    no_canary_in_glb(api)
    ok(api.delete(f"{B}/objects/Render{M}"))


def test_blend_with_packed_data_opens(api: httpx.Client, arena: Arena, hosts: dict[str, RpcClient]) -> None:
    """A .blend that carries its image inside opens (and its image is packed, not read from outside)."""
    clean = (arena.build / "clean.blend").read_bytes()
    info = ok(upload(api, f"{B}/scene/open", f"clean-{M}.blend", clean))
    assert f"Clean{M}" in info["objects"]
    state = blender_state(hosts)
    assert state["libraries"] == [] and state["file"] == f"clean-{M}.blend"


# ----------------------------------------------------------------- FreeCAD
def _rewrite_links(document: Path, target: str) -> bytes:
    """The document with its link to another file pointing at ``target`` (FreeCAD saved a path relative to where it
    was built; an attacker writes whatever path reaches the file from the workspace)."""
    out = io.BytesIO()
    with zipfile.ZipFile(document) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as copy:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "Document.xml":
                data, count = re.subn(rb'<XLink file="[^"]+"', b'<XLink file="' + target.encode() + b'"', data)
                assert count == 1
            copy.writestr(item, data)
    return out.getvalue()


def freecad_documents(api: httpx.Client) -> list[str]:
    return sorted(d["name"] for d in ok(api.get(f"{F}/documents"))["documents"])


@pytest.mark.parametrize("how", ["absolute", "relative"])
def test_fcstd_linking_a_document_outside_is_refused(
    how: str, api: httpx.Client, arena: Arena, backends: dict[str, Backend]
) -> None:
    """FreeCAD opens linked documents along with the one asked for, from any path; refused, nothing stays open."""
    workspace = backends["freecad"].workspace
    target = str(arena.outside_fcstd) if how == "absolute" else os.path.relpath(arena.outside_fcstd, workspace)
    content = _rewrite_links(arena.build / "link.FCStd", target)
    stamp = arena.outside_fcstd.stat().st_mtime_ns
    before = freecad_documents(api)
    references = refused_references(upload(api, f"{F}/documents/open", f"link-{how}-{M}.FCStd", content))
    assert references[0]["kind"] == "link" and references[0]["path"] == target, references
    assert freecad_documents(api) == before
    assert arena.outside_fcstd.stat().st_mtime_ns == stamp


def test_fcstd_naming_a_file_outside_is_refused(api: httpx.Client, arena: Arena) -> None:
    """A Mesh::Import feature reads its FileName on every recompute: the document is refused before that."""
    before = freecad_documents(api)
    content = (arena.build / "mesh_import.FCStd").read_bytes()
    references = refused_references(upload(api, f"{F}/documents/open", f"mesh-{M}.FCStd", content))
    assert references == [
        {"kind": "path_property", "name": f"Imported{M}.FileName", "path": str(arena.outside / f"canary-{M}.stl")}
    ]
    assert freecad_documents(api) == before


def test_fcstd_linking_a_document_in_the_workspace_opens(api: httpx.Client, arena: Arena) -> None:
    """Links between documents that are both in the workspace keep working."""
    before = freecad_documents(api)
    target = ok(
        upload(api, f"{F}/documents/open", f"target-{M}.FCStd", (arena.build / f"target-{M}.FCStd").read_bytes())
    )
    ok(api.delete(f"{F}/documents/{target['name']}"))
    friend = ok(
        upload(api, f"{F}/documents/open", f"friend-{M}.FCStd", (arena.build / f"friend-{M}.FCStd").read_bytes())
    )
    opened = set(freecad_documents(api)) - set(before)
    assert opened == {friend["name"], target["name"]}
    for name in opened:
        ok(api.delete(f"{F}/documents/{name}"))


# ----------------------------------------------------------- fail closed
def _fcstd(entries: list[tuple[str, bytes]]) -> bytes:
    """An archive of ``entries`` in this order (FreeCAD parses the first one as the document)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return out.getvalue()


def _entries(document: Path) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(document) as archive:
        return [(item.filename, archive.read(item)) for item in archive.infolist()]


def test_fcstd_that_cannot_be_checked_is_refused_before_freecad_reads_it(api: httpx.Client, arena: Arena) -> None:
    """Not a zip, no well-formed Document.xml, a DOCTYPE, or a first entry other than Document.xml (FreeCAD parses
    the first entry as the document, whatever its name: here a document naming a file outside, ahead of a harmless
    Document.xml a reader by name would check instead): refused by the check before FreeCAD opens anything."""
    hostile = dict(_entries(arena.build / "mesh_import.FCStd"))["Document.xml"]
    harmless = _entries(arena.build / f"target-{M}.FCStd")
    documents = {
        "not-a-zip": b"FreeCAD document? no",
        "no-xml": _fcstd([("Document.xml", b"<Document><Objects"), *harmless[1:]]),
        "doctype": _fcstd([("Document.xml", b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY e "x">]><Document/>')]),
        "first-entry": _fcstd([("Hidden.xml", hostile), *harmless]),
    }
    before = freecad_documents(api)
    for label, content in documents.items():
        response = upload(api, f"{F}/documents/open", f"{label}-{M}.FCStd", content)
        err = error(response, 422, "VALIDATION_ERROR")
        assert "cannot be checked" in err["details"]["reason"], (label, err)
        assert freecad_documents(api) == before, label


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_fcstd_read_as_freecad_reads_it(api: httpx.Client, arena: Arena) -> None:
    """Two entries named Document.xml: FreeCAD parses the first (the one naming a file outside); a reader by name
    would take the last. The check reads the first and refuses before FreeCAD opens the document."""
    hostile = dict(_entries(arena.build / "mesh_import.FCStd"))["Document.xml"]
    harmless = _entries(arena.build / f"target-{M}.FCStd")
    content = _fcstd([("Document.xml", hostile), *harmless])
    before = freecad_documents(api)
    references = refused_references(upload(api, f"{F}/documents/open", f"twice-{M}.FCStd", content))
    assert references == [
        {"kind": "path_property", "name": f"Imported{M}.FileName", "path": str(arena.outside / f"canary-{M}.stl")}
    ]
    assert freecad_documents(api) == before


def test_blend_that_cannot_be_checked_is_refused_before_blender_reads_it(
    api: httpx.Client, backends: dict[str, Backend], hosts: dict[str, RpcClient]
) -> None:
    """Blender reads plain, gzip- and zstd-compressed .blend files; anything else given as .blend is refused by the
    check (open and append alike), not handed to Blender's reader."""
    before = blender_state(hosts)
    for label, content in (("junk", b"not a blend file"), ("gzip", gzip.compress(b"not a blend file either"))):
        name = f"{label}-{M}.blend"
        # The gateway's check refuses it before it reaches the workspace; the host's check refuses it there.
        err = error(upload(api, f"{B}/scene/open", name, content), 422, "INVALID_UPLOAD")
        assert "cannot be checked" in err["details"]["reason"], err
        hosts["blender"].call("file.write", {"name": name, "data": base64.b64encode(content).decode()})
        refused = refused_by_host(hosts["blender"], "file.import", {"name": name, "format": "BLEND"})
        assert "cannot be checked" in refused.data["reason"], refused.data
        hosts["blender"].call("file.delete", {"name": name})
    assert blender_state(hosts) == before


SCAN_FAILS_AFTER_THE_IMPORT = """
import sys
module = sys.modules["bridge3d.blender.references"]
original = module.outside_files
calls = []

def failing_after_the_import(root):
    calls.append(root)
    if len(calls) > 1:
        raise RuntimeError("the scan failed")
    return original(root)

module.outside_files = failing_after_the_import
module._original_outside_files = original
result = None
"""
SCAN_RESTORED = """
import sys
module = sys.modules["bridge3d.blender.references"]
module.outside_files = module.__dict__.pop("_original_outside_files", module.outside_files)
result = None
"""


def test_import_whose_scan_fails_is_undone_and_refused(
    api: httpx.Client, backends: dict[str, Backend], hosts: dict[str, RpcClient]
) -> None:
    """The scan after an import (what the FBX/OBJ/USD/.blend importer added) fails: the import is refused and
    everything it added removed, as for a file pointing outside (a scan that cannot run passes nothing)."""
    before = blender_state(hosts)
    put(backends["blender"], f"scanned-{M}.obj", f"o Scanned{M}\n{TRIANGLE_OBJ}".encode())
    run(hosts["blender"], SCAN_FAILS_AFTER_THE_IMPORT)
    try:
        refused = refused_by_host(hosts["blender"], "file.import", {"name": f"scanned-{M}.obj"})
    finally:
        run(hosts["blender"], SCAN_RESTORED)
    assert "could not be checked" in refused.data["reason"], refused.data
    assert blender_state(hosts) == before
    steps = [{"method": "file.import", "params": {"name": f"scanned-{M}.obj"}}]
    imported = ok(api.post(f"{B}/batch", json={"steps": steps}))["steps"][0]
    assert imported["result"]["objects"] == [f"Scanned{M}"], imported
    ok(api.delete(f"{B}/objects/Scanned{M}"))


# ------------------------------------------------------------------ at last
def test_zz_nothing_came_back_and_nothing_was_written_outside(
    api: httpx.Client, arena: Arena, backends: dict[str, Backend], gateway: Gateway
) -> None:
    """Runs last: the canaries never came back, nothing new appeared outside the workspaces, both still work."""
    leaked = [body for body in SEEN if CANARY_TEXT.encode() in body or base64.b64encode(CANARY_TEXT.encode()) in body]
    assert leaked == [], "a canary's content came back in a response"
    assert [body for body in SEEN if buffer_canary_in(body)] == [], "the buffer canary came back in a response"
    assert len(SEEN) > 50
    assert gateway.state_dir is not None  # the gateway's own records and session snapshots: written by it, on purpose
    after = snapshot(arena.basetemp, [*arena.workspaces, gateway.state_dir])
    new_or_changed = sorted(path for path, state in after.items() if arena.before.get(path) != state)
    assert new_or_changed == [], f"written outside the workspaces: {new_or_changed}"
    assert names_containing(arena.outside, "written", recursive=True) == []
    ok(api.post(f"{B}/primitives/cube", json={"name": f"Last{M}"}), 201)
    ok(api.delete(f"{B}/objects/Last{M}"))
    document = ok(api.post(f"{F}/documents", json={"name": f"Last{M}"}), 201)["name"]
    ok(api.post(f"{F}/primitives/box", json={"name": "Box", "document": document}), 201)
    ok(api.delete(f"{F}/documents/{document}"))
