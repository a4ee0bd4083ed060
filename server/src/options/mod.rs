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
//!
//! One file per config block, each with its types, its conversion and its
//! checks:
//! * `mod.rs` (here): [`Options`] and its defaults, the document walk
//!   ([`Options::from_document`]: `apply_top` hands each top-level key to
//!   the blocks in turn), [`Options::validate`] and the startup warnings;
//! * `read.rs`: the value readers and error texts every block shares, Go
//!   durations ([`parse_go_duration`], [`go_dur`]);
//! * `top.rs`: top-level keys that are not blocks (listeners, logging,
//!   limits and timers);
//! * `auth.rs`: `authorization`, `users`, permissions, `accounts` and
//!   operator mode;
//! * `tls.rs`: `tls { … }`;
//! * `websocket.rs`: `websocket { … }` and its validation;
//! * `metrics.rs`: natsws `metrics { … }` (`/metrics` names);
//! * `unsupported.rs`: what is parsed only to be refused
//!   ([`Options::unsupported`]).

use core::time::Duration;
use std::path::{Path, PathBuf};

use crate::config::{self, ConfigError, Diagnostic, Document, Entry, Node, Span};

mod auth;
mod imports;
pub mod leaf;
pub mod leaf_proxy;
mod metrics;
mod mqtt;
mod read;
mod tls;
mod top;
mod unsupported;
mod websocket;

pub use auth::{
    is_bcrypt, Account, Authorization, ConnectionType, Permissions, ResponsePermission,
    SubjectPermission, User,
};
pub use imports::{export_approved, subset_match, tokenize};
pub use imports::{
    AccountLinks, Export, MapDest, MappingOpt, ResponseType, ServiceImport, StreamImport,
    DEFAULT_RESPONSE_THRESHOLD,
};
pub use metrics::MetricsOptions;
pub use mqtt::{MqttOptions, MqttStore};
pub use read::{go_dur, parse_go_duration, DurationError};
pub use tls::TlsConfig;
pub use unsupported::{BlockInfo, Unsupported};
pub use websocket::{WebsocketOptions, WsAuthorization};

