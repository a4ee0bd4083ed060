//! The HTTP/1.1 upgrade handshake (RFC 6455 §4, spec §2).
//!
//! Server role: [`RequestParser`] is a push parser over the request head
//! (httparse underneath) with a cap on head bytes that is checked before
//! buffering. Once the head is complete it runs the spec's checks in order
//! (§2.3) and yields an [`Upgrade`]; [`write_accept_response`] writes the
//! exact 101 of §2.8 and [`write_reject_response`] the error responses of
//! §2.4.
//!
//! ```
//! use natsws_core::ws::handshake::{RequestParser, Status, UpgradeConfig, write_accept_response};
//! let cfg = UpgradeConfig::default();
//! let mut p = RequestParser::new(false);
//! let req = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
//!     Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
//!     Sec-WebSocket-Version: 13\r\n\r\n";
//! let Status::Complete { value: up, consumed } = p.feed(&cfg, req).unwrap() else { panic!() };
//! assert_eq!(consumed, req.len()); // bytes after `consumed` belong to the frame stream
//! let mut out = Vec::new();
//! write_accept_response(&mut out, &up, &cfg);
//! assert!(out.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
//! ```
//!
//! Client role (wasm package, tests): [`write_client_request`] and
//! [`ResponseParser`] (spec §6.2 steps 3–4).
//!
//! Pipelined bytes: nats-server drops a client that sends anything after
//! the request head before it has seen the 101 (spec §2.3 step 13; its
//! `wsUpgrade` checks the HTTP reader's `Buffered() > 0` after the
//! hijack). This parser reports where the head ended; natsws's server
//! drops the connection without a response ([`Error::DataBeforeHandshake`])
//! when bytes follow the head in the read that completed it
//! (`consumed < bytes.len()`), as nats-server does.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt::{self, Write as _};
use core::net::IpAddr;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use sha1::{Digest, Sha1};

use super::error::Error;
use super::GUID;

/// Default cap on the request head, in bytes (8 KiB).
pub const DEFAULT_MAX_HEAD_BYTES: usize = 8 * 1024;
/// Most header lines accepted in a head (more gives 431).
pub const MAX_HEADERS: usize = 100;

/// Go's `base64.StdEncoding`: padded, and lenient about non-zero trailing
/// bits.
const STD: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
);

/// The `Sec-WebSocket-Extensions` value of a 101 that accepts compression
/// (spec §2.6).
pub const PMD_RESPONSE: &str =
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover";

/// Result of feeding bytes to a push parser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status<T> {
    /// The head is not complete yet: feed more bytes.
    Partial,
    /// The head is complete. The first `consumed` bytes of the *last* fed
    /// slice were part of it; the rest are left over for the frame stream.
    Complete {
        /// The result.
        value: T,
        /// Bytes of the last fed slice that belonged to the head.
        consumed: usize,
    },
}

/// Buffers a message head up to a cap, finding its end (an empty line).
#[derive(Debug, Clone)]
struct HeadBuf {
    buf: Vec<u8>,
    cap: usize,
    scanned: usize,
}

impl HeadBuf {
    fn new(cap: usize) -> Self {
        HeadBuf {
            buf: Vec::new(),
            cap,
            scanned: 0,
        }
    }

    /// `Ok(Some(consumed))` once the head is complete (`self.buf` is then
    /// exactly the head).
    fn feed(&mut self, bytes: &[u8]) -> Result<Option<usize>, Error> {
        let prev = self.buf.len();
        // The cap is checked before buffering: never hold more than `cap`.
        let take = bytes.len().min(self.cap.saturating_sub(prev));
        self.buf.extend_from_slice(&bytes[..take]);
        let b = &self.buf;
        let mut j = self.scanned;
        while j < b.len() {
            if b[j] == b'\n' {
                match (b.get(j + 1), b.get(j + 2)) {
                    (Some(b'\n'), _) => return Ok(Some(self.finish(j + 2, prev))),
                    (Some(b'\r'), Some(b'\n')) => return Ok(Some(self.finish(j + 3, prev))),
                    (None, _) | (Some(b'\r'), None) => break,
                    _ => {}
                }
            }
            j += 1;
        }
        self.scanned = j;
        if self.buf.len() >= self.cap {
            return Err(Error::RequestHeadTooLarge);
        }
        Ok(None)
    }

    fn finish(&mut self, end: usize, prev: usize) -> usize {
        self.buf.truncate(end);
        end - prev
    }
}

// ------------------------------------------------------------- configuration

/// One parsed entry of `allowed_origins` (spec §2.5): scheme, lower-cased
/// host and port (default 80, or 443 for `https`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedOrigin {
    /// `http` or `https`.
    pub scheme: String,
    /// Lower-cased host.
    pub host: String,
    /// Port as written, or the scheme's default.
    pub port: String,
    /// natsws: the entry was written `scheme://*.domain[:port]`; `host` is
    /// then `domain`, and any subdomain of it matches (at any depth), the
    /// domain itself does not.
    pub subdomains: bool,
}

