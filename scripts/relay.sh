#!/usr/bin/env bash
# The stack's functions on this machine, as Lambda runs them (tools/relay): builds
# `tollgate-relay`, `trainer` and `tollgate`, then runs the relay with the arguments given
# (`--help` lists them). Start the stand-in first: eval "$(bash localstack/start.sh)".
set -euo pipefail
source "$(dirname "$0")/common.sh"

ensure_rust
step "building tollgate-relay, trainer and tollgate (first time: about 11 minutes on 2 cores; then seconds)"
# `--workspace`, as the demo and the tests build: the same features, so nothing compiles twice.
cargo build --locked --workspace --bin tollgate-relay --bin trainer --bin tollgate
if [ -z "${AWS_ENDPOINT_URL:-}${TOLLGATE_AWS_ENDPOINT:-}${AWS_PROFILE:-}${AWS_ACCESS_KEY_ID:-}" ]; then
  printf "warning: %s\n" "no AWS endpoint or credentials in the environment: for the stand-in, run eval \"\$(bash localstack/start.sh)\" first"
fi
step "starting the relay (Ctrl-C stops it); tollgate is $CARGO_TARGET_DIR/debug/tollgate"
exec "$CARGO_TARGET_DIR/debug/tollgate-relay" "$@"
