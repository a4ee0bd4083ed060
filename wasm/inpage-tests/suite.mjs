// The comparison suite of the in-page server (issue #19), run unchanged in Node
// (node.test.mjs) and in browser pages (browser.mjs bundles it as the global `inpage`):
// each scenario body of the interop table (interop/scenarios.mjs), plus wildcards,
// max_payload and permission bodies defined here, runs with nats.ws 1.x and nats-core 3.x
// once against native natsws and once against an InPageServer with the same configuration;
// the two results must be equal.
import { BODIES, runOne } from '../../interop/scenarios.mjs';

const te = new TextEncoder();
const td = new TextDecoder();

/** Credentials shared by the native fixtures and the in-page options. */
export const CREDS = {
  user: 'alice', pass: 's3cret', token: 'inpage-token', limitedUser: 'limited', limitedPass: 'l1mited',
  responderUser: 'responder', responderPass: 'r3sp',
  // A user nkey pair made for these tests only (nats.ws `nkeys.createUser()`).
  nkeySeed: 'SUAJVGM2GHOO2IXQCDCKUJUZMJOUIHDBPULV7LUG6DL5UIS3DV5IQFU4MI',
  nkeyPublic: 'UD4TLCO4EBKITY3AO6EJLC4EHB5J7VOO6ALLKZG26QSY75UKIYBLNFQT',
  otherNkeySeed: 'SUAD65HOE5HRV775GGZHLU4MAPGHTIZZIH75KJT55OREFPCSQ2QTICZ7FE',
};

/** The `authorization {}` blocks, in the JSON shape that both nats-server config files and InPageServer take. */
export const AUTH = {
  users: {
    users: [
      { user: CREDS.user, password: CREDS.pass },
      {
        user: CREDS.limitedUser,
        password: CREDS.limitedPass,
        permissions: {
          publish: { deny: ['secret.>'] },
          subscribe: { allow: ['open.>', '_INBOX.>'] },
        },
      },
      { nkey: CREDS.nkeyPublic, permissions: { publish: 'nk.>', subscribe: 'nk.>' } },
      {
        user: CREDS.responderUser,
        password: CREDS.responderPass,
        permissions: {
          publish: { deny: ['>'] },
          subscribe: { allow: ['svc.>', 'deny.>'], deny: ['deny.secret'] },
          allow_responses: true,
        },
      },
    ],
  },
  token: { token: CREDS.token },
};

/** Server configurations by name: in-page options; the native fixture is rendered from the same object. */
export const CONFIGS = {
  default: {},
  users: { authorization: AUTH.users },
  token: { authorization: AUTH.token },
};

/** A nats-server config file (nats-server reads JSON values) for config `name` on the given ports. */
export function nativeConf(name, { client, ws, http }) {
  const lines = [
    `listen: "127.0.0.1:${client}"`,
    `http: "127.0.0.1:${http}"`,
    `server_name: "natsws-inpage-${name}"`,
    `websocket { listen: "127.0.0.1:${ws}", no_tls: true, compression: false }`,
  ];
  for (const [k, v] of Object.entries(CONFIGS[name])) lines.push(`${k}: ${JSON.stringify(v)}`);
  return `${lines.join('\n')}\n`;
}

class CheckError extends Error {}
function check(cond, what) {
  if (!cond) throw new CheckError(what);
}
function within(p, ms, what) {
  let t;
  return Promise.race([p, new Promise((_, rej) => { t = setTimeout(() => rej(new CheckError(`timeout after ${ms} ms: ${what}`)), ms); })]).finally(() => clearTimeout(t));
}

/** Raw session over the global WebSocket: sends `lines` after INFO, collects text until `until` (then closes 1000) or the server closes. */
function raw(url, lines, until) {
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
      if (until && text.includes(until) && ws.readyState === 1) ws.close(1000);
    };
    ws.onclose = (ev) => resolve({ text: text.slice(text.indexOf('\r\n') + 2), code: ev.code, reason: ev.reason });
  }), 10000, `raw session to ${url}`);
}

