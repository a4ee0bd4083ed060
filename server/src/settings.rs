//! Resolved runtime settings: what the loops, the listeners and the
//! monitor read. Built from [`crate::options::Options`] by `main.rs`.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use crate::kind::ConnKind;
use crate::options::{self, Options, TlsConfig};
use crate::tls::{TlsError, TlsHolder, TlsListen};
use crate::ws::WsListenConfig;

/// natsws default for `websocket { keepalive }`: a ping frame after 20 s of
/// outbound silence, below the common proxy idle cutoffs (60–100 s).
pub const DEFAULT_WS_KEEPALIVE: Duration = Duration::from_secs(20);

/// natsws default for `websocket { handshake_timeout }` when unset
/// (nats-server has none; pre-auth hardening, see docs/compat.md).
pub const DEFAULT_WS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Resolved runtime settings (from the config file and the command line).
/// Units: bytes, and `Duration`s.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Client (TCP) listen address; port 0 picks a free port.
    pub client_addr: SocketAddr,
    /// The WebSocket listener, if configured with a port.
    pub websocket: Option<WsListenConfig>,
    /// The MQTT listener and its tuning, if `mqtt {}` has a port.
    pub mqtt: Option<MqttSettings>,
    /// `leafnodes { … }` as configured (spec `leafnode.md` §2); `None`
    /// when absent.
    pub leafnodes: Option<Arc<options::leaf::LeafnodeOptions>>,
    /// The `leafnodes` listener's TLS (`leafnodes { tls { … } }`).
    pub leaf_tls: Option<TlsListen>,
    /// `default_js_domain`: account name → JetStream domain its plain
    /// JetStream API subjects are mapped to (spec `leafnode.md` §4.10).
    pub default_js_domain: Vec<(String, String)>,
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
    pub client_advertise: Option<Advertise>,
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
    /// `proxy_protocol`: client-port connections may start with a PROXY
    /// protocol header (v1 or v2) naming the real client; INFO then goes
    /// out without `client_ip`. Default false.
    pub proxy_protocol: bool,
    /// Top-level `trusted_proxies`: with `proxy_protocol`, the peers that
    /// may send a PROXY header; empty = any (nats-server's behaviour).
    pub trusted_proxies: Vec<natsws_core::ws::proxy::Cidr>,
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
    /// The names of the configured `accounts` (§3.6), registered at startup
    /// besides `$G` as nats-server's `configureAccounts` does, so that
    /// `/accountz` lists them before anyone logs in. Default: none.
    pub accounts: Vec<String>,
    /// The system account's name (operations spec §2.1): `system_account`,
    /// else the internal `$SYS`; `None` with `no_system_account`. Default:
    /// `$SYS`.
    pub system_account: Option<String>,
    /// Each configured account's exports, imports and mappings (operations
    /// spec §3), installed on the accounts at start (`crate::imports`).
    pub account_links: Vec<(String, crate::options::AccountLinks)>,
    /// The top-level `mappings`: the global account's.
    pub mappings: Vec<crate::options::MappingOpt>,
    /// natsws `metrics { … }`: the namespace and `server_id` label value
    /// of `/metrics` (default `gnatsd` and the server id).
    pub metrics: options::MetricsOptions,
    /// Test-only (feature `autobahn`): WebSocket connections are the
    /// Autobahn echo instead of NATS clients (`natsws-autobahn`).
    #[cfg(feature = "autobahn")]
    pub autobahn_echo: bool,
}

/// [`options::DEFAULT_MAX_PENDING`] in bytes as a `usize`.
const DEFAULT_MAX_PENDING: usize = options::DEFAULT_MAX_PENDING as usize;

