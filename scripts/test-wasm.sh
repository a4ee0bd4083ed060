#!/usr/bin/env bash
# Builds and tests natsws in WebAssembly (npm run test:wasm):
#   1. installs what is missing (idempotent): the wasm32-unknown-unknown target,
#      wasm-bindgen-cli at the version pinned in Cargo.toml, Debian's Chromium + chromedriver;
#   2. builds the npm package natsws-wasm into wasm/pkg (scripts/build-wasm.sh), which also
#      fails if the .wasm imports anything from "env";
#   3. packs it, installs the tarball into a fresh ESM folder and runs the Node smoke test
#      (wasm/smoke/smoke.test.mjs) there, then loads the same installed package's web build
#      in headless Chromium (wasm/smoke/browser.html via browser.mjs);
#   4. runs web-tests' core vector suites compiled to wasm in Node;
#   5. starts natsws on ephemeral ports; runs the in-page server suites (wasm/inpage-tests:
#      node:test, then Chromium and Firefox) against it; runs web-tests in headless Chromium:
#      the vector suites again plus the live WebSocket test; then the same in headless
#      Firefox ESR through geckodriver when both are installed; stops natsws.
# Prints each suite's test count and time; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
export CARGO_TERM_COLOR=never

step() { echo; echo "==> $*"; }
summary=()
failed=0
total_pass=0
total_fail=0
record() { # name status pass fail seconds
  summary+=("$(printf '  %-48s %-4s %4s passed %3s failed %5s s' "$1" "$2" "$3" "$4" "$5")")
  total_pass=$((total_pass + $3))
  total_fail=$((total_fail + $4))
  if [ "$2" != "ok" ]; then failed=1; fi
}

tmp="$(mktemp -d)"
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# ---- 1. tools -------------------------------------------------------------------------
step "tools"
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi
want="$(sed -n 's/^wasm-bindgen = .*"=\([0-9.]*\)".*/\1/p' Cargo.toml | head -n1)"
have="$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" || true
if [ "$have" != "$want" ]; then
  echo "installing wasm-bindgen-cli $want (found '${have:-none}')"
  cargo install wasm-bindgen-cli --version "$want"
fi
wasm-bindgen --version
bash scripts/setup-browser.sh
/usr/bin/chromedriver --version

# ---- 2. package ---------------------------------------------------------------------
step "build natsws-wasm (wasm/pkg) + env-import check"
start=$SECONDS
bash scripts/build-wasm.sh
echo "build: $((SECONDS - start)) s"

# ---- 3. Node smoke test of the packed tarball -----------------------------------------
step "node smoke test of the packed tarball"
start=$SECONDS
(cd wasm/pkg && npm pack --silent --pack-destination "$tmp" >/dev/null)
tarball="$(ls "$tmp"/natsws-wasm-*.tgz)"
mkdir "$tmp/app"
printf '{ "name": "natsws-wasm-smoke", "private": true, "type": "module" }\n' >"$tmp/app/package.json"
(cd "$tmp/app" && npm install --offline --no-audit --no-fund "$tarball" >/dev/null)
cp wasm/smoke/smoke.test.mjs "$tmp/app/"
status=ok
(cd "$tmp/app" && node --test smoke.test.mjs) >"$tmp/smoke.log" 2>&1 || status=FAIL
cat "$tmp/smoke.log"
pass="$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$tmp/smoke.log")"
fail="$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$tmp/smoke.log")"
record "node smoke (packed natsws-wasm tarball)" "$status" "${pass:-0}" "${fail:-0}" "$((SECONDS - start))"

step "browser smoke test of the packed tarball (web build in headless Chromium)"
start=$SECONDS
status=ok
cp wasm/smoke/browser.html "$tmp/app/"
node wasm/smoke/browser.mjs "$tmp/app" >"$tmp/bsmoke.log" 2>&1 || status=FAIL
cat "$tmp/bsmoke.log"
pass="$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$tmp/bsmoke.log")"
fail="$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$tmp/bsmoke.log")"
record "browser smoke (packed tarball, Chromium)" "$status" "${pass:-0}" "${fail:-0}" "$((SECONDS - start))"

# ---- wasm-bindgen-test runs ---------------------------------------------------------
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
export CHROMEDRIVER=/usr/bin/chromedriver
export WASM_BINDGEN_TEST_WEBDRIVER_JSON="$root/web-tests/webdriver.json"
export WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-60}"

# Runs `cargo test -p natsws-web-tests` for wasm32 with the extra args; records one summary
# line with the counts of its "test result:" lines.
web_tests() { # label args...
  local label="$1"; shift
  local start=$SECONDS status=ok
  cargo test -p natsws-web-tests --target wasm32-unknown-unknown "$@" >"$tmp/wt.log" 2>&1 || status=FAIL
  grep -v '^test .* ok$' "$tmp/wt.log" | grep -v '^\s*Compiling ' || true
  local pass fail
  pass="$(awk '/^test result:/ { for (i = 1; i < NF; i++) if ($(i + 1) ~ /^passed/) n += $i } END { print n + 0 }' "$tmp/wt.log")"
  fail="$(awk '/^test result:/ { for (i = 1; i < NF; i++) if ($(i + 1) ~ /^failed/) n += $i } END { print n + 0 }' "$tmp/wt.log")"
  if [ "$pass" -eq 0 ]; then status=FAIL; fi
  record "$label" "$status" "${pass:-0}" "${fail:-0}" "$((SECONDS - start))"
}

