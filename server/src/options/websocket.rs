//! The `websocket`/`ws { … }` block (websocket.md §1): its types, its
//! conversion, cut by concern (listener, limits and timers,
//! authentication), and its startup validation (§1.4), which runs after
//! the rest of [`Options::validate`].

use core::time::Duration;

use natsws_core::ws::proxy::Cidr;

use super::read::{
    bool_of, int_range, map_of, parse_go_duration, port_of, str_list, str_of, Reader,
};
use super::tls::{parse_tls, TlsConfig};
use super::{Options, DEFAULT_HOST};
use crate::config::{ConfigError, Diagnostic, Entry, Map, Span, Value};

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
    /// natsws `keepalive`: a WebSocket ping frame after this much outbound
    /// silence, so proxies with idle cutoffs keep the connection (spec
    /// operations.md §6.4); `None` = the default 20 s, zero = off (the
    /// reference's behaviour).
    pub keepalive: Option<Duration>,
    /// natsws `proxy_protocol`: connections to the websocket port may start
    /// with a PROXY protocol header, before the HTTP request (operations
    /// spec §5.4, nats-server issue #7924). Default false.
    pub proxy_protocol: bool,
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

impl Options {
    /// websocket.md §1.4, only when the websocket port is set.
    pub(super) fn validate_websocket(&self) -> Result<(), ConfigError> {
        let ws = &self.websocket;
        if !ws.enabled() {
            return Ok(());
        }
        if ws.tls.is_none() && !ws.no_tls {
            return Err(ConfigError::bare("websocket requires TLS configuration"));
        }
        for o in &ws.allowed_origins {
            check_origin(o).map_err(|e| ConfigError::bare(e.to_string()))?;
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
}

/// A `websocket { allowed_origins }` entry that is refused. `Display` is
/// nats-server's config error text.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub(super) enum OriginError {
    /// Not a URI by Go's `url.ParseRequestURI` (no scheme, a bad scheme, a
    /// non-numeric port): `unable to parse allowed origin: parse "<o>":
    /// <why>`.
    Parse {
        /// The entry as configured.
        origin: String,
        /// Go's `url.Error` reason (`missing protocol scheme`, `invalid
        /// URI for request`, `invalid port ":x" after host`).
        why: String,
    },
    /// A scheme other than http/https: `unable to parse allowed origin
    /// "<o>": allowed origins must be absolute URLs with http or https
    /// scheme`.
    Scheme(String),
    /// No host (`http://`): `unable to parse allowed origin "<o>": host is
    /// required`.
    NoHost(String),
}

impl std::fmt::Display for OriginError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OriginError::Parse { origin, why } => {
                write!(f, "unable to parse allowed origin: parse \"{origin}\": {why}")
            }
            OriginError::Scheme(o) => write!(
                f,
                "unable to parse allowed origin \"{o}\": allowed origins must be absolute URLs with http or https scheme"
            ),
            OriginError::NoHost(o) => {
                write!(f, "unable to parse allowed origin \"{o}\": host is required")
            }
        }
    }
}

impl std::error::Error for OriginError {}

/// Allowed-origin check (websocket.md §1.4 step 3), modelled on Go
/// `url.ParseRequestURI` for the shapes origins take.
fn check_origin(o: &str) -> Result<(), OriginError> {
    let parse_err = |why: &str| OriginError::Parse {
        origin: o.to_string(),
        why: why.to_string(),
    };
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
        return Err(OriginError::Scheme(o.to_string()));
    }
    let host = authority
        .map(|a| a.rsplit_once('@').map_or(a, |(_, h)| h))
        .unwrap_or("");
    if host.is_empty() {
        return Err(OriginError::NoHost(o.to_string()));
    }
    Ok(())
}

/// Convert a `websocket` map (websocket.md §1.2); `span` is the block key's
/// position. Validation that needs the whole config is
/// [`Options::validate_websocket`].
pub(super) fn parse_websocket(r: &mut Reader, m: &Map, span: &Span) -> WebsocketOptions {
    let mut ws = WebsocketOptions {
        span: Some(span.clone()),
        ..WebsocketOptions::default()
    };
    for e in &m.entries {
        let key = e.key.to_ascii_lowercase();
        let key = key.as_str();
        let known = ws.apply_listen_key(r, e, key)
            || ws.apply_limit_key(r, e, key)
            || ws.apply_auth_key(r, e, key);
        if !known {
            r.unknown(e);
        }
    }
    ws
}

