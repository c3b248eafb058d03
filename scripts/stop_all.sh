#!/usr/bin/env bash
# Stop what scripts/start_all.sh started, by the pid files in the state directory only (BRIDGE3D_STATE_DIR,
# default .state/): the supervisor first (so it restarts nothing), then its services; SIGTERM, then SIGKILL
# after BRIDGE3D_STOP_GRACE seconds (default 10). With nothing running it says so and exits 0.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/bridge3d ]; then
  echo "nothing is running (bridge3d is not installed here yet)"
  exit 0
fi
exec .venv/bin/bridge3d stop "$@"
