//! Typed server options built from a parsed config ([`crate::config`]) with
//! nats-server keys, aliases and defaults (nats-protocol.md §4.2–4.6, §1.8;
//! websocket.md §1), plus the startup validation of §1.8/§4.2 and
//! websocket.md §1.4 ([`Options::validate`]).
//!
//! Policy choices (recorded for the integrator):
//! * Unknown keys are **errors** (`unknown field "x"`), as nats-server does,
//!   unless the key was used as a `$variable`.
//! * Keys nats-server knows but natsws does not implement are parsed (typed
//!   where reasonable) and reported by [`Options::unsupported`]; the server
//!   must refuse to start while that list is non-empty. Nothing is silently
//!   ignored.
//! * `max_connections: 0` becomes `-1` (every client rejected), as
//!   nats-server does (§1.8 quirk).
//! * Durations are [`Duration`]; sizes are bytes.

use core::fmt;
use core::time::Duration;
use std::path::{Path, PathBuf};

use crate::config::{self, ConfigError, Diagnostic, Document, Entry, Map, Node, Span, Value};

/// Default client port (§4.2).
pub const DEFAULT_PORT: i32 = 4222;
/// Default bind host.
pub const DEFAULT_HOST: &str = "0.0.0.0";
/// Default `max_control_line`, bytes.
pub const DEFAULT_MAX_CONTROL_LINE: usize = 4096;
/// Default `max_payload`, bytes (1 MiB).
pub const DEFAULT_MAX_PAYLOAD: usize = 1024 * 1024;
/// Above this `max_payload` a startup warning is printed (8 MiB).
pub const MAX_PAYLOAD_WARN_SIZE: usize = 8 * 1024 * 1024;
/// Default `max_pending`, bytes (64 MiB).
pub const DEFAULT_MAX_PENDING: u64 = 64 * 1024 * 1024;
/// Default `max_connections`.
pub const DEFAULT_MAX_CONNECTIONS: i64 = 65536;
/// Default `ping_interval` (2 min).
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(120);
/// Default `ping_max`.
pub const DEFAULT_PING_MAX: u32 = 2;
/// Default `loop_spin` (natsws extension), 50 µs.
pub const DEFAULT_LOOP_SPIN: Duration = Duration::from_micros(50);
/// Largest accepted `loop_spin`, 1 ms.
pub const MAX_LOOP_SPIN: Duration = Duration::from_millis(1);
/// Default `write_deadline` (10 s).
pub const DEFAULT_WRITE_DEADLINE: Duration = Duration::from_secs(10);
/// Default auth timeout (2 s).
pub const DEFAULT_AUTH_TIMEOUT: Duration = Duration::from_secs(2);
/// Default `lame_duck_duration` (2 min).
pub const DEFAULT_LAME_DUCK_DURATION: Duration = Duration::from_secs(120);
/// Default `lame_duck_grace_period` (10 s).
pub const DEFAULT_LAME_DUCK_GRACE_PERIOD: Duration = Duration::from_secs(10);
/// Default `max_closed_clients`.
pub const DEFAULT_MAX_CLOSED_CLIENTS: usize = 10_000;

/// All server options. [`Default`] gives the nats-server defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// The file the options were read from (`-c`), if any.
    pub config_file: Option<PathBuf>,
    /// Client bind host (`host`/`net`/`listen`/`-a`). Default `0.0.0.0`.
    pub host: String,
    /// Client port (`port`/`listen`/`-p`). Default 4222; `-1` = random; 0 =
    /// default.
    pub port: i32,
    /// `client_advertise`: `host[:port]` advertised in INFO.
    pub client_advertise: Option<String>,
    /// `server_name` (`-n`). `None` = the server id.
    pub server_name: Option<String>,
    /// `server_tags` (informational).
    pub server_tags: Vec<String>,
    /// Monitoring host (`http: host:port`); `None` = same as [`Options::host`].
    pub http_host: Option<String>,
    /// Monitoring port (`http`/`http_port`/`monitor_port`/`-m`). 0 = off,
    /// -1 = random.
    pub http_port: i32,
    /// HTTPS monitoring port (`https`/`https_port`), with the top-level
    /// `tls` block. 0 = off, -1 = random.
    pub https_port: i32,
    /// `http_base_path`. Default `/`.
    pub http_base_path: String,
    /// `max_control_line`, bytes. Default 4096.
    pub max_control_line: usize,
    /// `max_payload`, bytes. Default 1 MiB. Must be ≤ `max_pending`.
    pub max_payload: usize,
    /// `max_pending`, bytes of outbound queue per client. Default 64 MiB.
    pub max_pending: u64,
    /// `max_connections`/`max_conn`. Default 65536. A configured 0 is
    /// stored as -1; any value ≤ 0 rejects every client (nats-server quirk).
    pub max_connections: i64,
    /// `max_subscriptions`/`max_subs` per connection; 0 = unlimited.
    pub max_subscriptions: u32,
    /// `max_sub_tokens`/`max_subscription_tokens` (1–255); 0 = unlimited.
    pub max_sub_tokens: u8,
    /// `ping_interval`. Default 2 min.
    pub ping_interval: Duration,
    /// `ping_max`: unanswered PINGs before `Stale Connection`. Default 2.
    pub ping_max: u32,
    /// `write_deadline`. Default 10 s.
    pub write_deadline: Duration,
    /// `lame_duck_duration`. Default 2 min, minimum 30 s.
    pub lame_duck_duration: Duration,
    /// `lame_duck_grace_period`. Default 10 s.
    pub lame_duck_grace_period: Duration,
    /// `max_closed_clients` kept for /connz. Default 10000.
    pub max_closed_clients: usize,
    /// natsws extension `max_pending_handshakes`: connections still in a
    /// WebSocket/TLS handshake or awaiting CONNECT, above which new sockets
    /// are closed at accept. Default 4096; 0 = unlimited.
    pub max_pending_handshakes: usize,
    /// natsws extension `loop_spin`: after a turn that had events, an event
    /// loop keeps polling without blocking (yielding the CPU between polls)
    /// for up to this long before it sleeps, so the next message of a busy
    /// connection is picked up without a thread wake-up. The window adapts
    /// to the traffic between zero and this maximum. Default 50 µs; `0s`
    /// turns it off; at most 1 ms.
    pub loop_spin: Duration,
    /// `debug` (`-D`).
    pub debug: bool,
    /// `trace` (`-V`); also set by `trace_verbose`.
    pub trace: bool,
    /// `trace_verbose` (`-VV`).
    pub trace_verbose: bool,
    /// `logtime` (`-T`). Default true.
    pub logtime: bool,
    /// `logtime_utc`.
    pub logtime_utc: bool,
    /// `logfile`/`log_file` (`-l`); `None` = stderr.
    pub log_file: Option<PathBuf>,
    /// `pidfile`/`pid_file` (`-P`).
    pub pid_file: Option<PathBuf>,
    /// `ports_file_dir` (`--ports_file_dir`).
    pub ports_file_dir: Option<PathBuf>,
    /// `no_header_support`: INFO `headers:false`.
    pub no_header_support: bool,
    /// `no_auth_user` (§3.7).
    pub no_auth_user: Option<Spanned<String>>,
    /// `authorization { … }` (§4.4).
    pub authorization: Option<Authorization>,
    /// `accounts` (§3.6).
    pub accounts: Vec<Account>,
    /// Client-port `tls { … }` (§4.3).
    pub tls: Option<TlsConfig>,
    /// `cluster { … }`.
    pub cluster: Option<BlockInfo>,
    /// `gateway { … }`.
    pub gateway: Option<BlockInfo>,
    /// `leafnodes`/`leaf { … }`.
    pub leafnodes: Option<BlockInfo>,
    /// `mqtt { … }`.
    pub mqtt: Option<BlockInfo>,
    /// `jetstream` (bool, `enabled`/`disabled` or map).
    pub jetstream: Option<Spanned<bool>>,
    /// `websocket`/`ws { … }` (websocket.md §1).
    pub websocket: WebsocketOptions,
    /// Other nats-server keys natsws does not implement (name as written,
    /// position); they make [`Options::unsupported`] non-empty.
    pub other_features: Vec<Spanned<String>>,
    /// Operator mode (§3.4): `operator`/`operators`/`root(s)`/
    /// `root_operator(s)`: each an operator JWT (starting `eyJ`) or a path to
    /// a file holding one.
    pub operators: Vec<Spanned<String>>,
    /// `trusted`/`trusted_keys`: operator public keys (`O…`).
    pub trusted_keys: Vec<String>,
    /// `resolver` (natsws supports `MEMORY`/`MEM`).
    pub resolver: Option<Spanned<String>>,
    /// `resolver_preload`: account public key → account JWT.
    pub resolver_preload: Vec<(String, String)>,
    /// `system_account`/`system` (recorded; natsws has no system account
    /// services).
    pub system_account: Option<String>,
    /// Config warnings (`… should be converted to a duration`, …).
    pub warnings: Vec<Diagnostic>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            config_file: None,
            host: DEFAULT_HOST.to_string(),
            port: DEFAULT_PORT,
            client_advertise: None,
            server_name: None,
            server_tags: Vec::new(),
            http_host: None,
            http_port: 0,
            https_port: 0,
            http_base_path: "/".to_string(),
            max_control_line: DEFAULT_MAX_CONTROL_LINE,
            max_payload: DEFAULT_MAX_PAYLOAD,
            max_pending: DEFAULT_MAX_PENDING,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_subscriptions: 0,
            max_sub_tokens: 0,
            ping_interval: DEFAULT_PING_INTERVAL,
            ping_max: DEFAULT_PING_MAX,
            write_deadline: DEFAULT_WRITE_DEADLINE,
            lame_duck_duration: DEFAULT_LAME_DUCK_DURATION,
            lame_duck_grace_period: DEFAULT_LAME_DUCK_GRACE_PERIOD,
            max_closed_clients: DEFAULT_MAX_CLOSED_CLIENTS,
            max_pending_handshakes: 4096,
            loop_spin: DEFAULT_LOOP_SPIN,
            debug: false,
            trace: false,
            trace_verbose: false,
            logtime: true,
            logtime_utc: false,
            log_file: None,
            pid_file: None,
            ports_file_dir: None,
            no_header_support: false,
            no_auth_user: None,
            authorization: None,
            accounts: Vec::new(),
            tls: None,
            cluster: None,
            gateway: None,
            leafnodes: None,
            mqtt: None,
            jetstream: None,
            websocket: WebsocketOptions::default(),
            other_features: Vec::new(),
            operators: Vec::new(),
            trusted_keys: Vec::new(),
            resolver: None,
            resolver_preload: Vec::new(),
            system_account: None,
            warnings: Vec::new(),
        }
    }
}

