#!/usr/bin/env bash
# Builds the npm package natsws-wasm into wasm/pkg (npm run build:wasm):
#   cargo build --release for wasm32-unknown-unknown -> wasm-bindgen --target web ->
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
  cargo build --release --target wasm32-unknown-unknown -p natsws-wasm
target_dir="$(cargo metadata --no-deps --format-version 1 | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')"
version="$(cargo metadata --no-deps --format-version 1 | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).packages.find(p=>p.name==="natsws-wasm").version))')"

rm -rf wasm/pkg
wasm-bindgen --target web --out-dir wasm/pkg --out-name natsws_wasm \
  "$target_dir/wasm32-unknown-unknown/release/natsws_wasm.wasm"
node wasm/tools/package.mjs wasm/pkg "$version"
node wasm/tools/check-imports.mjs wasm/pkg/natsws_wasm_bg.wasm
ls -l wasm/pkg/natsws_wasm_bg.wasm | awk '{print "wasm size: " $5 " bytes"}'
