"""The headless FreeCAD host server (``python -m bridge3d.freecad`` / ``bridge3d freecad``).

Runs in any Python that can ``import FreeCAD``: the system Python with
FreeCAD's lib dir on sys.path (added here, see ``libpath``), or
``freecadcmd`` (pass options through BRIDGE3D_FREECAD_* environment
variables there, because freecadcmd keeps its own command line).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from . import APP_NAME, DEFAULT_PORT
from .libpath import ensure_freecad_importable


def freecad_version() -> str:
    import FreeCAD

    parts = [str(part) for part in FreeCAD.Version()[:3]]
    return ".".join(part for part in parts if part)


IGES_PARAMS = "User parameter:BaseApp/Preferences/Mod/Part/IGES"


def configure_headless_defaults() -> Callable[[], None]:
    """Preferences a headless server needs, set before ``Part`` is first imported.

    IGES: FreeCAD reads "Mod/Part/IGES/BrepMode" once, when Part loads; its
    default writes faces only, so an exported solid would come back as loose
    faces. Write solids unless the user chose otherwise. Returns a function
    that removes what was set again (``freecadcmd`` saves user.cfg on exit).
    """
    import FreeCAD

    group = FreeCAD.ParamGet(IGES_PARAMS)
    if "BrepMode" in {entry[1] for entry in (group.GetContents() or [])}:
        return lambda: None
    group.SetBool("BrepMode", True)
    return lambda: group.RemBool("BrepMode")


def main(argv: Sequence[str] | None = None) -> int:
    ensure_freecad_importable()
    restore = configure_headless_defaults()
    from ..rpc.hostmain import run_headless
    from .registry import FreeCADHost

    try:
        return run_headless(APP_NAME, DEFAULT_PORT, freecad_version(), FreeCADHost, argv=argv)
    finally:
        restore()
