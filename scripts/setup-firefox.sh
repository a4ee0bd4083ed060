#!/usr/bin/env bash
# Installs Debian's Firefox ESR for the browser interop matrix (never a downloaded browser
# build), and NSS's certutil (libnss3-tools), with which the matrix puts its test CA into
# each browser's certificate database. Idempotent: does nothing when both exist.
# puppeteer-core drives Firefox over WebDriver BiDi, so no driver binary is needed.
set -euo pipefail

if [ -x /usr/bin/firefox-esr ] && [ -x /usr/bin/certutil ]; then
  exit 0
fi

bash "$(dirname "$0")/apt-install.sh" firefox-esr libnss3-tools
/usr/bin/firefox-esr --version
