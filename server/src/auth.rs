//! The server's side of authentication: builds `natsws_core::auth`'s
//! configuration from the options once at startup, and gathers the inputs
//! of one connection's check (nonce, cookies, certificate identity). The
//! decisions themselves are core's (`natsws_core::auth::authenticate`).
//!
//! Spec: `nats-protocol.md` §3, `websocket.md` §5.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use natsws_core::auth::{
    self, AuthConfig, ConnectionType, ConnectionTypes, Operator, Permissions, PermissionsSpec,
    ResponsePermission, User, WebsocketAuth,
};
use natsws_core::time::Millis;

use crate::kind::ConnKind;
use crate::options::{self, Options, DEFAULT_AUTH_TIMEOUT};
use crate::tls::DEFAULT_TLS_TIMEOUT;

/// Authentication settings of a running server.
pub struct ServerAuth {
    /// What core decides with.
    pub cfg: AuthConfig,
    /// Time allowed for CONNECT on the client port, ms.
    pub auth_timeout: Millis,
    /// Time allowed for CONNECT on the websocket port (the websocket
    /// `authorization.timeout` when set), ms.
    pub ws_auth_timeout: Millis,
    /// Time allowed for an MQTT CONNECT when auth is required (the mqtt
    /// block's `authorization.timeout` when set), ms.
    pub mqtt_auth_timeout: Millis,
    /// [`ServerAuth::required`] per kind (client, websocket), decided once.
    required: [bool; ConnKind::ALL.len()],
    /// [`ServerAuth::checks`] per kind, decided once (finding the no-auth
    /// user builds an identity: not something to do per connection).
    checks: [bool; ConnKind::ALL.len()],
}

impl ServerAuth {
    /// Whether INFO says `auth_required` for this kind of connection (the
    /// auth timer runs and CONNECT must come first).
    pub fn required(&self, kind: ConnKind) -> bool {
        self.required[kind.index()]
    }

    /// Whether CONNECTs of this kind are checked at all (also when a
    /// `no_auth_user` makes credentials optional).
    pub fn checks(&self, kind: ConnKind) -> bool {
        self.checks[kind.index()]
    }

    /// INFO `auth_required` for this kind: as [`ServerAuth::required`],
    /// except that a `no_auth_user` does not clear it for WebSocket
    /// clients (nats-server builds the websocket INFO from the global auth
    /// state; TestWSNoAuthUser).
    pub fn info_auth_required(&self, kind: ConnKind) -> bool {
        match kind {
            ConnKind::WEBSOCKET => self.checks(kind),
            // Leafnode INFO always says auth_required (spec leafnode.md §3.2).
            _ if kind.is_leaf() => true,
            _ => self.required(kind),
        }
    }

    /// The auth timer of this kind of connection.
    pub fn timeout(&self, kind: ConnKind) -> Millis {
        match kind {
            ConnKind::WEBSOCKET => self.ws_auth_timeout,
            ConnKind {
                kind: crate::kind::Kind::Mqtt,
                ..
            } => self.mqtt_auth_timeout,
            _ => self.auth_timeout,
        }
    }
}

