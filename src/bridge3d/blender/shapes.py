"""Vertex, face and UV lists of the primitives bmesh cannot build in linear time (no ``bpy`` here).

``bmesh.ops.create_uvsphere`` (what Blender's Add > UV Sphere runs) takes time quadratic in the face count:
3.8 s for 256 x 256, 22 s for 512 x 256 on the reference machine, so a large sphere could hold a host past the
supervisor's limits. These builders are linear (1024 x 1024 in about 1.5 s) and give the same geometry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class MeshLists:
    vertices: list[tuple[float, float, float]]
    faces: list[tuple[int, ...]]
    uvs: list[float]  # u, v per face corner, in face order (flat)


def uv_sphere(segments: int, rings: int, radius: float) -> MeshLists:
    """A UV sphere around the origin: a pole vertex at each end, ``rings - 1`` rings of ``segments`` vertices,
    triangles at the poles and quads between, faces wound outwards, UVs unwrapped as Blender does (u around,
    v from the bottom pole to the top)."""
    vertices: list[tuple[float, float, float]] = [(0.0, 0.0, radius)]
    cosines = [math.cos(2.0 * math.pi * j / segments) for j in range(segments)]
    sines = [math.sin(2.0 * math.pi * j / segments) for j in range(segments)]
    for i in range(1, rings):
        phi = math.pi * i / rings
        z, ring_radius = radius * math.cos(phi), radius * math.sin(phi)
        vertices.extend((ring_radius * c, ring_radius * s, z) for c, s in zip(cosines, sines, strict=True))
    bottom = len(vertices)
    vertices.append((0.0, 0.0, -radius))

    faces: list[tuple[int, ...]] = []
    uvs: list[float] = []

    def u(j: int) -> float:
        return j / segments

    def v(i: int) -> float:
        return 1.0 - i / rings

    for j in range(segments):  # top cap
        faces.append((0, 1 + j, 1 + (j + 1) % segments))
        uvs += [u(j) + 0.5 / segments, 1.0, u(j), v(1), u(j + 1), v(1)]
    for i in range(1, rings - 1):
        upper, lower = 1 + (i - 1) * segments, 1 + i * segments
        for j in range(segments):
            k = (j + 1) % segments
            faces.append((upper + j, lower + j, lower + k, upper + k))
            uvs += [u(j), v(i), u(j), v(i + 1), u(j + 1), v(i + 1), u(j + 1), v(i)]
    last_ring = 1 + (rings - 2) * segments
    for j in range(segments):  # bottom cap
        faces.append((last_ring + j, bottom, last_ring + (j + 1) % segments))
        uvs += [u(j), v(rings - 1), u(j) + 0.5 / segments, 0.0, u(j + 1), v(rings - 1)]
    return MeshLists(vertices, faces, uvs)


def torus(major_radius: float, minor_radius: float, major_segments: int, minor_segments: int) -> MeshLists:
    """A torus in the XY plane around Z, as Add > Torus makes it: ``major_segments`` rings of ``minor_segments``
    vertices, quads wound outwards, UVs u around the major circle and v around the tube."""
    vertices: list[tuple[float, float, float]] = []
    for i in range(major_segments):
        theta = 2.0 * math.pi * i / major_segments
        ct, st = math.cos(theta), math.sin(theta)
        for j in range(minor_segments):
            phi = 2.0 * math.pi * j / minor_segments
            r = major_radius + minor_radius * math.cos(phi)
            vertices.append((r * ct, r * st, minor_radius * math.sin(phi)))
    faces: list[tuple[int, ...]] = []
    uvs: list[float] = []
    for i in range(major_segments):
        i2 = (i + 1) % major_segments
        u0, u1 = i / major_segments, (i + 1) / major_segments
        for j in range(minor_segments):
            j2 = (j + 1) % minor_segments
            v0, v1 = j / minor_segments, (j + 1) / minor_segments
            faces.append(
                (i * minor_segments + j, i2 * minor_segments + j, i2 * minor_segments + j2, i * minor_segments + j2)
            )
            uvs += [u0, v0, u1, v0, u1, v1, u0, v1]
    return MeshLists(vertices, faces, uvs)
