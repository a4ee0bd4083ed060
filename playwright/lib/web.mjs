// Bundles the browser clients with esbuild and serves the test page over HTTP on 127.0.0.1.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));
const pageDir = path.resolve(here, '..', 'page');
const repoRoot = path.resolve(here, '..', '..');

/**
 * Writes index.html, helpers.js, nats-ws.js (global `natsws`), nats-core.js (global `natsCore`)
 * and mqtt.js (mqtt.js's browser bundle, global `mqtt`; loaded only by the MQTT tests) into `outDir`.
 */
export async function buildPage(outDir) {
  fs.mkdirSync(outDir, { recursive: true });
  const common = { bundle: true, format: 'iife', platform: 'browser', target: 'es2020', logLevel: 'warning', external: ['crypto'] };
  await build({ ...common, entryPoints: [path.join(pageDir, 'nats-ws-entry.mjs')], globalName: 'natsws', outfile: path.join(outDir, 'nats-ws.js') });
  await build({ ...common, entryPoints: [path.join(pageDir, 'nats-core-entry.mjs')], globalName: 'natsCore', outfile: path.join(outDir, 'nats-core.js') });
  for (const f of ['index.html', 'helpers.js']) fs.copyFileSync(path.join(pageDir, f), path.join(outDir, f));
  fs.copyFileSync(path.join(repoRoot, 'node_modules', 'mqtt', 'dist', 'mqtt.min.js'), path.join(outDir, 'mqtt.js'));
}

const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8' };

/** Serves the files of `dir` (flat) on 127.0.0.1:`port` (0 = any). Resolves with { port, close }. */
export function serveStatic(dir, port = 0) {
  const srv = http.createServer((req, res) => {
    // `/set-cookie?k=v&…` (auth tests): this origin sets `k=v; HttpOnly; Path=/; SameSite=Lax` per parameter.
    const q = new URL(req.url, 'http://x');
    if (q.pathname === '/set-cookie') {
      res.writeHead(204, { 'set-cookie': [...q.searchParams].map(([k, v]) => `${k}=${v}; HttpOnly; Path=/; SameSite=Lax`) });
      res.end();
      return;
    }
    const name = path.basename(new URL(req.url, 'http://x').pathname) || 'index.html';
    const file = path.join(dir, name);
    if (!fs.existsSync(file)) { res.writeHead(404); res.end('not found\n'); return; }
    res.writeHead(200, { 'content-type': types[path.extname(file)] || 'application/octet-stream', 'cache-control': 'no-store' });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve, reject) => {
    srv.on('error', reject);
    srv.listen(port, '127.0.0.1', () => resolve({
      port: srv.address().port,
      close: () => new Promise((r) => { srv.closeAllConnections?.(); srv.close(() => r()); }),
    }));
  });
}