/// A fresh nonce for INFO: 11 random bytes, base64 URL-safe without
/// padding (15 characters), as nats-server makes them.
pub fn new_nonce() -> String {
    use base64::Engine as _;
    let mut raw = [0u8; 11];
    let rng = rustls::crypto::ring::default_provider().secure_random;
    if rng.fill(&mut raw).is_err() {
        // The system RNG failing is fatal for a server that signs nothing
        // itself, but a nonce must never be predictable: refuse to go on.
        crate::error!("system random number generator failed");
        std::process::exit(2);
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn perms_spec(p: &options::Permissions) -> PermissionsSpec {
    let allow = |sp: &Option<options::SubjectPermission>| {
        sp.as_ref()
            .and_then(|s| (!s.allow.is_empty()).then(|| s.allow.clone()))
    };
    let deny = |sp: &Option<options::SubjectPermission>| {
        sp.as_ref().map(|s| s.deny.clone()).unwrap_or_default()
    };
    PermissionsSpec {
        publish_allow: allow(&p.publish),
        publish_deny: deny(&p.publish),
        subscribe_allow: allow(&p.subscribe),
        subscribe_deny: deny(&p.subscribe),
        allow_responses: p.allow_responses.as_ref().map(|r| ResponsePermission {
            max: r.max,
            expires_ms: r.expires.as_millis() as u64,
        }),
    }
}

/// Why the authorization, accounts or operator configuration could not be
/// built. `Display` is the startup error line.
#[derive(Debug)]
#[non_exhaustive]
pub enum AuthConfigError {
    /// A `permissions` (or `default_permissions`) block with an invalid
    /// subject: `subject "x" is not a valid subject`.
    Permissions(auth::InvalidPermissionSubject),
    /// An `operator` entry naming a file that cannot be read: `error
    /// parsing operator JWT: <I/O error>`.
    OperatorRead(std::io::Error),
    /// An `operator` file with no line starting `eyJ`: `error parsing
    /// operator JWT: no JWT found in "<path>"`.
    OperatorNoJwt(String),
    /// An operator JWT that fails verification (bad encoding or
    /// signature, not self-signed): `error parsing operator JWT: <why>`.
    OperatorVerify(auth::jwt::Error),
    /// An operator JWT whose claims are not JSON of the expected shape:
    /// `error parsing operator JWT: <serde_json error>`.
    OperatorClaims(serde_json::Error),
    /// A valid JWT that is not an operator's (`nats.type` not `operator`,
    /// or a subject not an `O…` key): `error parsing operator JWT: not an
    /// operator JWT`.
    NotOperator,
}

impl std::fmt::Display for AuthConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const OP: &str = "error parsing operator JWT";
        match self {
            AuthConfigError::Permissions(e) => e.fmt(f),
            AuthConfigError::OperatorRead(e) => write!(f, "{OP}: {e}"),
            AuthConfigError::OperatorNoJwt(entry) => write!(f, "{OP}: no JWT found in {entry:?}"),
            AuthConfigError::OperatorVerify(e) => write!(f, "{OP}: {e}"),
            AuthConfigError::OperatorClaims(e) => write!(f, "{OP}: {e}"),
            AuthConfigError::NotOperator => write!(f, "{OP}: not an operator JWT"),
        }
    }
}

impl std::error::Error for AuthConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AuthConfigError::OperatorRead(e) => Some(e),
            AuthConfigError::OperatorVerify(e) => Some(e),
            AuthConfigError::OperatorClaims(e) => Some(e),
            _ => None,
        }
    }
}

fn compile(p: &options::Permissions) -> Result<Arc<Permissions>, AuthConfigError> {
    Permissions::compile(&perms_spec(p))
        .map(Arc::new)
        .map_err(AuthConfigError::Permissions)
}

fn conn_types(list: &[ConnectionType]) -> ConnectionTypes {
    let mut set = ConnectionTypes::default();
    for &t in list {
        set.insert(t);
    }
    set
}

fn user(
    u: &options::User,
    account: &str,
    default: Option<&Arc<Permissions>>,
) -> Result<User, AuthConfigError> {
    let permissions = match &u.permissions {
        Some(p) => Some(compile(p)?),
        None => default.cloned(),
    };
    Ok(User {
        username: u.user.clone(),
        nkey: u.nkey.clone(),
        password: u.password.clone(),
        permissions,
        connection_types: conn_types(&u.allowed_connection_types),
        account: account.to_string(),
    })
}

/// Reads an `operator` entry: an inline JWT (`eyJ…`) or a file holding one
/// (surrounding whitespace and `-----BEGIN…` armour lines are ignored).
fn read_operator_jwt(entry: &str) -> Result<String, AuthConfigError> {
    if entry.starts_with("eyJ") {
        return Ok(entry.to_string());
    }
    let text = std::fs::read_to_string(entry).map_err(AuthConfigError::OperatorRead)?;
    text.lines()
        .map(str::trim)
        .find(|l| l.starts_with("eyJ"))
        .map(str::to_string)
        .ok_or_else(|| AuthConfigError::OperatorNoJwt(entry.to_string()))
}

/// Verifies a self-signed operator JWT (`iss` = `sub`, an `O…` key,
/// `nats.type` `operator`) and returns its subject and signing keys.
fn decode_operator(jwt: &str) -> Result<(String, Vec<String>), AuthConfigError> {
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct OpNats {
        #[serde(rename = "type")]
        kind: String,
        signing_keys: Vec<String>,
    }
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct OpClaims {
        sub: String,
        nats: OpNats,
    }
    let v = auth::jwt::verify(jwt).map_err(AuthConfigError::OperatorVerify)?;
    let c: OpClaims =
        serde_json::from_slice(&v.claims_json).map_err(AuthConfigError::OperatorClaims)?;
    if c.nats.kind != "operator" || !c.sub.starts_with('O') {
        return Err(AuthConfigError::NotOperator);
    }
    Ok((c.sub, c.nats.signing_keys))
}

