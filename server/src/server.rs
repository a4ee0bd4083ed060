//! The running server: shared state, listeners and the pool of event loops.
//!
//! Threading (see `../shared/ARCHITECTURE.md`): `threads` event-loop threads,
//! each with its own `mio::Poll` and a slab of connections. Loop 0 also owns
//! the listeners and hands accepted sockets to the loops round-robin. A
//! publish is routed on the publisher's thread: the subject space is one
//! `Mutex<Router>` (held only for the cached match), and each delivery is
//! appended to the target connection's outbound buffer under that
//! connection's own lock. A target that becomes dirty is queued on its loop
//! once, and each foreign loop is woken once per read batch.
//!
//! With accounts there is one `Mutex<Router>` per account; a connection
//! publishes into and subscribes in its own account only.
//!
//! Lock order: `router` → nothing; `Accounts::map` → nothing; `ConnShared::out` → nothing;
//! `LoopHandle::inbox` → nothing. No lock is held while taking another.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use natsws_core::router::{ConnId, Router};
use natsws_core::session::ClosedReason;
use natsws_core::time::Millis;

use crate::worker::Worker;
use crate::ws::WsListenConfig;

/// The version natsws reports in INFO and `/varz`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Resolved runtime settings (from the config file and the command line).
/// Units: bytes, and `Duration`s.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Client (TCP) listen address; port 0 picks a free port.
    pub client_addr: SocketAddr,
    /// The WebSocket listener, if configured with a port.
    pub websocket: Option<WsListenConfig>,
    /// Monitoring listen address (`http_port`, or `https_port` when
    /// [`Settings::https_tls`] is set).
    pub http_addr: Option<SocketAddr>,
    /// Client-port TLS (top-level `tls { … }`); `None` = plaintext.
    pub tls: Option<crate::tls::TlsListen>,
    /// Monitoring over TLS (`https_port`/`https`): the top-level `tls`
    /// block's certificate, client certificates never requested.
    pub https_tls: Option<Arc<crate::tls::TlsHolder>>,
    /// `server_name`; defaults to the server id.
    pub server_name: Option<String>,
    /// `client_advertise`: host and port in the INFO to TCP clients.
    pub client_advertise: Option<crate::info::Advertise>,
    /// `max_payload` (default 1 MiB).
    pub max_payload: usize,
    /// `max_control_line` (default 4096).
    pub max_control_line: usize,
    /// `max_pending` outbound bytes per connection (default 64 MiB).
    pub max_pending: usize,
    /// `max_subscriptions` per connection, 0 = unlimited.
    pub max_subscriptions: usize,
    /// `max_sub_tokens`: tokens allowed in a SUB subject, 0 = unlimited.
    pub max_sub_tokens: usize,
    /// `max_connections` (default 65536; a configured 0 rejects everyone,
    /// as in nats-server).
    pub max_connections: usize,
    /// `ping_interval` (default 2 min).
    pub ping_interval: Duration,
    /// `ping_max` (default 2).
    pub ping_max: u32,
    /// `write_deadline` (default 10 s).
    pub write_deadline: Duration,
    /// `max_pending` for WebSocket clients (natsws `websocket {
    /// max_pending }`; default the server's).
    pub ws_max_pending: usize,
    /// `write_deadline` for WebSocket clients (natsws `websocket {
    /// write_deadline }`; default the server's).
    pub ws_write_deadline: Duration,
    /// `no_header_support`.
    pub no_header_support: bool,
    /// Event-loop threads (default: one per core).
    pub threads: usize,
    /// Pre-auth cap: connections still in handshake or awaiting CONNECT
    /// (default 4096; 0 = unlimited). natsws-only hardening.
    pub max_pending_handshakes: usize,
    /// The longest an event loop keeps polling without blocking after a
    /// turn that had events (`loop_spin`; the window adapts below it).
    /// Default 50 µs; zero turns it off.
    pub loop_spin: Duration,
    /// `lame_duck_duration`: lame duck mode closes the clients within this
    /// time (default 2 min).
    pub lame_duck_duration: Duration,
    /// `lame_duck_grace_period`: lame duck mode waits this long before it
    /// closes clients (default 10 s).
    pub lame_duck_grace_period: Duration,
    /// Authentication and authorization; `None` when nothing is
    /// configured (everyone is anonymous in `$G`).
    pub auth: Option<Arc<crate::auth::ServerAuth>>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            client_addr: "0.0.0.0:4222".parse().expect("literal"),
            websocket: None,
            http_addr: None,
            tls: None,
            https_tls: None,
            server_name: None,
            client_advertise: None,
            max_payload: 1024 * 1024,
            max_control_line: 4096,
            max_pending: 64 * 1024 * 1024,
            max_subscriptions: 0,
            max_sub_tokens: 0,
            max_connections: 65536,
            ping_interval: Duration::from_secs(120),
            ping_max: 2,
            write_deadline: Duration::from_secs(10),
            ws_max_pending: 64 * 1024 * 1024,
            ws_write_deadline: Duration::from_secs(10),
            no_header_support: false,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            max_pending_handshakes: 4096,
            loop_spin: crate::options::DEFAULT_LOOP_SPIN,
            lame_duck_duration: crate::options::DEFAULT_LAME_DUCK_DURATION,
            lame_duck_grace_period: crate::options::DEFAULT_LAME_DUCK_GRACE_PERIOD,
            auth: None,
        }
    }
}

