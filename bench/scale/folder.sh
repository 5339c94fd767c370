#!/usr/bin/env bash
# A dataset of many files: `tollgate upload DIR` of a folder of Parquet files (as a Spark export
# writes them: part-*.parquet and _SUCCESS), 20 columns, beside polars' streaming engine
# computing the same per-column aggregates over the same files, with each run's wall time and
# peak memory, and the gate's sketched figures checked against the exact ones. Not a test.
#
#   bash bench/scale/folder.sh                      # 20M rows in 200 files
#   ROWS=2000000 FILES=20 bash bench/scale/folder.sh
#   INSTANCES=4 bash bench/scale/folder.sh           # the split run on 4 subprocesses (default 2)
#
# v2 is read twice: by one process, and as an upload too big for one process is, shared among
# INSTANCES `tollgate process` subprocesses (TOLLGATE_PROCESS_ABOVE_BYTES=1), whose shards are
# merged; the split run's peak is its largest process's.
set -euo pipefail
ROWS="${ROWS:-20000000}"
FILES="${FILES:-200}"
INSTANCES="${INSTANCES:-2}"
source "$(dirname "$0")/setup.sh"
generate() { # rows files seed: the folder, generated once
  local dir="$OUT/r$1-f$2-s$3"
  if [ ! -f "$dir/_SUCCESS" ]; then
    step "generating $dir ($1 rows in $2 Parquet files)" >&2
    rm -rf "$dir"
    "$PY" "$ROOT/bench/scale/generate.py" "$dir" "$1" "$3" --parts "$2" >&2
  fi
  echo "$dir"
}
# The previous version, for drift: a tenth of the rows in ten files.
v1="$(generate "$(( ROWS / 10 ))" 10 1)"; v2="$(generate "$ROWS" "$FILES" 2)"
step "v1 (founds the contract), then v2 measured: $ROWS rows in $FILES files"
rm -rf "$OUT/data-folder"
"$BIN" --data-dir "$OUT/data-folder" upload "$v1" --dataset parts --json > "$OUT/folder-v1.json"
m="$("$PY" "$ROOT/bench/measure.py" "$BIN" --data-dir "$OUT/data-folder" upload "$v2" --dataset parts --json)"
echo "$m" | field 'd["stdout"]' > "$OUT/folder-v2.json"
t_wall="$(echo "$m" | field 'round(d["wall"],2)')"; t_mem="$(echo "$m" | field 'round(d["peak_mb"])')"
echo "   tollgate: $t_wall s, $t_mem MB; stages (ms): $(field 'd["timings_ms"]' < "$OUT/folder-v2.json")"
field 'd["status"], d["rows"], len(d["files"])' < "$OUT/folder-v2.json"
field 'd["status"]' < "$OUT/folder-v2.json" | grep -qx accepted || { echo "v2 was not accepted" >&2; exit 1; }
step "v2 again, shared among $INSTANCES tollgate process subprocesses"
rm -rf "$OUT/data-folder-split"
"$BIN" --data-dir "$OUT/data-folder-split" upload "$v1" --dataset parts --json > /dev/null
m="$(TOLLGATE_PROCESS_ABOVE_BYTES=1 TOLLGATE_PROCESS_INSTANCES="$INSTANCES" \
  "$PY" "$ROOT/bench/measure.py" "$BIN" --data-dir "$OUT/data-folder-split" upload "$v2" --dataset parts --json)"
echo "$m" | field 'd["stdout"]' > "$OUT/folder-v2-split.json"
s_wall="$(echo "$m" | field 'round(d["wall"],2)')"; s_mem="$(echo "$m" | field 'round(d["peak_mb"])')"
echo "   split: $s_wall s, largest process $s_mem MB"
field 'd["status"]' < "$OUT/folder-v2-split.json" | grep -qx accepted || { echo "the split v2 was not accepted" >&2; exit 1; }
"$PY" - "$OUT/folder-v2.json" "$OUT/folder-v2-split.json" <<'PY'
import json, sys
one, split = (json.load(open(p)) for p in sys.argv[1:3])
profile = lambda d: json.load(open(d["report"]["path"]))["profile"]
same = one["content_hash"] == split["content_hash"] and one["rows"] == split["rows"]
print(f"   same hash and rows: {same}; same profile: {profile(one) == profile(split)}")
PY
step "polars' streaming scan of the same files (the same aggregates)"
p="$("$PY" "$ROOT/bench/measure.py" "$PY" "$ROOT/bench/scale/polars_scan.py" "$v2/*.parquet" --exact "$OUT/exact-folder.json")"
p_wall="$(echo "$p" | field 'round(float(d["stdout"]),2)')"; p_mem="$(echo "$p" | field 'round(d["peak_mb"])')"
echo "   polars: $p_wall s, $p_mem MB"
step "the gate's figures against the exact ones"
report="$(field 'd["report"]["path"]' < "$OUT/folder-v2.json")"
c="$("$PY" "$ROOT/bench/scale/check.py" "$report" "$OUT/exact-folder.json" "$v2/*.parquet" || true)"
echo "   $c"
# The split run's figures come from merged sketches: they differ from one pass's, within bounds.
split_report="$(field 'd["report"]["path"]' < "$OUT/folder-v2-split.json")"
echo "   split: $("$PY" "$ROOT/bench/scale/check.py" "$split_report" "$OUT/exact-folder.json" "$v2/*.parquet" || true)"
gb="$(du -sb "$v2" | cut -f1 | "$PY" -c 'import sys; print(round(int(sys.stdin.read())/1e9,2))')"
step "results ($(nproc) cores, $PROFILE build)"
echo "| rows | files | Parquet (GB) | tollgate (s) | tollgate peak (MB) | split on $INSTANCES (s) | split, largest process (MB) | polars streaming (s) | polars peak (MB) | time vs polars | worst quantile rank error | within bounds |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
echo "$c" | "$PY" -c "
import json,sys
c=json.load(sys.stdin)
print(f'| {int($ROWS):,} | $FILES | $gb | $t_wall | $t_mem | $s_wall | $s_mem | $p_wall | $p_mem | {$t_wall/$p_wall:.2f}x | {c[\"worst\"][\"quantile_rank\"]:.5f} | {\"yes\" if not c[\"failed\"] else \"no: \" + \"; \".join(c[\"failed\"][:3])} |')
"
