#!/usr/bin/env bash
# The main job on the embedded default: builds `tollgate` and runs the demo on the bundled sample
# data, in a fresh data dir under .tollgate/, then serves that data dir with `tollgate up` on
# 127.0.0.1 until Ctrl-C (`--no-up` stops after the demo), sending the production model the new
# supplier's wines and running the monitor on what was captured. No AWS account, no network
# after the build.
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
  URL="http://127.0.0.1:$PORT"
  step "serving $DATA_DIR with tollgate up on 127.0.0.1:$PORT (Ctrl-C stops it)"
  "$BIN" --data-dir "$DATA_DIR" up --port "$PORT" --console "$CONSOLE_DIST" &
  UP=$!
  # Ctrl-C (or a TERM) stops tollgate up, which writes the capture it holds; then this ends. A
  # step that fails on the way stops it too: nothing is left holding the port.
  trap 'kill -TERM "$UP" 2>/dev/null; wait "$UP" || true; exit 0' INT TERM
  trap 'kill -TERM "$UP" 2>/dev/null; wait "$UP" || true' EXIT
  if ! command -v curl >/dev/null; then
    echo "note: curl is not installed, so the demo sends no traffic to the production model" >&2
  else
    for _ in $(seq 150); do
      curl -sf "$URL/api/v1/health" >/dev/null 2>&1 && break
      kill -0 "$UP" 2>/dev/null || die "tollgate up stopped (is port $PORT taken? TOLLGATE_PORT=... picks another)"
      sleep 0.2
    done
    # The loop: the model in production answers the new supplier's wines, every row is
    # captured, and the monitor reads the capture.
    step "the loop: 200 rows of the new supplier's wines to the production model, then the monitor"
    TOKEN="$("$BIN" --data-dir "$DATA_DIR" token --as demo-client 2>/dev/null | tail -1 || true)"
    if head -201 "$ROOT/samples/wine/wine-2010-drifted.csv" | curl -sf -o /dev/null \
        -H "Authorization: Bearer $TOKEN" -H 'Content-Type: text/csv' --data-binary @- \
        "$URL/models/wine-quality/invocations"; then
      echo "   200 rows answered by wine-quality's production version; the capture is written every 5 s" >&2
      sleep 6
      "$BIN" --data-dir "$DATA_DIR" monitor \
        || echo "warning: the monitor failed (above); the console is served all the same" >&2
    else
      echo "warning: the production model did not answer (see tollgate up's output above); the console is served all the same" >&2
    fi
  fi

  cat <<TXT

Open the console: $URL/
  Sign in as anyone but the demo's uploader (named above: the author of its models), open
  Approvals, read wine-quality v2's evidence (tested against production), then approve or
  reject it; Audit shows the decision. Once approved, v2 answers the endpoint within a second;
  a rollback (the model page's "Roll back") puts v1 back the same way.
In another terminal:
  export TOLLGATE_API=$URL
  export TOLLGATE_TOKEN=\$($BIN --data-dir $DATA_DIR token --as you --group editors --group approvers)
  $BIN runs
  curl -s -H "Authorization: Bearer \$TOLLGATE_TOKEN" $URL/api/v1/approvals
  head -201 $ROOT/samples/wine/wine-2010-drifted.csv | curl -si -H "Authorization: Bearer \$TOLLGATE_TOKEN" \\
    -H 'Content-Type: text/csv' --data-binary @- $URL/models/wine-quality/invocations | head -12
  TOLLGATE_API= $BIN --data-dir $DATA_DIR monitor   # on the data dir: monitor has no route
Set TOLLGATE_WEBHOOK_URL (and TOLLGATE_WEBHOOK_SECRET) before this script, and the approval
waiting, the decision and the drift are posted there too (README: Notifications).

TXT
  wait "$UP"
fi
