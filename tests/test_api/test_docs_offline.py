"""Swagger UI and ReDoc work with no internet: headless Chromium renders the operations from local assets."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import httpx
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
    # Every operation of the gateway's own schema is on the page, and nothing else.
    documented = set(httpx.get(gateway.url + "/openapi.json").json()["paths"])
    assert paths == documented, (sorted(documented - paths), sorted(paths - documented))


def test_redoc_renders_the_operations(gateway: Gateway, tmp_path: Path) -> None:
    dom = rendered_dom(gateway.url + "/redoc", tmp_path)
    assert "Add a cube mesh" in dom and "Part::MultiFuse" in dom
    assert "/api/v1/freecad/primitives/box" in dom
