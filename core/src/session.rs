//! The per-connection NATS state machine.
//!
//! One [`Session`] per client connection, TCP or WebSocket alike (WebSocket
//! frames are removed before the bytes get here). The caller drives it with
//! four kinds of calls:
//!
//! 1. [`Session::handle_input`] with the bytes read so far (everything not yet
//!    consumed); it returns how many bytes it consumed. Keep the rest and
//!    present it again, followed by new bytes.
//! 2. [`Session::handle_timeout`] when the time from [`Session::poll_timeout`]
//!    has come.
//! 3. [`Session::poll_timeout`] after every call, to re-arm the timer.
//! 4. [`Session::close`] when the connection ends for any reason.
//!
//! Every call appends the bytes to send to this connection (`+OK`, `PONG`,
//! `-ERR`, `INFO`, `PING`, and `MSG`s for its own subscriptions) to the `out`
//! buffer it is given. Effects on other connections go through the [`Host`]
//! trait, which the server implements over its [`crate::router::Router`] and
//! the other connections' outbound queues.
//!
//! States (spec `nats-protocol.md` §0):
//!
//! ```text
//! AwaitingConnect ──CONNECT ok──▶ Connected ──error/close──▶ Closed
//!        │ (only when auth is required; otherwise a client may PUB/SUB
//!        │  without ever sending CONNECT)
//!        └──auth timeout / first op not CONNECT──▶ Closed
//! ```
//!
//! When a call returns `Err(Close)`, the `-ERR` that precedes the close (if
//! any) is already in `out`: flush it, then close the socket (WebSocket: send a
//! close frame with [`ClosedReason::ws_close_code`]).

use alloc::{collections::BTreeMap, string::String, sync::Arc, vec::Vec};
use core::fmt;

use crate::proto::{self, ClientDecoder, ClientOp, Connect, Limits};
use crate::router::{ConnId, Message, Origin, SubRef, SubjectSpace, Subscription};
use crate::subject::{self, Filter};
use crate::time::Millis;

mod reload;
pub use reload::Reconfigure;

/// Why a connection closed: nats-server's `ClosedState` strings as shown by
/// `/connz?state=closed` (spec `nats-protocol.md` §1.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClosedReason {
    /// The client closed the connection (EOF).
    ClientClosed,
    /// No CONNECT before the auth timer fired.
    AuthenticationTimeout,
    /// Bad credentials, or the first op was not CONNECT while auth is required.
    AuthenticationFailure,
    /// TLS handshake failed or timed out.
    TlsHandshakeFailure,
    /// Outbound bytes over `max_pending`.
    SlowConsumerPendingBytes,
    /// A write took longer than `write_deadline`.
    SlowConsumerWriteDeadline,
    /// A socket write failed.
    WriteError,
    /// A socket read failed.
    ReadError,
    /// The client sent `-ERR`.
    ParseError,
    /// Too many unanswered server PINGs.
    StaleConnection,
    /// Bad arguments, bad JSON, unknown ops, HPUB without headers.
    ProtocolViolation,
    /// CONNECT `protocol` out of range.
    BadClientProtocolVersion,
    /// Over `max_connections`.
    MaxConnectionsExceeded,
    /// Declared payload size over `max_payload`.
    MaxPayloadExceeded,
    /// Control line over `max_control_line`.
    MaxControlLineExceeded,
    /// Over `max_subscriptions` (account limits).
    MaxSubscriptionsExceeded,
    /// The server is shutting down.
    ServerShutdown,
    /// User or account credentials expired.
    AuthenticationExpired,
    /// `no_responders` without `headers` in CONNECT.
    NoRespondersRequiresHeaders,
    /// An MQTT session taken over by a newer connection with the same
    /// client id (nats-server `DuplicateClientID`).
    DuplicateClientId,
    /// Closed by an operator's `$SYS.REQ.SERVER.<id>.KICK` request.
    Kicked,
    /// A leaf older than the listener's `leafnodes { min_version }`
    /// (nats-server `MinimumVersionRequired`).
    MinimumVersionRequired,
}

impl ClosedReason {
    /// Every reason, in [`ClosedReason::index`] order (for per-reason
    /// counters).
    pub const ALL: [ClosedReason; 22] = [
        ClosedReason::ClientClosed,
        ClosedReason::AuthenticationTimeout,
        ClosedReason::AuthenticationFailure,
        ClosedReason::TlsHandshakeFailure,
        ClosedReason::SlowConsumerPendingBytes,
        ClosedReason::SlowConsumerWriteDeadline,
        ClosedReason::WriteError,
        ClosedReason::ReadError,
        ClosedReason::ParseError,
        ClosedReason::StaleConnection,
        ClosedReason::ProtocolViolation,
        ClosedReason::BadClientProtocolVersion,
        ClosedReason::MaxConnectionsExceeded,
        ClosedReason::MaxPayloadExceeded,
        ClosedReason::MaxControlLineExceeded,
        ClosedReason::MaxSubscriptionsExceeded,
        ClosedReason::ServerShutdown,
        ClosedReason::AuthenticationExpired,
        ClosedReason::NoRespondersRequiresHeaders,
        ClosedReason::DuplicateClientId,
        ClosedReason::Kicked,
        ClosedReason::MinimumVersionRequired,
    ];

