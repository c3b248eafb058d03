"""Making ``import FreeCAD`` work from a plain Python (no FreeCAD import here)."""

from __future__ import annotations

import importlib.util
import os
import sys

DEFAULT_FREECAD_LIB = "/usr/lib/freecad-python3/lib"
LIB_ENV = "BRIDGE3D_FREECAD_LIB"


def ensure_freecad_importable() -> str | None:
    """Append the FreeCAD lib dir to sys.path unless FreeCAD is already importable.

    Returns the directory added, or None when nothing was needed (inside
    ``freecadcmd`` or the GUI, or when PYTHONPATH already has it).
    """
    if "FreeCAD" in sys.modules or importlib.util.find_spec("FreeCAD") is not None:
        return None
    lib = os.environ.get(LIB_ENV) or DEFAULT_FREECAD_LIB
    if lib not in sys.path:
        sys.path.append(lib)
    return lib
