//! The in-page server's options, read from the JSON of the JavaScript
//! options object. Keys and value shapes are nats-server's config keys
//! (spec `nats-protocol.md` §4): `max_payload`, `max_control_line`,
//! `ping_interval`, `ping_max`, `no_header_support`, `max_subscriptions`,
//! `server_name`, `no_auth_user` and the `authorization {}` block (§4.4:
//! `user`/`password`, `token`, `timeout`, `users` with `permissions`,
//! `default_permissions`). Durations are numbers of seconds or Go duration
//! strings (`"2m"`, `"500ms"`), as in a config file.

use natsws_core::auth::{
    AuthConfig, ConnectionType, ConnectionTypes, InvalidPermissionSubject, Permissions,
    PermissionsSpec, ResponsePermission, User,
};
use serde_json::{Map, Value};
use std::sync::Arc;

/// Why an options object was refused. `Display` is the message of the JS
/// `Error` thrown by the constructor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ConfigError {
    /// The options are not a JSON object.
    NotAnObject,
    /// A key has a value of the wrong type: (key, what was expected).
    Type(String, &'static str),
    /// A duration string that does not parse: (key, value).
    Duration(String, String),
    /// A key nats-server has but the in-page server does not implement.
    Unsupported(String),
    /// A permission subject that is not a valid subject or filter.
    Permission(InvalidPermissionSubject),
    /// A `users` entry with neither `user` nor `nkey`.
    UserRequired,
    /// `max_payload` over nats-server's default `max_pending` (64 MiB).
    MaxPayloadOverPending(u64),
}

impl core::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ConfigError::NotAnObject => f.write_str("options must be an object"),
            ConfigError::Type(k, want) => write!(f, "option {k}: expected {want}"),
            ConfigError::Duration(k, v) => write!(f, "option {k}: invalid duration {v:?}"),
            ConfigError::Unsupported(k) => {
                write!(f, "option {k} is not supported by the in-page server")
            }
            ConfigError::Permission(e) => write!(f, "{e}"),
            ConfigError::UserRequired => f.write_str("User entry requires a user"),
            ConfigError::MaxPayloadOverPending(n) => write!(
                f,
                "max_payload ({n}) cannot be higher than max_pending ({MAX_PENDING})"
            ),
        }
    }
}

/// nats-server's default `max_pending` (64 MiB), the ceiling of `max_payload`.
const MAX_PENDING: u64 = 64 * 1024 * 1024;

/// Typed options, with nats-server's defaults.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// `max_payload` in bytes (default 1 MiB).
    pub(crate) max_payload: usize,
    /// `max_control_line` in bytes (default 4096).
    pub(crate) max_control_line: usize,
    /// `ping_interval` in ms (default 120 000).
    pub(crate) ping_interval_ms: u64,
    /// `ping_max` (default 2).
    pub(crate) ping_max: u32,
    /// `!no_header_support` (default true).
    pub(crate) headers: bool,
    /// `max_subscriptions` per connection (default 0 = unlimited).
    pub(crate) max_subscriptions: usize,
    /// `server_name` (default: the server id).
    pub(crate) server_name: Option<String>,
    /// `authorization.timeout` in ms (default 2000).
    pub(crate) auth_timeout_ms: u64,
    /// The authentication configuration; `None` without `authorization`
    /// and `no_auth_user`.
    pub(crate) auth: Option<AuthConfig>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_payload: 1024 * 1024,
            max_control_line: 4096,
            ping_interval_ms: 120_000,
            ping_max: 2,
            headers: true,
            max_subscriptions: 0,
            server_name: None,
            auth_timeout_ms: 2000,
            auth: None,
        }
    }
}

/// A Go duration (`1h2m3.5s`, `250ms`, `2m`) in milliseconds.
fn go_duration_ms(s: &str) -> Option<u64> {
    let s = s.trim();
    if s == "0" {
        return Some(0);
    }
    let mut total = 0f64;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let n: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_end] {
            "ns" => 1e-6,
            "us" | "µs" => 1e-3,
            "ms" => 1.0,
            "s" => 1e3,
            "m" => 60e3,
            "h" => 3600e3,
            _ => return None,
        };
        total += n * factor;
        rest = &rest[unit_end..];
    }
    Some(total as u64)
}

