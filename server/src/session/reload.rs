//! What a configuration reload does to an open client connection
//! (operations spec §1.3, §1.5; nats-server `reloadAuthorization`,
//! `clientHasMovedToDifferentAccount`, `isClientAuthorized`,
//! `processSubsOnConfigReload`), run on the connection's own loop at the
//! first turn after the settings were swapped:
//!
//! 1. the server limits (`max_payload`, `max_control_line`,
//!    `max_subscriptions`) and the ping settings apply at once (no new INFO);
//! 2. a connection whose CONNECT named a user (or nkey) that the new
//!    configuration no longer has, or has in another account, is closed
//!    with reason `Client Closed` and no `-ERR` (the client reconnects);
//! 3. the stored CONNECT is checked against the new authorization;
//!    failure: `-ERR 'Authorization Violation'` and close;
//! 4. the new permissions replace the old ones, and each subscription they
//!    deny is removed with `-ERR 'Permissions Violation for Subscription to
//!    "<subject>" (sid "<sid>")'` and the INF line `Removed sub "<subject>"
//!    (sid "<sid>") for User "<name>" - not authorized`.
//!
//! Unlike nats-server, a connection whose user, account and permissions
//! are unchanged is never closed (spec §8 item 6), also with single-user
//! `authorization { user, password }`.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use natsws_core::proto::{Connect, Limits};
use natsws_core::session::{Close, ClosedReason, Host, Reconfigure, Session};
use natsws_core::time::Millis;

use super::{Cx, Proto};
use crate::kind::ConnKind;
use crate::settings::Settings;
use crate::sink::Sink;

impl Proto {
    /// Applies reloaded settings to this connection (see the module docs);
    /// `old` are the settings replaced. What the peer is owed goes to
    /// `out`.
    ///
    /// # Errors
    /// The connection must close: [`ClosedReason::ClientClosed`] (user
    /// removed or moved), [`ClosedReason::AuthenticationFailure`] (no longer
    /// authorized, `-ERR` in `out`).
    pub(crate) fn reconfigure(
        &mut self,
        cx: &mut Cx<'_>,
        old: &Settings,
        now: Millis,
        out: &mut Vec<u8>,
    ) -> Result<(), Close> {
        match self {
            Proto::Client(s) => {
                s.reconfigure(reconfig(&cx.turn.settings, cx.me.kind), now);
                let auth_same = match (&old.auth, &cx.turn.settings.auth) {
                    (None, None) => true,
                    (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                    _ => false,
                };
                if auth_same || !s.is_connected() {
                    return Ok(());
                }
                reauthorize(s, cx, old, out)
            }
            // A leaf's link settings are read at its next (re)connect; an
            // accepted link is authorized again.
            Proto::Leaf(l) => l.reconfigure(cx, out),
            // An MQTT client: `crate::session::mqtt` (its own reload rules).
            Proto::Mqtt(m) => m.reconfigure(cx, old, out),
            #[cfg(feature = "autobahn")]
            Proto::Echo(_) => Ok(()),
        }
    }
}

/// The session settings a reload may change, for a connection of `kind`
/// (the websocket block's `ping_interval` for WebSocket clients, as at
/// accept).
fn reconfig(s: &Settings, kind: ConnKind) -> Reconfigure {
    let ping = match (kind, &s.websocket) {
        (ConnKind::WEBSOCKET, Some(w)) if w.ping_interval > Duration::ZERO => w.ping_interval,
        _ => s.ping_interval,
    };
    Reconfigure {
        limits: Limits {
            max_control_line: s.max_control_line,
            max_payload: s.max_payload,
        },
        max_subscriptions: s.max_subscriptions,
        ping_interval: Millis(ping.as_millis() as u64),
        ping_max: s.ping_max,
    }
}

/// The user (or nkey) a connection was bound to: the one its CONNECT
/// named, else the `no_auth_user` of the old configuration when it sent no
/// credentials at all (nats-server copies that user into the client's
/// options). `None`: token, JWT or no authentication.
pub(super) fn bound_user<'a>(
    c: Option<&'a Connect>,
    old: &'a Settings,
    kind: ConnKind,
) -> Option<(Option<&'a str>, Option<&'a str>)> {
    let some = |v: &'a String| Some(v.as_str()).filter(|v| !v.is_empty());
    let nkey = c.and_then(|c| some(&c.nkey));
    let user = c.and_then(|c| some(&c.user));
    if nkey.is_some() || user.is_some() {
        return Some((nkey, user));
    }
    if c.is_some_and(|c| !c.auth_token.is_empty() || !c.jwt.is_empty()) {
        return None;
    }
    let na = old
        .auth
        .as_deref()
        .and_then(|a| a.cfg.no_auth_user_for(kind.connection_type()))?;
    Some((None, Some(na)))
}

