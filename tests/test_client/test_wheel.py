"""The wheel, installed without extras into a fresh virtual environment, is a working typed SDK: no FastAPI,
uvicorn or bpy comes with it, and an example script drives the live stack with it.

The wheel is built from a copy of the sources (the working tree gets no build/ or egg-info). Its dependencies come
from a folder of wheels downloaded once with the lock as constraints (`pip download -c requirements.txt`) and
kept in pytest's cache, so the install itself runs offline (`--no-index --find-links`) and takes seconds.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gateway import Gateway

ROOT = Path(__file__).resolve().parents[2]
logger = logging.getLogger(__name__)
TYPED_USE = """\
from bridge3d.client import Client

with Client() as client:
    version: str = client.version().version
    wrong: int = client.blender.scene.info().name
"""


def run(
    command: list[str | Path], *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, f"{' '.join(map(str, command))}:\n{done.stdout}\n{done.stderr}"
    return done


def build_wheel(tmp_path: Path) -> Path:
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    dist = tmp_path / "dist"
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", dist, source])
    (wheel,) = dist.glob("bridge3d-*.whl")
    return wheel


def wheelhouse(wheel: Path, request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """The wheel's dependencies at the lock's versions, downloaded once per lock and dependency list."""
    key = hashlib.sha256((ROOT / "requirements.txt").read_bytes() + (ROOT / "pyproject.toml").read_bytes())
    cache = request.config.cache
    folder = (cache.mkdir("bridge3d-wheelhouse") if cache else tmp_path / "wheelhouse") / key.hexdigest()[:16]
    if not (folder / "complete").exists():
        download: list[str | Path] = [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:"]
        download += ["--dest", folder]
        run([*download, "--constraint", ROOT / "requirements.txt", wheel])
        (folder / wheel.name).unlink()  # the wheel under test comes from this run's build, never from the cache
        (folder / "complete").touch()
    return folder


def test_the_wheel_installs_a_working_typed_sdk_without_the_server(
    gateway: Gateway, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    started = time.monotonic()
    wheel = build_wheel(tmp_path)
    built = time.monotonic()
    dependencies = wheelhouse(wheel, request, tmp_path)
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", venv])
    python = venv / "bin" / "python"
    run([python, "-m", "pip", "install", "--quiet", "--no-index", "--find-links", dependencies, wheel])
    installed = time.monotonic()

    where = run(
        [
            python,
            "-c",
            "import bridge3d.client, importlib.util as u; print(bridge3d.client.__file__); "
            "print([m for m in ('fastapi', 'uvicorn', 'starlette', 'bpy', 'pydantic_settings') if u.find_spec(m)])",
        ]
    )
    package_file, server_modules = where.stdout.splitlines()
    assert package_file.startswith(str(venv)) and server_modules == "[]"
    assert (Path(package_file).parent / "py.typed").is_file()

    # The gateway's commands say what to install instead of failing with an ImportError.
    for command in (["api"], ["up", "--state-dir", str(tmp_path / "state")]):
        refused = subprocess.run(
            [venv / "bin" / "bridge3d", *command],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert refused.returncode == 2 and 'pip install "bridge3d[server]"' in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr and not (tmp_path / "state").exists()

    # An example, run by the fresh environment's Python from outside the repository, against the live stack.
    script = shutil.copy2(ROOT / "examples" / "freecad_part_to_blender.py", tmp_path / "example.py")
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, "BRIDGE3D_URL": gateway.url}
    done = run([python, script, "--output", "part.png", "--size", "160x120"], cwd=tmp_path, env=env)
    assert "rendered to part.png" in done.stdout
    assert (tmp_path / "part.png").read_bytes()[:4] == b"\x89PNG"
    ran = time.monotonic()

    # mypy reads the installed package's annotations (py.typed): a wrong type in user code is an error.
    user = tmp_path / "user.py"
    user.write_text(TYPED_USE)
    checked = subprocess.run(
        [sys.executable, "-m", "mypy", "--python-executable", str(python), "--no-incremental", str(user)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    errors = [line for line in checked.stdout.splitlines() if ": error: " in line]
    assert len(errors) == 1 and "user.py:5:" in errors[0] and "Incompatible types in assignment" in errors[0], (
        checked.stdout + checked.stderr
    )
    logger.info(
        "wheel build %.1f s, fresh venv and install %.1f s, example %.1f s, mypy %.1f s",
        built - started,
        installed - built,
        ran - installed,
        time.monotonic() - ran,
    )
