#!/usr/bin/env bash
# Autobahn testsuite (wstest -m fuzzingclient) against two echo applications:
# - core's ws codec alone, through the test-only echo server
#   core/examples/autobahn_echo.rs (std::net, a thread per connection): modes
#   `plain` and `deflate`;
# - the natsws server's own WebSocket transport and mio event loops, through
#   the test-only binary natsws-autobahn (server feature `autobahn`: upgraded
#   connections echo instead of speaking NATS): modes `server-plain` and
#   `server-deflate`.
#
# Each mode runs every case ("*"), without compression or with
# permessage-deflate accepted, then compares each case's behavior and close
# behavior with core/tests/autobahn/expected-<mode>.json. Exits non-zero on any
# FAILED case or any difference from the expected files.
#
# Usage: bash scripts/autobahn.sh [plain|deflate|server-plain|server-deflate]...
#        (default: plain server-plain server-deflate; `all` for all four)
# Environment:
#   AUTOBAHN_UPDATE=1   write the observed results to the expected files
#                       (review the diff before committing) instead of comparing
#   AUTOBAHN_CASES='["1.*","2.*"]'  run only these cases (JSON list; debugging)
#   AUTOBAHN_FULL=1     ignore the spec's exclude-cases (see below)
#
# Time: the 12.x/13.x compression groups are 1000 messages per case and the
# Python 2 client spends ~15 minutes on them on a 2-core machine (the echo
# server itself uses a small fraction of that CPU). fuzzingclient-deflate.json
# therefore excludes their biggest variants, 12.*/13.* cases 10 and 14-18
# (131072-byte messages, and 65536-byte ones fragmented at 256 bytes); cases
# 1-9 and 11-13 (16 B to 64 KiB, unfragmented and fragmented) still run. The
# expected file holds all 517 cases, from a full run (AUTOBAHN_FULL=1); the
# comparison covers the cases the spec selects.
#   AUTOBAHN_HOME       where wstest is installed (default ~/.cache/natsws-autobahn)
#
# wstest needs Python 2.7 (the image's pyenv 2.7.18); it is installed once with
# pip --user into AUTOBAHN_HOME, with its dependencies pinned to the last
# versions that support Python 2.7.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

