// natsws-wasm in-page server: a NATS server inside the page (or a Node process) for
// front-end tests and offline demos. The protocol, routing, limits, auth and every -ERR
// text are natsws-core's (the InPageCore wasm class); this file adds the clock and timers
// (setTimeout, or a frozen clock a test advances), and the fake sockets that unmodified
// clients connect through: InPageWebSocket (a WebSocket look-alike for nats.ws 1.x and
// nats-core 3.x) and InPageServer#wsFactory (nats-core's `wsFactory` option). The bytes
// on a fake socket are plain NATS protocol, with no WebSocket framing.
import { InPageCore } from "./natsws_wasm.js";

const te = new TextEncoder();

/** Servers by socket key (`host:port`), for InPageWebSocket's URL routing. */
const registry = new Map();
let nextServer = 1;

/** `ws://h:p/x` → `h:p` (default ports 80 / 443); undefined when `url` does not parse. */
function keyOf(url) {
  let u;
  try {
    u = new URL(String(url));
  } catch {
    return undefined;
  }
  const secure = u.protocol === "wss:" || u.protocol === "https:" || u.protocol === "tls:";
  return `${u.hostname.toLowerCase()}:${u.port || (secure ? 443 : 80)}`;
}

/** Milliseconds on a monotonic clock. */
const wallNow = () => (globalThis.performance ? performance.now() : Date.now());

/**
 * Runs `f` in a later task, as a socket event is: after the current task and its
 * microtasks, without the 4 ms clamp of nested setTimeout (setImmediate in Node, a
 * MessageChannel in browsers; queueMicrotask where neither exists). A client that answers
 * every message therefore cannot starve the page's timers.
 */
const soon = (() => {
  if (typeof setImmediate === "function") return (f) => void setImmediate(f);
  if (typeof MessageChannel === "function") {
    const queue = [];
    const ch = new MessageChannel();
    ch.port1.onmessage = () => {
      const run = queue.splice(0, queue.length);
      for (const f of run) guarded(f);
    };
    return (f) => {
      queue.push(f);
      if (queue.length === 1) ch.port2.postMessage(0);
    };
  }
  return (f) => queueMicrotask(f);
})();

/**
 * Runs an event handler as a browser does: an exception is reported (reportError, or an
 * uncaught exception in a later task) and does not stop the other handlers or deliveries.
 */
function guarded(f) {
  try {
    f();
  } catch (e) {
    if (typeof reportError === "function") reportError(e);
    else setTimeout(() => { throw e; });
  }
}

/** Minimal event dispatch shared by InPageWebSocket (on* handlers and listeners). */
class Emitter {
  constructor() {
    this._listeners = new Map();
  }
  addEventListener(type, fn) {
    if (typeof fn !== "function" && !(fn && typeof fn.handleEvent === "function")) return;
    const l = this._listeners.get(type) ?? [];
    if (!l.includes(fn)) l.push(fn);
    this._listeners.set(type, l);
  }
  removeEventListener(type, fn) {
    const l = this._listeners.get(type);
    if (l) this._listeners.set(type, l.filter((x) => x !== fn));
  }
  dispatchEvent(ev) {
    Object.defineProperty(ev, "target", { value: this, configurable: true });
    Object.defineProperty(ev, "currentTarget", { value: this, configurable: true });
    const h = this[`on${ev.type}`];
    if (typeof h === "function") guarded(() => h.call(this, ev));
    for (const fn of [...(this._listeners.get(ev.type) ?? [])]) {
      guarded(() => (typeof fn === "function" ? fn.call(this, ev) : fn.handleEvent(ev)));
    }
    return true;
  }
}

function invalidState(message) {
  if (typeof DOMException === "function") return new DOMException(message, "InvalidStateError");
  const e = new Error(message);
  e.name = "InvalidStateError";
  return e;
}

/** Bytes of a `send` argument: string (UTF-8), ArrayBuffer, or any ArrayBuffer view. */
function bytesOf(data) {
  if (typeof data === "string") return te.encode(data);
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer || Object.prototype.toString.call(data) === "[object ArrayBuffer]") {
    return new Uint8Array(data);
  }
  throw new TypeError("InPageWebSocket.send: only strings, ArrayBuffers and views are supported");
}

/** The constructor installWebSocket replaced, for URLs no in-page server claims. */
let fallbackWebSocket;

