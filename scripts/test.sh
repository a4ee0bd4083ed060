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

step "reference nats-server for the differential tests"
NATS_SERVER_BIN="$(bash scripts/install-reference.sh | tail -n 1)"
export NATS_SERVER_BIN
echo "reference: $NATS_SERVER_BIN"

step "cargo test (workspace)"
cargo test --workspace --all-features

step "browser interop: playwright (nats.ws and nats-core in Chromium against natsws)"
bash scripts/test-playwright.sh

if [ -x scripts/test-wasm.sh ]; then
  step "wasm package and web-tests (Node, Chromium and Firefox)"
  bash scripts/test-wasm.sh
fi

step "interop matrix: six clients x transports x scenarios, natsws against nats-server (docs/interop.md)"
bash scripts/interop-matrix --check

step "CI workflow lint: actionlint .github/workflows/ci.yml"
actionlint .github/workflows/ci.yml
echo "actionlint: ok"

step "Autobahn fuzzingclient against the core codec (echo example), with and without compression"
bash scripts/autobahn.sh

if rustup toolchain list | grep -q '^nightly'; then
  step "fuzz smoke"
  bash scripts/fuzz-smoke.sh
else
  step "fuzz smoke skipped: no nightly toolchain"
fi
