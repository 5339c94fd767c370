#!/usr/bin/env bash
# Deploys one environment of Tollgate to AWS: the stack (infra/template.yaml with the
# environment's infra/samconfig.toml), the trainer's and the processing images, and the console
# with its config.json.
#
#   bash scripts/deploy.sh dev|staging|prod            # needs AWS credentials and Docker
#   bash scripts/deploy.sh dev --dry-run               # everything up to the first AWS call,
#                                                      # then the commands it would run
#   bash scripts/deploy.sh prod --no-image             # without building the images
#
# In order: the offline checks (infra/check.sh; a template that fails them is not deployed), the
# tools (SAM CLI and the AWS CLI from PyPI in venvs, cargo-lambda, trunk; Docker must be
# installed), the functions built by `sam build` (cargo-lambda), the console built by trunk; then
# on AWS: `sam deploy --config-env ENV` (prod shows its change set and asks), the stack's
# outputs, the trainer's and processing images pushed to the stack's repositories (tagged with
# the commit), the console put in its bucket (index.html, start.js and config.json never cached;
# the rest, content-hashed, cached for a year) and CloudFront told to drop the uncached three.
#
# The machine this repository is built on reaches no AWS endpoint: the tests run the dry run.
set -euo pipefail
source "$(dirname "$0")/common.sh"

ENV_NAME="${1:-}"
shift || true
DRY_RUN=0
IMAGE=1
CHECKS=1
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY_RUN=1 ;;
    --no-image) IMAGE=0 ;;
    # The test command has just run infra/check.sh; nobody else should pass this.
    --checked) CHECKS=0 ;;
    -h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done
case "$ENV_NAME" in
  dev | staging | prod) ;;
  *) die "usage: bash scripts/deploy.sh dev|staging|prod [--dry-run] [--no-image]" ;;
esac

CACHE="${TOLLGATE_CACHE:-$HOME/.cache/tollgate}"
CHECKED="$CACHE/infra-check"
AWS_VENV="$CACHE/awscli-venv"
AWSCLI_VERSION="1.46.3"

# On AWS: runs "$@"; in a dry run, prints it as it would run.
on_aws() {
  if [ "$DRY_RUN" = 1 ]; then
    printf 'would run:'
    printf ' %q' "$@"
    printf '\n'
  else
    "$@"
  fi
}

if [ "$CHECKS" = 1 ]; then
  step "offline checks of the template (infra/check.sh)"
  bash "$ROOT/infra/check.sh"
fi
[ -f "$CHECKED/samconfig.json" ] || die "no $CHECKED/samconfig.json: run bash infra/check.sh"

# The environment as `sam deploy --config-env` reads it (check.sh wrote it).
read -r STACK REGION < <(python3 - "$CHECKED/samconfig.json" "$ENV_NAME" <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))[sys.argv[2]]
print(config["stack_name"], config["region"])
PY
)
step "environment $ENV_NAME: stack $STACK in $REGION"

step "tools: SAM CLI (check.sh's venv), the AWS CLI, cargo-lambda, trunk, Docker"
SAM="$CACHE/infra-venv-b/bin/sam"
[ -x "$SAM" ] || die "no SAM CLI at $SAM: infra/check.sh installs it"
if ! "$AWS_VENV/bin/aws" --version 2>/dev/null | grep -q "aws-cli/$AWSCLI_VERSION "; then
  step "installing the AWS CLI $AWSCLI_VERSION from PyPI into $AWS_VENV"
  rm -rf "$AWS_VENV"
  python3 -m venv "$AWS_VENV"
  "$AWS_VENV/bin/pip" install --quiet --disable-pip-version-check "awscli==$AWSCLI_VERSION"
fi
AWS=("$AWS_VENV/bin/aws" --region "$REGION")
ensure_rust
ensure_cargo_lambda
if [ "$IMAGE" = 1 ] && ! command -v docker >/dev/null 2>&1; then
  if [ "$DRY_RUN" = 1 ]; then
    step "no docker on PATH: a real deploy needs it for the trainer's image (or --no-image)"
  else
    die "docker is not installed: the trainer's image needs it (or deploy with --no-image)"
  fi
fi

if [ "$DRY_RUN" = 1 ]; then
  # `sam build` compiles the five functions in release with fat LTO for arm64: about 45 minutes
  # the first time on 2 cores. The dry run stops short of it, as it stops short of AWS.
  (cd "$ROOT/infra" && on_aws "$SAM" build --config-env "$ENV_NAME")
else
  step "building the functions (sam build, cargo-lambda; first time: about 45 minutes on 2 cores)"
  (cd "$ROOT/infra" && "$SAM" build --config-env "$ENV_NAME")
fi

build_console
for f in index.html start.js; do
  [ -f "$CONSOLE_DIST/$f" ] || die "the console build has no $f in $CONSOLE_DIST"
