#!/usr/bin/env bash
# Installs Debian's Firefox ESR for the browser interop matrix (never a downloaded browser
# build). Idempotent: does nothing when /usr/bin/firefox-esr exists. puppeteer-core drives
# it over WebDriver BiDi, so no driver binary is needed.
set -euo pipefail

if [ -x /usr/bin/firefox-esr ]; then
  exit 0
fi

bash "$(dirname "$0")/apt-install.sh" firefox-esr
/usr/bin/firefox-esr --version