    /// Position in [`ClosedReason::ALL`].
    pub fn index(self) -> usize {
        ClosedReason::ALL
            .iter()
            .position(|r| *r == self)
            .unwrap_or(0)
    }

    /// The nats-server `ClosedState` string.
    pub fn as_str(self) -> &'static str {
        match self {
            ClosedReason::ClientClosed => "Client Closed",
            ClosedReason::AuthenticationTimeout => "Authentication Timeout",
            ClosedReason::AuthenticationFailure => "Authentication Failure",
            ClosedReason::TlsHandshakeFailure => "TLS Handshake Failure",
            ClosedReason::SlowConsumerPendingBytes => "Slow Consumer (Pending Bytes)",
            ClosedReason::SlowConsumerWriteDeadline => "Slow Consumer (Write Deadline)",
            ClosedReason::WriteError => "Write Error",
            ClosedReason::ReadError => "Read Error",
            ClosedReason::ParseError => "Parse Error",
            ClosedReason::StaleConnection => "Stale Connection",
            ClosedReason::ProtocolViolation => "Protocol Violation",
            ClosedReason::BadClientProtocolVersion => "Bad Client Protocol Version",
            ClosedReason::MaxConnectionsExceeded => "Maximum Connections Exceeded",
            ClosedReason::MaxPayloadExceeded => "Maximum Message Payload Exceeded",
            ClosedReason::MaxControlLineExceeded => "Maximum Control Line Exceeded",
            ClosedReason::MaxSubscriptionsExceeded => "Maximum Subscriptions Exceeded",
            ClosedReason::ServerShutdown => "Server Shutdown",
            ClosedReason::AuthenticationExpired => "Authentication Expired",
            ClosedReason::NoRespondersRequiresHeaders => "No Responders Requires Headers",
            ClosedReason::DuplicateClientId => "Duplicate Client ID",
            ClosedReason::Kicked => "Kicked",
            ClosedReason::MinimumVersionRequired => "Minimum Version Required",
        }
    }

    /// The WebSocket close code the server sends for this reason (spec
    /// `nats-protocol.md` §8, `websocket.md` §3.9): 1000 client closed; 1008
    /// auth, limits and slow consumers; 1002 parse and protocol errors; 1009
    /// max payload; 1001 read/write errors, stale and shutdown; 1011
    /// otherwise, e.g. `No Responders Requires Headers` (nats-server's
    /// `wsEnqueueCloseMessage`, whose default case is 1011). (The reference
    /// sends 1015 on TLS failures; 1015 may never go on the wire, RFC 6455
    /// §7.4.1, so this returns 1011 there.)
    pub fn ws_close_code(self) -> u16 {
        match self {
            ClosedReason::ClientClosed => 1000,
            ClosedReason::AuthenticationTimeout
            | ClosedReason::AuthenticationFailure
            | ClosedReason::AuthenticationExpired
            | ClosedReason::SlowConsumerPendingBytes
            | ClosedReason::SlowConsumerWriteDeadline
            | ClosedReason::MaxConnectionsExceeded
            | ClosedReason::MaxSubscriptionsExceeded
            | ClosedReason::MaxControlLineExceeded => 1008,
            ClosedReason::ParseError
            | ClosedReason::ProtocolViolation
            | ClosedReason::BadClientProtocolVersion => 1002,
            ClosedReason::MaxPayloadExceeded => 1009,
            ClosedReason::ReadError
            | ClosedReason::WriteError
            | ClosedReason::StaleConnection
            | ClosedReason::ServerShutdown
            | ClosedReason::DuplicateClientId => 1001,
            // Not in nats-server's list: its default, 1011.
            ClosedReason::TlsHandshakeFailure
            | ClosedReason::NoRespondersRequiresHeaders
            | ClosedReason::Kicked
            | ClosedReason::MinimumVersionRequired => 1011,
        }
    }

    fn from_proto(e: &proto::Error) -> ClosedReason {
        match e.closed_reason() {
            "Maximum Control Line Exceeded" => ClosedReason::MaxControlLineExceeded,
            "Maximum Message Payload Exceeded" => ClosedReason::MaxPayloadExceeded,
            "Parse Error" => ClosedReason::ParseError,
            _ => ClosedReason::ProtocolViolation,
        }
    }
}

impl fmt::Display for ClosedReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The session has ended; any `-ERR` that goes with it is already in `out`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Close {
    /// Why (monitoring string, WebSocket close code).
    pub reason: ClosedReason,
    /// A line for the server log, e.g. `maximum payload exceeded: 2000 vs 1024`.
    pub log: Option<String>,
}

impl Close {
    fn new(reason: ClosedReason) -> Self {
        Close { reason, log: None }
    }
}

/// Why [`Host::authenticate`] refused a CONNECT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// `-ERR 'Authorization Violation'` and close.
    Violation,
    /// `-ERR 'User Authentication Expired'` and close.
    Expired,
}

/// A connection's publish and subscribe permissions, as granted by
/// [`Host::authenticate`] (spec `nats-protocol.md` §3.5). Implemented by
/// `crate::auth::Permissions` (feature `auth`) and by test doubles.
pub trait Permits: Send + Sync {
    /// Whether the allow/deny lists let this connection publish to
    /// `subject` (response permissions are checked separately through
    /// [`Host::response_permitted`]).
    fn can_publish(&self, subject: &[u8]) -> bool;
    /// Whether this connection may subscribe to `subject` (wildcards taken
    /// as literal tokens) with the optional queue group.
    fn can_subscribe(&self, subject: &[u8], queue: Option<&[u8]>) -> bool;
}

