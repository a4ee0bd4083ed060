// node:test suite of the in-page server (issue #19): the scenario table with nats.ws 1.x
// and nats-core 3.x against InPageServer and against native natsws (same results), then
// what only the in-page server has: time control, connz/subsz, server publish, closes.
//
//   node --test wasm/inpage-tests/node.test.mjs      (after scripts/build-wasm.sh and
//   cargo build -p natsws-server --bin natsws; NATSWS_SERVER_BIN picks another binary)
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket as NodeWebSocket } from 'ws';
import * as natsws from 'nats.ws';
import * as natsCore from '@nats-io/nats-core';
import { InPageServer, InPageWebSocket, installWebSocket, inPageServerFor } from '../pkg/node.js';
import { CONFIGS, IDS, makeClient, runScenario } from './suite.mjs';
import { startNative } from './native.mjs';

const te = new TextEncoder();
const td = new TextDecoder();

// Node 20 has no global WebSocket: native URLs go to the `ws` package, in-page URLs to InPageWebSocket.
if (typeof globalThis.WebSocket === 'undefined') globalThis.WebSocket = NodeWebSocket;
installWebSocket();

let native;
const inpage = {};
before(async () => {
  native = await startNative();
  for (const name of Object.keys(CONFIGS)) inpage[name] = new InPageServer(CONFIGS[name], { url: `ws://inpage-${name}.test:4222` });
});
after(async () => {
  for (const s of Object.values(inpage)) s.close();
  await native?.dispose();
});

const inpageTarget = () => ({
  urls: Object.fromEntries(Object.entries(inpage).map(([k, s]) => [k, s.url])),
  // The reconnect scenario's "server restart" in the page: every client of the default server drops.
  restart: async () => {
    for (const c of inpage.default.connz().connections) inpage.default.dropClient(c.cid);
  },
});

const factoryFor = (url) => inPageServerFor(String(url))?.wsFactory;
const CLIENTS = { 'nats.ws': natsws, 'nats-core': natsCore };

for (const [name, mod] of Object.entries(CLIENTS)) {
  for (const id of IDS) {
    test(`${name} ${id}: in-page result equals native natsws`, async () => {
      const lib = makeClient(name, mod, factoryFor);
      const got = await runScenario(lib, id, inpageTarget(), 'node', 'page');
      const want = await runScenario(lib, id, native.target, 'node', 'native');
      assert.deepEqual(got, want);
      assert.deepEqual(got, { status: 'pass' });
    });
  }
}

/** Opens a raw in-page socket and resolves with helpers once INFO arrived. */
function rawClient(server) {
  const ws = server.connect();
  ws.binaryType = 'arraybuffer';
  let text = '';
  const waiters = [];
  const closed = new Promise((resolve) => { ws.onclose = (ev) => resolve(ev); });
  ws.onmessage = (ev) => {
    text += td.decode(new Uint8Array(ev.data));
    for (const w of [...waiters]) if (text.includes(w.s)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(text); }
  };
  const until = (s) => (text.includes(s) ? Promise.resolve(text) : new Promise((resolve) => waiters.push({ s, resolve })));
  return until('\r\n').then(() => ({ ws, until, closed, text: () => text, send: (s) => ws.send(te.encode(s)) }));
}

test('stale connection: with the clock frozen, unanswered PINGs close the client after ping_max', async () => {
  const server = new InPageServer({ ping_interval: '10s', ping_max: 2 });
  try {
    server.freezeTime();
    const c = await rawClient(server);
    c.send('CONNECT {"verbose":false}\r\n');
    await server.flush();
    await server.advanceTime(1999);
    assert.ok(!c.text().includes('PING'), 'PING before the first-ping delay');
    await server.advanceTime(1);
    await c.until('PING\r\n');
    await server.advanceTime(10_000);
    assert.equal(c.text().split('PING\r\n').length - 1, 2);
    await server.advanceTime(10_000);
    const ev = await c.closed;
    assert.ok(c.text().endsWith("-ERR 'Stale Connection'\r\n"), JSON.stringify(c.text()));
    assert.deepEqual([ev.code, ev.reason, ev.wasClean], [1001, 'Stale Connection', true]);
    assert.equal(server.connz({ state: 'closed' }).connections[0].reason, 'Stale Connection');
  } finally {
    server.close();
  }
});