/// A duration value: a number of seconds or a Go duration string.
fn duration_ms(key: &str, v: &Value) -> Result<u64, ConfigError> {
    match v {
        Value::Number(n) => n
            .as_f64()
            .filter(|x| *x >= 0.0)
            .map(|x| (x * 1000.0) as u64)
            .ok_or_else(|| ConfigError::Type(key.into(), "a duration")),
        Value::String(s) => {
            go_duration_ms(s).ok_or_else(|| ConfigError::Duration(key.into(), s.clone()))
        }
        _ => Err(ConfigError::Type(key.into(), "a duration")),
    }
}

fn uint(key: &str, v: &Value) -> Result<u64, ConfigError> {
    v.as_u64()
        .ok_or_else(|| ConfigError::Type(key.into(), "a whole number"))
}

fn string(key: &str, v: &Value) -> Result<String, ConfigError> {
    v.as_str()
        .map(ToString::to_string)
        .ok_or_else(|| ConfigError::Type(key.into(), "a string"))
}

/// A string or an array of strings (nats-server `str_list`).
fn str_list(key: &str, v: &Value) -> Result<Vec<String>, ConfigError> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(a) => a.iter().map(|x| string(key, x)).collect(),
        _ => Err(ConfigError::Type(
            key.into(),
            "a string or an array of strings",
        )),
    }
}

impl Options {
    /// Reads the options from the JSON text of the JS options object.
    pub(crate) fn from_json(json: &str) -> Result<Options, ConfigError> {
        let v: Value = serde_json::from_str(json).map_err(|_| ConfigError::NotAnObject)?;
        let Value::Object(m) = v else {
            return Err(ConfigError::NotAnObject);
        };
        let mut o = Options::default();
        let mut no_auth_user = None;
        let mut authorization = None;
        for (k, v) in &m {
            match k.to_ascii_lowercase().as_str() {
                "max_payload" => {
                    let n = uint(k, v)?;
                    if n > MAX_PENDING {
                        return Err(ConfigError::MaxPayloadOverPending(n));
                    }
                    o.max_payload = n as usize;
                }
                "max_control_line" => {
                    o.max_control_line = usize::try_from(uint(k, v)?)
                        .map_err(|_| ConfigError::Type(k.clone(), "a size in bytes"))?
                }
                "ping_interval" => o.ping_interval_ms = duration_ms(k, v)?,
                "ping_max" => {
                    o.ping_max = u32::try_from(uint(k, v)?)
                        .map_err(|_| ConfigError::Type(k.clone(), "a whole number up to 2^32-1"))?
                }
                "no_header_support" => {
                    o.headers = !v
                        .as_bool()
                        .ok_or_else(|| ConfigError::Type(k.clone(), "a boolean"))?
                }
                "max_subscriptions" | "max_subs" => {
                    o.max_subscriptions = usize::try_from(uint(k, v)?)
                        .map_err(|_| ConfigError::Type(k.clone(), "a count"))?
                }
                "server_name" => o.server_name = Some(string(k, v)?),
                "no_auth_user" => no_auth_user = Some(string(k, v)?),
                "authorization" => authorization = Some(v),
                _ => return Err(ConfigError::Unsupported(k.clone())),
            }
        }
        if authorization.is_some() || no_auth_user.is_some() {
            let mut cfg = AuthConfig::default();
            if let Some(a) = authorization {
                let Value::Object(a) = a else {
                    return Err(ConfigError::Type("authorization".into(), "an object"));
                };
                o.auth_timeout_ms = read_authorization(a, &mut cfg)?.unwrap_or(2000);
            }
            cfg.no_auth_user = no_auth_user;
            o.auth = Some(cfg);
        }
        Ok(o)
    }
}

/// Fills `cfg` from an `authorization {}` block; returns its `timeout`.
fn read_authorization(
    a: &Map<String, Value>,
    cfg: &mut AuthConfig,
) -> Result<Option<u64>, ConfigError> {
    let mut timeout = None;
    let mut default_perms = None;
    let mut users = None;
    for (k, v) in a {
        match k.to_ascii_lowercase().as_str() {
            "user" | "username" => cfg.username = Some(string(k, v)?),
            "pass" | "password" => cfg.password = Some(string(k, v)?),
            "token" => cfg.token = Some(string(k, v)?),
            "timeout" => timeout = Some(duration_ms(k, v)?),
            "users" => users = Some(v),
            "default_permission" | "default_permissions" | "permissions" => {
                default_perms = Some(permissions(k, v)?)
            }
            _ => return Err(ConfigError::Unsupported(format!("authorization.{k}"))),
        }
    }
    if let Some(list) = users {
        let Value::Array(list) = list else {
            return Err(ConfigError::Type("users".into(), "an array"));
        };
        for u in list {
            cfg.users.push(user(u, default_perms.as_ref())?);
        }
    }
    Ok(timeout)
}

