// Publish/subscribe from the browser: ordering, binary payloads, large and oversized
// payloads, wildcards, headers; each with nats.ws 1.30 and @nats-io/nats-core 3.
import { test, expect, CLIENTS, defaultServer, prefix } from '../lib/fixtures.mjs';
import { prng } from '../lib/data.mjs';

const WS = defaultServer.wsUrl;

const allBytes = () => Uint8Array.from({ length: 256 }, (_, i) => i);

for (const lib of CLIENTS) {
  test.describe(lib, () => {
    test('10,000 messages arrive in order (browser to browser and Node TCP to browser)', async ({ clientPage, tcp }, testInfo) => {
      const subj = `${prefix(testInfo)}.order`;
      const N = 10000;
      await clientPage.evaluate(async ([lib, url, subj, N]) => {
        const nc = await pw.connect(lib, { servers: url });
        const check = (sub, tag) => (async () => {
          let i = 0;
          for await (const m of sub) {
            const want = `${tag}-${i}`;
            const got = pw.td.decode(m.data);
            if (got !== want) return { count: i, mismatch: { at: i, want, got } };
            i += 1;
            if (i === N) break;
          }
          return { count: i };
        })();
        window.fromPage = check(nc.subscribe(`${subj}.page`, { max: N }), 'page');
        window.fromTcp = check(nc.subscribe(`${subj}.tcp`, { max: N }), 'tcp');
        await nc.flush();
        for (let i = 0; i < N; i++) nc.publish(`${subj}.page`, pw.te.encode(`page-${i}`));
        await nc.flush();
      }, [lib, WS, subj, N]);
      const nc = await tcp();
      const te = new TextEncoder();
      for (let i = 0; i < N; i++) nc.publish(`${subj}.tcp`, te.encode(`tcp-${i}`));
      await nc.flush();
      const [fromPage, fromTcp] = await clientPage.evaluate(() => Promise.all([window.fromPage, window.fromTcp]));
      expect(fromPage).toEqual({ count: N });
      expect(fromTcp).toEqual({ count: N });
    });

    test('binary payloads carry every byte value, across browser and TCP', async ({ clientPage, tcp }, testInfo) => {
      const subj = `${prefix(testInfo)}.bin`;
      const nc = await tcp();
      const atTcp = nc.subscribe(`${subj}.>`, { max: 257 });
      const tcpGot = (async () => { const r = []; for await (const m of atTcp) r.push({ s: m.subject, d: Array.from(m.data) }); return r; })();
      await nc.flush();
      await clientPage.evaluate(async ([lib, url, subj]) => {
        const nc = await pw.connect(lib, { servers: url });
        const sub = nc.subscribe(`${subj}.>`, { max: 514 });
        window.pageGot = pw.collect(sub, 514).then((ms) => ms.map((m) => ({ s: m.subject, d: Array.from(m.data) })));
        await nc.flush();
        // One message holding 0..255, then one single-byte message per value (CR, LF, NUL included).
        nc.publish(`${subj}.page.all`, pw.allBytes(1));
        for (let b = 0; b < 256; b++) nc.publish(`${subj}.page.one`, pw.bytes([b]));
        await nc.flush();
      }, [lib, WS, subj]);
      nc.publish(`${subj}.tcp.all`, allBytes());
      for (let b = 0; b < 256; b++) nc.publish(`${subj}.tcp.one`, Uint8Array.of(b));
      await nc.flush();

      const expected = (who) => [
        { s: `${subj}.${who}.all`, d: Array.from(allBytes()) },
        ...Array.from({ length: 256 }, (_, b) => ({ s: `${subj}.${who}.one`, d: [b] })),
      ];
      const pageGot = await clientPage.evaluate(() => window.pageGot);
      expect(pageGot.filter((m) => m.s.includes('.page.'))).toEqual(expected('page'));
      expect(pageGot.filter((m) => m.s.includes('.tcp.'))).toEqual(expected('tcp'));
      expect((await tcpGot).slice(0, 257)).toEqual(expected('page'));
    });

    test('a 200 KiB payload (64-bit frame length) crosses browser and TCP intact', async ({ clientPage, tcp, wsProxy }, testInfo) => {
      const subj = `${prefix(testInfo)}.big`;
      const SIZE = 200 * 1024;
      // Through a recording proxy, to see the 64-bit length on the browser's frame.
      const proxy = await wsProxy(defaultServer.ports.ws);
      const nc = await tcp();
      const atTcp = nc.subscribe(`${subj}.page`, { max: 1 });
      const tcpGot = (async () => { for await (const m of atTcp) return m.data; })();
      await nc.flush();
      const res = await clientPage.evaluate(async ([lib, url, subj, SIZE]) => {
        const nc = await pw.connect(lib, { servers: url });
        const payload = pw.prng(SIZE, 7);
        const own = nc.subscribe(`${subj}.page`, { max: 1 });
        const fromTcp = nc.subscribe(`${subj}.tcp`, { max: 1 });
        window.fromTcp = pw.collect(fromTcp, 1).then(([m]) => ({ len: m.data.length, same: pw.equalBytes(m.data, pw.prng(SIZE, 8)) }));
        await nc.flush();
        nc.publish(`${subj}.page`, payload);
        const [m] = await pw.collect(own, 1);
        return { len: m.data.length, same: pw.equalBytes(m.data, payload) };
      }, [lib, `ws://127.0.0.1:${proxy.port}`, subj, SIZE]);
      expect(res).toEqual({ len: SIZE, same: true });
      const up = proxy.conns[0].up;
      expect(up.frames.some((f) => f.len > 65535)).toBe(true); // 127 + 8-byte length
      expect(Buffer.from(await tcpGot).equals(Buffer.from(prng(SIZE, 7)))).toBe(true);
      nc.publish(`${subj}.tcp`, prng(SIZE, 8));
      await nc.flush();
      expect(await clientPage.evaluate(() => window.fromTcp)).toEqual({ len: SIZE, same: true });
    });

    test('a payload over max_payload is refused by the client, and by the server with its error', async ({ clientPage }, testInfo) => {
      const subj = `${prefix(testInfo)}.toobig`;
      const res = await clientPage.evaluate(async ([lib, url, subj]) => {
        const nc = await pw.connect(lib, { servers: url, reconnect: false });
        const max = nc.info.max_payload;
        let clientErr = null;
        try { nc.publish(subj, new Uint8Array(max + 1)); } catch (e) { clientErr = String(e.message || e); }
        // Announce an oversized PUB through the client's own protocol writer. Only the control
        // line is sent: the server refuses it before reading any payload, so its -ERR cannot
        // be lost to a TCP reset caused by unread payload bytes.
        const closed = nc.closed();
        nc.protocol.sendCommand(`PUB ${subj} ${max + 1}\r\n`);
        const err = await closed;
        // The client surfaces the server's -ERR text or, if the close frame was handled first,
        // the close frame's reason; nats.ws 1.30 may close with an empty error and keep the
        // server's text as the protocol's last error.
        const text = (err && err.message) || (nc.protocol.lastError && nc.protocol.lastError.message) || '';
        return { max, clientErr, serverErr: text, isClosed: nc.isClosed() };
      }, [lib, WS, subj]);
      expect(res.max).toBe(1048576);
      expect(res.clientErr).toMatch(/max.?payload/i);
      expect(res.serverErr).toMatch(/^'?(Maximum Payload Violation|Maximum Message Payload Exceeded)'?$/);
      expect(res.isClosed).toBe(true);
    });

    test('* and > wildcards select the right subjects', async ({ clientPage, tcp }, testInfo) => {
      const p = prefix(testInfo);
      await clientPage.evaluate(async ([lib, url, p]) => {
        const nc = await pw.connect(lib, { servers: url });
        // Each subscription records subjects until the sentinel `<p>.end` (or `<p>.end.x`).
        const until = async (sub, last) => { const r = []; for await (const m of sub) { r.push(m.subject); if (m.subject === last) break; } return r; };
        window.wild = Promise.all([
          until(nc.subscribe(`${p}.*`), `${p}.end`),
          until(nc.subscribe(`${p}.>`), `${p}.end.x`),
          until(nc.subscribe(`${p}.*.x`), `${p}.end.x`),
          until(nc.subscribe(`${p}.a.*.c`), `${p}.a.end.c`),
        ]);
        await nc.flush();
        for (const s of [p, `${p}.a`, `${p}.a.b`, `${p}.b.x`, `${p}.a.b.c`, `${p}x.a`, `${p}.a.x.c.d`]) nc.publish(s);
        await nc.flush();
      }, [lib, WS, p]);
      // Sentinels come from a TCP client after the page's publishes were flushed.
      const nc = await tcp();
      for (const s of [`${p}.end`, `${p}.end.x`, `${p}.a.end.c`]) nc.publish(s);
      await nc.flush();
      const [star, full, midX, aStarC] = await clientPage.evaluate(() => window.wild);
      expect(star).toEqual([`${p}.a`, `${p}.end`]);
      expect(full).toEqual([`${p}.a`, `${p}.a.b`, `${p}.b.x`, `${p}.a.b.c`, `${p}.a.x.c.d`, `${p}.end`, `${p}.end.x`]);
      expect(midX).toEqual([`${p}.b.x`, `${p}.end.x`]);
      expect(aStarC).toEqual([`${p}.a.b.c`, `${p}.a.end.c`]);
    });

    test('headers with repeated keys survive browser to browser, to TCP and back', async ({ clientPage, tcp }, testInfo) => {
      const subj = `${prefix(testInfo)}.hdr`;
      const nc = await tcp();
      const atTcp = nc.subscribe(`${subj}.page`, { max: 1 });
      const tcpGot = (async () => { for await (const m of atTcp) return m; })();
      await nc.flush();
      const res = await clientPage.evaluate(async ([lib, url, subj]) => {
        const nc = await pw.connect(lib, { servers: url });
        const own = nc.subscribe(`${subj}.page`, { max: 1 });
        const fromTcp = nc.subscribe(`${subj}.tcp`, { max: 1 });
        const view = (m) => ({
          multi: m.headers ? m.headers.values('X-Multi') : null,
          other: m.headers ? m.headers.get('X-Other') : null,
          data: pw.td.decode(m.data),
        });
        window.fromTcp = pw.collect(fromTcp, 1).then(([m]) => view(m));
        await nc.flush();
        const h = pw.libs[lib].headers();
        h.append('X-Multi', 'one');
        h.append('X-Multi', 'two');
        h.append('X-Multi', 'three, with comma');
        h.append('X-Other', 'x');
        nc.publish(`${subj}.page`, pw.te.encode('with headers'), { headers: h });
        const [m] = await pw.collect(own, 1);
        return view(m);
      }, [lib, WS, subj]);
      const want = { multi: ['one', 'two', 'three, with comma'], other: 'x', data: 'with headers' };
      expect(res).toEqual(want);
      const m = await tcpGot;
      expect(m.headers.values('X-Multi')).toEqual(want.multi);
      expect(m.headers.get('X-Other')).toBe('x');

      const { headers } = await import('nats');
      const h = headers();
      h.append('X-Multi', 'a');
      h.append('X-Multi', 'b');
      h.append('X-Other', 'y');
      nc.publish(`${subj}.tcp`, new Uint8Array(0), { headers: h });
      await nc.flush();
      expect(await clientPage.evaluate(() => window.fromTcp)).toEqual({ multi: ['a', 'b'], other: 'y', data: '' });
    });
  });
}