/** A raw connection over the global WebSocket: send(text), until(text) → everything received after INFO, close(). */
function rawConn(url) {
  return within(new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    let text = '';
    let info = -1;
    const waiters = [];
    const body = () => text.slice(info + 2);
    ws.onmessage = (ev) => {
      text += typeof ev.data === 'string' ? ev.data : td.decode(new Uint8Array(ev.data));
      if (info < 0 && text.includes('\r\n')) {
        info = text.indexOf('\r\n');
        resolve({
          send: (s) => ws.send(te.encode(s)),
          until: (s, n = 1) => (body().split(s).length - 1 >= n
            ? Promise.resolve(body())
            : within(new Promise((ok) => waiters.push({ s, n, ok })), 5000, `${JSON.stringify(s)} from ${url}: ${JSON.stringify(body())}`)),
          close: () => ws.close(1000),
        });
      }
      for (const w of [...waiters]) {
        if (body().split(w.s).length - 1 >= w.n) { waiters.splice(waiters.indexOf(w), 1); w.ok(body()); }
      }
    };
  }), 10000, `raw connection to ${url}`);
}

/** Scenario bodies beyond the interop table; they check nats-server's exact texts. */
export const EXTRA_BODIES = {
  async wildcards(ctx) {
    const nc = await ctx.connect({ servers: ctx.cfg.urls.default });
    const p = ctx.cfg.prefix;
    const filters = [`${p}.*.x`, `${p}.>`, `${p}.a.*`, `${p}.a.x`];
    const got = filters.map(() => []);
    const subs = filters.map((f, i) => nc.subscribe(f, { callback: (_, m) => got[i].push(m.subject.slice(p.length + 1)) }));
    await nc.flush();
    for (const s of ['a.x', 'b.x', 'a.y', 'a.b.c', 'a']) nc.publish(`${p}.${s}`, te.encode(s));
    await nc.flush();
    await within((async () => { while (got[1].length < 5) await new Promise((r) => setTimeout(r, 5)); })(), 5000, 'wildcard deliveries');
    const seen = JSON.stringify(got);
    check(seen === JSON.stringify([['a.x', 'b.x'], ['a.x', 'b.x', 'a.y', 'a.b.c', 'a'], ['a.x', 'a.y'], ['a.x']]), `wildcards: ${seen}`);
    subs.forEach((s) => s.unsubscribe());
  },

  async max_payload(ctx) {
    const nc = await ctx.connect({ servers: ctx.cfg.urls.default });
    check(nc.info.max_payload === 1048576, `INFO max_payload ${nc.info.max_payload}`);
    let clientSide = 'published';
    try {
      nc.publish(`${ctx.cfg.prefix}.big`, new Uint8Array(1048577));
    } catch (e) {
      clientSide = /max_payload|MAX_PAYLOAD/i.test(`${e.code} ${e.message}`) ? 'refused by the client' : `${e.name}: ${e.message}`;
    }
    check(clientSide === 'refused by the client', `publish over max_payload: ${clientSide}`);
    const r = await raw(ctx.cfg.urls.default, ['CONNECT {"verbose":false}\r\n', `PUB ${ctx.cfg.prefix}.big 1048577\r\n`]);
    check(r.text === "-ERR 'Maximum Payload Violation'\r\n", `server reply ${JSON.stringify(r.text)}`);
    check(r.code === 1009 && r.reason === 'Maximum Message Payload Exceeded', `closed with ${r.code} ${JSON.stringify(r.reason)}`);
  },

  async permissions(ctx) {
    const { limitedUser: user, limitedPass: pass } = ctx.cfg.creds;
    const r = await raw(ctx.cfg.urls.users, [
      `CONNECT ${JSON.stringify({ verbose: false, user, pass })}\r\nPUB secret.x 1\r\nx\r\nSUB nope.x 1\r\nSUB open.x q 2\r\nPUB open.x 2\r\nok\r\nPING\r\n`,
    ], 'PONG\r\n');
    const want = "-ERR 'Permissions Violation for Publish to \"secret.x\"'\r\n"
      + "-ERR 'Permissions Violation for Subscription to \"nope.x\"'\r\nMSG open.x 2 2\r\nok\r\nPONG\r\n";
    check(r.text === want, `raw session: ${JSON.stringify(r.text)}`);
    // The client sees the subscription refused as an error on that subscription.
    const nc = await ctx.connect({ servers: ctx.cfg.urls.users, user, pass });
    const sub = nc.subscribe('nope.y');
    const ended = (async () => {
      try {
        for await (const m of sub) void m;
        return 'ended without error';
      } catch (e) {
        return /permissions violation/i.test(String(e && e.message)) ? 'permissions violation' : `${e && e.name}: ${e && e.message}`;
      }
    })();
    await nc.flush().catch(() => {});
    const how = await within(ended, 5000, 'denied subscription');
    check(how === 'permissions violation', `denied subscription: ${how}`);
    check(!nc.isClosed(), 'a permissions violation closed the connection');
  },


  async auth_nkey(ctx) {
    const c = ctx.cfg.creds;
    const nc = await ctx.connect({ servers: ctx.cfg.urls.users, authenticator: ctx.lib.nkeyAuthenticator(te.encode(c.nkeySeed)) });
    const sub = nc.subscribe('nk.a');
    await nc.flush();
    nc.publish('nk.a', te.encode('signed'));
    const got = await within((async () => { for await (const m of sub) return td.decode(m.data); })(), 5000, 'nkey round trip');
    check(got === 'signed', `nkey round trip: ${got}`);
    let refused = 'connected';
    try {
      const bad = await ctx.lib.connect({ servers: ctx.cfg.urls.users, authenticator: ctx.lib.nkeyAuthenticator(te.encode(c.otherNkeySeed)), reconnect: false, maxReconnectAttempts: 0 });
      await bad.close();
    } catch (e) {
      refused = /authorization violation/i.test(`${e.code} ${e.message} ${e.cause?.message}`) ? 'Authorization Violation' : `${e.name}: ${e.message}`;
    }
    check(refused === 'Authorization Violation', `unknown nkey: ${refused}`);
  },

  async responses(ctx) {
    const c = ctx.cfg.creds;
    const r = await rawConn(ctx.cfg.urls.users);
    const a = await rawConn(ctx.cfg.urls.users);
    try {
      r.send(`CONNECT ${JSON.stringify({ verbose: false, user: c.responderUser, pass: c.responderPass })}\r\nSUB svc.q 1\r\nSUB deny.* 2\r\nPING\r\n`);
      await r.until('PONG\r\n');
      a.send(`CONNECT ${JSON.stringify({ verbose: false, user: c.user, pass: c.pass })}\r\nSUB reply.1 9\r\n`
        + 'PUB svc.q reply.1 2\r\nhi\r\nPUB deny.secret 1\r\nx\r\nPUB deny.open 1\r\ny\r\nPING\r\n');
      await a.until('PONG\r\n');
      await r.until('MSG deny.open 2 1\r\ny\r\n');
      r.send('PUB reply.1 2\r\nok\r\nPUB reply.1 5\r\nagain\r\nPUB other 1\r\nz\r\nPING\r\n');
      const rt = await r.until('PONG\r\n', 2);
      const at = await a.until('MSG reply.1 9 2\r\nok\r\n');
      check(rt === 'PONG\r\nMSG svc.q 1 reply.1 2\r\nhi\r\nMSG deny.open 2 1\r\ny\r\n'
        + "-ERR 'Permissions Violation for Publish to \"reply.1\"'\r\n-ERR 'Permissions Violation for Publish to \"other\"'\r\nPONG\r\n",
      `responder saw ${JSON.stringify(rt)}`);
      check(at === 'PONG\r\nMSG reply.1 9 2\r\nok\r\n', `requester saw ${JSON.stringify(at)}`);
    } finally {
      r.close();
      a.close();
    }
  },
};

