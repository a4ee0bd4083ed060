// permessage-deflate: negotiated when the server has `compression: true` (and the messages
// still arrive intact), never negotiated when it is off. A recording TCP proxy between the
// browser and the server shows the negotiated extension, the RSV1 bit and the wire bytes.
import { test, expect, CLIENTS, defaultServer, prefix } from '../lib/fixtures.mjs';
import { prng } from '../lib/data.mjs';
import { NatsServer } from '../lib/server.mjs';

const DEFLATE = 'permessage-deflate; server_no_context_takeover; client_no_context_takeover';
const te = new TextEncoder();

let compressed;
test.beforeAll(async () => {
  compressed = new NatsServer({ fixture: 'compression.conf', name: 'compression' });
  await compressed.start();
});
test.afterAll(async () => { await compressed?.dispose(); });

/** Sizes of the messages sent each way; all above the 64-byte threshold except the first. */
const SIZES = [10, 100, 4096, 10000, 200 * 1024];

/**
 * In the page: connects through `url`, subscribes, publishes a compressible message of every
 * size, and waits for its own copies plus the same sizes published by TCP (`<subj>.tcp`).
 */
async function exchange(page, lib, url, subj) {
  await page.evaluate(async ([lib, url, subj, SIZES]) => {
    const text = (n, tag) => pw.te.encode(`${tag}:` + 'natsws compresses this line. '.repeat(Math.ceil(n / 29)).slice(0, n - tag.length - 1));
    const nc = await pw.connect(lib, { servers: url });
    const own = nc.subscribe(`${subj}.page`, { max: SIZES.length });
    const fromTcp = nc.subscribe(`${subj}.tcp`, { max: SIZES.length });
    const check = (sub, tag) => pw.collect(sub, SIZES.length).then((ms) => ms.map((m, i) => pw.equalBytes(m.data, text(SIZES[i], tag)) ? SIZES[i] : `bad message ${i}`));
    window.got = Promise.all([check(own, 'page'), check(fromTcp, 'tcp')]);
    await nc.flush();
    for (const n of SIZES) nc.publish(`${subj}.page`, text(n, 'page'));
    await nc.flush();
  }, [lib, url, subj, SIZES]);
}
function tcpText(n, tag) {
  return te.encode(`${tag}:` + 'natsws compresses this line. '.repeat(Math.ceil(n / 29)).slice(0, n - tag.length - 1));
}
const TOTAL = SIZES.reduce((a, b) => a + b, 0);

for (const lib of CLIENTS) {
  test(`${lib}: compression on: negotiated, frames carry RSV1 both ways, messages intact`, async ({ clientPage, tcp, wsProxy }, testInfo) => {
    const proxy = await wsProxy(compressed.ports.ws);
    const cdp = await clientPage.context().newCDPSession(clientPage);
    const handshakes = [];
    cdp.on('Network.webSocketHandshakeResponseReceived', (e) => handshakes.push(e.response));
    await cdp.send('Network.enable');

    const subj = `${prefix(testInfo)}.z`;
    await exchange(clientPage, lib, `ws://127.0.0.1:${proxy.port}`, subj);
    const nc = await tcp(compressed.natsUrl);
    for (const n of SIZES) nc.publish(`${subj}.tcp`, tcpText(n, 'tcp'));
    await nc.flush();
    expect(await clientPage.evaluate(() => window.got)).toEqual([SIZES, SIZES]);
    // Each message was delivered to the page twice over this socket (own copy and TCP's);
    // compressible text crossed in far fewer bytes than its size.
    expect(proxy.conns).toHaveLength(1);
    expect(proxy.conns[0].down.frameBytes).toBeLessThan((2 * TOTAL) / 5);

    // An incompressible 64 KiB message stays larger than one 4096-byte browser frame
    // once deflated, so it must be fragmented.
    const random = prng(64 * 1024, 99);
    await clientPage.evaluate(async (subj) => {
      const sub = window.__conns[0].subscribe(`${subj}.random`, { max: 1 });
      window.gotRandom = pw.collect(sub, 1).then(([m]) => pw.equalBytes(m.data, pw.prng(64 * 1024, 99)));
      await window.__conns[0].flush();
    }, subj);
    nc.publish(`${subj}.random`, random);
    await nc.flush();
    expect(await clientPage.evaluate(() => window.gotRandom)).toBe(true);

    // What the browser saw in the handshake.
    expect(handshakes).toHaveLength(1);
    expect(handshakes[0].status).toBe(101);
    const ext = Object.entries(handshakes[0].headers).find(([k]) => k.toLowerCase() === 'sec-websocket-extensions');
    expect(ext && ext[1]).toBe(DEFLATE);
    const extensions = await clientPage.evaluate(() => window.__conns[0].protocol.transport.socket.extensions);
    expect(extensions).toBe(DEFLATE);

    // What crossed the wire.
    const { up, down } = proxy.conns[0];
    expect(up.header('sec-websocket-extensions')).toContain('permessage-deflate');
    expect(down.statusLine).toBe('HTTP/1.1 101 Switching Protocols');
    expect(down.header('sec-websocket-extensions')).toBe(DEFLATE);
    // Server frames: some compressed; RSV1 only ever on data frames; never masked.
    expect(down.frames.some((f) => f.rsv1)).toBe(true);
    expect(down.frames.filter((f) => f.rsv1).every((f) => f.opcode === 1 || f.opcode === 2)).toBe(true);
    expect(down.frames.every((f) => !f.masked)).toBe(true);
    // Browser framing with compression: fragments of at most 4096 bytes, RSV1 only on a
    // message's first frame (never on a continuation), and the 200 KiB messages fragmented.
    expect(Math.max(...down.frames.map((f) => f.len))).toBeLessThanOrEqual(4096);
    expect(down.frames.filter((f) => f.opcode === 0).every((f) => !f.rsv1)).toBe(true);
    expect(down.frames.some((f) => f.opcode === 0)).toBe(true);
    // The browser compressed what it sent, and the server inflated it (the messages above arrived).
    expect(up.frames.some((f) => f.rsv1)).toBe(true);
    expect(up.frames.every((f) => f.masked)).toBe(true);
  });

  test(`${lib}: compression off: not negotiated although the browser offers it`, async ({ clientPage, tcp, wsProxy }, testInfo) => {
    const proxy = await wsProxy(defaultServer.ports.ws);
    const subj = `${prefix(testInfo)}.plain`;
    await exchange(clientPage, lib, `ws://127.0.0.1:${proxy.port}`, subj);
    const nc = await tcp();
    for (const n of SIZES) nc.publish(`${subj}.tcp`, tcpText(n, 'tcp'));
    await nc.flush();
    expect(await clientPage.evaluate(() => window.got)).toEqual([SIZES, SIZES]);
    const extensions = await clientPage.evaluate(() => window.__conns[0].protocol.transport.socket.extensions);
    expect(extensions).toBe('');

    const { up, down } = proxy.conns[0];
    expect(up.header('sec-websocket-extensions')).toContain('permessage-deflate');
    expect(down.statusLine).toBe('HTTP/1.1 101 Switching Protocols');
    expect(down.header('sec-websocket-extensions')).toBeUndefined();
    expect(down.frames.length).toBeGreaterThan(0);
    expect(down.frames.some((f) => f.rsv1)).toBe(false);
    expect(up.frames.some((f) => f.rsv1)).toBe(false);
    // Browser framing: no server frame is larger than 4096 bytes.
    expect(Math.max(...down.frames.map((f) => f.len))).toBeLessThanOrEqual(4096);
    expect(down.frameBytes).toBeGreaterThan(2 * TOTAL);
  });
}