/// A value with the position of its key.
#[derive(Clone, Debug, PartialEq)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Position of the key that set it.
    pub span: Span,
}

/// A block natsws records but does not implement (cluster, gateway,
/// leafnodes, mqtt): its position and listen address if given.
#[derive(Clone, Debug, PartialEq)]
pub struct BlockInfo {
    /// Position of the block's key.
    pub span: Span,
    /// `host`/`net`/`listen` host, if configured.
    pub host: Option<String>,
    /// `port`/`listen` port, if configured.
    pub port: Option<i32>,
}

/// `authorization { … }` (nats-protocol.md §4.4).
#[derive(Clone, Debug, PartialEq)]
pub struct Authorization {
    /// Position of the block's key.
    pub span: Span,
    /// `user`/`username`.
    pub user: Option<String>,
    /// `pass`/`password` (may be a bcrypt hash).
    pub password: Option<String>,
    /// `token`.
    pub token: Option<String>,
    /// `timeout`; default 2 s ([`DEFAULT_AUTH_TIMEOUT`]).
    pub timeout: Option<Duration>,
    /// `users: [ … ]`.
    pub users: Vec<User>,
    /// `default_permission(s)`/`permissions`.
    pub default_permissions: Option<Permissions>,
    /// `auth_callout`/`auth_hook` present.
    pub auth_callout: bool,
}

/// One entry of a `users` list.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct User {
    /// `user`/`username`.
    pub user: Option<String>,
    /// `nkey` (public `U…` key).
    pub nkey: Option<String>,
    /// `pass`/`password`.
    pub password: Option<String>,
    /// `permission(s)`.
    pub permissions: Option<Permissions>,
    /// `allowed_connection_types`/`connection_types`/`clients`; empty = all.
    pub allowed_connection_types: Vec<ConnectionType>,
    /// `account` the user is bound to (by name), if given.
    pub account: Option<String>,
}

/// Connection kinds for `allowed_connection_types` (§3.8): core's type,
/// whose `parse` is case-insensitive.
pub use natsws_core::auth::ConnectionType;

/// `permissions { publish, subscribe, allow_responses }` (§3.5).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Permissions {
    /// `publish`/`pub`/`import`.
    pub publish: Option<SubjectPermission>,
    /// `subscribe`/`sub`/`export`.
    pub subscribe: Option<SubjectPermission>,
    /// `allow_responses`/`publish_allow_responses`.
    pub allow_responses: Option<ResponsePermission>,
}

/// Allow and deny subject lists.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SubjectPermission {
    /// `allow` (a bare string/array is an allow list).
    pub allow: Vec<String>,
    /// `deny`.
    pub deny: Vec<String>,
}

/// `allow_responses`: `max` messages (default 1, negative = unlimited)
/// within `expires` (default 2 min).
#[derive(Clone, Debug, PartialEq)]
pub struct ResponsePermission {
    /// Maximum responses.
    pub max: i64,
    /// Validity window.
    pub expires: Duration,
}

/// One account of `accounts` (§3.6): an isolated subject space for its
/// users. Imports/exports are parsed only to be refused (see
/// [`Options::unsupported`]); `jetstream`, `mappings`, `limits` and
/// `msg_trace` are accepted and not interpreted.
#[derive(Clone, Debug, PartialEq)]
pub struct Account {
    /// Account name.
    pub name: String,
    /// Position of the account key.
    pub span: Span,
    /// `nkey` of the account.
    pub nkey: Option<String>,
    /// `users`.
    pub users: Vec<User>,
    /// `default_permissions` for this account's users without their own.
    pub default_permissions: Option<Permissions>,
    /// Where `imports`/`exports` was configured, if it was.
    pub imports_exports: Option<Span>,
}

/// A `tls { … }` block (§4.3). Fields natsws does not interpret are checked
/// for being known keys only.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TlsConfig {
    /// Position of the block's key.
    pub span: Option<Span>,
    /// `cert_file`.
    pub cert_file: Option<PathBuf>,
    /// `key_file`.
    pub key_file: Option<PathBuf>,
    /// `ca_file`.
    pub ca_file: Option<PathBuf>,
    /// `verify`: require and verify client certificates.
    pub verify: bool,
    /// `verify_and_map`.
    pub verify_and_map: bool,
    /// `insecure`.
    pub insecure: bool,
    /// `timeout` (default 2 s).
    pub timeout: Option<Duration>,
    /// `pinned_certs` (hex SHA-256 of SPKI).
    pub pinned_certs: Vec<String>,
    /// `min_version` (`1.2`/`1.3`).
    pub min_version: Option<String>,
    /// `handshake_first`/`first`/`immediate` given (bool true, `auto` or a
    /// duration).
    pub handshake_first: bool,
}

/// `websocket { … }` options (websocket.md §1.2). [`Default`] = disabled
/// (port 0).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WebsocketOptions {
    /// Position of the block's key (`None` = no block).
    pub span: Option<Span>,
    /// `host`/`net`/`listen` host; empty = `0.0.0.0` when enabled.
    pub host: String,
    /// `port`/`listen` port. 0 = disabled (block inert), -1 = random.
    pub port: i32,
    /// `advertise` (`host[:port]`).
    pub advertise: Option<String>,
    /// `tls { … }`.
    pub tls: Option<TlsConfig>,
    /// `no_tls`: allow plain ws:// (only meaningful without `tls`).
    pub no_tls: bool,
    /// `same_origin`.
    pub same_origin: bool,
    /// `allowed_origins` and aliases.
    pub allowed_origins: Vec<String>,
    /// `compression`/`compress`: offer permessage-deflate.
    pub compression: bool,
    /// `handshake_timeout`; zero = no timeout.
    pub handshake_timeout: Duration,
    /// natsws extension `max_request_head`: cap on the upgrade request head
    /// in bytes (answer 431 above it). 0 (unset) = the default, 8 KiB.
    pub max_request_head: usize,
    /// natsws extension `trusted_proxies`: addresses or CIDR ranges of
    /// reverse proxies. A connection from one of them takes its client
    /// address from `X-Forwarded-For`, walked from the right
    /// (`natsws_core::ws::proxy::client_ip`); empty (default) = never.
    pub trusted_proxies: Vec<natsws_core::ws::proxy::Cidr>,
    /// natsws extension `max_pending`: outbound bytes a WebSocket client may
    /// have queued before it is closed as a slow consumer (mobile browsers
    /// on slow links may need more than native clients). Unset = the
    /// server's `max_pending`.
    pub max_pending: Option<i64>,
    /// natsws extension `write_deadline`: how long a write to a WebSocket
    /// client may stay blocked before it is closed as a slow consumer.
    /// Unset = the server's `write_deadline`.
    pub write_deadline: Option<Duration>,
    /// natsws extension `upgrade_rate_limit`: WebSocket upgrades accepted
    /// per second (a burst of one second's worth); above it the request is
    /// answered 503 with a jittered `Retry-After`. 0 (default) = no limit.
    pub upgrade_rate_limit: u32,
    /// natsws extension `health_path`: a plain `GET` of this path on the
    /// WebSocket port (no upgrade) answers `200 {"status":"ok"}`, for load
    /// balancers' health checks. Must start with `/`. Unset (default): 400,
    /// as nats-server.
    pub health_path: Option<String>,
    /// `authorization`/`authentication` sub-block (§1.3).
    pub authorization: Option<WsAuthorization>,
    /// `jwt_cookie`.
    pub jwt_cookie: Option<String>,
    /// `user_cookie`.
    pub user_cookie: Option<String>,
    /// `pass_cookie`.
    pub pass_cookie: Option<String>,
    /// `token_cookie`.
    pub token_cookie: Option<String>,
    /// `no_auth_user` for websocket clients.
    pub no_auth_user: Option<String>,
    /// `headers`: extra 101-response headers, in config order.
    pub headers: Vec<(String, String)>,
    /// `ping_interval`; `None` = the global `ping_interval`.
    pub ping_interval: Option<Duration>,
}