test('a client that answers PINGs stays connected across frozen-time advances', async () => {
  const server = new InPageServer({ ping_interval: 5 });
  try {
    server.freezeTime();
    const nc = await natsws.connect({ servers: server.url, pingInterval: 3_600_000 });
    for (let i = 0; i < 5; i++) await server.advanceTime(5000);
    await nc.flush();
    assert.equal(server.connz().connections.length, 1);
    assert.match(server.connz().connections[0].rtt, /^(\d+ms|0s)$/);
    await nc.close();
  } finally {
    server.close();
  }
});

test('authentication timeout fires on the frozen clock', async () => {
  const server = new InPageServer({ authorization: { token: 't', timeout: 0.5 } });
  try {
    server.freezeTime();
    const c = await rawClient(server);
    assert.match(c.text(), /"auth_required":true/);
    await server.advanceTime(499);
    assert.equal(server.connz().connections.length, 1);
    await server.advanceTime(1);
    const ev = await c.closed;
    assert.ok(c.text().endsWith("-ERR 'Authentication Timeout'\r\n"), JSON.stringify(c.text()));
    assert.equal(ev.code, 1008);
  } finally {
    server.close();
  }
});

test('connz and subsz list connections and subscriptions in the /connz and /subsz shapes', async () => {
  const server = new InPageServer({ authorization: { users: [{ user: 'u', password: 'p' }] } });
  try {
    const a = await natsws.connect({ servers: server.url, name: 'conn-a', user: 'u', pass: 'p' });
    const b = await natsCore.wsconnect({ servers: server.url, wsFactory: server.wsFactory, name: 'conn-b', user: 'u', pass: 'p' });
    a.subscribe('x.*', { queue: 'q' });
    b.subscribe('y.>', { max: 5 });
    await a.flush();
    await b.flush();
    b.publish('x.1', te.encode('12345'));
    await b.flush();
    await a.flush();
    const z = server.connz({ subs: true, auth: true });
    assert.equal(z.server_id, server.serverId);
    assert.equal(z.num_connections, 2);
    const byName = Object.fromEntries(z.connections.map((c) => [c.name, c]));
    assert.deepEqual(byName['conn-a'].subscriptions_list, ['x.*']);
    assert.equal(byName['conn-a'].authorized_user, 'u');
    assert.equal(byName['conn-a'].out_msgs, 1);
    assert.equal(byName['conn-a'].out_bytes, 5);
    assert.equal(byName['conn-b'].in_msgs, 1);
    assert.equal(byName['conn-b'].in_bytes, 5);
    for (const c of z.connections) {
      assert.equal(c.type, 'websocket');
      assert.ok(!Number.isNaN(Date.parse(c.start)) && !Number.isNaN(Date.parse(c.last_activity)));
    }
    const s = server.subsz({ subs: true });
    assert.equal(s.num_subscriptions, 2);
    const subs = Object.fromEntries(s.subscriptions_list.map((x) => [x.subject, x]));
    assert.equal(subs['x.*'].qgroup, 'q');
    assert.equal(subs['x.*'].msgs, 1);
    assert.equal(subs['y.>'].max, 5);
    assert.equal(server.subsz({ subs: true, test: 'y.a.b' }).subscriptions_list.length, 1);
    await a.close();
    await b.close();
    assert.equal(server.connz().num_connections, 0);
    assert.deepEqual(server.connz({ state: 'closed' }).connections.map((c) => c.reason), ['Client Closed', 'Client Closed']);
  } finally {
    server.close();
  }
});

