// A browser on the edge uses the hub's JetStream KV through a leafnode link over WebSocket
// (issue #15; spec leafnode.md §8.1): nats-server holds JetStream (domain HUB) and accepts
// leafnodes at /leafnode on its websocket port; the server under test is its leaf, dials it
// with a ws:// remote and maps its clients' plain $JS.API to the hub's domain
// (`default_js_domain`). nats.ws in Chromium creates a bucket, watches it, puts and gets;
// a Node client on the hub reads the same bucket, so the data is the hub's.
// (@nats-io/nats-core's KV lives in @nats-io/kv, which the page does not bundle.)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect as tcpConnect } from 'nats';
import { test, expect } from '../lib/fixtures.mjs';
import { NatsServer, freePort, referenceBinary } from '../lib/server.mjs';

let hub;
let edge;
let storeDir;

/** Polls the edge's /leafz?subs=1 until the hub's interest on the link includes `subject`. */
async function hubInterest(subject) {
  const deadline = Date.now() + 20000;
  for (;;) {
    const leafz = await edge.monitor('/leafz?subs=1');
    const links = leafz.leafs || [];
    if (links.some((l) => (l.subscriptions_list || []).includes(subject))) return links;
    if (Date.now() > deadline) throw new Error(`no ${subject} interest from the hub: ${JSON.stringify(leafz)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test.beforeAll(async () => {
  storeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'natsws-pw-leaf-kv-'));
  hub = new NatsServer({
    fixture: 'leaf-hub.conf', name: 'leaf-hub', bin: referenceBinary(),
    vars: { STORE_DIR: storeDir, LEAF_PORT: freePort },
  });
  await hub.start();
  edge = new NatsServer({ fixture: 'leaf-edge.conf', name: 'leaf-edge', vars: { HUB_WS_PORT: hub.ports.ws } });
  await edge.start();
  // The link is up once the hub's JetStream API interest (domain HUB) reached the edge.
  await hubInterest('$JS.HUB.API.STREAM.>');
});

test.afterAll(async () => {
  await edge?.dispose();
  await hub?.dispose();
  if (storeDir) fs.rmSync(storeDir, { recursive: true, force: true });
});

test('nats.ws on the edge creates, watches, puts and gets a KV bucket held by the hub over a WebSocket leafnode link', async ({ clientPage }) => {
  const bucket = `pw_kv_${Math.floor(Math.random() * 1e9)}`;
  // 1. The bucket is created from the browser, through the link.
  const created = await clientPage.evaluate(async ([url, bucket]) => {
    const nc = await pw.connect('nats.ws', { servers: url });
    window.kvConn = nc;
    const js = nc.jetstream();
    window.kv = await js.views.kv(bucket, { history: 3 });
    const st = await window.kv.status();
    return { bucket: st.bucket, history: st.history };
  }, [edge.wsUrl, bucket]);
  expect(created).toEqual({ bucket, history: 3 });

  // 2. A watch, then puts and a get, all from the browser.
  const seen = await clientPage.evaluate(async () => {
    const kv = window.kv;
    const watch = await kv.watch({ key: 'greeting.>' });
    const got = (async () => {
      const out = [];
      for await (const e of watch) {
        out.push({ key: e.key, op: e.operation, value: pw.td.decode(e.value) });
        if (out.length === 3) break;
      }
      return out;
    })();
    await kv.put('greeting.en', pw.te.encode('hello'));
    await kv.put('greeting.fr', pw.te.encode('bonjour'));
    await kv.put('greeting.en', pw.te.encode('hi'));
    const e = await kv.get('greeting.en');
    const fr = await kv.get('greeting.fr');
    return { watched: await got, en: pw.td.decode(e.value), enRevision: e.revision, fr: pw.td.decode(fr.value) };
  });
  expect(seen.watched).toEqual([
    { key: 'greeting.en', op: 'PUT', value: 'hello' },
    { key: 'greeting.fr', op: 'PUT', value: 'bonjour' },
    { key: 'greeting.en', op: 'PUT', value: 'hi' },
  ]);
  expect(seen).toMatchObject({ en: 'hi', enRevision: 3, fr: 'bonjour' });

  // 3. The data is the hub's: a client of the hub reads it from its own JetStream.
  const nc = await tcpConnect({ servers: hub.natsUrl });
  try {
    const kv = await nc.jetstream().views.kv(bucket, { bindOnly: true });
    const e = await kv.get('greeting.en');
    expect(new TextDecoder().decode(e.value)).toBe('hi');
    expect(e.revision).toBe(3);
    const history = [];
    for await (const h of await kv.history({ key: 'greeting.en' })) history.push(new TextDecoder().decode(h.value));
    expect(history).toEqual(['hello', 'hi']);
  } finally {
    await nc.close();
  }
  await clientPage.evaluate(() => window.kvConn.close());
});
