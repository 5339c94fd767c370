#!/usr/bin/env bash
# Packages each Lambda function as a bootstrap zip (`cargo lambda build --release`), then measures
# what a deployment cares about: each zip's size and each function's cold init (process start to
# its first request to the Runtime API, the median of 11 starts against a local Runtime API).
# Writes bench/lambda/results.json and prints the table. Takes function names to build only those. Not part of the tests: a release build
# with fat LTO takes about 45 minutes the first time on 2 cores.
set -euo pipefail
source "$(dirname "$0")/common.sh"

# All functions, or those named: `scripts/package.sh api monitor`.
FUNCTIONS=(ingest tune evaluate monitor deploy notify api)
if [ "$#" -gt 0 ]; then FUNCTIONS=("$@"); fi
LAMBDA_DIR="$CARGO_TARGET_DIR/lambda"

ensure_rust
ensure_cargo_lambda

step "building ${FUNCTIONS[*]} for Lambda (release, x86_64, provided.al2023; first time: about 45 min on 2 cores)"
packages=()
for f in "${FUNCTIONS[@]}"; do packages+=(--package "tollgate-fn-$f"); done
cargo lambda build --release --locked --output-format zip --lambda-dir "$LAMBDA_DIR" "${packages[@]}"

# The zip is what Lambda takes; the measurement starts the bootstrap inside it.
for f in "${FUNCTIONS[@]}"; do
  python3 - "$LAMBDA_DIR/$f" <<'PY'
import os, sys, zipfile
folder = sys.argv[1]
with zipfile.ZipFile(os.path.join(folder, "bootstrap.zip")) as z:
    z.extract("bootstrap", folder)
os.chmod(os.path.join(folder, "bootstrap"), 0o755)
PY
done

step "measuring each zip and each function's cold init"
mkdir -p bench/lambda
measured="$(mktemp)"
# `--workspace`, as the tests build: resolving features for one package would compile polars and
# the AWS SDK again in another variant.
TOLLGATE_BOOTSTRAP_DIR="$LAMBDA_DIR" TOLLGATE_PACKAGE_REPORT="$measured" \
  cargo nextest run --locked --workspace --run-ignored only --no-capture \
  -E 'test(cold_init_of_the_packaged_functions)' >&2

# Merged into bench/lambda/results.json: measuring some functions keeps the others' figures.
python3 - "$ROOT/bench/lambda/results.json" "$measured" <<'PY'
import json, os, sys
heavy = {"ingest", "tune", "evaluate", "monitor"}  # these link polars; api does not
path, measured = sys.argv[1], json.load(open(sys.argv[2]))
results = json.load(open(path)) if os.path.exists(path) else {}
results.update(measured)
json.dump(results, open(path, "w"), indent=2)
results = measured
print(f"{'function':10} {'zip':>9} {'target':>7} {'cold init':>10} {'target':>7}")
for name, r in results.items():
    mb = r["zip_bytes"] / 1e6
    limit = 30 if name in heavy else 10
    zip_ok = "met" if mb <= limit else "NOT met"
    init_ok = "met" if r["init_ms_median"] < 30 else "NOT met"
    print(f"{name:10} {mb:7.1f} MB {zip_ok:>7} {r['init_ms_median']:7.1f} ms {init_ok:>7}")
PY
rm -f "$measured"
cat <<TXT

Figures: bench/lambda/results.json. Zips: $LAMBDA_DIR/<function>/bootstrap.zip (runtime provided.al2023, handler bootstrap).
TXT
