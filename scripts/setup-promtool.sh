#!/usr/bin/env bash
# Installs promtool from Debian's `prometheus` package for the /metrics tests
# (server/tests/monitor_metrics.rs parses the output with `promtool check metrics`).
# Idempotent: does nothing when promtool is on PATH.
set -euo pipefail

if command -v promtool >/dev/null 2>&1; then
  exit 0
fi

bash "$(dirname "$0")/apt-install.sh" --no-install-recommends prometheus
promtool --version | head -n1
# Only promtool is wanted; on a host with systemd the package also starts a server.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
  echo "setup-promtool: prometheus.service is running; 'systemctl disable --now prometheus' stops it" >&2
fi