impl Default for Settings {
    fn default() -> Self {
        Settings {
            client_addr: "0.0.0.0:4222".parse().expect("literal"),
            websocket: None,
            mqtt: None,
            leafnodes: None,
            leaf_tls: None,
            default_js_domain: Vec::new(),
            http_addr: None,
            tls: None,
            https_tls: None,
            server_name: None,
            client_advertise: None,
            max_payload: options::DEFAULT_MAX_PAYLOAD,
            max_control_line: options::DEFAULT_MAX_CONTROL_LINE,
            max_pending: DEFAULT_MAX_PENDING,
            max_subscriptions: 0,
            max_sub_tokens: 0,
            max_connections: options::DEFAULT_MAX_CONNECTIONS as usize,
            ping_interval: options::DEFAULT_PING_INTERVAL,
            ping_max: options::DEFAULT_PING_MAX,
            write_deadline: options::DEFAULT_WRITE_DEADLINE,
            ws_max_pending: DEFAULT_MAX_PENDING,
            ws_write_deadline: options::DEFAULT_WRITE_DEADLINE,
            no_header_support: false,
            proxy_protocol: false,
            trusted_proxies: Vec::new(),
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            max_pending_handshakes: 4096,
            loop_spin: options::DEFAULT_LOOP_SPIN,
            lame_duck_duration: options::DEFAULT_LAME_DUCK_DURATION,
            lame_duck_grace_period: options::DEFAULT_LAME_DUCK_GRACE_PERIOD,
            auth: None,
            account_links: Vec::new(),
            mappings: Vec::new(),
            accounts: Vec::new(),
            system_account: Some(DEFAULT_SYSTEM_ACCOUNT.to_string()),
            metrics: options::MetricsOptions::default(),
            #[cfg(feature = "autobahn")]
            autobahn_echo: false,
        }
    }
}

impl Settings {
    /// The TLS configuration of the listener a connection of `kind` came
    /// from: the top-level `tls` for the client port, the websocket block's
    /// for the websocket port; `None` for plaintext.
    pub fn tls_for(&self, kind: ConnKind) -> Option<&TlsListen> {
        match kind {
            ConnKind::CLIENT => self.tls.as_ref(),
            ConnKind::WEBSOCKET | ConnKind::MQTT_WS => {
                self.websocket.as_ref().and_then(|w| w.tls.as_ref())
            }
            ConnKind::MQTT => self.mqtt.as_ref().and_then(|m| m.tls.as_ref()),
            ConnKind::LEAF => self.leaf_tls.as_ref(),
            _ => None,
        }
    }

    /// `max_pending` for a connection of `kind`.
    pub fn max_pending_for(&self, kind: ConnKind) -> usize {
        match kind {
            ConnKind::WEBSOCKET | ConnKind::MQTT_WS => self.ws_max_pending,
            _ => self.max_pending,
        }
    }

    /// Whether a connection of `kind` is kept while its blocked writes
    /// make progress (the `retry` write-timeout policy): leaf links unless
    /// `leafnodes { write_timeout: close }` (nats-server `initClient`);
    /// other kinds are closed at the deadline.
    pub fn write_retry_for(&self, kind: ConnKind) -> bool {
        kind.is_leaf()
            && self
                .leafnodes
                .as_ref()
                .is_none_or(|l| l.write_timeout != options::leaf::WriteTimeoutPolicy::Close)
    }

    /// `write_deadline` for a connection of `kind`: a leaf link's is
    /// `leafnodes { write_deadline }` when set and positive (nats-server
    /// `initClient`).
    pub fn write_deadline_for(&self, kind: ConnKind) -> Duration {
        match kind {
            k if k.is_leaf() => self
                .leafnodes
                .as_ref()
                .and_then(|l| l.write_deadline)
                .filter(|d| !d.is_zero())
                .unwrap_or(self.write_deadline),
            ConnKind::WEBSOCKET | ConnKind::MQTT_WS => self.ws_write_deadline,
            _ => self.write_deadline,
        }
    }
}

/// A parsed `client_advertise` (spec §1.5: INFO `host`/`port` for TCP
/// clients).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advertise {
    /// The advertised host, trimmed (may be empty, as in nats-server).
    pub host: String,
    /// The advertised port; `None` = the actual client listen port (no port
    /// given, or 0 or -1).
    pub port: Option<u16>,
}

