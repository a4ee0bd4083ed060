// allowed_origins: a page from a listed origin connects; a page from another origin
// (same host, other port) is refused with 403 during the upgrade.
import net from 'node:net';
import { test, expect, CLIENTS, env } from '../lib/fixtures.mjs';
import { NatsServer } from '../lib/server.mjs';

const allowedOrigin = new URL(env.pageUrl).origin;
const otherOrigin = new URL(env.otherPageUrl).origin;

let server;
test.beforeAll(async () => {
  server = new NatsServer({ fixture: 'origins.conf', name: 'origins', vars: { ALLOWED_ORIGIN: allowedOrigin } });
  await server.start();
});
test.afterAll(async () => { await server?.dispose(); });

/** Status line of a raw upgrade request sent from Node with the given extra headers. */
function upgradeStatus(port, extra) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      s.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`
        + `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`);
    });
    let buf = '';
    s.setEncoding('latin1');
    s.on('data', (d) => {
      buf += d;
      const i = buf.indexOf('\r\n');
      if (i >= 0) { s.destroy(); resolve(buf.slice(0, i)); }
    });
    s.on('error', reject);
  });
}

for (const lib of CLIENTS) {
  test(`${lib}: a page from an allowed origin connects; one from another origin is refused`, async ({ openPage, wsProxy }) => {
    expect(allowedOrigin).not.toBe(otherOrigin);
    const good = await openPage(env.pageUrl);
    const ok = await good.evaluate(async ([lib, url]) => {
      const nc = await pw.connect(lib, { servers: url, reconnect: false });
      await nc.flush();
      return { name: nc.info.server_name, origin: location.origin };
    }, [lib, server.wsUrl]);
    expect(ok).toEqual({ name: 'natsws-pw-origins', origin: allowedOrigin });

    const proxy = await wsProxy(server.ports.ws);
    const bad = await openPage(env.otherPageUrl);
    const res = await bad.evaluate(async ([lib, url]) => {
      try {
        const nc = await pw.connect(lib, { servers: url, reconnect: false, timeout: 5000 });
        await nc.close();
        return { connected: true, origin: location.origin };
      } catch (e) {
        return { connected: false, origin: location.origin, error: String(e && e.message) };
      }
    }, [lib, `ws://127.0.0.1:${proxy.port}`]);
    expect(res.connected).toBe(false);
    expect(res.origin).toBe(otherOrigin);
    // On the wire: the browser sent its origin and the server answered 403 instead of 101.
    expect(proxy.conns.length).toBeGreaterThan(0);
    for (const c of proxy.conns) {
      expect(c.up.header('origin')).toBe(otherOrigin);
      expect(c.down.statusLine).toBe('HTTP/1.1 403 Forbidden');
    }
  });
}

test('raw browser WebSocket from a disallowed origin never opens', async ({ openPage }) => {
  const bad = await openPage(env.otherPageUrl);
  const r = await bad.evaluate((url) => new Promise((resolve) => {
    const ws = new WebSocket(url);
    let opened = false;
    ws.onopen = () => { opened = true; };
    ws.onclose = (ev) => resolve({ opened, code: ev.code });
  }), server.wsUrl);
  expect(r).toEqual({ opened: false, code: 1006 });
});

test('clients without an Origin header (native clients) are not subject to the list', async () => {
  expect(await upgradeStatus(server.ports.ws, '')).toBe('HTTP/1.1 101 Switching Protocols');
  expect(await upgradeStatus(server.ports.ws, `Origin: ${otherOrigin}\r\n`)).toBe('HTTP/1.1 403 Forbidden');
  expect(await upgradeStatus(server.ports.ws, `Origin: ${allowedOrigin}\r\n`)).toBe('HTTP/1.1 101 Switching Protocols');
});