#[cfg(feature = "auth")]
impl Permits for crate::auth::Permissions {
    fn can_publish(&self, subject: &[u8]) -> bool {
        crate::auth::Permissions::can_publish(self, subject)
    }
    fn can_subscribe(&self, subject: &[u8], queue: Option<&[u8]>) -> bool {
        crate::auth::Permissions::can_subscribe(self, subject, queue)
    }
}

/// What an accepted CONNECT grants the connection.
#[derive(Clone, Default)]
pub struct Grant {
    /// Publish/subscribe permissions; `None` = everything allowed.
    pub permits: Option<Arc<dyn Permits>>,
    /// Per-user subscription limit (JWT `subs`); `None` keeps
    /// [`SessionConfig::max_subscriptions`]. 0 = unlimited.
    pub max_subscriptions: Option<usize>,
    /// Per-user payload limit in bytes (JWT `payload`); `None` keeps the
    /// server's `max_payload`. Never raised above the server's limit.
    pub max_payload: Option<usize>,
    /// When the credentials expire (session clock); the session then closes
    /// with `-ERR 'User Authentication Expired'`.
    pub expires_at: Option<Millis>,
    /// Replaces [`SessionConfig::connect_info`] (the INFO after the first
    /// PONG names the bound account). `None` keeps it.
    pub connect_info: Option<Vec<u8>>,
}

impl fmt::Debug for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Grant")
            .field("permits", &self.permits.is_some())
            .field("max_subscriptions", &self.max_subscriptions)
            .field("max_payload", &self.max_payload)
            .field("expires_at", &self.expires_at)
            .field("connect_info", &self.connect_info.is_some())
            .finish()
    }
}

/// Entries kept in a session's publish-permission cache before it is
/// cleared (nats-server keeps 128 per client).
const PERM_CACHE_MAX: usize = 128;

/// What a client [`Session`] needs from the server around it: the subject
/// space (the [`SubjectSpace`] it extends, which every connection kind and
/// internal publishers share) and the client-only policy: authentication,
/// response permissions, the CONNECT trace.
pub trait Host: SubjectSpace {
    /// Checks the credentials of a CONNECT, or with `None` binds a client
    /// whose first operation is not CONNECT to the `no_auth_user` (spec
    /// `websocket.md` §5.3). Called only when [`SessionConfig::auth_check`]
    /// is set. The grant's limits and permissions apply from the next
    /// operation on.
    fn authenticate(&mut self, connect: Option<&Connect>) -> Result<Grant, AuthFailure>;
    /// A publish that the permissions deny may still go to a reply subject
    /// this connection received (`allow_responses`, spec §3.5): returns
    /// whether `subject` is such a reply and uses up one response. The
    /// default has no response permissions.
    fn response_permitted(&mut self, subject: &[u8]) -> bool {
        let _ = subject;
        false
    }
    /// Sees every CONNECT's raw JSON before it is checked (for the server's
    /// trace log, which must redact secrets). The default does nothing.
    fn on_connect(&mut self, json: &[u8]) {
        let _ = json;
    }
}

/// Settings of one session. Units: bytes and milliseconds.
#[derive(Clone)]
pub struct SessionConfig<T = ()> {
    /// The connection id (`cid`).
    pub conn: ConnId,
    /// Control-line and payload limits (defaults 4096 B and 1 MiB).
    pub limits: Limits,
    /// Subscriptions allowed per connection; 0 = unlimited (default).
    pub max_subscriptions: usize,
    /// Tokens allowed in a SUB subject (`max_sub_tokens`, nats-server
    /// accepts 1–255); 0 = unlimited (default). More: `-ERR 'Permissions
    /// Violation for Subscription to "<subject>", too many tokens'`, no
    /// subscription, connection kept (spec §1.8).
    pub max_sub_tokens: usize,
    /// Whether CONNECT must carry valid credentials (INFO `auth_required`):
    /// the auth timer runs and the first operation must be CONNECT.
    pub auth_required: bool,
    /// Whether CONNECTs go through [`Host::authenticate`]. Set with
    /// `auth_required`, and also when a `no_auth_user` makes auth optional
    /// (INFO `auth_required` false, but credentials sent are checked and a
    /// client that skips CONNECT is bound to the no-auth user). Default false.
    pub auth_check: bool,
    /// Time allowed before CONNECT when auth is required (default 2000 ms).
    pub auth_timeout: Millis,
    /// Time from creation (and from CONNECT) to the first server PING
    /// (nats-server: 2000 ms plus 0–20 % random, chosen by the caller).
    pub first_ping: Millis,
    /// Server PING period (default 120000 ms).
    pub ping_interval: Millis,
    /// Unanswered PINGs allowed before `Stale Connection` (default 2).
    pub ping_max: u32,
    /// Whether the server supports headers (`!no_header_support`).
    pub headers_supported: bool,
    /// The INFO line sent after the first PONG to protocol-1 clients (with
    /// `"connect_info":true` and `"remote_account"`), already encoded.
    /// `None` to send nothing. The session drops it once sent.
    pub connect_info: Option<Vec<u8>>,
    /// The handle attached to every subscription this session makes (the
    /// server's outbound queue for this connection). `None` in tests.
    pub target: Option<T>,
}