/// Which listener a connection came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnKind {
    /// The client port (plain NATS over TCP).
    Client,
    /// The websocket listener.
    WebSocket,
}

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

/// What a WebSocket connection's upgrade request said that outlives the
/// handshake: the client address for INFO, JWT `src` and logs, and the
/// details `/connz` shows (natsws extension, user-needs §20).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsUpgrade {
    /// The client address from `X-Forwarded-For`.
    pub forwarded: Option<Forwarded>,
    /// The request path (without the query).
    pub path: String,
    /// `Origin`, when sent.
    pub origin: Option<String>,
    /// `User-Agent`, when sent.
    pub user_agent: Option<String>,
    /// permessage-deflate negotiated.
    pub compression: bool,
    /// A browser (`Mozilla/` User-Agent): outbound frames of at most 4 KiB.
    pub browser: bool,
}

/// A WebSocket client's address from `X-Forwarded-For`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forwarded {
    /// The address.
    pub ip: std::net::IpAddr,
    /// Resolved through `trusted_proxies` (then it is the client address
    /// for INFO, `/connz`, JWT `src` and logs); false: the first header
    /// line as sent, shown in logs only (nats-server, websocket spec §2.9).
    pub trusted: bool,
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

impl Settings {
    /// `max_pending` for a connection of `kind`.
    pub fn max_pending_for(&self, kind: ConnKind) -> usize {
        match kind {
            ConnKind::Client => self.max_pending,
            ConnKind::WebSocket => self.ws_max_pending,
        }
    }

