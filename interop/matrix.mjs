// The interop matrix (issue #18): every scenario of interop/scenarios.json, run by six
// clients over their transports (browsers: Chromium and Firefox), against each server
// binary given. Writes docs/interop.md and exits non-zero when any cell fails or differs
// from the reference server's.
//
//   node interop/matrix.mjs --server natsws=<bin> --server nats-server=<bin> [--reference nats-server]
//        [--rows <substring>[,...]] [--scenarios id,...] [--out docs/interop.md] [--json <file>]
//        [--rust-bin <path>] [--python <python3>]
//
// The first --server is the one under test; --reference (default: the last --server) is the
// one its cells must equal. Per server it starts six servers from playwright/fixtures
// (default, restart, users, token, tls, compression) on loopback ephemeral ports, plus one
// HTTP server that serves the browser page, sets HttpOnly cookies (/set-cookie) and restarts
// the `restart` server (POST /restart) for the reconnect scenario.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
process.env.NATSWS_PW_LOG_DIR ||= path.join(here, '.tmp', 'logs');
const { NatsServer } = await import('../playwright/lib/server.mjs');
fs.rmSync(process.env.NATSWS_PW_LOG_DIR, { recursive: true, force: true }); // this run's logs only
const { buildInteropPage, launch, runInBrowser } = await import('./browser.mjs');
const { observeWire } = await import('./wire.mjs');

const TABLE = JSON.parse(fs.readFileSync(path.join(here, 'scenarios.json'), 'utf8')).scenarios;

// ---- arguments -------------------------------------------------------------------------
const args = { servers: [], rows: null, scenarios: null, out: null, json: null, reference: null,
  rustBin: path.join(root, 'target', 'debug', 'examples', 'interop_client'), python: 'python3' };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  const v = () => process.argv[++i];
  if (a === '--server') { const [n, ...b] = v().split('='); args.servers.push({ name: n, bin: b.join('=') }); }
  else if (a === '--rows') args.rows = v().split(',');
  else if (a === '--scenarios') args.scenarios = v().split(',');
  else if (a === '--out') args.out = v();
  else if (a === '--json') args.json = v();
  else if (a === '--reference') args.reference = v();
  else if (a === '--rust-bin') args.rustBin = v();
  else if (a === '--python') args.python = v();
  else throw new Error(`unknown argument ${a}`);
}
if (args.servers.length === 0) throw new Error('give at least one --server name=<binary>');
args.reference ||= args.servers[args.servers.length - 1].name;

// ---- the rows: client × transport × runtime ---------------------------------------------
const node = (client) => ['node', path.join(here, 'node-runner.mjs'), client];
const ROWS = [
  { id: 'nats.ws/chromium', client: 'nats.ws 1.30', transport: 'ws', runtime: 'browser', engine: 'chromium', lib: 'nats.ws' },
  { id: 'nats.ws/firefox', client: 'nats.ws 1.30', transport: 'ws', runtime: 'browser', engine: 'firefox', lib: 'nats.ws' },
  { id: 'nats-core/chromium', client: '@nats-io/nats-core 3 wsconnect', transport: 'ws', runtime: 'browser', engine: 'chromium', lib: 'nats-core' },
  { id: 'nats-core/firefox', client: '@nats-io/nats-core 3 wsconnect', transport: 'ws', runtime: 'browser', engine: 'firefox', lib: 'nats-core' },
  { id: 'nats/node', client: 'nats 2.x (nats.js)', transport: 'tcp', runtime: 'node', cmd: node('nats') },
  { id: 'transport-node/node', client: '@nats-io/transport-node 3', transport: 'tcp', runtime: 'node', cmd: node('transport-node') },
  { id: 'nats-core/node', client: '@nats-io/nats-core 3 wsconnect (ws package)', transport: 'ws', runtime: 'node', cmd: node('nats-core-node') },
  { id: 'nats-py/tcp', client: 'nats-py 2', transport: 'tcp', runtime: 'python', cmd: [args.python, path.join(here, 'py', 'runner.py')] },
  { id: 'nats-py/ws', client: 'nats-py 2', transport: 'ws', runtime: 'python', cmd: [args.python, path.join(here, 'py', 'runner.py')] },
  { id: 'async-nats/tcp', client: 'async-nats 0.51', transport: 'tcp', runtime: 'rust', cmd: [args.rustBin] },
  { id: 'async-nats/ws', client: 'async-nats 0.51', transport: 'ws', runtime: 'rust', cmd: [args.rustBin] },
];
const rows = ROWS.filter((r) => !args.rows || args.rows.some((s) => r.id.includes(s)));
const scenarios = TABLE.filter((s) => !args.scenarios || args.scenarios.includes(s.id));

