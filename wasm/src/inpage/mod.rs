//! `InPageCore`: a NATS server inside the page (or a Node process), with no
//! sockets. Core's [`Router`](natsws_core::router::Router) is the subject
//! space and each connection is one core [`Session`]; the bytes are plain
//! NATS protocol. The JavaScript side (`inpage.js` in the package) owns the
//! clock, the timers (`setTimeout`) and the fake WebSockets, and moves bytes
//! with `open` / `input` / `drain`.
//!
//! Calling protocol (all times are the caller's clock in ms):
//! 1. `open(now)` accepts a connection: its INFO is queued; returns the cid.
//! 2. `input(cid, bytes, now)` feeds what the client sent.
//! 3. `drain()` after any call: for every connection with something to
//!    deliver, `[cid, bytes | undefined, closedReason | undefined,
//!    wsCloseCode | undefined]`; a connection reported with a reason is gone.
//! 4. `nextDeadline()` / `tick(now)`: the ping, stale and auth timers.
//! 5. `clientClosed(cid)`: the client went away (no further drain entry).

mod config;
mod host;
mod monitor;
mod world;

use std::collections::{BTreeMap, VecDeque};

use js_sys::{Array, Uint8Array};
use natsws_core::auth::AuthConfig;
use natsws_core::proto::{self, headers::HeaderWriter, Info, Limits};
use natsws_core::router::{ConnId, Message, Origin, SubjectSpace};
use natsws_core::session::{ClosedReason, Session, SessionConfig};
use natsws_core::subject::validate_subject;
use natsws_core::time::Millis;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsValue;

use config::Options;
use host::ConnHost;
use world::{Peer, World};

/// Closed connections kept for `connz({ state: "closed" })`.
const CLOSED_KEPT: usize = 64;

/// One open connection.
struct Conn {
    session: Session<ConnId>,
    /// Bytes received and not yet consumed (an op split across sends).
    inbuf: Vec<u8>,
    /// When it was opened (caller's clock, ms).
    start: f64,
    /// The last input (caller's clock, ms).
    last_activity: f64,
    /// Closed by the server: reported by the next drain, then removed.
    closing: Option<ClosedReason>,
}

/// A closed connection, for `connz` with state `closed`.
pub(crate) struct ClosedConn {
    pub(crate) cid: ConnId,
    pub(crate) start: f64,
    pub(crate) stop: f64,
    pub(crate) reason: ClosedReason,
    pub(crate) name: String,
    pub(crate) lang: String,
    pub(crate) version: String,
    pub(crate) user: String,
}

/// The sans-IO in-page server (JavaScript: `InPageCore`; use it through
/// `InPageServer` of `natsws-wasm`, which adds clocks and sockets).
#[wasm_bindgen(js_name = InPageCore)]
pub struct InPageCore {
    world: World,
    conns: BTreeMap<ConnId, Conn>,
    opts: Options,
    server_id: String,
    next_cid: ConnId,
    closed: VecDeque<ClosedConn>,
    now: f64,
}

fn err(text: &str) -> JsValue {
    js_sys::Error::new(text).into()
}

/// A 56-character server id in the shape of nats-server's (`N` + base32).
fn server_id(seed: u32) -> String {
    const ALPHA: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut x = seed | 1;
    let mut id = String::from("N");
    for _ in 0..55 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        id.push(ALPHA[(x % 32) as usize] as char);
    }
    id
}

fn reason_by_name(name: &str) -> Option<ClosedReason> {
    ClosedReason::ALL.into_iter().find(|r| r.as_str() == name)
}

#[wasm_bindgen(js_class = InPageCore)]
impl InPageCore {
    /// A server with the options in `options_json` (the JSON of an object
    /// with nats-server config keys: `max_payload`, `ping_interval`,
    /// `authorization`, … see the package README); `seed` seeds the server
    /// id and the queue-group picks. Throws an `Error` naming the bad key.
    #[wasm_bindgen(constructor)]
    pub fn new(options_json: &str, seed: u32) -> Result<InPageCore, JsValue> {
        let opts = Options::from_json(options_json).map_err(|e| err(&e.to_string()))?;
        Ok(InPageCore {
            world: World::new(seed.wrapping_mul(2_654_435_761)),
            conns: BTreeMap::new(),
            server_id: server_id(seed),
            opts,
            next_cid: 1,
            closed: VecDeque::new(),
            now: 0.0,
        })
    }

    /// The server id (`INFO` `server_id`, `/varz` `server_id`).
    #[wasm_bindgen(getter, js_name = serverId)]
    pub fn server_id(&self) -> String {
        self.server_id.clone()
    }