    /// `write_deadline` for a connection of `kind`.
    pub fn write_deadline_for(&self, kind: ConnKind) -> Duration {
        match kind {
            ConnKind::Client => self.write_deadline,
            ConnKind::WebSocket => self.ws_write_deadline,
        }
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

/// Lame duck mode (nats-protocol.md §5, nats-server `lameDuckMode`), run on
/// its own thread after SIGUSR2; returns when every client has been closed
/// (the caller then shuts the server down) or at once when `stop` is set
/// (SIGINT meanwhile; the caller shuts down). In order:
/// 1. logs `Entering lame duck mode, stop accepting new clients`; every
///    loop closes its listeners (new connections are refused, `/healthz`
///    fails) and sends an INFO with `"ldm":true` to clients that take
///    asynchronous INFO (protocol 1, after their first PONG);
/// 2. with no clients, returns;
/// 3. waits `lame_duck_grace_period`, logs `Closing existing clients`;
/// 4. closes the clients one at a time (reason Server Shutdown, WebSocket
///    close 1001), spread over `lame_duck_duration` minus the grace period:
///    the interval is that time over the number of clients, at most 1 s,
///    each pause drawn at random from [interval/2, interval), so that the
///    clients do not all reconnect at once.
pub fn lame_duck(shared: &Shared, stop: &AtomicBool) {
    shared.lame_duck.store(true, Ordering::Release);
    crate::info!("Entering lame duck mode, stop accepting new clients");
    for l in &shared.loops {
        let _ = l.waker.wake();
    }
    // Wait for every loop to have closed its listeners and sent the INFO.
    {
        let mut acks = shared.ldm_acks.lock().expect("ldm");
        while *acks < shared.loops.len() && !stop.load(Ordering::Acquire) {
            acks = shared.ldm_cv.wait(acks).expect("ldm");
        }
    }
    let clients: Vec<Arc<ConnShared>> = shared
        .conns
        .lock()
        .expect("conns")
        .values()
        .cloned()
        .collect();
    if clients.is_empty() || stop.load(Ordering::Acquire) {
        return;
    }
    let opts = &shared.settings;
    let pause = |d: Duration| -> bool {
        // Interruptible sleep: false when stopped.
        let until = Instant::now() + d;
        let mut acks = shared.ldm_acks.lock().expect("ldm");
        loop {
            if stop.load(Ordering::Acquire) {
                return false;
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return true;
            }
            acks = shared.ldm_cv.wait_timeout(acks, left).expect("ldm").0;
        }
    };
    if !opts.lame_duck_grace_period.is_zero() {
        if !pause(opts.lame_duck_grace_period) {
            return;
        }
        crate::info!("Closing existing clients");
    }
    let spread = opts
        .lame_duck_duration
        .saturating_sub(opts.lame_duck_grace_period)
        .max(Duration::from_secs(1));
    let interval =
        (spread / clients.len() as u32).clamp(Duration::from_micros(1), Duration::from_secs(1));
    for (i, c) in clients.iter().enumerate() {
        shared.kill(c, KILL_SHUTDOWN);
        if i + 1 == clients.len() {
            break;
        }
        let nanos = interval.as_nanos() as u64;
        let jitter = Duration::from_nanos(fastrand::u64(nanos / 2..nanos.max(nanos / 2 + 1)));
        if !pause(jitter) {
            return;
        }
    }
}

/// Wakes [`lame_duck`] out of its waits (after setting its `stop`).
pub fn stop_lame_duck(shared: &Shared) {
    let _acks = shared.ldm_acks.lock().expect("ldm");
    shared.ldm_cv.notify_all();
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

/// One account: an isolated subject space (spec `nats-protocol.md` §3.6).
pub struct Account {
    /// Account name (`$G` for the global account; the account public key in
    /// operator mode).
    pub name: String,
    /// Its subscriptions.
    pub router: Mutex<Router>,
}

/// The name of the default (global) account.
pub const GLOBAL_ACCOUNT: &str = "$G";

/// Every account, created on first use. Lock order: `Accounts::map` →
/// nothing (never held while a router is locked).
pub struct Accounts {
    global: Arc<Account>,
    map: Mutex<HashMap<String, Arc<Account>>>,
}

impl Accounts {
    fn new() -> Self {
        let global = Arc::new(Account {
            name: GLOBAL_ACCOUNT.to_string(),
            router: Mutex::new(Router::new()),
        });
        let mut map = HashMap::new();
        map.insert(GLOBAL_ACCOUNT.to_string(), global.clone());
        Accounts {
            global,
            map: Mutex::new(map),
        }
    }

    /// The global account `$G`.
    pub fn global(&self) -> &Arc<Account> {
        &self.global
    }

    /// The account named `name`, created empty on first use.
    pub fn get(&self, name: &str) -> Arc<Account> {
        if name == GLOBAL_ACCOUNT {
            return self.global.clone();
        }
        let mut map = self.map.lock().expect("accounts");
        map.entry(name.to_string())
            .or_insert_with(|| {
                Arc::new(Account {
                    name: name.to_string(),
                    router: Mutex::new(Router::new()),
                })
            })
            .clone()
    }

    /// Every account, `$G` first then by name.
    pub fn all(&self) -> Vec<Arc<Account>> {
        let map = self.map.lock().expect("accounts");
        let mut v: Vec<_> = map.values().cloned().collect();
        v.sort_by(|a, b| {
            (a.name != GLOBAL_ACCOUNT, &a.name).cmp(&(b.name != GLOBAL_ACCOUNT, &b.name))
        });
        v
    }
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
            [
                crate::info::InfoTemplates::new(self, ConnKind::Client),
                crate::info::InfoTemplates::new(self, ConnKind::WebSocket),
            ]
        });
        match kind {
            ConnKind::Client => &t[0],
            ConnKind::WebSocket => &t[1],
        }
    }

    /// Milliseconds since start, the clock handed to core.
    pub fn now(&self) -> Millis {
        Millis(self.epoch.elapsed().as_millis() as u64)
    }
}

/// How many closed connections `/connz?state=closed` remembers.
pub const CLOSED_RING: usize = 10_000;

/// A started server: its addresses, and a handle to stop it.
pub struct Running {
    /// Shared state (addresses, counters).
    pub shared: Arc<Shared>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Running {
    /// Asks every loop to close its connections (WebSocket: close frame 1001)
    /// and exit, then waits for them.
    pub fn shutdown(self) {
        self.shared.shutdown.store(true, Ordering::Release);
        for l in &self.shared.loops {
            let _ = l.waker.wake();
        }
        for t in self.threads {
            let _ = t.join();
        }
    }

    /// Waits until the loops exit (after a shutdown started elsewhere).
    pub fn wait(self) {
        for t in self.threads {
            let _ = t.join();
        }
    }
}

fn bind(addr: SocketAddr, what: &str) -> std::io::Result<StdListener> {
    StdListener::bind(addr).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("error listening on {what} port {addr}: {e}"),
        )
    })
}

