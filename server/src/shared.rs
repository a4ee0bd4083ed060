//! State every thread touches: [`Shared`], the per-connection
//! [`ConnShared`] with its [`Outbox`], the loops' mailboxes, counters and
//! the closed-connection ring.
//!
//! A publish is routed on the publisher's thread: the subject space is one
//! `Mutex<Router>` per account (held only for the cached match), and each
//! delivery is appended to the target connection's outbound buffer under
//! that connection's own lock. A target that becomes dirty is queued on its
//! loop once, and each foreign loop is woken once per read batch.
//!
//! Lock order: `router` → nothing; `Accounts::map` → nothing; `ConnShared::out` → nothing;
//! `LoopHandle::inbox` → nothing. No lock is held while taking another.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use natsws_core::router::ConnId;
use natsws_core::session::ClosedReason;
use natsws_core::time::Millis;

use crate::account::Accounts;
use crate::kind::ConnKind;
use crate::settings::Settings;
use crate::ws::{Forwarded, WsUpgrade};

pub use crate::info::VERSION;

/// Server-wide counters (`/varz`).
#[derive(Debug, Default)]
pub struct Stats {
    /// Messages received from clients.
    pub in_msgs: AtomicU64,
    /// Payload bytes received from clients.
    pub in_bytes: AtomicU64,
    /// Messages delivered to clients.
    pub out_msgs: AtomicU64,
    /// Payload bytes delivered to clients.
    pub out_bytes: AtomicU64,
    /// Connections accepted since start.
    pub total_connections: AtomicU64,
    /// Connections closed as slow consumers.
    pub slow_consumers: AtomicU64,
    /// Sockets closed at accept by the `max_pending_handshakes` cap.
    pub pre_auth_rejected: AtomicU64,
}

/// A connection's outbound queue, filled by any thread.
#[derive(Debug, Default)]
pub struct Outbox {
    /// NATS bytes waiting to be framed and written.
    pub buf: Vec<u8>,
}

/// The part of a connection that other threads touch.
#[derive(Debug)]
pub struct ConnShared {
    /// Connection id.
    pub cid: ConnId,
    /// Owning loop.
    pub loop_idx: usize,
    /// Slab key in the owning loop.
    pub token: usize,
    /// Listener kind.
    pub kind: ConnKind,
    /// Peer address.
    pub peer: SocketAddr,
    /// When it was accepted.
    pub start: SystemTime,
    /// Outbound NATS bytes.
    pub out: Mutex<Outbox>,
    /// Queued on its loop for a flush.
    pub dirty: AtomicBool,
    /// Set by another thread to make the owner close it (a `KILL_*` code).
    pub kill: AtomicU8,
    /// Messages delivered to it.
    pub out_msgs: AtomicU64,
    /// Payload bytes delivered to it.
    pub out_bytes: AtomicU64,
    /// Messages it published.
    pub in_msgs: AtomicU64,
    /// Payload bytes it published.
    pub in_bytes: AtomicU64,
    /// Open subscriptions.
    pub subs: AtomicUsize,
    /// Client name/lang/version from CONNECT, for monitoring.
    pub client: Mutex<ClientMeta>,
    /// What TLS negotiated, set once the handshake completes (TLS
    /// listeners only).
    pub tls: std::sync::OnceLock<crate::tls::TlsInfo>,
    /// Set when `perms` holds permissions that deliveries must consult.
    pub has_perms: AtomicBool,
    /// Delivery-time permissions (subscribe deny, response permissions).
    pub perms: Mutex<Option<crate::auth::DeliveryPerms>>,
    /// WebSocket: what the upgrade request said, set at the upgrade.
    pub upgrade: std::sync::OnceLock<Box<WsUpgrade>>,
}

impl ConnShared {
    /// The client's address: the one resolved through trusted proxies, else
    /// the TCP peer's.
    pub fn client_ip(&self) -> std::net::IpAddr {
        match self.forwarded() {
            Some(f) if f.trusted => f.ip,
            _ => self.peer.ip(),
        }
    }

    /// The client address from `X-Forwarded-For` (WebSocket, after the
    /// upgrade).
    pub fn forwarded(&self) -> Option<Forwarded> {
        self.upgrade.get().and_then(|u| u.forwarded)
    }

    /// The peer as log lines show it: `<forwarded>/<ip:port>` when the
    /// upgrade request carried an address (IPv6 in brackets), else
    /// `<ip:port>` (websocket spec §4.6).
    pub fn log_peer(&self) -> LogPeer<'_> {
        LogPeer(self)
    }
}

/// See [`ConnShared::log_peer`].
pub struct LogPeer<'a>(&'a ConnShared);

impl std::fmt::Display for LogPeer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.forwarded().map(|x| x.ip) {
            Some(std::net::IpAddr::V6(ip)) => write!(f, "[{ip}]/{}", self.0.peer),
            Some(ip) => write!(f, "{ip}/{}", self.0.peer),
            None => write!(f, "{}", self.0.peer),
        }
    }
}

impl ConnShared {
    /// Whether a message may be delivered to this connection (subscribe
    /// deny patterns), recording its reply subject for `allow_responses`.
    /// Cheap when the connection has no permissions.
    pub fn may_deliver(&self, subject: &[u8], reply: Option<&[u8]>, shared: &Shared) -> bool {
        if !self.has_perms.load(Ordering::Acquire) {
            return true;
        }
        match self.perms.lock().expect("perms").as_mut() {
            Some(p) => p.on_deliver(subject, reply, shared.now()),
            None => true,
        }
    }
}

/// CONNECT details kept for monitoring.
#[derive(Debug, Default, Clone)]
pub struct ClientMeta {
    /// `name`.
    pub name: String,
    /// `lang`.
    pub lang: String,
    /// `version`.
    pub version: String,
    /// Last RTT measured.
    pub rtt: Option<Millis>,
}