impl<T> Default for SessionConfig<T> {
    fn default() -> Self {
        SessionConfig {
            conn: 1,
            limits: Limits::default(),
            max_subscriptions: 0,
            max_sub_tokens: 0,
            auth_required: false,
            auth_check: false,
            auth_timeout: Millis(2000),
            first_ping: Millis(2000),
            ping_interval: Millis(120_000),
            ping_max: 2,
            headers_supported: true,
            connect_info: None,
            target: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    AwaitingConnect { deadline: Millis },
    Connected,
    Closed,
}

/// RTT measurements older than this do not suppress a server PING (1 h).
const RTT_MAX_AGE: Millis = Millis(3_600_000);

/// Reply prefixes a client may not use (spec §1.7).
const RESERVED_REPLY_PREFIXES: [&[u8]; 3] = [b"_R_.", b"$JS.ACK.", b"_GR_."];

/// The per-connection state machine. See the module docs for the calling
/// protocol.
pub struct Session<T = ()> {
    cfg: SessionConfig<T>,
    state: State,
    decoder: ClientDecoder,
    // CONNECT options (defaults verbose/pedantic/echo true, spec §1.4).
    verbose: bool,
    pedantic: bool,
    echo: bool,
    headers: bool,
    no_responders: bool,
    protocol: i64,
    connect: Option<Connect>,
    subs: BTreeMap<Vec<u8>, SubRef<T>>,
    // Ping state (spec §1.8).
    next_ping: Millis,
    pings_out: u32,
    last_ping_sent: Option<Millis>,
    rtt: Option<(Millis, Millis)>, // (rtt, measured at)
    /// Server PINGs sent and PONGs received, ever (the embedding server
    /// times them for `/connz` `rtt`).
    pings_sent: u64,
    pongs_received: u64,
    last_activity: Millis,
    /// SUB and UNSUB operations handled, wrapping (see
    /// [`Session::interest_ops`]).
    interest_ops: u32,
    sent_connect_info: bool,
    // Counters for monitoring.
    in_msgs: u64,
    in_bytes: u64,
    /// What authentication granted (permissions, limits, expiry).
    grant: Grant,
    /// Whether `grant` came from [`Host::authenticate`] (a later
    /// non-CONNECT first op needs no no-auth binding).
    authenticated: bool,
    /// Publish subjects already checked against `grant.permits`.
    perm_cache: BTreeMap<Vec<u8>, bool>,
}

impl<T> fmt::Debug for Session<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("conn", &self.cfg.conn)
            .field("state", &self.state)
            .field("subs", &self.subs.len())
            .finish()
    }
}

fn push_err(out: &mut Vec<u8>, text: &str) {
    proto::encode_err(out, text);
}

impl<T: Clone> Session<T> {
    /// A new session, created when the connection was accepted (after the
    /// INFO went out, which the caller writes). `now` starts the auth timer
    /// (when auth is required) and the first-PING timer.
    pub fn new(cfg: SessionConfig<T>, now: Millis) -> Session<T> {
        let state = if cfg.auth_required {
            State::AwaitingConnect {
                deadline: now.saturating_add(cfg.auth_timeout),
            }
        } else {
            State::Connected
        };
        // HPUB is refused until CONNECT negotiates headers; the decoder
        // checks it before the HPUB arguments and sizes, as nats-server.
        let mut decoder = ClientDecoder::new(cfg.limits);
        decoder.set_headers(false);
        Session {
            decoder,
            next_ping: now.saturating_add(cfg.first_ping),
            cfg,
            state,
            verbose: true,
            pedantic: true,
            echo: true,
            headers: false,
            no_responders: false,
            protocol: 0,
            connect: None,
            subs: BTreeMap::new(),
            pings_out: 0,
            pings_sent: 0,
            pongs_received: 0,
            last_ping_sent: None,
            rtt: None,
            last_activity: now,
            interest_ops: 0,
            sent_connect_info: false,
            in_msgs: 0,
            in_bytes: 0,
            grant: Grant::default(),
            authenticated: false,
            perm_cache: BTreeMap::new(),
        }
    }

    /// What authentication granted this connection (default: everything,
    /// no expiry).
    pub fn grant(&self) -> &Grant {
        &self.grant
    }

    /// Restarts the auth timer and the first-PING timer from `now`: for a
    /// WebSocket connection, whose NATS session begins at the upgrade, not
    /// at accept.
    pub fn restart_timers(&mut self, now: Millis) {
        if let State::AwaitingConnect { .. } = self.state {
            self.state = State::AwaitingConnect {
                deadline: now.saturating_add(self.cfg.auth_timeout),
            };
        }
        self.next_ping = now.saturating_add(self.cfg.first_ping);
    }

    /// The connection id.
    pub fn conn(&self) -> ConnId {
        self.cfg.conn
    }

    /// The last CONNECT accepted, if any (name, lang, version for
    /// monitoring).
    pub fn connect_options(&self) -> Option<&Connect> {
        self.connect.as_ref()
    }

