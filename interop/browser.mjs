// The browser driver of the interop matrix: the page bundle and one thin driver for both
// engines through puppeteer-core (Chromium over CDP, Firefox over WebDriver BiDi). The
// scenario bodies are interop/scenarios.mjs, bundled into the page as the global `interop`.
import { execFileSync } from 'node:child_process';
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
 * Adds the PEM certificate `caFile` as a trusted CA ("C,,") to a new NSS database in `dir`
 * with NSS's certutil (Debian libnss3-tools). Firefox reads the one in its profile, Chromium
 * on Linux the one in $HOME/.pki/nssdb. Returns false when certutil is not installed.
 */
function trustCa(dir, caFile) {
  try {
    execFileSync('certutil', ['-N', '-d', `sql:${dir}`, '--empty-password'], { stdio: 'ignore' });
    execFileSync('certutil', ['-A', '-d', `sql:${dir}`, '-t', 'C,,', '-n', 'natsws-interop-ca', '-i', caFile], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Launches `engine` ('chromium' | 'firefox') headless with a fresh profile and a private
 * HOME; Firefox also with MOZ_DISABLE_NONLOCAL_CONNECTIONS=1 so it makes no look-ups of its
 * own. The test CA `caFile` is put in the engine's NSS database, so wss:// is checked as for
 * any site; without certutil the engine accepts any certificate instead (acceptInsecureCerts).
 * Resolves with { browser, version, tlsTrust: 'CA in NSS db' | 'acceptInsecureCerts', dispose() }.
 */
export async function launch(engine, caFile) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `natsws-interop-${engine}-`));
  const home = path.join(tmp, 'home');
  const profile = path.join(tmp, 'profile');
  fs.mkdirSync(profile);
  fs.mkdirSync(path.join(home, '.pki', 'nssdb'), { recursive: true });
  const trusted = trustCa(engine === 'firefox' ? profile : path.join(home, '.pki', 'nssdb'), caFile);
  let browser;
  if (engine === 'firefox') {
    browser = await puppeteer.launch({
      browser: 'firefox',
      executablePath: process.env.NATSWS_FIREFOX || '/usr/bin/firefox-esr',
      headless: true,
      userDataDir: profile,
      acceptInsecureCerts: !trusted,
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
      userDataDir: profile,
      acceptInsecureCerts: !trusted,
      env: { ...process.env, HOME: home },
      args: chromiumArgs,
    });
  }
  const version = await browser.version();
  return {
    browser,
    version,
    tlsTrust: trusted ? 'CA in NSS db' : 'acceptInsecureCerts',
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