/// The account the new configuration gives a bound user or nkey,
/// `None` when it no longer has it.
pub(super) fn named_account(
    nkey: Option<&str>,
    user: Option<&str>,
    s: &Settings,
) -> Option<String> {
    let cfg = &s.auth.as_deref()?.cfg;
    let found = cfg.users.iter().find(|u| match nkey {
        Some(k) => u.nkey.as_deref() == Some(k),
        None => u.username.as_deref() == user,
    });
    if let Some(u) = found {
        return Some(u.account.clone());
    }
    // Single-user `authorization { user, password }` (or the websocket
    // block's): the global account.
    let single = nkey.is_none()
        && (cfg.username.as_deref() == user || cfg.websocket.username.as_deref() == user);
    single.then(|| natsws_core::auth::GLOBAL_ACCOUNT.to_string())
}

/// nats-server's `getAuthUser`: how the removal log line names the user.
fn auth_user(c: Option<&Connect>) -> String {
    let Some(c) = c else {
        return "User \"N/A\"".into();
    };
    let some = |v: &String| Some(v.clone()).filter(|v| !v.is_empty());
    if let Some(k) = some(&c.nkey) {
        format!("Nkey {k:?}")
    } else if let Some(u) = some(&c.user) {
        format!("User {u:?}")
    } else if let Some(jwt) = some(&c.jwt) {
        let key = natsws_core::auth::jwt::peek_subject(&jwt).unwrap_or_default();
        format!("JWT User {key:?}")
    } else if some(&c.auth_token).is_some() {
        "Token \"[REDACTED]\"".into()
    } else {
        "User \"N/A\"".into()
    }
}

/// Steps 2–4 of the module docs.
fn reauthorize(
    s: &mut Session<Sink>,
    cx: &mut Cx<'_>,
    old: &Settings,
    out: &mut Vec<u8>,
) -> Result<(), Close> {
    let connect = s.connect_options().cloned();
    let moved = bound_user(connect.as_ref(), old, cx.me.kind).is_some_and(|(nkey, user)| {
        named_account(nkey, user, &cx.turn.settings).as_deref() != Some(cx.account.name.as_str())
    });
    if moved {
        return Err(s.revoke(None, ClosedReason::ClientClosed, out));
    }
    let before = cx.account.clone();
    let mut host = cx.client_host();
    // As at CONNECT: only a listener whose auth is configured checks.
    let checks = (host.turn.settings.auth.as_deref()).is_some_and(|a| a.checks(host.me.kind));
    let grant = if checks {
        host.authenticate(connect.as_ref())
    } else {
        Ok(Default::default())
    };
    let grant = match grant {
        Ok(g) => g,
        Err(_) => {
            return Err(s.revoke(
                Some("Authorization Violation"),
                ClosedReason::AuthenticationFailure,
                out,
            ))
        }
    };
    if !Arc::ptr_eq(&before, host.acc) && host.acc.name != before.name {
        // Bound elsewhere now (a token or no-auth user moved): close, the
        // client reconnects into its new account.
        *host.acc = before;
        return Err(s.revoke(None, ClosedReason::ClientClosed, out));
    }
    if !checks {
        *host.me.perms.lock().expect("perms") = None;
        host.me.has_perms.store(false, Ordering::Release);
    }
    let who = auth_user(connect.as_ref());
    s.replace_permits(grant.permits, &mut host, out, |sub| {
        let mut subject = String::new();
        natsws_core::session::go_quote(&mut subject, sub.filter());
        let mut sid = String::new();
        natsws_core::session::go_quote(&mut sid, sub.sid());
        match sub.queue() {
            Some(q) => {
                let mut queue = String::new();
                natsws_core::session::go_quote(&mut queue, q);
                crate::info!(
                    "Removed sub {subject} using queue {queue} (sid {sid}) for {who} - not authorized"
                );
            }
            None => crate::info!("Removed sub {subject} (sid {sid}) for {who} - not authorized"),
        }
    });
    Ok(())
}