    /// Whether the client takes asynchronous INFO: protocol 1, and its
    /// first PING has been answered (nats-server's `firstPongSent`; the
    /// `connect_info` INFO went out then). The lame duck INFO goes only to
    /// such clients.
    pub fn takes_async_info(&self) -> bool {
        self.sent_connect_info
    }

    /// Whether the session has ended.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Whether the client negotiated headers.
    pub fn headers(&self) -> bool {
        self.headers
    }

    /// Open subscriptions of this connection.
    pub fn subscriptions(&self) -> impl Iterator<Item = &SubRef<T>> {
        self.subs.values().filter(|s| !s.is_closed())
    }

    /// Messages and payload bytes received from the client.
    pub fn in_counts(&self) -> (u64, u64) {
        (self.in_msgs, self.in_bytes)
    }

    /// The last round-trip time measured with a server PING, in ms.
    pub fn rtt(&self) -> Option<Millis> {
        self.rtt.map(|(rtt, _)| rtt)
    }

    /// How many server PINGs [`Session::handle_timeout`] has sent and how
    /// many PONGs the client has sent, since the start: the embedding
    /// server compares them around each call to time the round trip at
    /// finer resolution than [`Millis`] (nats-server `rttStart`,
    /// `processPong`).
    pub fn ping_counts(&self) -> (u64, u64) {
        (self.pings_sent, self.pongs_received)
    }

    /// SUB and UNSUB operations handled so far, wrapping: every one, even
    /// one refused or changing nothing, as nats-server counts them in
    /// `c.in.subs` (`processSubEx`, `processUnsub`), which makes a read
    /// batch activity for `/connz` `last_activity`. Compare two readings.
    pub fn interest_ops(&self) -> u32 {
        self.interest_ops
    }

    /// Consumes ops from `input` (all bytes not yet consumed) and returns
    /// how many bytes were used; keep the rest and present it again with
    /// more. Replies for this connection are appended to `out`. On
    /// `Err(Close)` the session is closed; `out` holds the final `-ERR`, if
    /// any. Call [`Session::close`] afterwards to release subscriptions.
    pub fn handle_input(
        &mut self,
        input: &[u8],
        now: Millis,
        host: &mut impl Host<Target = T>,
        out: &mut Vec<u8>,
    ) -> Result<usize, Close> {
        if self.state == State::Closed {
            return Err(Close::new(ClosedReason::ProtocolViolation));
        }
        let mut used = 0;
        while used < input.len() {
            self.check_first_byte(input[used], host, out)?;
            let op = match self.decoder.decode(&input[used..]) {
                Ok(Some((op, n))) => {
                    used += n;
                    op
                }
                Ok(None) => break,
                Err(e) => {
                    if let Some(text) = e.err_text() {
                        push_err(out, text);
                    }
                    let reason = ClosedReason::from_proto(&e);
                    self.state = State::Closed;
                    return Err(Close {
                        reason,
                        log: Some(alloc::format!("{e}")),
                    });
                }
            };
            if let Err(c) = self.handle_op(op, now, host, out) {
                self.state = State::Closed;
                return Err(c);
            }
        }
        Ok(used)
    }

    /// Before CONNECT on a connection that must authenticate, an op is
    /// judged by its first byte, before it is parsed (nats-server `parse`,
    /// state `OP_START`): anything but `C`/`c` is `-ERR 'Authorization
    /// Violation'` and a close, unless a `no_auth_user` applies, which then
    /// binds the connection first (websocket.md §5.3). So an unknown op or
    /// an oversized `PUB` from an unauthenticated client gets the auth
    /// error, not a parse error, and nothing else is parsed before auth.
    fn check_first_byte(
        &mut self,
        first: u8,
        host: &mut impl Host<Target = T>,
        out: &mut Vec<u8>,
    ) -> Result<(), Close> {
        if first == b'C' || first == b'c' {
            return Ok(());
        }
        if let State::AwaitingConnect { .. } = self.state {
            return Err(self.fail(
                out,
                Some("Authorization Violation"),
                ClosedReason::AuthenticationFailure,
            ));
        }
        if self.cfg.auth_check && !self.authenticated && self.connect.is_none() {
            // No CONNECT first: bind to the no-auth user right away
            // (websocket.md §5.3 "pre-CONNECT fast path").
            let grant = host.authenticate(None);
            if let Err(c) = self.apply_auth(grant, out) {
                self.state = State::Closed;
                return Err(c);
            }
        }
        Ok(())
    }

    fn fail(&mut self, out: &mut Vec<u8>, text: Option<&str>, reason: ClosedReason) -> Close {
        if let Some(t) = text {
            push_err(out, t);
        }
        self.state = State::Closed;
        Close::new(reason)
    }

    fn ok(&self, out: &mut Vec<u8>) {
        if self.verbose {
            out.extend_from_slice(proto::OK);
        }
    }