    /// The server name (`server_name`, default the id).
    #[wasm_bindgen(getter, js_name = serverName)]
    pub fn server_name(&self) -> String {
        self.opts
            .server_name
            .clone()
            .unwrap_or_else(|| self.server_id.clone())
    }

    /// The effective `max_payload` in bytes.
    #[wasm_bindgen(getter, js_name = maxPayload)]
    pub fn max_payload(&self) -> f64 {
        self.opts.max_payload as f64
    }

    fn auth(&self) -> Option<&AuthConfig> {
        self.opts.auth.as_ref()
    }

    /// A fresh INFO nonce when some user has an nkey (nats-server: 11
    /// random bytes, base64url without padding), else empty.
    fn nonce(&self) -> String {
        use base64::Engine as _;
        if !self.auth().is_some_and(AuthConfig::needs_nonce) {
            return String::new();
        }
        let mut raw = [0u8; 11];
        // Web Crypto (`crypto.getRandomValues`) through getrandom; a page or
        // Node without it cannot run nkey users, so the nonce is then left
        // empty and every nkey signature fails.
        if getrandom03::fill(&mut raw).is_err() {
            return String::new();
        }
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    }

    fn info(&self, cid: ConnId, connect_info: bool, nonce: &str) -> Vec<u8> {
        let auth_required = self.auth().is_some_and(|a| a.auth_required(host::KIND));
        let info = Info {
            server_id: self.server_id.clone(),
            server_name: self.server_name(),
            version: natsws_core::proto::SERVER_VERSION.into(),
            proto: 1,
            go: concat!("natsws-wasm ", env!("CARGO_PKG_VERSION")).into(),
            host: "0.0.0.0".into(),
            port: 0,
            headers: self.opts.headers,
            auth_required,
            max_payload: i32::try_from(self.opts.max_payload).unwrap_or(i32::MAX),
            client_id: cid,
            client_ip: "127.0.0.1".into(),
            // The connect_info INFO has no nonce (nats-server 2.15.1).
            nonce: if connect_info {
                String::new()
            } else {
                nonce.into()
            },
            connect_info,
            remote_account: if connect_info {
                natsws_core::auth::GLOBAL_ACCOUNT.into()
            } else {
                String::new()
            },
            ..Info::default()
        };
        let mut out = Vec::new();
        proto::encode_info(&mut out, &info);
        out
    }

    /// Accepts a new connection at `now` (ms): queues its INFO and returns
    /// its cid (from 1, never reused).
    pub fn open(&mut self, now: f64) -> f64 {
        let cid = self.next_cid;
        self.next_cid += 1;
        let auth_check = self.auth().is_some();
        let auth_required = self.auth().is_some_and(|a| a.auth_required(host::KIND));
        let nonce = self.nonce();
        let cfg = SessionConfig {
            conn: cid,
            limits: Limits {
                max_control_line: self.opts.max_control_line,
                max_payload: self.opts.max_payload,
            },
            max_subscriptions: self.opts.max_subscriptions,
            max_sub_tokens: 0,
            auth_required,
            auth_check,
            auth_timeout: Millis(self.opts.auth_timeout_ms),
            first_ping: Millis(2000.min(self.opts.ping_interval_ms)),
            ping_interval: Millis(self.opts.ping_interval_ms),
            ping_max: self.opts.ping_max,
            headers_supported: self.opts.headers,
            connect_info: Some(self.info(cid, true, "")),
            target: Some(cid),
        };
        let session = Session::new(cfg, Millis(now.max(0.0) as u64));
        let mut peer = Peer::default();
        peer.out = self.info(cid, false, &nonce);
        peer.nonce = nonce;
        self.world.peers.insert(cid, peer);
        self.world.mark_dirty(cid);
        self.conns.insert(
            cid,
            Conn {
                session,
                inbuf: Vec::new(),
                start: now,
                last_activity: now,
                closing: None,
            },
        );
        cid as f64
    }

    /// Feeds bytes the client `cid` sent at `now`. Bytes for a closed or
    /// unknown connection are dropped (as by a socket that is gone).
    pub fn input(&mut self, cid: f64, bytes: &[u8], now: f64) {
        let cid = cid as ConnId;
        self.set_now(now);
        let auth = self.opts.auth.as_ref();
        let Some(conn) = self.conns.get_mut(&cid) else {
            return;
        };
        if conn.closing.is_some() {
            return;
        }
        conn.last_activity = now;
        let Some(peer) = self.world.peers.get_mut(&cid) else {
            return;
        };
        let mut out = std::mem::take(&mut peer.out);
        let mut host = ConnHost {
            world: &mut self.world,
            auth,
            cid,
        };
        let t = Millis(now.max(0.0) as u64);
        // Parse straight from the caller's bytes when nothing is pending;
        // keep only an incomplete tail.
        let result = if conn.inbuf.is_empty() {
            conn.session
                .handle_input(bytes, t, &mut host, &mut out)
                .map(|used| conn.inbuf.extend_from_slice(&bytes[used..]))
        } else {
            conn.inbuf.extend_from_slice(bytes);
            conn.session
                .handle_input(&conn.inbuf, t, &mut host, &mut out)
                .map(|used| {
                    conn.inbuf.drain(..used);
                })
        };
        if let Err(close) = result {
            conn.session.close(&mut host);
            conn.closing = Some(close.reason);
            conn.inbuf = Vec::new();
        }
        let closing = conn.closing.is_some();
        Self::restore_out(&mut self.world, closing, cid, out);
    }