/** n/a reason when scenario `s` does not apply to `row`, else null. */
function notApplicable(s, row) {
  if (!s.only) return null;
  if (s.only.transports && !s.only.transports.includes(row.transport)) return s.na;
  if (s.only.runtimes && !s.only.runtimes.includes(row.runtime)) return s.na;
  return null;
}

// ---- certificates -------------------------------------------------------------------------
/** A test CA and a server certificate for 127.0.0.1/localhost signed by it (openssl). */
function makePki(dir) {
  const f = (n) => path.join(dir, n);
  const ossl = (...a) => execFileSync('openssl', a, { stdio: 'ignore' });
  ossl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', '/CN=natsws interop CA', '-keyout', f('ca-key.pem'), '-out', f('ca.pem'));
  ossl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-subj', '/CN=127.0.0.1', '-keyout', f('key.pem'), '-out', f('req.pem'));
  fs.writeFileSync(f('ext.cnf'), 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n');
  ossl('x509', '-req', '-in', f('req.pem'), '-CA', f('ca.pem'), '-CAkey', f('ca-key.pem'), '-CAcreateserial',
    '-days', '2', '-extfile', f('ext.cnf'), '-out', f('cert.pem'));
  return { ca: f('ca.pem'), cert: f('cert.pem'), key: f('key.pem') };
}

// ---- the control server: page, cookies, restart --------------------------------------------
function startControl(pageDir, onRestart) {
  const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8' };
  const srv = http.createServer(async (req, res) => {
    const u = new URL(req.url, 'http://x');
    if (u.pathname === '/restart' && req.method === 'POST') {
      try { await onRestart(); res.writeHead(204); res.end(); } catch (e) { res.writeHead(500); res.end(String(e)); }
      return;
    }
    if (u.pathname === '/set-cookie') {
      // `?k=v&…`: HttpOnly cookies for this origin; `max-age=0` among them deletes them all.
      const p = [...u.searchParams].filter(([k]) => k !== 'max-age');
      const age = u.searchParams.get('max-age');
      const attrs = `HttpOnly; Path=/; SameSite=Lax${age !== null ? `; Max-Age=${Number(age)}` : ''}`;
      res.writeHead(204, { 'set-cookie': p.map(([k, v]) => `${k}=${encodeURIComponent(v)}; ${attrs}`) });
      res.end();
      return;
    }
    const file = path.join(pageDir, path.basename(u.pathname) || 'interop.html');
    if (!fs.existsSync(file)) { res.writeHead(404); res.end(); return; }
    res.writeHead(200, { 'content-type': types[path.extname(file)] || 'application/octet-stream', 'cache-control': 'no-store' });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve({
    url: `http://127.0.0.1:${srv.address().port}`,
    close: () => new Promise((r) => { srv.closeAllConnections(); srv.close(() => r()); }),
  })));
}

// ---- one server binary ----------------------------------------------------------------------
const CREDS = { user: 'interop', pass: 's3cret-pass', token: 's3cret-token' };

async function startServers(bin, pki) {
  process.env.NATSWS_SERVER_BIN = bin;
  const defs = {
    default: ['default.conf', {}],
    restart: ['default.conf', {}],
    users: ['interop-users.conf', { USER: CREDS.user, PASS: CREDS.pass }],
    token: ['auth-token.conf', { TOKEN: CREDS.token }],
    tls: ['tls.conf', { CERT_FILE: pki.cert, KEY_FILE: pki.key }],
    compression: ['compression.conf', {}],
  };
  const servers = {};
  try {
    for (const [name, [fixture, vars]] of Object.entries(defs)) {
      servers[name] = new NatsServer({ fixture, vars, name: `interop-${name}` });
      await servers[name].start();
    }
  } catch (e) {
    await Promise.all(Object.values(servers).map((s) => s.dispose()));
    throw e;
  }
  return servers;
}

function urlsFor(servers, transport) {
  const out = {};
  for (const [name, s] of Object.entries(servers)) {
    if (transport === 'ws') out[name] = `${name === 'tls' ? 'wss' : 'ws'}://127.0.0.1:${s.ports.ws}`;
    else out[name] = `${name === 'tls' ? 'tls' : 'nats'}://127.0.0.1:${s.ports.client}`;
  }
  return out;
}

/** Runs a subprocess row; resolves with { [id]: result } (missing ids fail with its output). */
function runChild(row, ids, cfg, caFile) {
  return new Promise((resolve) => {
    const env = { ...process.env, INTEROP_CFG: JSON.stringify({ ...cfg, ids, caFile }), NODE_EXTRA_CA_CERTS: caFile };
    const p = spawn(row.cmd[0], row.cmd.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; if (err.length > 20000) err = err.slice(-10000); });
    const t = setTimeout(() => p.kill('SIGKILL'), 300000);
    p.on('error', (e) => { err += String(e); });
    p.on('close', (code) => {
      clearTimeout(t);
      const res = {};
      for (const line of out.split('\n')) {
        if (!line.startsWith('{')) continue;
        try { const r = JSON.parse(line); res[r.id] = { status: r.status, detail: r.detail, ms: r.ms }; } catch { /* not ours */ }
      }
      for (const id of ids) {
        res[id] ||= { status: 'fail', detail: `runner exit ${code}, no result: ${err.trim().split('\n').slice(-3).join(' | ')}` };
      }
      resolve(res);
    });
  });
}

