// Authentication of browser clients (spec websocket.md §5, nats-protocol.md §3): a bearer
// user JWT in an HttpOnly cookie set by the page's own origin (operator mode, jwt_cookie),
// user/pass and token in the connect options or in cookies, nkey nonce signing in the page,
// permission violations as the browser sees them, and allowed_connection_types.
//
// Every page is opened in a fresh browser context, so it starts with an empty cookie jar.
// Cookies are per host, not per port: a cookie set by http://127.0.0.1:<page port> is sent
// with the upgrade to ws://127.0.0.1:<ws port>.
import { jwtAuthenticator } from 'nats';
import { test, expect, CLIENTS } from '../lib/fixtures.mjs';
import { NatsServer } from '../lib/server.mjs';
import { mintOperator, mintAccount, mintUser, userNkey } from '../lib/jwt.mjs';

/**
 * Page-side helpers (global `pwAuth`), installed into each page this file opens.
 * Everything they return is plain data; connections stay in the page (closed by the fixture).
 */
function installAuthHelpers() {
  const api = (lib) => (lib === 'nats.ws' ? window.natsws : window.natsCore);
  const errInfo = (e) => ({ name: e && e.name, message: String(e && e.message), code: e && e.code });

  function within(p, ms, what) {
    let t;
    const timer = new Promise((_, reject) => { t = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms); });
    return Promise.race([p, timer]).finally(() => clearTimeout(t));
  }

  /** GET /set-cookie on this page's origin: the cookies come back in a real Set-Cookie header. */
  async function setCookies(params) {
    const r = await fetch(`/set-cookie?${new URLSearchParams(params)}`);
    return { status: r.status, visible: document.cookie };
  }

  /** Connects (no reconnect); { ok, info } or { ok: false, error }. The connection is kept as window.nc. */
  async function tryConnect(lib, opts) {
    try {
      const nc = await pw.connect(lib, { reconnect: false, timeout: 5000, ...opts });
      window.nc = nc;
      return { ok: true, info: nc.info };
    } catch (e) {
      return { ok: false, error: errInfo(e) };
    }
  }

  /** The next `error` status of `nc`, normalised: nats.ws gives a code and a context, nats-core an Error. */
  function nextError(lib, nc) {
    const it = nc.status();
    return within((async () => {
      for await (const s of it) {
        if (s.type !== 'error') continue;
        if (lib === 'nats.ws') {
          const ctx = s.permissionContext || {};
          return { code: s.data, operation: ctx.operation, subject: ctx.subject };
        }
        const e = s.error;
        return { name: e.name, message: e.message, operation: e.operation, subject: e.subject };
      }
      return null;
    })(), 10000, 'error status');
  }

  /** Subscribes to `subject`, publishes `payload` to it and resolves with what came back. */
  async function roundTrip(nc, subject, payload) {
    const sub = nc.subscribe(subject, { max: 1 });
    const got = pw.collect(sub, 1);
    await nc.flush();
    nc.publish(subject, pw.te.encode(payload));
    const [m] = await within(got, 10000, `message on ${subject}`);
    return { subject: m.subject, data: pw.td.decode(m.data) };
  }

  /** How a subscription ends when the server refuses it: { error } or { ended }. */
  async function subscriptionOutcome(nc, subject) {
    const sub = nc.subscribe(subject);
    try {
      await within((async () => { for await (const m of sub) { void m; } })(), 10000, `end of ${subject}`);
      return { ended: true };
    } catch (e) {
      return { error: errInfo(e) };
    }
  }

  /**
   * A raw browser WebSocket speaking NATS by hand. `until(s)` waits until the text received
   * so far contains s; `text()` is everything received; `closed` resolves with {code, reason}.
   */
  function raw(url) {
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    let buf = '';
    let waiters = [];
    const closed = new Promise((resolve) => {
      ws.onclose = (ev) => { resolve({ code: ev.code, reason: ev.reason }); };
    });
    ws.onmessage = (ev) => {
      buf += typeof ev.data === 'string' ? ev.data : pw.td.decode(ev.data);
      waiters = waiters.filter((w) => !w());
    };
    const until = (s) => within(new Promise((resolve) => {
      const check = () => { if (buf.includes(s)) { resolve(buf); return true; } return false; };
      if (!check()) waiters.push(check);
    }), 10000, `raw: ${JSON.stringify(s)} in ${JSON.stringify(buf)}`);
    return { ws, until, closed, text: () => buf, send: (s) => ws.send(pw.te.encode(s)) };
  }

  window.pwAuth = { api, within, setCookies, tryConnect, nextError, roundTrip, subscriptionOutcome, raw };
}