/**
 * A WebSocket look-alike connected to the InPageServer registered for its URL's host and
 * port. Implements what the NATS clients use: readyState (and the CONNECTING/OPEN/CLOSING/
 * CLOSED constants), binaryType ("arraybuffer" or "blob"), bufferedAmount (always 0),
 * send(), close(code?, reason?), onopen/onmessage/onclose/onerror and addEventListener.
 * `new InPageWebSocket(url)` for a URL no server claims returns the WebSocket that
 * installWebSocket replaced, or (without one) a socket that fails like an unreachable
 * host (error, then close 1006).
 */
export class InPageWebSocket extends Emitter {
  constructor(url, protocols) {
    super();
    const server = registry.get(keyOf(url));
    if (!server && fallbackWebSocket) return new fallbackWebSocket(url, protocols);
    this.url = String(url);
    this.protocol = "";
    this.extensions = "";
    this.binaryType = "blob";
    this.bufferedAmount = 0;
    this.readyState = InPageWebSocket.CONNECTING;
    this.onopen = null;
    this.onmessage = null;
    this.onclose = null;
    this.onerror = null;
    /** The server's connection id (`cid` in connz), once open. */
    this.cid = undefined;
    soon(() => {
      if (this.readyState !== InPageWebSocket.CONNECTING) return;
      if (!server || server.closed) {
        this._finish(1006, "", false, true);
        return;
      }
      this.readyState = InPageWebSocket.OPEN;
      server._accept(this);
      this.dispatchEvent({ type: "open" });
    });
  }

  send(data) {
    if (this.readyState === InPageWebSocket.CONNECTING) throw invalidState("WebSocket is not open");
    if (this.readyState !== InPageWebSocket.OPEN) return; // discarded, as by a closing socket
    this._server._input(this.cid, bytesOf(data));
  }

  close(code, reason) {
    if (code !== undefined && code !== 1000 && !(code >= 3000 && code <= 4999)) {
      const e = typeof DOMException === "function" ? new DOMException(`invalid close code ${code}`, "InvalidAccessError") : new Error(`invalid close code ${code}`);
      throw e;
    }
    if (this.readyState === InPageWebSocket.CLOSING || this.readyState === InPageWebSocket.CLOSED) return;
    const wasConnecting = this.readyState === InPageWebSocket.CONNECTING;
    this.readyState = InPageWebSocket.CLOSING;
    if (this._server) this._server._clientClosed(this.cid);
    // The server echoes the client's close frame (RFC 6455 §5.5.1).
    soon(() => this._finish(wasConnecting ? 1006 : (code ?? 1005), wasConnecting ? "" : (reason ?? ""), !wasConnecting, wasConnecting));
  }

  /** Server → client bytes. */
  _deliver(bytes) {
    if (this.readyState !== InPageWebSocket.OPEN) return;
    const data = this.binaryType === "arraybuffer" || typeof Blob !== "function" ? bytes.buffer : new Blob([bytes]);
    this.dispatchEvent({ type: "message", data, origin: "", lastEventId: "" });
  }

  _finish(code, reason, wasClean, error) {
    if (this.readyState === InPageWebSocket.CLOSED) return;
    this.readyState = InPageWebSocket.CLOSED;
    if (error) this.dispatchEvent({ type: "error", message: "connection failed" });
    this.dispatchEvent({ type: "close", code, reason, wasClean });
  }
}
for (const [k, v] of Object.entries({ CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 })) {
  Object.defineProperty(InPageWebSocket, k, { value: v });
  Object.defineProperty(InPageWebSocket.prototype, k, { value: v });
}

/**
 * Installs InPageWebSocket as `target.WebSocket` (default globalThis), so nats.ws 1.x and
 * nats-core 3.x `wsconnect` reach in-page servers by URL; other URLs go to the WebSocket it
 * replaces (none when `target` had none). Returns a function that puts back both the
 * original and the previous fallback.
 */
export function installWebSocket(target = globalThis) {
  const previous = target.WebSocket;
  const priorFallback = fallbackWebSocket;
  if (previous !== InPageWebSocket) fallbackWebSocket = previous;
  target.WebSocket = InPageWebSocket;
  return () => {
    target.WebSocket = previous;
    fallbackWebSocket = priorFallback;
  };
}

/** RFC 3339 with milliseconds. */
const rfc3339 = (ms) => new Date(ms).toISOString();

/** Go's duration text as nats-server shows `uptime`/`idle` (`1h2m3s`, `0s`). */
function goDuration(ms) {
  let s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86400); s -= d * 86400;
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  return `${d ? `${d}d` : ""}${h ? `${h}h` : ""}${m ? `${m}m` : ""}${s}s` || "0s";
}