/// A `client_advertise` value that does not parse. `Display` is
/// nats-server's startup error: `Error setting server INFO with
/// ClientAdvertise value of <value>, err=<reason>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAdvertiseError {
    /// The configured value.
    pub value: String,
    /// Why it was refused.
    pub reason: AdvertiseReason,
}

/// Why a `client_advertise` value was refused (the `err=` part).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AdvertiseReason {
    /// Go's `net.SplitHostPort` refused `address` (the value, or the value
    /// with the listen port appended when it had none), e.g. `too many
    /// colons in address`: `address <address>: <why>`.
    Address {
        /// The address as split.
        address: String,
        /// Go's `AddrError` text.
        why: &'static str,
    },
    /// The port is not an integer: `strconv.Atoi: parsing "<port>":
    /// invalid syntax` (or `value out of range`).
    Atoi {
        /// The port text, trimmed.
        port: String,
        /// `invalid syntax` or `value out of range`.
        why: &'static str,
    },
    /// An integer port outside 0–65535 other than -1 (natsws only; see
    /// docs/compat.md): `port <n> out of range 0-65535`.
    PortRange(i64),
}

impl std::fmt::Display for AdvertiseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AdvertiseReason::Address { address, why } => write!(f, "address {address}: {why}"),
            AdvertiseReason::Atoi { port, why } => {
                write!(f, "strconv.Atoi: parsing {port:?}: {why}")
            }
            AdvertiseReason::PortRange(n) => write!(f, "port {n} out of range 0-65535"),
        }
    }
}

impl std::fmt::Display for ClientAdvertiseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Error setting server INFO with ClientAdvertise value of {}, err={}",
            self.value, self.reason
        )
    }
}

impl std::error::Error for ClientAdvertiseError {}

/// Parses `client_advertise` as nats-server's `parseHostPort` with Go's
/// `net.SplitHostPort` and `strconv.Atoi`: `host:port`, `[v6]:port`, or a
/// bare host (then the listen port); port 0 and -1 mean the listen port;
/// host and port are trimmed of white space. `listen_port` (the configured
/// port) only appears in error texts. An empty value is `Ok(None)` (not
/// advertised).
///
/// # Errors
/// nats-server's startup error, e.g. `Error setting server INFO with
/// ClientAdvertise value of a:b, err=strconv.Atoi: parsing "b": invalid
/// syntax`. A port outside 0–65535 (other than -1), which nats-server puts in
/// INFO as is, is refused too (docs/compat.md).
pub fn parse_client_advertise(
    value: &str,
    listen_port: i32,
) -> Result<Option<Advertise>, ClientAdvertiseError> {
    if value.is_empty() {
        return Ok(None);
    }
    let fail = |reason| ClientAdvertiseError {
        value: value.to_string(),
        reason,
    };
    let (host, port) = match split_host_port(value) {
        Ok(hp) => hp,
        Err(why) if why == MISSING_PORT => {
            let with_port = format!("{value}:{listen_port}");
            let (h, _) = split_host_port(&with_port).map_err(|why| {
                fail(AdvertiseReason::Address {
                    address: with_port.clone(),
                    why,
                })
            })?;
            (h.to_string(), None)
        }
        Err(why) => {
            return Err(fail(AdvertiseReason::Address {
                address: value.to_string(),
                why,
            }))
        }
    };
    let port = match port {
        None => None,
        Some(p) => {
            let p = p.trim();
            let n: i64 = p.parse().map_err(|e: std::num::ParseIntError| {
                let why = match e.kind() {
                    std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                        "value out of range"
                    }
                    _ => "invalid syntax",
                };
                fail(AdvertiseReason::Atoi {
                    port: p.to_string(),
                    why,
                })
            })?;
            match n {
                0 | -1 => None,
                n => Some(u16::try_from(n).map_err(|_| fail(AdvertiseReason::PortRange(n)))?),
            }
        }
    };
    Ok(Some(Advertise {
        host: host.trim().to_string(),
        port,
    }))
}