/** A page in a fresh browser context (empty cookie jar) with `pwAuth` installed. */
async function authPage(openPage) {
  const page = await openPage();
  await page.evaluate(installAuthHelpers);
  return page;
}

/** The client's view of `-ERR 'Authorization Violation'` during connect. */
function expectAuthViolation(lib, res) {
  expect(res.ok).toBe(false);
  expect(res.error.message).toContain('Authorization Violation');
  if (lib === 'nats.ws') expect(res.error.code).toBe('AUTHORIZATION_VIOLATION');
  else expect(res.error.name).toBe('AuthorizationError');
}

/** The client's view of `-ERR 'Permissions Violation for <Publish|Subscription> to "<subject>"'`. */
function expectPermissionStatus(lib, err, operation, subject) {
  expect(err).toMatchObject({ operation, subject });
  if (lib === 'nats.ws') {
    expect(err.code).toBe('PERMISSIONS_VIOLATION');
  } else {
    expect(err.name).toBe('PermissionViolationError');
    expect(err.message).toBe(`Permissions Violation for ${operation === 'publish' ? 'Publish' : 'Subscription'} to "${subject}"`);
  }
}

// ---------------------------------------------------------------------------------------
// Operator mode: the user JWT in an HttpOnly cookie (websocket.md §5.4, §5.5).
// ---------------------------------------------------------------------------------------
test.describe('JWT cookie (operator mode)', () => {
  let server;
  let account;
  // The cookie user may publish and subscribe under `jwt.ok.>` only.
  const mintCookieUser = (opts = {}) => mintUser(account, {
    name: 'pw-cookie-user', pub: ['jwt.ok.>'], sub: ['jwt.ok.>', '_INBOX.>'], bearer: true, ...opts,
  });

  test.beforeAll(async () => {
    const operator = mintOperator();
    account = mintAccount(operator);
    server = new NatsServer({
      fixture: 'auth-jwt.conf',
      name: 'auth-jwt',
      vars: { OPERATOR_JWT: operator.jwt, ACCOUNT_PUB: account.pub, ACCOUNT_JWT: account.jwt },
    });
    await server.start();
  });
  test.afterAll(async () => { await server?.dispose(); });

  for (const lib of CLIENTS) {
    test(`${lib}: an HttpOnly cookie from the page's origin carries a bearer JWT; the client connects with no credentials`, async ({ openPage, wsProxy }) => {
      const user = mintCookieUser();
      const page = await authPage(openPage);
      // The page's origin sets the cookie; page scripts cannot read it back.
      expect(await page.evaluate((jwt) => pwAuth.setCookies({ jwt }), user.jwt)).toEqual({ status: 204, visible: '' });

      // Through a recording proxy: the upgrade to the other port carries the cookie.
      const proxy = await wsProxy(server.ports.ws);
      const res = await page.evaluate(async ([lib, url]) => {
        const r = await pwAuth.tryConnect(lib, { servers: url });
        if (!r.ok) return r;
        const echo = await pwAuth.roundTrip(window.nc, 'jwt.ok.echo', 'hello');
        return { ...r, echo };
      }, [lib, `ws://127.0.0.1:${proxy.port}`]);
      expect(res.error).toBeUndefined();
      expect(res.ok).toBe(true);
      expect(res.info.auth_required).toBe(true);
      expect(res.echo).toEqual({ subject: 'jwt.ok.echo', data: 'hello' });
      expect(proxy.conns).toHaveLength(1);
      expect(proxy.conns[0].up.header('cookie')).toBe(`jwt=${user.jwt}`);
      expect(proxy.conns[0].down.statusLine).toBe('HTTP/1.1 101 Switching Protocols');
    });

    test(`${lib}: the cookie user's JWT permissions apply; outside them the browser sees Permissions Violation`, async ({ openPage }) => {
      const user = mintCookieUser();
      const page = await authPage(openPage);
      await page.evaluate((jwt) => pwAuth.setCookies({ jwt }), user.jwt);
      const res = await page.evaluate(async ([lib, url]) => {
        const r = await pwAuth.tryConnect(lib, { servers: url });
        if (!r.ok) return r;
        const nc = window.nc;
        const pubErr = pwAuth.nextError(lib, nc);
        nc.publish('jwt.denied.x', pw.te.encode('no'));
        const pub = await pubErr;
        const subErr = pwAuth.nextError(lib, nc);
        const sub = await pwAuth.subscriptionOutcome(nc, 'jwt.denied.>');
        const subStatus = await subErr;
        // The connection survives both violations.
        const echo = await pwAuth.roundTrip(nc, 'jwt.ok.after', 'still here');
        return { ok: true, pub, sub, subStatus, echo, closed: nc.isClosed() };
      }, [lib, server.wsUrl]);
      expect(res.error).toBeUndefined();
      expectPermissionStatus(lib, res.pub, 'publish', 'jwt.denied.x');
      expectPermissionStatus(lib, res.subStatus, 'subscription', 'jwt.denied.>');
      expect(res.sub.error.message).toContain('Permissions Violation for Subscription to "jwt.denied.>"');
      expect(res.echo).toEqual({ subject: 'jwt.ok.after', data: 'still here' });
      expect(res.closed).toBe(false);
    });

    test(`${lib}: without the cookie (a fresh context) the client is refused with Authorization Violation`, async ({ openPage }) => {
      const page = await authPage(openPage);
      const res = await page.evaluate(([lib, url]) => pwAuth.tryConnect(lib, { servers: url }), [lib, server.wsUrl]);
      expectAuthViolation(lib, res);
      // The same page once its origin has set the cookie.
      await page.evaluate((jwt) => pwAuth.setCookies({ jwt }), mintCookieUser().jwt);
      const ok = await page.evaluate(([lib, url]) => pwAuth.tryConnect(lib, { servers: url }), [lib, server.wsUrl]);
      expect(ok.error).toBeUndefined();
      expect(ok.ok).toBe(true);
    });

    test(`${lib}: a jwt in CONNECT overrides the cookie`, async ({ openPage }) => {
      const cookieUser = mintCookieUser();
      // The CONNECT user may use `jwt.other.>` only, and signs the nonce with its seed.
      const other = mintUser(account, { name: 'pw-connect-user', pub: ['jwt.other.>'], sub: ['jwt.other.>', '_INBOX.>'] });
      const page = await authPage(openPage);
      await page.evaluate((jwt) => pwAuth.setCookies({ jwt }), cookieUser.jwt);
      const res = await page.evaluate(async ([lib, url, jwt, seed]) => {
        // The cookie alone is in effect for this page.
        const cookieOnly = await pwAuth.tryConnect(lib, { servers: url });
        if (!cookieOnly.ok) return cookieOnly;
        const authenticator = pwAuth.api(lib).jwtAuthenticator(jwt, pw.te.encode(seed));
        const r = await pwAuth.tryConnect(lib, { servers: url, authenticator });
        if (!r.ok) return r;
        const nc = window.nc;
        const echo = await pwAuth.roundTrip(nc, 'jwt.other.echo', 'mine');
        const err = pwAuth.nextError(lib, nc);
        nc.publish('jwt.ok.x', pw.te.encode('cookie user only'));
        return { ok: true, echo, err: await err };
      }, [lib, server.wsUrl, other.jwt, other.seed]);
      expect(res.error).toBeUndefined();
      expect(res.echo).toEqual({ subject: 'jwt.other.echo', data: 'mine' });
      expectPermissionStatus(lib, res.err, 'publish', 'jwt.ok.x');
    });
  }

  test('nats.ws: a non-bearer JWT in the cookie is refused (no nonce signature); a bearer one is accepted', async ({ openPage }) => {
    const page = await authPage(openPage);
    await page.evaluate((jwt) => pwAuth.setCookies({ jwt }), mintCookieUser({ bearer: false }).jwt);
    expectAuthViolation('nats.ws', await page.evaluate((url) => pwAuth.tryConnect('nats.ws', { servers: url }), server.wsUrl));
    await page.evaluate((jwt) => pwAuth.setCookies({ jwt }), mintCookieUser().jwt);
    const ok = await page.evaluate((url) => pwAuth.tryConnect('nats.ws', { servers: url }), server.wsUrl);
    expect(ok.error).toBeUndefined();
  });

  test('nats.ws: JWT allowed_connection_types: STANDARD only or only unknown types are refused over websocket', async ({ openPage, tcp }) => {
    const page = await authPage(openPage);
    /** Connects with the cookie JWT of `user` in place. */
    const attempt = async (user) => {
      await page.evaluate((jwt) => pwAuth.setCookies({ jwt }), user.jwt);
      return page.evaluate((url) => pwAuth.tryConnect('nats.ws', { servers: url }), server.wsUrl);
    };
    const standard = mintCookieUser({ types: ['STANDARD'] });
    expectAuthViolation('nats.ws', await attempt(standard));
    expectAuthViolation('nats.ws', await attempt(mintCookieUser({ types: ['SomeNewType'] })));
    // Unknown types are ignored as long as a known one remains; types are case-insensitive.
    expect((await attempt(mintCookieUser({ types: ['WEBSOCKET', 'SomeNewType'] }))).error).toBeUndefined();
    expect((await attempt(mintCookieUser({ types: ['websocket'] }))).error).toBeUndefined();

    // The STANDARD-only user over the client port.
    const nc = await tcp(server.natsUrl, { authenticator: jwtAuthenticator(standard.jwt, new TextEncoder().encode(standard.seed)) });
    await nc.flush();
    expect(nc.info.auth_required).toBe(true);
  });

  test('raw WebSocket: with the cookie, CONNECT {} gets +OK and a denied PUB gets the exact -ERR', async ({ openPage }) => {
    const user = mintCookieUser();
    const page = await authPage(openPage);
    await page.evaluate((jwt) => pwAuth.setCookies({ jwt }), user.jwt);
    const text = await page.evaluate(async (url) => {
      const r = pwAuth.raw(url);
      const info = await r.until('\r\n');
      const start = info.indexOf('\r\n') + 2;
      r.send('CONNECT {}\r\n'); // verbose defaults to true
      await r.until('+OK\r\n');
      r.send('PUB jwt.denied.raw 2\r\nno\r\nPING\r\n');
      await r.until('PONG\r\n');
      r.ws.close();
      return { info: info.slice(0, start - 2), rest: r.text().slice(start) };
    }, server.wsUrl);
    expect(text.info.startsWith('INFO {')).toBe(true);
    const info = JSON.parse(text.info.slice(5));
    expect(info.auth_required).toBe(true);
    expect(info.nonce).toMatch(/^[A-Za-z0-9_-]{11,}$/);
    expect(text.rest).toBe(`+OK\r\n-ERR 'Permissions Violation for Publish to "jwt.denied.raw"'\r\nPONG\r\n`);
  });

  test('raw WebSocket: without the cookie, CONNECT {} gets -ERR Authorization Violation and close 1008', async ({ openPage }) => {
    const page = await authPage(openPage);
    const res = await page.evaluate(async (url) => {
      const r = pwAuth.raw(url);
      const info = await r.until('\r\n');
      r.send('CONNECT {}\r\n');
      const closed = await pwAuth.within(r.closed, 10000, 'close');
      return { rest: r.text().slice(info.indexOf('\r\n') + 2), closed };
    }, server.wsUrl);
    expect(res.rest).toBe(`-ERR 'Authorization Violation'\r\n`);
    expect(res.closed).toEqual({ code: 1008, reason: 'Authentication Failure' });
  });
});