/// Builds the auth configuration, or `None` when nothing is configured
/// (every connection is then anonymous in `$G`, and no check runs).
///
/// # Errors
/// An [`AuthConfigError`]: an invalid permission subject, an unreadable or
/// invalid operator JWT.
pub fn build(opts: &Options) -> Result<Option<ServerAuth>, AuthConfigError> {
    let a = opts.authorization.as_ref();
    let ws = &opts.websocket;
    let wsa = ws.authorization.as_ref();
    let any = a.is_some_and(|a| {
        a.user.is_some() || a.password.is_some() || a.token.is_some() || !a.users.is_empty()
    }) || opts.accounts.iter().any(|acc| !acc.users.is_empty())
        || opts.no_auth_user.is_some()
        || opts.operator_mode()
        || ws.no_auth_user.is_some()
        || wsa.is_some_and(|w| w.user.is_some() || w.token.is_some() || w.password.is_some())
        || opts
            .mqtt
            .as_ref()
            .is_some_and(|m| m.username.is_some() || m.token.is_some() || m.no_auth_user.is_some());
    if !any {
        return Ok(None);
    }
    let default = match a.and_then(|a| a.default_permissions.as_ref()) {
        Some(p) => Some(compile(p)?),
        None => None,
    };
    let mut users = Vec::new();
    if let Some(a) = a {
        for u in &a.users {
            users.push(user(u, auth::GLOBAL_ACCOUNT, default.as_ref())?);
        }
    }
    for acc in &opts.accounts {
        let acc_default = match &acc.default_permissions {
            Some(p) => Some(compile(p)?),
            None => default.clone(),
        };
        for u in &acc.users {
            users.push(user(u, &acc.name, acc_default.as_ref())?);
        }
    }
    let operator = if opts.operator_mode() {
        let mut trusted_keys = opts.trusted_keys.clone();
        for op in &opts.operators {
            let jwt = read_operator_jwt(&op.value)?;
            let (subject, signing_keys) = decode_operator(&jwt)?;
            trusted_keys.push(subject);
            trusted_keys.extend(signing_keys);
        }
        let accounts: BTreeMap<String, String> = opts.resolver_preload.iter().cloned().collect();
        Some(Operator {
            trusted_keys,
            accounts,
        })
    } else {
        None
    };
    // Without an explicit timeout, a TLS client port gets the TLS timeout
    // plus 1 s (nats-protocol.md §0 step 3).
    let timeout = a
        .and_then(|a| a.timeout)
        .unwrap_or_else(|| match &opts.tls {
            Some(t) => t.timeout.unwrap_or(DEFAULT_TLS_TIMEOUT) + Duration::from_secs(1),
            None => DEFAULT_AUTH_TIMEOUT,
        });
    let ws_timeout = wsa.and_then(|w| w.timeout).unwrap_or(timeout);
    let cfg = AuthConfig {
        users,
        username: a.and_then(|a| a.user.clone()),
        password: a.and_then(|a| a.password.clone()),
        token: a.and_then(|a| a.token.clone()),
        no_auth_user: opts.no_auth_user.as_ref().map(|n| n.value.clone()),
        websocket: WebsocketAuth {
            username: wsa.and_then(|w| w.user.clone()),
            password: wsa.and_then(|w| w.password.clone()),
            token: wsa.and_then(|w| w.token.clone()),
            no_auth_user: ws.no_auth_user.clone(),
        },
        mqtt: WebsocketAuth {
            username: opts.mqtt.as_ref().and_then(|m| m.username.clone()),
            password: opts.mqtt.as_ref().and_then(|m| m.password.clone()),
            token: opts.mqtt.as_ref().and_then(|m| m.token.clone()),
            no_auth_user: opts.mqtt.as_ref().and_then(|m| m.no_auth_user.clone()),
        },
        operator,
        tls_map: tls_map(opts),
    };
    let kinds = ConnKind::ALL;
    let required = kinds.map(|k| cfg.auth_required(k.connection_type()));
    let checks = kinds.map(|k| {
        cfg.auth_required(k.connection_type())
            || cfg.no_auth_identity(k.connection_type()).is_some()
    });
    Ok(Some(ServerAuth {
        cfg,
        auth_timeout: Millis(timeout.as_millis() as u64),
        ws_auth_timeout: Millis(ws_timeout.as_millis() as u64),
        mqtt_auth_timeout: Millis(
            opts.mqtt
                .as_ref()
                .and_then(|m| m.auth_timeout)
                .unwrap_or(timeout)
                .as_millis() as u64,
        ),
        required,
        checks,
    }))
}

