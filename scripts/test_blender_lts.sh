#!/usr/bin/env bash
# Run the Blender host-level tests (tests/test_blender without the `gui` ones) against the PyPI bpy LTS
# releases studios pin, each in its own venv bpy<major><minor> (bpy42, bpy45) under the cache folder
# BRIDGE3D_CACHE_DIR (default ~/.cache/bridge3d), so a fresh clone on the same machine reuses them.
# A venv is created and filled once; later runs reuse it (nothing is downloaded) unless the bpy version or the
# pins it takes from requirements.txt change. bridge3d itself is not installed there: the tests run this clone's
# src/ (PYTHONPATH), and the host servers they start inherit it. Extra arguments go to pytest (-k render, -x).
# BRIDGE3D_BPY_LTS="4.5.15" runs one version only. Both versions always run; the exit status is 1 if any failed.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[test-lts]\033[0m %s\n' "$*"; }

read -r -a LTS_VERSIONS <<< "${BRIDGE3D_BPY_LTS:-4.2.23 4.5.15}"
# What the Blender host tests need besides bpy, pinned to the versions of requirements.txt (all of them work
# with bpy 4.2 and 4.5: both are built against numpy 1.x, which numpy==1.26.4 is).
TEST_PACKAGES=(pytest pytest-timeout iniconfig packaging pluggy Pygments
               numpy trimesh pillow Cython requests certifi charset-normalizer idna urllib3 zstandard)

PYTHON="${BRIDGE3D_PYTHON:-$(command -v python3.11 || true)}"
if [ -z "$PYTHON" ]; then
  echo "the bpy wheels need Python 3.11; set BRIDGE3D_PYTHON" >&2
  exit 1
fi

pins=()
for package in "${TEST_PACKAGES[@]}"; do
  pin=$(grep -iE "^${package}==" requirements.txt || true)
  if [ -z "$pin" ]; then
    echo "requirements.txt has no pin for $package" >&2
    exit 1
  fi
  pins+=("$pin")
done

# This machine's pip config may name local index folders that do not exist; pip warns once per package.
quiet_pip() {
  local venv=$1
  shift
  "$venv/bin/python" -m pip install -q "$@" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }
}

CACHE="${BRIDGE3D_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/bridge3d}"
mkdir -p "$CACHE"
failed=()
for version in "${LTS_VERSIONS[@]}"; do
  IFS=. read -r major minor _ <<< "$version"
  venv="$CACHE/bpy${major}${minor}"
  if [ ! -x "$venv/bin/python" ]; then
    say "creating $venv with $PYTHON"
    "$PYTHON" -m venv "$venv"
  fi
  stamp="$venv/.bridge3d-lts.sha256"
  wanted=$( { echo "bpy==$version"; printf '%s\n' "${pins[@]}"; } | sha256sum | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
    say "installing bpy==$version and the test packages into $venv (bpy is ~350 MB the first time)"
    quiet_pip "$venv" "bpy==$version" "${pins[@]}"
    echo "$wanted" > "$stamp"
  fi
  say "Blender $("$venv/bin/python" -c 'import bpy; print(bpy.app.version_string)'): pytest tests/test_blender -m 'not gui'"
  if ! PYTHONPATH="$PWD/src" "$venv/bin/python" -m pytest tests/test_blender -m "not gui" -p no:cacheprovider "$@"; then
    failed+=("$version")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  say "failed on bpy ${failed[*]}"
  exit 1
fi
say "passed on bpy ${LTS_VERSIONS[*]}"
