#!/usr/bin/env bash
# Install everything bridge3d needs on a Debian machine. Safe to run again: it only adds what is missing.
#   Debian packages: FreeCAD (headless module + GUI), Blender 3.4 GUI (for the add-on test), Xvfb, Chromium
#   Python: a venv in .venv with the pinned lock (requirements.txt, includes bpy 5.0.1) and bridge3d itself
#   three.js for the live viewer (/viewer): npm ci from viewer/package-lock.json, the few files it needs copied in
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[install]\033[0m %s\n' "$*"; }

APT_PACKAGES=(python3-venv freecad-python3 xvfb xauth wrk)  # wrk: the load generator of bench/run.py
if [ "${BRIDGE3D_SKIP_GUI_APPS:-0}" != 1 ]; then
  APT_PACKAGES+=(blender freecad chromium)
fi
command -v npm >/dev/null 2>&1 || APT_PACKAGES+=(nodejs npm)  # any npm will do (e.g. NodeSource's nodejs has one)

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
# three.js for /viewer: installed from the pinned lock into viewer/node_modules (again only when the lock changes),
# then exactly the files the page imports, with three.js's licence, copied into the package (gitignored).
THREE_FILES=(LICENSE build/three.module.js build/three.core.js examples/jsm/controls/OrbitControls.js
  examples/jsm/loaders/GLTFLoader.js examples/jsm/utils/BufferGeometryUtils.js examples/jsm/utils/SkeletonUtils.js)
THREE_VENDOR=src/bridge3d/api/viewer/static/vendor/three
npm_stamp=viewer/node_modules/.bridge3d-lock.sha256
npm_wanted=$(cat viewer/package.json viewer/package-lock.json | sha256sum | cut -d' ' -f1)
if [ ! -f "$npm_stamp" ] || [ "$(cat "$npm_stamp")" != "$npm_wanted" ]; then
  say "installing three.js for the viewer (npm ci in viewer/)"
  (cd viewer && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
  echo "$npm_wanted" > "$npm_stamp"
fi
copied=0
for file in "${THREE_FILES[@]}"; do
  if ! cmp -s "viewer/node_modules/three/$file" "$THREE_VENDOR/$file"; then
    install -D -m 0644 "viewer/node_modules/three/$file" "$THREE_VENDOR/$file"
    copied=$((copied + 1))
  fi
done
if [ "$copied" -gt 0 ]; then
  say "copied $copied three.js file(s) into $THREE_VENDOR"
else
  say "three.js for the viewer up to date ($(node -p 'require("./viewer/node_modules/three/package.json").version'))"
fi

say "ready: $(.venv/bin/python -c 'import bpy, bridge3d; print("bridge3d", bridge3d.__version__, "/ Blender", bpy.app.version_string)')"
