#!/usr/bin/env bash
# Installs what the tests need on a fresh machine. Idempotent: skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

have_target() { rustup target list --installed | grep -qx "$1"; }
for t in x86_64-unknown-none; do
  have_target "$t" || rustup target add "$t"
done
rustup component list --installed | grep -q '^clippy' || rustup component add clippy
rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt
