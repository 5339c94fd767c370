#!/usr/bin/env bash
# The tests, as CI runs them: formatting, lints, and every test of the workspace.
set -euo pipefail
source "$(dirname "$0")/common.sh"

ensure_rust

step "checking formatting (cargo fmt --check)"
cargo fmt --all -- --check

step "linting (cargo clippy --all-targets -- -D warnings; first time: about 10 minutes on 2 cores)"
cargo clippy --locked --workspace --all-targets -- -D warnings

if ! cargo nextest --version >/dev/null 2>&1; then
  step "installing cargo-nextest"
  cargo install cargo-nextest --locked
fi
step "starting the local AWS stand-in for the AWS tests (moto server on 127.0.0.1; first time: installs it)"
eval "$(bash localstack/start.sh --port 0)"
trap 'bash localstack/stop.sh --port "$TOLLGATE_STANDIN_PORT"' EXIT

step "running the tests (cargo nextest run --workspace)"
cargo nextest run --locked --workspace --no-fail-fast