// ---------------------------------------------------------------------------------------
// Users: user/pass, cookies, permissions, nkeys, allowed_connection_types (§5.2, §5.4, §5.6).
// ---------------------------------------------------------------------------------------
test.describe('users (user/pass, nkey)', () => {
  const pass = { alice: 'alice-s3cret', tcponly: 'tcp-s3cret', wsonly: 'ws-s3cret' };
  const nkey = userNkey();
  let server;

  test.beforeAll(async () => {
    server = new NatsServer({
      fixture: 'auth-users.conf',
      name: 'auth-users',
      vars: { ALICE_PASS: pass.alice, TCPONLY_PASS: pass.tcponly, WSONLY_PASS: pass.wsonly, NKEY_USER: nkey.pub },
    });
    await server.start();
  });
  test.afterAll(async () => { await server?.dispose(); });

  for (const lib of CLIENTS) {
    test(`${lib}: user/pass in the connect options authorise; a wrong password gets Authorization Violation`, async ({ openPage }) => {
      const page = await authPage(openPage);
      const res = await page.evaluate(async ([lib, url, pass]) => {
        const good = await pwAuth.tryConnect(lib, { servers: url, user: 'alice', pass });
        const echo = good.ok ? await pwAuth.roundTrip(window.nc, 'alice.echo', 'hi') : null;
        const bad = await pwAuth.tryConnect(lib, { servers: url, user: 'alice', pass: `${pass}-wrong` });
        const nobody = await pwAuth.tryConnect(lib, { servers: url });
        return { good, echo, bad, nobody };
      }, [lib, server.wsUrl, pass.alice]);
      expect(res.good.error).toBeUndefined();
      expect(res.good.info.auth_required).toBe(true);
      expect(res.echo).toEqual({ subject: 'alice.echo', data: 'hi' });
      expectAuthViolation(lib, res.bad);
      expectAuthViolation(lib, res.nobody);
    });

    test(`${lib}: user and pass cookies set by the page's origin authorise a client that sends no credentials`, async ({ openPage }) => {
      const page = await authPage(openPage);
      // Wrong cookie values are refused like wrong credentials.
      await page.evaluate(() => pwAuth.setCookies({ nats_user: 'alice', nats_pass: 'not-the-password' }));
      const bad = await page.evaluate(([lib, url]) => pwAuth.tryConnect(lib, { servers: url }), [lib, server.wsUrl]);
      expectAuthViolation(lib, bad);
      // The origin replaces them with the right ones; page scripts cannot read them.
      expect(await page.evaluate((p) => pwAuth.setCookies({ nats_user: 'alice', nats_pass: p }), pass.alice))
        .toEqual({ status: 204, visible: '' });
      const res = await page.evaluate(async ([lib, url]) => {
        const r = await pwAuth.tryConnect(lib, { servers: url });
        return r.ok ? { ok: true, echo: await pwAuth.roundTrip(window.nc, 'alice.cookie', 'from cookies') } : r;
      }, [lib, server.wsUrl]);
      expect(res.error).toBeUndefined();
      expect(res.echo).toEqual({ subject: 'alice.cookie', data: 'from cookies' });
    });

    test(`${lib}: publishing or subscribing outside the user's permissions surfaces as Permissions Violation`, async ({ openPage }) => {
      const page = await authPage(openPage);
      const res = await page.evaluate(async ([lib, url, pass]) => {
        const r = await pwAuth.tryConnect(lib, { servers: url, user: 'alice', pass });
        if (!r.ok) return r;
        const nc = window.nc;
        const pubErr = pwAuth.nextError(lib, nc);
        nc.publish('bob.private', pw.te.encode('denied'));
        const pub = await pubErr;
        const subErr = pwAuth.nextError(lib, nc);
        const sub = await pwAuth.subscriptionOutcome(nc, 'bob.>');
        const subStatus = await subErr;
        const echo = await pwAuth.roundTrip(nc, 'alice.after', 'ok');
        return { ok: true, pub, sub, subStatus, echo, closed: nc.isClosed() };
      }, [lib, server.wsUrl, pass.alice]);
      expect(res.error).toBeUndefined();
      expectPermissionStatus(lib, res.pub, 'publish', 'bob.private');
      expectPermissionStatus(lib, res.subStatus, 'subscription', 'bob.>');
      expect(res.sub.error.message).toContain('Permissions Violation for Subscription to "bob.>"');
      expect(res.echo).toEqual({ subject: 'alice.after', data: 'ok' });
      expect(res.closed).toBe(false);
    });

    test(`${lib}: an nkey user signs the server's nonce in the page; an unknown nkey is refused`, async ({ openPage }) => {
      const stranger = userNkey();
      const page = await authPage(openPage);
      const res = await page.evaluate(async ([lib, url, seed, strangerSeed]) => {
        const { nkeyAuthenticator } = pwAuth.api(lib);
        const good = await pwAuth.tryConnect(lib, { servers: url, authenticator: nkeyAuthenticator(pw.te.encode(seed)) });
        const echo = good.ok ? await pwAuth.roundTrip(window.nc, 'nk.echo', 'signed') : null;
        const bad = await pwAuth.tryConnect(lib, { servers: url, authenticator: nkeyAuthenticator(pw.te.encode(strangerSeed)) });
        return { good, echo, bad };
      }, [lib, server.wsUrl, nkey.seed, stranger.seed]);
      expect(res.good.error).toBeUndefined();
      expect(res.echo).toEqual({ subject: 'nk.echo', data: 'signed' });
      expectAuthViolation(lib, res.bad);
    });

    test(`${lib}: allowed_connection_types: a STANDARD-only user is refused over websocket, a websocket-only user is accepted`, async ({ openPage, tcp }) => {
      const page = await authPage(openPage);
      const res = await page.evaluate(async ([lib, url, pass]) => ({
        tcponly: await pwAuth.tryConnect(lib, { servers: url, user: 'tcponly', pass: pass.tcponly }),
        wsonly: await pwAuth.tryConnect(lib, { servers: url, user: 'wsonly', pass: pass.wsonly }),
      }), [lib, server.wsUrl, pass]);
      expectAuthViolation(lib, res.tcponly);
      expect(res.wsonly.error).toBeUndefined();
      expect(res.wsonly.ok).toBe(true);

      // The same users over the client port: the other way round.
      const nc = await tcp(server.natsUrl, { user: 'tcponly', pass: pass.tcponly });
      await nc.flush();
      await expect(tcp(server.natsUrl, { user: 'wsonly', pass: pass.wsonly, reconnect: false }))
        .rejects.toMatchObject({ code: 'AUTHORIZATION_VIOLATION' });
    });
  }
});