impl WebsocketOptions {
    /// True when the websocket listener is configured (`port != 0`).
    pub fn enabled(&self) -> bool {
        self.port != 0
    }

    /// The bind host: configured host, or `0.0.0.0`.
    pub fn bind_host(&self) -> &str {
        if self.host.is_empty() {
            DEFAULT_HOST
        } else {
            &self.host
        }
    }
}

/// websocket `authorization { user, password, token, timeout }` (§1.3).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WsAuthorization {
    /// `user`/`username`.
    pub user: Option<String>,
    /// `pass`/`password`.
    pub password: Option<String>,
    /// `token`.
    pub token: Option<String>,
    /// `timeout` in seconds (int/float; other types silently become 1 s).
    pub timeout: Option<Duration>,
}

/// A configured feature natsws does not enforce yet.
#[derive(Clone, Debug, PartialEq)]
pub struct Unsupported {
    /// Feature name (config key path, e.g. `websocket.authorization`).
    pub feature: String,
    /// Where it is configured.
    pub span: Option<Span>,
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(s) = &self.span {
            write!(f, "{s}: ")?;
        }
        write!(
            f,
            "\"{}\" is configured but not supported by natsws yet",
            self.feature
        )
    }
}

/// Top-level nats-server keys that natsws parses only to report them as
/// unsupported (§4.2).
const OTHER_NATS_KEYS: &[&str] = &[
    "trace_headers",
    "syslog",
    "remote_syslog",
    "logfile_size_limit",
    "log_size_limit",
    "logfile_max_num",
    "log_max_num",
    "max_traced_msg_len",
    "prof_port",
    "prof_block_rate",
    "write_timeout",
    "no_fast_producer_stall",
    "disable_sublist_cache",
    "no_sublist_cache",
    "allow_non_tls",
    "ocsp",
    "ocsp_cache",
    "proxy_protocol",
    "proxies",
    "no_system_account",
    "no_system",
    "no_sys_acc",
    "mappings",
    "maps",
    "resolver_tls",
    "resolver_pinned_accounts",
    "default_sentinel",
    "store_dir",
    "storedir",
    "default_js_domain",
    "connect_error_reports",
    "reconnect_error_reports",
    "server_metadata",
    "feature_flags",
];

// ---------------------------------------------------------------------------
// Value readers

fn conv_err(e: &Entry, want: &str) -> Diagnostic {
    Diagnostic::at(
        &e.key_span,
        format!(
            "interface conversion: interface {{}} is {}, not {want}",
            e.value.value.go_type()
        ),
    )
}

fn int_of(e: &Entry) -> Result<i64, Diagnostic> {
    match &e.value.value {
        Value::Integer(i) => Ok(*i),
        _ => Err(conv_err(e, "int64")),
    }
}

fn str_of(e: &Entry) -> Result<String, Diagnostic> {
    match &e.value.value {
        Value::String(s) => Ok(s.clone()),
        _ => Err(conv_err(e, "string")),
    }
}

fn bool_of(e: &Entry) -> Result<bool, Diagnostic> {
    match &e.value.value {
        Value::Bool(b) => Ok(*b),
        _ => Err(conv_err(e, "bool")),
    }
}

fn map_of<'a>(e: &'a Entry, what: &str) -> Result<&'a Map, Diagnostic> {
    match &e.value.value {
        Value::Map(m) => Ok(m),
        v => Err(Diagnostic::at(
            &e.key_span,
            format!("Expected {what} to be a map, got {}", v.go_type()),
        )),
    }
}

fn int_range<T: TryFrom<i64>>(e: &Entry, min: i64, max: i64) -> Result<T, Diagnostic> {
    let v = int_of(e)?;
    if v < min || v > max {
        return Err(Diagnostic::at(
            &e.key_span,
            format!("{} value {v} is out of range [{min}, {max}]", e.key),
        ));
    }
    T::try_from(v)
        .map_err(|_| Diagnostic::at(&e.key_span, format!("{} value {v} is out of range", e.key)))
}

/// `max_control_line`/`max_payload`: at most 2³¹−1 (`<key> value is too
/// big`, opts.go); negative values are rejected too (natsws).
fn int32_size(e: &Entry) -> Result<usize, Diagnostic> {
    let v = int_of(e)?;
    if v > i32::MAX as i64 {
        return Err(Diagnostic::at(
            &e.key_span,
            format!("{} value is too big", e.key),
        ));
    }
    int_range(e, 0, i32::MAX as i64)
}

/// A string or an array of strings.
fn str_list(e: &Entry) -> Result<Vec<String>, Diagnostic> {
    match &e.value.value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|n| match &n.value {
                Value::String(s) => Ok(s.clone()),
                v => Err(Diagnostic::at(
                    &n.span,
                    format!(
                        "interface conversion: interface {{}} is {}, not string",
                        v.go_type()
                    ),
                )),
            })
            .collect(),
        _ => Err(conv_err(e, "string")),
    }
}

/// Go `time.ParseDuration`. Units: ns, us/µs/μs, ms, s, m, h. Negative
/// durations are rejected (no option accepts them).
pub fn parse_go_duration(s: &str) -> Result<Duration, String> {
    let invalid = || format!("time: invalid duration \"{s}\"");
    let mut rest = s;
    let mut neg = false;
    if let Some(r) = rest.strip_prefix('-') {
        neg = true;
        rest = r;
    } else if let Some(r) = rest.strip_prefix('+') {
        rest = r;
    }
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num = &rest[..num_len];
        if num.is_empty() || num == "." {
            return Err(invalid());
        }
        let value: f64 = num.parse().map_err(|_| invalid())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let nanos_per = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(format!("time: missing unit in duration \"{s}\"")),
            u => return Err(format!("time: unknown unit \"{u}\" in duration \"{s}\"")),
        };
        total += value * nanos_per;
    }
    if neg && total > 0.0 {
        return Err(format!("negative duration \"{s}\" is not allowed"));
    }
    if total > u64::MAX as f64 {
        return Err(invalid());
    }
    Ok(Duration::from_nanos(total as u64))
}

/// Split `host:port` like Go `net.SplitHostPort` (IPv6 in brackets).
fn split_host_port(s: &str) -> Option<(String, String)> {
    if let Some(rest) = s.strip_prefix('[') {
        let end = rest.find(']')?;
        let host = &rest[..end];
        let port = rest[end + 1..].strip_prefix(':')?;
        return Some((host.to_string(), port.to_string()));
    }
    let idx = s.rfind(':')?;
    let host = &s[..idx];
    if host.contains(':') {
        return None;
    }
    Some((host.to_string(), s[idx + 1..].to_string()))
}

/// `listen`/`http` value: int port or `"host:port"` (opts.go parseListen).
fn parse_listen(e: &Entry) -> Result<(Option<String>, i32), Diagnostic> {
    match &e.value.value {
        Value::Integer(p) => Ok((None, port_num(e, *p)?)),
        Value::String(s) => {
            let (host, port) = split_host_port(s).ok_or_else(|| {
                Diagnostic::at(
                    &e.key_span,
                    format!("could not parse address string \"{s}\""),
                )
            })?;
            let p: i64 = port.parse().map_err(|_| {
                Diagnostic::at(&e.key_span, format!("could not parse port \"{port}\""))
            })?;
            Ok((Some(host), port_num(e, p)?))
        }
        v => Err(Diagnostic::at(
            &e.key_span,
            format!("expected port or host:port, got {}", v.go_type()),
        )),
    }
}

fn port_num(e: &Entry, p: i64) -> Result<i32, Diagnostic> {
    if !(-1..=65535).contains(&p) {
        return Err(Diagnostic::at(
            &e.key_span,
            format!("port {p} is out of range [-1, 65535]"),
        ));
    }
    Ok(p as i32)
}

fn unknown(e: &Entry) -> Option<Diagnostic> {
    (!e.used_as_variable)
        .then(|| Diagnostic::at(&e.key_span, format!("unknown field \"{}\"", e.key)))
}

/// Collects errors and warnings while converting.
#[derive(Default)]
struct Reader {
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
}

