//! Authentication and authorization: the `authorization { … }` block
//! (nats-protocol.md §4.4), `users` with their permissions (§3.5) and
//! connection types (§3.8), `accounts` (§3.6), and the top-level keys of
//! operator mode (§3.4: `operator`, `trusted`, `resolver`, …).

use core::time::Duration;

use super::read::{bool_of, int_of, map_of, str_list, str_of, Reader};
use super::{Options, Spanned};
use crate::config::{Diagnostic, Entry, Map, Span, Value};

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
    /// `timeout`; default 2 s ([`DEFAULT_AUTH_TIMEOUT`](super::DEFAULT_AUTH_TIMEOUT)).
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
/// users, with its exports, imports and mappings (operations spec §3);
/// `jetstream`, `limits` and `msg_trace` are accepted and not interpreted.
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
    /// `exports`, `imports` and `mappings`/`maps`.
    pub links: super::AccountLinks,
}

impl Options {
    /// `no_auth_user`, `authorization`, `accounts`, and operator mode's
    /// `operator(s)`/`root(s)`, `trusted(_keys)`, `resolver`,
    /// `resolver_preload` and `system_account`.
    pub(super) fn apply_auth_key(&mut self, r: &mut Reader, e: &Entry, key: &str) -> bool {
        match key {
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
            "accounts" => {
                self.accounts = parse_accounts(r, e);
                self.accounts_span = Some(e.key_span.clone());
            }
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
            "no_system_account" | "no_system" | "no_sys_acc" => {
                if let Some(b) = r.ok(bool_of(e)) {
                    self.no_system_account = b;
                }
            }
            _ => return false,
        }
        true
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

/// Convert an `authorization` map; `span` is the block key's position.
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

/// A `users` array: each entry needs `user` or `nkey`, never both with a
/// password.
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

/// `publish`/`subscribe`: a string, an array (allow list) or an
/// `{allow, deny}` map.
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

/// A `permissions` map, with `allow_responses` (default max 1 within
/// 2 min).
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

/// `accounts`: an array of names or a map of name → account block.
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
                        links: Default::default(),
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
                    links: Default::default(),
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
                                "imports" => super::imports::parse_imports(r, k, &mut acc.links),
                                "exports" => super::imports::parse_exports(r, k, &mut acc.links),
                                "mappings" | "maps" => {
                                    acc.links.mappings = super::imports::parse_mappings(r, k)
                                }
                                "jetstream" | "limits" | "msg_trace" | "trace_dest" => {}
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcrypt_detection() {
        assert!(is_bcrypt("$2a$11$abc"));
        assert!(is_bcrypt("$2y$10$x"));
        assert!(!is_bcrypt("$2c$10$x"));
        assert!(!is_bcrypt("plain"));
        assert!(!is_bcrypt("$2a$1$x"));
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
}
