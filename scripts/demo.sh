#!/usr/bin/env bash
# The main job on the embedded default: builds `tollgate` and runs the demo on the bundled sample
# data, in a fresh data dir under .tollgate/, then serves that data dir with `tollgate up` on
# 127.0.0.1 until Ctrl-C (`--no-up` stops after the demo). No AWS account, no network after the
# build.
set -euo pipefail
source "$(dirname "$0")/common.sh"

SERVE=1
for arg in "$@"; do
  case "$arg" in
    --no-up) SERVE=0 ;;
    *) die "unknown argument $arg (the one option is --no-up: stop after the demo)" ;;
  esac
done

ensure_rust
step "building tollgate (first time: about 11 minutes on 2 cores; then seconds)"
# `--workspace` resolves features for the whole workspace, as the tests' build does, so the tests
# reuse every crate built here instead of compiling polars and the rest a second time.
cargo build --locked --workspace --bin tollgate
BIN="$CARGO_TARGET_DIR/debug/tollgate"
if [ "$SERVE" = 1 ]; then
  build_console
fi

DATA_DIR="${TOLLGATE_DATA_DIR:-$ROOT/.tollgate/demo-$(date +%Y%m%d-%H%M%S)}"
step "running the demo in $DATA_DIR"
"$BIN" --data-dir "$DATA_DIR" demo

cat <<TXT

Done. Look around with:
  export TOLLGATE_DATA_DIR=$DATA_DIR
  alias tollgate=$BIN
  tollgate datasets
  tollgate runs
  tollgate dataset show wine --version 3
  tollgate contract show wine
  tollgate audit
TXT

if [ "$SERVE" = 1 ]; then
  PORT="${TOLLGATE_PORT:-8321}"
  step "serving $DATA_DIR with tollgate up on 127.0.0.1:$PORT (Ctrl-C stops it)"
  cat <<TXT
Open the console: http://127.0.0.1:$PORT/
  Sign in as anyone but the demo's uploader (named above: the author of its models), open
  Approvals, read wine-quality v2's evidence, then approve or reject it; Audit shows the
  decision.
TXT
  cat <<TXT
In another terminal:
  export TOLLGATE_API=http://127.0.0.1:$PORT
  export TOLLGATE_TOKEN=\$($BIN --data-dir $DATA_DIR token --as you --group editors --group approvers)
  $BIN runs
  curl -s -H "Authorization: Bearer \$TOLLGATE_TOKEN" http://127.0.0.1:$PORT/api/v1/approvals
  # The model in production answers traffic; every row is captured for the monitor:
  head -201 $ROOT/samples/wine/wine-2010-drifted.csv | curl -s -H "Authorization: Bearer \$TOLLGATE_TOKEN" \\
    -H 'Content-Type: text/csv' --data-binary @- http://127.0.0.1:$PORT/models/wine-quality/invocations | head -3
  sleep 6; TOLLGATE_API= $BIN --data-dir $DATA_DIR monitor   # on the data dir: monitor has no route

TXT
  exec "$BIN" --data-dir "$DATA_DIR" up --port "$PORT" --console "$CONSOLE_DIST"
fi
