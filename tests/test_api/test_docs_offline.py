"""Swagger UI and ReDoc work with no internet: headless Chromium renders the operations from local assets."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from backends import IN_CI
from gateway import Gateway

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def rendered_dom(url: str, profile: Path) -> str:
    if CHROMIUM is None:
        if IN_CI:
            pytest.fail("chromium is not installed (scripts/install.sh installs it)")
        pytest.skip("chromium is not installed")
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=10000",
        "--dump-dom",
        url,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout


def test_swagger_ui_lists_the_operations(gateway: Gateway, tmp_path: Path) -> None:
    dom = rendered_dom(gateway.url + "/docs", tmp_path)
    paths = set(re.findall(r'class="opblock-summary-path" data-path="([^"]+)"', dom))
    for expected in (
        "/health",
        "/api/v1/blender/primitives/cube",
        "/api/v1/freecad/boolean/union",
        "/api/v1/blender/render",
        "/api/v1/freecad/export",
    ):
        assert expected in paths, f"{expected} not rendered; saw {sorted(paths)[:10]}"
    assert len(paths) >= 40


def test_redoc_renders_the_operations(gateway: Gateway, tmp_path: Path) -> None:
    dom = rendered_dom(gateway.url + "/redoc", tmp_path)
    assert "Add a cube mesh" in dom and "Part::MultiFuse" in dom
    assert "/api/v1/freecad/primitives/box" in dom