# ---- 4. Node ------------------------------------------------------------------------
step "web-tests in Node (core vector suites compiled to wasm)"
web_tests "web-tests core_vectors (Node)" --test core_vectors

# ---- 5. Chromium, with natsws running ------------------------------------------------
step "natsws for the live test"
# $NATSWS_SERVER_BIN (a path) runs the live test against another server binary, e.g. the
# reference nats-server; by default natsws is built and used.
if [ -n "${NATSWS_SERVER_BIN:-}" ]; then
  server_bin="$NATSWS_SERVER_BIN"
else
  cargo build -p natsws-server --bin natsws
  server_bin="$(cargo metadata --no-deps --format-version 1 | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')/debug/natsws"
fi
"$server_bin" -c web-tests/fixtures/live.conf >"$tmp/natsws.log" 2>&1 &
server_pid=$!
url=
for _ in $(seq 1 100); do # wait for the log line (at most ~10 s)
  url="$(sed -n 's/.*Listening for websocket clients on \(ws:\/\/[^ ]*\).*/\1/p' "$tmp/natsws.log")"
  if [ -n "$url" ] || ! kill -0 "$server_pid" 2>/dev/null; then break; fi
  sleep 0.1
done
if [ -z "$url" ]; then
  cat "$tmp/natsws.log"
  echo "natsws did not start" >&2
  exit 1
fi
echo "natsws: $url"

# The in-page server (issue #19): nats.ws and nats-core against InPageServer and against the
# server binary above (same results), in Node, then in Chromium and Firefox (offline test).
step "in-page server: node:test (nats.ws + nats-core, in-page vs $server_bin)"
start=$SECONDS
status=ok
NATSWS_SERVER_BIN="$server_bin" node --test wasm/inpage-tests/node.test.mjs >"$tmp/inpage.log" 2>&1 || status=FAIL
grep -E '^(not ok|# (pass|fail))' "$tmp/inpage.log" || true
if [ "$status" != ok ]; then cat "$tmp/inpage.log"; fi
pass="$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$tmp/inpage.log")"
fail="$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$tmp/inpage.log")"
record "in-page server vs natsws (Node)" "$status" "${pass:-0}" "${fail:-0}" "$((SECONDS - start))"

step "in-page server in Chromium and Firefox (vs $server_bin, and offline)"
start=$SECONDS
status=ok
NATSWS_SERVER_BIN="$server_bin" node wasm/inpage-tests/browser.mjs >"$tmp/inpage-browser.log" 2>&1 || status=FAIL
grep -v '^ok ' "$tmp/inpage-browser.log" || true
pass="$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$tmp/inpage-browser.log")"
fail="$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$tmp/inpage-browser.log")"
record "in-page server vs natsws (Chromium, Firefox)" "$status" "${pass:-0}" "${fail:-0}" "$((SECONDS - start))"

step "web-tests in headless Chromium (core vectors + live WebSocket)"
export WASM_BINDGEN_USE_BROWSER=1
web_tests "web-tests core_vectors (Chromium)" --test core_vectors
NATSWS_WS_URL="$url" web_tests "web-tests live WebSocket to natsws (Chromium)" --test live

# Firefox ESR through geckodriver (issue #18), when both are installed (scripts/setup.sh): a
# fresh profile, a private HOME and MOZ_DISABLE_NONLOCAL_CONNECTIONS=1 (no look-ups of its own).
geckodriver="$(command -v geckodriver || true)"
if [ -x /usr/bin/firefox-esr ] && [ -n "$geckodriver" ]; then
  step "web-tests in headless Firefox (core vectors + live WebSocket)"
  mkdir -p "$tmp/ff-home"
  node -e '
    const [src, home] = process.argv.slice(1);
    const caps = JSON.parse(require("fs").readFileSync(src, "utf8"));
    caps["moz:firefoxOptions"].env = { HOME: home, MOZ_DISABLE_NONLOCAL_CONNECTIONS: "1" };
    process.stdout.write(JSON.stringify(caps));
  ' "$root/web-tests/webdriver-firefox.json" "$tmp/ff-home" >"$tmp/webdriver-firefox.json"
  GECKODRIVER="$geckodriver" WASM_BINDGEN_TEST_WEBDRIVER_JSON="$tmp/webdriver-firefox.json" \
    web_tests "web-tests core_vectors (Firefox)" --test core_vectors
  GECKODRIVER="$geckodriver" WASM_BINDGEN_TEST_WEBDRIVER_JSON="$tmp/webdriver-firefox.json" NATSWS_WS_URL="$url" \
    web_tests "web-tests live WebSocket to natsws (Firefox)" --test live
else
  step "web-tests in Firefox skipped: no /usr/bin/firefox-esr or geckodriver (scripts/setup.sh installs both)"
fi

kill "$server_pid" 2>/dev/null || true
wait "$server_pid" 2>/dev/null || true
server_pid=

# ---- summary -------------------------------------------------------------------------
step "summary"
printf '%s\n' "${summary[@]}"
echo "wasm: $total_pass passed, $total_fail failed"
exit "$failed"
