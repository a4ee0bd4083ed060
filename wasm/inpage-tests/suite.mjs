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
export const CREDS = { user: 'alice', pass: 's3cret', token: 'inpage-token', limitedUser: 'limited', limitedPass: 'l1mited' };

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
};

/** The scenario ids compared, in order. */
export const IDS = [
  'connect', 'pubsub', 'request', 'headers', 'no_responders', 'queue', 'unsub_max', 'drain',
  'auth_user', 'auth_token', 'large', 'close_codes', 'reconnect', 'wildcards', 'max_payload', 'permissions',
];

Object.assign(BODIES, EXTRA_BODIES);

/**
 * nats-core with the in-page server's wsFactory when `servers` is an in-page URL
 * (`factoryFor(url)` → wsFactory | undefined), and nats.ws / nats-core as themselves otherwise.
 */
export function makeClient(name, mod, factoryFor) {
  if (name === 'nats-core') {
    return { name, connect: (o) => mod.wsconnect({ ...o, wsFactory: factoryFor(o.servers) }), headers: () => mod.headers() };
  }
  return { name, connect: (o) => mod.connect(o), headers: () => mod.headers() };
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