async function runServer(server, pki, pageDir, browsers) {
  const t0 = Date.now();
  const servers = await startServers(server.bin, pki);
  const control = await startControl(pageDir, () => servers.restart.restart());
  const results = {};
  try {
    for (const row of rows) {
      const cfg = {
        prefix: `ix.${row.id.replace(/[^a-z0-9]+/gi, '_')}.${Math.floor(Math.random() * 1e9)}`,
        transport: row.transport, runtime: row.runtime, urls: urlsFor(servers, row.transport),
        creds: CREDS, control: control.url, tls: null,
      };
      const cells = {};
      const ids = [];
      for (const s of scenarios) {
        const na = notApplicable(s, row);
        if (na) cells[s.id] = { status: 'n/a', detail: na };
        else ids.push(s.id);
      }
      const r0 = Date.now();
      const got = row.runtime === 'browser'
        ? await runInBrowser(browsers[row.engine].browser, `${control.url}/interop.html`, row.lib, ids, cfg)
        : await runChild(row, ids, cfg, pki.ca);
      Object.assign(cells, got);
      results[row.id] = cells;
      const bad = Object.entries(cells).filter(([, c]) => c.status === 'fail');
      console.log(`[${server.name}] ${row.id}: ${ids.length - bad.length}/${ids.length} passed in ${((Date.now() - r0) / 1000).toFixed(1)} s`
        + bad.map(([id, c]) => `\n    FAIL ${id}: ${c.detail}`).join(''));
    }
    if (server === args.servers[0]) {
      for (const [engine, b] of Object.entries(browsers)) {
        try {
          wire[engine] = await observeWire(b.browser, `${control.url}/interop.html`, servers.compression.ports.ws);
        } catch (e) {
          wire[engine] = { error: String(e) };
          problems.push(`${server.name} wire observation in ${engine}: ${e}`);
        }
      }
    }
  } finally {
    await control.close();
    await Promise.all(Object.values(servers).map((s) => s.dispose()));
  }
  return { results, seconds: (Date.now() - t0) / 1000 };
}

// ---- the report -------------------------------------------------------------------------------
function versionOf(bin) {
  try { return execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim().split('\n')[0]; } catch { return '?'; }
}