const MISSING_PORT: &str = "missing port in address";

/// Go's `net.SplitHostPort`: (host, port) or the reason of its `AddrError`.
fn split_host_port(hp: &str) -> Result<(String, Option<&str>), &'static str> {
    let Some(i) = hp.rfind(':') else {
        return Err(MISSING_PORT);
    };
    let (host, j, k) = if hp.starts_with('[') {
        let Some(end) = hp.find(']') else {
            return Err("missing ']' in address");
        };
        if end + 1 == hp.len() {
            return Err(MISSING_PORT);
        }
        if end + 1 != i {
            return Err(if hp.as_bytes()[end + 1] == b':' {
                "too many colons in address"
            } else {
                MISSING_PORT
            });
        }
        (&hp[1..end], 1, end + 1)
    } else {
        let host = &hp[..i];
        if host.contains(':') {
            return Err("too many colons in address");
        }
        (host, 0, 0)
    };
    if hp[j..].contains('[') {
        return Err("unexpected '[' in address");
    }
    if hp[k..].contains(']') {
        return Err("unexpected ']' in address");
    }
    Ok((host.to_string(), Some(&hp[i + 1..])))
}

/// Why options could not become settings. `Display` is the startup error
/// line (nats-server's text where it has one).
#[derive(Debug)]
#[non_exhaustive]
pub enum SettingsError {
    /// A `tls {}` block whose certificate, key or CA could not be loaded;
    /// `at` is the block's position (`file:line:col`), as nats-server
    /// reports it.
    Tls {
        /// The block's position, when known.
        at: Option<String>,
        /// What failed.
        reason: TlsError,
    },
    /// A listen host that does not resolve.
    Resolve {
        /// The host as configured.
        host: String,
        /// The resolver's error, if it gave one.
        reason: Option<String>,
    },
    /// Both `http_port` and `https_port` are set.
    MonitorPorts {
        /// `http_port`.
        http: i32,
        /// `https_port`.
        https: i32,
    },
    /// `https_port` without a top-level `tls` block.
    HttpsWithoutTls,
    /// `proxy_protocol` together with a `tls` block on the same listener: the
    /// PROXY header comes before the TLS handshake, which natsws does not
    /// read yet (docs/compat.md).
    ProxyProtocolWithTls,
    /// `client_advertise` does not parse (nats-server's text).
    ClientAdvertise(ClientAdvertiseError),
    /// A `websocket { allowed_origins }` entry does not parse.
    AllowedOrigins(natsws_core::ws::handshake::AllowedOriginError),
    /// Authorization, accounts or operator configuration (an invalid
    /// permission subject, an unreadable or invalid operator JWT).
    Auth(crate::auth::AuthConfigError),
    /// `system_account` names an account that is not configured (config
    /// mode): nats-server's `error resolving system account: account
    /// missing` (`configureAccounts`).
    SystemAccountMissing,
}

impl std::fmt::Display for SettingsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SettingsError::Tls {
                at: Some(at),
                reason,
            } => write!(f, "{at}: {reason}"),
            SettingsError::Tls { at: None, reason } => write!(f, "{reason}"),
            SettingsError::Resolve {
                host,
                reason: Some(r),
            } => write!(f, "cannot resolve {host}: {r}"),
            SettingsError::Resolve { host, reason: None } => write!(f, "cannot resolve {host}"),
            SettingsError::MonitorPorts { http, https } => write!(
                f,
                "Can't start monitoring: can't specify both HTTP ({http}) and HTTPs ({https}) ports"
            ),
            SettingsError::ProxyProtocolWithTls => f.write_str(
                "proxy_protocol with tls on the same listener is not supported by natsws yet",
            ),
            SettingsError::HttpsWithoutTls => {
                f.write_str("Can't start monitoring: TLS cert and key required for HTTPS")
            }
            SettingsError::ClientAdvertise(e) => write!(f, "{e}"),
            SettingsError::AllowedOrigins(e) => e.fmt(f),
            SettingsError::Auth(e) => write!(f, "{e}"),
            SettingsError::SystemAccountMissing => {
                f.write_str("error resolving system account: account missing")
            }
        }
    }
}