/// The listeners that map client certificates to users: the client port
/// and the websocket port (when enabled) whose `tls {}` block sets
/// `verify_and_map` (nats-server `canTLSMap`).
fn tls_map(opts: &Options) -> ConnectionTypes {
    let mut set = ConnectionTypes::default();
    if opts.tls.as_ref().is_some_and(|t| t.verify_and_map) {
        set.insert(ConnectionType::Standard);
    }
    let ws = &opts.websocket;
    if ws.port != 0 && ws.tls.as_ref().is_some_and(|t| t.verify_and_map) {
        set.insert(ConnectionType::Websocket);
    }
    set
}

impl std::fmt::Debug for ServerAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print credentials.
        f.debug_struct("ServerAuth")
            .field("users", &self.cfg.users.len())
            .field("operator", &self.cfg.operator.is_some())
            .field("auth_timeout", &self.auth_timeout)
            .field("ws_auth_timeout", &self.ws_auth_timeout)
            .finish()
    }
}

/// Most reply subjects a connection with `allow_responses` remembers; when
/// full, expired entries are dropped first, then the oldest half.
pub const MAX_REPLIES: usize = 4096;

impl std::fmt::Debug for DeliveryPerms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeliveryPerms")
            .field("replies", &self.replies.len())
            .finish()
    }
}

/// The permissions of a connection that publishers on any loop consult when
/// delivering to it (spec §3.5): subscribe deny patterns drop messages at
/// delivery, and with `allow_responses` each delivered reply subject becomes
/// publishable for this connection.
pub struct DeliveryPerms {
    /// The connection's compiled permissions.
    pub perms: Arc<Permissions>,
    /// Reply subject → (responses left, negative = unlimited; expiry on the
    /// server clock, `None` = never).
    pub replies: std::collections::HashMap<Vec<u8>, (i64, Option<Millis>)>,
    /// A leafnode link: the *publish* lists of `perms` decide what the link
    /// sends (nats-server `deliverMsg` checks `pubAllowedFullCheck` for a
    /// leaf), instead of the subscribe deny filter of a client.
    pub leaf_link: bool,
}

impl DeliveryPerms {
    /// Whether a message on `subject` may be delivered; records `reply` for
    /// response permissions.
    pub fn on_deliver(&mut self, subject: &[u8], reply: Option<&[u8]>, now: Millis) -> bool {
        if self.leaf_link {
            if !self.perms.can_publish(subject) {
                return false;
            }
        } else if self.perms.has_subscribe_deny() && !self.perms.can_deliver(subject) {
            return false;
        }
        if let (Some(rp), Some(reply)) = (self.perms.allow_responses(), reply) {
            if self.replies.len() >= MAX_REPLIES {
                self.replies
                    .retain(|_, (_, exp)| exp.is_none_or(|e| e > now));
                if self.replies.len() >= MAX_REPLIES {
                    self.replies.clear();
                }
            }
            let expires = (rp.expires_ms > 0).then(|| now.saturating_add(Millis(rp.expires_ms)));
            self.replies.insert(reply.to_vec(), (rp.max, expires));
        }
        true
    }

    /// Uses one response to `subject`, if this connection received it as a
    /// reply subject and the permission has not run out or expired.
    pub fn use_response(&mut self, subject: &[u8], now: Millis) -> bool {
        let Some((left, exp)) = self.replies.get_mut(subject) else {
            return false;
        };
        if exp.is_some_and(|e| e <= now) {
            self.replies.remove(subject);
            return false;
        }
        if *left > 0 {
            *left -= 1;
            if *left == 0 {
                self.replies.remove(subject);
            }
        }
        true
    }
}

