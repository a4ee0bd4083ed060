// The browser page of the in-page comparison (bundled by browser.mjs): natsws-wasm's web
// build, nats.ws 1.x, nats-core 3.x and the suite. Exposes `window.inpageSuite`.
import init, { InPageServer, installWebSocket, inPageServerFor } from '../pkg/index.js';
import * as natsws from 'nats.ws';
import * as natsCore from '@nats-io/nats-core';
import { CONFIGS, makeClient, runScenario } from './suite.mjs';
import { runBench } from './bench.mjs';

const te = new TextEncoder();
const td = new TextDecoder();
const CLIENTS = { 'nats.ws': natsws, 'nats-core': natsCore };
const factoryFor = (url) => inPageServerFor(String(url))?.wsFactory;

const ready = (async () => {
  await init({ module_or_path: '/natsws_wasm_bg.wasm' });
  installWebSocket(); // the page's real WebSocket stays the fallback for native URLs
  const servers = {};
  for (const name of Object.keys(CONFIGS)) servers[name] = new InPageServer(CONFIGS[name], { url: `ws://inpage-${name}.test:4222` });
  return servers;
})();

/** Runs scenario `id` with client `name` against the in-page servers and against the native URLs. */
async function runPair(name, id, nativeUrls) {
  const servers = await ready;
  const lib = makeClient(name, CLIENTS[name], factoryFor);
  const inpage = await runScenario(lib, id, {
    urls: Object.fromEntries(Object.entries(servers).map(([k, s]) => [k, s.url])),
    restart: async () => { for (const c of servers.default.connz().connections) servers.default.dropClient(c.cid); },
  }, 'browser', 'page');
  const native = await runScenario(lib, id, {
    urls: nativeUrls,
    restart: async () => {
      const r = await fetch('/restart', { method: 'POST' });
      if (!r.ok) throw new Error(`restart: HTTP ${r.status}`);
    },
  }, 'browser', 'native');
  return { inpage, native };
}

/**
 * Two clients of the page (nats.ws and nats-core) talk through a fresh in-page server:
 * a request/reply both ways and 100 messages in order. Also reports whether the page can
 * reach the network at all (`fetch` of its own origin).
 */
async function offlineTalk() {
  await ready;
  let network = 'reachable';
  try {
    await fetch(`/index.html?${Math.random()}`, { cache: 'no-store' });
  } catch {
    network = 'unreachable';
  }
  const server = new InPageServer({}, { url: 'ws://offline.test:4222' });
  try {
    const a = await natsws.connect({ servers: server.url, name: 'a' });
    const b = await natsCore.wsconnect({ servers: server.url, wsFactory: server.wsFactory, name: 'b' });
    a.subscribe('svc.a', { callback: (_, m) => m.respond(te.encode(`a:${td.decode(m.data)}`)) });
    b.subscribe('svc.b', { callback: (_, m) => m.respond(te.encode(`b:${td.decode(m.data)}`)) });
    const got = [];
    const done = new Promise((resolve) => {
      b.subscribe('feed', { callback: (_, m) => { got.push(td.decode(m.data)); if (got.length === 100) resolve(); } });
    });
    await a.flush();
    await b.flush();
    const r1 = td.decode((await b.request('svc.a', te.encode('hi'), { timeout: 2000 })).data);
    const r2 = td.decode((await a.request('svc.b', te.encode('yo'), { timeout: 2000 })).data);
    for (let i = 0; i < 100; i++) a.publish('feed', te.encode(String(i)));
    await done;
    const inOrder = got.every((x, i) => x === String(i));
    const conns = server.connz().connections.map((c) => c.name).sort();
    await a.close();
    await b.close();
    return { network, r1, r2, received: got.length, inOrder, conns };
  } finally {
    server.close();
  }
}

/** Throughput and latency with nats-core (bench.mjs): `url` a native ws URL, or undefined for a fresh in-page server. */
async function bench(url) {
  await ready;
  return runBench(natsCore, InPageServer, url);
}

/** The README's browser example (after init and installWebSocket, which `ready` did); resolves with what it checked. */
async function readmeExample() {
  await ready;
  const checks = [];
  const assert = (c) => checks.push(!!c);
  const server = new InPageServer({ max_payload: 65536 });
  const nc = await natsws.connect({ servers: server.url });
  const sub = nc.subscribe("orders.*");
  await nc.flush();
  server.publish("orders.new", "42"); // publish as the server
  for await (const m of sub) { assert(m.string() === "42"); break; }
  assert(nc.info.max_payload === 65536);
  await nc.close(); server.close();
  return checks;
}

window.inpageSuite = { ready: ready.then(() => true), runPair, offlineTalk, bench, readmeExample };
