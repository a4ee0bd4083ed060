//! The NATS client kind on the event loop: [`ClientHost`] is what a core
//! client session ([`natsws_core::session::Session`]) calls during one
//! connection's turn: the subject space (through [`crate::deliver`]) and the
//! client policy (authentication and account binding, response
//! permissions, the CONNECT trace), plus the INFO line a client gets.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use natsws_core::proto::{Connect, Limits};
use natsws_core::router::{ConnId, Message, Origin, SubRef, SubjectSpace};
use natsws_core::session::{AuthFailure, Grant, Host, SessionConfig};
use natsws_core::time::Millis;

use crate::account::{Account, GLOBAL_ACCOUNT};
use crate::deliver::{self, Turn};
use crate::kind::ConnKind;
use crate::shared::Shared;
use crate::sink::{ConnShared, Sink};

/// The INFO line for a new connection: auth_required and the nonce as the
/// auth configuration says for this kind of connection.
pub(crate) fn info_line(
    shared: &Shared,
    cid: ConnId,
    peer: SocketAddr,
    kind: ConnKind,
    nonce: &str,
) -> Vec<u8> {
    shared.info_templates(kind).info_line(cid, peer, nonce)
}

/// The server side of [`Host`] for one connection's turn on one loop.
pub(crate) struct ClientHost<'a> {
    pub(crate) shared: &'a Shared,
    pub(crate) turn: &'a mut Turn,
    pub(crate) me: &'a Arc<ConnShared>,
    /// The connection's account (replaced when authentication binds it).
    pub(crate) acc: &'a mut Arc<Account>,
    /// The nonce sent in INFO ("" when none).
    pub(crate) nonce: &'a str,
    /// Credential cookies of a WebSocket connection.
    pub(crate) cookies: Option<&'a natsws_core::ws::handshake::CookieValues>,
    pub(crate) out_msgs: u64,
    pub(crate) out_bytes: u64,
}

impl<'a> ClientHost<'a> {
    pub(crate) fn new(
        shared: &'a Shared,
        turn: &'a mut Turn,
        me: &'a Arc<ConnShared>,
        acc: &'a mut Arc<Account>,
    ) -> Self {
        ClientHost {
            shared,
            turn,
            me,
            acc,
            nonce: "",
            cookies: None,
            out_msgs: 0,
            out_bytes: 0,
        }
    }
}

impl SubjectSpace for ClientHost<'_> {
    type Target = Sink;

    fn subscribe(&mut self, sub: &SubRef<Sink>) {
        deliver::interest(self.shared, self.turn, self.acc, sub, true);
        self.me.subs.fetch_add(1, Ordering::Relaxed);
    }

    fn unsubscribe(&mut self, sub: &SubRef<Sink>) {
        deliver::interest(self.shared, self.turn, self.acc, sub, false);
        self.me.subs.fetch_sub(1, Ordering::Relaxed);
    }

    fn publish(
        &mut self,
        origin: Origin,
        echo: bool,
        msg: &Message<'_>,
        self_out: &mut Vec<u8>,
    ) -> usize {
        // default_js_domain (leafnode.md §4.10): only `$…` subjects pay
        // for the lookup.
        let mapped = if msg.subject.first() == Some(&b'$') {
            self.turn
                .settings
                .default_js_domain
                .iter()
                .find(|(a, _)| *a == self.acc.name)
                .and_then(|(_, d)| crate::leaf_interest::js_domain_subject(msg.subject, d))
        } else {
            None
        };
        let mapped_msg;
        let msg = match &mapped {
            Some(s) => {
                mapped_msg = Message { subject: s, ..*msg };
                &mapped_msg
            }
            None => msg,
        };
        let p = deliver::publish(
            self.shared,
            self.acc,
            origin,
            echo,
            msg,
            self.turn,
            self_out,
        );
        if p.deliveries == 0
            && mapped.is_none()
            && msg.subject.starts_with(b"$JS.API.")
            && self.acc.leafs.active()
        {
            crate::leaf_interest::js_hint(&self.acc.name, &self.acc.leafs);
        }
        let n = p.deliveries as u64;
        self.out_msgs += n;
        self.out_bytes += n * p.size;
        p.deliveries
    }
}

