#!/usr/bin/env bash
# Install everything bridge3d needs on a Debian machine. Safe to run again: it only adds what is missing.
#   Debian packages: FreeCAD (headless module + GUI), Blender 3.4 GUI (for the add-on test), Xvfb, Chromium
#   Python: a venv in .venv with the pinned lock (requirements.txt, includes bpy 5.0.1) and bridge3d itself
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[install]\033[0m %s\n' "$*"; }

APT_PACKAGES=(python3-venv freecad-python3 xvfb xauth wrk)  # wrk: the load generator of bench/run.py
if [ "${BRIDGE3D_SKIP_GUI_APPS:-0}" != 1 ]; then
  APT_PACKAGES+=(blender freecad chromium)
fi

missing=()
for package in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  say "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  say "Debian packages present: ${APT_PACKAGES[*]}"
fi

PYTHON="${BRIDGE3D_PYTHON:-$(command -v python3.11 || true)}"
if [ -z "$PYTHON" ]; then
  echo "bridge3d needs Python 3.11 (bpy 5.0.1 is built for it); set BRIDGE3D_PYTHON" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  say "creating the virtual environment .venv with $PYTHON"
  "$PYTHON" -m venv .venv
fi

stamp=.venv/.bridge3d-requirements.sha256
wanted=$(cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
  say "installing Python packages from requirements.txt (bpy alone is ~370 MB the first time)"
  # This machine's pip config may name local index folders that do not exist; pip warns once per package.
  quiet_pip() { .venv/bin/python -m pip install -q "$@" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }; }
  quiet_pip --upgrade pip
  quiet_pip -r requirements.txt
  quiet_pip --no-deps -e .
  echo "$wanted" > "$stamp"
else
  say "Python packages up to date (.venv)"
fi
say "ready: $(.venv/bin/python -c 'import bpy, bridge3d; print("bridge3d", bridge3d.__version__, "/ Blender", bpy.app.version_string)')"
