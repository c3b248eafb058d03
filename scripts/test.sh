#!/usr/bin/env bash
# Run the whole test suite: installs what is missing, then ruff, mypy and pytest against the real applications.
# Extra arguments go to pytest (e.g. scripts/test.sh -k freecad).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
say() { printf '\033[1m[test]\033[0m %s\n' "$*"; }
say "ruff"
.venv/bin/ruff check src tests bench examples
say "mypy"
.venv/bin/mypy
say "pytest"
.venv/bin/pytest "$@"
# The host tests again on the bpy LTS releases studios pin (venvs cached in ~/.cache/bridge3d; pytest's arguments are
# for the main run only).
say "pytest tests/test_blender on bpy 4.2 and 4.5 LTS"
bash scripts/test_blender_lts.sh -q