modes=("$@")
# Default: the codec alone without compression, and the server's transport
# both ways. The codec-alone deflate run (~4.5 min of Python client time)
# repeats what server-deflate checks through the same codec; `all` adds it.
[ ${#modes[@]} -eq 0 ] && modes=(plain server-plain server-deflate)
[ "${modes[*]}" = all ] && modes=(plain deflate server-plain server-deflate)

py2=${PYENV_ROOT:-$HOME/.pyenv}/versions/2.7.18/bin/python
export PYTHONUSERBASE=${AUTOBAHN_HOME:-$HOME/.cache/natsws-autobahn}
wstest=$PYTHONUSERBASE/bin/wstest

# ---------------------------------------------------------------- install
if ! "$wstest" --help >/dev/null 2>&1; then
  echo "==> installing wstest into $PYTHONUSERBASE (Python 2.7)"
  [ -x "$py2" ] || { echo "error: Python 2.7 not found at $py2" >&2; exit 1; }
  # autobahntestsuite 25.10.1 pins its direct dependencies exactly; the
  # transitive ones are capped at their last Python 2.7 releases.
  "$py2" -m pip install --user --no-warn-script-location \
    'autobahntestsuite==25.10.1' 'autobahn[twisted,accelerate]==0.10.9' \
    'Twisted==19.10.0' 'zope.interface==4.6.0' 'incremental==16.10.1' \
    'klein==17.10.0' 'Werkzeug==1.0.1' 'service-identity==18.1.0' \
    'pyOpenSSL==19.1.0' 'cryptography==3.3.2' 'txaio==2.1.0' 'six==1.16.0' \
    'jinja2==2.11.3' 'markupsafe==1.1.1' 'unittest2==1.1.0' 'setuptools==44.0.0' \
    'attrs<21' 'hyperlink<21' 'Automat<21' 'PyHamcrest<2' 'idna<3' \
    'cffi<1.16' 'pycparser<2.22' 'pyasn1<0.5' 'pyasn1-modules<0.3' \
    'typing<3.11' 'constantly<16' 'enum34' 'ipaddress'
  "$wstest" --help >/dev/null
fi

# ---------------------------------------------------------------- build
echo "==> building the echo servers (release)"
cargo build -q -p natsws-core --example autobahn_echo --features deflate,echo --release
cargo build -q -p natsws-server --bin natsws-autobahn --features autobahn --release
core_bin=$root/target/release/examples/autobahn_echo
server_bin=$root/target/release/natsws-autobahn

work=$root/target/autobahn
mkdir -p "$work"
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true; }
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

status=0
for mode in "${modes[@]}"; do
  case $mode in
    plain) flag= echo_bin=$core_bin ;;
    deflate) flag=--compress echo_bin=$core_bin ;;
    server-plain) flag= echo_bin=$server_bin ;;
    server-deflate) flag=--compress echo_bin=$server_bin ;;
    *) echo "unknown mode $mode (plain|deflate|server-plain|server-deflate)" >&2; exit 2 ;;
  esac
  spec_in=$root/core/tests/autobahn/fuzzingclient-${mode#server-}.json
  expected=$root/core/tests/autobahn/expected-$mode.json
  out=$work/$mode
  rm -rf "$out"
  mkdir -p "$out"

  # free_port releases the port before the echo server binds it, so another socket can take it
  # in between: an echo server that exits during start is retried on a fresh port (5 tries).
  for attempt in 1 2 3 4 5; do
    port=$(free_port)
    "$echo_bin" "$port" $flag 2>"$out/echo.log" &
    server_pid=$!
    up=0
    # Wait until the server accepts connections (bounded).
    for _ in $(seq 1 100); do
      kill -0 "$server_pid" 2>/dev/null || break
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then up=1; break; fi
      sleep 0.1
    done
    [ "$up" = 1 ] && kill -0 "$server_pid" 2>/dev/null && break
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
    if [ "$attempt" = 5 ]; then cat "$out/echo.log" >&2; exit 1; fi
  done

  python3 - "$spec_in" "$out/spec.json" "$port" "$out/reports" "${AUTOBAHN_CASES:-}" "${AUTOBAHN_FULL:-0}" <<'EOF'
import json, sys
src, dst, port, outdir, cases, full = sys.argv[1:7]
spec = json.load(open(src))
spec["outdir"] = outdir
for s in spec["servers"]:
    s["url"] = s["url"].replace("@PORT@", port)
if cases:
    spec["cases"] = json.loads(cases)
if full == "1":
    spec["exclude-cases"] = []
json.dump(spec, open(dst, "w"), indent=2)
EOF

  echo "==> wstest fuzzingclient, $mode (echo server on 127.0.0.1:$port)"
  start=$(date +%s)
  (cd "$out" && "$wstest" -m fuzzingclient -s spec.json >wstest.log 2>&1) || {
    echo "wstest failed, see $out/wstest.log" >&2
    tail -20 "$out/wstest.log" >&2
    exit 1
  }
  echo "    wstest took $(($(date +%s) - start)) s"
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=

  python3 - "$out/reports/index.json" "$expected" "${AUTOBAHN_UPDATE:-0}" "$out/spec.json" <<'EOF' || status=1
import json, re, sys
index_path, expected_path, update, spec_path = sys.argv[1:5]
spec = json.load(open(spec_path))

def patterns(ps):
    # wstest's own matching (caseset.py): '.' literal, '*' any run.
    return [re.compile("^" + p.replace(".", "\\.").replace("*", ".*") + "$") for p in ps]

selected = patterns(spec["cases"])
excluded = patterns(spec.get("exclude-cases", []))

def in_spec(case):
    return any(p.match(case) for p in selected) and not any(p.match(case) for p in excluded)

index = json.load(open(index_path))
(agent, results), = index.items()

def key(case):
    return tuple(int(p) for p in case.split("."))

observed = {
    case: {"behavior": r["behavior"], "behaviorClose": r["behaviorClose"]}
    for case, r in sorted(results.items(), key=lambda kv: key(kv[0]))
}
counts = {}
for r in observed.values():
    counts[r["behavior"]] = counts.get(r["behavior"], 0) + 1
order = ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED"]
print("    %s: %d cases: %s" % (agent, len(observed), ", ".join(
    "%s %d" % (b, counts.get(b, 0)) for b in order + sorted(set(counts) - set(order)))))

failed = [c for c, r in observed.items() if r["behavior"] == "FAILED"]
for c in failed:
    r = results[c]
    print("    FAILED %s (close: %s, remote close code %s)" % (
        c, r["behaviorClose"], r.get("remoteCloseCode")))

if update == "1":
    # Keep the expected entries of cases this run did not select.
    try:
        merged = json.load(open(expected_path))
    except FileNotFoundError:
        merged = {}
    merged = {c: v for c, v in merged.items() if not in_spec(c)}
    merged.update(observed)
    merged = dict(sorted(merged.items(), key=lambda kv: key(kv[0])))
    with open(expected_path, "w") as f:
        json.dump(merged, f, indent=1)
        f.write("\n")
    print("    wrote %s" % expected_path)
    sys.exit(0)

try:
    expected = json.load(open(expected_path))
except FileNotFoundError:
    print("    no expected file %s (run with AUTOBAHN_UPDATE=1)" % expected_path)
    sys.exit(1)
expected = {c: v for c, v in expected.items() if in_spec(c)}
diffs = []
for c in sorted(set(expected) | set(observed), key=key):
    e, o = expected.get(c), observed.get(c)
    if e != o:
        diffs.append("    %s: expected %s, got %s" % (c, e, o))
for d in diffs:
    print(d)
if diffs:
    print("    %d case(s) differ from %s" % (len(diffs), expected_path))
sys.exit(1 if failed or diffs else 0)
EOF
done
exit $status
