//! What a configuration reload does to an open MQTT connection (nats-server
//! `reloadAuthorization`, `clientHasMovedToDifferentAccount`,
//! `isClientAuthorized`, `authViolation` for MQTT clients), on the
//! connection's own loop at the first turn after the settings were swapped:
//!
//! 1. `ack_wait` and `max_ack_pending` apply to the session at once (its
//!    cap of unacknowledged deliveries; subscriptions made before keep
//!    their own windows, mqtt spec §1.5);
//! 2. a client whose CONNECT named a user that the new configuration no
//!    longer has, or has in another account, is closed (`Client Closed`,
//!    nothing sent; it reconnects);
//! 3. the stored CONNECT is checked against the new authorization;
//!    failure: a CONNACK with return code 5 (not authorized), as
//!    nats-server's `authViolation` sends to MQTT clients, and the close
//!    (`Authentication Failure`);
//! 4. the new permissions apply to later PUBLISH and SUBSCRIBE packets.
//!
//! A client whose user, account and permissions are unchanged is never
//! closed.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use natsws_core::mqtt::codec::{encode_connack, rc};
use natsws_core::session::{Close, ClosedReason, Host};

use super::{close, Cx, MqttConn};
use crate::session::reload::{bound_user, named_account};
use crate::settings::Settings;

impl MqttConn {
    /// Applies reloaded settings (see the module docs); `old` are the
    /// settings replaced; a CONNACK owed before a close goes to `out`.
    ///
    /// # Errors
    /// The connection must close: [`ClosedReason::ClientClosed`] (user
    /// removed or moved), [`ClosedReason::AuthenticationFailure`] (no longer
    /// authorized).
    pub(crate) fn reconfigure(
        &mut self,
        cx: &mut Cx<'_>,
        old: &Settings,
        out: &mut Vec<u8>,
    ) -> Result<(), Close> {
        let new = cx.turn.settings.clone();
        if let Some(m) = new.mqtt.as_ref() {
            // Later subscriptions and attaches read the settings when
            // they happen.
            if let Some(s) = &self.session {
                // The session cap follows the setting at once; the
                // windows of existing subscriptions keep theirs.
                let mut inner = s.inner.lock().expect("mqtt session");
                inner.set_cap(usize::from(m.max_ack_pending));
            }
        }
        if self.session.is_none() || self.held {
            return Ok(());
        }
        let auth_same = match (&old.auth, &new.auth) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        };
        if auth_same {
            return Ok(());
        }
        let connect = Some(self.credentials());
        let moved = bound_user(connect.as_ref(), old, cx.me.kind).is_some_and(|(nkey, user)| {
            named_account(nkey, user, &new).as_deref() != Some(cx.account.name.as_str())
        });
        if moved {
            self.log_removed(cx, "user removed or moved to another account");
            return Err(close(ClosedReason::ClientClosed, None));
        }
        if new.auth.is_none() {
            self.set_permits(None);
            *cx.me.perms.lock().expect("perms") = None;
            cx.me.has_perms.store(false, Ordering::Release);
            return Ok(());
        }
        let before = cx.account.clone();
        let mut host = cx.client_host();
        match host.authenticate(connect.as_ref()) {
            Ok(grant) => {
                if host.acc.name != before.name {
                    // Bound elsewhere now: close, the client reconnects
                    // into its new account.
                    *host.acc = before;
                    self.log_removed(cx, "bound to another account");
                    return Err(close(ClosedReason::ClientClosed, None));
                }
                self.set_permits(grant.permits);
                Ok(())
            }
            Err(_) => {
                let user = connect.as_ref().map_or("", |c| c.user.as_str());
                crate::error!(
                    "{} - {}:{} - authentication error - User {user:?}",
                    cx.me.log_peer(),
                    cx.me.kind.label(),
                    cx.me.cid
                );
                encode_connack(out, false, rc::NOT_AUTHORIZED);
                Err(close(ClosedReason::AuthenticationFailure, None))
            }
        }
    }

    fn log_removed(&self, cx: &Cx<'_>, why: &str) {
        crate::info!(
            "{} - {}:{} - closed after the configuration reload: {why}",
            cx.me.log_peer(),
            cx.me.kind.label(),
            cx.me.cid
        );
    }
}
