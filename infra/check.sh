#!/usr/bin/env bash
# Offline checks of the SAM template (no AWS account, no Docker, no cargo):
#   1. sam validate (SAM-level errors; --lint off: cfn-lint runs on the translated output below)
#   2. samconfig.toml read by SAM CLI's own code, as `sam deploy --config-env ENV` reads it
#      (samconfig_params.py), then translation with aws-sam-translator, once per environment,
#      with that environment's region and parameter_overrides (translate.py)
#   3. cfn-lint --include-checks I on each translated template
#   4. checkov on each translated template (it does not see inside SAM resources otherwise)
#   5. parliament on every IAM role's inline policies, their intrinsics resolved to real-looking
#      ARNs first, plus this repo's own least-privilege rules, and each function's role against
#      what infra/operations.toml says its code calls, exactly (iam_policies.py; the table is
#      kept true to the code by tests/it/least_privilege.rs)
#   6. values that only show once resolved: the console's config.json output, the schedules'
#      event envelopes, the functions' environments (resolved_checks.py)
# Any finding fails the script. Suppressions live beside the resource in template.yaml.
#
# Two venvs, because checkov pins boto3 and packaging that aws-sam-cli upgrades
# (/work/shared/INFRA-NOTES.md): A holds cfn-lint, checkov, the translator, moto and parliament;
# B holds aws-sam-cli. They are made once under $TOLLGATE_CACHE and made again only when the
# pins below (or the Python) change.
#
# Usage: bash infra/check.sh            (TOLLGATE_CACHE defaults to ~/.cache/tollgate)
set -euo pipefail

INFRA="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${TOLLGATE_CACHE:-$HOME/.cache/tollgate}"
VENV_A="$CACHE/infra-venv-a"
VENV_B="$CACHE/infra-venv-b"
OUT="$CACHE/infra-check"
PYTHON="${PYTHON:-python3}"
ENVS=(dev staging prod)

PINS_A=(
  "cfn-lint==1.58.0"
  "checkov==3.3.30"
  "aws-sam-translator==1.115.0"
  "moto[server]==5.2.5"
  "parliament==1.6.4"
)
PINS_B=("aws-sam-cli==1.170.0")

step() { printf '==> %s\n' "$*"; }

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# Runs "$@" as the step named $1, timing it; a failing step stops the script with its status.
run_step() {
  local name=$1
  shift
  step "$name"
  local t0 status=0
  t0=$(now)
  "$@" || status=$?
  if [ "$status" -ne 0 ]; then
    step "$name: FAILED (exit $status, $(since "$t0") s)"
    exit "$status"
  fi
  step "$name: ok ($(since "$t0") s)"
}

# ensure_venv DIR PIN...: the venv at DIR with exactly these pins, made when missing or when its
# stamp names other versions.
ensure_venv() {
  local dir=$1
  shift
  local want stamp="$dir/.tollgate-pins"
  want="$("$PYTHON" -c 'import sys; print("python %d.%d.%d" % sys.version_info[:3])'; printf '%s\n' "$@")"
  if [ -x "$dir/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    step "venv $dir: up to date"
    return
  fi
  step "venv $dir: installing $* (a minute or two)"
  local t0
  t0=$(now)
  rm -rf "$dir"
  "$PYTHON" -m venv "$dir"
  nice -n 10 "$dir/bin/pip" install --quiet --disable-pip-version-check "$@"
  printf '%s\n' "$want" >"$stamp"
  step "venv $dir: installed ($(since "$t0") s)"
}

total0=$(now)
mkdir -p "$CACHE" "$OUT"
ensure_venv "$VENV_A" "${PINS_A[@]}"
ensure_venv "$VENV_B" "${PINS_B[@]}"

# Nothing here talks to AWS; fake credentials keep the SDKs from looking for real ones.
export AWS_ACCESS_KEY_ID=offline AWS_SECRET_ACCESS_KEY=offline AWS_EC2_METADATA_DISABLED=true
export SAM_CLI_TELEMETRY=0 SAM_CLI_CONTAINER_CONNECTION_TIMEOUT=1
# No __pycache__ beside the scripts in the repo.
export PYTHONDONTWRITEBYTECODE=1
unset AWS_PROFILE AWS_SESSION_TOKEN

run_step "sam validate" \
  "$VENV_B/bin/sam" validate --template-file "$INFRA/template.yaml" --region us-east-1

read_samconfig() {
  "$VENV_B/bin/python" "$INFRA/samconfig_params.py" --config "$INFRA/samconfig.toml" "${ENVS[@]}" \
    >"$OUT/samconfig.json"
  "$PYTHON" - "$OUT/samconfig.json" <<'PY'
import json, sys
for env, c in json.load(open(sys.argv[1])).items():
    print(f"{env}: {c['stack_name']} in {c['region']}, confirm_changeset={c['confirm_changeset']}")
    print(f"  {c['parameters']}")
PY
}
run_step "samconfig.toml, read as sam deploy --config-env reads it" read_samconfig

rm -f "$OUT"/translated-*.json
run_step "translate (${ENVS[*]})" \
  "$VENV_A/bin/python" "$INFRA/translate.py" --template "$INFRA/template.yaml" \
  --params "$OUT/samconfig.json" --out "$OUT" "${ENVS[@]}"

TRANSLATED=()
for env in "${ENVS[@]}"; do TRANSLATED+=("$OUT/translated-$env.json"); done

region_of() {
  "$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]]["region"])' \
    "$OUT/samconfig.json" "$1"
}

lint_all() {
  local env region status=0
  for env in "${ENVS[@]}"; do
    region=$(region_of "$env")
    echo "cfn-lint $env ($region)"
    "$VENV_A/bin/cfn-lint" --include-checks I --regions "$region" -- "$OUT/translated-$env.json" || status=1
  done
  return "$status"
}
run_step "cfn-lint --include-checks I" lint_all

checkov_all() {
  local files=() f
  for f in "${TRANSLATED[@]}"; do files+=(-f "$f"); done
  "$VENV_A/bin/checkov" "${files[@]}" --framework cloudformation --quiet --compact --skip-download
}
run_step "checkov" checkov_all

rm -rf "$OUT/policies"
run_step "parliament, least-privilege rules, each function's grants = its calls" \
  "$VENV_A/bin/python" "$INFRA/iam_policies.py" --params "$OUT/samconfig.json" \
  --out "$OUT/policies" "${TRANSLATED[@]}"

run_step "resolved values: console config.json, schedule inputs, function environments" \
  "$VENV_A/bin/python" "$INFRA/resolved_checks.py" --params "$OUT/samconfig.json" "${TRANSLATED[@]}"

step "all checks passed ($(since "$total0") s in all)"