test('publish as the server reaches client subscriptions, with headers and a reply', async () => {
  const server = new InPageServer();
  try {
    const nc = await natsws.connect({ servers: server.url });
    const sub = nc.subscribe('events.>');
    await nc.flush();
    assert.equal(server.publish('events.a', 'one', { reply: 'r.1', headers: { 'X-A': ['1', '2'] } }), 1);
    assert.equal(server.publish('nobody', 'x'), 0);
    assert.throws(() => server.publish('bad subject', 'x'), /subject/i);
    for await (const m of sub) {
      assert.equal(m.subject, 'events.a');
      assert.equal(m.reply, 'r.1');
      assert.equal(td.decode(m.data), 'one');
      assert.deepEqual(m.headers.values('X-A'), ['1', '2']);
      break;
    }
    await nc.close();
  } finally {
    server.close();
  }
});

test('closeClient: -ERR then the close frame; dropClient: error and 1006; both clients notice', async () => {
  const server = new InPageServer();
  try {
    const raw = await rawClient(server);
    assert.equal(server.closeClient(raw.ws.cid, { err: 'going away for a test' }), true);
    const ev = await raw.closed;
    assert.ok(raw.text().endsWith("-ERR 'going away for a test'\r\n"), JSON.stringify(raw.text()));
    assert.deepEqual([ev.code, ev.reason, ev.wasClean], [1011, 'Kicked', true]);
    assert.equal(server.closeClient(raw.ws.cid), false);

    const nc = await natsws.connect({ servers: server.url, reconnect: false });
    const closed = nc.closed();
    const [c] = server.connz().connections;
    server.closeClient(c.cid, { err: 'Server Shutdown', reason: 'Server Shutdown' });
    await closed;
    assert.ok(nc.isClosed());
    assert.equal(server.connz({ state: 'closed' }).connections[0].reason, 'Server Shutdown');

    const nc2 = await natsCore.wsconnect({ servers: server.url, wsFactory: server.wsFactory, reconnect: true, reconnectTimeWait: 10 });
    const statuses = [];
    const reconnected = (async () => {
      for await (const s of nc2.status()) {
        statuses.push(s.type);
        if (s.type === 'reconnect') return;
      }
    })();
    const [c2] = server.connz().connections;
    assert.equal(server.dropClient(c2.cid), true);
    await reconnected;
    assert.ok(statuses.includes('disconnect'), statuses.join());
    assert.notEqual(server.connz().connections[0].cid, c2.cid);
    await nc2.close();
    assert.throws(() => server.closeClient(1, { reason: 'No Such Reason' }), /unknown closed reason/);
  } finally {
    server.close();
  }
});

test('options: unknown keys and bad permissions throw; no_auth_user binds clients without credentials', async () => {
  assert.throws(() => new InPageServer({ jetstream: {} }), /option jetstream is not supported/);
  assert.throws(() => new InPageServer({ authorization: { users: [{ user: 'a', permissions: { publish: ['a..b'] } }] } }), /not a valid subject/);
  assert.throws(() => new InPageServer({ ping_interval: '5 parsecs' }), /invalid duration/);
  assert.throws(() => new InPageServer({ max_payload: 67108865 }), /^Error: max_payload \(67108865\) cannot be higher than max_pending \(67108864\)$/);
  assert.throws(() => new InPageServer({ ping_max: -1 }), /option ping_max: expected a whole number/);
  const server = new InPageServer({
    no_auth_user: 'guest',
    authorization: { users: [{ user: 'guest', password: 'x', permissions: { publish: 'pub.>' } }] },
  });
  try {
    const c = await rawClient(server);
    assert.doesNotMatch(c.text(), /"auth_required":true/);
    c.send('PUB pub.a 1\r\nx\r\nPUB other 1\r\nx\r\nPING\r\n');
    const text = await c.until('PONG\r\n');
    assert.ok(text.includes("-ERR 'Permissions Violation for Publish to \"other\"'\r\n"), JSON.stringify(text));
    assert.equal(server.connz({ auth: true }).connections[0].authorized_user, 'guest');
    assert.equal(server.connz().connections[0].authorized_user, undefined);
    c.ws.close();
  } finally {
    server.close();
  }
});