impl AllowedOrigin {
    /// Parses and validates one allowed origin as nats-server's startup
    /// validation does (spec §1.4 step 3).
    ///
    /// # Errors
    /// [`AllowedOriginError`], whose `Display` is the exact text of spec
    /// §1.4.
    pub fn parse(origin: &str) -> Result<AllowedOrigin, AllowedOriginError> {
        let u = parse_request_uri(origin).map_err(AllowedOriginError::Url)?;
        if u.scheme != "http" && u.scheme != "https" {
            return Err(AllowedOriginError::NotHttp(origin.into()));
        }
        if u.host.is_empty() {
            return Err(AllowedOriginError::NoHost(origin.into()));
        }
        let (host, port) =
            host_and_port(u.scheme == "https", u.host).map_err(AllowedOriginError::Url)?;
        let (host, subdomains) = match host.strip_prefix("*.") {
            Some(domain) if !domain.is_empty() && !domain.contains('*') => (domain.into(), true),
            _ => (host, false),
        };
        Ok(AllowedOrigin {
            scheme: u.scheme,
            host,
            port,
            subdomains,
        })
    }

    /// Whether an `Origin` with this scheme, lower-cased host and port is
    /// allowed by this entry.
    pub fn matches(&self, scheme: &str, host: &str, port: &str) -> bool {
        if self.scheme != scheme || self.port != port {
            return false;
        }
        if self.subdomains {
            host.len() > self.host.len() + 1
                && host.ends_with(self.host.as_str())
                && host.as_bytes()[host.len() - self.host.len() - 1] == b'.'
        } else {
            self.host == host
        }
    }
}

/// Why an `allowed_origins` entry was refused (spec §1.4, nats-server
/// `wsSetOriginOptions`). `Display` is the reference's text.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AllowedOriginError {
    /// Not a URL Go's `url.ParseRequestURI` takes, or a bad host:port:
    /// `unable to parse allowed origin: <Go's error>`.
    Url(String),
    /// Not `http` or `https`: `unable to parse allowed origin "<o>":
    /// allowed origins must be absolute URLs with http or https scheme`.
    NotHttp(String),
    /// No host: `unable to parse allowed origin "<o>": host is required`.
    NoHost(String),
}

impl fmt::Display for AllowedOriginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AllowedOriginError::Url(e) => write!(f, "unable to parse allowed origin: {e}"),
            AllowedOriginError::NotHttp(o) => write!(
                f,
                "unable to parse allowed origin \"{o}\": allowed origins must be absolute URLs with http or https scheme"
            ),
            AllowedOriginError::NoHost(o) => {
                write!(f, "unable to parse allowed origin \"{o}\": host is required")
            }
        }
    }
}

impl core::error::Error for AllowedOriginError {}

/// Names of the cookies whose values stand in for empty CONNECT fields
/// (spec §1.2, §5.4). Matched case-sensitively.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CookieNames {
    /// `jwt_cookie` → CONNECT `jwt`.
    pub jwt: Option<String>,
    /// `user_cookie` → CONNECT `user`.
    pub user: Option<String>,
    /// `pass_cookie` → CONNECT `pass`.
    pub pass: Option<String>,
    /// `token_cookie` → CONNECT `auth_token`.
    pub token: Option<String>,
}

/// Server-side handshake settings (from the `websocket {}` block, spec §1.2).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpgradeConfig {
    /// Cap on the request head in bytes, checked before buffering; above it
    /// the answer is 431. Default [`DEFAULT_MAX_HEAD_BYTES`] (8 KiB).
    pub max_head_bytes: usize,
    /// `same_origin`: the Origin must match the request's Host and scheme
    /// (spec §2.5). Default false.
    pub same_origin: bool,
    /// `allowed_origins`, pre-parsed with [`AllowedOrigin::parse`]. Default
    /// empty (any origin).
    pub allowed_origins: Vec<AllowedOrigin>,
    /// `compression`: accept permessage-deflate when offered (spec §2.6).
    /// Default false.
    pub compression: bool,
    /// Honour `Nats-No-Masking: true` (spec §2.7). Default true, as
    /// nats-server.
    pub no_masking: bool,
    /// MQTT is enabled, so `/mqtt` paths are accepted (spec §2.3 step 1).
    /// Default false.
    pub mqtt_enabled: bool,
    /// Cookie names for credentials. Default none.
    pub cookies: CookieNames,
    /// Extra `(name, value)` headers for the 101 only (spec §1.2 `headers`,
    /// §2.8), names as written.
    pub headers: Vec<(String, String)>,
    /// natsws `health_path`: a `GET` of this path without `Upgrade:
    /// websocket` is a load balancer's health check, answered `200
    /// {"status":"ok"}` ([`Error::HealthCheck`]) instead of 400. Default
    /// none.
    pub health_path: Option<String>,
}

impl Default for UpgradeConfig {
    fn default() -> Self {
        UpgradeConfig {
            max_head_bytes: DEFAULT_MAX_HEAD_BYTES,
            same_origin: false,
            allowed_origins: Vec::new(),
            compression: false,
            no_masking: true,
            mqtt_enabled: false,
            cookies: CookieNames::default(),
            headers: Vec::new(),
            health_path: None,
        }
    }
}

