"""Loading exported meshes for assertions (trimesh), one way for every test."""

from __future__ import annotations

import io
from pathlib import Path

import trimesh


def load_mesh(source: Path | bytes, file_type: str | None = None) -> trimesh.Trimesh:
    """The file (a path, or its bytes with ``file_type``) as one mesh; fails the test if it is not one."""
    loaded = trimesh.load(
        io.BytesIO(source) if isinstance(source, bytes) else source, file_type=file_type, force="mesh"
    )
    assert isinstance(loaded, trimesh.Trimesh), type(loaded)
    return loaded