impl std::error::Error for SettingsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SettingsError::Tls { reason, .. } => Some(reason),
            SettingsError::ClientAdvertise(e) => Some(e),
            SettingsError::Auth(e) => Some(e),
            _ => None,
        }
    }
}

fn resolve(host: &str, port: i32) -> Result<SocketAddr, SettingsError> {
    // -1 asks for a random free port, as in nats-server.
    let port = if port < 0 { 0 } else { port as u16 };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let fail = |reason| SettingsError::Resolve {
        host: host.to_string(),
        reason,
    };
    (host, port)
        .to_socket_addrs()
        .map_err(|e| fail(Some(e.to_string())))?
        .next()
        .ok_or_else(|| fail(None))
}

/// The leafnode listener's TLS, after loading each remote's `tls { … }`
/// once, so that a bad file or key stops the start (nats-server
/// `parseRemoteLeafNodes` runs `GenTLSConfig`); the dialers load them
/// again.
fn leaf_tls(o: &Options) -> Result<Option<TlsListen>, SettingsError> {
    let blocks = o.leaf.iter().flat_map(|l| &l.remotes);
    for t in blocks.filter_map(|r| r.tls.as_ref()) {
        crate::leaf_tls::ClientTls::new(Some(t)).map_err(|e| tls_error(t, e))?;
    }
    match o.leaf.as_ref().and_then(|l| l.tls.as_ref()) {
        Some(t) => Ok(Some(TlsListen::new(t).map_err(|e| tls_error(t, e))?)),
        None => Ok(None),
    }
}

/// A `tls { … }` block's error as nats-server reports it: at the block's
/// position.
fn tls_error(t: &TlsConfig, reason: TlsError) -> SettingsError {
    SettingsError::Tls {
        at: t.span.as_ref().map(ToString::to_string),
        reason,
    }
}

impl Settings {
    /// Resolves typed options into the runtime settings of the server:
    /// listener addresses (host names resolved, port -1 → 0), TLS
    /// configurations loaded from their files, the WebSocket upgrade
    /// policy, the monitor, authentication, and the limits (defaults from
    /// [`Settings::default`] where an option has none).
    ///
    /// # Errors
    /// The startup error text nats-server gives: a TLS file that cannot be
    /// read (at the block's position), an unresolvable host, both
    /// `http_port` and `https_port`, `https_port` without `tls`, a bad
    /// `client_advertise`, an invalid permission subject or operator JWT.
    pub fn from_options(o: &Options) -> Result<Settings, SettingsError> {
        build(o)
    }
}

/// The internal system account's name (nats-server
/// `DEFAULT_SYSTEM_ACCOUNT`).
pub const DEFAULT_SYSTEM_ACCOUNT: &str = "$SYS";

/// [`Settings::system_account`] from `system_account` and
/// `no_system_account` (nats-server `Server.Start`: a configured name wins
/// over `no_system_account`). In config mode the name must be a configured
/// account or `$SYS`; in operator mode it is an account public key.
fn system_account(o: &Options) -> Result<Option<String>, SettingsError> {
    match &o.system_account {
        Some(name) => {
            let known = name == DEFAULT_SYSTEM_ACCOUNT
                || !o.operators.is_empty()
                || o.accounts.iter().any(|a| &a.name == name);
            if known {
                Ok(Some(name.clone()))
            } else {
                Err(SettingsError::SystemAccountMissing)
            }
        }
        None if o.no_system_account => Ok(None),
        None => Ok(Some(DEFAULT_SYSTEM_ACCOUNT.to_string())),
    }
}

