#!/usr/bin/env bash
# Start the whole system in the background: headless Blender, headless FreeCAD and the gateway on :8000,
# supervised (a host server that exits or hangs is restarted; see docs/OPERATIONS.md).
# Installs what is missing first (scripts/install.sh), then `bridge3d up --detach`: fresh host-server tokens,
# pid and log files under the state directory (BRIDGE3D_STATE_DIR, default .state/), waits until /health is
# green (BRIDGE3D_START_TIMEOUT) and prints the URLs. Running it again while the system is up starts nothing.
# Ports: BRIDGE3D_PORT, BRIDGE3D_BLENDER__PORT, BRIDGE3D_FREECAD__PORT (see .env.example).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/bridge3d up --detach