impl UpgradeConfig {
    /// Parses and sets `allowed_origins`; an unparseable one is returned as
    /// an error (the config validation normally catches it first).
    ///
    /// # Errors
    /// The first [`AllowedOrigin::parse`] error.
    pub fn set_allowed_origins<S: AsRef<str>>(
        &mut self,
        origins: &[S],
    ) -> Result<(), AllowedOriginError> {
        self.allowed_origins = origins
            .iter()
            .map(|o| AllowedOrigin::parse(o.as_ref()))
            .collect::<Result<_, _>>()?;
        Ok(())
    }
}

// ------------------------------------------------------------------ results

/// Which kind of connection the request path asks for (spec §2.2): suffix
/// match on the path, `/leafnode` tested before `/mqtt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    /// A NATS client (any other path).
    Client,
    /// Path ends with `/leafnode`.
    Leafnode,
    /// Path ends with `/mqtt`.
    Mqtt,
}

impl PathKind {
    /// Classifies a request path (query already removed).
    pub fn from_path(path: &str) -> PathKind {
        if path.ends_with("/leafnode") {
            PathKind::Leafnode
        } else if path.ends_with("/mqtt") {
            PathKind::Mqtt
        } else {
            PathKind::Client
        }
    }
}

/// Cookie values captured at the upgrade (spec §2.9 step 4).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CookieValues {
    /// Value of the `jwt_cookie`.
    pub jwt: Option<String>,
    /// Value of the `user_cookie`.
    pub user: Option<String>,
    /// Value of the `pass_cookie`.
    pub pass: Option<String>,
    /// Value of the `token_cookie`.
    pub token: Option<String>,
}

/// An accepted upgrade request: everything the connection needs afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upgrade {
    /// `Sec-WebSocket-Key` as sent (trimmed).
    pub key: String,
    /// The request path without query.
    pub path: String,
    /// Connection kind from the path (spec §2.2).
    pub kind: PathKind,
    /// The `Host` value.
    pub host: String,
    /// permessage-deflate accepted (spec §2.6).
    pub compression: bool,
    /// `Nats-No-Masking: true` accepted (spec §2.7).
    pub no_masking: bool,
    /// First `X-Forwarded-For` header line, if it is a bare IP (spec §2.9
    /// step 3; logs only).
    pub forwarded_for: Option<IpAddr>,
    /// Every `X-Forwarded-For` header line, in order (for
    /// [`proxy::client_ip`](super::proxy::client_ip) behind trusted
    /// proxies; bounded by the request-head cap).
    pub x_forwarded_for: Vec<String>,
    /// Client/MQTT kinds: `User-Agent` starts with `Mozilla/` (spec §2.9):
    /// outbound frames of at most 4096 bytes.
    pub browser: bool,
    /// Browser with compression whose UA has both `Version/` and `Safari/`:
    /// compressed messages are never fragmented.
    pub safari: bool,
    /// Client/MQTT kinds: the configured cookies' values.
    pub cookies: CookieValues,
    /// `Origin` (or `Sec-WebSocket-Origin`) if present.
    pub origin: Option<String>,
    /// `User-Agent` if present.
    pub user_agent: Option<String>,
    /// MQTT kind: the subprotocol answered (mqtt spec §1.3 IMPL): `mqtt`
    /// when offered, else `mqttv3.1` when offered, else none (RFC 6455
    /// §4.2.2: only an offered protocol may be selected; nats-server always
    /// answers `mqtt`, which browsers that offered nothing reject).
    pub mqtt_protocol: Option<&'static str>,
}

// ------------------------------------------------------------------- parser

/// Push parser for one upgrade request (server role).
#[derive(Debug, Clone)]
pub struct RequestParser {
    head: Option<HeadBuf>,
    tls: bool,
    http10: bool,
}

impl RequestParser {
    /// A parser for a connection; `tls` tells whether it came over TLS (for
    /// the same-origin check, spec §2.5 step 5).
    pub fn new(tls: bool) -> Self {
        RequestParser {
            head: None,
            tls,
            http10: false,
        }
    }

    /// Whether the complete request head said `HTTP/1.0`: error responses
    /// from nats-server's handler answer in the request's version
    /// ([`write_reject_response_in`]).
    pub fn is_http10(&self) -> bool {
        self.http10
    }

    /// Bytes buffered so far (never above the configured cap).
    pub fn buffered(&self) -> usize {
        self.head.as_ref().map_or(0, |h| h.buf.len())
    }

    /// Feeds the next bytes from the socket. `Partial` until the head is
    /// complete; then the request is validated (spec §2.3 order) and the
    /// bytes of `bytes` after `consumed` are left over (frame stream).
    ///
    /// # Errors
    /// [`Error::RequestHeadTooLarge`] once the cap is reached without a
    /// complete head, and every handshake error of [`validate_request`].
    pub fn feed(&mut self, cfg: &UpgradeConfig, bytes: &[u8]) -> Result<Status<Upgrade>, Error> {
        let head = self
            .head
            .get_or_insert_with(|| HeadBuf::new(cfg.max_head_bytes));
        match head.feed(bytes)? {
            None => Ok(Status::Partial),
            Some(consumed) => {
                self.http10 = request_minor_version(&head.buf) == Some(0);
                let value = validate_request(&head.buf, cfg, self.tls)?;
                Ok(Status::Complete { value, consumed })
            }
        }
    }
}

