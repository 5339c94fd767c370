#!/usr/bin/env bash
# Stops the stand-in that localstack/start.sh started: on TOLLGATE_STANDIN_PORT (or --port N),
# or with --all every one it started. Stopping one that is not running is not an error.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STATE="${TOLLGATE_CACHE:-$HOME/.cache/tollgate}/standin"
PORTS=("${TOLLGATE_STANDIN_PORT:-4566}")
while [ $# -gt 0 ]; do
  case "$1" in
    --port) PORTS=("$2"); shift 2 ;;
    --all) mapfile -t PORTS < <(ls "$STATE" 2>/dev/null | sed -n 's/\.kind$//p'); shift ;;
    *) printf 'error: unknown option %s\n' "$1" >&2; exit 1 ;;
  esac
done

for port in "${PORTS[@]}"; do
  [ -n "$port" ] || continue
  kind="$(cat "$STATE/$port.kind" 2>/dev/null || true)"
  if [ "$kind" = "localstack" ]; then
    docker compose -f "$HERE/compose.yaml" -p "tollgate-standin-$port" down >&2 || true
  elif [ -f "$STATE/$port.pid" ]; then
    pid="$(cat "$STATE/$port.pid")"
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    printf '==> stopped the stand-in on port %s\n' "$port" >&2
  fi
  rm -f "$STATE/$port.pid" "$STATE/$port.kind" "$STATE/$port.resources.json" "$STATE/$port.log"
done
