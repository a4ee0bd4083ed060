// Request/reply, no responders, queue groups shared with a Node TCP client,
// unsubscribe / drain / close, and two pages chatting through one subject.
import { test, expect, CLIENTS, defaultServer, prefix } from '../lib/fixtures.mjs';

const WS = defaultServer.wsUrl;
const te = new TextEncoder();
const td = new TextDecoder();

for (const lib of CLIENTS) {
  test.describe(lib, () => {
    test('request/reply between browser and TCP, and no responders (503)', async ({ clientPage, tcp }, testInfo) => {
      const p = prefix(testInfo);
      const nc = await tcp();
      // A TCP responder the browser will call.
      const tcpSvc = nc.subscribe(`${p}.tcp.svc`);
      (async () => { for await (const m of tcpSvc) m.respond(te.encode(`tcp:${td.decode(m.data)}`)); })();
      await nc.flush();

      const res = await clientPage.evaluate(async ([lib, url, p]) => {
        const nc = await pw.connect(lib, { servers: url });
        // A browser responder the browser and the TCP client call.
        const svc = nc.subscribe(`${p}.page.svc`);
        (async () => { for await (const m of svc) m.respond(pw.te.encode(`page:${pw.td.decode(m.data)}`)); })();
        await nc.flush();
        const r1 = await nc.request(`${p}.page.svc`, pw.te.encode('a'), { timeout: 5000 });
        const r2 = await nc.request(`${p}.tcp.svc`, pw.te.encode('b'), { timeout: 5000 });
        let noResp = null;
        try {
          await nc.request(`${p}.nobody`, pw.te.encode('c'), { timeout: 5000 });
          noResp = 'answered';
        } catch (e) {
          noResp = { isNoResponders: pw.libs[lib].isNoResponders(e), message: String(e.message) };
        }
        return { r1: pw.td.decode(r1.data), r2: pw.td.decode(r2.data), noResp };
      }, [lib, WS, p]);
      expect(res.r1).toBe('page:a');
      expect(res.r2).toBe('tcp:b');
      expect(res.noResp.isNoResponders).toBe(true);
      expect(res.noResp.message).toMatch(/503|no responders/i);

      const r3 = await nc.request(`${p}.page.svc`, te.encode('d'), { timeout: 5000 });
      expect(td.decode(r3.data)).toBe('page:d');
    });

    test('a queue group shared by a browser and a Node TCP client delivers each message once', async ({ clientPage, tcp }, testInfo) => {
      const subj = `${prefix(testInfo)}.work`;
      const N = 200;
      const member = await tcp();
      const tcpIds = [];
      const tcpSub = member.subscribe(subj, { queue: 'workers' });
      (async () => { for await (const m of tcpSub) tcpIds.push(Number(td.decode(m.data))); })();
      await member.flush();
      await clientPage.evaluate(async ([lib, url, subj]) => {
        const nc = await pw.connect(lib, { servers: url });
        window.pageIds = [];
        window.allIds = [];
        const q = nc.subscribe(subj, { queue: 'workers' });
        (async () => { for await (const m of q) window.pageIds.push(Number(pw.td.decode(m.data))); })();
        // A plain subscriber on the same subject sees every message.
        const all = nc.subscribe(subj);
        (async () => { for await (const m of all) window.allIds.push(Number(pw.td.decode(m.data))); })();
        await nc.flush();
      }, [lib, WS, subj]);
      const publisher = await tcp();
      for (let i = 0; i < N; i++) publisher.publish(subj, te.encode(String(i)));
      await publisher.flush();

      await expect.poll(async () => (await clientPage.evaluate(() => window.allIds.length))).toBe(N);
      await expect.poll(async () => tcpIds.length + (await clientPage.evaluate(() => window.pageIds.length))).toBe(N);
      // Round trips on both members: anything still in flight would have arrived by now.
      await member.flush();
      const { pageIds, allIds } = await clientPage.evaluate(async () => {
        await Promise.all(window.__conns.map((c) => c.flush()));
        return { pageIds: window.pageIds, allIds: window.allIds };
      });
      expect(allIds).toEqual(Array.from({ length: N }, (_, i) => i));
      const both = [...pageIds, ...tcpIds].sort((a, b) => a - b);
      expect(both).toEqual(Array.from({ length: N }, (_, i) => i)); // each exactly once
      expect(pageIds.length).toBeGreaterThan(0);
      expect(tcpIds.length).toBeGreaterThan(0);
    });

    test('unsubscribe and auto-unsubscribe stop delivery and remove the server-side subscription', async ({ clientPage, tcp }, testInfo) => {
      const p = prefix(testInfo);
      const cid = await clientPage.evaluate(async ([lib, url, p]) => {
        const nc = await pw.connect(lib, { servers: url });
        window.nc = nc;
        window.gone = nc.subscribe(`${p}.gone`);
        window.auto = nc.subscribe(`${p}.auto`, { max: 3 });
        window.autoGot = pw.collect(window.auto, 100).then((ms) => ms.map((m) => pw.td.decode(m.data)));
        window.sentinel = nc.subscribe(`${p}.sentinel`, { max: 1 });
        await nc.flush();
        return nc.info.client_id;
      }, [lib, WS, p]);
      const subsOf = async () => (await defaultServer.monitor(`/connz?cid=${cid}&subs=1`)).connections[0].subscriptions_list || [];
      expect((await subsOf()).sort()).toEqual([`${p}.auto`, `${p}.gone`, `${p}.sentinel`]);

      const nc = await tcp();
      nc.publish(`${p}.gone`, te.encode('1'));
      await nc.flush();
      const first = await clientPage.evaluate(async () => {
        const [m] = await pw.collect(window.gone, 1);
        window.gone.unsubscribe();
        await window.nc.flush();
        return pw.td.decode(m.data);
      });
      expect(first).toBe('1');
      for (let i = 1; i <= 5; i++) nc.publish(`${p}.auto`, te.encode(String(i)));
      nc.publish(`${p}.gone`, te.encode('2'));
      nc.publish(`${p}.sentinel`, te.encode('end'));
      await nc.flush();
      const after = await clientPage.evaluate(async () => {
        await pw.collect(window.sentinel, 1);
        return { goneProcessed: window.gone.getProcessed(), goneClosed: window.gone.isClosed(), auto: await window.autoGot };
      });
      // The sentinel was published last, so the `gone` message had its chance to arrive.
      expect(after).toEqual({ goneProcessed: 1, goneClosed: true, auto: ['1', '2', '3'] });
      expect(await subsOf()).toEqual([]);
    });

    test('drain delivers what was in flight, then closes; close ends the connection on the server', async ({ clientPage, tcp }, testInfo) => {
      const p = prefix(testInfo);
      const nc = await tcp();
      const res = await clientPage.evaluate(async ([lib, url, p]) => {
        const a = await pw.connect(lib, { servers: url, name: 'drainer' });
        const got = [];
        const sub = a.subscribe(`${p}.drain`, { callback: (err, m) => { if (!err) got.push(pw.td.decode(m.data)); } });
        await a.flush();
        const cid = a.info.client_id;
        for (let i = 0; i < 100; i++) a.publish(`${p}.drain`, pw.te.encode(String(i)));
        const closed = a.closed();
        await a.drain();
        const closeResult = await closed;
        let pubAfter = null;
        try { a.publish(`${p}.drain`, pw.te.encode('late')); } catch (e) { pubAfter = String(e.message || e); }
        return { count: got.length, inOrder: got.every((v, i) => v === String(i)), closeResult: closeResult === undefined ? 'ok' : String(closeResult), isClosed: a.isClosed(), subClosed: sub.isClosed(), pubAfter, cid };
      }, [lib, WS, p]);
      expect(res).toMatchObject({ count: 100, inOrder: true, closeResult: 'ok', isClosed: true, subClosed: true });
      expect(res.pubAfter).toMatch(/clos|drain/i);
      // The server notices the close asynchronously.
      await expect.poll(async () => (await defaultServer.monitor(`/connz?state=closed&cid=${res.cid}`)).connections.length).toBe(1);
      const closedConn = await defaultServer.monitor(`/connz?state=closed&cid=${res.cid}`);
      expect(closedConn.connections[0].reason).toBe('Client Closed');

      const b = await clientPage.evaluate(async ([lib, url]) => {
        const b = await pw.connect(lib, { servers: url, name: 'closer' });
        await b.flush();
        const cid = b.info.client_id;
        await b.close();
        return { cid, isClosed: b.isClosed(), closeResult: String(await b.closed()) };
      }, [lib, WS]);
      expect(b).toMatchObject({ isClosed: true, closeResult: 'undefined' });
      await expect.poll(async () => (await defaultServer.monitor(`/connz?state=closed&cid=${b.cid}`)).connections.length).toBe(1);
      const c = (await defaultServer.monitor(`/connz?state=closed&cid=${b.cid}`)).connections[0];
      expect(c.reason).toBe('Client Closed');
      expect((await defaultServer.monitor(`/connz?cid=${b.cid}`)).connections).toEqual([]);
      await nc.flush();
    });
  });
}

