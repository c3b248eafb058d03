#!/usr/bin/env bash
# A table of the gateway and both backends (up/down/busy, application version, round trip).
# Exit code 0 when all are up (busy counts as up), 1 otherwise. Gateway: BRIDGE3D_URL or port BRIDGE3D_PORT.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/bridge3d health --url "${BRIDGE3D_URL:-http://127.0.0.1:${BRIDGE3D_PORT:-8000}}" "$@"