impl Reader {
    fn ok<T>(&mut self, r: Result<T, Diagnostic>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(d) => {
                self.errors.push(d);
                None
            }
        }
    }

    fn unknown(&mut self, e: &Entry) {
        if let Some(d) = unknown(e) {
            self.errors.push(d);
        }
    }

    fn set<T>(&mut self, slot: &mut T, r: Result<T, Diagnostic>) {
        if let Some(v) = self.ok(r) {
            *slot = v;
        }
    }

    /// Duration option that also takes integer seconds with a warning
    /// (`ping_interval`, `write_deadline`; opts.go parseDuration).
    fn duration_or_secs(&mut self, e: &Entry, field: &str) -> Option<Duration> {
        match &e.value.value {
            Value::String(s) => {
                let r = parse_go_duration(s).map_err(|err| {
                    Diagnostic::at(&e.key_span, format!("error parsing {field}: {err}"))
                });
                self.ok(r)
            }
            Value::Integer(i) if *i >= 0 => {
                self.warnings.push(Diagnostic::at(
                    &e.key_span,
                    format!("{field} should be converted to a duration"),
                ));
                Some(Duration::from_secs(*i as u64))
            }
            _ => {
                self.errors.push(conv_err(e, "string"));
                None
            }
        }
    }

    /// Duration option that only takes a duration string.
    fn duration_str(&mut self, e: &Entry, field: &str) -> Option<Duration> {
        let s = self.ok(str_of(e))?;
        let r = parse_go_duration(&s)
            .map_err(|err| Diagnostic::at(&e.key_span, format!("error parsing {field}: {err}")));
        self.ok(r)
    }

    /// Seconds as int/float or a duration string (auth/tls `timeout`).
    fn seconds(&mut self, e: &Entry, field: &str) -> Option<Duration> {
        match &e.value.value {
            Value::Integer(i) if *i >= 0 => Some(Duration::from_secs(*i as u64)),
            Value::Float(f) if *f >= 0.0 && f.is_finite() => Some(Duration::from_secs_f64(*f)),
            Value::String(s) => {
                let r = parse_go_duration(s).map_err(|err| {
                    Diagnostic::at(&e.key_span, format!("error parsing {field}: {err}"))
                });
                self.ok(r)
            }
            v => {
                self.errors.push(Diagnostic::at(
                    &e.key_span,
                    format!("error parsing {field}: unsupported type {}", v.go_type()),
                ));
                None
            }
        }
    }
}

impl Options {
    /// Parse and convert a config file (no validation; see
    /// [`Options::validate`]).
    pub fn from_file(path: &Path) -> Result<Options, ConfigError> {
        let doc = config::parse_file(path)?;
        let mut o = Options::from_document(&doc)?;
        o.config_file = Some(path.to_path_buf());
        Ok(o)
    }

    /// Parse and convert config text (`origin` names it in errors).
    pub fn from_config_str(src: &str, origin: &str) -> Result<Options, ConfigError> {
        Options::from_document(&config::parse_str(src, origin)?)
    }

    /// Convert a parsed document. Collects every error (unknown fields, type
    /// errors, bad values) before failing; parse and conversion warnings go
    /// to [`Options::warnings`].
    pub fn from_document(doc: &Document) -> Result<Options, ConfigError> {
        let mut o = Options::default();
        let mut r = Reader {
            warnings: doc.warnings.clone(),
            ..Reader::default()
        };
        for e in &doc.root.entries {
            o.apply_top(&mut r, e);
        }
        if r.errors.is_empty() {
            o.warnings = r.warnings;
            Ok(o)
        } else {
            Err(ConfigError { errors: r.errors })
        }
    }

    fn apply_top(&mut self, r: &mut Reader, e: &Entry) {
        let key = e.key.to_ascii_lowercase();
        match key.as_str() {
            "listen" => {
                if let Some((h, p)) = r.ok(parse_listen(e)) {
                    if let Some(h) = h {
                        self.host = h;
                    }
                    self.port = p;
                }
            }
            "host" | "net" => r.set(&mut self.host, str_of(e)),
            "port" => {
                if let Some(p) = r.ok(int_of(e).and_then(|p| port_num(e, p))) {
                    self.port = p;
                }
            }
            "client_advertise" => {
                if let Some(s) = r.ok(str_of(e)) {
                    self.client_advertise = Some(s);
                }
            }
            "server_name" => {
                if let Some(s) = r.ok(str_of(e)) {
                    self.server_name = Some(s);
                }
            }
            "server_tags" => r.set(&mut self.server_tags, str_list(e)),
            "debug" => r.set(&mut self.debug, bool_of(e)),
            "trace" => r.set(&mut self.trace, bool_of(e)),
            "trace_verbose" => {
                if let Some(b) = r.ok(bool_of(e)) {
                    self.trace_verbose = b;
                    self.trace |= b;
                }
            }
            "logtime" => r.set(&mut self.logtime, bool_of(e)),
            "logtime_utc" => r.set(&mut self.logtime_utc, bool_of(e)),
            "logfile" | "log_file" => {
                if let Some(s) = r.ok(str_of(e)) {
                    self.log_file = Some(PathBuf::from(s));
                }
            }
            "pidfile" | "pid_file" => {
                if let Some(s) = r.ok(str_of(e)) {
                    self.pid_file = Some(PathBuf::from(s));
                }
            }
            "ports_file_dir" => {
                if let Some(s) = r.ok(str_of(e)) {
                    self.ports_file_dir = Some(PathBuf::from(s));
                }
            }
            "http" => {
                if let Some((h, p)) = r.ok(parse_listen(e)) {
                    self.http_host = h;
                    self.http_port = p;
                }
            }
            "http_port" | "monitor_port" => {
                if let Some(p) = r.ok(int_of(e).and_then(|p| port_num(e, p))) {
                    self.http_port = p;
                }
            }
            "https" => {
                if let Some((h, p)) = r.ok(parse_listen(e)) {
                    self.http_host = h;
                    self.https_port = p;
                }
            }
            "https_port" => {
                if let Some(p) = r.ok(int_of(e).and_then(|p| port_num(e, p))) {
                    self.https_port = p;
                }
            }
            "http_base_path" => r.set(&mut self.http_base_path, str_of(e)),
            "max_control_line" => r.set(&mut self.max_control_line, int32_size(e)),
            "max_payload" => r.set(&mut self.max_payload, int32_size(e)),
            "max_pending" => r.set(&mut self.max_pending, int_range(e, 0, i64::MAX)),
            "max_connections" | "max_conn" => {
                if let Some(v) = r.ok(int_of(e)) {
                    self.max_connections = if v == 0 { -1 } else { v };
                }
            }
            "max_subscriptions" | "max_subs" => r.set(
                &mut self.max_subscriptions,
                int_range(e, 0, u32::MAX as i64),
            ),
            "max_sub_tokens" | "max_subscription_tokens" => {
                r.set(&mut self.max_sub_tokens, int_range(e, 0, 255))
            }
            "ping_interval" => {
                if let Some(d) = r.duration_or_secs(e, "ping_interval") {
                    self.ping_interval = d;
                }
            }
            "ping_max" => r.set(&mut self.ping_max, int_range(e, 0, u32::MAX as i64)),
            "write_deadline" => {
                if let Some(d) = r.duration_or_secs(e, "write_deadline") {
                    self.write_deadline = d;
                }
            }
            "lame_duck_duration" => {
                if let Some(d) = r.duration_str(e, "lame_duck_duration") {
                    if d < Duration::from_secs(30) {
                        r.errors.push(Diagnostic::at(
                            &e.key_span,
                            format!(
                                "invalid lame_duck_duration of {s}, minimum is 30 seconds",
                                s = go_dur(d)
                            ),
                        ));
                    } else {
                        self.lame_duck_duration = d;
                    }
                }
            }
            "lame_duck_grace_period" => {
                if let Some(d) = r.duration_str(e, "lame_duck_grace_period") {
                    self.lame_duck_grace_period = d;
                }
            }
            "max_closed_clients" => r.set(&mut self.max_closed_clients, int_range(e, 0, i64::MAX)),
            "max_pending_handshakes" => {
                r.set(&mut self.max_pending_handshakes, int_range(e, 0, i64::MAX))
            }
            "loop_spin" => {
                if let Some(d) = r.duration_str(e, "loop_spin") {
                    if d > MAX_LOOP_SPIN {
                        r.errors.push(Diagnostic::at(
                            &e.key_span,
                            format!("loop_spin must be at most {}", go_dur(MAX_LOOP_SPIN)),
                        ));
                    } else {
                        self.loop_spin = d;
                    }
                }
            }
            "no_header_support" => r.set(&mut self.no_header_support, bool_of(e)),
            "no_auth_user" => {
                if let Some(s) = r.ok(str_of(e)) {
                    self.no_auth_user = Some(Spanned {
                        value: s,
                        span: e.key_span.clone(),
                    });
                }
            }
            "authorization" => {
                if let Some(m) = r.ok(map_of(e, "authorization")) {
                    self.authorization = Some(parse_authorization(r, m, &e.key_span));
                }
            }
            "accounts" => self.accounts = parse_accounts(r, e),
            "operator" | "operators" | "root" | "roots" | "root_operator" | "root_operators" => {
                if let Some(list) = r.ok(str_list(e)) {
                    self.operators.extend(list.into_iter().map(|value| Spanned {
                        value,
                        span: e.key_span.clone(),
                    }));
                }
            }
            "trusted" | "trusted_keys" => {
                if let Some(list) = r.ok(str_list(e)) {
                    self.trusted_keys.extend(list);
                }
            }
            "resolver" | "account_resolver" | "accounts_resolver" => {
                if let Some(v) = r.ok(str_of(e)) {
                    self.resolver = Some(Spanned {
                        value: v,
                        span: e.key_span.clone(),
                    });
                } else {
                    // A `{type: full, dir: …}` map: not supported.
                    self.other_features.push(Spanned {
                        value: "resolver".to_string(),
                        span: e.key_span.clone(),
                    });
                }
            }
            "resolver_preload" => {
                if let Some(m) = r.ok(map_of(e, "resolver_preload")) {
                    for k in &m.entries {
                        if let Some(v) = r.ok(str_of(k)) {
                            self.resolver_preload.push((k.key.clone(), v));
                        }
                    }
                }
            }
            "system_account" | "system" => self.system_account = r.ok(str_of(e)),
            "tls" => {
                if let Some(m) = r.ok(map_of(e, "tls")) {
                    self.tls = Some(parse_tls(r, m, &e.key_span));
                }
            }
            "cluster" => self.cluster = parse_block(r, e, "cluster"),
            "gateway" => self.gateway = parse_block(r, e, "gateway"),
            "leafnodes" | "leaf" => self.leafnodes = parse_block(r, e, "leafnodes"),
            "mqtt" => self.mqtt = parse_block(r, e, "mqtt"),
            "jetstream" => {
                let enabled = match &e.value.value {
                    Value::Bool(b) => Some(*b),
                    Value::String(s) if s.eq_ignore_ascii_case("enabled") => Some(true),
                    Value::String(s) if s.eq_ignore_ascii_case("disabled") => Some(false),
                    Value::Map(m) => Some(
                        !m.get_ci("enabled")
                            .is_some_and(|x| x.value.value == Value::Bool(false)),
                    ),
                    v => {
                        r.errors.push(Diagnostic::at(
                            &e.key_span,
                            format!(
                                "Expected jetstream to be a bool, string or map, got {}",
                                v.go_type()
                            ),
                        ));
                        None
                    }
                };
                if let Some(b) = enabled {
                    self.jetstream = Some(Spanned {
                        value: b,
                        span: e.key_span.clone(),
                    });
                }
            }
            "websocket" | "ws" => {
                if let Some(m) = r.ok(map_of(e, "websocket")) {
                    self.websocket = parse_websocket(r, m, &e.key_span);
                }
            }
            k if OTHER_NATS_KEYS.contains(&k) => self.other_features.push(Spanned {
                value: e.key.clone(),
                span: e.key_span.clone(),
            }),
            _ => r.unknown(e),
        }
    }

