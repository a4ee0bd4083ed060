// Fails when the .wasm imports anything from module "env": native code (a C library, a
// libc symbol) leaking into the wasm32 build. Every import must come from wasm-bindgen's
// generated glue module.
//
//   node wasm/tools/check-imports.mjs <file.wasm>
import { readFileSync } from "node:fs";

const file = process.argv[2];
const mod = new WebAssembly.Module(readFileSync(file));
const imports = WebAssembly.Module.imports(mod);
const modules = [...new Set(imports.map((i) => i.module))];
const env = imports.filter((i) => i.module === "env");
console.log(`${file}: ${imports.length} imports from ${JSON.stringify(modules)}`);
if (env.length > 0) {
  console.error(`imports from "env": ${env.map((i) => `${i.name} (${i.kind})`).join(", ")}`);
  process.exit(1);
}
