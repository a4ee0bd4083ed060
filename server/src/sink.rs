//! Where deliveries go: a subscription's [`Sink`] is either a connection
//! (its [`ConnShared`], the part of a connection that other threads touch,
//! with its [`Outbox`]) or an internal subscriber with no socket
//! ([`Handler`], nats-server's `sub.icb`).
//!
//! This sits below [`crate::account`] (whose routers hold `SubRef<Sink>`)
//! and [`crate::shared`] (whose `Shared` holds the accounts), so that the
//! delivery engine ([`crate::deliver`]) can reach a subscriber without a
//! downcast and without an import circle.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use natsws_core::router::{ConnId, Message, Origin, Subscription};
use natsws_core::time::Millis;

use crate::kind::ConnKind;
use crate::ws::{Forwarded, WsUpgrade};

/// Where a subscription's deliveries go.
#[derive(Clone)]
pub enum Sink {
    /// A connection: the delivery is rendered at once (MSG/HMSG) into its
    /// outbox and the connection is queued for its loop's flush.
    Conn(Arc<ConnShared>),
    /// An internal subscriber: called on the publisher's thread, during the
    /// publish (nats-server's `sub.icb`).
    Internal(Arc<dyn Handler>),
    /// A session of a protocol that numbers its messages (MQTT QoS 1/2):
    /// the delivery is queued as a record and rendered at flush by the
    /// owning connection's protocol, which assigns the packet identifiers
    /// when the message is written, not when it is routed.
    Numbered(Arc<dyn Numbered>),
}

/// A delivery target rendered at flush (see [`Sink::Numbered`]).
pub trait Numbered: Send + Sync {
    /// Queues one delivery of `msg` to `sub` (on the publisher's thread,
    /// no router lock held; must not block). Returns the connection to
    /// queue for a flush, if the session has one now; `None` when the
    /// delivery was dropped or kept for an offline session.
    fn push(&self, sub: &Subscription<Sink>, msg: &Message<'_>) -> Option<Arc<ConnShared>>;
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Sink::Conn(c) => write!(f, "Conn({})", c.cid),
            Sink::Internal(_) => f.write_str("Internal"),
            Sink::Numbered(_) => f.write_str("Numbered"),
        }
    }
}