    /// Startup validation (nats-protocol.md §1.8/§4.2/§3.7, websocket.md
    /// §1.4), in nats-server order; websocket checks run last. Returns the
    /// first failure (nats-server stops at the first validation error).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(name) = &self.server_name {
            if name.contains(' ') {
                return Err(ConfigError::bare("server name cannot contain spaces"));
            }
        }
        if self.max_payload as u64 > self.max_pending {
            return Err(ConfigError::bare(format!(
                "max_payload ({}) cannot be higher than max_pending ({})",
                self.max_payload, self.max_pending
            )));
        }
        if self.lame_duck_grace_period >= self.lame_duck_duration {
            return Err(ConfigError::bare(format!(
                "lame duck grace period ({}) should be strictly lower than lame duck duration ({})",
                go_dur(self.lame_duck_grace_period),
                go_dur(self.lame_duck_duration)
            )));
        }
        if let Some(a) = &self.authorization {
            let has_single = a.user.is_some() || a.password.is_some();
            if has_single && !a.users.is_empty() {
                return Err(ConfigError::bare(
                    "Can not have a single user/pass and a users array",
                ));
            }
            if a.token.is_some() && !a.users.is_empty() {
                return Err(ConfigError::bare("Can not have a token and a users array"));
            }
            if has_single && a.token.is_some() {
                return Err(ConfigError::bare("Cannot have a user/pass and token"));
            }
        }
        let mut seen: Vec<&str> = Vec::new();
        for u in self.all_users() {
            if let Some(name) = u.user.as_deref().or(u.nkey.as_deref()) {
                if seen.contains(&name) {
                    return Err(ConfigError::bare(format!(
                        "Duplicate user \"{name}\" detected"
                    )));
                }
                seen.push(name);
            }
        }
        if let Some(a) = self.accounts.iter().find(|a| a.name == "$G") {
            return Err(ConfigError::at(&a.span, "\"$G\" is a Reserved Account"));
        }
        if self.operator_mode() {
            if !self.accounts.is_empty() || self.all_users().next().is_some() {
                return Err(ConfigError::bare(
                    "operator mode does not allow accounts or users in the configuration",
                ));
            }
            if self
                .authorization
                .as_ref()
                .is_some_and(|a| a.user.is_some() || a.token.is_some() || a.auth_callout)
            {
                return Err(ConfigError::bare(
                    "operator mode does not allow an authorization block",
                ));
            }
        }
        if let Some(nau) = &self.no_auth_user {
            self.check_no_auth_user(&nau.value)?;
        }
        self.validate_websocket()
    }

    /// Whether trusted operators or trusted keys are configured (§3.4).
    pub fn operator_mode(&self) -> bool {
        !self.operators.is_empty() || !self.trusted_keys.is_empty()
    }

    /// Every configured user: `authorization.users`, then each account's.
    pub fn all_users(&self) -> impl Iterator<Item = &User> {
        self.authorization
            .iter()
            .flat_map(|a| a.users.iter())
            .chain(self.accounts.iter().flat_map(|a| a.users.iter()))
    }

    fn check_no_auth_user(&self, name: &str) -> Result<(), ConfigError> {
        if !self.operators.is_empty() {
            return Err(ConfigError::bare(
                "no_auth_user not compatible with Trusted Operator",
            ));
        }
        if self.all_users().next().is_none() {
            return Err(ConfigError::bare(format!(
                "no_auth_user: \"{name}\" present, but users/nkeys are not defined"
            )));
        }
        if !self
            .all_users()
            .any(|u| u.user.as_deref() == Some(name) || u.nkey.as_deref() == Some(name))
        {
            return Err(ConfigError::bare(format!(
                "no_auth_user: \"{name}\" not present as user or nkey in authorization block or account configuration"
            )));
        }
        Ok(())
    }

    /// websocket.md §1.4, only when the websocket port is set.
    fn validate_websocket(&self) -> Result<(), ConfigError> {
        let ws = &self.websocket;
        if !ws.enabled() {
            return Ok(());
        }
        if ws.tls.is_none() && !ws.no_tls {
            return Err(ConfigError::bare("websocket requires TLS configuration"));
        }
        for o in &ws.allowed_origins {
            check_origin(o).map_err(ConfigError::bare)?;
        }
        if let Some(name) = &ws.no_auth_user {
            self.check_no_auth_user(name)?;
        }
        if self.all_users().next().is_some() {
            if let Some(a) = &ws.authorization {
                if a.user.is_some() {
                    return Err(ConfigError::bare(
                        "websocket authentication username not compatible with presence of users/nkeys",
                    ));
                }
                if a.token.is_some() {
                    return Err(ConfigError::bare(
                        "websocket authentication token not compatible with presence of users/nkeys",
                    ));
                }
            }
        }
        if let (Some(c), false) = (&ws.jwt_cookie, self.operator_mode()) {
            return Err(ConfigError::bare(format!(
                "trusted operators or trusted keys configuration is required for JWT authentication via cookie \"{c}\""
            )));
        }
        if let Some(tls) = &ws.tls {
            for p in &tls.pinned_certs {
                if p.len() != 64 || !p.chars().all(|c| c.is_ascii_hexdigit()) {
                    return Err(ConfigError::bare(format!(
                        "websocket: error parsing tls config, pinned certificate \"{p}\" is not a hex encoded sha256"
                    )));
                }
            }
        }
        for (name, _) in &ws.headers {
            let lower = name.to_ascii_lowercase();
            if matches!(
                lower.as_str(),
                "host" | "content-length" | "connection" | "upgrade" | "nats-no-masking"
            ) {
                return Err(ConfigError::bare(format!(
                    "websocket: invalid header \"{name}\" not allowed"
                )));
            }
            if lower.starts_with("sec-websocket-") {
                return Err(ConfigError::bare(format!(
                    "websocket: invalid header \"{name}\", \"Sec-WebSocket-\" prefix not allowed"
                )));
            }
        }
        Ok(())
    }

    /// Startup warnings nats-server prints (after validation): the
    /// `max_payload` > 8 MiB warning and plaintext passwords.
    pub fn startup_warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if self.max_payload > MAX_PAYLOAD_WARN_SIZE {
            w.push(
                "Maximum payloads over 8.00 MB are generally discouraged and could lead to poor performance"
                    .to_string(),
            );
        }
        let plain = |p: &Option<String>| p.as_deref().is_some_and(|p| !is_bcrypt(p));
        let auth_plain = self
            .authorization
            .as_ref()
            .is_some_and(|a| plain(&a.password));
        if auth_plain || self.all_users().any(|u| plain(&u.password)) {
            w.push("Plaintext passwords detected, use nkeys or bcrypt".to_string());
        }
        w
    }

    /// Configured features natsws does not enforce yet. The server must
    /// refuse to start when this is non-empty (print each entry).
    pub fn unsupported(&self) -> Vec<Unsupported> {
        let mut out = Vec::new();
        let mut add = |feature: &str, span: Option<&Span>| {
            out.push(Unsupported {
                feature: feature.to_string(),
                span: span.cloned(),
            })
        };
        if let Some(a) = &self.authorization {
            if a.auth_callout {
                add("authorization.auth_callout", Some(&a.span));
            }
        }
        for a in &self.accounts {
            if let Some(sp) = &a.imports_exports {
                add("accounts imports/exports", Some(sp));
            }
        }
        if let Some(r) = &self.resolver {
            let t = r.value.trim().to_ascii_uppercase();
            if t != "MEMORY" && t != "MEM" {
                add("resolver (natsws supports MEMORY)", Some(&r.span));
            }
        }
        for (name, b) in [
            ("cluster", &self.cluster),
            ("gateway", &self.gateway),
            ("leafnodes", &self.leafnodes),
            ("mqtt", &self.mqtt),
        ] {
            if let Some(b) = b {
                add(name, Some(&b.span));
            }
        }
        if let Some(js) = &self.jetstream {
            if js.value {
                add("jetstream", Some(&js.span));
            }
        }
        for f in &self.other_features {
            add(&f.value, Some(&f.span));
        }
        out
    }
}

