#!/usr/bin/env bash
# The ingest benchmark: `tollgate upload` (parse, validate, profile, drift against the previous
# version, Parquet, hash) of a 1M-row, 20-column CSV, beside polars reading the file (the floor),
# pandera and Great Expectations running the same checks plus a scipy KS test per numeric column.
# Medians of RUNS runs; ratios against Tollgate. Not a test: run it by hand.
#
#   bash bench/run.sh            # ROWS=1000000 RUNS=3 by default
set -euo pipefail
source "$(dirname "$0")/../scripts/common.sh"

ROWS="${ROWS:-1000000}"
RUNS="${RUNS:-3}"
OUT="$ROOT/bench/out"
VENV="$ROOT/bench/.venv"
mkdir -p "$OUT"

ensure_rust
ensure_bench_venv "$VENV" "$ROOT/bench/requirements.txt" "the peers"
PY="$VENV/bin/python"
# Great Expectations would try to send usage analytics; there is no network for it here.
export GX_ANALYTICS_ENABLED=False

if [ ! -f "$OUT/v2.csv" ] || [ "$(cat "$OUT/rows" 2>/dev/null)" != "$ROWS" ]; then
  step "generating $ROWS-row CSV files"
  "$PY" "$ROOT/bench/generate.py" "$OUT" "$ROWS"
  echo "$ROWS" > "$OUT/rows"
fi
ls -l "$OUT"/v1.csv "$OUT"/v2.csv

step "building tollgate (release profile: fat LTO, one codegen unit)"
cargo build --release --locked --bin tollgate
BIN="$CARGO_TARGET_DIR/release/tollgate"

step "ingesting v1 (the previous version drift is computed against) and setting ranges in the contract"
rm -rf "$OUT/base"
"$BIN" --data-dir "$OUT/base" upload "$OUT/v1.csv" --dataset bench --json > "$OUT/v1.json"
"$BIN" --data-dir "$OUT/base" contract show bench \
  | "$PY" -c 'import re,sys; t=sys.stdin.read(); print(re.sub(r"(name = \"x\d+\"\ntype = \"float\")", r"\1\nmin = -100.0\nmax = 100.0", t))' \
  > "$OUT/contract.toml"
"$BIN" --data-dir "$OUT/base" contract apply "$OUT/contract.toml" > /dev/null
V1_PARQUET="$OUT/base/buckets/tollgate-data/datasets/bench/v1/data.parquet"

median() { "$PY" -c 'import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

declare -A WALL MEM
run_case() { # name, then the command; the work's seconds come from stdout for the Python peers
  local name="$1"; shift
  local walls=() mems=()
  for i in $(seq "$RUNS"); do
    if [ "$name" = tollgate ]; then
      rm -rf "$OUT/run"; cp -r "$OUT/base" "$OUT/run"
    fi
    local m; m="$("$PY" "$ROOT/bench/measure.py" "$@")"
    local wall mem
    if [ "$name" = tollgate ]; then
      wall="$(echo "$m" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["wall"])')"
      echo "$m" | "$PY" -c 'import json,sys; r=json.loads(json.load(sys.stdin)["stdout"]); assert r["status"]=="accepted", r["reasons"]; print("   tollgate stages (ms):", r["timings_ms"])' >&2
    else
      wall="$(echo "$m" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["stdout"].strip())')"
    fi
    mem="$(echo "$m" | "$PY" -c 'import json,sys; print(round(json.load(sys.stdin)["peak_mb"]))')"
    printf '   %-9s run %s: %6.2f s, %5s MB peak\n' "$name" "$i" "$wall" "$mem" >&2
    walls+=("$wall"); mems+=("$mem")
  done
  WALL[$name]="$(median "${walls[@]}")"; MEM[$name]="$(median "${mems[@]}")"
}

step "measuring ($RUNS runs each)"
run_case tollgate "$BIN" --data-dir "$OUT/run" upload "$OUT/v2.csv" --dataset bench --json
run_case polars "$PY" "$ROOT/bench/peers.py" polars "$OUT/v2.csv"
run_case pandera "$PY" "$ROOT/bench/peers.py" pandera "$V1_PARQUET" "$OUT/v2.csv"
run_case gx "$PY" "$ROOT/bench/peers.py" gx "$V1_PARQUET" "$OUT/v2.csv"

FILE_MB="$("$PY" -c 'import os,sys; print(round(os.path.getsize(sys.argv[1])/1e6,1))' "$OUT/v2.csv")"
step "results: $ROWS rows × 20 columns, $FILE_MB MB CSV, $(nproc) cores, medians of $RUNS"
"$PY" - "$FILE_MB" "${WALL[tollgate]}" "${MEM[tollgate]}" "${WALL[polars]}" "${MEM[polars]}" \
  "${WALL[pandera]}" "${MEM[pandera]}" "${WALL[gx]}" "${MEM[gx]}" <<'PYEOF' | tee "$OUT/table.md"
import sys
file_mb, tw, tm, pw, pm, aw, am, gw, gm = map(float, sys.argv[1:])
print("| what | wall (s) | vs tollgate | peak memory (MB) | memory / file size |")
print("| --- | ---: | ---: | ---: | ---: |")
rows = [
    ("tollgate upload (parse, checks, profile, drift, Parquet, hash; whole process)", tw, tm),
    ("polars read_csv alone (the floor; in-process time)", pw, pm),
    ("pandera checks + scipy KS (in-process time)", aw, am),
    ("Great Expectations checks + scipy KS (in-process time)", gw, gm),
]
for name, w, m in rows:
    print(f"| {name} | {w:.2f} | {w / tw:.2f}x | {m:.0f} | {m / file_mb:.2f}x |")
print()
print(f"Targets: tollgate <= 2x the polars read: {tw / pw:.2f}x; pandera >= 10x slower: {aw / tw:.1f}x; "
      f"Great Expectations >= 30x slower: {gw / tw:.1f}x; peak memory <= 3x the file: {tm / file_mb:.2f}x.")
PYEOF
