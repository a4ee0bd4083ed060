//! What a configuration reload changes on an open session (operations spec
//! §1.3, §1.5; nats-server `reloadAuthorization`,
//! `processSubsOnConfigReload`): the server limits and ping settings, and
//! the permissions granted by the new authorization.

use alloc::{string::String, sync::Arc, vec::Vec};

use super::{go_quote, push_err, Close, ClosedReason, Host, Permits, Session, State};
use crate::proto::Limits;
use crate::router::Subscription;
use crate::time::Millis;

/// The server settings a reload may change on an open session. Units:
/// bytes and milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reconfigure {
    /// `max_control_line` and `max_payload` (applied at once to open
    /// connections, as nats-server does; no new INFO is sent). A per-user
    /// payload limit of the grant still caps `max_payload`.
    pub limits: Limits,
    /// `max_subscriptions` (0 = unlimited), for later SUBs.
    pub max_subscriptions: usize,
    /// `ping_interval`, used from the next PING timer on.
    pub ping_interval: Millis,
    /// `ping_max`.
    pub ping_max: u32,
}

impl<T: Clone> Session<T> {
    /// Whether the session has passed CONNECT (or never needed one).
    pub fn is_connected(&self) -> bool {
        self.state == State::Connected
    }

    /// Applies reloaded server limits and ping settings. The PING already
    /// scheduled is brought forward when the new interval is shorter.
    pub fn reconfigure(&mut self, r: Reconfigure, now: Millis) {
        self.cfg.limits = r.limits;
        self.cfg.max_subscriptions = r.max_subscriptions;
        self.cfg.ping_max = r.ping_max;
        if r.ping_interval != self.cfg.ping_interval {
            self.cfg.ping_interval = r.ping_interval;
            self.next_ping = self.next_ping.min(now.saturating_add(r.ping_interval));
        }
        let mut limits = r.limits;
        if let Some(p) = self.grant.max_payload {
            limits.max_payload = limits.max_payload.min(p);
        }
        self.decoder.set_limits(limits);
    }

    /// Replaces the permissions of an open session after a reload changed
    /// them (the session keeps its account, limits and expiry). Every
    /// subscription the new subscribe permissions deny is removed from the
    /// subject space and reported to the client with nats-server's
    /// `-ERR 'Permissions Violation for Subscription to "<subject>" (sid
    /// "<sid>")'` (queue subscriptions: `… to "<subject>" using queue
    /// "<queue>" (sid "<sid>")`); `removed` sees each one (for the server's
    /// `Removed sub … - not authorized` log line). The connection stays
    /// open.
    pub fn replace_permits(
        &mut self,
        permits: Option<Arc<dyn Permits>>,
        host: &mut impl Host<Target = T>,
        out: &mut Vec<u8>,
        mut removed: impl FnMut(&Subscription<T>),
    ) {
        self.perm_cache.clear();
        self.grant.permits = permits;
        let Some(p) = self.grant.permits.clone() else {
            return;
        };
        let denied: Vec<Vec<u8>> = self
            .subs
            .iter()
            .filter(|(_, s)| !s.is_closed() && !p.can_subscribe(s.filter(), s.queue()))
            .map(|(sid, _)| sid.clone())
            .collect();
        for sid in denied {
            let Some(sub) = self.subs.remove(&sid) else {
                continue;
            };
            sub.close();
            host.unsubscribe(&sub);
            let mut text = String::from("Permissions Violation for Subscription to ");
            go_quote(&mut text, sub.filter());
            if let Some(q) = sub.queue() {
                text.push_str(" using queue ");
                go_quote(&mut text, q);
            }
            text.push_str(" (sid ");
            go_quote(&mut text, sub.sid());
            text.push(')');
            push_err(out, &text);
            removed(&sub);
        }
    }

    /// Ends the session because a reload revoked it: with `err` (e.g.
    /// `Authorization Violation`) sent first when given, and `reason` for
    /// monitoring. The caller releases the subscriptions with
    /// [`Session::close`] as for any other end.
    pub fn revoke(&mut self, err: Option<&str>, reason: ClosedReason, out: &mut Vec<u8>) -> Close {
        self.fail(out, err, reason)
    }
}
