// The browser driver of the interop matrix: the page bundle and one thin driver for both
// engines through puppeteer-core (Chromium over CDP, Firefox over WebDriver BiDi). The
// scenario bodies are interop/scenarios.mjs, bundled into the page as the global `interop`.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import puppeteer from 'puppeteer-core';
import { buildPage } from '../playwright/lib/web.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Writes interop.html and its scripts (nats-ws.js, nats-core.js, scenarios.js) into `dir`. */
export async function buildInteropPage(dir) {
  await buildPage(dir); // nats-ws.js (global natsws) and nats-core.js (global natsCore)
  await build({
    entryPoints: [path.join(here, 'scenarios.mjs')], bundle: true, format: 'iife', globalName: 'interop',
    platform: 'browser', target: 'es2020', logLevel: 'warning', outfile: path.join(dir, 'scenarios.js'),
  });
  fs.writeFileSync(path.join(dir, 'interop.html'), `<!doctype html>
<html><head><meta charset="utf-8"><title>natsws interop</title>
<script src="/nats-ws.js"></script><script src="/nats-core.js"></script><script src="/scenarios.js"></script>
</head><body>natsws interop page</body></html>
`);
}

const chromiumArgs = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/**
 * Launches `engine` ('chromium' | 'firefox') headless with a fresh profile. Firefox gets a
 * private HOME and MOZ_DISABLE_NONLOCAL_CONNECTIONS=1 so it makes no look-ups of its own.
 * Both accept the test certificate (acceptInsecureCerts) for wss://.
 * Resolves with { browser, version, dispose() }.
 */
export async function launch(engine) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `natsws-interop-${engine}-`));
  let browser;
  if (engine === 'firefox') {
    const home = path.join(tmp, 'home');
    const profile = path.join(tmp, 'profile');
    fs.mkdirSync(home);
    fs.mkdirSync(profile);
    browser = await puppeteer.launch({
      browser: 'firefox',
      executablePath: process.env.NATSWS_FIREFOX || '/usr/bin/firefox-esr',
      headless: true,
      userDataDir: profile,
      acceptInsecureCerts: true,
      env: { ...process.env, HOME: home, MOZ_DISABLE_NONLOCAL_CONNECTIONS: '1' },
      extraPrefsFirefox: {
        'network.dns.disableIPv6': true,
        'app.update.enabled': false,
        'browser.safebrowsing.malware.enabled': false,
        'browser.safebrowsing.phishing.enabled': false,
      },
    });
  } else {
    browser = await puppeteer.launch({
      browser: 'chrome',
      executablePath: process.env.NATSWS_CHROMIUM || '/usr/bin/chromium',
      headless: true,
      userDataDir: path.join(tmp, 'profile'),
      acceptInsecureCerts: true,
      args: chromiumArgs,
    });
  }
  const version = await browser.version();
  return {
    browser,
    version,
    async dispose() {
      await browser.close().catch(() => {});
      fs.rmSync(tmp, { recursive: true, force: true });
    },
  };
}

/**
 * Firefox reports two WebSocket events as page errors although no script threw and the
 * clients see an ordinary close or connect failure: a socket closed before the close
 * handshake completes ("The connection to ws://… was interrupted while the page was
 * loading.") and a refused connect, e.g. reconnect attempts while the server restarts
 * ("Firefox can’t establish a connection to the server at ws://…."). Not scenario failures
 * (docs/interop.md, notes); any other page error is.
 */
const FIREFOX_WS_NOISE = new RegExp([
  '^Error: The connection to wss?://\\S+ was interrupted while the page was loading\\.$',
  '^Error: Firefox can.t establish a connection to the server at wss?://\\S+\\.$',
].join('|'));

/**
 * Runs `ids` with client `lib` ('nats.ws' | 'nats-core') in a fresh browser context of
 * `browser`, on the page at `pageUrl`. Resolves with { [id]: {status, detail, ms} }. An
 * uncaught page error fails the scenario during which it happened.
 */
export async function runInBrowser(browser, pageUrl, lib, ids, cfg) {
  const context = await browser.createBrowserContext();
  const out = {};
  try {
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => { if (!FIREFOX_WS_NOISE.test(String(e))) errors.push(String(e)); });
    await page.goto(pageUrl);
    await page.waitForFunction(() => !!(window.interop && window.natsws && window.natsCore), { timeout: 20000 });
    for (const id of ids) {
      const before = errors.length;
      let r;
      try {
        r = await page.evaluate((l, i, c) => window.interop.runInPage(l, i, c), lib, id, cfg);
      } catch (e) {
        r = { status: 'fail', detail: `driver: ${e.message}` };
      }
      if (errors.length > before && r.status === 'pass') {
        r = { status: 'fail', detail: `page error: ${errors.slice(before).join('; ')}` };
      }
      out[id] = r;
    }
  } finally {
    await context.close().catch(() => {});
  }
  return out;
}
