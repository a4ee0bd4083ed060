//! The `leafnodes`/`leaf { … }` block (spec `leafnode.md` §2): the
//! accepting listener with its `authorization`, and the `remotes` this
//! server solicits. Unknown keys are errors, as in nats-server
//! (`opts.go: parseLeafNodes`, `parseLeafAuthorization`,
//! `parseRemoteLeafNodes`); keys natsws does not implement yet are refused
//! at start through [`LeafnodeOptions::unsupported`].

use std::time::Duration;

use super::read::{bool_of, map_of, parse_listen, port_of, str_list, str_of, Reader};
use crate::config::{Diagnostic, Entry, Span, Value};

/// nats-server `DEFAULT_LEAF_NODE_RECONNECT`: 1 s.
pub const DEFAULT_LEAF_RECONNECT: Duration = Duration::from_secs(1);
/// nats-server `DEFAULT_LEAFNODE_INFO_WAIT`: 1 s.
pub const DEFAULT_FIRST_INFO_TIMEOUT: Duration = Duration::from_secs(1);
/// nats-server `DEFAULT_ROUTE_DIAL`: 1 s.
pub const DEFAULT_DIAL_TIMEOUT: Duration = Duration::from_secs(1);
/// Default leafnode port for remote URLs without one: 7422.
pub const DEFAULT_LEAF_PORT: u16 = 7422;

/// `leafnodes { … }`.
#[derive(Clone, Debug, PartialEq)]
pub struct LeafnodeOptions {
    /// Position of the block's key.
    pub span: Span,
    /// `host`/`net`/`listen` host (default `0.0.0.0`).
    pub host: Option<String>,
    /// `port`/`listen` port; `None`/0 = no listener, -1 = random.
    pub port: Option<i32>,
    /// `authorization { … }` of the listener.
    pub authorization: LeafAuthorization,
    /// `remotes [ … ]`.
    pub remotes: Vec<RemoteLeaf>,
    /// `reconnect`/`reconnect_delay`/`reconnect_interval` (default 1 s).
    pub reconnect: Duration,
    /// Server-wide `dial_timeout` (default 1 s).
    pub dial_timeout: Duration,
    /// Keys parsed but not implemented (refused at start).
    pub unsupported: Vec<(String, Span)>,
    /// The listener's `tls { … }` (spec §2.4).
    pub tls: Option<super::TlsConfig>,
    /// natsws `proxy_protocol` (operations spec §5.4): links accepted on
    /// the leafnode port may start with a PROXY v1/v2 header, from the
    /// top-level `trusted_proxies` only when that list is set. Default
    /// false; refused with `tls`.
    pub proxy_protocol: bool,
    /// `min_version`/`minimum_version`: a soliciting leaf whose CONNECT
    /// `version` is older (or unreadable) gets the `connect_info` INFO,
    /// then `-ERR 'connection rejected since minimum version required is
    /// "<v>"'` and is closed (`Minimum Version Required`). At least
    /// 2.8.0 (nats-server `checkLeafMinVersionConfig`).
    pub min_version: Option<String>,
    /// `isolate_leafnode_interest`/`isolate`: no link of this server
    /// (accepted or solicited) is told the interest of other leaf
    /// connections (spec §4.7; nats-server `createLeafNode` reads it for
    /// every link). Default false.
    pub isolate_leafnode_interest: bool,
    /// `write_deadline`: how long a write to a leaf link may block before
    /// the link counts as a slow consumer (nats-server `initClient`:
    /// the per-kind deadline when set and positive). `None`: the server's
    /// `write_deadline`.
    pub write_deadline: Option<Duration>,
    /// `write_timeout`: what a leaf link hitting its write deadline gets
    /// (`default`/`close`/`retry`; anything else: `write_timeout must be
    /// 'default', 'close' or 'retry'`, nats-server
    /// `parseWriteDeadlinePolicy`). `default` is `retry` for leaf links:
    /// a blocked link is closed only after a whole deadline without
    /// writing a byte; `close` closes it at the deadline
    /// (`Settings::write_retry_for`, `docs/compat.md`).
    pub write_timeout: WriteTimeoutPolicy,
}

/// `write_timeout`: the policy on a write deadline (nats-server
/// `WriteTimeoutPolicy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum WriteTimeoutPolicy {
    /// `default`: `retry` for leaf links, `close` for client connections
    /// (nats-server `initClient`).
    #[default]
    Default,
    /// `close`: the connection is closed.
    Close,
    /// `retry`: the connection is kept while writes make progress.
    Retry,
}