/// The request line's HTTP minor version (httparse reads it before the
/// headers, so no header storage is needed).
fn request_minor_version(head: &[u8]) -> Option<u8> {
    let mut no_headers = [];
    let mut req = httparse::Request::new(&mut no_headers);
    let _ = req.parse(head);
    req.version
}

fn header_values<'h>(
    headers: &'h [httparse::Header<'h>],
    name: &'h str,
) -> impl Iterator<Item = &'h [u8]> + 'h {
    headers
        .iter()
        .filter(move |h| h.name.eq_ignore_ascii_case(name))
        .map(|h| trim(h.value))
}

fn first_value<'h>(headers: &'h [httparse::Header<'h>], name: &'h str) -> Option<&'h [u8]> {
    header_values(headers, name).next()
}

fn trim(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

/// Some header line's comma-separated token list holds `token`
/// (case-insensitive, trimmed of spaces and tabs) (spec §2.3).
fn has_token(headers: &[httparse::Header<'_>], name: &str, token: &str) -> bool {
    headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case(name))
        .any(|h| {
            h.value
                .split(|&b| b == b',')
                .any(|t| trim(t).eq_ignore_ascii_case(token.as_bytes()))
        })
}

fn utf8(v: &[u8]) -> String {
    String::from_utf8_lossy(v).into_owned()
}

/// Validates a complete request head (as buffered by [`RequestParser`]) in
/// the spec's order (§2.1 net/http checks, then §2.3 steps 1–9) and returns
/// the [`Upgrade`].
///
/// # Errors
/// In order: [`Error::MalformedRequest`] / [`Error::HttpVersionNotSupported`]
/// / [`Error::RequestHeadTooLarge`] (too many header lines) /
/// [`Error::MissingHostHeader`] (HTTP/1.1 without a Host header) /
/// [`Error::MalformedHostHeader`] (more than one Host line is
/// [`Error::MalformedRequest`]), then
/// [`Error::MqttNotEnabled`], [`Error::MethodNotGet`], [`Error::HostMissing`],
/// [`Error::InvalidUpgradeHeader`] (or [`Error::HealthCheck`] for the
/// configured health path), [`Error::InvalidConnectionHeader`],
/// [`Error::KeyMissing`], [`Error::InvalidKey`], [`Error::InvalidVersion`],
/// [`Error::OriginNotAllowed`].
pub fn validate_request(head: &[u8], cfg: &UpgradeConfig, tls: bool) -> Result<Upgrade, Error> {
    let mut storage = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut storage);
    match req.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(Error::MalformedRequest),
        Err(httparse::Error::TooManyHeaders) => return Err(Error::RequestHeadTooLarge),
        Err(httparse::Error::Version) => return Err(Error::HttpVersionNotSupported),
        Err(_) => return Err(Error::MalformedRequest),
    }
    let headers: &[httparse::Header<'_>] = req.headers;
    let method = req.method.unwrap_or("");
    let target = req.path.unwrap_or("");
    // Absolute-form targets carry the host (RFC 7230 §5.3.2); origin-form
    // ones are a path.
    let (url_host, path) = split_target(target);
    let mut hosts = header_values(headers, "Host");
    let host_hdr = hosts.next();
    // [net/http] `readRequest`: more than one Host line is a plain 400.
    if hosts.next().is_some() {
        return Err(Error::MalformedRequest);
    }
    // [net/http] HTTP/1.1 requests must carry a Host header, even with an
    // absolute-form target (only `CONNECT` is exempt).
    if req.version == Some(1) && host_hdr.is_none() && method != "CONNECT" {
        return Err(Error::MissingHostHeader);
    }
    // [net/http] `httpguts.ValidHostHeader`, any HTTP version.
    if host_hdr.is_some_and(|h| !h.iter().all(|&b| is_host_byte(b))) {
        return Err(Error::MalformedHostHeader);
    }
    let kind = PathKind::from_path(path);
    // 1. MQTT endpoint disabled (before the method check, spec §9.2).
    if kind == PathKind::Mqtt && !cfg.mqtt_enabled {
        return Err(Error::MqttNotEnabled);
    }
    // 2. RFC 6455 §4.2.1 point 1: "An HTTP/1.1 or higher GET request".
    if method != "GET" {
        return Err(Error::MethodNotGet);
    }
    // 3. Point 2: Host.
    let host = url_host.map(str::as_bytes).or(host_hdr).unwrap_or(b"");
    if host.is_empty() {
        return Err(Error::HostMissing);
    }
    // 4. Point 3: "An |Upgrade| header field containing the value
    // "websocket", treated as an ASCII case-insensitive value."
    if !has_token(headers, "Upgrade", "websocket") {
        // natsws: a load balancer's health check on the WebSocket port.
        if cfg.health_path.as_deref() == Some(path) {
            return Err(Error::HealthCheck);
        }
        return Err(Error::InvalidUpgradeHeader);
    }
    // 5. Point 4: "A |Connection| header field that includes the token
    // "Upgrade"" (Firefox sends `keep-alive, Upgrade`).
    if !has_token(headers, "Connection", "Upgrade") {
        return Err(Error::InvalidConnectionHeader);
    }
    // 6./7. Point 5: "A |Sec-WebSocket-Key| header field with a base64-encoded
    // value that, when decoded, is 16 bytes in length."
    let key = first_value(headers, "Sec-WebSocket-Key").unwrap_or(b"");
    if key.is_empty() {
        return Err(Error::KeyMissing);
    }
    let mut raw = [0u8; 18];
    match STD.decode_slice(key, &mut raw) {
        Ok(16) => {}
        _ => return Err(Error::InvalidKey),
    }
    // 8. Point 6: "A |Sec-WebSocket-Version| header field, with a value of 13."
    if !has_token(headers, "Sec-WebSocket-Version", "13") {
        return Err(Error::InvalidVersion);
    }
    // 9. Origin (RFC 6455 §10.2, spec §2.5).
    let origin = first_value(headers, "Origin")
        .filter(|o| !o.is_empty())
        .or_else(|| first_value(headers, "Sec-WebSocket-Origin").filter(|o| !o.is_empty()));
    if cfg.same_origin || !cfg.allowed_origins.is_empty() {
        if let Some(o) = origin {
            check_origin(cfg, tls, &utf8(o), &utf8(host)).map_err(Error::OriginNotAllowed)?;
        }
    }
    // 10. Negotiations that never fail.
    let compression = cfg.compression && offers_pmd(headers);
    let no_masking = cfg.no_masking && first_value(headers, "Nats-No-Masking") == Some(b"true");
    let forwarded_for = first_value(headers, "X-Forwarded-For")
        .and_then(|v| core::str::from_utf8(v).ok())
        .and_then(|v| v.parse::<IpAddr>().ok());
    let user_agent = first_value(headers, "User-Agent").map(utf8);
    let mut up = Upgrade {
        key: utf8(key),
        path: path.to_string(),
        kind,
        host: utf8(host),
        compression,
        no_masking,
        forwarded_for,
        x_forwarded_for: header_values(headers, "X-Forwarded-For")
            .map(utf8)
            .collect(),
        browser: false,
        safari: false,
        cookies: CookieValues::default(),
        origin: origin.map(utf8),
        user_agent,
        mqtt_protocol: None,
    };
    if kind == PathKind::Mqtt {
        let offered = |name: &str| has_token(headers, "Sec-WebSocket-Protocol", name);
        up.mqtt_protocol = if offered("mqtt") {
            Some("mqtt")
        } else if offered("mqttv3.1") {
            Some("mqttv3.1")
        } else {
            None
        };
    }
    if kind != PathKind::Leafnode {
        if let Some(ua) = &up.user_agent {
            if ua.starts_with("Mozilla/") {
                up.browser = true;
                up.safari = compression && ua.contains("Version/") && ua.contains("Safari/");
            }
        }
        up.cookies = read_cookies(headers, &cfg.cookies);
    }
    Ok(up)
}

