#!/usr/bin/env bash
# Start only the gateway in the foreground on port 8000 (BRIDGE3D_PORT); backends are reached per .env / BRIDGE3D_*.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh >/dev/null
exec .venv/bin/bridge3d api "$@"