/// An internal subscriber (system account handlers, imports): sees each
/// message delivered to its subscription. Called on the publisher's
/// thread with no lock held; it must not block. It may publish (through
/// [`crate::deliver::publish`] with an internal origin), but a handler that
/// publishes to a subject it is subscribed to recurses.
pub trait Handler: Send + Sync {
    /// One delivery of `msg` to `sub`.
    fn deliver(&self, sub: &Subscription<Sink>, msg: &Message<'_>);

    /// One delivery of `msg`, published by `origin`, to `sub`: what the
    /// delivery engine calls. By default [`Handler::deliver`]; a handler
    /// that answers about the requesting connection (`$SYS.REQ.USER.INFO`,
    /// nats-server's shared client info) overrides it.
    fn deliver_from(&self, origin: Origin, sub: &Subscription<Sink>, msg: &Message<'_>) {
        let _ = origin;
        self.deliver(sub, msg);
    }
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
    /// Set by another thread to make the owner close it (a [`Kill`]).
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
    /// listeners only; boxed so that plain connections keep a pointer's
    /// worth, not the whole record).
    pub tls: std::sync::OnceLock<Box<crate::tls::TlsInfo>>,
    /// Set when `perms` holds permissions that deliveries must consult.
    pub has_perms: AtomicBool,
    /// Delivery-time permissions (subscribe deny, response permissions);
    /// boxed, since most connections have none.
    pub perms: Mutex<Option<Box<crate::auth::DeliveryPerms>>>,
    /// WebSocket: what the upgrade request said, set at the upgrade.
    pub upgrade: std::sync::OnceLock<Box<WsUpgrade>>,
    /// The client's address from a PROXY protocol header (`proxy_protocol`),
    /// set once the header was read: it stands for the socket's peer
    /// everywhere (logs, `/connz`, INFO `client_ip`, JWT `src`), as in
    /// nats-server. Boxed: only `proxy_protocol` listeners set it.
    pub proxied: std::sync::OnceLock<Box<SocketAddr>>,
    /// Set once the client takes asynchronous INFO (protocol 1 and its
    /// first PING answered: nats-server's `firstPongSent`), for
    /// `$SYS.REQ.SERVER.<id>.LDM`.
    pub async_info: AtomicBool,
    /// Leafnode links: the peer's `max_payload` from its INFO (0 =
    /// unknown). A message over it is not sent (leafnode.md §9: refused
    /// on its own instead of killing the link).
    pub peer_max_payload: AtomicUsize,
    /// Round-trip time (`/connz`, `/leafz` `rtt`).
    pub rtt: crate::rtt::Rtt,
    /// Last activity (`/connz` `last_activity`, `idle`; nats-server
    /// `client.last`): milliseconds on the server clock
    /// ([`crate::shared::Shared::now`]); 0 = none since the accept
    /// (then `start`). Set by a read batch with a message or a
    /// subscription change, a client's CONNECT, and the first delivery
    /// queued for a flush.
    pub last_activity: AtomicU64,
}

impl ConnShared {
    /// A new connection's shared part: empty outbox, zero counters, no
    /// permissions, accepted now.
    pub fn new(
        cid: ConnId,
        loop_idx: usize,
        token: usize,
        kind: ConnKind,
        peer: SocketAddr,
    ) -> ConnShared {
        ConnShared {
            cid,
            loop_idx,
            token,
            kind,
            peer,
            start: SystemTime::now(),
            out: Mutex::new(Outbox::default()),
            dirty: AtomicBool::new(false),
            kill: AtomicU8::new(Kill::None as u8),
            out_msgs: AtomicU64::new(0),
            out_bytes: AtomicU64::new(0),
            in_msgs: AtomicU64::new(0),
            in_bytes: AtomicU64::new(0),
            subs: AtomicUsize::new(0),
            client: Mutex::default(),
            tls: std::sync::OnceLock::new(),
            has_perms: AtomicBool::new(false),
            perms: Mutex::new(None),
            upgrade: std::sync::OnceLock::new(),
            proxied: std::sync::OnceLock::new(),
            async_info: AtomicBool::new(false),
            peer_max_payload: AtomicUsize::new(0),
            rtt: crate::rtt::Rtt::new(),
            last_activity: AtomicU64::new(0),
        }
    }

    /// The client's address: the one resolved through trusted proxies, else
    /// the TCP peer's.
    pub fn client_ip(&self) -> std::net::IpAddr {
        match self.forwarded() {
            Some(f) if f.trusted => f.ip,
            _ => self.peer_addr().ip(),
        }
    }

    /// The peer as nats-server's `host:port`: the PROXY protocol's client
    /// address when one was given, else the socket's peer.
    pub fn peer_addr(&self) -> SocketAddr {
        self.proxied.get().map_or(self.peer, |p| **p)
    }

    /// The client's address and port for INFO `client_ip` and its logs:
    /// [`ConnShared::client_ip`] with the peer's port.
    pub fn client_addr(&self) -> SocketAddr {
        SocketAddr::new(self.client_ip(), self.peer_addr().port())
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
            None => write!(f, "{}", self.0.peer_addr()),
        }
    }
}

impl ConnShared {
    /// Whether a message may be delivered to this connection (subscribe
    /// deny patterns), recording its reply subject for `allow_responses`.
    /// Cheap when the connection has no permissions.
    /// `now` reads the server clock (reply expiry), only when needed.
    pub fn may_deliver(
        &self,
        subject: &[u8],
        reply: Option<&[u8]>,
        now: impl FnOnce() -> Millis,
    ) -> bool {
        if !self.has_perms.load(Ordering::Acquire) {
            return true;
        }
        match self.perms.lock().expect("perms").as_mut() {
            Some(p) => p.on_deliver(subject, reply, now()),
            None => true,
        }
    }
}

