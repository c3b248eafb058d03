# mypy: ignore-errors
# Bridge3D FreeCAD add-on (application part): make the ``bridge3d`` package importable.
#
# FreeCAD exec()s this file with ``Dir`` set to the add-on folder. Two layouts work:
# - zip / Addon Manager install: the package is vendored next to this file (<Mod>/Bridge3D/bridge3d/);
# - development symlink: <Mod>/Bridge3D -> <repo>/src/bridge3d/freecad/addon, so <repo>/src holds it.
import os as _os
import sys as _sys

_bridge3d_here = _os.path.realpath(Dir)  # noqa: F821 - provided by FreeCAD's loader
for _bridge3d_root in (_bridge3d_here, _os.path.dirname(_os.path.dirname(_os.path.dirname(_bridge3d_here)))):
    if _os.path.isfile(_os.path.join(_bridge3d_root, "bridge3d", "__init__.py")):
        if _bridge3d_root not in _sys.path:
            _sys.path.insert(0, _bridge3d_root)
        break