/// Splits a request target into (host of an absolute-form target, path
/// without query).
fn split_target(target: &str) -> (Option<&str>, &str) {
    let (t, host) = match target.find("://") {
        Some(i) if !target.starts_with('/') => {
            let rest = &target[i + 3..];
            let end = rest.find(['/', '?']).unwrap_or(rest.len());
            (&rest[end..], Some(&rest[..end]))
        }
        _ => (target, None),
    };
    let path = t.split(['?', '#']).next().unwrap_or("");
    (host, path)
}

/// `Sec-WebSocket-Extensions` offers `permessage-deflate` (spec §2.6: split on
/// `,` then `;`, any piece equal case-insensitively; parameters ignored).
fn offers_pmd(headers: &[httparse::Header<'_>]) -> bool {
    headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("Sec-WebSocket-Extensions"))
        .any(|h| {
            h.value
                .split(|&b| b == b',' || b == b';')
                .any(|p| trim(p).eq_ignore_ascii_case(b"permessage-deflate"))
        })
}

/// Cookie header parsing as net/http `readCookies` (name=value pairs split on
/// `;`, surrounding double quotes stripped, invalid pairs skipped), mapped by
/// exact name with the jwt/user/pass/token priority; the last occurrence of a
/// name wins (spec §2.9 step 4, §9.32).
fn read_cookies(headers: &[httparse::Header<'_>], names: &CookieNames) -> CookieValues {
    let mut out = CookieValues::default();
    if names.jwt.is_none() && names.user.is_none() && names.pass.is_none() && names.token.is_none()
    {
        return out;
    }
    let is = |n: &Option<String>, name: &[u8]| n.as_deref().map(str::as_bytes) == Some(name);
    for h in headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("Cookie"))
    {
        for part in h.value.split(|&b| b == b';') {
            let part = trim(part);
            let Some(eq) = part.iter().position(|&b| b == b'=') else {
                continue;
            };
            let (name, mut value) = (&part[..eq], &part[eq + 1..]);
            if name.is_empty() || !name.iter().all(|&b| is_token_byte(b)) {
                continue;
            }
            if value.len() >= 2 && value[0] == b'"' && value[value.len() - 1] == b'"' {
                value = &value[1..value.len() - 1];
            }
            if !value
                .iter()
                .all(|&b| (0x20..0x7f).contains(&b) && b != b'"' && b != b';' && b != b'\\')
            {
                continue;
            }
            let v = Some(utf8(value));
            if is(&names.jwt, name) {
                out.jwt = v;
            } else if is(&names.user, name) {
                out.user = v;
            } else if is(&names.pass, name) {
                out.pass = v;
            } else if is(&names.token, name) {
                out.token = v;
            }
        }
    }
    out
}

