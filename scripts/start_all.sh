#!/usr/bin/env bash
# Start the whole system in the background: headless Blender, headless FreeCAD and the gateway on :8000.
# Installs what is missing first, generates fresh host-server tokens, writes pid and log files under the state
# directory (BRIDGE3D_STATE_DIR, default .state/), waits until /health is green, then prints the URLs.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
STATE="${BRIDGE3D_STATE_DIR:-$ROOT/.state}"
say() { printf '\033[1m[start]\033[0m %s\n' "$*"; }

running() { [ -f "$STATE/$1.pid" ] && kill -0 "$(cat "$STATE/$1.pid")" 2>/dev/null; }

if running blender && running freecad && running api; then
  say "already running (pids $(cat "$STATE"/*.pid | tr '\n' ' ')); nothing started. Stop with scripts/stop_all.sh"
  exit 0
fi

bash scripts/install.sh
mkdir -p "$STATE/logs" "$STATE/workspace/blender" "$STATE/workspace/freecad"
chmod 700 "$STATE"

BLENDER_PORT="${BRIDGE3D_BLENDER__PORT:-9876}"
FREECAD_PORT="${BRIDGE3D_FREECAD__PORT:-9877}"
API_PORT="${BRIDGE3D_PORT:-8000}"
for port in "$BLENDER_PORT" "$FREECAD_PORT" "$API_PORT"; do
  if .venv/bin/python - "$port" <<'PY'
import socket, sys
with socket.socket() as s:
    sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)
PY
  then
    echo "port $port is already in use by another program; free it or choose another port (see .env.example)" >&2
    exit 1
  fi
done

# A fresh token per run: only this gateway can drive these host servers.
TOKEN_BLENDER=$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(24))')
TOKEN_FREECAD=$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(24))')

start() {  # name, command...
  local name=$1; shift
  if running "$name"; then say "$name already running (pid $(cat "$STATE/$name.pid"))"; return; fi
  nohup "$@" >"$STATE/logs/$name.log" 2>&1 &
  echo $! >"$STATE/$name.pid"
  say "started $name (pid $!, log $STATE/logs/$name.log)"
}

BRIDGE3D_BLENDER_TOKEN="$TOKEN_BLENDER" start blender .venv/bin/bridge3d blender --port "$BLENDER_PORT" \
  --workspace "$STATE/workspace/blender"
BRIDGE3D_FREECAD_TOKEN="$TOKEN_FREECAD" start freecad .venv/bin/bridge3d freecad --port "$FREECAD_PORT" \
  --workspace "$STATE/workspace/freecad"
BRIDGE3D_BLENDER__PORT="$BLENDER_PORT" BRIDGE3D_BLENDER__TOKEN="$TOKEN_BLENDER" \
BRIDGE3D_FREECAD__PORT="$FREECAD_PORT" BRIDGE3D_FREECAD__TOKEN="$TOKEN_FREECAD" \
  start api .venv/bin/bridge3d api --port "$API_PORT"

say "waiting for /health to be green (up to ${BRIDGE3D_START_TIMEOUT:-60} s)"
deadline=$((SECONDS + ${BRIDGE3D_START_TIMEOUT:-60}))
until .venv/bin/bridge3d health --url "http://127.0.0.1:$API_PORT" --timeout 2 >/dev/null 2>&1; do
  for name in blender freecad api; do
    if ! running "$name"; then
      echo "$name exited during start-up; its log is $STATE/logs/$name.log:" >&2
      tail -n 20 "$STATE/logs/$name.log" >&2
      exit 1
    fi
  done
  if [ $SECONDS -ge $deadline ]; then
    echo "timed out waiting for health; logs are in $STATE/logs/" >&2
    .venv/bin/bridge3d health --url "http://127.0.0.1:$API_PORT" >&2 || true
    exit 1
  fi
  sleep 0.5
done
.venv/bin/bridge3d health --url "http://127.0.0.1:$API_PORT"
say "ready: API http://127.0.0.1:$API_PORT  docs http://127.0.0.1:$API_PORT/docs  (stop: scripts/stop_all.sh)"