    fn set_now(&mut self, now: f64) {
        self.now = now;
        self.world.now = Millis(now.max(0.0) as u64);
    }

    /// Puts a connection's outbound buffer back after a session call and
    /// lists it for the drain when it holds bytes or is closing.
    fn restore_out(world: &mut World, closing: bool, cid: ConnId, out: Vec<u8>) {
        if let Some(peer) = world.peers.get_mut(&cid) {
            let had = !out.is_empty();
            peer.out = out;
            if had || closing {
                world.mark_dirty(cid);
            }
        }
    }

    /// The earliest time (ms) a session timer is due, or `undefined`.
    #[wasm_bindgen(js_name = nextDeadline)]
    pub fn next_deadline(&self) -> Option<f64> {
        self.conns
            .values()
            .filter(|c| c.closing.is_none())
            .filter_map(|c| c.session.poll_timeout())
            .min()
            .map(|m| m.0 as f64)
    }

    /// Fires every session timer due at `now`: PINGs, `Stale Connection`,
    /// `Authentication Timeout` (spec `nats-protocol.md` §1.8).
    pub fn tick(&mut self, now: f64) {
        self.set_now(now);
        let t = Millis(now.max(0.0) as u64);
        let due: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| {
                c.closing.is_none() && c.session.poll_timeout().is_some_and(|d| d <= t)
            })
            .map(|(cid, _)| *cid)
            .collect();
        let auth = self.opts.auth.as_ref();
        for cid in due {
            let (Some(conn), Some(peer)) =
                (self.conns.get_mut(&cid), self.world.peers.get_mut(&cid))
            else {
                continue;
            };
            let mut out = std::mem::take(&mut peer.out);
            if let Err(close) = conn.session.handle_timeout(t, &mut out) {
                let mut host = ConnHost {
                    world: &mut self.world,
                    auth,
                    cid,
                };
                conn.session.close(&mut host);
                conn.closing = Some(close.reason);
            }
            let closing = conn.closing.is_some();
            Self::restore_out(&mut self.world, closing, cid, out);
        }
    }

    /// Everything to deliver since the last drain: an array of `[cid,
    /// bytes | undefined, closedReason | undefined, closeCode | undefined]`,
    /// in the order the connections got their first bytes. An entry with a
    /// reason is the connection's last: it is closed by the server with
    /// that nats-server `ClosedState` and WebSocket close code.
    pub fn drain(&mut self) -> Array {
        let list = Array::new();
        for cid in self.world.take_dirty() {
            let Some(peer) = self.world.peers.get_mut(&cid) else {
                continue;
            };
            let data = if peer.out.is_empty() {
                JsValue::UNDEFINED
            } else {
                let d = Uint8Array::from(peer.out.as_slice());
                peer.out.clear();
                d.into()
            };
            let closing = self.conns.get(&cid).and_then(|c| c.closing);
            let entry = Array::new();
            entry.push(&JsValue::from(cid as f64));
            entry.push(&data);
            if let Some(reason) = closing {
                entry.push(&JsValue::from_str(reason.as_str()));
                entry.push(&JsValue::from(reason.ws_close_code()));
                self.forget(cid, reason);
            }
            list.push(&entry);
        }
        list
    }

    /// Removes a closed connection, keeping it for `connz` state `closed`.
    fn forget(&mut self, cid: ConnId, reason: ClosedReason) {
        let peer = self.world.peers.remove(&cid);
        let Some(mut conn) = self.conns.remove(&cid) else {
            return;
        };
        let mut host = ConnHost {
            world: &mut self.world,
            auth: self.opts.auth.as_ref(),
            cid,
        };
        conn.session.close(&mut host);
        let c = conn.session.connect_options();
        if self.closed.len() >= CLOSED_KEPT {
            self.closed.pop_front();
        }
        self.closed.push_back(ClosedConn {
            cid,
            start: conn.start,
            stop: self.now,
            reason,
            name: c.map(|c| c.name.clone()).unwrap_or_default(),
            lang: c.map(|c| c.lang.clone()).unwrap_or_default(),
            version: c.map(|c| c.version.clone()).unwrap_or_default(),
            user: peer.map(|p| p.user).unwrap_or_default(),
        });
    }

    /// The client closed its side (or its socket dropped) at `now`: the
    /// session ends as `Client Closed` and its subscriptions go.
    #[wasm_bindgen(js_name = clientClosed)]
    pub fn client_closed(&mut self, cid: f64, now: f64) {
        self.set_now(now);
        let cid = cid as ConnId;
        let reason = self
            .conns
            .get(&cid)
            .and_then(|c| c.closing)
            .unwrap_or(ClosedReason::ClientClosed);
        self.world.dirty.retain(|c| *c != cid);
        self.forget(cid, reason);
    }

    /// Closes connection `cid` from the server side at `now`: `-ERR
    /// '<err>'` first when `err` is given, then the close with `reason` (a
    /// nats-server `ClosedState` string such as `"Kicked"` or `"Server
    /// Shutdown"`; default `Kicked`). Reported by the next drain. Returns
    /// false when no such connection is open; throws for an unknown reason.
    #[wasm_bindgen(js_name = serverClose)]
    pub fn server_close(
        &mut self,
        cid: f64,
        err_text: Option<String>,
        reason: Option<String>,
        now: f64,
    ) -> Result<bool, JsValue> {
        self.set_now(now);
        let reason = match reason {
            None => ClosedReason::Kicked,
            Some(r) => {
                reason_by_name(&r).ok_or_else(|| err(&format!("unknown closed reason {r:?}")))?
            }
        };
        let cid = cid as ConnId;
        let auth = self.opts.auth.as_ref();
        let (Some(conn), Some(peer)) = (self.conns.get_mut(&cid), self.world.peers.get_mut(&cid))
        else {
            return Ok(false);
        };
        if conn.closing.is_some() {
            return Ok(false);
        }
        if let Some(t) = err_text {
            proto::encode_err(&mut peer.out, &t);
        }
        let mut host = ConnHost {
            world: &mut self.world,
            auth,
            cid,
        };
        conn.session.close(&mut host);
        conn.closing = Some(reason);
        self.world.mark_dirty(cid);
        Ok(true)
    }

    /// Publishes as the server (an internal origin: no echo rules, no
    /// permissions) and returns how many subscriptions received it.
    /// `headers` is a flat list `[name, value, name, value, …]` (a `NATS/1.0`
    /// block is built from it when given). Throws for an invalid subject
    /// or header.
    pub fn publish(
        &mut self,
        subject: &str,
        reply: Option<String>,
        headers: Option<Vec<String>>,
        payload: &[u8],
        now: f64,
    ) -> Result<u32, JsValue> {
        self.set_now(now);
        validate_subject(subject.as_bytes()).map_err(crate::error::subject)?;
        let mut block = Vec::new();
        if let Some(h) = &headers {
            let mut w = HeaderWriter::new(&mut block);
            for pair in h.chunks(2) {
                let value = pair.get(1).map_or("", String::as_str);
                w.insert(pair[0].as_bytes(), value.as_bytes())
                    .map_err(crate::error::headers)?;
            }
            w.finish();
        }
        let msg = Message {
            subject: subject.as_bytes(),
            reply: reply.as_deref().map(str::as_bytes),
            headers: headers.is_some().then_some(block.as_slice()),
            payload,
        };
        let mut unused = Vec::new();
        let n = self
            .world
            .publish(Origin::Internal, true, &msg, &mut unused);
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// `/connz` as JSON text (nats-server's shape; times as the caller's
    /// clock in ms in `start`/`last_activity`/`stop`, which the JS side
    /// turns into RFC 3339). `state`: `"open"` (default), `"closed"` or
    /// `"any"`; `subs`: include `subscriptions_list`; `auth`: include
    /// `authorized_user` and `account` (nats-server's `auth=1`).
    pub fn connz(&self, state: Option<String>, subs: bool, auth: bool) -> String {
        monitor::connz(self, state.as_deref().unwrap_or("open"), subs, auth)
    }

    /// `/subsz` as JSON text; `subs`: include `subscriptions_list`;
    /// `test`: only subscriptions matching that subject.
    pub fn subsz(&self, subs: bool, test: Option<String>) -> String {
        monitor::subsz(self, subs, test.as_deref())
    }

    /// Number of open connections.
    #[wasm_bindgen(getter, js_name = numConnections)]
    pub fn num_connections(&self) -> u32 {
        self.conns.values().filter(|c| c.closing.is_none()).count() as u32
    }
}