/// A byte Go's `httpguts.ValidHostHeader` accepts in a `Host` value: the
/// characters of RFC 3986's host and port (unreserved, sub-delims, `%`,
/// `:`, `[`, `]`); not space, tab, `/`, `?`, `#`, `@`, `"`, `<`, `>`, `\`,
/// `^`, `` ` ``, `{`, `|`, `}`, controls or non-ASCII.
fn is_host_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!$%&'()*+,-.:;=[]_~".contains(&b)
}

/// RFC 7230 `tchar`.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

// ------------------------------------------------------------------- origin

struct ParsedUri<'a> {
    scheme: String,
    host: &'a str,
}

/// A subset of Go's `url.ParseRequestURI`, enough for origins: the
/// error texts match Go's (`parse "<s>": invalid URI for request`,
/// `parse "<s>": invalid port ":x" after host`, ...).
fn parse_request_uri(s: &str) -> Result<ParsedUri<'_>, String> {
    let invalid = || alloc::format!("parse \"{s}\": invalid URI for request");
    let colon = s.find(':');
    let scheme_end = match colon {
        Some(0) => return Err(alloc::format!("parse \"{s}\": missing protocol scheme")),
        Some(i)
            if s.as_bytes()[0].is_ascii_alphabetic()
                && s[..i]
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) =>
        {
            i
        }
        _ => {
            return if s.starts_with('/') {
                Ok(ParsedUri {
                    scheme: String::new(),
                    host: "",
                })
            } else {
                Err(invalid())
            }
        }
    };
    let scheme = s[..scheme_end].to_ascii_lowercase();
    let rest = &s[scheme_end + 1..];
    let Some(auth) = rest.strip_prefix("//") else {
        if rest.starts_with('/') {
            return Ok(ParsedUri { scheme, host: "" });
        }
        // Opaque URIs (`mailto:x`) have no host.
        return Ok(ParsedUri { scheme, host: "" });
    };
    let end = auth.find(['/', '?', '#']).unwrap_or(auth.len());
    let mut host = &auth[..end];
    if let Some(at) = host.rfind('@') {
        host = &host[at + 1..];
    }
    // Go's parseHost: the part after the last ':' (outside brackets) must be
    // a valid optional port.
    let port_part = if host.starts_with('[') {
        match host.find(']') {
            Some(i) => &host[i + 1..],
            None => return Err(alloc::format!("parse \"{s}\": missing ']' in host")),
        }
    } else {
        host.rfind(':').map_or("", |i| &host[i..])
    };
    if !port_part.is_empty()
        && (!port_part.starts_with(':') || !port_part[1..].bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(alloc::format!(
            "parse \"{s}\": invalid port \"{port_part}\" after host"
        ));
    }
    Ok(ParsedUri { scheme, host })
}

/// Go's `wsGetHostAndPort`: `net.SplitHostPort` with the scheme's default
/// port when the port is missing; host lower-cased.
fn host_and_port(tls: bool, hostport: &str) -> Result<(String, String), String> {
    let default = if tls { "443" } else { "80" };
    let missing = || Ok((hostport.to_ascii_lowercase(), default.to_string()));
    let addr_err = |why: &str| Err(alloc::format!("address {hostport}: {why}"));
    if let Some(rest) = hostport.strip_prefix('[') {
        let Some(close) = rest.find(']') else {
            return addr_err("missing ']' in address");
        };
        let host = &rest[..close];
        return match &rest[close + 1..] {
            "" => missing(),
            p if p.starts_with(':') => Ok((host.to_ascii_lowercase(), p[1..].to_string())),
            _ => addr_err("missing port in address"),
        };
    }
    match hostport.rfind(':') {
        None => missing(),
        Some(i) => {
            let host = &hostport[..i];
            if host.contains(':') {
                return addr_err("too many colons in address");
            }
            Ok((host.to_ascii_lowercase(), hostport[i + 1..].to_string()))
        }
    }
}

/// The origin check of spec §2.5 (steps 3–6); `Err` holds the reason that
/// follows `origin not allowed: `.
fn check_origin(cfg: &UpgradeConfig, tls: bool, origin: &str, host: &str) -> Result<(), String> {
    let u = parse_request_uri(origin)?;
    let (oh, op) = host_and_port(u.scheme == "https", u.host)?;
    if cfg.same_origin {
        let (rh, rp) = host_and_port(tls, host)?;
        let rs = if tls { "https" } else { "http" };
        if oh != rh || op != rp || !u.scheme.eq_ignore_ascii_case(rs) {
            return Err("not same origin".to_string());
        }
    }
    if !cfg.allowed_origins.is_empty()
        && !cfg
            .allowed_origins
            .iter()
            .any(|a| a.matches(&u.scheme, &oh, &op))
    {
        return Err("not in the allowed list".to_string());
    }
    Ok(())
}