/** Header pairs `[k, v, k, v…]` from a plain object, a Map, or nats headers (keys()/values(k)). */
function headerPairs(h) {
  if (h === undefined || h === null) return undefined;
  const out = [];
  const push = (k, v) => {
    for (const x of Array.isArray(v) ? v : [v]) out.push(String(k), String(x));
  };
  if (typeof h.keys === "function" && typeof h.values === "function" && !(h instanceof Map)) {
    for (const k of h.keys()) push(k, h.values(k));
  } else if (h instanceof Map) {
    for (const [k, v] of h) push(k, v);
  } else {
    for (const [k, v] of Object.entries(h)) push(k, v);
  }
  return out;
}

/**
 * A NATS server inside the page or the Node process.
 *
 *   const server = new InPageServer({ max_payload: 1024, authorization: { users: [...] } });
 *   installWebSocket();                        // nats.ws: connect({ servers: server.url })
 *   wsconnect({ servers: server.url, wsFactory: server.wsFactory })   // nats-core 3.x
 *
 * Options are nats-server config keys (JSON shape of the config file): max_payload,
 * max_control_line, ping_interval, ping_max, no_header_support, max_subscriptions,
 * server_name, no_auth_user, authorization {user, password, token, timeout, users,
 * default_permissions}. Unknown keys throw. `url` (default `ws://natsws-inpage-N:4222`)
 * is where InPageWebSocket finds this server.
 */
export class InPageServer {
  constructor(options = {}, { url, seed } = {}) {
    const n = nextServer++;
    this.url = url ?? `ws://natsws-inpage-${n}:4222`;
    const key = keyOf(this.url);
    if (!key) throw new TypeError(`InPageServer: invalid url ${this.url}`);
    if (registry.has(key)) throw new Error(`InPageServer: ${this.url} is already served`);
    this.core = new InPageCore(JSON.stringify(options), (seed ?? Math.floor(Math.random() * 0xffffffff)) >>> 0);
    this._key = key;
    registry.set(key, this);
    this._sockets = new Map();
    this._origin = wallNow();
    this._frozen = undefined; // the frozen clock reading, or undefined when running
    this._offset = 0;
    this._timer = undefined;
    this._timerAt = Infinity;
    this._flushQueued = false;
    this._flushed = [];
    this.closed = false;
    /** nats-core 3.x `wsFactory`: `wsconnect({ servers: server.url, wsFactory: server.wsFactory })`. */
    this.wsFactory = (u) => Promise.resolve({ socket: new InPageWebSocket(registry.has(keyOf(u)) ? u : this.url), encrypted: false });
  }

  /** INFO server_id. */
  get serverId() { return this.core.serverId; }

  /** The server clock in ms (frozen or running). */
  now() {
    return this._frozen ?? wallNow() - this._origin + this._offset;
  }

  /** Stops the server clock: ping, stale and auth timers fire only through advanceTime. */
  freezeTime() {
    if (this._frozen === undefined) this._frozen = this.now();
    this._disarm();
  }

  /** Moves the frozen (or running) clock forward by `ms`, firing every timer due on the way. Resolves after the resulting deliveries. */
  advanceTime(ms) {
    const target = this.now() + ms;
    for (;;) {
      const d = this.core.nextDeadline();
      if (d === undefined || d > target) break;
      this._setClock(Math.max(d, this.now()));
      this.core.tick(this.now());
    }
    this._setClock(target);
    this.core.tick(target);
    return this.flush();
  }

  /** Lets the clock run again (from where it was frozen). */
  resumeTime() {
    if (this._frozen === undefined) return;
    this._offset = this._frozen - (wallNow() - this._origin);
    this._frozen = undefined;
    this._arm();
  }

  _setClock(t) {
    if (this._frozen !== undefined) this._frozen = t;
    else this._offset += t - this.now();
  }

  /** Resolves once everything the server has queued so far is handed to the clients (a later task). */
  flush() {
    this._queueFlush();
    return new Promise((resolve) => this._flushed.push(resolve));
  }

  /** A connection: a new InPageWebSocket to this server. */
  connect() {
    return new InPageWebSocket(this.url);
  }

  /** Publishes as the server (no permissions, reaches every subscriber). Returns the receiver count. */
  publish(subject, data = new Uint8Array(0), { reply, headers } = {}) {
    const n = this.core.publish(subject, reply, headerPairs(headers), bytesOf(data), this.now());
    this._queueFlush();
    return n;
  }

