"""Build the installable FreeCAD add-on zip (``python -m bridge3d.freecad.addon_build OUTDIR``).

The zip holds one folder, ``Bridge3D/``, laid out as a FreeCAD Mod: the
add-on files from ``addon/`` at its top and a vendored copy of the
``bridge3d`` package (``__init__``, ``rpc``, ``freecad``) beside them, so it
runs in FreeCAD's own Python with nothing else installed. Unzip it into
FreeCAD's Mod folder (``~/.local/share/FreeCAD/Mod/`` for 0.20 on Linux).
No FreeCAD import here.
"""

from __future__ import annotations

import sys
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from .. import SHARED_HOST_PACKAGES, __version__

MOD_NAME = "Bridge3D"
PACKAGE_ROOT = Path(__file__).resolve().parent.parent  # src/bridge3d
ADDON_DIR = Path(__file__).resolve().parent / "addon"
VENDORED = ("__init__.py", *SHARED_HOST_PACKAGES, "freecad")


def _files(root: Path) -> Iterator[Path]:
    if root.is_file():
        yield root
        return
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix not in {".pyc", ".pyo"}:
            yield path


def build_addon_zip(output_dir: str | Path) -> Path:
    """Write ``bridge3d-freecad-addon-<version>.zip`` into ``output_dir`` and return its path."""
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"bridge3d-freecad-addon-{__version__}.zip"
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in _files(ADDON_DIR):
            archive.write(path, f"{MOD_NAME}/{path.relative_to(ADDON_DIR).as_posix()}")
        for entry in VENDORED:
            for path in _files(PACKAGE_ROOT / entry):
                archive.write(path, f"{MOD_NAME}/bridge3d/{path.relative_to(PACKAGE_ROOT).as_posix()}")
    return target


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        sys.stderr.write("usage: python -m bridge3d.freecad.addon_build OUTDIR\n")
        return 2
    sys.stdout.write(f"{build_addon_zip(args[0])}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