test('two pages chat through one subject (nats.ws page and nats-core page)', async ({ openPage }, testInfo) => {
  const room = `${prefix(testInfo)}.chat.room`;
  const N = 20;
  const alice = await openPage();
  const bob = await openPage();
  const join = (page, lib, who) => page.evaluate(async ([lib, url, room, who, N]) => {
    const nc = await pw.connect(lib, { servers: url, name: who });
    const sub = nc.subscribe(room, { max: 2 * N });
    window.heard = pw.collect(sub, 2 * N).then((ms) => ms.map((m) => JSON.parse(pw.td.decode(m.data))));
    await nc.flush();
    window.say = async () => {
      for (let i = 0; i < N; i++) nc.publish(room, pw.te.encode(JSON.stringify({ from: who, i, text: `hello ${i} from ${who} ✓` })));
      await nc.flush();
    };
  }, [lib, WS, room, who, N]);
  await join(alice, 'nats.ws', 'alice');
  await join(bob, 'nats-core', 'bob');
  await Promise.all([alice.evaluate(() => window.say()), bob.evaluate(() => window.say())]);
  const [aHeard, bHeard] = await Promise.all([alice.evaluate(() => window.heard), bob.evaluate(() => window.heard)]);
  for (const heard of [aHeard, bHeard]) {
    expect(heard).toHaveLength(2 * N);
    for (const who of ['alice', 'bob']) {
      // Each sender's lines arrive complete and in the order they were said.
      expect(heard.filter((m) => m.from === who)).toEqual(
        Array.from({ length: N }, (_, i) => ({ from: who, i, text: `hello ${i} from ${who} ✓` })));
    }
  }
});