/// The CONNECT JSON for the trace log with `pass`, `auth_token`, `sig` and
/// `jwt`... values replaced by `[REDACTED]` (nats-server redacts `pass`,
/// `auth_token` and `sig`; natsws also hides bearer JWTs). Unparsable JSON
/// is shown as `[UNPARSABLE]`: never echo bytes that might hold a secret.
pub fn redact_connect(json: &[u8]) -> String {
    match serde_json::from_slice::<serde_json::Value>(json) {
        Ok(serde_json::Value::Object(mut m)) => {
            for (k, v) in m.iter_mut() {
                if matches!(
                    k.to_ascii_lowercase().as_str(),
                    "pass" | "auth_token" | "sig" | "jwt"
                ) && !v.is_null()
                {
                    *v = serde_json::Value::String("[REDACTED]".into());
                }
            }
            serde_json::Value::Object(m).to_string()
        }
        _ => "[UNPARSABLE]".to_string(),
    }
}

/// JWT `times` windows in real time zones: the system's IANA database
/// (`/usr/share/zoneinfo`), else the copy bundled into the binary; `""` is
/// the server's local zone (`TZ`, else `/etc/localtime`), as Go's
/// `time.Local` is for nats-server.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemZones;

impl natsws_core::auth::TimeZones for SystemZones {
    fn local_to_unix(
        &self,
        zone: &str,
        now_unix_secs: i64,
        day_offset: i32,
        secs_of_day: u32,
    ) -> Option<i64> {
        let tz = if zone.is_empty() {
            jiff::tz::TimeZone::system()
        } else {
            jiff::tz::TimeZone::get(zone).ok()?
        };
        let today = jiff::Timestamp::from_second(now_unix_secs)
            .ok()?
            .to_zoned(tz.clone())
            .date();
        let day = today
            .checked_add(jiff::Span::new().days(i64::from(day_offset)))
            .ok()?;
        let (h, m, s) = (secs_of_day / 3600, secs_of_day / 60 % 60, secs_of_day % 60);
        let at = day.at(
            i8::try_from(h).ok()?,
            i8::try_from(m).ok()?,
            i8::try_from(s).ok()?,
            0,
        );
        Some(at.to_zoned(tz).ok()?.timestamp().as_second())
    }
}

#[cfg(test)]
mod tests {
    use super::SystemZones;
    use natsws_core::auth::TimeZones;

    /// 2026-12-04 00:00:00 UTC (a Friday, outside DST in the north).
    const DEC4: i64 = 1_796_342_400;
    /// 2026-07-01 00:00:00 UTC (inside US daylight time).
    const JUL1: i64 = 1_782_864_000;

    #[test]
    fn wall_clock_times_in_iana_zones() {
        let z = SystemZones;
        let nine = 9 * 3600;
        assert_eq!(
            z.local_to_unix("UTC", DEC4, 0, nine),
            Some(DEC4 + nine as i64)
        );
        // India, UTC+5:30: 09:00 there is 03:30 UTC the same day.
        assert_eq!(
            z.local_to_unix("Asia/Kolkata", DEC4 + 3600, 0, nine),
            Some(DEC4 + 3 * 3600 + 1800)
        );
        // New York: UTC-5 in December, UTC-4 in July.
        let ny = "America/New_York";
        assert_eq!(
            z.local_to_unix(ny, DEC4 + 12 * 3600, 0, nine),
            Some(DEC4 + 14 * 3600)
        );
        assert_eq!(
            z.local_to_unix(ny, JUL1 + 12 * 3600, 0, nine),
            Some(JUL1 + 13 * 3600)
        );
        // 02:00 UTC on Dec 4 is still Dec 3 in New York: day offsets count
        // from the local date.
        assert_eq!(
            z.local_to_unix(ny, DEC4 + 2 * 3600, 1, nine),
            Some(DEC4 + 14 * 3600)
        );
        assert_eq!(
            z.local_to_unix(ny, DEC4 + 2 * 3600, -1, nine),
            Some(DEC4 - 2 * 86_400 + 14 * 3600)
        );
        assert_eq!(z.local_to_unix("Mars/Olympus", DEC4, 0, nine), None);
        assert_eq!(z.local_to_unix("../../etc/passwd", DEC4, 0, nine), None);
        // The local zone always resolves.
        assert!(z.local_to_unix("", DEC4, 0, nine).is_some());
    }
}