/// No kill requested.
pub const KILL_NONE: u8 = 0;
/// Close as slow consumer (pending bytes).
pub const KILL_SLOW: u8 = 1;
/// Close with reason Server Shutdown (lame duck mode).
pub const KILL_SHUTDOWN: u8 = 2;

impl ConnShared {
    /// The client certificate's identity, for `verify_and_map`
    /// authentication: set when the listener's `tls` block has
    /// `verify_and_map` and the TLS handshake completed (before any
    /// CONNECT is read).
    pub fn tls_peer(&self) -> Option<&crate::tls::PeerIdentity> {
        self.tls.get().and_then(|t| t.peer.as_ref())
    }

    /// Marks the connection for closing as a slow consumer (the owner closes
    /// it at its next turn, without stalling the caller).
    pub fn mark_slow(&self) -> bool {
        self.mark_kill(KILL_SLOW)
    }

    /// Sets the `KILL_*` `code` unless one is set already (the first code
    /// wins); true if this call set it.
    pub fn mark_kill(&self, code: u8) -> bool {
        self.kill
            .compare_exchange(KILL_NONE, code, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}

impl Shared {
    /// Has the owning loop close `c` at its next turn with the reason the
    /// `KILL_*` `code` names (a connection already marked keeps its first
    /// code).
    pub fn kill(&self, c: &Arc<ConnShared>, code: u8) {
        if !c.mark_kill(code) {
            return;
        }
        let l = &self.loops[c.loop_idx];
        if !c.dirty.swap(true, Ordering::AcqRel) {
            l.inbox.lock().expect("inbox").push(c.clone());
        }
        let _ = l.waker.wake();
    }

    /// Whether lame duck mode has started.
    pub fn in_lame_duck(&self) -> bool {
        self.lame_duck.load(Ordering::Acquire)
    }
}

/// A loop's mailbox for other threads.
pub struct LoopHandle {
    /// Wakes the loop's `Poll`.
    pub waker: mio::Waker,
    /// Connections made dirty by other threads.
    pub inbox: Mutex<Vec<Arc<ConnShared>>>,
    /// Newly accepted sockets for this loop.
    pub accepted: Mutex<Vec<(mio::net::TcpStream, SocketAddr, ConnKind)>>,
}

/// A closed connection remembered for `/connz?state=closed`.
#[derive(Debug, Clone)]
pub struct ClosedConn {
    /// Connection id.
    pub cid: ConnId,
    /// Kind.
    pub kind: ConnKind,
    /// Peer.
    pub peer: SocketAddr,
    /// Accepted at.
    pub start: SystemTime,
    /// Closed at.
    pub stop: SystemTime,
    /// Why.
    pub reason: ClosedReason,
    /// CONNECT details.
    pub client: ClientMeta,
}

/// State shared by every thread.
pub struct Shared {
    /// Settings in force.
    pub settings: Settings,
    /// The accounts, each an isolated subject space (`$G` by default).
    pub accounts: Accounts,
    /// Pre-rendered INFO lines per listener kind (client, websocket),
    /// built on first use.
    pub info_templates: std::sync::OnceLock<[crate::info::InfoTemplates; 2]>,
    /// Next connection id.
    pub next_cid: AtomicU64,
    /// Open connections, for monitoring and `max_connections`.
    pub conns: Mutex<HashMap<ConnId, Arc<ConnShared>>>,
    /// Recently closed connections (bounded).
    pub closed: Mutex<std::collections::VecDeque<ClosedConn>>,
    /// Connections in handshake or awaiting CONNECT.
    pub pre_auth: AtomicUsize,
    /// The loops' mailboxes.
    pub loops: Vec<LoopHandle>,
    /// Server id (an `N…` nkey).
    pub server_id: String,
    /// Server name.
    pub server_name: String,
    /// Start time.
    pub start: SystemTime,
    /// Monotonic origin for `Millis`.
    pub epoch: Instant,
    /// Counters.
    pub stats: Stats,
    /// Set when shutting down.
    pub shutdown: AtomicBool,
    /// Set when lame duck mode starts ([`lame_duck`]); each loop then
    /// closes its listeners, sends the `"ldm":true` INFO and counts itself
    /// in `ldm_acks`.
    pub lame_duck: AtomicBool,
    /// Loops that have entered lame duck mode, and the condition the lame
    /// duck thread waits on for them (and for a stop).
    pub ldm_acks: Mutex<usize>,
    /// See `ldm_acks`.
    pub ldm_cv: std::sync::Condvar,
    /// Bound client address (after port 0 resolution).
    pub client_addr: SocketAddr,
    /// Bound websocket address.
    pub ws_addr: Option<SocketAddr>,
    /// Bound monitoring address.
    pub http_addr: Option<SocketAddr>,
}

impl Shared {
    /// The INFO templates of a listener kind.
    pub fn info_templates(&self, kind: ConnKind) -> &crate::info::InfoTemplates {
        let t = self.info_templates.get_or_init(|| {
            let inputs = crate::info::InfoInputs {
                settings: &self.settings,
                server_id: &self.server_id,
                server_name: &self.server_name,
                client_addr: self.client_addr,
                ws_addr: self.ws_addr,
            };
            ConnKind::ALL.map(|k| crate::info::InfoTemplates::new(&inputs, k))
        });
        &t[kind.index()]
    }

    /// Milliseconds since start, the clock handed to core.
    pub fn now(&self) -> Millis {
        Millis(self.epoch.elapsed().as_millis() as u64)
    }
}

/// How many closed connections `/connz?state=closed` remembers.
pub const CLOSED_RING: usize = 10_000;
