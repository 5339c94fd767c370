#!/usr/bin/env bash
# Local serving: requests of 1 and of 1,000 rows to `tollgate up`'s endpoint for the demo's model
# family (logistic regression on the wine sample), beside scikit-learn's logistic regression
# behind a minimal Python HTTP server (bench/serving/sklearn_server.py), with the same rows, from
# the same load generator (tests/it/server.rs `serving_load`, keep-alive connections). Tollgate
# runs the build the demo uses (dev profile, dependencies at opt-level 1). Not a test: run it by
# hand; it prints a Markdown table for BENCHMARKS.md.
#
#   bash bench/serving/run.sh      # SECONDS_EACH=5 CONNECTIONS=4 by default
set -euo pipefail
source "$(dirname "$0")/../../scripts/common.sh"

SECONDS_EACH="${SECONDS_EACH:-5}"
CONNECTIONS="${CONNECTIONS:-4}"
VENV="$ROOT/bench/serving/.venv"

ensure_rust
if [ ! -x "$VENV/bin/python" ]; then
  step "creating the benchmark venv ($VENV)"
  python3 -m venv "$VENV"
fi
step "installing scikit-learn from PyPI (pinned in bench/tuning/requirements.txt)"
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$ROOT/bench/tuning/requirements.txt"

step "building tollgate and the load generator (dev profile, as the demo)"
cargo build --locked --workspace --bin tollgate
cargo nextest run --locked --workspace --no-run >/dev/null
BIN="$CARGO_TARGET_DIR/debug/tollgate"

WORK="$(mktemp -d)"
UP_PID=""; PY_PID=""
cleanup() {
  [ -n "$UP_PID" ] && kill -INT "$UP_PID" 2>/dev/null || true
  [ -n "$PY_PID" ] && kill "$PY_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
export TOLLGATE_DATA_DIR="$WORK/data"

step "training the model and approving it into production"
"$BIN" --as bench-uploader upload "$ROOT/samples/wine/wine-2009-a.csv" --dataset wine >/dev/null
"$BIN" --as bench-uploader pipeline apply "$ROOT/bench/serving/pipeline.toml" >/dev/null
"$BIN" --as bench-uploader run wine-serving >/dev/null
"$BIN" --as bench-approver approve wine-serving 1 >/dev/null

step "starting tollgate up and the scikit-learn server on 127.0.0.1"
"$BIN" up --port 0 --monitor-every 0 >"$WORK/up.log" 2>&1 &
UP_PID=$!
"$VENV/bin/python" "$ROOT/bench/serving/sklearn_server.py" \
  "$ROOT/samples/wine/wine-2009-a.csv" quality >"$WORK/py.log" 2>&1 &
PY_PID=$!
for _ in $(seq 100); do
  grep -q "Tollgate is up" "$WORK/up.log" && grep -q "listening on" "$WORK/py.log" && break
  sleep 0.2
done
UP_URL="$(sed -n 's/^Tollgate is up: //p' "$WORK/up.log")"
PY_URL="$(sed -n 's/^listening on //p' "$WORK/py.log")"
TOKEN="$("$BIN" token --as bench-client)"

step "loading each for ${SECONDS_EACH}s per request size, $CONNECTIONS connections"
BENCH_TARGETS="tollgate $UP_URL/models/wine-serving/invocations $TOKEN
scikit-learn $PY_URL/invocations" \
BENCH_SECONDS="$SECONDS_EACH" BENCH_CONNECTIONS="$CONNECTIONS" \
  cargo nextest run --locked --workspace --run-ignored only --no-capture \
    -E 'test(=server::serving_load)' 2>/dev/null | grep '^|'