    fn handle_op(
        &mut self,
        op: ClientOp<'_>,
        now: Millis,
        host: &mut impl Host<Target = T>,
        out: &mut Vec<u8>,
    ) -> Result<(), Close> {
        if let State::AwaitingConnect { .. } = self.state {
            // An op starting with `C` that is not CONNECT (`CONNECTX` is a
            // parse error before this): still no credentials.
            if !matches!(op, ClientOp::Connect(_)) {
                return Err(self.fail(
                    out,
                    Some("Authorization Violation"),
                    ClosedReason::AuthenticationFailure,
                ));
            }
        }
        match op {
            ClientOp::Connect(json) => self.on_connect(json, now, host, out),
            ClientOp::Pub {
                subject,
                reply,
                payload,
            } => {
                self.last_activity = now;
                self.on_pub(subject, reply, None, payload, host, out);
                Ok(())
            }
            ClientOp::Hpub {
                subject,
                reply,
                headers,
                payload,
            } => {
                // HPUB without negotiated headers never gets here: the
                // decoder refuses it (`set_headers`).
                self.last_activity = now;
                // A zero-length header block is delivered as a plain MSG,
                // as nats-server does.
                let headers = (!headers.is_empty()).then_some(headers);
                self.on_pub(subject, reply, headers, payload, host, out);
                Ok(())
            }
            ClientOp::Sub {
                subject,
                queue,
                sid,
            } => {
                self.last_activity = now;
                self.interest_ops = self.interest_ops.wrapping_add(1);
                self.on_sub(subject, queue, sid, host, out);
                Ok(())
            }
            ClientOp::Unsub { sid, max_msgs } => {
                self.last_activity = now;
                self.interest_ops = self.interest_ops.wrapping_add(1);
                self.on_unsub(sid, max_msgs, host);
                self.ok(out);
                Ok(())
            }
            ClientOp::Ping => {
                self.last_activity = now;
                out.extend_from_slice(proto::PONG);
                if self.protocol >= 1 && self.connect.is_some() && !self.sent_connect_info {
                    self.sent_connect_info = true;
                    // Sent once: an idle client need not keep it.
                    if let Some(info) = self.cfg.connect_info.take() {
                        out.extend_from_slice(&info);
                    }
                }
                Ok(())
            }
            ClientOp::Pong => {
                self.pings_out = 0;
                self.pongs_received += 1;
                if let Some(sent) = self.last_ping_sent.take() {
                    self.rtt = Some((now.saturating_sub(sent), now));
                }
                Ok(())
            }
            ClientOp::Info(json) => {
                if serde_json::from_slice::<serde::de::IgnoredAny>(json).is_err() {
                    return Err(self.fail(out, None, ClosedReason::ProtocolViolation));
                }
                Ok(())
            }
            ClientOp::Ok => Ok(()),
            ClientOp::Err(text) => {
                let mut c = self.fail(out, None, ClosedReason::ParseError);
                c.log = Some(alloc::format!(
                    "Client Error {}",
                    String::from_utf8_lossy(text)
                ));
                Err(c)
            }
        }
    }

    fn on_connect(
        &mut self,
        json: &[u8],
        now: Millis,
        host: &mut impl Host<Target = T>,
        out: &mut Vec<u8>,
    ) -> Result<(), Close> {
        host.on_connect(json);
        // Every CONNECT is decoded over the options so far (spec §1.4):
        // absent keys keep the first CONNECT's values.
        // The first CONNECT decodes straight into a fresh value (the same
        // result as merging over the defaults, at a fraction of the cost).
        let decoded = match &self.connect {
            None => Connect::from_json(json),
            Some(prev) => {
                let mut c = prev.clone();
                c.merge_json(json).map(|()| c)
            }
        };
        let c = match decoded {
            Ok(c) => c,
            Err(e) => {
                let mut c = self.fail(out, None, ClosedReason::ProtocolViolation);
                c.log = Some(alloc::format!("{e}"));
                return Err(c);
            }
        };
        // nats-server checks the legacy account fields before the protocol.
        if !c.account.is_empty() || c.new_account {
            return Err(self.fail(
                out,
                Some("Authorization Violation"),
                ClosedReason::AuthenticationFailure,
            ));
        }
        if !(0..=1).contains(&c.protocol) {
            return Err(self.fail(
                out,
                Some("invalid client protocol"),
                ClosedReason::BadClientProtocolVersion,
            ));
        }
        // A second CONNECT drops every subscription and redoes auth (spec §1.2).
        if self.connect.is_some() {
            self.drop_subscriptions(host);
        }
        if self.cfg.auth_check || self.cfg.auth_required {
            let grant = host.authenticate(Some(&c));
            self.apply_auth(grant, out)?;
        }
        if c.no_responders && !(c.headers && self.cfg.headers_supported) {
            return Err(self.fail(
                out,
                Some("no responders requires headers support"),
                ClosedReason::NoRespondersRequiresHeaders,
            ));
        }
        self.verbose = c.verbose;
        self.pedantic = c.pedantic;
        self.echo = c.echo;
        self.headers = c.headers && self.cfg.headers_supported;
        self.decoder.set_headers(self.headers);
        self.no_responders = c.no_responders;
        self.protocol = c.protocol;
        self.connect = Some(c);
        self.state = State::Connected;
        // The ping timer restarts on CONNECT (first PING for RTT ~2 s later).
        self.next_ping = now.saturating_add(self.cfg.first_ping);
        self.ok(out);
        Ok(())
    }

