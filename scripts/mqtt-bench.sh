#!/usr/bin/env bash
# MQTT throughput, side by side: natsws (release build), nats-server (with
# JetStream, as it needs for MQTT) and mosquitto, same machine, same run,
# using mosquitto's own clients as load: one mosquitto_pub -l publishing N
# lines of SIZE bytes, one mosquitto_sub -C N counting them. Prints msg/s
# from the publisher's start to the subscriber's last message.
#   bash scripts/mqtt-bench.sh [N] [SIZE] [QOS]
# Not asserted anywhere; the figures depend on the machine and its load.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-200000}"; SIZE="${2:-128}"; QOS="${3:-0}"
NATSWS="${NATSWS:-target/release/natsws}"
NATS_SERVER="${NATS_SERVER:-$(command -v nats-server || echo /root/.pyenv/versions/3.11.7/bin/nats-server)}"
tmp=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
python3 -c "import sys; sys.stdout.write(('x'*$SIZE+'\\n')*$N)" > "$tmp/lines"
run() { # name port
  local name=$1 p=$2
  mosquitto_sub -h 127.0.0.1 -p "$p" -i bsub -q "$QOS" -t bench/t -C "$N" > /dev/null & local sub=$!
  sleep 0.5 # the subscription must exist before the first publish
  local t0; t0=$(date +%s.%N)
  mosquitto_pub -h 127.0.0.1 -p "$p" -i bpub -q "$QOS" -t bench/t -l < "$tmp/lines"
  wait "$sub"; local t1; t1=$(date +%s.%N)
  python3 -c "print(f'$name qos$QOS ${SIZE}B: {int($N/($t1-$t0)):>9} msg/s')"
}
p=$(port); c=$(port); mkdir -p "$tmp/n"
printf 'host: 127.0.0.1\nport: %s\nserver_name: b\njetstream { store_dir: "%s" }\nmqtt { host: 127.0.0.1, port: %s }\n' "$c" "$tmp/n" "$p" > "$tmp/natsws.conf"
"$NATSWS" -c "$tmp/natsws.conf" 2>/dev/null & sleep 1; run natsws "$p"; kill %1 2>/dev/null || true; wait 2>/dev/null || true
p=$(port); c=$(port); mkdir -p "$tmp/r"
printf 'host: 127.0.0.1\nport: %s\nserver_name: b\njetstream { store_dir: "%s" }\nmqtt { host: 127.0.0.1, port: %s }\n' "$c" "$tmp/r" "$p" > "$tmp/ref.conf"
"$NATS_SERVER" -c "$tmp/ref.conf" 2>/dev/null & sleep 2; run nats-server "$p"; kill %1 2>/dev/null || true; wait 2>/dev/null || true
if command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ]; then
  p=$(port); printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location %s/\n' "$p" "$tmp" > "$tmp/mosq.conf"
  /usr/sbin/mosquitto -c "$tmp/mosq.conf" 2>/dev/null & sleep 1; run mosquitto "$p"; kill %1 2>/dev/null || true; wait 2>/dev/null || true
fi