done
ls "$CONSOLE_DIST"/*.wasm >/dev/null 2>&1 || die "the console build has no .wasm in $CONSOLE_DIST"

# The newest change set of the stack and whether it was executed (none yet: "none").
latest_change_set() {
  "${AWS[@]}" cloudformation list-change-sets --stack-name "$STACK" --output text \
    --query 'reverse(sort_by(Summaries, &CreationTime))[0].[ChangeSetId, ExecutionStatus]' \
    2>/dev/null || echo none
}

step "deploying the stack (sam deploy --config-env $ENV_NAME)"
if [ "$DRY_RUN" = 1 ]; then
  (cd "$ROOT/infra" && on_aws "$SAM" deploy --config-env "$ENV_NAME")
else
  (cd "$ROOT/infra" && "$SAM" deploy --config-env "$ENV_NAME")
  # A change set declined at the prompt leaves sam deploy's status 0 and the change set
  # unexecuted: stop before the image and the console, which would go out against the old stack.
  read -r change_set status < <(latest_change_set)
  if [ "${status:-}" = "AVAILABLE" ]; then
    die "change set ${change_set} was not executed (declined?): stopping before the image and the console"
  fi
fi

OUTPUTS="$CACHE/deploy-$ENV_NAME-outputs.json"
step "reading the stack's outputs into $OUTPUTS"
if [ "$DRY_RUN" = 1 ]; then
  on_aws "${AWS[@]}" cloudformation describe-stacks --stack-name "$STACK" --query 'Stacks[0].Outputs'
  output() { printf '<%s output>' "$1"; }
else
  "${AWS[@]}" cloudformation describe-stacks --stack-name "$STACK" \
    --query 'Stacks[0].Outputs' --output json >"$OUTPUTS"
  output() {
    python3 - "$OUTPUTS" "$1" <<'PY'
import json, sys
found = [o["OutputValue"] for o in json.load(open(sys.argv[1])) if o["OutputKey"] == sys.argv[2]]
if not found:
    sys.exit(f"the stack has no output {sys.argv[2]}")
print(found[0])
PY
  }
fi

# Builds and pushes one image to the stack's repository named by the output $2, from the
# Dockerfile $3, tagged $TAG.
push_image() {
  local what="$1" repository dockerfile="$3"
  repository="$(output "$2")"
  step "the $what image: $repository:$TAG (linux/amd64: SageMaker runs x86_64)"
  if [ "$DRY_RUN" = 1 ]; then
    on_aws "${AWS[@]}" ecr get-login-password
    on_aws docker login --username AWS --password-stdin "${repository%%/*}"
  else
    "${AWS[@]}" ecr get-login-password | docker login --username AWS --password-stdin "${repository%%/*}"
  fi
  if [ "$DRY_RUN" = 0 ] && "${AWS[@]}" ecr describe-images --repository-name "${repository#*/}" \
    --image-ids "imageTag=$TAG" >/dev/null 2>&1; then
    step "$repository:$TAG is pushed already (tags are immutable): not building it again"
  else
    on_aws docker build --platform linux/amd64 -f "$ROOT/$dockerfile" -t "$repository:$TAG" "$ROOT"
    on_aws docker push "$repository:$TAG"
  fi
}

if [ "$IMAGE" = 1 ]; then
  # The repositories' tags are immutable: a commit's image is pushed once, and a work tree with
  # changes gets a tag of its own (never the commit's, for code that is not in the commit).
  TAG="$(git -C "$ROOT" rev-parse --short HEAD)"
  if [ -n "$(git -C "$ROOT" status --porcelain)" ]; then
    TAG="$TAG-dirty-$(date -u +%Y%m%dT%H%M%SZ)"
  fi
  push_image trainer TrainerRepository infra/trainer/Dockerfile
  push_image processing ProcessingRepository infra/processing/Dockerfile
  step "uploads too big for the ingest function go to SageMaker Processing once the stack names \
this image: set ProcessingImageTag=$TAG in infra/samconfig.toml ($ENV_NAME) and deploy again"
fi

BUCKET="$(output ConsoleBucket)"
step "the console to s3://$BUCKET (config.json from the ConsoleConfig output)"
on_aws "${AWS[@]}" s3 sync "$CONSOLE_DIST" "s3://$BUCKET/" --delete \
  --exclude index.html --exclude start.js --exclude config.json \
  --cache-control "public, max-age=31536000, immutable"
for f in index.html start.js; do
  on_aws "${AWS[@]}" s3 cp "$CONSOLE_DIST/$f" "s3://$BUCKET/$f" --cache-control no-cache
done
CONFIG="$CACHE/deploy-$ENV_NAME-config.json"
if [ "$DRY_RUN" = 0 ]; then
  output ConsoleConfig >"$CONFIG"
  python3 -c 'import json, sys; c = json.load(open(sys.argv[1])); assert c["api_url"] and c["cognito"]["client_id"], c' "$CONFIG" \
    || die "the ConsoleConfig output is not the console's config.json: $(cat "$CONFIG")"
fi
on_aws "${AWS[@]}" s3 cp "$CONFIG" "s3://$BUCKET/config.json" \
  --content-type application/json --cache-control no-cache
on_aws "${AWS[@]}" cloudfront create-invalidation --distribution-id "$(output ConsoleDistributionId)" \
  --paths /index.html /start.js /config.json

if [ "$DRY_RUN" = 1 ]; then
  step "dry run of $ENV_NAME done: nothing was sent to AWS"
else
  step "deployed $ENV_NAME: the console is at $(output ConsoleUrl), the API at $(output ApiUrl)"
  step "next: create the first approver (README, Deploying an environment, step 5)"
fi
