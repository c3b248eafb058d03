"""Binary glTF 2.0 (GLB) written and re-read without any dependency: what the live viewer is sent.

:func:`write_glb` turns triangle meshes (one node each, with a name, a base colour, a node transform and
optional extras) into a GLB: one material per distinct colour, positions with their bounds, optional normals,
16- or 32-bit indices, everything in one binary chunk. :func:`read_glb` splits a GLB into its JSON document and
binary chunk, :func:`build_glb` does the reverse, and :func:`with_asset_extras` adds ``asset.extras`` entries to
any GLB (Blender's exporter's included) without touching its binary chunk.

Stdlib only and Python 3.10 syntax: it runs in the gateway and inside FreeCAD's own Python.
"""

from __future__ import annotations

import json
import struct
import sys
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

GLB_MAGIC = b"glTF"
GLB_VERSION = 2
JSON_CHUNK = 0x4E4F534A  # "JSON"
BIN_CHUNK = 0x004E4942  # "BIN\0"
_HEADER = struct.Struct("<4sII")
_CHUNK_HEADER = struct.Struct("<II")

FLOAT = 5126
UNSIGNED_SHORT = 5123
UNSIGNED_INT = 5125
ARRAY_BUFFER = 34962
ELEMENT_ARRAY_BUFFER = 34963
TRIANGLES = 4


class GlbError(ValueError):
    """The bytes are not a GLB this module can read."""


@dataclass
class MeshNode:
    """One node of the scene; ``positions`` and ``normals`` are flat x, y, z lists in the node's own space."""

    name: str
    positions: Sequence[float] = ()
    indices: Sequence[int] = ()
    normals: Sequence[float] | None = None
    color: tuple[float, float, float, float] = (0.8, 0.8, 0.8, 1.0)
    translation: tuple[float, float, float] = (0.0, 0.0, 0.0)
    rotation: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 1.0)  # quaternion x, y, z, w
    scale: tuple[float, float, float] = (1.0, 1.0, 1.0)
    extras: dict[str, Any] = field(default_factory=dict)


def _little_endian(values: array[Any]) -> bytes:
    if sys.byteorder == "big":
        values = array(values.typecode, values)
        values.byteswap()
    return values.tobytes()