    /// Takes the result of [`Host::authenticate`]: a failure closes with
    /// its `-ERR`; a grant replaces the permissions and limits.
    fn apply_auth(
        &mut self,
        grant: Result<Grant, AuthFailure>,
        out: &mut Vec<u8>,
    ) -> Result<(), Close> {
        let mut grant = match grant {
            Ok(g) => g,
            Err(AuthFailure::Violation) => {
                return Err(self.fail(
                    out,
                    Some("Authorization Violation"),
                    ClosedReason::AuthenticationFailure,
                ))
            }
            Err(AuthFailure::Expired) => {
                return Err(self.fail(
                    out,
                    Some("User Authentication Expired"),
                    ClosedReason::AuthenticationExpired,
                ))
            }
        };
        let mut limits = self.cfg.limits;
        if let Some(p) = grant.max_payload {
            limits.max_payload = limits.max_payload.min(p);
        }
        self.decoder.set_limits(limits);
        self.perm_cache.clear();
        if let Some(info) = grant.connect_info.take() {
            if !self.sent_connect_info {
                self.cfg.connect_info = Some(info);
            }
        }
        self.grant = grant;
        self.authenticated = true;
        Ok(())
    }

    /// Whether the granted permissions allow publishing to `subject`, with
    /// a bounded per-session cache (allocates only on a miss).
    fn publish_allowed(&mut self, subject: &[u8], host: &mut impl Host<Target = T>) -> bool {
        let Some(p) = &self.grant.permits else {
            return true;
        };
        let allowed = match self.perm_cache.get(subject) {
            Some(&a) => a,
            None => {
                let a = p.can_publish(subject);
                if self.perm_cache.len() >= PERM_CACHE_MAX {
                    self.perm_cache.clear();
                }
                self.perm_cache.insert(subject.to_vec(), a);
                a
            }
        };
        allowed || host.response_permitted(subject)
    }

    fn on_pub(
        &mut self,
        subject: &[u8],
        reply: Option<&[u8]>,
        headers: Option<&[u8]>,
        payload: &[u8],
        host: &mut impl Host<Target = T>,
        out: &mut Vec<u8>,
    ) {
        self.in_msgs += 1;
        self.in_bytes += (payload.len() + headers.map_or(0, <[u8]>::len)) as u64;
        if self.pedantic && subject::validate_subject(subject).is_err() {
            // Still routed, connection kept (spec §1.2).
            push_err(out, "Invalid Publish Subject");
        }
        if subject.starts_with(b"_GR_.")
            || subject.starts_with(b"$NRG.")
            || !self.publish_allowed(subject, host)
        {
            push_permission_violation(out, "Publish to", subject, None);
            return;
        }
        if let Some(r) = reply {
            if RESERVED_REPLY_PREFIXES.iter().any(|p| r.starts_with(p)) {
                push_permission_violation(out, "Publish with Reply of", r, None);
                return;
            }
        }
        self.ok(out);
        let msg = Message {
            subject,
            reply,
            headers,
            payload,
        };
        let delivered = host.publish(Origin::Conn(self.cfg.conn), self.echo, &msg, out);
        if delivered == 0 && self.no_responders {
            if let Some(r) = reply {
                self.send_no_responders(subject, r, out);
            }
        }
    }

    /// `HMSG <reply> <sid> L L␍␊NATS/1.0 503␍␊Nats-Subject: <subject>␍␊␍␊␍␊`
    /// to this connection's first plain subscription matching the reply
    /// (spec §1.6).
    fn send_no_responders(&self, subject: &[u8], reply: &[u8], out: &mut Vec<u8>) {
        let Some(sub) = self
            .subs
            .values()
            .find(|s| s.queue().is_none() && !s.is_closed() && s.matches(reply))
        else {
            return;
        };
        proto::encode_no_responders(out, reply, sub.sid(), subject);
    }

    fn on_sub(
        &mut self,
        subject: &[u8],
        queue: Option<&[u8]>,
        sid: &[u8],
        host: &mut impl Host<Target = T>,
        out: &mut Vec<u8>,
    ) {
        if queue == Some(b"_sys_".as_slice())
            || self
                .grant
                .permits
                .as_ref()
                .is_some_and(|p| !p.can_subscribe(subject, queue))
        {
            push_permission_violation(out, "Subscription to", subject, queue);
            return;
        }
        // Then the token limit (counting empty tokens: before the subject
        // is validated), then the subscription limit, then the sid.
        let max_tokens = self.cfg.max_sub_tokens;
        if max_tokens > 0 && subject.iter().filter(|&&b| b == b'.').count() >= max_tokens {
            let mut text = String::from("Permissions Violation for Subscription to ");
            go_quote(&mut text, subject);
            text.push_str(", too many tokens");
            push_err(out, &text);
            return;
        }
        // nats-server checks the limit before looking the sid up.
        let max_subs = self
            .grant
            .max_subscriptions
            .unwrap_or(self.cfg.max_subscriptions);
        if max_subs > 0 {
            self.subs.retain(|_, s| !s.is_closed());
            if self.subs.len() >= max_subs {
                push_err(out, "maximum subscriptions exceeded");
                return;
            }
        }
        if let Some(existing) = self.subs.get(sid) {
            if !existing.is_closed() {
                // A SUB reusing a live sid is silently ignored (spec §1.2).
                self.ok(out);
                return;
            }
        }
        let Ok(filter) = Filter::try_from(subject) else {
            push_err(out, "Invalid Subject");
            return;
        };
        let sub = SubRef::new(
            Subscription::new(self.cfg.conn, sid, filter, queue, self.headers)
                .with_target(self.cfg.target.clone()),
        );
        host.subscribe(&sub);
        self.subs.insert(sid.to_vec(), sub);
        self.ok(out);
    }

