// wss:// from Chromium: the browser trusts the test certificate by its key
// (`--ignore-certificate-errors-spki-list`), both clients connect through TLS,
// and messages cross between the browser and a Node TCP client over TLS.
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from '@playwright/test';
import { connect as tcpConnect } from 'nats';
import { test, expect, CLIENTS, env } from '../lib/fixtures.mjs';
import { NatsServer } from '../lib/server.mjs';

let dir;
let server;
let browser;
let certPem;

/** A self-signed P-256 certificate for 127.0.0.1 made with openssl. */
function makeCert(d) {
  const cert = path.join(d, 'cert.pem');
  const key = path.join(d, 'key.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '-keyout', key, '-out', cert,
  ], { stdio: 'ignore' });
  return { cert, key };
}

/** base64 SHA-256 of the certificate's SubjectPublicKeyInfo (Chromium's SPKI pin format). */
function spki(pem) {
  const der = new crypto.X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' });
  return crypto.createHash('sha256').update(der).digest('base64');
}

test.beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'natsws-pw-tls-'));
  const { cert, key } = makeCert(dir);
  certPem = fs.readFileSync(cert, 'utf8');
  server = new NatsServer({ fixture: 'tls.conf', name: 'tls', vars: { CERT_FILE: cert, KEY_FILE: key } });
  await server.start();
  browser = await chromium.launch({
    executablePath: process.env.NATSWS_CHROMIUM || '/usr/bin/chromium',
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      `--ignore-certificate-errors-spki-list=${spki(certPem)}`,
    ],
  });
});

test.afterAll(async () => {
  if (browser) await browser.close();
  if (server) await server.dispose();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

async function trustingPage() {
  const page = await browser.newPage();
  await page.goto(env.pageUrl);
  await page.waitForFunction(() => !!(window.pw && window.natsws && window.natsCore));
  return page;
}

for (const lib of CLIENTS) {
  test(`${lib}: wss connect, INFO says TLS, messages cross to and from TCP over TLS`, async () => {
    const page = await trustingPage();
    const wssUrl = `wss://127.0.0.1:${server.ports.ws}`;
    const nc = await tcpConnect({ servers: server.natsUrl, tls: { ca: certPem }, name: 'pw-tls-tcp' });
    try {
      const subj = `pw.tls.${lib}.${Math.floor(Math.random() * 1e9)}`;
      // The browser subscribes, then asks TCP to publish; it also answers a request.
      const got = page.evaluate(async ([lib, url, subj]) => {
        const c = await pw.connect(lib, { servers: url });
        const sub = c.subscribe(`${subj}.in`, { max: 1 });
        c.subscribe(`${subj}.req`, { callback: (_e, m) => m.respond(pw.te.encode('pong-over-wss')) });
        await c.flush();
        c.publish(`${subj}.ready`);
        const [m] = await pw.collect(sub, 1);
        return { info: c.info, data: pw.td.decode(m.data) };
      }, [lib, wssUrl, subj]);
      const ready = nc.subscribe(`${subj}.ready`, { max: 1 });
      for await (const _ of ready) break;
      nc.publish(`${subj}.in`, new TextEncoder().encode('hello-over-tls'));
      const r = await nc.request(`${subj}.req`, new Uint8Array(), { timeout: 5000 });
      expect(new TextDecoder().decode(r.data)).toBe('pong-over-wss');
      const { info, data } = await got;
      expect(data).toBe('hello-over-tls');
      expect(info.tls_required).toBe(true);
      expect(info.tls_available).toBe(true);
      expect(info.port).toBe(server.ports.ws);
    } finally {
      await page.evaluate(() => window.pw.closeAll()).catch(() => {});
      await page.close();
      await nc.close();
    }
  });
}

test('a browser that does not trust the certificate cannot open wss', async ({ clientPage }) => {
  const outcome = await clientPage.evaluate((url) => new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.onopen = () => { ws.close(); resolve('open'); };
    ws.onclose = (ev) => resolve(`closed ${ev.code}`);
  }), `wss://127.0.0.1:${server.ports.ws}`);
  expect(outcome).toBe('closed 1006');
});
