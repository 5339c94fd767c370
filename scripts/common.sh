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

# Where the console's build goes (what `tollgate up --console` serves).
CONSOLE_DIST="$CARGO_TARGET_DIR/console-dist"
E2E="$ROOT/console/e2e"

# What building the console takes, each installed once (see BUILD-NOTES in the design notes):
# the wasm target, trunk 0.21.14 (0.22 needs a newer rustc), the wasm-bindgen CLI at the exact
# version Cargo.lock pins, and wasm-opt from npm's binaryen (Debian's is too old for the bulk
# memory operations rustc emits).
ensure_console_tools() {
  command -v npm >/dev/null 2>&1 || die "npm is not installed: install Node.js 18 or newer (Debian: apt-get install nodejs npm)"
  if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    step "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
  export PATH="$HOME/.cargo/bin:$PATH"
  # Tools compile in their own target dir, so the workspace's is not invalidated by them.
  local tools_target="$HOME/.cache/tollgate/tools-target"
  if ! trunk --version 2>/dev/null | grep -q '0\.21\.14'; then
    step "installing trunk 0.21.14 (first time: about 10 minutes on 2 cores)"
    CARGO_TARGET_DIR="$tools_target" cargo install trunk --version 0.21.14 --locked
  fi
  local bindgen
  bindgen="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"
  [ -n "$bindgen" ] || die "Cargo.lock pins no wasm-bindgen version"
  if ! wasm-bindgen --version 2>/dev/null | grep -q " $bindgen\$"; then
    step "installing wasm-bindgen-cli $bindgen, the version Cargo.lock pins (first time: about 3 minutes)"
    # Without --locked: its own lock file does not resolve here (BUILD-NOTES).
    CARGO_TARGET_DIR="$tools_target" cargo install wasm-bindgen-cli --version "$bindgen" --force
  fi
  if ! rustup run "$CONSOLE_TOOLCHAIN" rustc --version >/dev/null 2>&1 \
    || ! rustup component list --toolchain "$CONSOLE_TOOLCHAIN" --installed 2>/dev/null | grep -q '^rust-src'; then
    step "installing Rust $CONSOLE_TOOLCHAIN with rust-src, for the console's small wasm (about 10 s)"
    rustup toolchain install "$CONSOLE_TOOLCHAIN" --profile minimal --component rust-src
  fi
  if [ ! -x "$E2E/node_modules/.bin/wasm-opt" ] || [ "$E2E/package-lock.json" -nt "$E2E/node_modules/.package-lock.json" ]; then
    step "installing the console's npm packages (binaryen's wasm-opt, playwright-core, axe-core)"
    (cd "$E2E" && npm ci --no-audit --no-fund)
  fi
  export PATH="$E2E/node_modules/.bin:$PATH"
}

# A benchmark's Python venv: made once, its pinned requirements installed (idempotent).
#   ensure_bench_venv VENV REQUIREMENTS WHAT
ensure_bench_venv() {
  local venv="$1" requirements="$2" what="$3"
  if [ ! -x "$venv/bin/python" ]; then
    step "creating the benchmark venv ($venv)"
    python3 -m venv "$venv"
  fi
  step "installing $what from PyPI (pinned in ${requirements#"$ROOT"/})"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
}

# cargo-lambda (with zig, for cross-building the functions) from PyPI, in a venv of its own.
ensure_cargo_lambda() {
  local venv="${TOLLGATE_CACHE:-$HOME/.cache/tollgate}/cargo-lambda-venv" version="1.9.2"
  if [ ! -x "$venv/bin/cargo-lambda" ] || ! "$venv/bin/cargo-lambda" lambda --version | grep -q "$version"; then
    step "installing cargo-lambda $version (and zig) from PyPI into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "cargo-lambda==$version"
  fi
  export PATH="$venv/bin:$PATH"
}

# The console's wasm is built with a pinned nightly Rust, for size, as Leptos' guide to binary
# size advises: the standard library rebuilt with `optimize_for_size`, a panic aborts at once
# (no message formatting), no `Debug` formatting and no panic locations in the module. About a
# fifth off the gzip size (BENCHMARKS.md, Console). Everything else builds with stable Rust.
CONSOLE_TOOLCHAIN="nightly-2026-05-20"

# Builds the console into $CONSOLE_DIST (first time: about 4 minutes; then seconds).
build_console() {
  ensure_console_tools
  step "building the console (trunk build --release --cargo-profile console, Rust $CONSOLE_TOOLCHAIN)"
  # The standard library's own dependencies, which -Zbuild-std compiles: fetched here, since
  # trunk runs cargo offline (console/Trunk.toml). Once; then nothing to download.
  local library
  library="$(rustup run "$CONSOLE_TOOLCHAIN" rustc --print sysroot)/lib/rustlib/src/rust/library"
  rustup run "$CONSOLE_TOOLCHAIN" cargo fetch --quiet --manifest-path "$library/Cargo.toml"
  (cd "$ROOT/console" \
    && RUSTUP_TOOLCHAIN="$CONSOLE_TOOLCHAIN" \
      CARGO_UNSTABLE_BUILD_STD="std,panic_abort" \
      CARGO_UNSTABLE_BUILD_STD_FEATURES="optimize_for_size" \
      RUSTFLAGS="--cfg erase_components -Zunstable-options -Cpanic=immediate-abort -Zfmt-debug=none -Zlocation-detail=none" \
      trunk build --release --cargo-profile console --dist "$CONSOLE_DIST")
}

# Chromium from Debian for the browser tests (playwright-core drives it; nothing downloads a
# browser of its own).
ensure_chromium() {
  export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
  if [ ! -x "$CHROMIUM" ]; then
    step "installing Chromium from Debian (apt-get install chromium)"
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get install -y chromium || die "could not install chromium: install it (apt-get install chromium) or set CHROMIUM to a Chromium binary"
  fi
}
