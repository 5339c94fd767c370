#!/usr/bin/env bash
# The HTTP API's latency on the embedded default with 10,000 runs and 100,000 audit events:
# p50 and p99 of a 50-item page of runs (the first and the 100th), of the audit trail, and of a
# model version page, through the router with its token check and ETag, on the build the demo
# uses (dev profile, dependencies at opt-level 1). Prints a table for BENCHMARKS.md.
set -euo pipefail
source "$(dirname "$0")/../../scripts/common.sh"

ensure_rust
step "filling a catalog and timing pages (about a minute after the build)"
cargo nextest run --locked -p tollgate-api --run-ignored only --no-capture \
  -E 'test(page_latency_with_a_big_catalog)'
