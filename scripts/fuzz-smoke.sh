#!/usr/bin/env bash
# Time-boxed fuzz smoke: every cargo-fuzz target in core/fuzz runs for a few
# seconds over its committed seed corpus (new inputs go to a temp dir, so the
# committed corpus is not changed). FUZZ_SECONDS overrides the time per target.
set -euo pipefail
cd "$(dirname "$0")/../core/fuzz"
secs="${FUZZ_SECONDS:-8}"
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cargo +nightly fuzz build -O
for t in $(cargo +nightly fuzz list); do
  mkdir -p "$tmp/$t" "corpus/$t"
  echo "fuzz: $t (${secs}s)"
  cargo +nightly fuzz run -O "$t" "$tmp/$t" "corpus/$t" -- \
    -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=0 2>&1 | tail -n 2
done
echo "fuzz smoke: all targets ran without a crash"