test('a URL no in-page server serves fails like an unreachable host when no WebSocket was replaced', async () => {
  const restore = installWebSocket({});
  try {
    const ws = new InPageWebSocket('ws://nobody.invalid:1');
    const ev = await new Promise((resolve) => { ws.onclose = resolve; });
    assert.deepEqual([ev.code, ev.wasClean], [1006, false]);
  } finally {
    restore();
  }
  assert.equal(globalThis.WebSocket, InPageWebSocket);
});

test('an exception in one client\'s onmessage is reported and does not stop deliveries to others', async () => {
  const server = new InPageServer();
  const seen = [];
  // Browsers report handler exceptions through reportError (Node 20 has none: a stub here).
  globalThis.reportError = (e) => seen.push(e.message);
  try {
    const bad = await rawClient(server);
    const good = await rawClient(server);
    bad.ws.onmessage = () => { throw new Error('handler bug'); };
    bad.send('CONNECT {"verbose":false}\r\nSUB t 1\r\n');
    good.send('SUB t 1\r\nPING\r\n');
    await good.until('PONG\r\n');
    server.publish('t', 'x');
    await good.until('MSG t 1 1\r\nx\r\n');
    assert.deepEqual(seen, ['handler bug']);
  } finally {
    delete globalThis.reportError;
    server.close();
  }
});

// The README's Node example, as written there (imports aside).
test("request/reply through the in-page server", async () => {
  const server = new InPageServer({ authorization: { token: "s3cret" } });
  const opts = { servers: server.url, wsFactory: server.wsFactory, token: "s3cret" };
  const a = await natsCore.wsconnect(opts), b = await natsCore.wsconnect(opts);
  b.subscribe("echo", { callback: (_, m) => m.respond(m.data) });
  await b.flush();
  assert.equal((await a.request("echo", "hi")).string(), "hi");
  await a.close(); await b.close(); server.close();
});

test('close(): clients get close 1001 "Server Shutdown" after the call returns; the URL is free again', async () => {
  const server = new InPageServer({}, { url: 'ws://closing.test:4222' });
  const c = await rawClient(server);
  let fired = false;
  const closed = c.closed.then((ev) => { fired = true; return ev; });
  server.close();
  assert.equal(fired, false);
  const ev = await closed;
  assert.deepEqual([ev.code, ev.reason, ev.wasClean], [1001, 'Server Shutdown', true]);
  assert.equal(inPageServerFor('ws://closing.test:4222'), undefined);
  const again = new InPageServer({}, { url: 'ws://closing.test:4222' });
  again.close();
});

test('a client that answers every message it gets does not starve the event loop (deliveries are tasks)', async () => {
  const server = new InPageServer();
  try {
    const c = await rawClient(server);
    let echoes = 0;
    c.ws.addEventListener('message', () => { echoes += 1; c.send('PUB loop 1\r\nx\r\n'); });
    c.send('CONNECT {"verbose":false}\r\nSUB loop 1\r\nPUB loop 1\r\nx\r\n');
    await new Promise((r) => setTimeout(r, 20)); // never fires if deliveries were microtasks
    assert.ok(echoes > 10, `only ${echoes} round trips`);
    c.ws.close();
  } finally {
    server.close();
  }
});

test('max_payload option: INFO carries it, clients refuse bigger messages, a raw PUB over it gets the -ERR and close 1009', async () => {
  const server = new InPageServer({ max_payload: 1024 });
  try {
    const nc = await natsCore.wsconnect({ servers: server.url, wsFactory: server.wsFactory });
    assert.equal(nc.info.max_payload, 1024);
    assert.throws(() => nc.publish('x', new Uint8Array(1025)), /max_payload|payload/i);
    await nc.close();
    const c = await rawClient(server);
    c.send('CONNECT {"verbose":false}\r\nPUB x 1024\r\n' + 'a'.repeat(1024) + '\r\nPUB x 1025\r\n');
    const ev = await c.closed;
    assert.ok(c.text().endsWith("-ERR 'Maximum Payload Violation'\r\n"), JSON.stringify(c.text().slice(-80)));
    assert.deepEqual([ev.code, ev.reason], [1009, 'Maximum Message Payload Exceeded']);
  } finally {
    server.close();
  }
});