/// bcrypt hash test (`^\$2[abxy]\$\d{2}\$.*`, §3.2).
pub fn is_bcrypt(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 7
        && b[0] == b'$'
        && b[1] == b'2'
        && matches!(b[2], b'a' | b'b' | b'x' | b'y')
        && b[3] == b'$'
        && b[4].is_ascii_digit()
        && b[5].is_ascii_digit()
        && b[6] == b'$'
}

/// Go-style duration text (`2m0s`, `10s`, `1.5s`) for messages.
pub fn go_dur(d: Duration) -> String {
    let total = d.as_secs_f64();
    if d.is_zero() {
        return "0s".to_string();
    }
    if total < 1.0 {
        return format!("{}ms", d.as_millis());
    }
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    let frac = d.subsec_nanos();
    let sec_txt = if frac == 0 {
        format!("{s}s")
    } else {
        let f = format!("{:.9}", frac as f64 / 1e9);
        format!("{s}{}s", f.trim_start_matches('0').trim_end_matches('0'))
    };
    if h > 0 {
        format!("{h}h{m}m{sec_txt}")
    } else if m > 0 {
        format!("{m}m{sec_txt}")
    } else {
        sec_txt
    }
}

/// Allowed-origin check (websocket.md §1.4 step 3), modelled on Go
/// `url.ParseRequestURI` for the shapes origins take.
fn check_origin(o: &str) -> Result<(), String> {
    let parse_err = |why: &str| format!("unable to parse allowed origin: parse \"{o}\": {why}");
    let Some(colon) = o.find(':') else {
        return Err(parse_err("invalid URI for request"));
    };
    let scheme = &o[..colon];
    let valid_scheme = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !valid_scheme {
        return Err(parse_err(if colon == 0 {
            "missing protocol scheme"
        } else {
            "invalid URI for request"
        }));
    }
    let rest = &o[colon + 1..];
    let authority = rest.strip_prefix("//").map(|r| {
        let end = r.find(['/', '?', '#']).unwrap_or(r.len());
        &r[..end]
    });
    if let Some(auth) = authority {
        let hostport = auth.rsplit_once('@').map_or(auth, |(_, h)| h);
        // Go validates the port: everything after the last ':' (outside
        // brackets) must be digits.
        let after_bracket = hostport.rfind(']').map_or(hostport, |i| &hostport[i..]);
        if let Some(i) = after_bracket.rfind(':') {
            let port = &after_bracket[i..];
            if !port[1..].chars().all(|c| c.is_ascii_digit()) {
                return Err(parse_err(&format!("invalid port \"{port}\" after host")));
            }
        }
    }
    let lower = scheme.to_ascii_lowercase();
    if lower != "http" && lower != "https" {
        return Err(format!(
            "unable to parse allowed origin \"{o}\": allowed origins must be absolute URLs with http or https scheme"
        ));
    }
    let host = authority
        .map(|a| a.rsplit_once('@').map_or(a, |(_, h)| h))
        .unwrap_or("");
    if host.is_empty() {
        return Err(format!(
            "unable to parse allowed origin \"{o}\": host is required"
        ));
    }
    Ok(())
}

fn parse_block(r: &mut Reader, e: &Entry, what: &str) -> Option<BlockInfo> {
    let m = r.ok(map_of(e, what))?;
    let mut b = BlockInfo {
        span: e.key_span.clone(),
        host: None,
        port: None,
    };
    for k in &m.entries {
        match k.key.to_ascii_lowercase().as_str() {
            "listen" => {
                if let Some((h, p)) = r.ok(parse_listen(k)) {
                    b.host = h.or(b.host.take());
                    b.port = Some(p);
                }
            }
            "host" | "net" => b.host = r.ok(str_of(k)),
            "port" => b.port = r.ok(int_of(k).and_then(|p| port_num(k, p))),
            _ => {}
        }
    }
    Some(b)
}

impl Authorization {
    /// An empty block at `span` (nothing configured yet).
    pub fn new(span: Span) -> Self {
        Authorization {
            span,
            user: None,
            password: None,
            token: None,
            timeout: None,
            users: Vec::new(),
            default_permissions: None,
            auth_callout: false,
        }
    }
}

fn parse_authorization(r: &mut Reader, m: &Map, span: &Span) -> Authorization {
    let mut a = Authorization::new(span.clone());
    for e in &m.entries {
        match e.key.to_ascii_lowercase().as_str() {
            "user" | "username" => a.user = r.ok(str_of(e)),
            "pass" | "password" => a.password = r.ok(str_of(e)),
            "token" => a.token = r.ok(str_of(e)),
            "timeout" => {
                a.timeout = r.seconds(e, "timeout");
                if a.timeout.is_some_and(|t| t > Duration::from_secs(60)) {
                    r.warnings.push(Diagnostic::at(
                        &e.key_span,
                        "timeout of more than 60 seconds is not recommended",
                    ));
                }
            }
            "users" => a.users = parse_users(r, e),
            "default_permission" | "default_permissions" | "permissions" => {
                a.default_permissions = parse_permissions(r, e)
            }
            "auth_callout" | "auth_hook" => a.auth_callout = true,
            _ => r.unknown(e),
        }
    }
    a
}

fn parse_users(r: &mut Reader, e: &Entry) -> Vec<User> {
    let Value::Array(items) = &e.value.value else {
        r.errors.push(Diagnostic::at(
            &e.key_span,
            format!(
                "Expected users field to be an array, got {}",
                e.value.value.go_type()
            ),
        ));
        return Vec::new();
    };
    let mut users = Vec::new();
    for n in items {
        let Value::Map(m) = &n.value else {
            r.errors.push(Diagnostic::at(
                &n.span,
                format!(
                    "Expected user entry to be a map/struct, got {}",
                    n.value.go_type()
                ),
            ));
            continue;
        };
        let mut u = User::default();
        for k in &m.entries {
            match k.key.to_ascii_lowercase().as_str() {
                "user" | "username" => u.user = r.ok(str_of(k)),
                "nkey" => u.nkey = r.ok(str_of(k)),
                "pass" | "password" => u.password = r.ok(str_of(k)),
                "permission" | "permissions" | "authorization" => {
                    u.permissions = parse_permissions(r, k)
                }
                "allowed_connection_types" | "connection_types" | "clients" => {
                    if let Some(list) = r.ok(str_list(k)) {
                        let bad: Vec<String> = list
                            .iter()
                            .filter(|s| ConnectionType::parse(s).is_none())
                            .map(|s| format!("{:?}", s.to_ascii_uppercase()))
                            .collect();
                        if bad.is_empty() {
                            u.allowed_connection_types = list
                                .iter()
                                .filter_map(|s| ConnectionType::parse(s))
                                .collect();
                        } else {
                            r.errors.push(Diagnostic::at(
                                &k.key_span,
                                format!("invalid connection types [{}]", bad.join(" ")),
                            ));
                        }
                    }
                }
                "account" => u.account = r.ok(str_of(k)),
                "proxy_required" => {
                    r.ok(bool_of(k));
                }
                _ => r.unknown(k),
            }
        }
        if u.user.is_none() && u.nkey.is_none() {
            r.errors
                .push(Diagnostic::at(&n.span, "User entry requires a user"));
        } else if u.nkey.is_some() && (u.user.is_some() || u.password.is_some()) {
            r.errors.push(Diagnostic::at(
                &n.span,
                "Nkey users do not take usernames or passwords",
            ));
        }
        users.push(u);
    }
    users
}