use metrics::parse_metrics;
use read::{map_of, Reader};
use tls::parse_tls;
use websocket::parse_websocket;

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
    /// `write_timeout`: the policy when a client connection (TCP,
    /// WebSocket, MQTT) misses its write deadline; `default` is `close`
    /// (nats-server `initClient`). Not reloadable.
    pub write_timeout: leaf::WriteTimeoutPolicy,
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
    /// `proxy_protocol`: client-port connections may start with a PROXY
    /// protocol header naming the real client (nats-server 2.14+,
    /// operations spec §5.1). Default false.
    pub proxy_protocol: bool,
    /// natsws top-level `trusted_proxies` (IPs or CIDR ranges): with
    /// `proxy_protocol`, only peers in the list may send a PROXY header
    /// (operations spec §5.2/§5.4); empty (default) = any peer, as
    /// nats-server.
    pub trusted_proxies: Vec<natsws_core::ws::proxy::Cidr>,
    /// `no_auth_user` (§3.7).
    pub no_auth_user: Option<Spanned<String>>,
    /// `authorization { … }` (§4.4).
    pub authorization: Option<Authorization>,
    /// `accounts` (§3.6).
    pub accounts: Vec<Account>,
    /// Where the `accounts` key is (cross-account errors point there).
    pub accounts_span: Option<Span>,
    /// Top-level `mappings`/`maps`: the global account's (operations
    /// spec §3.4).
    pub mappings: Vec<MappingOpt>,
    /// Client-port `tls { … }` (§4.3).
    pub tls: Option<TlsConfig>,
    /// `cluster { … }`.
    pub cluster: Option<BlockInfo>,
    /// `gateway { … }`.
    pub gateway: Option<BlockInfo>,
    /// `leafnodes`/`leaf { … }` when refused as a whole (unused since
    /// leafnodes are served: see [`Options::leaf`]).
    pub leafnodes: Option<BlockInfo>,
    /// `leafnodes`/`leaf { … }` (spec `leafnode.md` §2).
    pub leaf: Option<leaf::LeafnodeOptions>,
    /// `default_js_domain { <account>: <domain> }` (spec `leafnode.md`
    /// §4.10): account name → JetStream domain of its leaf hub.
    pub default_js_domain: Vec<(String, String)>,
    /// `mqtt { … }`.
    pub mqtt: Option<MqttOptions>,
    /// `jetstream { store_dir }`: the default directory of the MQTT store
    /// (natsws has no JetStream; spec mqtt.md §7.6).
    pub jetstream_store_dir: Option<String>,
    /// `jetstream` (bool, `enabled`/`disabled` or map).
    pub jetstream: Option<Spanned<bool>>,
    /// `websocket`/`ws { … }` (websocket.md §1).
    pub websocket: WebsocketOptions,
    /// natsws `metrics { … }`: the names `/metrics` gives.
    pub metrics: MetricsOptions,
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
    /// `system_account`/`system`: the account whose users reach the `$SYS`
    /// services and events (operations spec §2.1). Unset: the internal
    /// `$SYS` account, unless `no_system_account`.
    pub system_account: Option<String>,
    /// `no_system_account`/`no_system`/`no_sys_acc`: no system account, no
    /// events, no `$SYS` services (default false).
    pub no_system_account: bool,
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
            write_timeout: leaf::WriteTimeoutPolicy::Default,
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
            proxy_protocol: false,
            trusted_proxies: Vec::new(),
            no_auth_user: None,
            authorization: None,
            accounts: Vec::new(),
            accounts_span: None,
            mappings: Vec::new(),
            tls: None,
            cluster: None,
            gateway: None,
            leafnodes: None,
            leaf: None,
            default_js_domain: Vec::new(),
            mqtt: None,
            jetstream_store_dir: None,
            jetstream: None,
            websocket: WebsocketOptions::default(),
            metrics: MetricsOptions::default(),
            other_features: Vec::new(),
            operators: Vec::new(),
            trusted_keys: Vec::new(),
            resolver: None,
            resolver_preload: Vec::new(),
            system_account: None,
            no_system_account: false,
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
            o.check_links(&mut r);
        }
        if r.errors.is_empty() {
            o.warnings = r.warnings;
            Ok(o)
        } else {
            Err(ConfigError { errors: r.errors })
        }
    }

    /// Apply one top-level entry: each block's `apply_*_key` in turn, the
    /// first that knows the key takes it; a key none knows is an error
    /// (`unknown field`, unless used as a `$variable`).
    fn apply_top(&mut self, r: &mut Reader, e: &Entry) {
        let key = e.key.to_ascii_lowercase();
        let key = key.as_str();
        let known = self.apply_listen_key(r, e, key)
            || self.apply_log_key(r, e, key)
            || self.apply_limit_key(r, e, key)
            || self.apply_auth_key(r, e, key)
            || self.apply_mappings_key(r, e, key)
            || self.apply_block_key(r, e, key)
            || self.apply_unsupported_key(r, e, key);
        if !known {
            r.unknown(e);
        }
    }

    /// The implemented blocks with a file of their own: `tls`,
    /// `websocket`/`ws` and `metrics`. `false` when `key` is none of them.
    fn apply_block_key(&mut self, r: &mut Reader, e: &Entry, key: &str) -> bool {
        match key {
            "tls" => {
                if let Some(m) = r.ok(map_of(e, "tls")) {
                    self.tls = Some(parse_tls(r, m, &e.key_span));
                }
            }
            "websocket" | "ws" => {
                if let Some(m) = r.ok(map_of(e, "websocket")) {
                    self.websocket = parse_websocket(r, m, &e.key_span);
                }
            }
            "metrics" => {
                if let Some(m) = r.ok(map_of(e, "metrics")) {
                    self.metrics = parse_metrics(r, m);
                }
            }
            _ => return false,
        }
        true
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
        self.validate_mqtt()?;
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
}

/// Convenience for tests and tools: first value node of a top-level key.
pub fn find<'a>(doc: &'a Document, key: &str) -> Option<&'a Node> {
    doc.root.get_ci(key).map(|e| &e.value)
}

#[cfg(test)]
mod tests {
    use super::*;

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