impl Host for ClientHost<'_> {
    fn authenticate(&mut self, connect: Option<&Connect>) -> Result<Grant, AuthFailure> {
        let shared = self.shared;
        let settings = self.turn.settings.clone();
        let Some(auth) = settings.auth.as_deref() else {
            return Ok(Grant::default());
        };
        let kind = self.me.kind.connection_type();
        let now_unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let res = match connect {
            None => auth.cfg.no_auth_identity(kind).unwrap_or_else(|| {
                Err(natsws_core::auth::AuthError {
                    log: "User \"N/A\"".into(),
                    expired: false,
                    detail: None,
                })
            }),
            Some(c) => {
                // verify_and_map: the certificate's identity (set only when
                // the listener's tls block maps certificates to users).
                let tls = self.me.tls_peer();
                let cookies = self.cookies.map_or_else(Default::default, Into::into);
                natsws_core::auth::authenticate(
                    &auth.cfg,
                    &natsws_core::auth::Credentials {
                        connect: c,
                        kind,
                        nonce: self.nonce.as_bytes(),
                        cookies,
                        tls,
                        now_unix_secs: now_unix,
                        zones: &crate::auth::SystemZones,
                        client_ip: Some(self.me.client_ip()),
                    },
                )
            }
        };
        let id = match res {
            Ok(id) => id,
            Err(e) => {
                if let Some(d) = &e.detail {
                    crate::error!(
                        "{} - {}:{} - {d}",
                        self.me.log_peer(),
                        self.me.kind.label(),
                        self.me.cid
                    );
                }
                crate::error!(
                    "{} - {}:{} - authentication error - {}",
                    self.me.log_peer(),
                    self.me.kind.label(),
                    self.me.cid,
                    e.log
                );
                if let Some(c) = connect {
                    // What the failed CONNECT said, for the auth error
                    // event (nats-server `getRawAuthUser`, `c.opts`).
                    let mut meta = self.me.client.lock().expect("meta");
                    meta.set_user(&c.user);
                    meta.set_names(&c.name, &c.lang, &c.version);
                }
                // An already expired JWT is an Authorization Violation at
                // CONNECT, as in nats-server; `User Authentication Expired`
                // comes only from the expiry timer of a live connection.
                return Err(AuthFailure::Violation);
            }
        };
        if id.account != self.acc.name {
            *self.acc = shared.accounts.get(&id.account);
        }
        {
            let mut meta = self.me.client.lock().expect("meta");
            meta.set_user(&id.user);
            meta.set_expires_unix(id.expires_at_unix);
        }
        {
            let mut dp = self.me.perms.lock().expect("perms");
            *dp = id.permissions.clone().map(|perms| {
                Box::new(crate::auth::DeliveryPerms {
                    perms,
                    replies: Default::default(),
                    leaf_link: false,
                })
            });
            self.me.has_perms.store(dp.is_some(), Ordering::Release);
        }
        let now = shared.now();
        let expires_at = id.expires_at_unix.map(|exp| {
            now.saturating_add(Millis(exp.saturating_sub(now_unix).saturating_mul(1000)))
        });
        let connect_info = shared.info_templates(self.me.kind).connect_info_line(
            self.me.cid,
            self.me.client_addr(),
            &id.account,
        );
        Ok(Grant {
            permits: id
                .permissions
                .map(|p| p as Arc<dyn natsws_core::session::Permits>),
            // JWT limits: negative (-1) = unlimited, and natsws also takes a
            // missing or 0 limit as unlimited (docs/compat.md).
            max_subscriptions: id.max_subscriptions.filter(|&n| n > 0).map(|n| n as usize),
            max_payload: id.max_payload.filter(|&n| n > 0).map(|n| n as usize),
            expires_at,
            connect_info: Some(connect_info),
        })
    }

    fn on_connect(&mut self, json: &[u8]) {
        if crate::log::trace_enabled() {
            crate::trace!(
                "{} - {}:{} - <<- [CONNECT {}]",
                self.me.log_peer(),
                self.me.kind.label(),
                self.me.cid,
                crate::auth::redact_connect(json)
            );
        }
    }

    fn response_permitted(&mut self, subject: &[u8]) -> bool {
        let now = self.shared.now();
        self.me
            .perms
            .lock()
            .expect("perms")
            .as_mut()
            .is_some_and(|p| p.use_response(subject, now))
    }
}

/// The client session's settings for a new connection: limits, auth
/// (required, checked, timeout, per kind), ping interval (the websocket
/// block's `ping_interval` for WebSocket clients), the connect_info INFO
/// and the connection's sink. The first PING (for RTT) goes out after
/// about 2 s, jittered by up to 400 ms, or sooner when the ping interval
/// is shorter (nats-server).
pub(crate) fn session_config(
    shared: &Shared,
    cs: &Arc<ConnShared>,
    rng: &mut fastrand::Rng,
) -> SessionConfig<Sink> {
    let settings = shared.settings();
    let s = &*settings;
    let kind = cs.kind;
    let (auth_required, auth_check, auth_timeout) = match s.auth.as_deref() {
        Some(a) => (a.required(kind), a.checks(kind), a.timeout(kind)),
        None => (false, false, Millis(2000)),
    };
    let ping_interval = match (kind, &s.websocket) {
        (ConnKind::WEBSOCKET, Some(w)) if w.ping_interval > Duration::ZERO => w.ping_interval,
        _ => s.ping_interval,
    };
    let ping_interval = Millis(ping_interval.as_millis() as u64);
    SessionConfig {
        conn: cs.cid,
        limits: Limits {
            max_control_line: s.max_control_line,
            max_payload: s.max_payload,
        },
        max_subscriptions: s.max_subscriptions,
        max_sub_tokens: s.max_sub_tokens,
        auth_required,
        auth_check,
        auth_timeout,
        first_ping: Millis((2000 + rng.u64(0..400)).min(ping_interval.0)),
        ping_interval,
        ping_max: s.ping_max,
        headers_supported: !s.no_header_support,
        connect_info: Some(shared.info_templates(kind).connect_info_line(
            cs.cid,
            cs.peer(),
            GLOBAL_ACCOUNT,
        )),
        target: Some(Sink::Conn(cs.clone())),
    }
}