class _Binary:
    """The binary chunk under construction: bufferViews aligned to 4 bytes, accessors pointing into them."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0
        self.views: list[dict[str, Any]] = []
        self.accessors: list[dict[str, Any]] = []

    def add(self, data: bytes, target: int, accessor: dict[str, Any]) -> int:
        self.views.append({"buffer": 0, "byteOffset": self.size, "byteLength": len(data), "target": target})
        self.parts.append(data)
        self.size += len(data)
        padding = -len(data) % 4
        if padding:
            self.parts.append(b"\0" * padding)
            self.size += padding
        self.accessors.append({"bufferView": len(self.views) - 1, **accessor})
        return len(self.accessors) - 1

    def vec3(self, flat: Sequence[float], *, bounds: bool) -> int:
        values = array("f", flat)
        accessor: dict[str, Any] = {"componentType": FLOAT, "count": len(values) // 3, "type": "VEC3"}
        if bounds:
            accessor["min"] = [min(values[axis::3]) for axis in range(3)]
            accessor["max"] = [max(values[axis::3]) for axis in range(3)]
        return self.add(_little_endian(values), ARRAY_BUFFER, accessor)

    def indices(self, flat: Sequence[int], vertex_count: int) -> int:
        wide = vertex_count > 0xFFFF
        values = array("I" if wide else "H", flat)
        accessor = {"componentType": UNSIGNED_INT if wide else UNSIGNED_SHORT, "count": len(values), "type": "SCALAR"}
        return self.add(_little_endian(values), ELEMENT_ARRAY_BUFFER, accessor)


def _check_mesh(node: MeshNode) -> None:
    count = len(node.positions)
    if count % 3 or len(node.indices) % 3:
        raise ValueError(f"{node.name}: positions and indices must come in threes")
    if node.normals is not None and len(node.normals) != count:
        raise ValueError(f"{node.name}: one normal per position is needed")
    vertices = count // 3
    if any(not 0 <= index < vertices for index in node.indices):
        raise ValueError(f"{node.name}: an index points past the positions")


def write_glb(nodes: Iterable[MeshNode], *, extras: dict[str, Any] | None = None, generator: str = "bridge3d") -> bytes:
    """A GLB with one root node per MeshNode (a node without triangles has no mesh) in one scene."""
    binary = _Binary()
    materials: list[dict[str, Any]] = []
    material_by_color: dict[tuple[float, ...], int] = {}
    meshes: list[dict[str, Any]] = []
    gltf_nodes: list[dict[str, Any]] = []
    for node in nodes:
        gltf_node: dict[str, Any] = {"name": node.name}
        if any(node.translation):
            gltf_node["translation"] = list(node.translation)
        if tuple(node.rotation) != (0.0, 0.0, 0.0, 1.0):
            gltf_node["rotation"] = list(node.rotation)
        if tuple(node.scale) != (1.0, 1.0, 1.0):
            gltf_node["scale"] = list(node.scale)
        if node.extras:
            gltf_node["extras"] = node.extras
        if node.positions and node.indices:
            _check_mesh(node)
            color = tuple(float(c) for c in node.color)
            if color not in material_by_color:
                material_by_color[color] = len(materials)
                material: dict[str, Any] = {
                    "name": "rgba(" + ", ".join(f"{c:.3f}" for c in color) + ")",
                    "pbrMetallicRoughness": {
                        "baseColorFactor": list(color),
                        "metallicFactor": 0.0,
                        "roughnessFactor": 0.6,
                    },
                    "doubleSided": True,
                }
                if color[3] < 1.0:
                    material["alphaMode"] = "BLEND"
                materials.append(material)
            attributes = {"POSITION": binary.vec3(node.positions, bounds=True)}
            if node.normals is not None:
                attributes["NORMAL"] = binary.vec3(node.normals, bounds=False)
            primitive = {
                "attributes": attributes,
                "indices": binary.indices(node.indices, len(node.positions) // 3),
                "material": material_by_color[color],
                "mode": TRIANGLES,
            }
            gltf_node["mesh"] = len(meshes)
            meshes.append({"name": node.name, "primitives": [primitive]})
        gltf_nodes.append(gltf_node)
    document: dict[str, Any] = {
        "asset": {"version": "2.0", "generator": generator},
        "scene": 0,
        "scenes": [{"name": "Scene", "nodes": list(range(len(gltf_nodes)))}],
        "nodes": gltf_nodes,
    }
    if extras:
        document["asset"]["extras"] = extras
    if meshes:
        document.update(
            meshes=meshes,
            materials=materials,
            accessors=binary.accessors,
            bufferViews=binary.views,
            buffers=[{"byteLength": binary.size}],
        )
    return build_glb(document, b"".join(binary.parts))


def build_glb(document: dict[str, Any], binary: bytes = b"") -> bytes:
    """Header, JSON chunk (space-padded) and, when there is one, the binary chunk (zero-padded)."""
    text = json.dumps(document, separators=(",", ":"), allow_nan=False).encode("utf-8")
    text += b" " * (-len(text) % 4)
    chunks = [_CHUNK_HEADER.pack(len(text), JSON_CHUNK), text]
    if binary:
        binary += b"\0" * (-len(binary) % 4)
        chunks += [_CHUNK_HEADER.pack(len(binary), BIN_CHUNK), binary]
    body = b"".join(chunks)
    return _HEADER.pack(GLB_MAGIC, GLB_VERSION, _HEADER.size + len(body)) + body


def read_glb(data: bytes) -> tuple[dict[str, Any], bytes]:
    """The JSON document and the binary chunk (empty when there is none) of a GLB."""
    if len(data) < _HEADER.size + _CHUNK_HEADER.size:
        raise GlbError("too short for a GLB")
    magic, version, length = _HEADER.unpack_from(data)
    if magic != GLB_MAGIC or version != GLB_VERSION or length > len(data):
        raise GlbError("not a version 2 GLB")
    json_length, json_type = _CHUNK_HEADER.unpack_from(data, _HEADER.size)
    start = _HEADER.size + _CHUNK_HEADER.size
    if json_type != JSON_CHUNK or start + json_length > length:
        raise GlbError("the first chunk is not a JSON chunk")
    try:
        document = json.loads(data[start : start + json_length].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise GlbError(f"unreadable JSON chunk: {exc}") from None
    if not isinstance(document, dict):
        raise GlbError("the JSON chunk is not an object")
    binary = b""
    offset = start + json_length
    if offset + _CHUNK_HEADER.size <= length:
        bin_length, bin_type = _CHUNK_HEADER.unpack_from(data, offset)
        if bin_type == BIN_CHUNK:
            begin = offset + _CHUNK_HEADER.size
            binary = data[begin : begin + bin_length]
    return document, binary


def with_asset_extras(data: bytes, extras: dict[str, Any]) -> bytes:
    """The same GLB with ``extras`` merged into ``asset.extras`` (the binary chunk is copied as it is)."""
    document, binary = read_glb(data)
    asset = document.setdefault("asset", {"version": "2.0"})
    merged = asset.get("extras") if isinstance(asset.get("extras"), dict) else {}
    asset["extras"] = {**merged, **extras}
    return build_glb(document, binary)


def vertex_normals(positions: Sequence[float], indices: Sequence[int]) -> list[float]:
    """Smooth vertex normals: the area-weighted sum of the normals of the triangles around each vertex."""
    sums = [0.0] * len(positions)
    p = positions
    for t in range(0, len(indices) - 2, 3):
        a, b, c = indices[t] * 3, indices[t + 1] * 3, indices[t + 2] * 3
        ux, uy, uz = p[b] - p[a], p[b + 1] - p[a + 1], p[b + 2] - p[a + 2]
        vx, vy, vz = p[c] - p[a], p[c + 1] - p[a + 1], p[c + 2] - p[a + 2]
        nx, ny, nz = uy * vz - uz * vy, uz * vx - ux * vz, ux * vy - uy * vx  # |n| = twice the area
        for v in (a, b, c):
            sums[v] += nx
            sums[v + 1] += ny
            sums[v + 2] += nz
    for v in range(0, len(sums), 3):
        length = (sums[v] ** 2 + sums[v + 1] ** 2 + sums[v + 2] ** 2) ** 0.5
        if length > 0.0:
            sums[v] /= length
            sums[v + 1] /= length
            sums[v + 2] /= length
        else:
            sums[v + 2] = 1.0
    return sums
