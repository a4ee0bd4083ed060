// The in-page server in real browsers (issue #19): bundles page-entry.mjs (natsws-wasm's
// web build with nats.ws and nats-core), serves it on 127.0.0.1 and, in headless Chromium
// and (when installed) Firefox ESR through puppeteer-core, runs every scenario of suite.mjs
// with both clients against the in-page server and against native natsws; the results must
// be equal and passing. Then, in Chromium, two clients talk through the in-page server
// with the page offline and every request aborted. `--bench` also prints throughput and
// latency figures (not asserted).
//
//   node wasm/inpage-tests/browser.mjs [--bench]      (after scripts/build-wasm.sh and a
//   natsws build; prints "N passed, M failed", exits non-zero on a failure)
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { launch } from '../../interop/browser.mjs';
import { IDS } from './suite.mjs';
import { startNative } from './native.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const benchMode = process.argv.includes('--bench');

async function buildPage(dir) {
  await build({
    entryPoints: [path.join(here, 'page-entry.mjs')], bundle: true, format: 'esm', platform: 'browser',
    target: 'es2020', logLevel: 'warning', outfile: path.join(dir, 'inpage-page.js'), external: ['crypto'],
  });
  fs.copyFileSync(path.join(here, '..', 'pkg', 'natsws_wasm_bg.wasm'), path.join(dir, 'natsws_wasm_bg.wasm'));
  fs.writeFileSync(path.join(dir, 'index.html'), '<!doctype html><html><head><meta charset="utf-8"><script type="module" src="/inpage-page.js"></script></head><body>natsws in-page</body></html>\n');
}

const types = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm' };
function serve(dir, native) {
  const srv = http.createServer(async (req, res) => {
    const p = new URL(req.url, 'http://x').pathname;
    if (p === '/restart' && req.method === 'POST') {
      try {
        await native.servers.default.restart();
        res.writeHead(204);
      } catch (e) {
        res.writeHead(500);
        res.write(String(e));
      }
      res.end();
      return;
    }
    const file = path.join(dir, path.basename(p) || 'index.html');
    if (!fs.existsSync(file)) { res.writeHead(404); res.end(); return; }
    res.writeHead(200, { 'content-type': types[path.extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${srv.address().port}/index.html`, close: () => new Promise((r) => { srv.closeAllConnections?.(); srv.close(() => r()); }) })));
}

async function openPage(browser, url) {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(url);
  await page.waitForFunction(() => window.inpageSuite, { timeout: 20000 });
  await page.evaluate(() => window.inpageSuite.ready);
  return { context, page, errors };
}

const results = [];
function record(name, ok, detail) {
  results.push({ name, ok });
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${ok || !detail ? '' : `: ${detail}`}`);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'natsws-inpage-page-'));
const native = await startNative();
const web = await serve(dir, native);
try {
  await buildPage(dir);
  const engines = ['chromium'];
  if (fs.existsSync(process.env.NATSWS_FIREFOX || '/usr/bin/firefox-esr') && !benchMode) engines.push('firefox');
  for (const engine of engines) {
    const b = await launch(engine, path.join(dir, 'no-ca.pem'));
    try {
      console.log(`# ${engine} ${b.version}`);
      if (benchMode) {
        const { context, page } = await openPage(b.browser, web.url);
        const inpage = await page.evaluate(() => window.inpageSuite.bench());
        const nat = await page.evaluate((u) => window.inpageSuite.bench(u), native.target.urls.default);
        console.log(`bench ${engine} nats-core in-page: ${JSON.stringify(inpage)}`);
        console.log(`bench ${engine} nats-core native natsws over loopback ws: ${JSON.stringify(nat)}`);
        await context.close();
        continue;
      }
      const { context, page, errors } = await openPage(b.browser, web.url);
      for (const client of ['nats.ws', 'nats-core']) {
        for (const id of IDS) {
          let r;
          try {
            r = await page.evaluate((c, i, u) => window.inpageSuite.runPair(c, i, u), client, id, native.target.urls);
          } catch (e) {
            r = { inpage: { status: 'fail', detail: `driver: ${e.message}` }, native: {} };
          }
          const same = JSON.stringify(r.inpage) === JSON.stringify(r.native);
          record(`${engine} ${client} ${id}: in-page ${JSON.stringify(r.inpage)} equals native`, same && r.inpage.status === 'pass',
            same ? r.inpage.detail : `in-page ${JSON.stringify(r.inpage)} vs native ${JSON.stringify(r.native)}`);
        }
      }
      const readme = await page.evaluate(() => window.inpageSuite.readmeExample()).catch((e) => [String(e)]);
      record(`${engine}: the README browser example`, JSON.stringify(readme) === '[true,true]', JSON.stringify(readme));
      const noise = errors.filter((e) => !/connection to wss?:\/\/\S+ was interrupted|can.t establish a connection to the server at wss?:/.test(e));
      record(`${engine}: no page errors`, noise.length === 0, noise.join('; '));
      await context.close();

      if (engine === 'chromium') {
        const o = await openPage(b.browser, web.url);
        await o.page.setOfflineMode(true);
        await o.page.setRequestInterception(true);
        o.page.on('request', (req) => req.abort());
        const got = await o.page.evaluate(() => window.inpageSuite.offlineTalk());
        const want = { network: 'unreachable', r1: 'a:hi', r2: 'b:yo', received: 100, inOrder: true, conns: ['a', 'b'] };
        record(`${engine}: two clients talk through the in-page server with the page offline`, JSON.stringify(got) === JSON.stringify(want), JSON.stringify(got));
        await o.context.close();
      }
    } finally {
      await b.dispose();
    }
  }
} finally {
  await web.close();
  await native.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
}
if (benchMode) process.exit(0);
const failed = results.filter((r) => !r.ok).length;
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed === 0 && results.length > 0 ? 0 : 1);