    fn on_unsub(&mut self, sid: &[u8], max_msgs: Option<u64>, host: &mut impl Host<Target = T>) {
        let Some(sub) = self.subs.get(sid) else {
            return;
        };
        if sub.is_closed() {
            self.subs.remove(sid);
            return;
        }
        match max_msgs {
            Some(n) if n > 0 && n > sub.delivered() => sub.set_max_msgs(n),
            _ => {
                if let Some(sub) = self.subs.remove(sid) {
                    sub.close();
                    host.unsubscribe(&sub);
                }
            }
        }
    }

    fn drop_subscriptions(&mut self, host: &mut impl Host<Target = T>) {
        for (_, sub) in core::mem::take(&mut self.subs) {
            if !sub.is_closed() {
                sub.close();
                host.unsubscribe(&sub);
            }
        }
    }

    /// The next time [`Session::handle_timeout`] must be called.
    pub fn poll_timeout(&self) -> Option<Millis> {
        let t = match self.state {
            State::Closed => return None,
            State::AwaitingConnect { deadline } => deadline.min(self.next_ping),
            State::Connected => self.next_ping,
        };
        Some(self.grant.expires_at.map_or(t, |e| e.min(t)))
    }

    /// Fires the timers due at `now`: the auth timeout (`-ERR
    /// 'Authentication Timeout'` and close), the credentials' expiry (`-ERR
    /// 'User Authentication Expired'` and close) and the ping timer (send `PING`,
    /// or `-ERR 'Stale Connection'` and close when `ping_max` PINGs are
    /// unanswered), per spec §1.8.
    pub fn handle_timeout(&mut self, now: Millis, out: &mut Vec<u8>) -> Result<(), Close> {
        if let State::AwaitingConnect { deadline } = self.state {
            if now >= deadline {
                return Err(self.fail(
                    out,
                    Some("Authentication Timeout"),
                    ClosedReason::AuthenticationTimeout,
                ));
            }
        }
        if self.state != State::Closed && self.grant.expires_at.is_some_and(|e| now >= e) {
            return Err(self.fail(
                out,
                Some("User Authentication Expired"),
                ClosedReason::AuthenticationExpired,
            ));
        }
        if self.state == State::Closed || now < self.next_ping {
            return Ok(());
        }
        let interval = self.cfg.ping_interval;
        self.next_ping = now.saturating_add(interval);
        let recent_activity = now.saturating_sub(self.last_activity) < interval;
        let fresh_rtt = self
            .rtt
            .is_some_and(|(_, at)| now.saturating_sub(at) < RTT_MAX_AGE);
        if recent_activity && fresh_rtt {
            return Ok(());
        }
        if self.pings_out + 1 > self.cfg.ping_max {
            return Err(self.fail(out, Some("Stale Connection"), ClosedReason::StaleConnection));
        }
        self.pings_out += 1;
        self.pings_sent += 1;
        self.last_ping_sent = Some(now);
        out.extend_from_slice(proto::PING);
        Ok(())
    }

    /// Ends the session: removes every subscription from the subject space.
    /// Idempotent.
    pub fn close(&mut self, host: &mut impl Host<Target = T>) {
        self.drop_subscriptions(host);
        self.state = State::Closed;
    }
}

/// `-ERR 'Permissions Violation for <what> "<subject>"[ using queue "<q>"]'`
/// with Go `%q` quoting (spec §1.9).
/// Appends one delivery of `msg` to `sub` as a NATS client sees it:
/// `HMSG` when the message has headers and the subscriber negotiated them,
/// `MSG` otherwise (with any header block stripped, spec
/// `nats-protocol.md` §1.3).
pub fn encode_delivery<T>(sub: &Subscription<T>, msg: &Message<'_>, out: &mut Vec<u8>) {
    match msg.headers {
        Some(h) if sub.headers => {
            proto::encode_hmsg(out, msg.subject, sub.sid(), msg.reply, h, msg.payload)
        }
        _ => proto::encode_msg(out, msg.subject, sub.sid(), msg.reply, msg.payload),
    }
}

fn push_permission_violation(out: &mut Vec<u8>, what: &str, subject: &[u8], queue: Option<&[u8]>) {
    let mut text = String::from("Permissions Violation for ");
    text.push_str(what);
    text.push(' ');
    go_quote(&mut text, subject);
    if let Some(q) = queue {
        text.push_str(" using queue ");
        go_quote(&mut text, q);
    }
    push_err(out, &text);
}

/// Go's `%q` for a byte string: double quotes, `\"` and `\\` escaped,
/// non-printable bytes as `\xNN`.
pub fn go_quote(out: &mut String, s: &[u8]) {
    use core::fmt::Write;
    out.push('"');
    for chunk in s.utf8_chunks() {
        for ch in chunk.valid().chars() {
            match ch {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if c.is_control() => {
                    let _ = write!(out, "\\x{:02x}", c as u32);
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out.push('"');
}
