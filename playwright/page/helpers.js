// Page-side helpers: one small API over both clients, so that each test can run
// with nats.ws 1.30 and with @nats-io/nats-core 3 `wsconnect`.
(function () {
  'use strict';
  const te = new TextEncoder();
  const td = new TextDecoder();

  const libs = {
    'nats.ws': {
      connect: (opts) => natsws.connect(opts),
      headers: () => natsws.headers(),
      isNoResponders: (e) => e && e.code === '503',
    },
    'nats-core': {
      connect: (opts) => natsCore.wsconnect(opts),
      headers: () => natsCore.headers(),
      isNoResponders: (e) => !!e && (e instanceof natsCore.NoRespondersError
        || (e instanceof natsCore.RequestError && e.isNoResponders())),
    },
  };

  /** Connects with client `lib` ('nats.ws' | 'nats-core'); remembers the connection for cleanup. */
  async function connect(lib, opts) {
    const nc = await libs[lib].connect(Object.assign({ name: `pw-${lib}` }, opts));
    window.__conns.push(nc);
    return nc;
  }

  /** Resolves with the first `n` messages of `sub` (as {subject, data, headers, reply}). */
  async function collect(sub, n) {
    const out = [];
    if (n === 0) return out;
    for await (const m of sub) {
      out.push(m);
      if (out.length >= n) break;
    }
    return out;
  }

  function bytes(arr) { return new Uint8Array(arr); }
  function allBytes(repeat) {
    const b = new Uint8Array(256 * (repeat || 1));
    for (let i = 0; i < b.length; i++) b[i] = i & 0xff;
    return b;
  }
  function equalBytes(a, b) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  /** Deterministic pseudo-random bytes (xorshift32), reproducible on the Node side. */
  function prng(len, seed) {
    const out = new Uint8Array(len);
    let x = seed >>> 0 || 1;
    for (let i = 0; i < len; i++) {
      x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
      out[i] = x & 0xff;
    }
    return out;
  }

  async function closeAll() {
    const conns = window.__conns.splice(0);
    await Promise.all(conns.map((nc) => (nc.isClosed() ? null : nc.close().catch(() => {}))));
  }

  window.__conns = [];
  window.pw = { libs, connect, collect, bytes, allBytes, equalBytes, prng, closeAll, te, td };
})();