  /**
   * Closes client `cid` as the server: `-ERR '<err>'` first when `err` is given, then a
   * close frame with nats-server's code and reason for `reason` (a ClosedState text:
   * "Kicked" by default, "Server Shutdown", "Stale Connection"…). False when not open.
   */
  closeClient(cid, { err, reason } = {}) {
    const ok = this.core.serverClose(cid, err, reason, this.now());
    this._queueFlush();
    return ok;
  }

  /** Cuts client `cid` like a network failure: no -ERR, no close frame; the client sees error + close 1006. */
  dropClient(cid) {
    const s = this._sockets.get(cid);
    if (!s) return false;
    this._sockets.delete(cid);
    this.core.clientClosed(cid, this.now());
    soon(() => s._finish(1006, "", false, true));
    return true;
  }

  /** `/connz`: { state: "open" | "closed" | "any", subs: boolean, auth: boolean (authorized_user, account) }. */
  connz({ state = "open", subs = false, auth = false } = {}) {
    const z = JSON.parse(this.core.connz(state, !!subs, !!auth));
    const now = this.now();
    const wall = (t) => Date.now() - (now - t);
    z.now = rfc3339(Date.now());
    for (const c of z.connections) {
      c.start = rfc3339(wall(c.start));
      if (c.stop !== undefined) {
        c.uptime = goDuration(c.stop - (now - (Date.now() - Date.parse(c.start))));
        c.stop = rfc3339(wall(c.stop));
      } else {
        c.uptime = goDuration(Date.now() - Date.parse(c.start));
        c.idle = goDuration(now - c.last_activity);
        c.last_activity = rfc3339(wall(c.last_activity));
        if (c.rtt !== undefined) c.rtt = c.rtt === 0 ? "0s" : `${c.rtt}ms`;
      }
    }
    return z;
  }

  /** `/subsz`: { subs: boolean, test: subject }. */
  subsz({ subs = false, test } = {}) {
    const z = JSON.parse(this.core.subsz(!!subs, test));
    z.now = rfc3339(Date.now());
    return z;
  }

  /** Closes every client ("Server Shutdown", close 1001) and frees the URL. */
  close() {
    if (this.closed) return;
    this.closed = true;
    for (const cid of [...this._sockets.keys()]) this.core.serverClose(cid, undefined, "Server Shutdown", this.now());
    this._queueFlush(); // the clients see the close in a later task, as from a socket
    registry.delete(this._key);
    this._disarm();
  }

  // ---- sockets --------------------------------------------------------------------------

  _accept(socket) {
    const cid = this.core.open(this.now());
    socket.cid = cid;
    socket._server = this;
    this._sockets.set(cid, socket);
    this._queueFlush();
  }

  _input(cid, bytes) {
    this.core.input(cid, bytes, this.now());
    this._queueFlush();
  }

  _clientClosed(cid) {
    if (!this._sockets.delete(cid)) return;
    this.core.clientClosed(cid, this.now());
    this._arm();
  }

  _queueFlush() {
    if (this._flushQueued) return;
    this._flushQueued = true;
    soon(() => this._flush());
  }

  _flush() {
    this._flushQueued = false;
    const entries = this.core.drain();
    for (const [cid, data, reason, code] of entries) {
      const s = this._sockets.get(cid);
      if (!s) continue;
      if (data) s._deliver(data);
      if (reason !== undefined) {
        this._sockets.delete(cid);
        s._finish(code, reason, true, false);
      }
    }
    this._arm();
    const done = this._flushed;
    this._flushed = [];
    for (const r of done) r();
  }

  // ---- timers ---------------------------------------------------------------------------

  _disarm() {
    if (this._timer !== undefined) clearTimeout(this._timer);
    this._timer = undefined;
    this._timerAt = Infinity;
  }

  _arm() {
    if (this._frozen !== undefined || this.closed) return;
    const d = this.core.nextDeadline();
    if (d === undefined) {
      this._disarm();
      return;
    }
    if (this._timer !== undefined && this._timerAt <= d) return;
    this._disarm();
    this._timerAt = d;
    this._timer = setTimeout(() => {
      this._timer = undefined;
      this._timerAt = Infinity;
      this.core.tick(this.now());
      this._flush();
    }, Math.max(0, d - this.now()));
    // Node: never keep a test process alive for a ping timer.
    this._timer?.unref?.();
  }
}

/** The in-page server registered for `url`'s host and port, if any. */
export function inPageServerFor(url) {
  return registry.get(keyOf(url));
}
