// Loads the packed natsws-wasm (web build, `await init()` fetching the .wasm) in headless
// Chromium: serves <app dir> (where the tarball was installed, with browser.html copied in)
// on 127.0.0.1, runs /usr/bin/chromium --dump-dom on the page and checks the JSON result
// the page writes. Prints "N passed, M failed"; exits non-zero on any failure.
//
//   node wasm/smoke/browser.mjs <app dir>
import { execFile } from "node:child_process";
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize } from "node:path";

const root = process.argv[2];
const types = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm" };
const server = createServer(async (req, res) => {
  const path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname)).replace(/^\/+/, "");
  try {
    const body = await readFile(join(root, path));
    res.writeHead(200, { "content-type": types[extname(path)] ?? "application/octet-stream" });
    res.end(body);
  } catch {
    res.writeHead(404);
    res.end();
  }
});
await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
const url = `http://127.0.0.1:${server.address().port}/browser.html`;
const args = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
  "--virtual-time-budget=20000", "--dump-dom", url,
];
const dom = await new Promise((ok, fail) =>
  execFile("/usr/bin/chromium", args, { timeout: 60_000, maxBuffer: 1 << 22 }, (err, stdout) =>
    err && !stdout ? fail(err) : ok(stdout),
  ),
).finally(() => server.close());
const line = dom.split("\n").find((l) => l.includes('id="out">RESULT '));
const result = line
  ? JSON.parse(line.slice(line.indexOf("RESULT ") + 7, line.lastIndexOf("</pre>")).replaceAll("&quot;", '"').replaceAll("&amp;", "&").replaceAll("&lt;", "<").replaceAll("&gt;", ">"))
  : { total: 0, failed: ["the page wrote no result"] };
for (const f of result.failed) console.error(`FAIL ${f}`);
const passed = result.total - result.failed.length;
console.log(`${passed} passed, ${result.failed.length} failed`);
process.exit(result.failed.length === 0 && result.total > 0 ? 0 : 1);
