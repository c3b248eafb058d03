"""state.save / state.load for FreeCAD: every open document in one .zip, names and labels kept.

A document opened from a file takes its name from the file, so a snapshot cannot simply be reopened: each document
is saved as a copy (``saveCopy``: the document keeps its own file name and label), and restored by creating a
document of the same name and merging the copy into it (``mergeProject`` keeps the objects' names and links).
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import FreeCAD

from ..rpc.errors import InvalidParams
from ..rpc.workspace import Workspace
from .appdoc import documents, enable_undo

MANIFEST = "manifest.json"


class StateCommands:
    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    def save_state(self, name: str) -> dict[str, Any]:
        path = self.workspace.path(name, "name")
        active = FreeCAD.ActiveDocument
        entries = []
        with tempfile.TemporaryDirectory(prefix="bridge3d-state-") as folder:
            for index, doc in enumerate(documents().values()):
                file = f"{index}.FCStd"
                doc.saveCopy(str(Path(folder) / file))
                entries.append({"file": file, "name": doc.Name, "label": doc.Label})
            manifest = {"documents": entries, "active": active.Name if active is not None else None}
            partial = path.with_name(path.name + ".partial")
            with zipfile.ZipFile(partial, "w", zipfile.ZIP_STORED) as archive:  # FCStd files are zips already
                archive.writestr(MANIFEST, json.dumps(manifest))
                for entry in entries:
                    archive.write(Path(folder) / entry["file"], entry["file"])
            partial.replace(path)
        return self.workspace.describe(path)

    def load_state(self, name: str) -> dict[str, Any]:
        path = self.workspace.existing(name, "name")
        try:
            archive = zipfile.ZipFile(path)
            manifest = json.loads(archive.read(MANIFEST))
        except (zipfile.BadZipFile, KeyError, ValueError) as exc:
            raise InvalidParams.for_field("name", f"is not a state.save file: {exc}") from None
        for doc_name in list(documents()):
            FreeCAD.closeDocument(doc_name)
        with archive, tempfile.TemporaryDirectory(prefix="bridge3d-state-") as folder:
            for entry in manifest["documents"]:
                copy = Path(folder) / Path(entry["file"]).name
                copy.write_bytes(archive.read(entry["file"]))
                doc = FreeCAD.newDocument(entry["name"])
                doc.Label = entry["label"]
                doc.mergeProject(str(copy))
                doc.recompute()
                enable_undo(doc)
        if manifest.get("active") in documents():
            FreeCAD.setActiveDocument(manifest["active"])
        return {"objects": len(documents())}
