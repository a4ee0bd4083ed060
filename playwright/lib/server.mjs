// Starts, stops and restarts a NATS server binary (natsws or the reference
// nats-server) on loopback ports, from a fixture config in nats-server syntax.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..');
export const fixturesDir = path.resolve(here, '..', 'fixtures');

/** The server binary: `NATSWS_SERVER_BIN`, else target/debug/natsws, else target/release/natsws. */
export function serverBinary() {
  const fromEnv = process.env.NATSWS_SERVER_BIN;
  if (fromEnv) return fromEnv;
  for (const p of ['target/debug/natsws', 'target/release/natsws']) {
    const full = path.join(repoRoot, p);
    if (fs.existsSync(full)) return full;
  }
  throw new Error('no server binary: build natsws (cargo build -p natsws-server --bin natsws) or set NATSWS_SERVER_BIN');
}

/**
 * The reference nats-server (a peer in tests that need one, e.g. a leafnode hub with
 * JetStream): `NATS_SERVER_BIN` (set by scripts/test-playwright.sh from
 * scripts/install-reference.sh). Throws when it is not set or not executable.
 */
export function referenceBinary() {
  const bin = process.env.NATS_SERVER_BIN;
  if (!bin || !fs.existsSync(bin)) {
    throw new Error(`no reference nats-server: NATS_SERVER_BIN=${bin} (run through scripts/test-playwright.sh)`);
  }
  return bin;
}

/** Server logs (stdout and stderr of every server started) go here, one file per server. */
export const logDir = process.env.NATSWS_PW_LOG_DIR || path.resolve(here, '..', '.tmp', 'logs');

/**
 * Command-line arguments: `NATSWS_SERVER_ARGS` (space-separated, `{config}` replaced by the
 * config path), default `-c {config}` as for nats-server.
 */
export function serverArgs(confPath) {
  const tmpl = process.env.NATSWS_SERVER_ARGS || '-c {config}';
  return tmpl.split(/\s+/).filter(Boolean).map((a) => a.replace('{config}', confPath));
}

/** A free TCP port on 127.0.0.1 (the kernel picks it; we release it for the server). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Fills `{{NAME}}` placeholders of a fixture config. Unknown placeholders are an error. */
export function renderConfig(name, vars) {
  const text = fs.readFileSync(path.join(fixturesDir, name), 'utf8');
  return text.replace(/\{\{([A-Z_]+)\}\}/g, (_, key) => {
    if (!(key in vars)) throw new Error(`fixture ${name}: no value for {{${key}}}`);
    return String(vars[key]);
  });
}

function tryConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  });
}

/** GET a monitoring endpoint (e.g. `/connz?subs=1`) and parse its JSON. */
export function monitor(port, p) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: p }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`GET ${p}: ${res.statusCode} ${body}`));
        try { resolve(JSON.parse(body)); } catch (e) { reject(new Error(`GET ${p}: bad JSON: ${e.message}`)); }
      });
    }).on('error', reject);
  });
}

/**
 * A running server. `ports` = { client, ws, http }. Methods: start(), stop(), restart() (same ports).
 */
export class NatsServer {
  /** `bin`: another server binary than the one under test (e.g. [`referenceBinary`]). */
  constructor({ fixture = 'default.conf', vars = {}, name = 'server', bin = serverBinary() } = {}) {
    this.fixture = fixture;
    this.extraVars = vars;
    this.name = name;
    this.bin = bin;
    this.proc = null;
    this.log = [];
  }

  async init() {
    this.ports = { client: await freePort(), ws: await freePort(), http: await freePort() };
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `natsws-pw-${this.name}-`));
    this.confPath = path.join(this.dir, this.fixture);
    // A var given as a function (e.g. `freePort`) is called again on each init, so a retried
    // start gets a fresh value too.
    this.vars = {};
    for (const [k, v] of Object.entries(this.extraVars)) this.vars[k] = typeof v === 'function' ? await v() : v;
    const conf = renderConfig(this.fixture, {
      CLIENT_PORT: this.ports.client, WS_PORT: this.ports.ws, HTTP_PORT: this.ports.http, ...this.vars,
    });
    fs.writeFileSync(this.confPath, conf);
    return this;
  }

  get wsUrl() { return `ws://127.0.0.1:${this.ports.ws}`; }
  get natsUrl() { return `nats://127.0.0.1:${this.ports.client}`; }

  /**
   * Starts the server and waits until its listeners accept connections. The ports come from
   * `freePort()`, which releases them before the server binds, so another socket can take one in
   * between (an outgoing connection's ephemeral port, another test's server): on the first start
   * a server that exits with "address already in use" is retried on fresh ports, up to 5 times.
   * `restart()` keeps the ports and does not retry.
   */
  async start() {
    if (this.ports) return this.spawnAndWait();
    for (let attempt = 1; ; attempt++) {
      await this.init();
      try {
        return await this.spawnAndWait();
      } catch (e) {
        const inUse = /address already in use/i.test(e.message);
        if (!inUse || attempt >= 5) throw e;
        fs.rmSync(this.dir, { recursive: true, force: true });
        this.log = [];
      }
    }
  }

  async spawnAndWait() {
    const proc = spawn(this.bin, serverArgs(this.confPath), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    fs.mkdirSync(logDir, { recursive: true });
    const logFile = fs.createWriteStream(path.join(logDir, `${this.name}-${process.pid}.log`), { flags: 'a' });
    proc.on('close', () => logFile.end()); // after the last stdout/stderr data, unlike 'exit'
    const keep = (d) => {
      logFile.write(d);
      this.log.push(d.toString());
      if (this.log.length > 200) this.log.shift();
    };
    proc.stdout.on('data', keep);
    proc.stderr.on('data', keep);
    let exited = null;
    proc.on('exit', (code, sig) => { exited = { code, sig }; });
    // Ready when the client, websocket and monitoring listeners all accept connections.
    const deadline = Date.now() + 20000;
    for (;;) {
      if (exited) throw new Error(`${this.bin} exited during start (${JSON.stringify(exited)}):\n${this.log.join('')}`);
      if (await tryConnect(this.ports.client) && await tryConnect(this.ports.ws)
          && await tryConnect(this.ports.http)) return this;
      if (Date.now() > deadline) {
        await this.stop();
        throw new Error(`${this.bin} not ready after 20 s:\n${this.log.join('')}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop() {
    const proc = this.proc;
    if (!proc) return;
    this.proc = null;
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const done = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await done;
    clearTimeout(t);
  }

  /** Stops the server and starts it again on the same ports with the same config. */
  async restart() {
    await this.stop();
    await this.start();
  }

  async dispose() {
    await this.stop();
    if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
  }

  monitor(p) { return monitor(this.ports.http, p); }
}
