// Test fixtures: `env` (what global setup started), `clientPage` (the page loaded with
// both clients), `openPage(url)` for extra pages, `tcp(url)` for Node TCP clients and
// `wsProxy(port)` for a recording proxy (lib/proxy.mjs) in front of a websocket port.
import { test as base, expect } from '@playwright/test';
import { connect as tcpConnect } from 'nats';
import { monitor } from './server.mjs';
import { startProxy } from './proxy.mjs';

export const env = JSON.parse(process.env.NATSWS_PW || 'null');
if (!env) throw new Error('NATSWS_PW missing: run through playwright with the global setup');

/** The default server's websocket URL, client URL and monitoring helper. */
export const defaultServer = {
  ports: env.server.ports,
  wsUrl: `ws://127.0.0.1:${env.server.ports.ws}`,
  natsUrl: `nats://127.0.0.1:${env.server.ports.client}`,
  monitor: (p) => monitor(env.server.ports.http, p),
};

export const CLIENTS = ['nats.ws', 'nats-core'];

let uniq = 0;
/** A subject prefix unique to this worker and test, so tests can share one server. */
export function prefix(testInfo) {
  uniq += 1;
  return `pw.w${testInfo.workerIndex}.t${uniq}.${Math.floor(Math.random() * 1e9)}`;
}

async function loadPage(page, url) {
  const errors = [];
  page.on('pageerror', (e) => errors.push(e));
  await page.goto(url);
  await page.waitForFunction(() => !!(window.pw && window.natsws && window.natsCore));
  page.__errors = errors;
  return page;
}

export const test = base.extend({
  clientPage: async ({ page }, use) => {
    await loadPage(page, env.pageUrl);
    await use(page);
    await page.evaluate(() => window.pw.closeAll()).catch(() => {});
    expect(page.__errors.map(String)).toEqual([]);
  },
  openPage: async ({ browser }, use) => {
    const contexts = [];
    await use(async (url = env.pageUrl) => {
      const ctx = await browser.newContext();
      contexts.push(ctx);
      return loadPage(await ctx.newPage(), url);
    });
    for (const ctx of contexts) {
      for (const p of ctx.pages()) await p.evaluate(() => window.pw.closeAll()).catch(() => {});
      await ctx.close();
    }
  },
  wsProxy: async ({}, use) => {
    const proxies = [];
    await use(async (port) => {
      const p = await startProxy(port);
      proxies.push(p);
      return p;
    });
    for (const p of proxies) await p.close();
  },
  tcp: async ({}, use) => {
    const conns = [];
    await use(async (url = defaultServer.natsUrl, opts = {}) => {
      const nc = await tcpConnect({ servers: url, name: 'pw-node-tcp', ...opts });
      conns.push(nc);
      return nc;
    });
    for (const nc of conns) if (!nc.isClosed()) await nc.close();
  },
});

export { expect };