/// [`Settings::from_options`].
fn build(o: &Options) -> Result<Settings, SettingsError> {
    let tls = match &o.tls {
        Some(t) => Some(TlsListen::new(t).map_err(|e| tls_error(t, e))?),
        None => None,
    };
    let websocket = if o.websocket.enabled() {
        let w = &o.websocket;
        let mut up = natsws_core::ws::handshake::UpgradeConfig::default();
        up.same_origin = w.same_origin;
        up.compression = w.compression;
        up.headers = w.headers.clone();
        if w.max_request_head > 0 {
            up.max_head_bytes = w.max_request_head;
        }
        up.health_path = w.health_path.clone();
        up.mqtt_enabled = o.mqtt.as_ref().is_some_and(|m| m.port != 0);
        up.cookies = natsws_core::ws::handshake::CookieNames {
            jwt: w.jwt_cookie.clone(),
            user: w.user_cookie.clone(),
            pass: w.pass_cookie.clone(),
            token: w.token_cookie.clone(),
        };
        up.set_allowed_origins(&w.allowed_origins)
            .map_err(SettingsError::AllowedOrigins)?;
        Some(WsListenConfig {
            addr: resolve(w.bind_host(), w.port)?,
            no_tls: w.no_tls,
            tls: match &w.tls {
                Some(t) => Some(TlsListen::new(t).map_err(|e| tls_error(t, e))?),
                None => None,
            },
            handshake_timeout: if w.handshake_timeout.is_zero() {
                DEFAULT_WS_HANDSHAKE_TIMEOUT
            } else {
                w.handshake_timeout
            },
            compression: w.compression,
            same_origin: w.same_origin,
            allowed_origins: w.allowed_origins.clone(),
            ping_interval: w.ping_interval.unwrap_or(Duration::ZERO),
            keepalive: w.keepalive.unwrap_or(DEFAULT_WS_KEEPALIVE),
            proxy_protocol: w.proxy_protocol,
            upgrade: up,
            trusted_proxies: w.trusted_proxies.clone(),
            upgrade_rate_limit: (w.upgrade_rate_limit > 0).then(|| {
                Arc::new(crate::ws::RateLimit::new(
                    w.upgrade_rate_limit,
                    std::time::Instant::now(),
                ))
            }),
            max_message: u64::MAX,
        })
    } else {
        None
    };
    if (o.proxy_protocol && o.tls.is_some())
        || (o.websocket.proxy_protocol && o.websocket.tls.is_some())
        || o.mqtt
            .as_ref()
            .is_some_and(|m| m.proxy_protocol && m.tls.is_some())
        || o.leaf
            .as_ref()
            .is_some_and(|l| l.proxy_protocol && l.tls.is_some())
    {
        return Err(SettingsError::ProxyProtocolWithTls);
    }
    if o.http_port != 0 && o.https_port != 0 {
        return Err(SettingsError::MonitorPorts {
            http: o.http_port,
            https: o.https_port,
        });
    }
    let mut https_tls = None;
    let monitor_port = if o.https_port != 0 {
        let Some(t) = &o.tls else {
            return Err(SettingsError::HttpsWithoutTls);
        };
        https_tls = Some(Arc::new(
            TlsHolder::new(t, false).map_err(|e| tls_error(t, e))?,
        ));
        o.https_port
    } else {
        o.http_port
    };
    let http_addr = if monitor_port != 0 {
        Some(resolve(
            o.http_host.as_deref().unwrap_or(&o.host),
            monitor_port,
        )?)
    } else {
        None
    };
    let auth = crate::auth::build(o)
        .map_err(SettingsError::Auth)?
        .map(std::sync::Arc::new);
    let mqtt = match &o.mqtt {
        Some(m) if m.port != 0 => Some(mqtt_settings(m, o.jetstream_store_dir.as_deref())?),
        _ => None,
    };
    let system_account = system_account(o)?;
    Ok(Settings {
        auth,
        account_links: account_links(o),
        mappings: o.mappings.clone(),
        client_addr: resolve(&o.host, o.port)?,
        websocket,
        mqtt,
        leafnodes: o.leaf.clone().map(Arc::new),
        leaf_tls: leaf_tls(o)?,
        default_js_domain: o.default_js_domain.clone(),
        http_addr,
        tls,
        https_tls,
        server_name: o.server_name.clone(),
        client_advertise: match &o.client_advertise {
            Some(v) => parse_client_advertise(v, o.port).map_err(SettingsError::ClientAdvertise)?,
            None => None,
        },
        max_payload: o.max_payload,
        max_control_line: o.max_control_line,
        max_pending: usize::try_from(o.max_pending).unwrap_or(usize::MAX),
        max_subscriptions: o.max_subscriptions as usize,
        max_sub_tokens: usize::from(o.max_sub_tokens),
        max_connections: usize::try_from(o.max_connections).unwrap_or(0),
        ping_interval: o.ping_interval,
        ping_max: o.ping_max,
        write_deadline: o.write_deadline,
        ws_max_pending: o
            .websocket
            .max_pending
            .map_or(usize::try_from(o.max_pending).unwrap_or(usize::MAX), |v| {
                usize::try_from(v).unwrap_or(usize::MAX)
            }),
        ws_write_deadline: o.websocket.write_deadline.unwrap_or(o.write_deadline),
        no_header_support: o.no_header_support,
        proxy_protocol: o.proxy_protocol,
        trusted_proxies: o.trusted_proxies.clone(),
        max_pending_handshakes: o.max_pending_handshakes,
        loop_spin: o.loop_spin,
        lame_duck_duration: o.lame_duck_duration,
        lame_duck_grace_period: o.lame_duck_grace_period,
        accounts: o.accounts.iter().map(|a| a.name.clone()).collect(),
        system_account,
        metrics: o.metrics.clone(),
        ..Settings::default()
    })
}

