#!/usr/bin/env bash
# The tuning benchmark, two parts. Not a test: run it by hand.
#  1. Quality: Tollgate's random and TPE beside Optuna's (PyPI, in bench/tuning/.venv), the same
#     trial budget and seeds, on Branin, Hartmann-6 and a random forest's validation log loss on
#     the wine sample; median best-found regret per method, in one table.
#  2. Dispatch overhead per trial without training: `tollgate run` of a 200-trial pipeline whose
#     trainer is bench/tuning/instant-trainer.sh; the run's wall time divided by its trials.
#
#   bash bench/tuning/run.sh          # SEEDS=20 TRIALS=50 DISPATCH_TRIALS=200 by default
set -euo pipefail
source "$(dirname "$0")/../../scripts/common.sh"

SEEDS="${SEEDS:-20}"
TRIALS="${TRIALS:-50}"
DISPATCH_TRIALS="${DISPATCH_TRIALS:-200}"
VENV="$ROOT/bench/tuning/.venv"
OUT="$ROOT/bench/tuning/out"
mkdir -p "$OUT"

ensure_rust
ensure_bench_venv "$VENV" "$ROOT/bench/tuning/requirements.txt" "Optuna and scikit-learn"

step "building the strategies' ask/tell example and tollgate (release profile)"
cargo build --release --locked -p tollgate-tuning --example ask_tell
cargo build --release --locked --bin tollgate --bin trainer

step "quality: $SEEDS seeds x $TRIALS trials per method and problem"
"$VENV/bin/python" "$ROOT/bench/tuning/compare.py" "$CARGO_TARGET_DIR/release/examples/ask_tell" "$SEEDS" "$TRIALS"

step "dispatch overhead: $DISPATCH_TRIALS trials, 4 at a time, no training"
DATA="$(mktemp -d)"
trap 'rm -rf "$DATA"' EXIT
TG=("$CARGO_TARGET_DIR/release/tollgate" --data-dir "$DATA" --as bench)
"${TG[@]}" upload "$ROOT/samples/wine/wine-2009-a.csv" --dataset wine --json >/dev/null
cat > "$DATA/dispatch.toml" <<TOML
name = "dispatch"
dataset = "wine"
target = "quality"
task = "classification"
model = "logistic_regression"
on_upload = false
[search]
strategy = "random"
[search.space]
alpha = { type = "log_uniform", low = 1e-4, high = 1.0 }
[budget]
max_trials = $DISPATCH_TRIALS
max_parallel = 4
TOML
"${TG[@]}" pipeline apply "$DATA/dispatch.toml" >/dev/null
start=$(date +%s.%N)
TOLLGATE_TRAINER="$ROOT/bench/tuning/instant-trainer.sh" "${TG[@]}" run dispatch --json > "$OUT/dispatch-run.json"
end=$(date +%s.%N)
python3 - "$start" "$end" "$DISPATCH_TRIALS" "$OUT/dispatch-run.json" <<'PY'
import json, sys
start, end, n, path = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
run = json.load(open(path))
done = sum(t["status"] == "completed" for t in run["trials"])
total = end - start
print(f"{len(run['trials'])} trials ({done} completed) in {total:.2f} s: "
      f"{1000 * total / n:.2f} ms per trial (target < 5 ms), candidate {run['candidate']}")
PY
