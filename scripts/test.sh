#!/usr/bin/env bash
# Runs every natsws test. Usage: bash scripts/test.sh
# Assumes the tools from scripts/setup.sh are installed (.ci/run does both).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

step() { echo; echo "==> $*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "no_std proof: natsws-core for x86_64-unknown-none"
cargo build -p natsws-core --no-default-features --target x86_64-unknown-none

step "cargo test (workspace)"
cargo test --workspace --all-features

if [ -x scripts/fuzz-smoke.sh ]; then
  step "fuzz smoke"
  bash scripts/fuzz-smoke.sh
fi