impl WriteTimeoutPolicy {
    /// The error for any other string, at the key (nats-server
    /// `parseWriteDeadlinePolicy`); a value that is not a string fails
    /// the string conversion instead (`interface conversion: …`).
    pub const PARSE_ERROR: &'static str = "write_timeout must be 'default', 'close' or 'retry'";

    /// Parses `default`, `close` or `retry` (case-sensitive, as
    /// nats-server `parseWriteDeadlinePolicy`); `None` for anything else.
    pub fn parse(v: &str) -> Option<WriteTimeoutPolicy> {
        match v {
            "default" => Some(WriteTimeoutPolicy::Default),
            "close" => Some(WriteTimeoutPolicy::Close),
            "retry" => Some(WriteTimeoutPolicy::Retry),
            _ => None,
        }
    }

    /// A `write_timeout` entry (top level or `leafnodes`): the policy, or
    /// `None` with the error recorded at the key ([`Self::PARSE_ERROR`],
    /// or the string conversion's for a value that is not a string).
    pub(super) fn read(r: &mut Reader, e: &Entry) -> Option<WriteTimeoutPolicy> {
        let v = r.ok(str_of(e))?;
        let p = WriteTimeoutPolicy::parse(&v);
        if p.is_none() {
            r.errors
                .push(Diagnostic::at(&e.key_span, Self::PARSE_ERROR.to_string()));
        }
        p
    }

    /// The policy as nats-server prints it (`WriteTimeoutPolicy.String`):
    /// `close`, `retry`, or empty for `default`.
    pub fn go_name(self) -> &'static str {
        match self {
            WriteTimeoutPolicy::Default => "",
            WriteTimeoutPolicy::Close => "close",
            WriteTimeoutPolicy::Retry => "retry",
        }
    }
}

/// `leafnodes.authorization { … }` (spec §2.2).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct LeafAuthorization {
    /// Single `user`.
    pub user: Option<String>,
    /// Its `password` (plain or bcrypt).
    pub password: Option<String>,
    /// Single `nkey`: a user public key (`U…`); the leaf must send it as
    /// `nkey` with `sig`, its signature of this server's INFO nonce (spec
    /// §2.2, §3.6). Not a user public key: `Not a valid public nkey for
    /// leafnode authorization`.
    pub nkey: Option<String>,
    /// Account the single user (or an unauthenticated leaf) binds to.
    pub account: Option<String>,
    /// `users`: (user, password, account).
    pub users: Vec<LeafUser>,
    /// `timeout` (default 2 s).
    pub timeout: Option<Duration>,
    /// `proxy_required`: leafs must come through a trusted proxy (the
    /// top-level `proxies { trusted }`, which natsws refuses); `true` is
    /// refused at start, `false` accepted.
    pub proxy_required: bool,
}

/// One `leafnodes.authorization.users` entry.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct LeafUser {
    /// `user`.
    pub user: String,
    /// `password`.
    pub password: String,
    /// `account` (default `$G`).
    pub account: Option<String>,
}

/// One `remotes` entry (spec §2.3).
#[derive(Clone, Debug, PartialEq)]
pub struct RemoteLeaf {
    /// `url`/`urls` as written.
    pub urls: Vec<String>,
    /// `account`/`local`: the local account bound to the link (`$G`).
    pub account: String,
    /// `no_randomize`/`dont_randomize`.
    pub no_randomize: bool,
    /// `hub`.
    pub hub: bool,
    /// `deny_imports`.
    pub deny_imports: Vec<String>,
    /// `deny_exports`.
    pub deny_exports: Vec<String>,
    /// `first_info_timeout` (default 1 s).
    pub first_info_timeout: Duration,
    /// `dial_timeout` (default: the block's).
    pub dial_timeout: Option<Duration>,
    /// `disabled`.
    pub disabled: bool,
    /// `ignore_discovered_servers`.
    pub ignore_discovered_servers: bool,
    /// `ws_no_masking`/`websocket_no_masking`: ask the hub to accept
    /// unmasked frames (`Nats-No-Masking: true`).
    pub ws_no_masking: bool,
    /// `ws_compression`/`ws_compress`/`websocket_compression`/
    /// `websocket_compress`: offer permessage-deflate (no context
    /// takeover either way) in the upgrade of a `ws://`/`wss://` remote
    /// (spec §5.2). Default false.
    pub ws_compression: bool,
    /// `nkey`/`seed`: a user seed (`SU…`); the CONNECT then carries its
    /// public key as `nkey` and the signature of the hub's INFO nonce as
    /// `sig` (spec §3.6, nats-server `sendLeafConnect`). A value that is
    /// not a seed is refused: `Remote leafnode nkey is not a valid seed:
    /// "<v>"`.
    pub nkey_seed: Option<String>,
    /// `credentials`/`creds`: path of a user JWT + seed file; read on
    /// every connect, its JWT and the seed's signature of the nonce go in
    /// CONNECT (`jwt`, `sig`). With `nkey` too: `Remote leafnode can not
    /// have both creds and nkey defined`.
    pub credentials: Option<String>,
    /// The remote's `tls { … }` (spec §2.3, §3.10): `ca_file` (the hub's
    /// trust anchors; the system's when none), `cert_file`/`key_file` (a
    /// client certificate), `insecure`, `timeout` (default 2 s),
    /// `handshake_first`. With it the link always runs TLS (nats-server
    /// `leafNodeGetTLSConfigForSolicit`).
    pub tls: Option<super::TlsConfig>,
    /// `proxy { url, username, password, timeout }`: dial every URL of
    /// this remote through an HTTP CONNECT proxy (nats-server 2.15.1).
    pub proxy: Option<super::leaf_proxy::LeafProxy>,
    /// `isolate_leafnode_interest`/`isolate`: this link is not told the
    /// interest of other leaf connections (spec §4.7, nats-server
    /// `LocalIsolation`). Default false.
    pub local_isolation: bool,
    /// `request_isolation`: the CONNECT says `"isolate":true`, so the
    /// accepting side isolates this link from its other leafs' interest
    /// (spec §4.7). Default false.
    pub request_isolation: bool,
}

