#!/usr/bin/env bash
# Builds the npm package natsws-wasm into wasm/pkg (npm run build:wasm):
#   cargo build --profile wasm-release (opt-level "z", LTO) for wasm32-unknown-unknown ->
#   wasm-bindgen --target web (name section removed) -> wasm-opt -Oz with $WASM_OPT ->
#   Node entry + package.json (version from Cargo) -> check that the .wasm imports nothing
#   from "env". `npm pack` in wasm/pkg then gives the tarball.
# Needs the wasm32 target and wasm-bindgen-cli at the pinned version (scripts/test-wasm.sh
# installs both).
set -euo pipefail
cd "$(dirname "$0")/.."

want="$(sed -n 's/^wasm-bindgen = .*"=\([0-9.]*\)".*/\1/p' Cargo.toml | head -n1)"
have="$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" || true
if [ "$have" != "$want" ]; then
  echo "build-wasm: need wasm-bindgen-cli $want (found '${have:-none}'): cargo install wasm-bindgen-cli --version $want" >&2
  exit 1
fi

# Panic locations embed source paths: map the registry's and this checkout's folders to
# short neutral prefixes so the package carries no build-machine paths.
remap=(--remap-path-prefix="$PWD=/natsws")
for d in "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/; do
  [ -d "$d" ] && remap+=(--remap-path-prefix="${d%/}=/deps")
done
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="${remap[*]}" \
  cargo build --profile wasm-release --target wasm32-unknown-unknown -p natsws-wasm
target_dir="$(cargo metadata --no-deps --format-version 1 | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')"
version="$(cargo metadata --no-deps --format-version 1 | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).packages.find(p=>p.name==="natsws-wasm").version))')"

rm -rf wasm/pkg
wasm-bindgen --target web --remove-name-section --remove-producers-section --out-dir wasm/pkg --out-name natsws_wasm \
  "$target_dir/wasm32-unknown-unknown/wasm-release/natsws_wasm.wasm"
# Binaryen's optimiser, opt-in with WASM_OPT=<path to wasm-opt> (npm package binaryen): on
# this package -Oz saves 10 % raw but the gzipped file grows 6 % (656 KB / 230 KB gz without,
# 592 KB / 244 KB gz with, binaryen 132), and pages load the gzipped file.
if [ -n "${WASM_OPT:-}" ]; then
  "$WASM_OPT" -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-reference-types --enable-multivalue \
    -o wasm/pkg/natsws_wasm_bg.wasm wasm/pkg/natsws_wasm_bg.wasm
  echo "wasm-opt -Oz: $("$WASM_OPT" --version)"
fi
node wasm/tools/package.mjs wasm/pkg "$version"
node wasm/tools/check-imports.mjs wasm/pkg/natsws_wasm_bg.wasm
ls -l wasm/pkg/natsws_wasm_bg.wasm | awk '{print "wasm size: " $5 " bytes"}'
echo "wasm size gzipped (-9): $(gzip -9 -c wasm/pkg/natsws_wasm_bg.wasm | wc -c) bytes"