impl WebsocketOptions {
    /// The listener and what it answers: `listen`/`port`/`host`,
    /// `advertise`, `no_tls`, `tls`, origins, `compression` and `headers`.
    /// `false` when `key` is not one of them.
    fn apply_listen_key(&mut self, r: &mut Reader, e: &Entry, key: &str) -> bool {
        match key {
            "listen" => r.listen(e, &mut self.host, &mut self.port),
            "port" => r.set(&mut self.port, port_of(e)),
            "host" | "net" => r.set(&mut self.host, str_of(e)),
            "advertise" => self.advertise = r.ok(str_of(e)),
            "no_tls" => r.set(&mut self.no_tls, bool_of(e)),
            "tls" => {
                if let Some(t) = parse_ws_tls(r, e) {
                    self.tls = Some(t);
                }
            }
            "same_origin" => r.set(&mut self.same_origin, bool_of(e)),
            "allowed_origins" | "allowed_origin" | "allow_origins" | "allow_origin" | "origins"
            | "origin" => parse_allowed_origins(r, e, &mut self.allowed_origins),
            "compression" | "compress" => r.set(&mut self.compression, bool_of(e)),
            "headers" => parse_headers(r, e, &mut self.headers),
            _ => return false,
        }
        true
    }

    /// natsws's limits and timers (`max_request_head`, `max_pending`,
    /// `write_deadline`, `upgrade_rate_limit`, `health_path`,
    /// `trusted_proxies`) and nats-server's `handshake_timeout` and
    /// `ping_interval`. `false` when `key` is not one of them.
    fn apply_limit_key(&mut self, r: &mut Reader, e: &Entry, key: &str) -> bool {
        match key {
            "max_request_head" => r.set(&mut self.max_request_head, int_range(e, 256, 1 << 20)),
            "max_pending" => {
                if let Some(v) = r.ok(int_range(e, 0, i64::MAX)) {
                    self.max_pending = Some(v);
                }
            }
            "write_deadline" => {
                if let Some(d) = r.duration_or_secs(e, "write_deadline") {
                    self.write_deadline = Some(d);
                }
            }
            "upgrade_rate_limit" => r.set(&mut self.upgrade_rate_limit, int_range(e, 0, 1_000_000)),
            "health_path" => {
                if let Some(p) = r.ok(str_of(e)) {
                    if p.starts_with('/') {
                        self.health_path = Some(p);
                    } else {
                        r.errors.push(Diagnostic::at(
                            &e.key_span,
                            format!("health_path {p:?} must start with '/'"),
                        ));
                    }
                }
            }
            "trusted_proxies" => {
                if let Some(cidrs) = parse_trusted_proxies(r, e) {
                    self.trusted_proxies = cidrs;
                }
            }
            "handshake_timeout" => parse_handshake_timeout(r, e, &mut self.handshake_timeout),
            "ping_interval" => self.ping_interval = r.duration_or_secs(e, "ping_interval"),
            "keepalive" => self.keepalive = r.duration_or_secs(e, "keepalive"),
            "proxy_protocol" => r.set(&mut self.proxy_protocol, bool_of(e)),
            _ => return false,
        }
        true
    }

    /// The `authorization`/`authentication` sub-block, the cookies and
    /// `no_auth_user`. `false` when `key` is not one of them.
    fn apply_auth_key(&mut self, r: &mut Reader, e: &Entry, key: &str) -> bool {
        match key {
            "authorization" | "authentication" => {
                if let Some(am) = r.ok(map_of(e, "authorization")) {
                    self.authorization = Some(parse_ws_authorization(r, am));
                }
            }
            "jwt_cookie" => self.jwt_cookie = r.ok(str_of(e)),
            "user_cookie" => self.user_cookie = r.ok(str_of(e)),
            "pass_cookie" => self.pass_cookie = r.ok(str_of(e)),
            "token_cookie" => self.token_cookie = r.ok(str_of(e)),
            "no_auth_user" => self.no_auth_user = r.ok(str_of(e)),
            _ => return false,
        }
        true
    }
}