/// The MQTT listener and its tuning (mqtt spec §1.1, §7.6).
#[derive(Debug, Clone)]
pub struct MqttSettings {
    /// Listen address (`0.0.0.0` when only a port is given).
    pub addr: SocketAddr,
    /// `tls {}` of the block.
    pub tls: Option<TlsListen>,
    /// `ack_wait` (default 30 s).
    pub ack_wait: Duration,
    /// `max_ack_pending` (default 1024).
    pub max_ack_pending: u16,
    /// `reject_qos2_publish`.
    pub reject_qos2_publish: bool,
    /// `downgrade_qos2_subscribe`.
    pub downgrade_qos2_subscribe: bool,
    /// natsws `connect_timeout` (default 10 s).
    pub connect_timeout: Duration,
    /// natsws `takeover_jail` (default 1 s).
    pub takeover_jail: Duration,
    /// `/varz` `mqtt`: the configured host (empty when none).
    pub host: String,
    /// `/varz` `mqtt`: `no_auth_user`.
    pub no_auth_user: String,
    /// `/varz` `mqtt`: `ack_wait` when set.
    pub ack_wait_set: Option<Duration>,
    /// `/varz` `mqtt`: `max_ack_pending` when set.
    pub max_ack_pending_set: Option<u16>,
    /// `/varz` `mqtt`: `authorization.timeout` when set, seconds.
    pub auth_timeout: Option<f64>,
    /// The durable store's directory (`store: file`; the default when
    /// `mqtt { store_dir }` or `jetstream { store_dir }` is set); `None`:
    /// state in memory.
    pub store_dir: Option<std::path::PathBuf>,
    /// natsws `mqtt { proxy_protocol }`: connections may start with a PROXY
    /// header (operations spec §5.4).
    pub proxy_protocol: bool,
}

