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
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use natsws_core::router::ConnId;
use natsws_core::session::ClosedReason;
use natsws_core::time::Millis;

use crate::account::Accounts;
use crate::kind::ConnKind;
use crate::settings::{Settings, SettingsHolder};
use crate::sink::{ClientMeta, ConnShared, Kill};

pub(crate) use crate::info::VERSION;

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
    /// Slow consumer events, every kind (`/varz` `slow_consumers`).
    pub slow_consumers: AtomicU64,
    /// Of those, leafnode links (`slow_consumer_stats.leafs`; the rest
    /// are `clients`, MQTT included, as in nats-server).
    pub slow_consumer_leafs: AtomicU64,
    /// Connections closed as stale (pings unanswered, WebSocket keepalive;
    /// `/varz` `stale_connections`).
    pub stale_connections: AtomicU64,
    /// Of those, leafnode links (`stale_connection_stats.leafs`).
    pub stale_leafs: AtomicU64,
    /// Sockets closed at accept by the `max_pending_handshakes` cap.
    pub pre_auth_rejected: AtomicU64,
    /// Connections closed, by reason ([`ClosedReason::index`]).
    pub closed: [AtomicU64; ClosedReason::ALL.len()],
    /// WebSocket keepalive ping frames sent.
    pub ws_pings: AtomicU64,
    /// WebSocket upgrades that failed (refused request, timeout, data
    /// before the 101, rate limit).
    pub ws_handshake_failures: AtomicU64,
}

