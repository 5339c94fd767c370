# Shared by the scripts: toolchain checks, the cargo target dir, progress lines.
# shellcheck shell=bash

step() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# One target dir outside the clone, so repeated runs and fresh clones build incrementally.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tollgate/target}"
if [ "${CI:-}" = "true" ]; then
  # Incremental artifacts only cost time on a one-shot build.
  export CARGO_INCREMENTAL=0
fi
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-auto}"

ensure_rust() {
  if ! command -v cargo >/dev/null 2>&1; then
    if [ -x "$HOME/.cargo/bin/cargo" ]; then
      export PATH="$HOME/.cargo/bin:$PATH"
    else
      die "cargo is not installed: install Rust with rustup (https://rustup.rs), then run this again"
    fi
  fi
  local need="1.94.1" have
  have="$(rustc --version | awk '{print $2}')"
  if [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -n1)" != "$need" ]; then
    if command -v rustup >/dev/null 2>&1; then
      step "rustc $have is older than $need: installing the stable toolchain"
      rustup toolchain install stable --profile minimal --component rustfmt,clippy
    else
      die "rustc $have is older than $need and rustup is not available to update it"
    fi
  fi
  if command -v rustup >/dev/null 2>&1; then
    for component in rustfmt clippy; do
      if ! rustup component list --installed 2>/dev/null | grep -q "^$component"; then
        step "adding the $component component"
        rustup component add "$component"
      fi
    done
  fi
}
