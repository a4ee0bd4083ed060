#!/usr/bin/env bash
# apt-get installs the Debian packages (and apt-get options) given as arguments, as root
# or through sudo. Used by the setup-*.sh scripts, which check first whether it is needed.
set -euo pipefail

SUDO=
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "apt-install: need root (or sudo) to apt-get install $*" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "$@" >/dev/null