impl LeafnodeOptions {
    /// Whether a listener is configured (`port` non-zero).
    pub fn listens(&self) -> bool {
        self.port.is_some_and(|p| p != 0)
    }
}

/// Parses `leafnodes { … }`.
pub(super) fn parse(r: &mut Reader, e: &Entry) -> Option<LeafnodeOptions> {
    let m = r.ok(map_of(e, "leafnodes"))?;
    let mut o = LeafnodeOptions {
        span: e.key_span.clone(),
        host: None,
        port: None,
        authorization: LeafAuthorization::default(),
        remotes: Vec::new(),
        reconnect: DEFAULT_LEAF_RECONNECT,
        dial_timeout: DEFAULT_DIAL_TIMEOUT,
        unsupported: Vec::new(),
        tls: None,
        proxy_protocol: false,
        min_version: None,
        isolate_leafnode_interest: false,
        write_deadline: None,
        write_timeout: WriteTimeoutPolicy::Default,
    };
    for k in &m.entries {
        match k.key.to_ascii_lowercase().as_str() {
            "listen" => {
                if let Some((h, p)) = r.ok(parse_listen(k)) {
                    o.host = h.or(o.host.take());
                    o.port = Some(p);
                }
            }
            "host" | "net" => o.host = r.ok(str_of(k)),
            "port" => o.port = r.ok(port_of(k)),
            "authorization" => {
                if let Some(a) = parse_auth(r, k) {
                    if a.proxy_required {
                        o.unsupported.push((
                            "leafnodes.authorization.proxy_required".to_string(),
                            k.key_span.clone(),
                        ));
                    }
                    o.authorization = a;
                }
            }
            "remotes" => o.remotes = parse_remotes(r, k),
            "reconnect" | "reconnect_delay" | "reconnect_interval" => {
                if let Some(d) = r.duration_or_secs(k, "reconnect") {
                    o.reconnect = d;
                }
            }
            "dial_timeout" => {
                if let Some(d) = r.duration_or_secs(k, "dial_timeout") {
                    o.dial_timeout = d;
                }
            }
            // natsws never compresses a leaf link (spec §3.11: it stays in
            // clear text with nats-server peers); the mode is accepted.
            "compression" | "no_advertise" | "advertise" | "leafnode_advertise" => {}
            "tls" => {
                if let Some(m) = r.ok(map_of(k, "tls")) {
                    o.tls = Some(super::tls::parse_tls(r, m, &k.key_span));
                }
            }
            "proxy_protocol" => r.set(&mut o.proxy_protocol, bool_of(k)),
            "min_version" | "minimum_version" => {
                if let Some(v) = r.ok(str_of(k)) {
                    match crate::leaf_version::check_min_version(&v) {
                        Ok(()) => o.min_version = Some(v),
                        Err(m) => r.errors.push(Diagnostic::at(&k.key_span, m)),
                    }
                }
            }
            "isolate_leafnode_interest" | "isolate" => {
                r.set(&mut o.isolate_leafnode_interest, bool_of(k))
            }
            "write_deadline" => o.write_deadline = r.duration_or_secs(k, "write_deadline"),
            "write_timeout" => {
                if let Some(p) = WriteTimeoutPolicy::read(r, k) {
                    o.write_timeout = p;
                }
            }
            _ => r.unknown(k),
        }
    }
    Some(o)
}

