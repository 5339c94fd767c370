#!/usr/bin/env bash
# The data gate at scale: `tollgate upload` of N-row, 20-column CSV files (the ingest
# benchmark's shape) beside polars' streaming engine computing the same per-column aggregates,
# with each run's wall time and peak memory, and the gate's sketched figures checked against
# the exact ones. Not a test: run it by hand (100M rows is a 16 GB file: check the disk).
#
#   bash bench/scale/run.sh                       # SIZES="1000000 10000000" by default
#   SIZES=100000000 bash bench/scale/run.sh       # the 16 GB case
#   PROFILE=release bash bench/scale/run.sh       # the release build (fat LTO: ~30 min cold)
set -euo pipefail
SIZES="${SIZES:-1000000 10000000}"
source "$(dirname "$0")/setup.sh"
echo "| rows | CSV (GB) | tollgate (s) | tollgate peak (MB) | polars streaming (s) | polars peak (MB) | time vs polars | worst quantile rank error | worst distinct error | within bounds |" > "$OUT/table.md"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |" >> "$OUT/table.md"
generate() { # rows seed: the file's path, generated once
  local file="$OUT/r$1-s$2.csv"
  if [ ! -f "$file" ]; then
    step "generating $file ($1 rows)" >&2
    "$PY" "$ROOT/bench/scale/generate.py" "$file.part" "$1" "$2" >&2
    mv "$file.part" "$file"
  fi
  echo "$file"
}
for rows in $SIZES; do
  # The previous version (what drift compares against) is at most 10M rows: its size changes
  # only the baseline's summary, and the disk holds one 16 GB file more easily than two.
  v1="$(generate "$(( rows < 10000000 ? rows : 10000000 ))" 1)"; v2="$(generate "$rows" 2)"
  step "$rows rows: v1 (founds the contract), then v2 measured (checks, profile, drift against v1, Parquet)"
  rm -rf "$OUT/data"
  "$BIN" --data-dir "$OUT/data" upload "$v1" --dataset scale --json > "$OUT/v1-$rows.json"
  m="$("$PY" "$ROOT/bench/measure.py" "$BIN" --data-dir "$OUT/data" upload "$v2" --dataset scale --json)"
  echo "$m" | field 'd["stdout"]' > "$OUT/v2-$rows.json"
  t_wall="$(echo "$m" | field 'round(d["wall"],2)')"; t_mem="$(echo "$m" | field 'round(d["peak_mb"])')"
  echo "   tollgate: $t_wall s, $t_mem MB; stages (ms): $(field 'd["timings_ms"]' < "$OUT/v2-$rows.json")"
  field 'd["status"]' < "$OUT/v2-$rows.json" | grep -qx accepted || { echo "v2 was not accepted" >&2; exit 1; }
  step "$rows rows: polars' streaming scan of the same file (the same aggregates)"
  light=""; [ "$rows" -gt 10000000 ] && light="--light"
  p="$("$PY" "$ROOT/bench/measure.py" "$PY" "$ROOT/bench/scale/polars_scan.py" "$v2" --exact "$OUT/exact-$rows.json" $light)"
  p_wall="$(echo "$p" | field 'round(float(d["stdout"]),2)')"; p_mem="$(echo "$p" | field 'round(d["peak_mb"])')"
  echo "   polars: $p_wall s, $p_mem MB"
  step "$rows rows: the gate's figures against the exact ones"
  report="$(field 'd["report"]["path"]' < "$OUT/v2-$rows.json")"
  c="$("$PY" "$ROOT/bench/scale/check.py" "$report" "$OUT/exact-$rows.json" "$v2" || true)"
  echo "   $c"
  gb="$("$PY" -c 'import os,sys; print(round(os.path.getsize(sys.argv[1])/1e9,2))' "$v2")"
  echo "$c" | "$PY" -c "
import json,sys
c=json.load(sys.stdin)
print(f'| {int($rows):,} | $gb | $t_wall | $t_mem | $p_wall | $p_mem | {$t_wall/$p_wall:.2f}x | {c[\"worst\"][\"quantile_rank\"]:.5f} | {c[\"worst\"][\"distinct_rel\"]:.4f} | {\"yes\" if not c[\"failed\"] else \"no: \" + \"; \".join(c[\"failed\"][:3])} |')
" >> "$OUT/table.md"
done
step "results ($(nproc) cores, $PROFILE build)"
cat "$OUT/table.md"