impl Stats {
    /// Counts a slow consumer event of a `kind` connection (nats-server
    /// `client.handleWriteTimeout`, `client.queueOutbound`).
    pub fn count_slow_consumer(&self, kind: ConnKind) {
        self.slow_consumers.fetch_add(1, Ordering::Relaxed);
        if kind.is_leaf() {
            self.slow_consumer_leafs.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a stale connection of `kind` (nats-server
    /// `client.markConnAsClosed` with `StaleConnection`).
    pub fn count_stale(&self, kind: ConnKind) {
        self.stale_connections.fetch_add(1, Ordering::Relaxed);
        if kind.is_leaf() {
            self.stale_leafs.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts `msgs` deliveries of `bytes` payload bytes in all to
    /// `out_msgs`/`out_bytes`.
    pub fn count_out(&self, msgs: u64, bytes: u64) {
        self.out_msgs.fetch_add(msgs, Ordering::Relaxed);
        self.out_bytes.fetch_add(bytes, Ordering::Relaxed);
    }
}

impl Shared {
    /// Has the owning loop close `c` at its next turn with the reason the
    /// [`Kill`] `code` names (a connection already marked keeps its first
    /// code).
    pub(crate) fn kill(&self, c: &Arc<ConnShared>, code: Kill) {
        if !c.mark_kill(code) {
            return;
        }
        let l = &self.loops[c.loop_idx()];
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
    /// Leafnode sockets a remote's dialer connected, for this loop.
    pub(crate) solicited: Mutex<
        Vec<(
            mio::net::TcpStream,
            SocketAddr,
            Arc<crate::leaf_remote::Remote>,
        )>,
    >,
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
    /// Traffic and RTT at the close.
    pub stats: ClosedStats,
}

/// What `/connz?state=closed` shows of a closed connection's traffic, as
/// it stood at the close (nats-server fills the same `ConnInfo` then).
#[derive(Debug, Clone, Copy, Default)]
pub struct ClosedStats {
    /// Messages and payload bytes it published.
    pub in_msgs: u64,
    /// Payload bytes it published.
    pub in_bytes: u64,
    /// Messages delivered to it.
    pub out_msgs: u64,
    /// Payload bytes delivered to it.
    pub out_bytes: u64,
    /// Open subscriptions left.
    pub subs: usize,
    /// The RTT (see `crate::rtt::Rtt::get`).
    pub rtt: std::time::Duration,
    /// Its last activity as recorded (see `ConnShared::last_activity`:
    /// server-clock milliseconds, 0 = none since the accept).
    pub last_activity: u64,
    /// How long before `stop` that was, on the server clock (meaningless
    /// when `last_activity` is 0).
    pub idle: std::time::Duration,
    /// Bytes queued for it and not written when it closed (`pending_bytes`;
    /// nats-server keeps `out.pb` of the closed client: a slow consumer
    /// shows what it did not take).
    pub pending: u64,
}

/// State shared by every thread.
pub struct Shared {
    /// Settings in force (see [`Shared::settings`]).
    pub settings_holder: SettingsHolder,
    /// The accounts, each an isolated subject space (`$G` by default).
    pub accounts: Accounts,
    /// Pre-rendered INFO lines per listener kind (client, websocket),
    /// built on first use and again after a reload
    /// ([`Shared::refresh_info_templates`]).
    pub info_templates: Mutex<Option<Arc<[crate::info::InfoTemplates; ConnKind::ALL.len()]>>>,
    /// Configuration reload: its source and last outcome
    /// (`crate::reload`).
    pub reload: crate::reload::state::ReloadState,
    /// Next connection id.
    pub next_cid: AtomicU64,
    /// Open connections, for monitoring and `max_connections`.
    pub conns: Mutex<HashMap<ConnId, Arc<ConnShared>>>,
    /// Recently closed connections (bounded).
    pub closed: Mutex<std::collections::VecDeque<ClosedConn>>,
    /// Requests served per monitoring path (`/varz` `http_req_stats`,
    /// nats-server `httpReqStats`), counted before each answer is built.
    pub http_req_stats: Mutex<std::collections::BTreeMap<&'static str, u64>>,
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
    /// The `leafnodes` listener's address, once bound.
    pub leaf_addr: std::sync::OnceLock<SocketAddr>,
    /// The bound `leafnodes` listener until loop 0 takes it.
    pub leaf_listener: Mutex<Option<std::net::TcpListener>>,
    /// Bound monitoring address.
    pub http_addr: Option<SocketAddr>,
    /// Bound MQTT address.
    pub mqtt_addr: Option<SocketAddr>,
    /// MQTT sessions and retained messages.
    pub(crate) mqtt: crate::mqtt::Registry,
    /// The system account's state (operations spec §2).
    pub sys: crate::system::state::SysState,
}

/// The bound listener addresses (after port 0 was resolved).
#[derive(Debug, Clone, Copy)]
pub struct Addrs {
    /// Client port.
    pub client: SocketAddr,
    /// Websocket port, if enabled.
    pub ws: Option<SocketAddr>,
    /// Monitoring port, if enabled.
    pub http: Option<SocketAddr>,
    /// MQTT port, if enabled.
    pub mqtt: Option<SocketAddr>,
}

impl Shared {
    /// The state of a server starting now with `settings`, the loops'
    /// mailboxes, its bound addresses, id and name; the global account and
    /// the configured ones ([`Settings::accounts`]) exist, nothing is
    /// connected.
    pub fn new(
        settings: Settings,
        loops: Vec<LoopHandle>,
        addrs: Addrs,
        server_id: String,
        server_name: String,
    ) -> Shared {
        let accounts = Accounts::new();
        for name in &settings.accounts {
            accounts.get(name);
        }
        if let Some(name) = &settings.system_account {
            accounts.get(name);
        }
        Shared {
            client_addr: addrs.client,
            ws_addr: addrs.ws,
            leaf_addr: std::sync::OnceLock::new(),
            leaf_listener: Mutex::new(None),
            http_addr: addrs.http,
            mqtt_addr: addrs.mqtt,
            mqtt: crate::mqtt::Registry::default(),
            settings_holder: SettingsHolder::new(settings),
            accounts,
            info_templates: Mutex::new(None),
            reload: crate::reload::state::ReloadState::default(),
            next_cid: AtomicU64::new(1),
            conns: Mutex::new(HashMap::new()),
            closed: Mutex::new(std::collections::VecDeque::new()),
            http_req_stats: Mutex::default(),
            pre_auth: AtomicUsize::new(0),
            loops,
            server_id,
            server_name,
            start: SystemTime::now(),
            epoch: Instant::now(),
            stats: Stats::default(),
            shutdown: AtomicBool::new(false),
            lame_duck: AtomicBool::new(false),
            ldm_acks: Mutex::new(0),
            ldm_cv: std::sync::Condvar::new(),
            sys: Default::default(),
        }
    }

    /// The settings in force now (a lock and an `Arc` clone: not for a
    /// per-message path, where the loop's [`crate::deliver::Turn::settings`]
    /// is read instead).
    pub fn settings(&self) -> Arc<Settings> {
        self.settings_holder.current()
    }

    /// Counts a connection as open (`/connz`, `max_connections`). True when
    /// the server already had `max_connections` open: nats-server then
    /// answers `-ERR 'maximum connections exceeded'` and closes it (spec
    /// `nats-protocol.md` §1.8).
    pub fn admit(&self, cs: &Arc<ConnShared>) -> bool {
        let mut conns = self.conns.lock().expect("conns");
        let n = conns.len();
        conns.insert(cs.cid, cs.clone());
        n >= self.settings().max_connections
    }

    /// Whether more connections are open than `max_connections` allows.
    pub fn over_max_connections(&self) -> bool {
        self.conns.lock().expect("conns").len() > self.settings().max_connections
    }

    /// The INFO templates of a listener kind, as the settings in force
    /// say (a lock and an `Arc` clone: once per connection, not per
    /// message).
    pub fn info_templates(&self, kind: ConnKind) -> InfoFor {
        let mut cache = self.info_templates.lock().expect("info");
        let all = cache
            .get_or_insert_with(|| {
                let settings = self.settings();
                let inputs = crate::info::InfoInputs {
                    settings: &settings,
                    server_id: &self.server_id,
                    server_name: &self.server_name,
                    client_addr: self.client_addr,
                    ws_addr: self.ws_addr,
                };
                Arc::new(ConnKind::ALL.map(|k| crate::info::InfoTemplates::new(&inputs, k)))
            })
            .clone();
        InfoFor {
            all,
            idx: kind.index(),
        }
    }

    /// Drops the INFO templates so that the next connection gets them
    /// built from the settings in force (after a reload swapped them).
    pub fn refresh_info_templates(&self) {
        *self.info_templates.lock().expect("info") = None;
    }

    /// Milliseconds since start, the clock handed to core.
    pub fn now(&self) -> Millis {
        Millis(self.epoch.elapsed().as_millis() as u64)
    }
}

/// One listener kind's INFO templates ([`Shared::info_templates`]).
pub struct InfoFor {
    all: Arc<[crate::info::InfoTemplates; ConnKind::ALL.len()]>,
    idx: usize,
}

impl std::ops::Deref for InfoFor {
    type Target = crate::info::InfoTemplates;
    fn deref(&self) -> &crate::info::InfoTemplates {
        &self.all[self.idx]
    }
}

/// How many closed connections `/connz?state=closed` remembers.
pub(crate) const CLOSED_RING: usize = 10_000;