fn user(v: &Value, default_perms: Option<&Arc<Permissions>>) -> Result<User, ConfigError> {
    let Value::Object(m) = v else {
        return Err(ConfigError::Type("users".into(), "an array of objects"));
    };
    let mut u = User {
        account: natsws_core::auth::GLOBAL_ACCOUNT.into(),
        ..User::default()
    };
    let mut types = ConnectionTypes::default();
    for (k, v) in m {
        match k.to_ascii_lowercase().as_str() {
            "user" | "username" => u.username = Some(string(k, v)?),
            "pass" | "password" => u.password = Some(string(k, v)?),
            "nkey" => u.nkey = Some(string(k, v)?),
            "permission" | "permissions" => u.permissions = Some(permissions(k, v)?),
            "allowed_connection_types" | "connection_types" | "clients" => {
                for t in str_list(k, v)? {
                    // nats-server refuses unknown names at start-up.
                    let t = ConnectionType::parse(&t).ok_or_else(|| {
                        ConfigError::Unsupported(format!("allowed_connection_types {t}"))
                    })?;
                    types.insert(t);
                }
            }
            _ => return Err(ConfigError::Unsupported(format!("users.{k}"))),
        }
    }
    if u.username.is_none() && u.nkey.is_none() {
        return Err(ConfigError::UserRequired);
    }
    if u.permissions.is_none() {
        u.permissions = default_perms.cloned();
    }
    u.connection_types = types;
    Ok(u)
}

/// `publish`/`subscribe`: a string, an array (allow list) or `{allow, deny}`.
fn subject_permission(key: &str, v: &Value) -> Result<(Vec<String>, Vec<String>), ConfigError> {
    match v {
        Value::Object(m) => {
            let (mut allow, mut deny) = (Vec::new(), Vec::new());
            for (k, v) in m {
                match k.to_ascii_lowercase().as_str() {
                    "allow" => allow = str_list(k, v)?,
                    "deny" => deny = str_list(k, v)?,
                    _ => return Err(ConfigError::Unsupported(format!("{key}.{k}"))),
                }
            }
            Ok((allow, deny))
        }
        _ => Ok((str_list(key, v)?, Vec::new())),
    }
}

/// A `permissions` object, compiled by core (nats-protocol.md §3.5; an
/// empty allow list is no allow list, as the server's `perms_spec`).
fn permissions(key: &str, v: &Value) -> Result<Arc<Permissions>, ConfigError> {
    let Value::Object(m) = v else {
        return Err(ConfigError::Type(key.into(), "an object"));
    };
    let mut spec = PermissionsSpec::default();
    for (k, v) in m {
        match k.to_ascii_lowercase().as_str() {
            "pub" | "publish" | "import" => {
                let (a, d) = subject_permission(k, v)?;
                spec.publish_allow = (!a.is_empty()).then_some(a);
                spec.publish_deny = d;
            }
            "sub" | "subscribe" | "export" => {
                let (a, d) = subject_permission(k, v)?;
                spec.subscribe_allow = (!a.is_empty()).then_some(a);
                spec.subscribe_deny = d;
            }
            "allow_responses" | "publish_allow_responses" => {
                spec.allow_responses = response_permission(k, v)?;
            }
            _ => return Err(ConfigError::Unsupported(format!("permissions.{k}"))),
        }
    }
    Permissions::compile(&spec)
        .map(Arc::new)
        .map_err(ConfigError::Permission)
}

/// `allow_responses`: `true`, `false` or `{max, expires}` (default max 1
/// within 2 min).
fn response_permission(key: &str, v: &Value) -> Result<Option<ResponsePermission>, ConfigError> {
    let mut rp = ResponsePermission {
        max: 1,
        expires_ms: 120_000,
    };
    match v {
        Value::Bool(false) => return Ok(None),
        Value::Bool(true) => {}
        Value::Object(m) => {
            for (k, v) in m {
                match k.to_ascii_lowercase().as_str() {
                    "max" | "max_msgs" | "max_messages" | "max_responses" => {
                        rp.max = v
                            .as_i64()
                            .ok_or_else(|| ConfigError::Type(k.clone(), "a whole number"))?
                    }
                    "expires" | "expiration" | "ttl" => rp.expires_ms = duration_ms(k, v)?,
                    _ => return Err(ConfigError::Unsupported(format!("{key}.{k}"))),
                }
            }
        }
        _ => return Err(ConfigError::Type(key.into(), "a boolean or an object")),
    }
    Ok(Some(rp))
}
