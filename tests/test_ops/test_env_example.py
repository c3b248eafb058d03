""".env.example names every setting, and every value it shows is the real default."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from pydantic_settings import BaseSettings

from bridge3d.api.config import Settings
from bridge3d.cli.stack import OperationsSettings

from .conftest import ROOT

ENV_EXAMPLE = ROOT / ".env.example"
LINE = re.compile(r"^(#\s*)?(BRIDGE3D_[A-Z0-9_]+)=")


def documented() -> set[str]:
    """Every variable .env.example shows, set or commented out."""
    return {match[2] for line in ENV_EXAMPLE.read_text().splitlines() if (match := LINE.match(line))}


def variables(model: type[BaseModel], prefix: str) -> set[str]:
    names = set()
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names |= variables(annotation, f"{prefix}{name.upper()}__")
        else:
            names.add(prefix + name.upper())
    return names


@pytest.mark.parametrize("settings_class", [Settings, OperationsSettings])
def test_every_setting_is_in_env_example(settings_class: type[BaseSettings]) -> None:
    missing = variables(settings_class, "BRIDGE3D_") - documented()
    assert not missing, f"add to .env.example: {sorted(missing)}"


@pytest.mark.parametrize("settings_class", [Settings, OperationsSettings])
def test_env_example_shows_the_defaults(
    settings_class: type[BaseSettings], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in [name for name in os.environ if name.startswith("BRIDGE3D_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env
    defaults: dict[str, Any] = settings_class().model_dump()
    from_example: dict[str, Any] = settings_class(_env_file=ENV_EXAMPLE).model_dump()
    assert from_example == defaults
