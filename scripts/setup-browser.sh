#!/usr/bin/env bash
# Installs Debian's Chromium and chromedriver for the browser tests (never a downloaded
# browser build). Idempotent: does nothing when /usr/bin/chromium and /usr/bin/chromedriver exist.
set -euo pipefail

if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  exit 0
fi

bash "$(dirname "$0")/apt-install.sh" chromium chromium-driver
/usr/bin/chromium --version
