"""primitive.*, object.* and material.* commands.

Objects are built from data (bpy.data.meshes.new + a cached bmesh + bpy.data.objects.new
+ collection.objects.link), never with bpy.ops: operators re-evaluate the view
layer on every call, which makes adding objects slower the more there are.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from operator import itemgetter
from typing import Any

import bmesh
import bpy

from ..rpc.errors import Conflict
from . import compat, shapes
from .events import EventHub
from .info import find_material, find_object, object_info, scene, short_info


def radians(degrees: tuple[float, ...]) -> tuple[float, ...]:
    return tuple(math.radians(angle) for angle in degrees)


def real_users(block: Any) -> int:
    """Users of a data-block besides its fake user (the one material.create gives, which keeps it with no object)."""
    return int(block.users) - int(bool(block.use_fake_user))


def remove_object(obj: Any) -> int:
    """Remove ``obj`` and the data-blocks only it used: its data (mesh, curve, camera, light, ...), then the
    materials and their images left without users. A block with a fake user stays: materials made with
    material.create have one (a client named them), and so may blocks of an opened .blend. Returns how many
    data-blocks went with the object.

    Each block is removed from its own collection with ``do_unlink=False`` once nothing uses it: that skips the
    search for users through the whole file, which would make every delete cost time in proportion to the file.
    """
    data = obj.data
    materials = {slot.material.session_uid: slot.material for slot in obj.material_slots if slot.material is not None}
    images = {
        image.session_uid: image
        for material in materials.values()
        if material.node_tree is not None
        for node in material.node_tree.nodes
        if (image := getattr(node, "image", None)) is not None
    }
    bpy.data.objects.remove(obj, do_unlink=True)
    removed = 0
    for blocks in ([data] if data is not None else [], materials.values(), images.values()):
        for block in blocks:
            if block.users == 0:
                _remove_unused(block)
                removed += 1
    return removed


def _remove_unused(block: Any) -> None:
    collection = getattr(bpy.data, DATA_COLLECTIONS.get(block.id_type, ""), None)
    if collection is None:
        bpy.data.batch_remove([block])  # a kind of data not listed below: slower, just as right
    else:
        collection.remove(block, do_unlink=False)


# bpy.data collection of each ID type an object's data, a material or a texture can be.
DATA_COLLECTIONS = {
    "MESH": "meshes",
    "CURVE": "curves",
    "CAMERA": "cameras",
    "LIGHT": "lights",
    "LIGHT_PROBE": "lightprobes",
    "LATTICE": "lattices",
    "METABALL": "metaballs",
    "ARMATURE": "armatures",
    "SPEAKER": "speakers",
    "VOLUME": "volumes",
    "MATERIAL": "materials",
    "IMAGE": "images",
}


class ObjectCommands:
    """primitive.create, object.* and material.*: the params arrive checked and complete (commands.blender)."""

    def __init__(self, hub: EventHub, version: compat.Version) -> None:
        self.hub = hub
        self.version = version
        self._templates = PrimitiveTemplates()

    # ------------------------------------------------------------ primitive.create
    def primitive_create(
        self,
        type: str,  # noqa: A002 - public param name
        name: str | None,
        location: tuple[float, float, float],
        rotation: tuple[float, float, float],
        scale: tuple[float, float, float],
        **sizes: Any,
    ) -> dict[str, Any]:
        obj = self._new_primitive(type, name, location, rotation, scale, sizes)
        return object_info(obj, visible=True)

    def primitive_create_compact(
        self,
        type: str,  # noqa: A002 - public param name
        name: str | None,
        location: tuple[float, float, float],
        rotation: tuple[float, float, float],
        scale: tuple[float, float, float],
        **sizes: Any,
    ) -> dict[str, Any]:
        """primitive.create as a batch step reports it unless `full`: only the name (the ObjectInfo is not built)."""
        return {"name": self._new_primitive(type, name, location, rotation, scale, sizes).name}

    def _new_primitive(
        self,
        kind: str,
        name: str | None,
        location: tuple[float, float, float],
        rotation: tuple[float, float, float],
        scale: tuple[float, float, float],
        sizes: dict[str, Any],
    ) -> Any:
        obj_name = name or kind.capitalize()
        mesh = bpy.data.meshes.new(obj_name)
        self._templates.to_mesh(kind, sizes, mesh)
        obj = bpy.data.objects.new(obj_name, mesh)
        obj.location = location
        obj.rotation_euler = radians(rotation)
        obj.scale = scale
        scene().collection.objects.link(obj)
        self.hub.object_event("object.created", obj, primitive=kind)
        return obj

    # ------------------------------------------------------------ object.*
    def object_list(self, offset: int, limit: int, type: str | None, name_contains: str | None) -> dict[str, Any]:  # noqa: A002
        wanted_type = type.upper() if type is not None else None
        # Each bpy attribute read costs about a microsecond, so with 10,000 objects the name is read once per
        # object (values() builds the wrappers in C) and sorting uses the plain strings.
        named = [(obj.name, obj) for obj in scene().objects.values() if wanted_type is None or obj.type == wanted_type]
        if name_contains is not None:
            needle = name_contains.lower()
            named = [entry for entry in named if needle in entry[0].lower()]
        named.sort(key=itemgetter(0))
        page = named[offset : offset + limit]
        return {"objects": [short_info(obj) for _, obj in page], "total": len(named), "offset": offset, "limit": limit}

    def object_get(self, name: str) -> dict[str, Any]:
        return object_info(find_object(name))

    def object_delete(self, name: str) -> dict[str, Any]:
        obj = find_object(name)
        real_name, kind = obj.name, obj.type
        remove_object(obj)
        self.hub.touched.discard(real_name)
        self.hub.publish("object.deleted", {"name": real_name, "type": kind, "source": "command"})
        return {"name": real_name, "deleted": True}

    def object_transform(
        self,
        name: str,
        location: tuple[float, float, float] | None,
        rotation: tuple[float, float, float] | None,
        scale: tuple[float, float, float] | None,
        relative: bool,
    ) -> dict[str, Any]:
        obj = find_object(name)
        if location is not None:
            obj.location = [a + b for a, b in zip(obj.location, location, strict=True)] if relative else location
        if rotation is not None:
            turn = radians(rotation)
            obj.rotation_euler = [a + b for a, b in zip(obj.rotation_euler, turn, strict=True)] if relative else turn
        if scale is not None:
            obj.scale = [a * b for a, b in zip(obj.scale, scale, strict=True)] if relative else scale
        self.hub.object_event("object.changed", obj, what="transform")
        return object_info(obj)

    def object_rename(self, name: str, new_name: str) -> dict[str, Any]:
        obj = find_object(name)
        old = obj.name
        obj.name = new_name
        self.hub.touched.discard(old)  # the set holds names: the old one would stay in it for good
        self.hub.object_event("object.changed", obj, what="name", old_name=old)
        info = object_info(obj)
        info["old_name"] = old
        return info

    # ------------------------------------------------------------ material.*
    def material_create(
        self,
        name: str,
        color: tuple[float, float, float, float],
        metallic: float,
        roughness: float,
        emission_color: tuple[float, float, float, float] | None,
        emission_strength: float,
    ) -> dict[str, Any]:
        material = bpy.data.materials.new(name)
        # Kept while no object uses it (a fake user, as Blender's shield button sets): a client named it and may
        # apply it later; material.delete or scene.clear removes it.
        material.use_fake_user = True
        if compat.material_needs_use_nodes(self.version):
            material.use_nodes = True
        material.diffuse_color = color  # the viewport / Workbench colour
        material.metallic = metallic
        material.roughness = roughness
        bsdf = _principled(material)
        if bsdf is not None:
            inputs = compat.principled_inputs(self.version)
            bsdf.inputs[inputs["base_color"]].default_value = color
            bsdf.inputs[inputs["metallic"]].default_value = metallic
            bsdf.inputs[inputs["roughness"]].default_value = roughness
            bsdf.inputs[inputs["alpha"]].default_value = color[3]
            if emission_color is not None:
                bsdf.inputs[inputs["emission_color"]].default_value = emission_color
            bsdf.inputs[inputs["emission_strength"]].default_value = emission_strength
        return material_info(material, self.version)

    def material_apply(self, object: str, material: str, slot: int | None) -> dict[str, Any]:  # noqa: A002
        index = slot if slot is not None else 0
        obj = find_object(object, "object")
        mat = find_material(material)
        if obj.data is None or not hasattr(obj.data, "materials"):
            raise Conflict.for_field("object", f"a {obj.type} object cannot have materials")
        slots = obj.data.materials
        if index < len(slots):
            slots[index] = mat
        elif index == len(slots):
            slots.append(mat)
        else:
            raise Conflict.for_field("slot", f"must be <= {len(slots)} (the object has {len(slots)} slots)")
        self.hub.object_event("object.changed", obj, what="material", material=mat.name, slot=index)
        return object_info(obj)

    def material_list(self) -> dict[str, Any]:
        return {"materials": [material_info(m, self.version) for m in bpy.data.materials]}

    def material_delete(self, name: str) -> dict[str, Any]:
        material = find_material(name, "name")
        real_name = material.name
        holders = [obj for obj in scene().objects if any(slot.material == material for slot in obj.material_slots)]
        bpy.data.materials.remove(material, do_unlink=True)  # empties every slot that held it
        for obj in holders:
            self.hub.object_event("object.changed", obj, what="material", material=None, removed=real_name)
        return {"name": real_name, "deleted": True, "objects": sorted(obj.name for obj in holders)}


def material_info(material: Any, version: compat.Version) -> dict[str, Any]:
    info: dict[str, Any] = {
        "name": material.name,
        "color": [round(c, 6) for c in material.diffuse_color],
        "metallic": round(material.metallic, 6),
        "roughness": round(material.roughness, 6),
        "users": real_users(material),
    }
    bsdf = _principled(material)
    if bsdf is not None:
        inputs = compat.principled_inputs(version)
        info["color"] = [round(c, 6) for c in bsdf.inputs[inputs["base_color"]].default_value]
        info["metallic"] = round(bsdf.inputs[inputs["metallic"]].default_value, 6)
        info["roughness"] = round(bsdf.inputs[inputs["roughness"]].default_value, 6)
        info["emission_color"] = [round(c, 6) for c in bsdf.inputs[inputs["emission_color"]].default_value]
        info["emission_strength"] = round(bsdf.inputs[inputs["emission_strength"]].default_value, 6)
    return info


def _principled(material: Any) -> Any:
    tree = material.node_tree
    if tree is None:
        return None
    for node in tree.nodes:
        if node.type == "BSDF_PRINCIPLED":
            return node
    return None


class PrimitiveTemplates:
    """Primitive geometry built once per (type, sizes) and copied into each new mesh.

    Building a cube with bmesh ops costs about three times as much as copying a finished BMesh into a mesh
    (BMesh.to_mesh leaves its source unchanged), and bulk creation mostly repeats the same few shapes. Only
    the most recently used small shapes are kept (a large one is built, copied and freed: keeping it would hold
    hundreds of megabytes for a shape that is rarely repeated).
    """

    MAX_SHAPES = 16
    MAX_KEPT_FACES = 20_000

    def __init__(self) -> None:
        self._shapes: dict[tuple[str, tuple[tuple[str, Any], ...]], Any] = {}

    def to_mesh(self, kind: str, sizes: dict[str, Any], mesh: Any) -> None:
        """Write the shape of ``kind`` with ``sizes`` into ``mesh``."""
        key = (kind, tuple(sorted(sizes.items())))
        bm = self._shapes.pop(key, None)
        if bm is None or not bm.is_valid:
            bm = self._build(kind, sizes)
        try:
            bm.to_mesh(mesh)
        finally:
            if len(bm.faces) > self.MAX_KEPT_FACES:
                bm.free()
            else:
                if len(self._shapes) >= self.MAX_SHAPES:
                    self._shapes.pop(next(iter(self._shapes))).free()
                self._shapes[key] = bm  # re-inserted: the dict's order is least recently used first

    @staticmethod
    def _build(kind: str, sizes: dict[str, Any]) -> Any:
        bm = bmesh.new()
        try:
            if kind in LIST_BUILT:
                _load_lists(bm, LIST_BUILT[kind](sizes))
            else:
                bm.loops.layers.uv.new("UVMap")  # the name Blender's own Add menu gives it
                _fill_bmesh(bm, kind, sizes)
        except BaseException:
            bm.free()
            raise
        return bm


def _fill_bmesh(bm: Any, kind: str, s: dict[str, Any]) -> None:
    """The same geometry as Blender's Add > Mesh menu (bmesh ops the operators use)."""
    ops = bmesh.ops
    if kind == "cube":
        ops.create_cube(bm, size=s["size"], calc_uvs=True)
    elif kind == "plane":
        ops.create_grid(bm, x_segments=1, y_segments=1, size=s["size"] / 2.0, calc_uvs=True)
    elif kind in ("cylinder", "cone"):
        # A cylinder is a cone whose two radii are equal, exactly as Blender's Add > Mesh builds it.
        radius1, radius2 = (s["radius"], s["radius"]) if kind == "cylinder" else (s["radius1"], s["radius2"])
        ops.create_cone(
            bm,
            cap_ends=True,
            cap_tris=False,
            segments=s["vertices"],
            radius1=radius1,
            radius2=radius2,
            depth=s["depth"],
            calc_uvs=True,
        )
    else:  # pragma: no cover - the command schema allows no other type
        raise ValueError(kind)


# Shapes built from vertex and face lists (bmesh has no torus op, and its sphere op is quadratic in the faces).
LIST_BUILT: dict[str, Callable[[dict[str, Any]], shapes.MeshLists]] = {
    "sphere": lambda s: shapes.uv_sphere(s["segments"], s["rings"], s["radius"]),
    "torus": lambda s: shapes.torus(s["major_radius"], s["minor_radius"], s["major_segments"], s["minor_segments"]),
}


def _load_lists(bm: Any, lists: shapes.MeshLists) -> None:
    """Fill ``bm`` from vertex/face/UV lists through a scratch mesh (from_pydata and BMesh.from_mesh run in C)."""
    scratch = bpy.data.meshes.new("bridge3d-scratch")
    try:
        scratch.from_pydata(lists.vertices, [], lists.faces)
        scratch.uv_layers.new(name="UVMap").data.foreach_set("uv", lists.uvs)
        bm.from_mesh(scratch)
    finally:
        bpy.data.meshes.remove(scratch)