function render(all, meta) {
  const test = args.servers[0].name;
  const ref = args.reference;
  const sym = (c) => (!c ? '?' : c.status === 'pass' ? '✓' : c.status === 'n/a' ? 'n/a' : '✗');
  const lines = [];
  lines.push('# Interop matrix', '');
  lines.push('Generated by `scripts/interop-matrix` (interop/matrix.mjs); do not edit by hand: edit');
  lines.push('interop/scenarios.json, the runners or interop/notes.md and regenerate. `.ci/run` runs it');
  lines.push('and fails when a cell fails or differs from the reference server.', '');
  lines.push('Run: `bash scripts/interop-matrix` (builds natsws and the async-nats runner, installs what is');
  lines.push('missing, rewrites this file); `--rows firefox` or `--scenarios reconnect,tls` narrow it; `--check`');
  lines.push('leaves this file alone and prints how a run differs from it.', '');
  lines.push(`Servers: ${args.servers.map((s) => `**${s.name}** (\`${meta.versions[s.name]}\`)`).join(', ')}. `
    + `Browsers: ${Object.entries(meta.browsers).map(([e, v]) => `${e} \`${v}\``).join(', ') || 'none run'}.`);
  lines.push('');
  lines.push(`A cell is \`${test} / ${ref}\` when both ran: ✓ passed, ✗ failed, n/a the scenario does not apply (reason below the table).`);
  lines.push('');
  lines.push(`| client | transport | runtime | ${scenarios.map((s) => s.title).join(' | ')} |`);
  lines.push(`|---|---|---|${scenarios.map(() => '---').join('|')}|`);
  for (const row of rows) {
    const runtime = row.runtime === 'browser' ? row.engine : row.runtime;
    const cells = scenarios.map((s) => {
      const a = all[test]?.results[row.id]?.[s.id];
      const b = all[ref]?.results[row.id]?.[s.id];
      if (a?.status === 'n/a' && (!b || b.status === 'n/a')) return 'n/a';
      return test === ref || !b ? sym(a) : `${sym(a)} / ${sym(b)}`;
    });
    lines.push(`| ${row.client} | ${row.transport} | ${runtime} | ${cells.join(' | ')} |`);
  }
  lines.push('', '## Scenarios', '');
  for (const s of scenarios) lines.push(`- **${s.title}** (\`${s.id}\`): ${s.what}${s.only ? ` n/a elsewhere: ${s.na}.` : ''}`);
  if (Object.keys(wire).length) {
    lines.push('', `## Browser wire facts (observed against ${test})`, '');
    lines.push('A raw page WebSocket through a recording proxy to a `compression: true` listener sends CONNECT, a');
    lines.push('5-byte PUB and a 200 KiB PUB of random bytes (interop/wire.mjs).', '');
    lines.push('| engine | offered extension | accepted | request headers of note | small PUB RSV1 | 200 KiB PUB frames | largest frame | 200 KiB RSV1 |');
    lines.push('|---|---|---|---|---|---|---|---|');
    for (const [engine, w] of Object.entries(wire)) {
      if (w.error) { lines.push(`| ${engine} | observation failed: ${w.error} |||||||`); continue; }
      lines.push(`| ${engine} | \`${w.offered}\` | \`${w.accepted}\` | ${w.extraHeaders} | ${w.smallRsv1} | ${w.bigFrames} | ${w.bigLargest} | ${w.bigRsv1} |`);
    }
  }
  const notes = path.join(here, 'notes.md');
  if (fs.existsSync(notes)) lines.push('', fs.readFileSync(notes, 'utf8').trim());
  return `${lines.join('\n')}\n`;
}

// ---- main ---------------------------------------------------------------------------------------
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'natsws-interop-'));
const pki = makePki(tmp);
const pageDir = path.join(tmp, 'page');
await buildInteropPage(pageDir);
const browsers = {};
/** Wire facts per browser engine (wire.mjs), observed against the server under test. */
const wire = {};
const problems = [];
const meta = { versions: {}, browsers: {} };
const all = {};
let failed = 0;
let passed = 0;
try {
  for (const engine of new Set(rows.filter((r) => r.engine).map((r) => r.engine))) {
    browsers[engine] = await launch(engine, pki.ca);
    meta.browsers[engine] = `${browsers[engine].version}, TLS trust: ${browsers[engine].tlsTrust}`;
  }
  for (const server of args.servers) {
    meta.versions[server.name] = versionOf(server.bin);
    all[server.name] = await runServer(server, pki, pageDir, browsers);
  }
} finally {
  for (const b of Object.values(browsers)) await b.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
}

// Verdict: every cell of every server passes or is n/a, and the server under test equals the reference.
for (const server of args.servers) {
  for (const row of rows) {
    for (const s of scenarios) {
      const c = all[server.name].results[row.id][s.id];
      if (c.status === 'fail') { failed += 1; problems.push(`${server.name} ${row.id} ${s.id}: ${c.detail}`); } else if (c.status === 'pass') passed += 1;
      const ref = all[args.reference]?.results[row.id]?.[s.id];
      if (ref && ref.status !== c.status) problems.push(`${server.name} ${row.id} ${s.id}: ${c.status}, reference ${ref.status}`);
    }
  }
}
for (const s of args.servers) console.log(`${s.name}: ${all[s.name].seconds.toFixed(1)} s for ${rows.length} rows`);
if (args.json) fs.writeFileSync(args.json, JSON.stringify({ meta, all }, null, 2));
if (args.out) {
  fs.writeFileSync(args.out, render(all, meta));
  console.log(`wrote ${args.out}`);
}
for (const p of problems) console.log(`PROBLEM ${p}`);
console.log(`interop: ${passed} passed, ${failed} failed`);
process.exit(problems.length ? 1 : 0);
