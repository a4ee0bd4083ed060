//! Where deliveries go: a subscription's [`Sink`] is either a connection
//! (its [`ConnShared`], the part of a connection that other threads touch,
//! with its [`Outbox`]) or an internal subscriber with no socket
//! ([`Handler`], nats-server's `sub.icb`).
//!
//! This sits below [`crate::account`] (whose routers hold `SubRef<Sink>`)
//! and [`crate::shared`] (whose `Shared` holds the accounts), so that the
//! delivery engine ([`crate::deliver`]) can reach a subscriber without a
//! downcast and without an import circle.

use std::net::{IpAddr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use natsws_core::router::{ConnId, Message, Origin, Subscription};
use natsws_core::time::Millis;
use once_cell::race::OnceBox;

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
///
/// One per connection, behind an `Arc`, so its size is paid by every
/// idle connection: fields are kept narrow (32-bit loop, slab key and
/// subscription count, the start in nanoseconds) and what few
/// connections have is boxed behind a one-word [`OnceBox`].
#[derive(Debug)]
pub struct ConnShared {
    /// Connection id.
    pub cid: ConnId,
    /// Owning loop ([`ConnShared::loop_idx`]).
    loop_idx: u32,
    /// Slab key in the owning loop ([`ConnShared::token`]).
    token: u32,
    /// Listener kind.
    pub kind: ConnKind,
    /// Peer address ([`ConnShared::peer`]), in parts: a `SocketAddr` is
    /// 32 bytes, these 23 (the IPv6 flow label is not kept: nothing
    /// shows it).
    peer_ip: IpAddr,
    /// The peer's port.
    peer_port: u16,
    /// The peer's IPv6 scope id (0 for IPv4), shown as `%<id>`.
    peer_scope: u32,
    /// When it was accepted: ns since the Unix epoch
    /// ([`ConnShared::start`]).
    start: u64,
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
    pub subs: SubCount,
    /// Client name/lang/version from CONNECT, for monitoring.
    pub client: Mutex<ClientMeta>,
    /// What TLS negotiated and the PROXY protocol's address, which few
    /// connections have: one word for both ([`ConnShared::tls`],
    /// [`ConnShared::proxied`]).
    rare: OnceBox<Rare>,
    /// Set when `perms` holds permissions that deliveries must consult.
    pub has_perms: AtomicBool,
    /// Delivery-time permissions (subscribe deny, response permissions);
    /// boxed, since most connections have none.
    pub perms: Mutex<Option<Box<crate::auth::DeliveryPerms>>>,
    /// WebSocket: what the upgrade request said, set at the upgrade.
    pub upgrade: OnceBox<WsUpgrade>,
    /// Set once the client takes asynchronous INFO (protocol 1 and its
    /// first PING answered: nats-server's `firstPongSent`), for
    /// `$SYS.REQ.SERVER.<id>.LDM`.
    pub async_info: AtomicBool,
    /// Leafnode links: the peer's `max_payload` from its INFO in bytes (0
    /// = unknown; larger values saturate, no message is that big). A
    /// message over it is not sent (leafnode.md §9: refused on its own
    /// instead of killing the link).
    pub peer_max_payload: AtomicU32,
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

/// See [`ConnShared::rare`]. Not `WsUpgrade` too: every WebSocket
/// connection has one, and would pay for this box besides its own.
#[derive(Debug, Default)]
struct Rare {
    /// What TLS negotiated, set once the handshake completes (TLS
    /// listeners only).
    tls: OnceBox<crate::tls::TlsInfo>,
    /// The client's address from a PROXY protocol header
    /// (`proxy_protocol` listeners only), set once the header was read.
    proxied: OnceBox<SocketAddr>,
}

/// A connection's open subscriptions, in 32 bits (an `AtomicUsize`'s
/// interface, so callers count in `usize`): a connection cannot hold
/// anywhere near 2^32 subscriptions, and every connection has one.
#[derive(Debug, Default)]
pub struct SubCount(AtomicU32);

impl SubCount {
    /// The count now.
    pub fn load(&self, order: Ordering) -> usize {
        self.0.load(order) as usize
    }

    /// Adds `n`; returns the count before. Wraps at 2^32 (unreachable).
    pub fn fetch_add(&self, n: usize, order: Ordering) -> usize {
        self.0.fetch_add(n as u32, order) as usize
    }

    /// Subtracts `n`; returns the count before.
    pub fn fetch_sub(&self, n: usize, order: Ordering) -> usize {
        self.0.fetch_sub(n as u32, order) as usize
    }
}

impl ConnShared {
    /// A new connection's shared part: empty outbox, zero counters, no
    /// permissions, accepted now. `loop_idx` and `token` fit in 32 bits
    /// (loops are threads; a slab key is below the open connections).
    pub fn new(
        cid: ConnId,
        loop_idx: usize,
        token: usize,
        kind: ConnKind,
        peer: SocketAddr,
    ) -> ConnShared {
        let start = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        ConnShared {
            cid,
            loop_idx: u32::try_from(loop_idx).expect("loop index fits 32 bits"),
            token: u32::try_from(token).expect("slab key fits 32 bits"),
            kind,
            peer_ip: peer.ip(),
            peer_port: peer.port(),
            peer_scope: match peer {
                SocketAddr::V6(a) => a.scope_id(),
                SocketAddr::V4(_) => 0,
            },
            start,
            out: Mutex::new(Outbox::default()),
            dirty: AtomicBool::new(false),
            kill: AtomicU8::new(Kill::None as u8),
            out_msgs: AtomicU64::new(0),
            out_bytes: AtomicU64::new(0),
            in_msgs: AtomicU64::new(0),
            in_bytes: AtomicU64::new(0),
            subs: SubCount::default(),
            client: Mutex::default(),
            rare: OnceBox::new(),
            has_perms: AtomicBool::new(false),
            perms: Mutex::new(None),
            upgrade: OnceBox::new(),
            async_info: AtomicBool::new(false),
            peer_max_payload: AtomicU32::new(0),
            rtt: crate::rtt::Rtt::new(),
            last_activity: AtomicU64::new(0),
        }
    }

    /// The socket's peer address (see [`ConnShared::peer_addr`] for the
    /// one a PROXY protocol header gave).
    pub fn peer(&self) -> SocketAddr {
        match self.peer_ip {
            IpAddr::V4(ip) => SocketAddr::V4(SocketAddrV4::new(ip, self.peer_port)),
            IpAddr::V6(ip) => {
                SocketAddr::V6(SocketAddrV6::new(ip, self.peer_port, 0, self.peer_scope))
            }
        }
    }

    /// What TLS negotiated, once the handshake completed (TLS listeners
    /// only).
    pub fn tls(&self) -> Option<&crate::tls::TlsInfo> {
        self.rare.get()?.tls.get()
    }

    /// Records what TLS negotiated (once; a second call changes nothing).
    pub fn set_tls(&self, info: crate::tls::TlsInfo) {
        let _ = self.rare().tls.set(Box::new(info));
    }

    /// The client's address from a PROXY protocol header
    /// (`proxy_protocol`), once the header was read: it stands for the
    /// socket's peer everywhere (logs, `/connz`, INFO `client_ip`, JWT
    /// `src`), as in nats-server.
    pub fn proxied(&self) -> Option<SocketAddr> {
        self.rare.get()?.proxied.get().copied()
    }

    /// Records the PROXY protocol's client address (once; a second call
    /// changes nothing).
    pub fn set_proxied(&self, addr: SocketAddr) {
        let _ = self.rare().proxied.set(Box::new(addr));
    }

    /// The rare fields' box, made at the first use.
    fn rare(&self) -> &Rare {
        self.rare.get_or_init(Box::default)
    }

    /// The owning loop's index.
    pub fn loop_idx(&self) -> usize {
        self.loop_idx as usize
    }

    /// The slab key in the owning loop.
    pub fn token(&self) -> usize {
        self.token as usize
    }

    /// When the connection was accepted (wall clock, ns precision).
    pub fn start(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + std::time::Duration::from_nanos(self.start)
    }

    /// The client's address: the one resolved through trusted proxies, else
    /// the TCP peer's.
    pub fn client_ip(&self) -> IpAddr {
        match self.forwarded() {
            Some(f) if f.trusted => f.ip,
            _ => self.peer_addr().ip(),
        }
    }

    /// The peer as nats-server's `host:port`: the PROXY protocol's client
    /// address when one was given, else the socket's peer.
    pub fn peer_addr(&self) -> SocketAddr {
        self.proxied().unwrap_or_else(|| self.peer())
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
            Some(IpAddr::V6(ip)) => write!(f, "[{ip}]/{}", self.0.peer()),
            Some(ip) => write!(f, "{ip}/{}", self.0.peer()),
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

/// CONNECT details kept for monitoring: three words. What many
/// connections lack (CONNECT names, an authenticated user, an expiry) is
/// boxed together; the account's name is shared, not copied.
#[derive(Debug, Default, Clone)]
pub struct ClientMeta {
    /// CONNECT `name`, `lang` and `version`, the user and the expiry,
    /// boxed together: MQTT clients and many NATS clients send no names
    /// and have no user, and every connection holds a `ClientMeta` (see
    /// [`ClientMeta::set_names`], [`ClientMeta::set_user`]).
    names: Option<Box<ClientNames>>,
    /// MQTT client id (`/connz` `mqtt_client`), set at CONNECT: the
    /// session key's text, shared (no copy).
    pub mqtt_client: Option<Arc<str>>,
    /// The account the connection is bound to, set once CONNECT passed
    /// (none before): the account's [`crate::account::Account::shared_name`]
    /// (one word, no copy; [`ClientMeta::account`]).
    account: Option<Arc<String>>,
}

/// See [`ClientMeta::names`] (`Box<str>`: 16 bytes each, an empty one
/// allocates nothing).
#[derive(Debug, Default, Clone)]
struct ClientNames {
    name: Box<str>,
    lang: Box<str>,
    version: Box<str>,
    /// See [`ClientMeta::user`].
    user: Box<str>,
    /// See [`ClientMeta::expires_unix`].
    expires_unix: Option<u64>,
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

    /// The authenticated user (nats-server `getRawAuthUser`: user name,
    /// nkey or JWT user key; empty without one), for `$SYS` events and
    /// `$SYS.REQ.USER.INFO`.
    pub fn user(&self) -> &str {
        self.names.as_ref().map_or("", |n| &n.user)
    }

    /// When the user's credentials expire (JWT `exp`), in Unix seconds;
    /// `None` when they do not.
    pub fn expires_unix(&self) -> Option<u64> {
        self.names.as_ref().and_then(|n| n.expires_unix)
    }

    /// The name of the account the connection is bound to; empty before
    /// CONNECT passed.
    pub fn account(&self) -> &str {
        self.account.as_deref().map_or("", String::as_str)
    }

    /// Binds the connection to the account named `name` (CONNECT passed):
    /// the account's [`crate::account::Account::shared_name`], shared.
    pub fn set_account(&mut self, name: &Arc<String>) {
        self.account = Some(name.clone());
    }

    /// Sets the authenticated user; allocates only when it is not empty
    /// or the box exists already.
    pub fn set_user(&mut self, user: &str) {
        if let Some(n) = self.extras(!user.is_empty()) {
            n.user = user.into();
        }
    }

    /// Sets when the user's credentials expire (`None`: never).
    pub fn set_expires_unix(&mut self, at: Option<u64>) {
        if let Some(n) = self.extras(at.is_some()) {
            n.expires_unix = at;
        }
    }

    /// Sets `name`, `lang` and `version` (a leafnode: its server name or
    /// version only); allocates only when one of them is not empty or the
    /// box exists already.
    pub fn set_names(&mut self, name: &str, lang: &str, version: &str) {
        let any = !(name.is_empty() && lang.is_empty() && version.is_empty());
        if let Some(n) = self.extras(any) {
            n.name = name.into();
            n.lang = lang.into();
            n.version = version.into();
        }
    }

    /// The boxed extras, made first when `make`; `None` when there are
    /// none and `make` is false (nothing to record: all of it is empty).
    fn extras(&mut self, make: bool) -> Option<&mut ClientNames> {
        if make && self.names.is_none() {
            self.names = Some(Box::default());
        }
        self.names.as_deref_mut()
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
        self.tls().and_then(|t| t.peer.as_ref())
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every connection holds one `ConnShared` (in an `Arc`: 16 more bytes,
    /// then glibc's chunk rounding): it must not grow back.
    #[test]
    fn per_connection_sizes() {
        let shared = std::mem::size_of::<ConnShared>();
        // 336 before the narrow fields, the shared account name and the
        // boxed user and TLS/PROXY record (ArcInner 352 → 248: glibc chunk
        // 368 → 256).
        assert!(shared <= 232, "ConnShared is {shared} bytes");
        assert!(std::mem::size_of::<ClientMeta>() <= 32);
    }
}
