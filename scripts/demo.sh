#!/usr/bin/env bash
# The main job on the embedded default: builds `tollgate` and runs the demo on the bundled sample
# data, in a fresh data dir under .tollgate/. No AWS account, no network after the build.
set -euo pipefail
source "$(dirname "$0")/common.sh"

ensure_rust
step "building tollgate (first time: about 11 minutes on 2 cores; then seconds)"
# `--workspace` resolves features for the whole workspace, as the tests' build does, so the tests
# reuse every crate built here instead of compiling polars and the rest a second time.
cargo build --locked --workspace --bin tollgate
BIN="$CARGO_TARGET_DIR/debug/tollgate"

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