fn parse_subject_permission(r: &mut Reader, e: &Entry) -> Option<SubjectPermission> {
    match &e.value.value {
        Value::String(_) | Value::Array(_) => r.ok(str_list(e)).map(|allow| SubjectPermission {
            allow,
            deny: Vec::new(),
        }),
        Value::Map(m) => {
            let mut p = SubjectPermission::default();
            for k in &m.entries {
                match k.key.to_ascii_lowercase().as_str() {
                    "allow" => p.allow = r.ok(str_list(k)).unwrap_or_default(),
                    "deny" => p.deny = r.ok(str_list(k)).unwrap_or_default(),
                    _ => r.unknown(k),
                }
            }
            Some(p)
        }
        v => {
            r.errors.push(Diagnostic::at(
                &e.key_span,
                format!(
                    "Expected a string, array or map for {}, got {}",
                    e.key,
                    v.go_type()
                ),
            ));
            None
        }
    }
}

fn parse_permissions(r: &mut Reader, e: &Entry) -> Option<Permissions> {
    let m = r.ok(map_of(e, "permissions"))?;
    let mut p = Permissions::default();
    for k in &m.entries {
        match k.key.to_ascii_lowercase().as_str() {
            "pub" | "publish" | "import" => p.publish = parse_subject_permission(r, k),
            "sub" | "subscribe" | "export" => p.subscribe = parse_subject_permission(r, k),
            "allow_responses" | "publish_allow_responses" => {
                let mut rp = ResponsePermission {
                    max: 1,
                    expires: Duration::from_secs(120),
                };
                match &k.value.value {
                    Value::Bool(false) => continue,
                    Value::Bool(true) => {}
                    Value::Map(rm) => {
                        for x in &rm.entries {
                            match x.key.to_ascii_lowercase().as_str() {
                                "max" | "max_msgs" | "max_messages" | "max_responses" => {
                                    if let Some(v) = r.ok(int_of(x)) {
                                        rp.max = v;
                                    }
                                }
                                "expires" | "expiration" | "ttl" => {
                                    if let Some(d) = r.duration_str(x, &x.key) {
                                        rp.expires = d;
                                    }
                                }
                                _ => r.unknown(x),
                            }
                        }
                    }
                    v => {
                        r.errors.push(Diagnostic::at(
                            &k.key_span,
                            format!("error parsing response permissions, expected a boolean or a map, got {}", v.go_type()),
                        ));
                        continue;
                    }
                }
                p.allow_responses = Some(rp);
            }
            _ => r.unknown(k),
        }
    }
    Some(p)
}

fn parse_accounts(r: &mut Reader, e: &Entry) -> Vec<Account> {
    let mut out = Vec::new();
    match &e.value.value {
        Value::Array(items) => {
            for n in items {
                match &n.value {
                    Value::String(s) => out.push(Account {
                        name: s.clone(),
                        span: n.span.clone(),
                        nkey: None,
                        users: Vec::new(),
                        default_permissions: None,
                        imports_exports: None,
                    }),
                    v => r.errors.push(Diagnostic::at(
                        &n.span,
                        format!(
                            "Expected accounts array entry to be a string, got {}",
                            v.go_type()
                        ),
                    )),
                }
            }
        }
        Value::Map(m) => {
            for a in &m.entries {
                let mut acc = Account {
                    name: a.key.clone(),
                    span: a.key_span.clone(),
                    nkey: None,
                    users: Vec::new(),
                    default_permissions: None,
                    imports_exports: None,
                };
                match &a.value.value {
                    Value::Map(am) => {
                        for k in &am.entries {
                            match k.key.to_ascii_lowercase().as_str() {
                                "nkey" => acc.nkey = r.ok(str_of(k)),
                                "users" => acc.users = parse_users(r, k),
                                "default_permissions" | "default_permission" => {
                                    acc.default_permissions = parse_permissions(r, k)
                                }
                                "imports" | "exports" => {
                                    acc.imports_exports = Some(k.key_span.clone())
                                }
                                "jetstream" | "mappings" | "maps" | "limits" | "msg_trace"
                                | "trace_dest" => {}
                                _ => r.unknown(k),
                            }
                        }
                    }
                    v => r.errors.push(Diagnostic::at(
                        &a.key_span,
                        format!("Expected map entries for accounts, got {}", v.go_type()),
                    )),
                }
                out.push(acc);
            }
        }
        v => r.errors.push(Diagnostic::at(
            &e.key_span,
            format!(
                "Expected an array or map of account entries, got {}",
                v.go_type()
            ),
        )),
    }
    out
}

const TLS_OTHER_KEYS: &[&str] = &[
    "cipher_suites",
    "curve_preferences",
    "connection_rate_limit",
    "certs",
    "certificates",
    "ocsp_peer",
    "cert_store",
    "cert_match_by",
    "cert_match",
    "ca_certs_match",
    "cert_match_skip_invalid",
    "allow_insecure_cipher_suites",
    "verify_cert_and_check_known_urls",
];

fn parse_tls(r: &mut Reader, m: &Map, span: &Span) -> TlsConfig {
    let mut t = TlsConfig {
        span: Some(span.clone()),
        ..TlsConfig::default()
    };
    let path = |r: &mut Reader, e: &Entry| r.ok(str_of(e)).map(PathBuf::from);
    for e in &m.entries {
        match e.key.to_ascii_lowercase().as_str() {
            "cert_file" => t.cert_file = path(r, e),
            "key_file" => t.key_file = path(r, e),
            "ca_file" => t.ca_file = path(r, e),
            "verify" => r.set(&mut t.verify, bool_of(e)),
            "verify_and_map" => {
                if let Some(b) = r.ok(bool_of(e)) {
                    t.verify_and_map = b;
                    t.verify |= b;
                }
            }
            "insecure" => r.set(&mut t.insecure, bool_of(e)),
            "timeout" => t.timeout = r.seconds(e, "tls timeout"),
            "pinned_certs" => t.pinned_certs = r.ok(str_list(e)).unwrap_or_default(),
            "min_version" => {
                t.min_version = match &e.value.value {
                    Value::Float(f) => Some(format!("{f:.1}")),
                    _ => r.ok(str_of(e)),
                }
            }
            "handshake_first" | "first" | "immediate" => {
                t.handshake_first = !matches!(e.value.value, Value::Bool(false))
            }
            k if TLS_OTHER_KEYS.contains(&k) => {}
            _ => {
                if !e.used_as_variable {
                    r.errors.push(Diagnostic::at(
                        &e.key_span,
                        format!("error parsing tls config, unknown field \"{}\"", e.key),
                    ));
                }
            }
        }
    }
    if t.cert_file.is_some() && t.key_file.is_none() {
        r.errors.push(Diagnostic::at(
            span,
            "missing 'key_file' in TLS configuration",
        ));
    }
    t
}