test('no_header_support: INFO headers false, no_responders refused with its -ERR, HPUB a silent protocol violation', async () => {
  const server = new InPageServer({ no_header_support: true });
  try {
    const a = await rawClient(server);
    assert.doesNotMatch(a.text(), /"headers":true/);
    a.send('CONNECT {"headers":true,"no_responders":true,"verbose":false}\r\n');
    const ev = await a.closed;
    assert.ok(a.text().endsWith("-ERR 'no responders requires headers support'\r\n"), JSON.stringify(a.text()));
    assert.equal(ev.reason, 'No Responders Requires Headers');
    const b = await rawClient(server);
    b.send('CONNECT {"headers":true,"verbose":false}\r\nHPUB x 12 12\r\nNATS/1.0\r\n\r\n\r\n');
    const evb = await b.closed;
    assert.doesNotMatch(b.text(), /-ERR/); // nats-server closes without -ERR (logs "message headers not supported")
    assert.deepEqual([evb.code, evb.reason], [1002, 'Protocol Violation']);
  } finally {
    server.close();
  }
});

test('connz and subsz have the keys of the native server\'s /connz and /subsz', async () => {
  const page = inpage.default;
  const a = await natsws.connect({ servers: native.target.urls.default, name: 'shape' });
  const b = await natsws.connect({ servers: page.url, name: 'shape' });
  try {
    const subj = `shape.${Math.floor(Math.random() * 1e9)}.*`;
    a.subscribe(subj, { queue: 'g', max: 5 });
    b.subscribe(subj, { queue: 'g', max: 5 });
    await a.flush();
    await b.flush();
    const nz = await native.servers.default.monitor('/connz?subs=1');
    const pz = page.connz({ subs: true });
    assert.deepEqual(Object.keys(pz).sort(), Object.keys(nz).sort());
    const nc = Object.keys(nz.connections.find((c) => c.name === 'shape'));
    const pc = Object.keys(pz.connections.find((c) => c.name === 'shape'));
    // rtt: nats-server shows it, natsws not; websocket: natsws's upgrade details, no upgrade in a page.
    assert.deepEqual(pc.filter((k) => !nc.includes(k) && k !== 'rtt'), []);
    assert.deepEqual(nc.filter((k) => !pc.includes(k) && k !== 'websocket'), []);
    const ns = await native.servers.default.monitor(`/subsz?subs=1&test=${subj.replace('*', 'x')}`);
    const ps = page.subsz({ subs: true, test: subj.replace('*', 'x') });
    assert.deepEqual(Object.keys(ps).sort(), Object.keys(ns).sort());
    // cid differs; nats-server 2.15 adds account_tag, natsws (and the in-page server) not.
    const strip = ({ cid, account_tag: tag, ...rest }) => (void cid, void tag, rest);
    assert.deepEqual(ps.subscriptions_list.map(strip), ns.subscriptions_list.map(strip));
  } finally {
    await a.close();
    await b.close();
  }
});

test('nkey users: the first INFO carries a fresh nonce, the connect_info INFO none (as nats-server)', async () => {
  const server = new InPageServer({ authorization: { users: [{ nkey: 'UD4TLCO4EBKITY3AO6EJLC4EHB5J7VOO6ALLKZG26QSY75UKIYBLNFQT' }, { user: 'a', password: 'b' }] } });
  try {
    const nonces = [];
    for (let i = 0; i < 2; i++) {
      const c = await rawClient(server);
      nonces.push(JSON.parse(c.text().slice(5)).nonce);
      c.send('CONNECT {"protocol":1,"user":"a","pass":"b","verbose":false}\r\nPING\r\n');
      const text = await c.until('"connect_info":true');
      assert.doesNotMatch(text.slice(text.indexOf('PONG')), /nonce/);
      c.ws.close();
    }
    assert.match(nonces[0], /^[A-Za-z0-9_-]{15}$/);
    assert.notEqual(nonces[0], nonces[1]);
  } finally {
    server.close();
  }
});
