#!/usr/bin/env bash
# Stop what scripts/start_all.sh started (by pid file only): SIGTERM, then SIGKILL after a grace period.
set -euo pipefail
cd "$(dirname "$0")/.."
STATE="${BRIDGE3D_STATE_DIR:-$(pwd)/.state}"
GRACE="${BRIDGE3D_STOP_GRACE:-10}"
say() { printf '\033[1m[stop]\033[0m %s\n' "$*"; }

stopped=0
for name in api blender freecad; do
  pidfile="$STATE/$name.pid"
  [ -f "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq $((GRACE * 10))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      say "$name (pid $pid) did not stop in ${GRACE} s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    say "stopped $name (pid $pid)"
    stopped=$((stopped + 1))
  fi
  rm -f "$pidfile"
done
[ "$stopped" -gt 0 ] || say "nothing was running"
