"""The application state as one file, for durable sessions (both host servers; the gateway calls them, no route).

``state.save`` writes everything the application holds (Blender: a .blend copy; FreeCAD: every open document, in
one archive that keeps their names and labels) and changes nothing; ``state.load`` replaces the application state
with such a file. Between the two, a session's snapshot lives on the gateway's disk, not in the worker.
"""

from __future__ import annotations

from . import results as r
from .schema import REQUIRED, Command, Field, FileName, Param, Shape

STATE_EXTENSIONS = {"blender": ".blend", "freecad": ".zip"}
STATE_FILE = Param("name", FileName((".blend", ".zip")), REQUIRED, "a workspace file: .blend (Blender), .zip (FreeCAD)")

STATE_SAVE = Command(
    "state.save",
    "Write the whole application state to a workspace file (a copy: the open file or documents keep their names).",
    (STATE_FILE,),
    r.FILE,
    batch=False,
)
STATE_LOAD = Command(
    "state.load",
    "Replace the whole application state with a file state.save wrote.",
    (STATE_FILE,),
    Shape("StateLoaded", (Field("objects", "integer", "objects (Blender) or documents (FreeCAD) now held"),)),
    batch=False,
)

COMMANDS = {command.name: command for command in (STATE_SAVE, STATE_LOAD)}