/** The scenario ids compared, in order. */
export const IDS = [
  'connect', 'pubsub', 'request', 'headers', 'no_responders', 'queue', 'unsub_max', 'drain',
  'auth_user', 'auth_token', 'large', 'close_codes', 'reconnect', 'wildcards', 'max_payload', 'permissions',
  'responses', 'auth_nkey',
];

Object.assign(BODIES, EXTRA_BODIES);

/**
 * nats-core with the in-page server's wsFactory when `servers` is an in-page URL
 * (`factoryFor(url)` → wsFactory | undefined), and nats.ws / nats-core as themselves otherwise.
 */
export function makeClient(name, mod, factoryFor) {
  if (name === 'nats-core') {
    return { name, connect: (o) => mod.wsconnect({ ...o, wsFactory: factoryFor(o.servers) }), headers: () => mod.headers(), nkeyAuthenticator: mod.nkeyAuthenticator };
  }
  return { name, connect: (o) => mod.connect(o), headers: () => mod.headers(), nkeyAuthenticator: mod.nkeyAuthenticator };
}

/**
 * Runs scenario `id` with client `lib` against a target { urls, restart } and returns
 * { status, detail } (the time is left out: only the observable result is compared).
 */
export async function runScenario(lib, id, target, runtime, tag) {
  const cfg = {
    prefix: `inpage.${tag}.${id}.${Math.floor(Math.random() * 1e9)}`,
    transport: 'ws',
    runtime,
    urls: { ...target.urls, restart: target.urls.default },
    creds: CREDS,
  };
  const r = await runOne(lib, id, cfg, target.restart);
  return r.status === 'pass' ? { status: 'pass' } : { status: 'fail', detail: r.detail };
}