fn parse_auth(r: &mut Reader, e: &Entry) -> Option<LeafAuthorization> {
    let m = r.ok(map_of(e, "authorization"))?;
    let mut a = LeafAuthorization::default();
    for k in &m.entries {
        match k.key.to_ascii_lowercase().as_str() {
            "user" | "username" => a.user = r.ok(str_of(k)),
            "pass" | "password" => a.password = r.ok(str_of(k)),
            "account" => a.account = r.ok(str_of(k)),
            "nkey" => {
                if let Some(v) = r.ok(str_of(k)) {
                    if v.starts_with('U') && nkeys::KeyPair::from_public_key(&v).is_ok() {
                        a.nkey = Some(v);
                    } else {
                        r.errors.push(Diagnostic::at(
                            &k.key_span,
                            "Not a valid public nkey for leafnode authorization".to_string(),
                        ));
                    }
                }
            }
            "timeout" => a.timeout = r.seconds(k, "leafnode authorization timeout"),
            "proxy_required" => r.set(&mut a.proxy_required, bool_of(k)),
            "users" => {
                let Value::Array(items) = &k.value.value else {
                    r.errors.push(Diagnostic::at(
                        &k.key_span,
                        "Expected users field to be an array".to_string(),
                    ));
                    continue;
                };
                for it in items {
                    let Value::Map(um) = &it.value else {
                        continue;
                    };
                    let mut u = LeafUser::default();
                    for f in &um.entries {
                        match f.key.to_ascii_lowercase().as_str() {
                            "user" | "username" => u.user = r.ok(str_of(f)).unwrap_or_default(),
                            "pass" | "password" => u.password = r.ok(str_of(f)).unwrap_or_default(),
                            "account" => u.account = r.ok(str_of(f)),
                            _ => r.unknown(f),
                        }
                    }
                    a.users.push(u);
                }
            }
            _ => r.unknown(k),
        }
    }
    Some(a)
}

