"""``bridge3d blender`` / ``python -m bridge3d.blender``: the host server in the PyPI ``bpy`` module.

The scene is what ``import bpy`` gives: Blender's default startup file (a
cube, a camera and a light), as a Blender user expects.
"""

from __future__ import annotations

from collections.abc import Sequence

from . import APP_NAME, DEFAULT_PORT


def main(argv: Sequence[str] | None = None) -> int:
    import bpy

    from ..rpc.hostmain import run_headless
    from .registry import BlenderHost

    return run_headless(APP_NAME, DEFAULT_PORT, bpy.app.version_string, BlenderHost, argv=argv)
