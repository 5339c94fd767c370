# Sourced by the scale benchmarks (run.sh, folder.sh): the tools, the peers' venv, the tollgate
# binary of $PROFILE (dev by default) in $BIN, and `field EXPR` to read a JSON value on stdin.
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/common.sh"

PROFILE="${PROFILE:-dev}"
OUT="${OUT:-$ROOT/bench/out/scale}"
VENV="$ROOT/bench/.venv"
mkdir -p "$OUT"

ensure_rust
ensure_bench_venv "$VENV" "$ROOT/bench/requirements.txt" "the peers"
PY="$VENV/bin/python"

step "building tollgate ($PROFILE profile)"
cargo build --profile "$PROFILE" --locked --workspace --bin tollgate
BIN="$CARGO_TARGET_DIR/$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")/tollgate"

field() { "$PY" -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
