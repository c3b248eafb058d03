"""``bridge3d blender`` / ``python -m bridge3d.blender``: the host server in the PyPI ``bpy`` module.

The scene starts as the NEW_SCENE setting says (``--new-scene``, BRIDGE3D_BLENDER_NEW_SCENE): empty by default,
so that a client asking for a cube named "Cube" gets "Cube"; ``factory`` keeps what ``import bpy`` gives (Blender's
start-up file: a Cube, a Camera and a Light); a .blend of the workspace is loaded as an untitled template.
"""

from __future__ import annotations

from collections.abc import Sequence

from . import APP_NAME, DEFAULT_PORT


def main(argv: Sequence[str] | None = None) -> int:
    import bpy

    from ..rpc.hostmain import run_headless
    from .registry import BlenderHost

    return run_headless(APP_NAME, DEFAULT_PORT, bpy.app.version_string, BlenderHost, argv=argv)
