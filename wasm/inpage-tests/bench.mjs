// Figures for the in-page server (reported, never asserted): nats-core 3.x pub/sub
// messages per second (one publisher, one subscriber, 128-byte payloads, a flush every
// 1000) and request round trips (median and p99 of 500 sequential requests), against an
// in-page server or a native server URL. Browser: `node wasm/inpage-tests/browser.mjs
// --bench`; Node: `node wasm/inpage-tests/bench-node.mjs` (starts native natsws itself).

/** Runs the figures with `natsCore` against `url`, or a fresh `InPageServer` when `url` is undefined. */
export async function runBench(natsCore, InPageServer, url, n = 20000, rounds = 500) {
  const server = url ? undefined : new InPageServer({}, { url: `ws://bench-${Math.random().toString(36).slice(2)}.test:4222` });
  const servers = url ?? server.url;
  try {
    const wsFactory = server?.wsFactory;
    const pubc = await natsCore.wsconnect({ servers, wsFactory });
    const subc = await natsCore.wsconnect({ servers, wsFactory });
    const payload = new Uint8Array(128);
    let count = 0;
    let finish;
    const all = new Promise((r) => { finish = r; });
    subc.subscribe('bench', { callback: () => { count += 1; if (count === n) finish(); } });
    await subc.flush();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      pubc.publish('bench', payload);
      if (i % 1000 === 999) await pubc.flush();
    }
    await all;
    const msgsPerSec = Math.round(n / ((performance.now() - t0) / 1000));
    subc.subscribe('echo', { callback: (_, m) => m.respond(m.data) });
    await subc.flush();
    const lat = [];
    for (let i = 0; i < rounds; i++) {
      const s = performance.now();
      await pubc.request('echo', payload, { timeout: 2000 });
      lat.push(performance.now() - s);
    }
    lat.sort((x, y) => x - y);
    await pubc.close();
    await subc.close();
    const ms = (x) => Math.round(x * 1000) / 1000;
    return { msgsPerSec, rttMedianMs: ms(lat[Math.floor(lat.length / 2)]), rttP99Ms: ms(lat[Math.floor(lat.length * 0.99)]) };
  } finally {
    server?.close();
  }
}
