// The interop scenarios (interop/scenarios.json) for the JavaScript clients, written once
// and run unchanged in Node (interop/node-runner.mjs) and inside browser pages (bundled
// by interop/browser.mjs as the global `interop`; Chromium and Firefox).
//
// A scenario body gets `ctx`:
//   ctx.lib        { name, connect(opts), headers() }  the client under test
//   ctx.cfg        { prefix, transport, runtime, urls: {default, restart, users, token, tls,
//                    compression}, creds: {user, pass, token}, control, tls }
//   ctx.connect(o) connects with ctx.lib and remembers the connection for cleanup
//   ctx.restart()  asks the harness (POST <control>/restart) to restart the `restart` server
// and throws on failure. `runOne` turns that into { status: 'pass' | 'fail', detail, ms }.

const te = new TextEncoder();
const td = new TextDecoder();

/** Thrown by `check`; its message is the cell's detail. */
class CheckError extends Error {}
function check(cond, what) {
  if (!cond) throw new CheckError(what);
}

/** Rejects with `what` after `ms` milliseconds unless `p` settles first. */
function within(p, ms, what) {
  let t;
  const timeout = new Promise((_, reject) => {
    t = setTimeout(() => reject(new CheckError(`timeout after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(t));
}

/** Deterministic pseudo-random bytes (xorshift32). */
function prng(len, seed) {
  const out = new Uint8Array(len);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < len; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

function sameBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The first `n` messages of `sub`, or a timeout. */
async function take(sub, n, ms, what) {
  const out = [];
  if (n === 0) return out;
  await within((async () => {
    for await (const m of sub) {
      out.push(m);
      if (out.length >= n) break;
    }
  })(), ms, `${what}: ${out.length}/${n} messages`);
  return out;
}

function errText(e) {
  return `${e && e.name ? `${e.name}: ` : ''}${e && e.message ? e.message : String(e)}${e && e.code ? ` (code ${e.code})` : ''}`;
}

function isNoResponders(e) {
  if (!e) return false;
  if (e.code === '503' || e.name === 'NoRespondersError') return true;
  if (typeof e.isNoResponders === 'function' && e.isNoResponders()) return true;
  return !!(e.cause && isNoResponders(e.cause));
}

function isAuthError(e) {
  return !!e && (e.code === 'AUTHORIZATION_VIOLATION' || /authorization violation/i.test(errText(e))
    || (e.cause ? isAuthError(e.cause) : false));
}

/** Expects `connect(opts)` to fail with Authorization Violation. */
async function expectAuthFailure(ctx, opts) {
  let nc;
  try {
    nc = await within(ctx.lib.connect({ ...opts, maxReconnectAttempts: 0, reconnect: false }), 10000, 'connect with bad credentials');
  } catch (e) {
    check(isAuthError(e), `bad credentials: expected Authorization Violation, got ${errText(e)}`);
    return;
  }
  await nc.close().catch(() => {});
  check(false, 'bad credentials: connect succeeded');
}

/** Publishes one message on a fresh subject and receives it on the same connection. */
async function roundTrip(ctx, nc, tag) {
  const subj = `${ctx.cfg.prefix}.${tag}`;
  const sub = nc.subscribe(subj);
  await nc.flush();
  nc.publish(subj, te.encode(`hello ${tag}`));
  const [m] = await take(sub, 1, 5000, `${tag} round trip`);
  check(td.decode(m.data) === `hello ${tag}`, `${tag}: payload ${JSON.stringify(td.decode(m.data))}`);
  sub.unsubscribe();
}

/** Page only: opens a raw WebSocket and resolves with its `extensions` once open. */
function wsExtensions(url) {
  return within(new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.onopen = () => { const x = ws.extensions; ws.close(1000); resolve(x); };
    ws.onerror = () => reject(new CheckError(`raw WebSocket to ${url} failed`));
  }), 5000, `raw WebSocket to ${url}`);
}

/**
 * Page only: a raw WebSocket session. Sends `lines` once INFO arrived, collects the text
 * the server sends until `until` appears (then closes with `closeWith`) or the server closes.
 */
function rawSession(url, lines, until, closeWith) {
  return within(new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    let text = '';
    let sent = false;
    ws.onmessage = (ev) => {
      text += typeof ev.data === 'string' ? ev.data : td.decode(new Uint8Array(ev.data));
      if (!sent && text.includes('\r\n')) {
        sent = true;
        for (const l of lines) ws.send(te.encode(l));
      }
      if (until && closeWith && text.includes(until) && ws.readyState === WebSocket.OPEN) ws.close(...closeWith);
    };
    ws.onclose = (ev) => resolve({ text, code: ev.code, reason: ev.reason });
  }), 10000, `raw session to ${url}`);
}

/** The scenario bodies, keyed by the ids of scenarios.json. */
export const BODIES = {
  async connect(ctx) {
    const nc = await ctx.connect({ servers: ctx.cfg.urls.default });
    const info = nc.info;
    check(info && typeof info.server_id === 'string' && info.server_id.length > 0, 'INFO without server_id');
    check(info.max_payload > 0, `INFO max_payload ${info.max_payload}`);
    await within(nc.flush(), 5000, 'PING/PONG');
    const closed = nc.closed();
    await nc.close();
    const err = await closed;
    check(!err, `closed with ${err}`);
  },

  async pubsub(ctx) {
    const nc = await ctx.connect({ servers: ctx.cfg.urls.default });
    const subj = `${ctx.cfg.prefix}.ps`;
    const sub = nc.subscribe(subj);
    await nc.flush();
    for (let i = 0; i < 100; i++) nc.publish(subj, te.encode(String(i)));
    const got = await take(sub, 100, 10000, 'pub/sub');
    got.forEach((m, i) => check(td.decode(m.data) === String(i), `message ${i} is ${td.decode(m.data)}`));
  },

  async request(ctx) {
    const nc = await ctx.connect({ servers: ctx.cfg.urls.default });
    const svc = `${ctx.cfg.prefix}.svc`;
    const sub = nc.subscribe(svc);
    (async () => {
      for await (const m of sub) m.respond(te.encode(td.decode(m.data).split('').reverse().join('')));
    })();
    await nc.flush();
    const r = await nc.request(svc, te.encode('interop'), { timeout: 5000 });
    check(td.decode(r.data) === 'poretni', `reply ${JSON.stringify(td.decode(r.data))}`);
  },

  async headers(ctx) {
    const nc = await ctx.connect({ servers: ctx.cfg.urls.default });
    const subj = `${ctx.cfg.prefix}.hdr`;
    const sub = nc.subscribe(subj);
    await nc.flush();
    const h = ctx.lib.headers();
    h.append('X-Interop', '1');
    h.append('X-Multi', 'a');
    h.append('X-Multi', 'b');
    nc.publish(subj, te.encode('with headers'), { headers: h });
    const [m] = await take(sub, 1, 5000, 'headers');
    check(m.headers, 'message without headers');
    check(m.headers.get('X-Interop') === '1', `X-Interop ${m.headers.get('X-Interop')}`);
    check(JSON.stringify(m.headers.values('X-Multi')) === '["a","b"]', `X-Multi ${JSON.stringify(m.headers.values('X-Multi'))}`);
    check(td.decode(m.data) === 'with headers', 'payload');
  },

  async no_responders(ctx) {
    const nc = await ctx.connect({ servers: ctx.cfg.urls.default });
    const t0 = Date.now();
    try {
      await nc.request(`${ctx.cfg.prefix}.nobody`, te.encode('x'), { timeout: 5000 });
    } catch (e) {
      check(isNoResponders(e), `expected no responders, got ${errText(e)}`);
      check(Date.now() - t0 < 2500, `no responders after ${Date.now() - t0} ms (a timeout?)`);
      return;
    }
    check(false, 'request to nobody got a reply');
  },

  async queue(ctx) {
    const a = await ctx.connect({ servers: ctx.cfg.urls.default });
    const b = await ctx.connect({ servers: ctx.cfg.urls.default });
    const subj = `${ctx.cfg.prefix}.q`;
    const seen = [];
    const counts = [0, 0];
    let all;
    const done = new Promise((r) => { all = r; });
    [a, b].forEach((nc, k) => {
      const sub = nc.subscribe(subj, { queue: 'workers' });
      (async () => {
        for await (const m of sub) {
          seen.push(td.decode(m.data));
          counts[k] += 1;
          if (seen.length === 100) all();
        }
      })();
    });
    await a.flush();
    await b.flush();
    for (let i = 0; i < 100; i++) a.publish(subj, te.encode(String(i)));
    await within(done, 10000, `queue group: ${seen.length}/100`);
    await a.flush();
    await b.flush();
    check(seen.length === 100 && new Set(seen).size === 100, `queue group delivered ${seen.length} (${new Set(seen).size} distinct)`);
    check(counts[0] > 0 && counts[1] > 0, `queue group split ${counts}`);
  },

  async unsub_max(ctx) {
    const nc = await ctx.connect({ servers: ctx.cfg.urls.default });
    const subj = `${ctx.cfg.prefix}.max`;
    const sub = nc.subscribe(subj, { max: 3 });
    await nc.flush();
    for (let i = 0; i < 5; i++) nc.publish(subj, te.encode(String(i)));
    const got = [];
    await within((async () => { for await (const m of sub) got.push(td.decode(m.data)); })(), 5000, 'subscription end after max');
    await nc.flush();
    check(JSON.stringify(got) === '["0","1","2"]', `got ${JSON.stringify(got)}`);
  },

  async drain(ctx) {
    const nc = await ctx.connect({ servers: ctx.cfg.urls.default });
    const subj = `${ctx.cfg.prefix}.drain`;
    const sub = nc.subscribe(subj);
    const got = [];
    const reader = (async () => { for await (const m of sub) got.push(td.decode(m.data)); })();
    await nc.flush();
    for (let i = 0; i < 50; i++) nc.publish(subj, te.encode(String(i)));
    await within(nc.drain(), 10000, 'drain');
    await within(reader, 5000, 'subscription end after drain');
    check(got.length === 50, `drained ${got.length}/50`);
    check(nc.isClosed(), 'not closed after drain');
  },

  async reconnect(ctx) {
    const nc = await ctx.connect({ servers: ctx.cfg.urls.restart, reconnectTimeWait: 100, maxReconnectAttempts: -1, pingInterval: 60000 });
    const events = [];
    let reconnected;
    const onReconnect = new Promise((r) => { reconnected = r; });
    (async () => {
      for await (const s of nc.status()) {
        events.push(s.type);
        if (s.type === 'reconnect') reconnected();
      }
    })();
    const subj = `${ctx.cfg.prefix}.rc`;
    const sub = nc.subscribe(subj);
    await nc.flush();
    await ctx.restart();
    await within(onReconnect, 20000, `reconnect event (saw ${events})`);
    check(events.includes('disconnect'), `events ${events}`);
    nc.publish(subj, te.encode('after'));
    const [m] = await take(sub, 1, 5000, 'message after reconnect');
    check(td.decode(m.data) === 'after', 'payload after reconnect');
  },

  async auth_user(ctx) {
    const { user, pass } = ctx.cfg.creds;
    const nc = await ctx.connect({ servers: ctx.cfg.urls.users, user, pass });
    await roundTrip(ctx, nc, 'user');
    await expectAuthFailure(ctx, { servers: ctx.cfg.urls.users, user, pass: `${pass}-wrong` });
  },

  async auth_token(ctx) {
    const { token } = ctx.cfg.creds;
    const nc = await ctx.connect({ servers: ctx.cfg.urls.token, token });
    await roundTrip(ctx, nc, 'token');
    await expectAuthFailure(ctx, { servers: ctx.cfg.urls.token, token: `${token}-wrong` });
  },

  async tls(ctx) {
    const opts = { servers: ctx.cfg.urls.tls };
    if (ctx.cfg.tls) opts.tls = ctx.cfg.tls;
    const nc = await ctx.connect(opts);
    check(nc.info && nc.info.tls_required !== false, 'INFO says no TLS');
    await roundTrip(ctx, nc, 'tls');
  },

  async large(ctx) {
    const nc = await ctx.connect({ servers: ctx.cfg.urls.default });
    const subj = `${ctx.cfg.prefix}.big`;
    const sub = nc.subscribe(subj);
    await nc.flush();
    const data = prng(200 * 1024, 7);
    nc.publish(subj, data);
    const [m] = await take(sub, 1, 10000, '200 KiB message');
    check(sameBytes(m.data, data), `200 KiB payload differs (got ${m.data.length} bytes)`);
  },

  async compression(ctx) {
    if (ctx.cfg.runtime === 'browser') {
      const on = await wsExtensions(ctx.cfg.urls.compression);
      check(/permessage-deflate/.test(on), `compression listener negotiated ${JSON.stringify(on)}`);
      const off = await wsExtensions(ctx.cfg.urls.default);
      check(off === '', `default listener negotiated ${JSON.stringify(off)}`);
    }
    const nc = await ctx.connect({ servers: ctx.cfg.urls.compression });
    const subj = `${ctx.cfg.prefix}.z`;
    const sub = nc.subscribe(subj);
    await nc.flush();
    const text = te.encode('natsws compression '.repeat(64 * 1024 / 19));
    const sizes = [10, 4096, 200 * 1024];
    const payloads = [...sizes.map((n, i) => prng(n, i + 11)), text];
    for (const p of payloads) nc.publish(subj, p);
    const got = await take(sub, payloads.length, 10000, 'compressed messages');
    got.forEach((m, i) => check(sameBytes(m.data, payloads[i]), `compressed message ${i} (${payloads[i].length} B) differs`));
  },

  async cookie_auth(ctx) {
    const base = ctx.cfg.control;
    const get = (q) => fetch(`${base}/set-cookie?${q}`, { credentials: 'same-origin' });
    await get(`nats_token=${encodeURIComponent(ctx.cfg.creds.token)}`);
    try {
      check(!document.cookie.includes('nats_token'), 'the token cookie is visible to script (not HttpOnly)');
      const nc = await ctx.connect({ servers: ctx.cfg.urls.token });
      await roundTrip(ctx, nc, 'cookie-token');
    } finally {
      await get('nats_token=&max-age=0');
    }
    await get(`nats_user=${encodeURIComponent(ctx.cfg.creds.user)}&nats_pass=${encodeURIComponent(ctx.cfg.creds.pass)}`);
    try {
      const nc = await ctx.connect({ servers: ctx.cfg.urls.users });
      await roundTrip(ctx, nc, 'cookie-user');
    } finally {
      await get('nats_user=&nats_pass=&max-age=0');
    }
    // Without the cookies the same connect is refused.
    await expectAuthFailure(ctx, { servers: ctx.cfg.urls.token });
  },

  async close_codes(ctx) {
    const big = rawSession(ctx.cfg.urls.default, ['CONNECT {"verbose":false}\r\nPING\r\n', `PUB ${ctx.cfg.prefix}.big 2000000\r\n`]);
    const r = await big;
    check(r.text.includes("-ERR 'Maximum Payload Violation'"), `oversized PUB: ${JSON.stringify(r.text.slice(-120))}`);
    check(r.code === 1009 && r.reason === 'Maximum Message Payload Exceeded', `oversized PUB closed with ${r.code} ${JSON.stringify(r.reason)}`);
    const bye = await rawSession(ctx.cfg.urls.default, ['CONNECT {"verbose":true}\r\nPING\r\n'], 'PONG\r\n', [1000, 'bye']);
    check(bye.text.includes('+OK\r\n'), 'verbose +OK missing');
    check(bye.code === 1000 && bye.reason === 'bye', `client close echoed as ${bye.code} ${JSON.stringify(bye.reason)}`);
  },
};

/**
 * Runs scenario `id` with client `lib` (see the header). Never throws: resolves with
 * { status: 'pass' } or { status: 'fail', detail }, plus `ms`. Closes every connection it opened.
 */
export async function runOne(lib, id, cfg, restart) {
  const conns = [];
  const ctx = {
    lib,
    cfg,
    restart,
    async connect(opts) {
      const nc = await within(lib.connect({ name: `interop-${lib.name}`, ...opts }), 10000, `connect to ${opts.servers}`);
      conns.push(nc);
      return nc;
    },
  };
  const t0 = Date.now();
  let result;
  try {
    const body = BODIES[id];
    if (!body) throw new CheckError(`no body for scenario ${id}`);
    await within(body(ctx), 45000, id);
    result = { status: 'pass' };
  } catch (e) {
    result = { status: 'fail', detail: e instanceof CheckError ? e.message : errText(e) };
  }
  await Promise.all(conns.map((nc) => (nc.isClosed() ? null : nc.close().catch(() => {}))));
  return { ...result, ms: Date.now() - t0 };
}

/** The client adapters: the module's connect function for each client name. */
export function makeLib(name, mod) {
  const connect = name === 'nats-core' || name === 'nats-core-node' ? mod.wsconnect : mod.connect;
  if (typeof connect !== 'function') throw new Error(`client ${name}: no connect function`);
  return { name, connect: (o) => connect(o), headers: () => mod.headers() };
}

/** Browser pages: runs scenario `id` with the page's bundled client `name` ('nats.ws' | 'nats-core'). */
export function runInPage(name, id, cfg) {
  const mod = name === 'nats.ws' ? globalThis.natsws : globalThis.natsCore;
  const restart = async () => {
    const r = await fetch(`${cfg.control}/restart`, { method: 'POST' });
    if (!r.ok) throw new CheckError(`restart: HTTP ${r.status}`);
  };
  return runOne(makeLib(name, mod), id, cfg, restart);
}