fn parse_remotes(r: &mut Reader, e: &Entry) -> Vec<RemoteLeaf> {
    let Value::Array(items) = &e.value.value else {
        r.errors.push(Diagnostic::at(
            &e.key_span,
            "Expected remotes field to be an array".to_string(),
        ));
        return Vec::new();
    };
    let mut out = Vec::new();
    for it in items {
        let Value::Map(m) = &it.value else {
            continue;
        };
        let mut rl = RemoteLeaf {
            urls: Vec::new(),
            account: crate::account::GLOBAL_ACCOUNT.to_string(),
            no_randomize: false,
            hub: false,
            deny_imports: Vec::new(),
            deny_exports: Vec::new(),
            first_info_timeout: DEFAULT_FIRST_INFO_TIMEOUT,
            dial_timeout: None,
            disabled: false,
            ignore_discovered_servers: false,
            ws_no_masking: false,
            ws_compression: false,
            nkey_seed: None,
            credentials: None,
            tls: None,
            proxy: None,
            local_isolation: false,
            request_isolation: false,
        };
        let mut negative_proxy_timeout = false;
        for k in &m.entries {
            match k.key.to_ascii_lowercase().as_str() {
                "url" | "urls" => rl.urls = r.ok(str_list(k)).unwrap_or_default(),
                "account" | "local" => {
                    if let Some(a) = r.ok(str_of(k)).filter(|a| !a.is_empty()) {
                        rl.account = a;
                    }
                }
                "no_randomize" | "dont_randomize" => {
                    rl.no_randomize = r.ok(bool_of(k)).unwrap_or(false)
                }
                "hub" => rl.hub = r.ok(bool_of(k)).unwrap_or(false),
                "deny_imports" | "deny_import" => {
                    rl.deny_imports = r.ok(str_list(k)).unwrap_or_default()
                }
                "deny_exports" | "deny_export" => {
                    rl.deny_exports = r.ok(str_list(k)).unwrap_or_default()
                }
                "first_info_timeout" => {
                    if let Some(d) = r.duration_or_secs(k, "first_info_timeout") {
                        rl.first_info_timeout = d;
                    }
                }
                "dial_timeout" => rl.dial_timeout = r.duration_or_secs(k, "dial_timeout"),
                "disabled" => rl.disabled = r.ok(bool_of(k)).unwrap_or(false),
                "nkey" | "seed" => {
                    if let Some(v) = r.ok(str_of(k)) {
                        if nkeys::KeyPair::from_seed(&v).is_ok() {
                            rl.nkey_seed = Some(v);
                        } else {
                            r.errors.push(Diagnostic::at(
                                &k.key_span,
                                format!("Remote leafnode nkey is not a valid seed: {v:?}"),
                            ));
                        }
                    }
                }
                "credentials" | "creds" => rl.credentials = r.ok(str_of(k)),
                "ignore_discovered_servers" => {
                    rl.ignore_discovered_servers = r.ok(bool_of(k)).unwrap_or(false)
                }
                "compression" => {}
                "ws_no_masking" | "websocket_no_masking" => {
                    rl.ws_no_masking = r.ok(bool_of(k)).unwrap_or(false)
                }
                "tls" => {
                    if let Some(m) = r.ok(map_of(k, "tls")) {
                        rl.tls = Some(super::tls::parse_tls(r, m, &k.key_span));
                    }
                }
                "proxy" => {
                    if let Some((p, neg)) = super::leaf_proxy::parse(r, k) {
                        rl.proxy = Some(p);
                        negative_proxy_timeout = neg;
                    }
                }
                "ws_compression"
                | "ws_compress"
                | "websocket_compression"
                | "websocket_compress" => rl.ws_compression = r.ok(bool_of(k)).unwrap_or(false),
                // Moves this server's JetStream raft leaders away while the
                // link is down; natsws holds no JetStream assets, so there
                // is nothing to move: the shape is checked, the value has
                // no effect.
                "jetstream_cluster_migrate" | "js_cluster_migrate" => js_migrate(r, k),
                "isolate_leafnode_interest" | "isolate" => {
                    r.set(&mut rl.local_isolation, bool_of(k))
                }
                "request_isolation" => r.set(&mut rl.request_isolation, bool_of(k)),
                _ => r.unknown(k),
            }
        }
        if let Some(p) = rl.proxy.as_mut() {
            let has_tls = rl.tls.is_some();
            if let Err(m) =
                super::leaf_proxy::validate(p, negative_proxy_timeout, &rl.urls, has_tls)
            {
                r.errors.push(Diagnostic::at(&p.span, m));
            }
            if p.url.is_empty() {
                rl.proxy = None;
            }
        }
        if rl.credentials.is_some() && rl.nkey_seed.is_some() {
            r.errors.push(Diagnostic::at(
                &it.span,
                "Remote leafnode can not have both creds and nkey defined".to_string(),
            ));
        }
        out.push(rl);
    }
    out
}

/// Checks `jetstream_cluster_migrate`: a bool, or a map whose
/// `leader_migrate_delay` is a duration (`Expected boolean or map for
/// jetstream_cluster_migrate, got <type>` otherwise, as nats-server,
/// which gives no position).
fn js_migrate(r: &mut Reader, e: &Entry) {
    match &e.value.value {
        Value::Bool(_) => {}
        Value::Map(m) => {
            if let Some(d) = m
                .entries
                .iter()
                .find(|d| d.key.eq_ignore_ascii_case("leader_migrate_delay"))
            {
                let _ = r.duration_or_secs(d, "leader_migrate_delay");
            }
        }
        // Without a position, as nats-server (its token is lost there).
        v => r.errors.push(Diagnostic::bare(format!(
            "Expected boolean or map for jetstream_cluster_migrate, got {}",
            v.go_type()
        ))),
    }
}

/// Parses `default_js_domain { <account>: <domain> }`; a domain must be a
/// string (`default_js_domain contains account "<a>" with invalid domain
/// name "<d>"` for one with blanks or dots, as nats-server).
pub(super) fn parse_js_domains(r: &mut Reader, e: &Entry) -> Vec<(String, String)> {
    let Some(m) = r.ok(map_of(e, "default_js_domain")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for k in &m.entries {
        let Some(d) = r.ok(str_of(k)) else {
            continue;
        };
        if d.contains(['.', ' ', '*', '>']) {
            r.errors.push(Diagnostic::at(
                &k.key_span,
                format!(
                    "default_js_domain contains account \"{}\" with invalid domain name \"{d}\"",
                    k.key
                ),
            ));
            continue;
        }
        out.push((k.key.clone(), d));
    }
    if !out.is_empty() {
        r.warnings.push(Diagnostic::at(
            &e.key_span,
            "The option `default_js_domain` is a temporary backwards compatibility measure and will be removed".to_string(),
        ));
    }
    out
}
