#!/usr/bin/env bash
# Starts a local AWS stand-in on 127.0.0.1 and creates Tollgate's resources in it.
#
#   eval "$(bash localstack/start.sh)"          # moto server on port 4566 (or TOLLGATE_STANDIN_PORT)
#   eval "$(bash localstack/start.sh --port 0)" # on a free port
#   bash localstack/start.sh --localstack       # LocalStack in Docker, where a Docker engine runs
#
# Progress goes to stderr; stdout is only `export ...` lines for the endpoint and fake credentials,
# so `eval` sets them. Stop it with `bash localstack/stop.sh`. Idempotent: a stand-in already
# answering on the port is reused.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MOTO_VERSION="5.2.5"
CACHE="${TOLLGATE_CACHE:-$HOME/.cache/tollgate}"
VENV="$CACHE/moto-venv"
STATE="$CACHE/standin"
PORT="${TOLLGATE_STANDIN_PORT:-4566}"
KIND="moto"
PROVISION=1

step() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --port) PORT="$2"; shift 2 ;;
    --localstack) KIND="localstack"; shift ;;
    --no-provision) PROVISION=0; shift ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done

mkdir -p "$STATE"

ensure_venv() {
  if [ ! -x "$VENV/bin/python" ]; then
    step "creating a Python venv for moto in $VENV"
    python3 -m venv "$VENV" || die "python3 -m venv failed: install Python 3 with venv (Debian: apt install python3-venv)"
  fi
  if ! "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('moto') != '$MOTO_VERSION')" 2>/dev/null; then
    step "installing moto[server]==$MOTO_VERSION from PyPI (about 40 s, once)"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" >&2
  fi
}

# Whether something answers HTTP on the port (moto's API, or LocalStack's health).
answers() {
  "$VENV/bin/python" - "$1" <<'PY' 2>/dev/null
import sys, urllib.request
for path in ("/moto-api/", "/_localstack/health"):
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}{path}", timeout=2)
        sys.exit(0)
    except Exception:
        pass
sys.exit(1)
PY
}

ensure_venv  # provisioning uses its boto3 in every case

if [ "$PORT" = "0" ]; then
  PORT="$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
fi
ENDPOINT="http://127.0.0.1:$PORT"

if answers "$PORT"; then
  step "a stand-in already answers at $ENDPOINT: reusing it"
elif [ "$KIND" = "localstack" ]; then
  docker info >/dev/null 2>&1 || die "--localstack needs a running Docker engine; without one, leave it out to use moto"
  step "starting LocalStack (Docker compose) at $ENDPOINT"
  LOCALSTACK_PORT="$PORT" docker compose -f "$HERE/compose.yaml" -p "tollgate-standin-$PORT" up -d >&2
  echo "localstack" > "$STATE/$PORT.kind"
else
  step "starting moto server $MOTO_VERSION at $ENDPOINT (log: $STATE/$PORT.log)"
  nohup "$VENV/bin/python" "$HERE/moto_serve.py" --host 127.0.0.1 --port "$PORT" \
    >"$STATE/$PORT.log" 2>&1 &
  echo $! > "$STATE/$PORT.pid"
  echo "moto" > "$STATE/$PORT.kind"
fi

for _ in $(seq 1 120); do
  answers "$PORT" && break
  if [ -f "$STATE/$PORT.pid" ] && ! kill -0 "$(cat "$STATE/$PORT.pid")" 2>/dev/null; then
    cat "$STATE/$PORT.log" >&2 || true
    die "the stand-in exited at start (log above)"
  fi
  sleep 0.5
done
answers "$PORT" || die "the stand-in did not answer at $ENDPOINT within 60 s (log: $STATE/$PORT.log)"
step "the stand-in answers at $ENDPOINT"

export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION="${AWS_REGION:-us-east-1}"
if [ "$PROVISION" = 1 ]; then
  step "creating the default resources (bucket tollgate-data, table tollgate-catalog, bus tollgate-bus, queues)"
  "$VENV/bin/python" "$HERE/provision.py" --endpoint "$ENDPOINT" --prefix tollgate > "$STATE/$PORT.resources.json"
fi
echo "$ENDPOINT" > "$STATE/endpoint"

cat <<OUT
export AWS_ENDPOINT_URL=$ENDPOINT
export AWS_ACCESS_KEY_ID=test
export AWS_SECRET_ACCESS_KEY=test
export AWS_REGION=$AWS_REGION
export TOLLGATE_STANDIN_PORT=$PORT
export TOLLGATE_STANDIN_PYTHON=$VENV/bin/python
OUT