/// Default `mqtt { ack_wait }`.
pub const DEFAULT_MQTT_ACK_WAIT: Duration = Duration::from_secs(30);
/// Default `mqtt { max_ack_pending }`.
pub const DEFAULT_MQTT_MAX_ACK_PENDING: u16 = 1024;

fn mqtt_settings(
    m: &options::MqttOptions,
    js_store_dir: Option<&str>,
) -> Result<MqttSettings, SettingsError> {
    let dir = m.store_dir.as_deref().or(js_store_dir);
    let store_dir = match (m.store, dir) {
        (Some(options::MqttStore::Memory), _) => None,
        (_, Some(d)) => Some(std::path::PathBuf::from(d)),
        (Some(options::MqttStore::File), None) => Some(std::path::PathBuf::from(".")),
        (None, None) => None,
    };
    let host = if m.host.is_empty() {
        "0.0.0.0"
    } else {
        &m.host
    };
    Ok(MqttSettings {
        addr: resolve(host, m.port)?,
        tls: match &m.tls {
            Some(t) => Some(TlsListen::new(t).map_err(|e| tls_error(t, e))?),
            None => None,
        },
        ack_wait: m.ack_wait.unwrap_or(DEFAULT_MQTT_ACK_WAIT),
        max_ack_pending: m.max_ack_pending.unwrap_or(DEFAULT_MQTT_MAX_ACK_PENDING),
        reject_qos2_publish: m.reject_qos2_publish,
        downgrade_qos2_subscribe: m.downgrade_qos2_subscribe,
        connect_timeout: m.connect_timeout.unwrap_or(Duration::from_secs(10)),
        takeover_jail: m.takeover_jail.unwrap_or(Duration::from_secs(1)),
        host: m.host.clone(),
        no_auth_user: m.no_auth_user.clone().unwrap_or_default(),
        ack_wait_set: m.ack_wait,
        max_ack_pending_set: m.max_ack_pending,
        auth_timeout: m.auth_timeout.map(|d| d.as_secs_f64()),
        store_dir,
        proxy_protocol: m.proxy_protocol,
    })
}

/// The settings in force, swappable by a config reload (the
/// [`crate::tls::TlsHolder`] pattern): readers take an `Arc` and keep it
/// (an event loop per turn, through its generation; a connection at accept;
/// a monitor request); [`SettingsHolder::swap`] replaces it for later
/// readers, and whoever holds the old one keeps what it took.
#[derive(Debug)]
pub struct SettingsHolder {
    current: std::sync::Mutex<Arc<Settings>>,
    generation: std::sync::atomic::AtomicU64,
}

impl SettingsHolder {
    /// Holds `settings` as generation 0.
    pub fn new(settings: Settings) -> SettingsHolder {
        SettingsHolder {
            current: std::sync::Mutex::new(Arc::new(settings)),
            generation: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The settings in force now.
    pub fn current(&self) -> Arc<Settings> {
        self.current.lock().expect("settings").clone()
    }

    /// How many times the settings were swapped: a reader that kept an
    /// `Arc` compares this to know when to take the new one (one atomic
    /// load, no lock).
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Puts `settings` in force for later readers; returns the previous.
    pub fn swap(&self, settings: Settings) -> Arc<Settings> {
        let old = std::mem::replace(
            &mut *self.current.lock().expect("settings"),
            Arc::new(settings),
        );
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        old
    }
}

/// Each account's exports, imports and mappings: the `accounts {}`
/// blocks', and in operator mode the preloaded account JWTs' claims
/// ([`crate::jwt_links`]).
fn account_links(o: &Options) -> Vec<(String, crate::options::AccountLinks)> {
    let mut links: Vec<_> = o
        .accounts
        .iter()
        .filter(|a| !a.links.is_empty())
        .map(|a| (a.name.clone(), a.links.clone()))
        .collect();
    if o.operator_mode() {
        links.extend(crate::jwt_links::from_preload(&o.resolver_preload));
    }
    links
}
