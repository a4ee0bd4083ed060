// The browser client reconnects after the server restarts on the same ports, and its
// subscriptions work again.
import { test, expect, CLIENTS, prefix } from '../lib/fixtures.mjs';
import { NatsServer } from '../lib/server.mjs';

const te = new TextEncoder();
const td = new TextDecoder();

let server;
test.beforeAll(async () => {
  server = new NatsServer({ fixture: 'default.conf', name: 'reconnect' });
  await server.start();
});
test.afterAll(async () => { await server?.dispose(); });

for (const lib of CLIENTS) {
  test(`${lib}: reconnects after a server restart and resumes its subscription`, async ({ clientPage, tcp }, testInfo) => {
    const subj = `${prefix(testInfo)}.rc`;
    const url = server.wsUrl;
    await clientPage.evaluate(async ([lib, url, subj]) => {
      const nc = await pw.connect(lib, { servers: url, reconnectTimeWait: 100, maxReconnectAttempts: -1, pingInterval: 60000 });
      window.nc = nc;
      window.events = [];
      window.reconnected = new Promise((resolve) => {
        (async () => {
          for await (const s of nc.status()) {
            window.events.push(s.type);
            if (s.type === 'reconnect') resolve();
          }
        })();
      });
      const sub = nc.subscribe(subj);
      window.got = [];
      window.waitFor = (n) => new Promise((resolve) => {
        const tick = () => (window.got.length >= n ? resolve(window.got.slice()) : setTimeout(tick, 10));
        tick();
      });
      (async () => { for await (const m of sub) window.got.push(pw.td.decode(m.data)); })();
      await nc.flush();
    }, [lib, url, subj]);

    const before = await tcp(server.natsUrl, { reconnect: false });
    before.publish(subj, te.encode('before'));
    await before.flush();
    expect(await clientPage.evaluate(() => window.waitFor(1))).toEqual(['before']);
    await before.close();

    await server.restart();
    // After `reconnect`, a flush round trip proves the re-sent SUB reached the new server.
    await clientPage.evaluate(async () => { await window.reconnected; await window.nc.flush(); });
    const events = await clientPage.evaluate(() => window.events);
    // `disconnect` came before `reconnect` (other events such as `reconnecting` or an INFO
    // `update` may be interleaved).
    expect(events).toContain('disconnect');
    expect(events.indexOf('disconnect')).toBeLessThan(events.indexOf('reconnect'));

    // The client re-subscribed on the new server: a TCP publisher reaches it, and it can publish.
    const after = await tcp(server.natsUrl, { reconnect: false });
    const echo = after.subscribe(`${subj}.back`, { max: 1 });
    const echoed = (async () => { for await (const m of echo) return td.decode(m.data); })();
    await after.flush();
    after.publish(subj, te.encode('after'));
    await after.flush();
    expect(await clientPage.evaluate(() => window.waitFor(2))).toEqual(['before', 'after']);
    await clientPage.evaluate(async (subj) => { window.nc.publish(`${subj}.back`, pw.te.encode('from page')); await window.nc.flush(); }, subj);
    expect(await echoed).toBe('from page');
    const info = await clientPage.evaluate(() => window.nc.info);
    expect(info.port).toBe(server.ports.ws);
  });
}
