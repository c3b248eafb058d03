"""Session-wide fixtures: each real headless backend is started once per test session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from backends import IN_CI, Backend, blender_available, freecad_available, start_backend


def _require(available: bool, what: str) -> None:
    if available:
        return
    if IN_CI:
        pytest.fail(f"{what} is not installed; in CI a missing application is a failure, not a skip")
    pytest.skip(f"{what} is not installed")


@pytest.fixture(scope="session")
def blender_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    _require(blender_available(), "Blender (PyPI bpy)")
    backend = start_backend("blender", tmp_path_factory.mktemp("blender"))
    yield backend
    backend.stop()


@pytest.fixture(scope="session")
def freecad_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    _require(freecad_available(), "FreeCAD (Debian freecad-python3)")
    backend = start_backend("freecad", tmp_path_factory.mktemp("freecad"))
    yield backend
    backend.stop()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent
