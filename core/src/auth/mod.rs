//! Authentication and authorization (nats-protocol.md §3, websocket.md §5),
//! behind the non-default cargo feature `auth`.
//!
//! Pure functions: no I/O, no clock (the time comes in as
//! [`Credentials::now_unix_secs`]), no threads. The server builds an
//! [`AuthConfig`] from its configuration, and at CONNECT calls
//! [`authenticate`] with the connection's [`Credentials`]; the resulting
//! [`Identity`] names the user, the account, its compiled [`Permissions`]
//! and its JWT limits. A failure is an [`AuthError`]: the client gets
//! `-ERR 'Authorization Violation'` and the connection closes; the server
//! logs `authentication error - <AuthError::log>`.
//!
//! Order of checks ([`authenticate`], nats-server
//! `processClientOrLeafAuthentication`):
//! 1. Auth not required for this connection kind ([`AuthConfig::auth_required`])
//!    → accepted as nobody in `$G`.
//! 2. For websocket connections, cookies fill empty CONNECT fields
//!    (websocket.md §5.4); the websocket override (§5.1–5.2) selects which
//!    single user/password/token and which `no_auth_user` apply.
//! 3. Operator mode: a user JWT is mandatory and decided alone (§3.4).
//!    Outside operator mode any JWT is ignored.
//! 4. nkey users: `no_auth_user` naming an nkey user when the client sent
//!    no user/pass/token/nkey; else CONNECT `nkey` is looked up (unknown or
//!    connection type not allowed → fail) and `sig` must sign the nonce.
//! 5. Else, if there are users: with a [`TlsIdentity`] (verify_and_map) the
//!    certificate maps to a user; else `no_auth_user` when the client sent no
//!    user/pass/token; else CONNECT `user` is looked up (a password-less
//!    user that a `verify_and_map` listener could map is refused here, see
//!    [`AuthConfig::tls_map`]); then the password is compared (bcrypt or
//!    constant time).
//! 6. Else single token, or single user + password.
//!
//! JWT `times` connect windows are evaluated in their `times_location`
//! through the caller's [`TimeZones`] ([`times`]).
//!
//! Not implemented (documented divergences): account connection limits and the account-expiry timer are the caller's;
//! auth callout, custom authenticators, `proxy_required` and pinned accounts
//! do not exist here.

use alloc::borrow::ToOwned;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::net::IpAddr;

use crate::proto::Connect;

pub mod jwt;
pub mod nkey;
mod permissions;
mod scope;
pub mod times;

pub use times::{TimeZones, UtcOnly};

pub use permissions::{
    is_subset_match, InvalidPermissionSubject, Permissions, PermissionsSpec, ResponsePermission,
    DEFAULT_RESPONSE_EXPIRES_MS, DEFAULT_RESPONSE_MAX, SYS_QUEUE,
};

/// The default (global) account name.
pub const GLOBAL_ACCOUNT: &str = "$G";

/// Kind of a connection for `allowed_connection_types`
/// (nats-protocol.md §3.8, websocket.md §5.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnectionType {
    /// Plain TCP (or TLS) NATS client: `STANDARD`.
    Standard,
    /// NATS client over WebSocket: `WEBSOCKET`.
    Websocket,
    /// Leafnode over TCP: `LEAFNODE`.
    Leafnode,
    /// Leafnode over WebSocket: `LEAFNODE_WS`.
    LeafnodeWs,
    /// MQTT over TCP: `MQTT`.
    Mqtt,
    /// MQTT over WebSocket: `MQTT_WS`.
    MqttWs,
    /// In-process client: `IN_PROCESS`.
    InProcess,
}

const ALL_TYPES: [ConnectionType; 7] = [
    ConnectionType::Standard,
    ConnectionType::Websocket,
    ConnectionType::Leafnode,
    ConnectionType::LeafnodeWs,
    ConnectionType::Mqtt,
    ConnectionType::MqttWs,
    ConnectionType::InProcess,
];

impl ConnectionType {
    /// Parses a type name, ASCII case-insensitively (`websocket` →
    /// `Websocket`). `None` for an unknown name.
    pub fn parse(s: &str) -> Option<Self> {
        ALL_TYPES
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
    }

    /// The upper-case name: `STANDARD`, `WEBSOCKET`, `LEAFNODE`,
    /// `LEAFNODE_WS`, `MQTT`, `MQTT_WS`, `IN_PROCESS`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionType::Standard => "STANDARD",
            ConnectionType::Websocket => "WEBSOCKET",
            ConnectionType::Leafnode => "LEAFNODE",
            ConnectionType::LeafnodeWs => "LEAFNODE_WS",
            ConnectionType::Mqtt => "MQTT",
            ConnectionType::MqttWs => "MQTT_WS",
            ConnectionType::InProcess => "IN_PROCESS",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of connection types; empty = every type allowed (§3.8).
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct ConnectionTypes(u8);

impl ConnectionTypes {
    /// Adds a type.
    pub fn insert(&mut self, t: ConnectionType) {
        self.0 |= t.bit();
    }

    /// Whether a connection of type `t` is allowed: the set is empty or
    /// contains `t` (`WEBSOCKET` does not cover `MQTT_WS`/`LEAFNODE_WS`).
    pub fn allows(self, t: ConnectionType) -> bool {
        self.0 == 0 || self.0 & t.bit() != 0
    }

    /// Whether `t` was inserted. Unlike [`ConnectionTypes::allows`], an
    /// empty set contains nothing: for sets that name listeners (such as
    /// [`AuthConfig::tls_map`]) rather than restrict a user.
    pub fn contains(self, t: ConnectionType) -> bool {
        self.0 & t.bit() != 0
    }

    /// Whether no type was inserted.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Parses a user JWT's `allowed_connection_types` (websocket.md §5.6):
    /// unknown names are ignored as long as at least one known name remains.
    /// Returns `None` (reject the user) when the list is non-empty but has
    /// no known name.
    pub fn from_jwt_list(list: &[String]) -> Option<ConnectionTypes> {
        let mut set = ConnectionTypes::default();
        for s in list {
            if let Some(t) = ConnectionType::parse(s) {
                set.insert(t);
            }
        }
        if !list.is_empty() && set.is_empty() {
            None
        } else {
            Some(set)
        }
    }
}

impl FromIterator<ConnectionType> for ConnectionTypes {
    fn from_iter<I: IntoIterator<Item = ConnectionType>>(iter: I) -> Self {
        let mut s = ConnectionTypes::default();
        for t in iter {
            s.insert(t);
        }
        s
    }
}

/// One configured user (`authorization.users` or an account's `users`).
#[derive(Clone, Debug, Default)]
pub struct User {
    /// `user` name (`None` for nkey users).
    pub username: Option<String>,
    /// `nkey`: the `U…` public key (nkey users take no username/password).
    pub nkey: Option<String>,
    /// `password`: plain text, or a bcrypt hash matching
    /// `^\$2[abxy]\$\d{2}\$.*` (§3.2). `None` = empty.
    pub password: Option<String>,
    /// Compiled permissions (`None` = everything allowed).
    pub permissions: Option<Arc<Permissions>>,
    /// `allowed_connection_types` (empty = all).
    pub connection_types: ConnectionTypes,
    /// The account name; [`GLOBAL_ACCOUNT`] (`$G`) when none.
    pub account: String,
}

/// The websocket block's own auth settings (websocket.md §5.1–5.3).
#[derive(Clone, Debug, Default)]
pub struct WebsocketAuth {
    /// `authorization.user` of the websocket block.
    pub username: Option<String>,
    /// `authorization.password` of the websocket block.
    pub password: Option<String>,
    /// `authorization.token` of the websocket block.
    pub token: Option<String>,
    /// `no_auth_user` of the websocket block.
    pub no_auth_user: Option<String>,
}

impl WebsocketAuth {
    /// The override flag (websocket.md §5.1): a non-empty websocket
    /// `username`, `token` or `no_auth_user` (a password alone is not an
    /// override).
    pub fn is_override(&self) -> bool {
        non_empty(&self.username) || non_empty(&self.token) || non_empty(&self.no_auth_user)
    }
}

/// Operator (JWT) mode configuration (nats-protocol.md §3.4).
#[derive(Clone, Debug, Default)]
pub struct Operator {
    /// Trusted operator public keys (`O…`) and their signing keys: an
    /// account JWT must be issued by one of them.
    pub trusted_keys: Vec<String>,
    /// `resolver: MEMORY` + `resolver_preload`: account public key → account
    /// JWT (raw text).
    pub accounts: BTreeMap<String, String>,
}

/// Everything authentication needs from the configuration.
#[derive(Clone, Debug, Default)]
pub struct AuthConfig {
    /// `authorization.users` plus every account's users (usernames and
    /// nkeys are unique; the first match wins).
    pub users: Vec<User>,
    /// Single `user` (with `password`).
    pub username: Option<String>,
    /// Single `password` (plain or bcrypt).
    pub password: Option<String>,
    /// Single `token` (plain or bcrypt).
    pub token: Option<String>,
    /// Global `no_auth_user`.
    pub no_auth_user: Option<String>,
    /// The websocket block's auth settings.
    pub websocket: WebsocketAuth,
    /// The mqtt block's auth settings (`mqtt { authorization {…},
    /// no_auth_user }`, mqtt spec §2.9): the same override rule as the
    /// websocket block's, for [`ConnectionType::Mqtt`] and
    /// [`ConnectionType::MqttWs`].
    pub mqtt: WebsocketAuth,
    /// Operator mode (`Some` = trusted keys/operators configured).
    pub operator: Option<Operator>,
    /// The connection types whose listener maps client certificates to
    /// users (`verify_and_map` in its `tls {}` block, listener enabled):
    /// [`ConnectionType::Standard`] for the client port,
    /// [`ConnectionType::Websocket`] for the websocket port. Default: none.
    ///
    /// A user with no password whom one of these listeners could map (its
    /// `allowed_connection_types` admit that listener) is a certificate-only
    /// identity: it is never matched by name with an empty password on a
    /// connection that did not map a certificate, only through the mapping
    /// or as the `no_auth_user` (nats-server `canTLSMap` and
    /// `processClientOrLeafAuthentication`, nats-protocol.md §3.1).
    pub tls_map: ConnectionTypes,
}

fn non_empty(s: &Option<String>) -> bool {
    s.as_deref().is_some_and(|s| !s.is_empty())
}

fn opt(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("")
}

/// Single-user credentials and no-auth user in effect for one connection.
struct Effective<'a> {
    username: &'a str,
    password: &'a str,
    token: &'a str,
    no_auth_user: &'a str,
}

impl AuthConfig {
    /// Auth required by the server configuration itself (§3.1).
    fn globally_required(&self) -> bool {
        self.operator.is_some()
            || !self.users.is_empty()
            || non_empty(&self.username)
            || non_empty(&self.token)
    }

    fn ws_override(&self, kind: ConnectionType) -> bool {
        (kind == ConnectionType::Websocket && self.websocket.is_override())
            || (matches!(kind, ConnectionType::Mqtt | ConnectionType::MqttWs)
                && self.mqtt.is_override())
    }

    /// The `no_auth_user` a client of `kind` that sends no credentials is
    /// bound to (the websocket block's for websocket clients when it
    /// overrides), if any.
    pub fn no_auth_user_for(&self, kind: ConnectionType) -> Option<&str> {
        Some(self.effective(kind).no_auth_user).filter(|n| !n.is_empty())
    }

    fn effective(&self, kind: ConnectionType) -> Effective<'_> {
        if self.ws_override(kind) {
            let ws = if kind == ConnectionType::Websocket {
                &self.websocket
            } else {
                &self.mqtt
            };
            Effective {
                username: opt(&ws.username),
                password: opt(&ws.password),
                token: opt(&ws.token),
                no_auth_user: opt(&ws.no_auth_user),
            }
        } else {
            let mut no_auth_user = opt(&self.no_auth_user);
            if kind == ConnectionType::LeafnodeWs && non_empty(&self.websocket.no_auth_user) {
                no_auth_user = opt(&self.websocket.no_auth_user);
            }
            Effective {
                username: opt(&self.username),
                password: opt(&self.password),
                token: opt(&self.token),
                no_auth_user,
            }
        }
    }

    /// Whether a connection of this kind must authenticate: the server
    /// requires auth (operator mode, users/nkeys, single user or token) or,
    /// for websocket clients, the websocket override is set
    /// (websocket.md §5.1).
    fn required_for(&self, kind: ConnectionType) -> bool {
        self.globally_required() || self.ws_override(kind)
    }

    /// INFO `auth_required` for a connection of this kind (§3.1,
    /// websocket.md §5.1): auth is required for it and no `no_auth_user`
    /// applies to it (the websocket one under the override, §5.3).
    pub fn auth_required(&self, kind: ConnectionType) -> bool {
        self.required_for(kind) && self.effective(kind).no_auth_user.is_empty()
    }

    /// Whether INFO must carry a `nonce`: some user has an nkey, or operator
    /// mode.
    pub fn needs_nonce(&self) -> bool {
        self.operator.is_some() || self.users.iter().any(|u| non_empty(&u.nkey))
    }

    /// Pre-CONNECT fast path (websocket.md §5.3): when the first operation
    /// is not CONNECT, the connection is bound to the `no_auth_user` that
    /// applies to this kind (the websocket one for websocket clients under
    /// the override). `None` when auth is not required or no no-auth user
    /// applies; `Some(Err)` when that user does not exist or its
    /// `allowed_connection_types` exclude this kind.
    pub fn no_auth_identity(&self, kind: ConnectionType) -> Option<Result<Identity, AuthError>> {
        if !self.required_for(kind) {
            return None;
        }
        let name = self.effective(kind).no_auth_user;
        if name.is_empty() {
            return None;
        }
        let user = self
            .users
            .iter()
            .find(|u| opt(&u.username) == name || (u.username.is_none() && opt(&u.nkey) == name));
        Some(match user {
            Some(u) if u.connection_types.allows(kind) => Ok(identity_of(u)),
            Some(u) if u.nkey.is_some() && u.username.is_none() => {
                Err(AuthError::new(format!("Nkey {name:?}")))
            }
            _ => Err(AuthError::new(format!("User {name:?}"))),
        })
    }

    fn find_user(&self, name: &str) -> Option<&User> {
        if name.is_empty() {
            return None;
        }
        self.users
            .iter()
            .find(|u| u.nkey.is_none() && opt(&u.username) == name)
    }

    fn find_nkey(&self, key: &str) -> Option<&User> {
        if key.is_empty() {
            return None;
        }
        self.users.iter().find(|u| opt(&u.nkey) == key)
    }

    /// nats-server `Options.canTLSMap`: whether some listener that maps
    /// certificates ([`AuthConfig::tls_map`]) admits this user.
    fn can_tls_map(&self, u: &User) -> bool {
        ALL_TYPES
            .into_iter()
            .any(|t| self.tls_map.contains(t) && u.connection_types.allows(t))
    }

    fn has_nkeys(&self) -> bool {
        self.users.iter().any(|u| u.nkey.is_some())
    }

    fn has_users(&self) -> bool {
        self.users.iter().any(|u| u.nkey.is_none())
    }
}

/// Credentials cookies captured at the WebSocket upgrade (websocket.md
/// §5.4), by the configured cookie names. Used only for
/// [`ConnectionType::Websocket`] connections, each to fill the matching
/// CONNECT field when that field is empty.
#[derive(Clone, Copy, Debug, Default)]
pub struct Cookies<'a> {
    /// `jwt_cookie` value → CONNECT `jwt`.
    pub jwt: Option<&'a str>,
    /// `user_cookie` value → CONNECT `user`.
    pub user: Option<&'a str>,
    /// `pass_cookie` value → CONNECT `pass`.
    pub pass: Option<&'a str>,
    /// `token_cookie` value → CONNECT `auth_token`.
    pub token: Option<&'a str>,
}

impl<'a> From<&'a crate::ws::handshake::CookieValues> for Cookies<'a> {
    /// The cookies the upgrade captured, as authentication takes them.
    fn from(v: &'a crate::ws::handshake::CookieValues) -> Self {
        Cookies {
            jwt: v.jwt.as_deref(),
            user: v.user.as_deref(),
            pass: v.pass.as_deref(),
            token: v.token.as_deref(),
        }
    }
}

/// Client certificate identity for `verify_and_map` (websocket.md §5.7).
///
/// Mapping order (nats-server `checkClientTLSCertSubject`): each email SAN,
/// each DNS SAN, each URI SAN, as a user name; then the subject DN: equal
/// strings, or a user name that parses as a DN with the same attributes
/// (RDN order ignored, attribute types case-insensitive). Users whose
/// `allowed_connection_types` exclude the connection are skipped.
/// Simplification: nats-server's extra variant with the `DC=` components
/// appended is not tried.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsIdentity {
    /// The subject DN in RFC 2253 form, e.g. `CN=alice,OU=NATS`.
    pub subject_dn: String,
    /// rfc822Name SANs.
    pub emails: Vec<String>,
    /// dNSName SANs.
    pub dns_names: Vec<String>,
    /// URI SANs.
    pub uris: Vec<String>,
}

/// What a connection presents for authentication.
#[derive(Clone, Copy, Debug)]
pub struct Credentials<'a> {
    /// The CONNECT options.
    pub connect: &'a Connect,
    /// Connection type.
    pub kind: ConnectionType,
    /// The nonce as sent in INFO (empty when none).
    pub nonce: &'a [u8],
    /// Cookies of the WebSocket upgrade (used for websocket kind only).
    pub cookies: Cookies<'a>,
    /// `Some` only when verify_and_map applies to this listener (the
    /// websocket block's setting for websocket clients).
    pub tls: Option<&'a TlsIdentity>,
    /// Current time, Unix seconds (JWT `exp`/`nbf`, `times` windows).
    pub now_unix_secs: u64,
    /// Wall-clock conversions for JWT `times` windows ([`UtcOnly`] where
    /// there is no time-zone database).
    pub zones: &'a dyn TimeZones,
    /// Client IP (JWT `src`); `None` fails any JWT with `src`.
    pub client_ip: Option<IpAddr>,
}

/// Who a connection is after authentication.
#[derive(Clone, Debug)]
pub struct Identity {
    /// For logs and connz `authorized_user`: the user name, the nkey or JWT
    /// user public key; `""` for token auth or no auth.
    pub user: String,
    /// [`GLOBAL_ACCOUNT`] by default; the account public key in operator mode.
    pub account: String,
    /// Compiled permissions (`None` = everything allowed).
    pub permissions: Option<Arc<Permissions>>,
    /// JWT `exp` (Unix seconds): at that time close the connection with
    /// `-ERR 'User Authentication Expired'`.
    pub expires_at_unix: Option<u64>,
    /// Max subscriptions from the JWT (and account) limits; `None` = no
    /// per-user limit.
    pub max_subscriptions: Option<i64>,
    /// Max payload bytes from the JWT (and account) limits; `None` = no
    /// per-user limit.
    pub max_payload: Option<i64>,
}

impl Identity {
    fn anonymous() -> Identity {
        Identity {
            user: String::new(),
            account: GLOBAL_ACCOUNT.into(),
            permissions: None,
            expires_at_unix: None,
            max_subscriptions: None,
            max_payload: None,
        }
    }
}

fn identity_of(u: &User) -> Identity {
    Identity {
        user: u
            .nkey
            .clone()
            .or_else(|| u.username.clone())
            .unwrap_or_default(),
        account: if u.account.is_empty() {
            GLOBAL_ACCOUNT.into()
        } else {
            u.account.clone()
        },
        permissions: u.permissions.clone(),
        expires_at_unix: None,
        max_subscriptions: None,
        max_payload: None,
    }
}

/// An authentication failure. The client gets `-ERR 'Authorization
/// Violation'` and the connection is closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthError {
    /// What the server logs after `authentication error - `, never a secret:
    /// `JWT User "U…"` (operator mode), `Nkey "U…"`, `User "bob"`,
    /// `Token "[REDACTED]"` or `User "N/A"` (nats-protocol.md §3.1), chosen
    /// in that order from the credentials presented.
    pub log: String,
    /// The user or account JWT was expired (or not yet valid). Informational:
    /// at CONNECT nats-server still answers `Authorization Violation`;
    /// `User Authentication Expired` is only sent by the expiry timer of an
    /// authenticated connection ([`Identity::expires_at_unix`]).
    pub expired: bool,
    /// Why a user JWT that checked out was still refused, logged by
    /// nats-server on its own line before the authentication error:
    /// `Bad src Ip <ip>` (the client IP is outside the JWT's `src`) or
    /// `Outside connect times` (no `times` window is open now).
    pub detail: Option<String>,
}

impl AuthError {
    fn new(log: String) -> AuthError {
        AuthError {
            log,
            expired: false,
            detail: None,
        }
    }
}

/// Credentials after cookie filling.
struct Presented<'a> {
    user: &'a str,
    pass: &'a str,
    token: &'a str,
    nkey: &'a str,
    sig: &'a str,
    jwt: &'a str,
}

fn label(cfg: &AuthConfig, p: &Presented<'_>) -> String {
    if cfg.operator.is_some() && !p.jwt.is_empty() {
        if let Some(sub) = jwt::peek_subject(p.jwt) {
            return format!("JWT User {sub:?}");
        }
    }
    if !p.nkey.is_empty() {
        format!("Nkey {:?}", p.nkey)
    } else if !p.user.is_empty() {
        format!("User {:?}", p.user)
    } else if !p.token.is_empty() {
        "Token \"[REDACTED]\"".to_owned()
    } else {
        "User \"N/A\"".to_owned()
    }
}

/// Constant-time byte comparison (the length is not hidden).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= core::hint::black_box(x ^ y);
    }
    core::hint::black_box(diff) == 0
}

/// Whether a configured password or token is a bcrypt hash: matches
/// `^\$2[abxy]\$\d{2}\$.*` (nats-protocol.md §3.2).
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

/// nats-server `comparePasswords`: bcrypt when the server value is a bcrypt
/// hash (a client password over 72 bytes fails, as Go's bcrypt returns
/// `ErrPasswordTooLong`), else a constant-time comparison.
pub fn compare_passwords(server: &str, client: &str) -> bool {
    if is_bcrypt(server) {
        client.len() <= 72 && bcrypt::verify(client, server).unwrap_or(false)
    } else {
        ct_eq(server.as_bytes(), client.as_bytes())
    }
}

/// The full check of nats-protocol.md §3.1 (see the module docs for the
/// order): cookies, websocket override, operator-mode JWT chain, nkeys,
/// users (TLS map, no_auth_user, password), single user or token.
///
/// # Errors
/// [`AuthError`] for any failure; the wire reply is always
/// `-ERR 'Authorization Violation'`.
pub fn authenticate(cfg: &AuthConfig, creds: &Credentials<'_>) -> Result<Identity, AuthError> {
    let kind = creds.kind;
    if !cfg.required_for(kind) {
        return Ok(Identity::anonymous());
    }
    let c = creds.connect;
    let mut p = Presented {
        user: &c.user,
        pass: &c.pass,
        token: &c.auth_token,
        nkey: &c.nkey,
        sig: &c.sig,
        jwt: &c.jwt,
    };
    if kind == ConnectionType::Websocket {
        let k = &creds.cookies;
        fill(&mut p.jwt, k.jwt);
        fill(&mut p.user, k.user);
        fill(&mut p.pass, k.pass);
        fill(&mut p.token, k.token);
    }
    let eff = cfg.effective(kind);
    let fail = |p: &Presented<'_>| AuthError::new(label(cfg, p));

    if let Some(op) = &cfg.operator {
        return scope::authenticate_jwt(op, creds, p.jwt, p.sig).map_err(|f| AuthError {
            log: label(cfg, &p),
            expired: f == scope::JwtFail::Expired,
            detail: match f {
                scope::JwtFail::Src => Some(format!(
                    "Bad src Ip {}",
                    creds.client_ip.map(|ip| ip.to_string()).unwrap_or_default()
                )),
                scope::JwtFail::Times => Some("Outside connect times".into()),
                _ => None,
            },
        });
    }

    let no_creds = p.user.is_empty() && p.pass.is_empty() && p.token.is_empty();
    // nkey users (step 2).
    if cfg.has_nkeys() {
        if no_creds && p.nkey.is_empty() && !eff.no_auth_user.is_empty() {
            if let Some(u) = cfg.find_nkey(eff.no_auth_user) {
                if !u.connection_types.allows(kind) {
                    return Err(AuthError::new(format!("Nkey {:?}", eff.no_auth_user)));
                }
                return Ok(identity_of(u));
            }
        }
        if !p.nkey.is_empty() {
            let Some(u) = cfg.find_nkey(p.nkey) else {
                return Err(fail(&p));
            };
            if !u.connection_types.allows(kind) {
                return Err(fail(&p));
            }
            return match nkey::verify_nonce(p.nkey, creds.nonce, p.sig) {
                Ok(()) => Ok(identity_of(u)),
                Err(_) => Err(fail(&p)),
            };
        }
    }
    // users (step 3).
    if cfg.has_users() {
        let user = if let Some(tls) = creds.tls {
            match map_tls(cfg, tls, kind) {
                Some(u) => {
                    p.user = opt(&u.username);
                    u
                }
                None => return Err(fail(&p)),
            }
        } else {
            // Named in CONNECT (or a cookie) on a connection that mapped no
            // certificate: a password-less user that a mapping listener
            // could select is a certificate-only identity, and two empty
            // passwords must not match (nats-server
            // `processClientOrLeafAuthentication`). The no_auth_user binding
            // above needs no secret either way.
            if no_creds && !eff.no_auth_user.is_empty() {
                if let Some(u) = cfg.find_user(eff.no_auth_user) {
                    if !u.connection_types.allows(kind) {
                        return Err(AuthError::new(format!("User {:?}", eff.no_auth_user)));
                    }
                    return Ok(identity_of(u));
                }
            }
            if p.user.is_empty() {
                return Err(fail(&p));
            }
            match cfg.find_user(p.user) {
                Some(u) if u.connection_types.allows(kind) => {
                    if u.password.as_deref().unwrap_or("").is_empty()
                        && opt(&u.username) != eff.no_auth_user
                        && cfg.can_tls_map(u)
                    {
                        return Err(fail(&p));
                    }
                    u
                }
                _ => return Err(fail(&p)),
            }
        };
        return if compare_passwords(opt(&user.password), p.pass) {
            Ok(identity_of(user))
        } else {
            Err(fail(&p))
        };
    }
    // single token / user (step 4).
    if matches!(kind, ConnectionType::Leafnode | ConnectionType::LeafnodeWs) {
        // nats-server binds a leafnode without matching credentials to the
        // global account.
        return Ok(Identity::anonymous());
    }
    if !eff.token.is_empty() {
        return if compare_passwords(eff.token, p.token) {
            Ok(Identity::anonymous())
        } else {
            Err(fail(&p))
        };
    }
    if !eff.username.is_empty() {
        return if eff.username == p.user && compare_passwords(eff.password, p.pass) {
            Ok(Identity {
                user: eff.username.into(),
                ..Identity::anonymous()
            })
        } else {
            Err(fail(&p))
        };
    }
    Err(fail(&p))
}

fn fill<'a>(field: &mut &'a str, cookie: Option<&'a str>) {
    if field.is_empty() {
        if let Some(v) = cookie {
            *field = v;
        }
    }
}

/// verify_and_map lookup (see [`TlsIdentity`]).
fn map_tls<'c>(cfg: &'c AuthConfig, tls: &TlsIdentity, kind: ConnectionType) -> Option<&'c User> {
    let by_name = |name: &str| {
        cfg.find_user(name)
            .filter(|u| u.connection_types.allows(kind))
    };
    for n in tls.emails.iter().chain(&tls.dns_names).chain(&tls.uris) {
        if let Some(u) = by_name(n) {
            return Some(u);
        }
    }
    if tls.subject_dn.is_empty() {
        return None;
    }
    if let Some(u) = by_name(&tls.subject_dn) {
        return Some(u);
    }
    let cert = parse_dn(&tls.subject_dn)?;
    cfg.users.iter().find(|u| {
        u.nkey.is_none()
            && u.connection_types.allows(kind)
            && parse_dn(opt(&u.username)).is_some_and(|d| d == cert)
    })
}

/// Parses an RFC 2253 DN into a sorted list of `(TYPE, value)` attributes
/// (types upper-cased, `\`-escapes resolved, surrounding spaces trimmed).
/// `None` if there is no `type=value` pair.
fn parse_dn(s: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut parts: Vec<String> = Vec::new();
    let mut chars = s.chars();
    while let Some(ch) = chars.next() {
        match ch {
            '\\' => {
                if let Some(n) = chars.next() {
                    cur.push('\\');
                    cur.push(n);
                }
            }
            ',' | '+' | ';' => parts.push(core::mem::take(&mut cur)),
            _ => cur.push(ch),
        }
    }
    parts.push(cur);
    for part in parts {
        let (t, v) = part.split_once('=')?;
        let t = t.trim();
        if t.is_empty() {
            return None;
        }
        let mut val = String::new();
        let mut it = v.trim().chars();
        while let Some(ch) = it.next() {
            if ch == '\\' {
                if let Some(n) = it.next() {
                    val.push(n);
                }
            } else {
                val.push(ch);
            }
        }
        out.push((t.to_ascii_uppercase(), val));
    }
    if out.is_empty() {
        return None;
    }
    out.sort();
    Some(out)
}
