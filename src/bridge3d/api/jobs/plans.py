"""Which host does what in a conversion: the stages from a source file to a target format.

Pure logic (no I/O): CAD formats (STEP, IGES, BREP, FCStd) are read by FreeCAD, mesh and scene formats by Blender;
FreeCAD writes the CAD and mesh formats it knows, and hands anything else to Blender as OBJ (one object per solid).
"""

from __future__ import annotations

from dataclasses import dataclass

from bridge3d.commands import blender as blender_commands
from bridge3d.commands import freecad as freecad_commands

INTERMEDIATE_FORMAT = "OBJ"  # what FreeCAD gives Blender: it keeps one named object per solid


def _by_extension(formats: dict[str, tuple[str, ...]]) -> dict[str, str]:
    return {extension: name for name, extensions in formats.items() for extension in extensions}


FREECAD_READS = {
    **_by_extension({f.name: f.extensions for f in freecad_commands.FORMATS.values() if not f.mesh}),
    freecad_commands.DOCUMENT_EXTENSION.lower(): "FCSTD",
}
BLENDER_READS = _by_extension(blender_commands.FORMAT_EXTENSIONS)
FREECAD_WRITES = tuple(freecad_commands.FORMATS)  # STEP, IGES, BREP, STL, OBJ
BLENDER_WRITES = blender_commands.FILE_FORMATS
TARGET_FORMATS = tuple(dict.fromkeys((*FREECAD_WRITES, *BLENDER_WRITES)))


class ConversionError(ValueError):
    """No chain of hosts makes the target format from this source (the message says why)."""


@dataclass(frozen=True)
class Stage:
    app: str
    source_format: str  # as the host's file.import names it (FCSTD: document.open)
    target_format: str  # as the host's file.export names it


def source_format(file_name: str) -> tuple[str, str]:
    """(the application that reads it, its format) from the file's extension."""
    suffix = "." + file_name.rsplit(".", 1)[-1].lower() if "." in file_name else ""
    if suffix in FREECAD_READS:
        return "freecad", FREECAD_READS[suffix]
    if suffix in BLENDER_READS:
        return "blender", BLENDER_READS[suffix]
    known = sorted({*FREECAD_READS, *BLENDER_READS})
    raise ConversionError(f"cannot read {suffix or 'a file without an extension'}; readable: {', '.join(known)}")


def plan(file_name: str, target: str) -> list[Stage]:
    """The stages that turn ``file_name`` into ``target`` (a canonical format name)."""
    app, fmt = source_format(file_name)
    if app == "freecad":
        if target in FREECAD_WRITES:
            return [Stage("freecad", fmt, target)]
        return [Stage("freecad", fmt, INTERMEDIATE_FORMAT), Stage("blender", INTERMEDIATE_FORMAT, target)]
    if target in BLENDER_WRITES:
        return [Stage("blender", fmt, target)]
    raise ConversionError(
        f"{fmt} (a mesh or scene) cannot become {target}: only CAD sources (STEP, IGES, BREP, FCStd) can"
    )


def output_name(file_name: str, target: str) -> str:
    """``part.step`` -> ``part.glb``: the source's stem with the target's extension."""
    stem = file_name.rsplit(".", 1)[0] if "." in file_name else file_name
    extensions = {
        **{f.name: f.extensions for f in freecad_commands.FORMATS.values()},
        **blender_commands.FORMAT_EXTENSIONS,
    }
    return stem + extensions[target][0]