/// CONNECT details kept for monitoring (`Box<str>`: 16 bytes each, an
/// empty one allocates nothing).
#[derive(Debug, Default, Clone)]
pub struct ClientMeta {
    /// CONNECT `name`, `lang` and `version`, boxed together: MQTT clients
    /// and many NATS clients send none, and every connection holds a
    /// `ClientMeta` (see [`ClientMeta::set_names`]).
    names: Option<Box<ClientNames>>,
    /// MQTT client id (`/connz` `mqtt_client`), set at CONNECT: the
    /// session key's text, shared (no copy).
    pub mqtt_client: Option<Arc<str>>,
    /// The authenticated user (nats-server `getRawAuthUser`: user name,
    /// nkey or JWT user key; empty without one), for `$SYS` events and
    /// `$SYS.REQ.USER.INFO`.
    pub user: Box<str>,
    /// The account the connection is bound to, set once CONNECT passed
    /// (empty before).
    pub account: Box<str>,
    /// When the user's credentials expire (JWT `exp`), in Unix seconds;
    /// `None` when they do not.
    pub expires_unix: Option<u64>,
}

/// See [`ClientMeta::set_names`].
#[derive(Debug, Default, Clone)]
struct ClientNames {
    name: Box<str>,
    lang: Box<str>,
    version: Box<str>,
}

impl ClientMeta {
    /// CONNECT `name` ("" when none).
    pub fn name(&self) -> &str {
        self.names.as_ref().map_or("", |n| &n.name)
    }

    /// CONNECT `lang` ("" when none).
    pub fn lang(&self) -> &str {
        self.names.as_ref().map_or("", |n| &n.lang)
    }

    /// CONNECT `version` ("" when none).
    pub fn version(&self) -> &str {
        self.names.as_ref().map_or("", |n| &n.version)
    }

    /// Sets `name`, `lang` and `version` (a leafnode: its server name or
    /// version only); allocates only when one of them is not empty.
    pub fn set_names(&mut self, name: &str, lang: &str, version: &str) {
        self.names = (!(name.is_empty() && lang.is_empty() && version.is_empty())).then(|| {
            Box::new(ClientNames {
                name: name.into(),
                lang: lang.into(),
                version: version.into(),
            })
        });
    }
}

/// Why another thread asks a connection's loop to close it
/// ([`ConnShared::mark_kill`]); kept in an `AtomicU8`.
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kill {
    /// No kill requested.
    None = 0,
    /// Close as a slow consumer (pending bytes over `max_pending`).
    SlowConsumer = 1,
    /// Close with reason Server Shutdown (lame duck mode).
    Shutdown = 2,
    /// `-ERR 'maximum connections exceeded'` and close: a reload lowered
    /// `max_connections` below the clients connected.
    MaxConnections = 3,
    /// Closed with reason TLS Handshake Failure: a reload changed
    /// `pinned_certs` and the client's certificate is no longer in it.
    PinnedCert = 4,
    /// Close with reason Kicked (`$SYS.REQ.SERVER.<id>.KICK`).
    Kicked = 5,
    /// Close with reason Duplicate Client ID (an MQTT session taken over
    /// by a newer connection).
    Takeover = 6,
}

impl Kill {
    fn from_u8(v: u8) -> Kill {
        match v {
            1 => Kill::SlowConsumer,
            2 => Kill::Shutdown,
            3 => Kill::MaxConnections,
            4 => Kill::PinnedCert,
            5 => Kill::Kicked,
            6 => Kill::Takeover,
            _ => Kill::None,
        }
    }
}

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
        self.mark_kill(Kill::SlowConsumer)
    }

    /// Sets the kill `code` unless one is set already (the first code
    /// wins); true if this call set it.
    pub(crate) fn mark_kill(&self, code: Kill) -> bool {
        self.kill
            .compare_exchange(
                Kill::None as u8,
                code as u8,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
    }

    /// The kill another thread asked for, if any.
    pub(crate) fn kill_requested(&self) -> Kill {
        Kill::from_u8(self.kill.load(Ordering::Acquire))
    }
}
