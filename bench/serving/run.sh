#!/usr/bin/env bash
# Local serving: requests of 1 and of 1,000 rows to `tollgate up`'s endpoint for the demo's model
# family (logistic regression on the wine sample; with its bearer token checked and every row
# captured), and to `trainer serve` on the same model (the model server alone, as a SageMaker
# endpoint's container runs it: no token, no capture), beside scikit-learn's logistic regression
# behind a minimal Python HTTP server (bench/serving/sklearn_server.py), with the same rows, from
# the same load generator (tests/it/server.rs `serving_load`, keep-alive connections). Tollgate
# runs the build the demo uses (dev profile; see BENCHMARKS.md). Not a test: run it by
# hand; it prints a Markdown table for BENCHMARKS.md.
#
# Each target is loaded ROUNDS times in turn (3 by default); the table gives each figure's
# median over the rounds and the ratios to scikit-learn.
#
#   bash bench/serving/run.sh      # SECONDS_EACH=5 CONNECTIONS=4 ROUNDS=3 by default
set -euo pipefail
source "$(dirname "$0")/../../scripts/common.sh"

SECONDS_EACH="${SECONDS_EACH:-5}"
CONNECTIONS="${CONNECTIONS:-4}"
ROUNDS="${ROUNDS:-3}"
VENV="$ROOT/bench/serving/.venv"

ensure_rust
ensure_bench_venv "$VENV" "$ROOT/bench/tuning/requirements.txt" "scikit-learn"

step "building tollgate and the load generator (dev profile, as the demo)"
cargo build --locked --workspace --bin tollgate
cargo nextest run --locked --workspace --no-run >/dev/null
BIN="$CARGO_TARGET_DIR/debug/tollgate"

WORK="$(mktemp -d)"
UP_PID=""; PY_PID=""; SERVE_PID=""
cleanup() {
  [ -n "$UP_PID" ] && kill -INT "$UP_PID" 2>/dev/null || true
  [ -n "$SERVE_PID" ] && kill "$SERVE_PID" 2>/dev/null || true
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

step "starting tollgate up, trainer serve and the scikit-learn server on 127.0.0.1"
"$BIN" up --port 0 --monitor-every 0 >"$WORK/up.log" 2>&1 &
UP_PID=$!
# The production model's folder, laid out as SageMaker's /opt/ml/model.
ARTIFACT="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["artifact"])' \
  "$TOLLGATE_DATA_DIR/buckets/tollgate-data/models/wine-serving/production.json")"
mkdir -p "$WORK/ml"
ln -s "$TOLLGATE_DATA_DIR/buckets/tollgate-data/${ARTIFACT#s3://tollgate-data/}" "$WORK/ml/model"
"$CARGO_TARGET_DIR/debug/trainer" serve --host 127.0.0.1 --port 0 --root "$WORK/ml" >"$WORK/serve.log" 2>&1 &
SERVE_PID=$!
"$VENV/bin/python" "$ROOT/bench/serving/sklearn_server.py" \
  "$ROOT/samples/wine/wine-2009-a.csv" quality >"$WORK/py.log" 2>&1 &
PY_PID=$!
for _ in $(seq 100); do
  grep -q "Tollgate is up" "$WORK/up.log" && grep -q "listening on" "$WORK/py.log" \
    && grep -q "http://" "$WORK/serve.log" && break
  sleep 0.2
done
UP_URL="$(sed -n 's/^Tollgate is up: //p' "$WORK/up.log")"
PY_URL="$(sed -n 's/^listening on //p' "$WORK/py.log")"
SERVE_URL="$(sed -n 's/.* on \(http:\/\/.*\)$/\1/p' "$WORK/serve.log" | head -1)"
TOKEN="$("$BIN" token --as bench-client)"

step "loading each for ${SECONDS_EACH}s per request size, $CONNECTIONS connections, $ROUNDS rounds"
ROWS="$WORK/rows.md"
for round in $(seq "$ROUNDS"); do
  BENCH_TARGETS="tollgate-up $UP_URL/models/wine-serving/invocations $TOKEN
trainer-serve $SERVE_URL/invocations
scikit-learn $PY_URL/invocations" \
  BENCH_SECONDS="$SECONDS_EACH" BENCH_CONNECTIONS="$CONNECTIONS" \
    cargo nextest run --locked --workspace --run-ignored only --no-capture \
      -E 'test(=server::serving_load)' 2>/dev/null | grep '^| [a-z]' | grep -v '^| server' >>"$ROWS"
  echo "round $round of $ROUNDS done" >&2
done

# Medians over the rounds, and each server's throughput against scikit-learn's.
python3 - "$ROWS" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    name, rows = cells[0], int(cells[1])
    runs.setdefault((name, rows), []).append([float(c) for c in cells[2:]])
median = {k: [statistics.median(col) for col in zip(*v)] for k, v in runs.items()}
print("| server | rows per request | requests/s | rows/s | p50 ms | p99 ms | throughput vs scikit-learn |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
for (name, rows), (rps, rowps, p50, p99) in median.items():
    ratio = rps / median[("scikit-learn", rows)][0]
    print(f"| {name} | {rows} | {rps:.0f} | {rowps:.0f} | {p50:.2f} | {p99:.2f} | {ratio:.1f}x |")
print(f"\nmedians of {len(next(iter(runs.values())))} rounds")
PY
