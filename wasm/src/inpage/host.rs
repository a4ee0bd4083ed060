//! The client-only policy of one in-page connection ([`Host`]):
//! authentication through core's `auth`, response permissions.

use std::sync::Arc;

use natsws_core::auth::{self, AuthConfig, ConnectionType, Cookies, Credentials, UtcOnly};
use natsws_core::proto::Connect;
use natsws_core::router::{ConnId, Message, Origin, SubRef, SubjectSpace};
use natsws_core::session::{AuthFailure, Grant, Host, Permits};

use super::world::World;

/// The connection type in-page clients authenticate as: they hold a
/// WebSocket (`allowed_connection_types: ["WEBSOCKET"]` admits them).
pub(crate) const KIND: ConnectionType = ConnectionType::Websocket;

/// One connection's view of the server during a session call.
pub(crate) struct ConnHost<'a> {
    pub(crate) world: &'a mut World,
    pub(crate) auth: Option<&'a AuthConfig>,
    pub(crate) cid: ConnId,
}

impl SubjectSpace for ConnHost<'_> {
    type Target = ConnId;
    fn subscribe(&mut self, sub: &SubRef<ConnId>) {
        self.world.subscribe(sub);
    }
    fn unsubscribe(&mut self, sub: &SubRef<ConnId>) {
        self.world.unsubscribe(sub);
    }
    fn publish(
        &mut self,
        origin: Origin,
        echo: bool,
        msg: &Message<'_>,
        self_out: &mut Vec<u8>,
    ) -> usize {
        self.world.publish(origin, echo, msg, self_out)
    }
}

impl Host for ConnHost<'_> {
    /// Core's `auth::authenticate` with the in-page connection's
    /// credentials (its INFO nonce; no TLS, no cookies; type `WEBSOCKET`), or the
    /// `no_auth_user` binding when `connect` is `None`.
    fn authenticate(&mut self, connect: Option<&Connect>) -> Result<Grant, AuthFailure> {
        let Some(cfg) = self.auth else {
            return Ok(Grant::default());
        };
        let nonce = self
            .world
            .peers
            .get(&self.cid)
            .map(|p| p.nonce.clone())
            .unwrap_or_default();
        let identity = match connect {
            Some(c) => auth::authenticate(
                cfg,
                &Credentials {
                    connect: c,
                    kind: KIND,
                    nonce: nonce.as_bytes(),
                    cookies: Cookies::default(),
                    tls: None,
                    now_unix_secs: (js_sys::Date::now() / 1000.0) as u64,
                    zones: &UtcOnly,
                    client_ip: None,
                },
            ),
            None => match cfg.no_auth_identity(KIND) {
                Some(r) => r,
                None => return Ok(Grant::default()),
            },
        };
        // An expired JWT at CONNECT is still `Authorization Violation`
        // (core `AuthError::expired`).
        let id = identity.map_err(|_| AuthFailure::Violation)?;
        if let Some(peer) = self.world.peers.get_mut(&self.cid) {
            peer.perms = id.permissions.clone();
            peer.user = id.user;
        }
        Ok(Grant {
            permits: id.permissions.map(|p| p as Arc<dyn Permits>),
            ..Grant::default()
        })
    }

    fn response_permitted(&mut self, subject: &[u8]) -> bool {
        let now = self.world.now;
        self.world
            .peers
            .get_mut(&self.cid)
            .is_some_and(|p| p.use_response(subject, now))
    }
}