// ---------------------------------------------------------------- responses

/// A `Sec-WebSocket-Accept` value: 28 base64 characters.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AcceptKey([u8; 28]);

impl AcceptKey {
    /// The key as text.
    pub fn as_str(&self) -> &str {
        // Base64 output is ASCII.
        core::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl core::fmt::Debug for AcceptKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `base64(SHA-1(key + GUID))` (RFC 6455 §4.2.2 step 5.4; §1.3 example:
/// `dGhlIHNhbXBsZSBub25jZQ==` → `s3pPLMBiTxaQ9kYGzzhZRbK+xOo=`).
pub fn accept_key(key: &[u8]) -> AcceptKey {
    let mut h = Sha1::new();
    h.update(key);
    h.update(GUID.as_bytes());
    let digest = h.finalize();
    let mut out = [0u8; 28];
    // 20 bytes always encode to exactly 28.
    let _ = STD.encode_slice(digest, &mut out);
    AcceptKey(out)
}

/// Appends the 101 response of spec §2.8, byte for byte: status line,
/// `Upgrade`, `Connection`, `Sec-WebSocket-Accept`, then the extension line
/// if compression was negotiated, `Nats-No-Masking: true` if accepted,
/// `Sec-Websocket-Protocol: mqtt` for MQTT, the configured headers, and the
/// empty line.
pub fn write_accept_response(out: &mut Vec<u8>, up: &Upgrade, cfg: &UpgradeConfig) {
    out.extend_from_slice(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ",
    );
    out.extend_from_slice(accept_key(up.key.as_bytes()).as_str().as_bytes());
    out.extend_from_slice(b"\r\n");
    if up.compression {
        out.extend_from_slice(b"Sec-WebSocket-Extensions: ");
        out.extend_from_slice(PMD_RESPONSE.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if up.no_masking {
        out.extend_from_slice(b"Nats-No-Masking: true\r\n");
    }
    if let Some(p) = up.mqtt_protocol {
        out.extend_from_slice(b"Sec-Websocket-Protocol: ");
        out.extend_from_slice(p.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    for (k, v) in &cfg.headers {
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// The standard reason phrase of an HTTP status.
pub fn status_text(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        505 => "HTTP Version Not Supported",
        _ => "Error",
    }
}

/// Appends the HTTP error response for a handshake error to an HTTP/1.1
/// request: [`write_reject_response_in`] with `http10` false.
pub fn write_reject_response(out: &mut Vec<u8>, err: &Error) -> bool {
    write_reject_response_in(out, err, false)
}

/// Appends the HTTP error response for a handshake error (spec §2.4).
/// Writes nothing and returns false if the error has no HTTP reaction.
///
/// - Errors nats-server's handler answers (`wsReturnHTTPError`, through
///   net/http's `http.Error`): the status line in the request's version
///   (`HTTP/1.0` when `http10`), `Content-Type: text/plain; charset=utf-8`,
///   `Sec-Websocket-Version: 13`, `X-Content-Type-Options: nosniff`,
///   `Content-Length`, `Connection: close` (HTTP/1.1 only: an HTTP/1.0
///   response ends with the connection anyway), and the body
///   `<StatusText>\n` (the specific reason is for the log only).
/// - Errors net/http answers before the handler (malformed head, missing or
///   malformed `Host`, 431, 505): net/http's `conn.serve` bytes exactly,
///   always `HTTP/1.1`: `HTTP/1.1 <e>\r\nContent-Type: text/plain;
///   charset=utf-8\r\nConnection: close\r\n\r\n<e>` with `<e>` =
///   `<code> <StatusText>[: detail]`.
pub fn write_reject_response_in(out: &mut Vec<u8>, err: &Error, http10: bool) -> bool {
    let Some(status) = err.http_status() else {
        return false;
    };
    if *err == Error::HealthCheck {
        out.extend_from_slice(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nCache-Control: no-store\r\nContent-Length: 15\r\nConnection: close\r\n\r\n{\"status\":\"ok\"}",
        );
        return true;
    }
    let text = status_text(status);
    let detail = match err {
        Error::MalformedRequest | Error::RequestHeadTooLarge => Some(""),
        Error::MissingHostHeader => Some(": missing required Host header"),
        Error::MalformedHostHeader => Some(": malformed Host header"),
        Error::HttpVersionNotSupported => Some(": unsupported protocol version"),
        _ => None,
    };
    let mut head = String::new();
    if let Some(detail) = detail {
        let e = alloc::format!("{status} {text}{detail}");
        let _ = write!(
            head,
            "HTTP/1.1 {e}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n{e}"
        );
        out.extend_from_slice(head.as_bytes());
        return true;
    }
    let version = if http10 { "1.0" } else { "1.1" };
    let _ = write!(
        head,
        "HTTP/{version} {status} {text}\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Sec-Websocket-Version: 13\r\nX-Content-Type-Options: nosniff\r\n\
         Content-Length: {}\r\n{}\r\n{text}\n",
        text.len() + 1,
        if http10 { "" } else { "Connection: close\r\n" },
    );
    out.extend_from_slice(head.as_bytes());
    true
}

// -------------------------------------------------------------- client role

/// What a client asks for in its upgrade request (spec §6.2 step 3).
#[derive(Debug, Clone, Copy)]
pub struct ClientRequest<'a> {
    /// `Host` value (`host:port`).
    pub host: &'a str,
    /// Request path, e.g. `/` or `/some/path/leafnode`.
    pub path: &'a str,
    /// 16 random bytes for `Sec-WebSocket-Key` (core has no randomness).
    pub key: [u8; 16],
    /// Offer permessage-deflate with both no-context-takeover parameters.
    pub compression: bool,
    /// Send `Nats-No-Masking: true`.
    pub no_masking: bool,
    /// Extra `(name, value)` header lines.
    pub headers: &'a [(&'a str, &'a str)],
}

/// Appends the client upgrade request and returns the parser that checks
/// the server's answer.
pub fn write_client_request(req: &ClientRequest<'_>, out: &mut Vec<u8>) -> ResponseParser {
    let mut key = [0u8; 24];
    let _ = STD.encode_slice(req.key, &mut key);
    let mut s = String::new();
    let _ = write!(
        s,
        "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {}\r\nSec-WebSocket-Version: 13\r\n",
        req.path,
        req.host,
        core::str::from_utf8(&key).unwrap_or_default()
    );
    if req.compression {
        let _ = write!(s, "Sec-WebSocket-Extensions: {PMD_RESPONSE}\r\n");
    }
    if req.no_masking {
        s.push_str("Nats-No-Masking: true\r\n");
    }
    for (k, v) in req.headers {
        let _ = write!(s, "{k}: {v}\r\n");
    }
    s.push_str("\r\n");
    out.extend_from_slice(s.as_bytes());
    ResponseParser {
        head: HeadBuf::new(DEFAULT_MAX_HEAD_BYTES),
        expected: accept_key(&key),
        compression: req.compression,
        no_masking: req.no_masking,
    }
}

/// What the server granted (client role).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientUpgrade {
    /// permessage-deflate is on (without context takeover).
    pub compression: bool,
    /// The server accepted `Nats-No-Masking`: do not mask our frames.
    pub no_masking: bool,
}

/// Push parser for the server's answer to [`write_client_request`].
#[derive(Debug, Clone)]
pub struct ResponseParser {
    head: HeadBuf,
    expected: AcceptKey,
    compression: bool,
    no_masking: bool,
}

impl ResponseParser {
    /// Feeds bytes from the socket; `Partial` until the head is complete.
    /// Bytes after `consumed` are the first frames.
    ///
    /// # Errors
    /// [`Error::InvalidWebsocketConnection`] unless the response is a 101
    /// with `Upgrade: websocket`, `Connection: upgrade` (whole value,
    /// case-insensitive) and the right `Sec-WebSocket-Accept` (spec §6.2
    /// step 4); [`Error::CompressionNegotiation`] if it accepts
    /// permessage-deflate without both no-context-takeover parameters;
    /// [`Error::RequestHeadTooLarge`] for a head above 8 KiB.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Status<ClientUpgrade>, Error> {
        let Some(consumed) = self.head.feed(bytes)? else {
            return Ok(Status::Partial);
        };
        let mut storage = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut resp = httparse::Response::new(&mut storage);
        if !matches!(
            resp.parse(&self.head.buf),
            Ok(httparse::Status::Complete(_))
        ) {
            return Err(Error::InvalidWebsocketConnection);
        }
        let h: &[httparse::Header<'_>] = resp.headers;
        let ok = resp.code == Some(101)
            && first_value(h, "Upgrade").is_some_and(|v| v.eq_ignore_ascii_case(b"websocket"))
            && first_value(h, "Connection").is_some_and(|v| v.eq_ignore_ascii_case(b"upgrade"))
            && first_value(h, "Sec-WebSocket-Accept") == Some(self.expected.as_str().as_bytes());
        if !ok {
            return Err(Error::InvalidWebsocketConnection);
        }
        let mut compression = false;
        if self.compression {
            for v in header_values(h, "Sec-WebSocket-Extensions") {
                for ext in v.split(|&b| b == b',') {
                    let mut params = ext.split(|&b| b == b';').map(trim);
                    if params
                        .next()
                        .is_some_and(|p| p.eq_ignore_ascii_case(b"permessage-deflate"))
                    {
                        let (mut snc, mut cnc) = (false, false);
                        for p in params {
                            snc |= p.eq_ignore_ascii_case(b"server_no_context_takeover");
                            cnc |= p.eq_ignore_ascii_case(b"client_no_context_takeover");
                        }
                        if !(snc && cnc) {
                            return Err(Error::CompressionNegotiation);
                        }
                        compression = true;
                    }
                }
            }
        }
        let no_masking = self.no_masking && first_value(h, "Nats-No-Masking") == Some(b"true");
        Ok(Status::Complete {
            value: ClientUpgrade {
                compression,
                no_masking,
            },
            consumed,
        })
    }
}
