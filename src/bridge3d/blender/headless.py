"""``bridge3d blender`` / ``python -m bridge3d.blender``: the host server in the PyPI ``bpy`` module.

The scene is what ``import bpy`` gives: Blender's default startup file (a
cube, a camera and a light), as a Blender user expects.
"""

from __future__ import annotations

from collections.abc import Sequence

from . import DEFAULT_PORT


def main(argv: Sequence[str] | None = None) -> int:
    import bpy

    from ..rpc.hostmain import run_headless
    from .registry import build_registry

    return run_headless("blender", DEFAULT_PORT, bpy.app.version_string, build_registry, argv=argv)