fn parse_websocket(r: &mut Reader, m: &Map, span: &Span) -> WebsocketOptions {
    let mut ws = WebsocketOptions {
        span: Some(span.clone()),
        ..WebsocketOptions::default()
    };
    for e in &m.entries {
        match e.key.to_ascii_lowercase().as_str() {
            "listen" => {
                if let Some((h, p)) = r.ok(parse_listen(e)) {
                    if let Some(h) = h {
                        ws.host = h;
                    }
                    ws.port = p;
                }
            }
            "port" => {
                if let Some(p) = r.ok(int_of(e).and_then(|p| port_num(e, p))) {
                    ws.port = p;
                }
            }
            "host" | "net" => r.set(&mut ws.host, str_of(e)),
            "advertise" => ws.advertise = r.ok(str_of(e)),
            "no_tls" => r.set(&mut ws.no_tls, bool_of(e)),
            "tls" => {
                if let Some(tm) = r.ok(map_of(e, "tls")) {
                    if let Some(k) = tm.get_ci("verify_cert_and_check_known_urls") {
                        if k.value.value == Value::Bool(true) {
                            r.errors.push(Diagnostic::at(
                                &k.key_span,
                                "verify_cert_and_check_known_urls not supported in this context",
                            ));
                        }
                    }
                    let t = parse_tls(r, tm, &e.key_span);
                    ws.tls = Some(t);
                }
            }
            "same_origin" => r.set(&mut ws.same_origin, bool_of(e)),
            "allowed_origins" | "allowed_origin" | "allow_origins" | "allow_origin" | "origins"
            | "origin" => {
                match &e.value.value {
                    Value::String(s) => ws.allowed_origins = vec![s.clone()],
                    Value::Array(items) => {
                        let mut list = Vec::new();
                        for n in items {
                            match &n.value {
                            Value::String(s) => list.push(s.clone()),
                            v => r.errors.push(Diagnostic::at(
                                &e.key_span,
                                format!("error parsing allowed origins: unsupported type in array {}", v.go_type()),
                            )),
                        }
                        }
                        ws.allowed_origins = list;
                    }
                    v => r.errors.push(Diagnostic::at(
                        &e.key_span,
                        format!(
                            "error parsing allowed origins: unsupported type {}",
                            v.go_type()
                        ),
                    )),
                }
            }
            "max_request_head" => r.set(&mut ws.max_request_head, int_range(e, 256, 1 << 20)),
            "max_pending" => {
                if let Some(v) = r.ok(int_range(e, 0, i64::MAX)) {
                    ws.max_pending = Some(v);
                }
            }
            "write_deadline" => {
                if let Some(d) = r.duration_or_secs(e, "write_deadline") {
                    ws.write_deadline = Some(d);
                }
            }
            "upgrade_rate_limit" => r.set(&mut ws.upgrade_rate_limit, int_range(e, 0, 1_000_000)),
            "health_path" => {
                if let Some(p) = r.ok(str_of(e)) {
                    if p.starts_with('/') {
                        ws.health_path = Some(p);
                    } else {
                        r.errors.push(Diagnostic::at(
                            &e.key_span,
                            format!("health_path {p:?} must start with '/'"),
                        ));
                    }
                }
            }
            "trusted_proxies" => {
                if let Some(list) = r.ok(str_list(e)) {
                    let mut cidrs = Vec::with_capacity(list.len());
                    for item in &list {
                        match natsws_core::ws::proxy::Cidr::parse(item) {
                            Some(c) => cidrs.push(c),
                            None => r.errors.push(Diagnostic::at(
                                &e.key_span,
                                format!(
                                    "trusted_proxies: {item:?} is not an IP address or CIDR range"
                                ),
                            )),
                        }
                    }
                    ws.trusted_proxies = cidrs;
                }
            }
            "handshake_timeout" => match &e.value.value {
                Value::Integer(i) if *i >= 0 => {
                    ws.handshake_timeout = Duration::from_secs(*i as u64)
                }
                Value::String(s) => match parse_go_duration(s) {
                    Ok(d) => ws.handshake_timeout = d,
                    Err(err) => r.errors.push(Diagnostic::at(&e.key_span, err)),
                },
                v => r.errors.push(Diagnostic::at(
                    &e.key_span,
                    format!(
                        "error parsing handshake timeout: unsupported type {}",
                        v.go_type()
                    ),
                )),
            },
            "compression" | "compress" => r.set(&mut ws.compression, bool_of(e)),
            "authorization" | "authentication" => {
                if let Some(am) = r.ok(map_of(e, "authorization")) {
                    let mut a = WsAuthorization::default();
                    for k in &am.entries {
                        match k.key.to_ascii_lowercase().as_str() {
                            "user" | "username" => a.user = r.ok(str_of(k)),
                            "pass" | "password" => a.password = r.ok(str_of(k)),
                            "token" => a.token = r.ok(str_of(k)),
                            "timeout" => {
                                a.timeout = Some(match &k.value.value {
                                    Value::Integer(i) if *i >= 0 => Duration::from_secs(*i as u64),
                                    Value::Float(f) if *f >= 0.0 && f.is_finite() => {
                                        Duration::from_secs_f64(*f)
                                    }
                                    // nats-server quirk: any other type is 1 s.
                                    _ => Duration::from_secs(1),
                                })
                            }
                            _ => r.unknown(k),
                        }
                    }
                    ws.authorization = Some(a);
                }
            }
            "jwt_cookie" => ws.jwt_cookie = r.ok(str_of(e)),
            "user_cookie" => ws.user_cookie = r.ok(str_of(e)),
            "pass_cookie" => ws.pass_cookie = r.ok(str_of(e)),
            "token_cookie" => ws.token_cookie = r.ok(str_of(e)),
            "no_auth_user" => ws.no_auth_user = r.ok(str_of(e)),
            "headers" => match &e.value.value {
                Value::Map(hm) => {
                    for h in &hm.entries {
                        match &h.value.value {
                            Value::String(v) => ws.headers.push((h.key.clone(), v.clone())),
                            v => r.errors.push(Diagnostic::at(
                                &h.key_span,
                                format!(
                                    "error parsing header key {}: unsupported type {}",
                                    h.key,
                                    v.go_type()
                                ),
                            )),
                        }
                    }
                }
                v => r.errors.push(Diagnostic::at(
                    &e.key_span,
                    format!("error parsing headers: unsupported type {}", v.go_type()),
                )),
            },
            "ping_interval" => ws.ping_interval = r.duration_or_secs(e, "ping_interval"),
            _ => r.unknown(e),
        }
    }
    ws
}

/// Convenience for tests and tools: first value node of a top-level key.
pub fn find<'a>(doc: &'a Document, key: &str) -> Option<&'a Node> {
    doc.root.get_ci(key).map(|e| &e.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_duration_units_and_errors() {
        let ok = |s: &str| parse_go_duration(s).unwrap();
        assert_eq!(ok("0"), Duration::ZERO);
        assert_eq!(ok("1h2m3s"), Duration::from_secs(3723));
        assert_eq!(ok("1.5s"), Duration::from_millis(1500));
        assert_eq!(ok("250ms"), Duration::from_millis(250));
        assert_eq!(ok("3us"), Duration::from_micros(3));
        assert_eq!(ok("3µs"), Duration::from_micros(3));
        assert_eq!(ok("7ns"), Duration::from_nanos(7));
        assert_eq!(
            parse_go_duration("").unwrap_err(),
            "time: invalid duration \"\""
        );
        assert_eq!(
            parse_go_duration("5").unwrap_err(),
            "time: missing unit in duration \"5\""
        );
        assert_eq!(
            parse_go_duration("5d").unwrap_err(),
            "time: unknown unit \"d\" in duration \"5d\""
        );
        assert!(parse_go_duration("-1s").is_err());
        assert!(parse_go_duration("s").is_err());
    }

    #[test]
    fn go_duration_text() {
        assert_eq!(go_dur(Duration::from_secs(120)), "2m0s");
        assert_eq!(go_dur(Duration::from_secs(10)), "10s");
        assert_eq!(go_dur(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_dur(Duration::from_millis(500)), "500ms");
        assert_eq!(go_dur(Duration::from_secs(3723)), "1h2m3s");
        assert_eq!(go_dur(Duration::ZERO), "0s");
    }

    #[test]
    fn host_port_split() {
        assert_eq!(split_host_port("a:1"), Some(("a".into(), "1".into())));
        assert_eq!(split_host_port("[::1]:2"), Some(("::1".into(), "2".into())));
        assert_eq!(split_host_port(":3"), Some(("".into(), "3".into())));
        assert_eq!(split_host_port("noport"), None);
        assert_eq!(split_host_port("a:b:c"), None);
    }

    #[test]
    fn bcrypt_detection() {
        assert!(is_bcrypt("$2a$11$abc"));
        assert!(is_bcrypt("$2y$10$x"));
        assert!(!is_bcrypt("$2c$10$x"));
        assert!(!is_bcrypt("plain"));
        assert!(!is_bcrypt("$2a$1$x"));
    }

    #[test]
    fn origins() {
        assert!(check_origin("http://a").is_ok());
        assert!(check_origin("https://user@a.b:443/path").is_ok());
        assert!(check_origin("HTTP://a").is_ok());
        assert!(check_origin("ws://a")
            .unwrap_err()
            .contains("http or https scheme"));
        assert!(check_origin("http://")
            .unwrap_err()
            .contains("host is required"));
        assert!(check_origin("://a")
            .unwrap_err()
            .contains("missing protocol scheme"));
    }

    #[test]
    fn connection_type_names() {
        assert_eq!(
            ConnectionType::parse("leafnode_ws"),
            Some(ConnectionType::LeafnodeWs)
        );
        assert_eq!(
            ConnectionType::parse("MQTT_WS"),
            Some(ConnectionType::MqttWs)
        );
        assert_eq!(
            ConnectionType::parse("In_Process"),
            Some(ConnectionType::InProcess)
        );
        assert_eq!(ConnectionType::parse("tcp"), None);
    }

    #[test]
    fn too_big_sizes() {
        let e = Options::from_config_str("max_payload: 2GB\n", "t").unwrap_err();
        assert_eq!(e.to_string(), "t:1:1: max_payload value is too big");
        let e = Options::from_config_str("Max_Control_Line: 4GB\n", "t").unwrap_err();
        assert_eq!(e.to_string(), "t:1:1: Max_Control_Line value is too big");
        let e = Options::from_config_str("max_payload: -1\n", "t").unwrap_err();
        assert!(e.to_string().contains("out of range"));
    }
}
