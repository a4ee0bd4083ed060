// Completes wasm/pkg (the output of `wasm-bindgen --target web`) into the npm package
// `natsws-wasm`: a Node entry that loads the .wasm synchronously, its types, package.json
// (version from Cargo) and the README.
//
//   node wasm/tools/package.mjs <pkg dir> <version>
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [pkgDir, version] = process.argv.slice(2);
if (!pkgDir || !version) {
  console.error("usage: node package.mjs <pkg dir> <version>");
  process.exit(2);
}
const here = new URL(".", import.meta.url).pathname;

// Node entry: the web build needs `await init()` (it fetches the .wasm); in Node the
// module is compiled synchronously from the file next to it, so a plain import works.
writeFileSync(
  join(pkgDir, "node.js"),
  `// Node entry of natsws-wasm: compiles the .wasm synchronously at import time.
import { readFileSync } from "node:fs";
import { initSync } from "./natsws_wasm.js";

export * from "./natsws_wasm.js";
export * from "./inpage.js";

const exports = initSync({
  module: readFileSync(new URL("./natsws_wasm_bg.wasm", import.meta.url)),
});

/** Already initialised in Node; resolves to the wasm exports (same shape as the web build's init). */
export default async function init() {
  return exports;
}
`,
);
writeFileSync(
  join(pkgDir, "node.d.ts"),
  `export * from "./natsws_wasm.js";
export * from "./inpage.js";
import type { InitOutput } from "./natsws_wasm.js";
/** Already initialised in Node; resolves to the wasm exports. */
export default function init(): Promise<InitOutput>;
`,
);

// Web entry: the wasm-bindgen module (default export: init) plus the in-page server glue.
writeFileSync(
  join(pkgDir, "index.js"),
  `// Web entry of natsws-wasm: call the default export (init) once before using anything.
export * from "./natsws_wasm.js";
export { default } from "./natsws_wasm.js";
export * from "./inpage.js";
`,
);
writeFileSync(
  join(pkgDir, "index.d.ts"),
  `export * from "./natsws_wasm.js";
export { default } from "./natsws_wasm.js";
export * from "./inpage.js";
`,
);
for (const f of ["inpage.js", "inpage.d.ts"]) copyFileSync(join(here, "..", "js", f), join(pkgDir, f));

const files = [
  "index.js",
  "index.d.ts",
  "inpage.js",
  "inpage.d.ts",
  "natsws_wasm.js",
  "natsws_wasm.d.ts",
  "natsws_wasm_bg.wasm",
  "natsws_wasm_bg.wasm.d.ts",
  "node.js",
  "node.d.ts",
  "README.md",
];
const pkg = {
  name: "natsws-wasm",
  version,
  description:
    "natsws-core in WebAssembly: a NATS server inside the page or Node for front-end tests (nats.ws, nats-core), NATS protocol decoders and encoders, the WebSocket frame codec, subjects and the sublist",
  license: "Apache-2.0",
  type: "module",
  main: "./node.js",
  module: "./index.js",
  types: "./index.d.ts",
  exports: {
    ".": {
      node: { types: "./node.d.ts", default: "./node.js" },
      types: "./index.d.ts",
      default: "./index.js",
    },
    "./natsws_wasm_bg.wasm": "./natsws_wasm_bg.wasm",
    "./package.json": "./package.json",
  },
  files,
  sideEffects: ["./node.js"],
  keywords: ["nats", "websocket", "wasm", "rfc6455"],
};
writeFileSync(join(pkgDir, "package.json"), JSON.stringify(pkg, null, 2) + "\n");
copyFileSync(join(here, "..", "README.md"), join(pkgDir, "README.md"));
for (const f of files) readFileSync(join(pkgDir, f)); // fail now if one is missing
console.log(`natsws-wasm ${version}: ${files.length} files in ${pkgDir}`);
