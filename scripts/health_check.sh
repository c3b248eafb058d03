#!/usr/bin/env bash
# A table of the gateway and both backends (up/down/busy, version, round trip); exit 0 only when all are up.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/bridge3d health --url "${BRIDGE3D_URL:-http://127.0.0.1:${BRIDGE3D_PORT:-8000}}" "$@"
