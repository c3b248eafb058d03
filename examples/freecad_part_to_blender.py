"""A part made in FreeCAD and rendered in Blender: a plate (box) minus a hole (cylinder), exported as STL,
imported into an empty Blender scene, given a material and rendered to a PNG.

    python examples/freecad_part_to_blender.py [--output plate.png] [--size 640x480]

The gateway is BRIDGE3D_URL (default http://127.0.0.1:8000), with BRIDGE3D_API_KEY when it asks for a key.
Blender's scene is cleared first; the FreeCAD document is closed at the end.
"""

# ruff: noqa: T201 - an example shows what it does with print

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bridge3d.client import Client


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=Path("plate.png"), help="the PNG to write (default plate.png)")
    parser.add_argument("--size", default="640x480", help="render resolution, WIDTHxHEIGHT (default 640x480)")
    args = parser.parse_args(argv)
    width, height = (int(side) for side in args.size.lower().split("x"))

    with Client() as client, tempfile.TemporaryDirectory() as scratch:
        # FreeCAD: a 40 x 30 x 5 mm plate with a 12 mm hole through its middle.
        document = client.freecad.documents.create(name="Plate").name
        try:
            plate = client.freecad.box(name="Plate", length=40, width=30, height=5, document=document)
            hole = client.freecad.cylinder(name="Hole", radius=6, height=5, location=(20, 15, 0), document=document)
            part = client.freecad.boolean.subtract(
                object1=plate.object_id, object2=hole.object_id, name="PlateWithHole", document=document
            )
            print(f"FreeCAD: {part.object_id}, {part.object.volume or 0:.1f} mm³")
            stl = client.freecad.export(
                format="STL", objects=[part.object_id], filepath="plate-with-hole", document=document
            )
            local = stl.download(scratch)
        finally:
            client.freecad.documents.close(document)

        # Blender: an empty scene and a brushed-metal look. The STL's millimetres arrive as Blender units one to
        # one; with no camera in the scene, the render adds one that frames the part whatever its size.
        client.blender.scene.clear()
        imported = client.blender.import_file(local)
        material = client.blender.materials.create(name="Steel", color="#8a9299", metallic=0.9, roughness=0.35)
        for name in imported.objects:
            client.blender.materials.apply(object=name, material=material.name)
        image = client.blender.render(resolution=(width, height), output="plate-with-hole")
        written = image.download(args.output)
        print(f"Blender: {', '.join(imported.objects)} rendered to {written} ({image.size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