// ---------------------------------------------------------------------------------------
// Token: in the connect options and in a cookie (§5.2, §5.4).
// ---------------------------------------------------------------------------------------
test.describe('token', () => {
  const token = 'pw-token-s3cret';
  let server;

  test.beforeAll(async () => {
    server = new NatsServer({ fixture: 'auth-token.conf', name: 'auth-token', vars: { TOKEN: token } });
    await server.start();
  });
  test.afterAll(async () => { await server?.dispose(); });

  for (const lib of CLIENTS) {
    test(`${lib}: the token in the connect options authorises; a wrong token gets Authorization Violation`, async ({ openPage }) => {
      const page = await authPage(openPage);
      const res = await page.evaluate(async ([lib, url, token]) => {
        const good = await pwAuth.tryConnect(lib, { servers: url, token });
        const echo = good.ok ? await pwAuth.roundTrip(window.nc, 'token.echo', 't') : null;
        const bad = await pwAuth.tryConnect(lib, { servers: url, token: `${token}x` });
        return { good, echo, bad };
      }, [lib, server.wsUrl, token]);
      expect(res.good.error).toBeUndefined();
      expect(res.good.info.auth_required).toBe(true);
      expect(res.echo).toEqual({ subject: 'token.echo', data: 't' });
      expectAuthViolation(lib, res.bad);
    });

    test(`${lib}: a token cookie set by the page's origin authorises a client that sends no token`, async ({ openPage }) => {
      const page = await authPage(openPage);
      await page.evaluate(() => pwAuth.setCookies({ nats_token: 'wrong' }));
      expectAuthViolation(lib, await page.evaluate(([lib, url]) => pwAuth.tryConnect(lib, { servers: url }), [lib, server.wsUrl]));
      await page.evaluate((t) => pwAuth.setCookies({ nats_token: t }), token);
      const res = await page.evaluate(async ([lib, url]) => {
        const r = await pwAuth.tryConnect(lib, { servers: url });
        return r.ok ? { ok: true, echo: await pwAuth.roundTrip(window.nc, 'token.cookie', 'c') } : r;
      }, [lib, server.wsUrl]);
      expect(res.error).toBeUndefined();
      expect(res.echo).toEqual({ subject: 'token.cookie', data: 'c' });
    });
  }
});