/// Generates a server id: an `N…` public nkey, new each start (spec §1.5).
fn server_id() -> String {
    nkeys::KeyPair::new_server().public_key()
}

/// Binds the listeners and starts the loops. Returns once the server is
/// ready (`Server is ready` logged).
pub fn start(settings: Settings) -> std::io::Result<Running> {
    let client = bind(settings.client_addr, "client")?;
    client.set_nonblocking(true)?;
    let ws = match &settings.websocket {
        Some(w) => {
            let l = bind(w.addr, "websocket")?;
            l.set_nonblocking(true)?;
            Some(l)
        }
        None => None,
    };
    let http = match settings.http_addr {
        Some(a) => Some(bind(a, "monitoring")?),
        None => None,
    };
    let threads = settings.threads.max(1);
    let mut polls = Vec::with_capacity(threads);
    let mut loops = Vec::with_capacity(threads);
    for _ in 0..threads {
        let poll = mio::Poll::new()?;
        let waker = mio::Waker::new(poll.registry(), crate::worker::WAKER)?;
        polls.push(poll);
        loops.push(LoopHandle {
            waker,
            inbox: Mutex::new(Vec::new()),
            accepted: Mutex::new(Vec::new()),
        });
    }
    let id = server_id();
    let name = settings.server_name.clone().unwrap_or_else(|| id.clone());
    let shared = Arc::new(Shared {
        client_addr: client.local_addr()?,
        ws_addr: ws.as_ref().map(|l| l.local_addr()).transpose()?,
        http_addr: http.as_ref().map(|l| l.local_addr()).transpose()?,
        settings,
        accounts: Accounts::new(),
        info_templates: std::sync::OnceLock::new(),
        next_cid: AtomicU64::new(1),
        conns: Mutex::new(HashMap::new()),
        closed: Mutex::new(std::collections::VecDeque::new()),
        pre_auth: AtomicUsize::new(0),
        loops,
        server_id: id,
        server_name: name,
        start: SystemTime::now(),
        epoch: Instant::now(),
        stats: Stats::default(),
        shutdown: AtomicBool::new(false),
        lame_duck: AtomicBool::new(false),
        ldm_acks: Mutex::new(0),
        ldm_cv: std::sync::Condvar::new(),
    });

    crate::info!("Starting natsws");
    crate::info!("  Version:  {VERSION}");
    crate::info!("  Name:     {}", shared.server_name);
    crate::info!("  ID:       {}", shared.server_id);
    if let Some(h) = http {
        let scheme = if shared.settings.https_tls.is_some() {
            "https"
        } else {
            "http"
        };
        crate::info!(
            "Starting {scheme} monitor on {}",
            shared.http_addr.expect("bound")
        );
        crate::monitor::spawn(h, shared.clone())?;
    }
    if let (Some(a), Some(w)) = (shared.ws_addr, &shared.settings.websocket) {
        if w.tls.is_some() {
            crate::info!("Listening for websocket clients on wss://{a}");
        } else {
            crate::info!("Listening for websocket clients on ws://{a}");
            crate::warn!("Websocket not configured with TLS. DO NOT USE IN PRODUCTION!");
        }
    }
    crate::info!("Listening for client connections on {}", shared.client_addr);
    if shared.settings.tls.is_some() {
        crate::info!("TLS required for client connections");
    }

    let mut handles = Vec::new();
    let mut listeners = Some((client, ws));
    for (idx, poll) in polls.into_iter().enumerate() {
        let shared = shared.clone();
        let l = if idx == 0 { listeners.take() } else { None };
        let worker = Worker::new(idx, poll, shared, l)?;
        handles.push(
            std::thread::Builder::new()
                .name(format!("natsws-loop-{idx}"))
                .spawn(move || {
                    // A bug must not leave the server running without this
                    // loop's connections: fail fast, as nats-server does.
                    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| worker.run()))
                        .is_err()
                    {
                        crate::log::log(
                            crate::log::Level::Fatal,
                            format_args!("event loop {idx} panicked; exiting"),
                        );
                        std::process::exit(2);
                    }
                })?,
        );
    }
    crate::info!("Server is ready");
    Ok(Running {
        shared,
        threads: handles,
    })
}