/// The websocket `tls` block: a client-port [`TlsConfig`], except that
/// `verify_cert_and_check_known_urls: true` is an error here. `None` when
/// the value is not a map.
fn parse_ws_tls(r: &mut Reader, e: &Entry) -> Option<TlsConfig> {
    let tm = r.ok(map_of(e, "tls"))?;
    if let Some(k) = tm.get_ci("verify_cert_and_check_known_urls") {
        if k.value.value == Value::Bool(true) {
            r.errors.push(Diagnostic::at(
                &k.key_span,
                "verify_cert_and_check_known_urls not supported in this context",
            ));
        }
    }
    Some(parse_tls(r, tm, &e.key_span))
}

/// `allowed_origins` and its aliases: a string or an array of strings
/// (checked later by `check_origin`).
fn parse_allowed_origins(r: &mut Reader, e: &Entry, out: &mut Vec<String>) {
    match &e.value.value {
        Value::String(s) => *out = vec![s.clone()],
        Value::Array(items) => {
            let mut list = Vec::new();
            for n in items {
                match &n.value {
                    Value::String(s) => list.push(s.clone()),
                    v => r.errors.push(Diagnostic::at(
                        &e.key_span,
                        format!(
                            "error parsing allowed origins: unsupported type in array {}",
                            v.go_type()
                        ),
                    )),
                }
            }
            *out = list;
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

/// `trusted_proxies`: addresses or CIDR ranges. `None` when the value is
/// not a string list; a bad item is an error and is left out.
pub(super) fn parse_trusted_proxies(r: &mut Reader, e: &Entry) -> Option<Vec<Cidr>> {
    let list = r.ok(str_list(e))?;
    let mut cidrs = Vec::with_capacity(list.len());
    for item in &list {
        match Cidr::parse(item) {
            Some(c) => cidrs.push(c),
            None => r.errors.push(Diagnostic::at(
                &e.key_span,
                format!("trusted_proxies: {item:?} is not an IP address or CIDR range"),
            )),
        }
    }
    Some(cidrs)
}

/// `handshake_timeout`: integer seconds or a Go duration string.
fn parse_handshake_timeout(r: &mut Reader, e: &Entry, slot: &mut Duration) {
    match &e.value.value {
        Value::Integer(i) if *i >= 0 => *slot = Duration::from_secs(*i as u64),
        Value::String(s) => match parse_go_duration(s) {
            Ok(d) => *slot = d,
            Err(err) => r.errors.push(Diagnostic::at(&e.key_span, err.to_string())),
        },
        v => r.errors.push(Diagnostic::at(
            &e.key_span,
            format!(
                "error parsing handshake timeout: unsupported type {}",
                v.go_type()
            ),
        )),
    }
}

/// websocket `authorization { user, password, token, timeout }` (§1.3).
fn parse_ws_authorization(r: &mut Reader, am: &Map) -> WsAuthorization {
    let mut a = WsAuthorization::default();
    for k in &am.entries {
        match k.key.to_ascii_lowercase().as_str() {
            "user" | "username" => a.user = r.ok(str_of(k)),
            "pass" | "password" => a.password = r.ok(str_of(k)),
            "token" => a.token = r.ok(str_of(k)),
            "timeout" => {
                a.timeout = Some(match &k.value.value {
                    Value::Integer(i) if *i >= 0 => Duration::from_secs(*i as u64),
                    Value::Float(f) if *f >= 0.0 && f.is_finite() => Duration::from_secs_f64(*f),
                    // nats-server quirk: any other type is 1 s.
                    _ => Duration::from_secs(1),
                })
            }
            _ => r.unknown(k),
        }
    }
    a
}

/// `headers`: a map of extra 101-response headers, kept in config order.
fn parse_headers(r: &mut Reader, e: &Entry, out: &mut Vec<(String, String)>) {
    match &e.value.value {
        Value::Map(hm) => {
            for h in &hm.entries {
                match &h.value.value {
                    Value::String(v) => out.push((h.key.clone(), v.clone())),
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        assert!(check_origin("http://a").is_ok());
        assert!(check_origin("https://user@a.b:443/path").is_ok());
        assert!(check_origin("HTTP://a").is_ok());
        assert!(check_origin("ws://a")
            .unwrap_err()
            .to_string()
            .contains("http or https scheme"));
        assert!(check_origin("http://")
            .unwrap_err()
            .to_string()
            .contains("host is required"));
        assert!(check_origin("://a")
            .unwrap_err()
            .to_string()
            .contains("missing protocol scheme"));
    }
}
