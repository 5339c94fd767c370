#!/usr/bin/env bash
# The tests, as CI runs them: formatting, lints, and every test of the workspace.
set -euo pipefail
source "$(dirname "$0")/common.sh"

ensure_rust

step "checking formatting (cargo fmt --check)"
cargo fmt --all -- --check

step "checking that the tests build on the binaries' feature set (one compile of the heavy crates)"
# `cargo build --workspace --bin tollgate` (the demo) and the tests' build must resolve the same
# features, or every crate above a changed one (polars, the AWS SDK) is compiled twice. A
# dev-dependency that turns on a feature is what breaks it: declare that feature in a normal
# dependency (tests/aws's helpers are one) instead.
features() {
  cargo tree --locked --workspace --prefix none -f '{p}|{f}' -e "$1" >"$2"
}
build_features="$(mktemp)" test_features="$(mktemp)"
features normal,build "$build_features"
features normal,build,dev "$test_features"
python3 - "$build_features" "$test_features" <<'PY' || die "the tests' dev-dependencies change these crates' features, so they and everything above them would compile twice: move the dependency that turns the feature on to tests/aws's normal dependencies, or drop the feature"
import re, sys
def units(path):
    """Each crate's feature sets (a crate built for the host and the target has two)."""
    found = {}
    for line in open(path):
        line = re.sub(r" \(\*\)$", "", line.rstrip("\n"))
        name, _, features = line.partition("|")
        name = re.sub(r" \((/[^)]*|\*)\)", "", name).strip()
        found.setdefault(name, set()).add(features.strip())
    return found
build, tests = units(sys.argv[1]), units(sys.argv[2])
changed = sorted(n for n in build.keys() & tests.keys() if build[n] != tests[n])
for name in changed:
    print(f"  {name}: {sorted(build[name])} in the build, {sorted(tests[name])} in the tests", file=sys.stderr)
sys.exit(1 if changed else 0)
PY
rm -f "$build_features" "$test_features"

step "linting (cargo clippy --all-targets -- -D warnings; first time: about 7 minutes on 2 cores)"
cargo clippy --locked --workspace --all-targets -- -D warnings

ensure_console_tools
step "linting the console for the browser (cargo clippy --target wasm32-unknown-unknown)"
cargo clippy --locked -p tollgate-console --target wasm32-unknown-unknown -- -D warnings

if ! cargo nextest --version >/dev/null 2>&1; then
  step "installing cargo-nextest"
  cargo install cargo-nextest --locked
fi
step "checking the infrastructure offline (infra/check.sh: sam validate, cfn-lint, checkov, parliament; first time: installs them, about 3 minutes)"
bash "$ROOT/infra/check.sh"

step "starting the local AWS stand-in for the AWS tests (moto server on 127.0.0.1; first time: installs it)"
eval "$(bash localstack/start.sh --port 0 --no-provision)"
# Each AWS test creates its own stack from the template infra/check.sh translated, in the
# stand-in's CloudFormation (infra/standin_stack.py), and runs against that stack's resources.
export TOLLGATE_STANDIN_TEMPLATE="${TOLLGATE_CACHE:-$HOME/.cache/tollgate}/infra-check"
trap 'bash localstack/stop.sh --port "$TOLLGATE_STANDIN_PORT"' EXIT

step "running the tests (cargo nextest run --workspace)"
cargo nextest run --locked --workspace --no-fail-fast

step "building the demo binary and the console for the browser tests"
cargo build --locked --workspace --bin tollgate
build_console
ensure_chromium
step "the deploy script, up to its first AWS call (bash scripts/deploy.sh dev --dry-run)"
deploy_plan="$(bash "$ROOT/scripts/deploy.sh" dev --dry-run --checked)"
printf '%s\n' "$deploy_plan"
for expected in "sam build --config-env dev" "sam deploy --config-env dev" \
  "cloudformation describe-stacks --stack-name tollgate-dev" "docker push" \
  "index.html --cache-control no-cache" "config.json --content-type application/json" \
  "create-invalidation"; do
  grep -qF -- "$expected" <<<"$deploy_plan" || die "the deploy dry run does not plan: $expected"
done

step "running the console's tests in Chromium (console/e2e: playwright-core, axe-core)"
(cd "$E2E" && TOLLGATE_BIN="$CARGO_TARGET_DIR/debug/tollgate" TOLLGATE_CONSOLE="$CONSOLE_DIST" \
  node --test --test-concurrency=1 tests/)
