//! Helpers shared by the core::auth suites.
#![allow(dead_code, unreachable_pub)]

use natsws_core::auth::{ConnectionType, ConnectionTypes, Cookies, Credentials};
use natsws_core::proto::Connect;

/// A CONNECT with these user, pass and token.
pub fn conn(user: &str, pass: &str, token: &str) -> Connect {
    Connect {
        user: user.into(),
        pass: pass.into(),
        auth_token: token.into(),
        ..Connect::default()
    }
}

/// What a connection of `kind` presents with CONNECT `c`: no nonce, no
/// cookies, no certificate, a fixed time, UTC zones, no client address.
pub fn creds(c: &Connect, kind: ConnectionType) -> Credentials<'_> {
    Credentials {
        connect: c,
        kind,
        nonce: b"",
        cookies: Cookies::default(),
        tls: None,
        now_unix_secs: 1_700_000_000,
        zones: &natsws_core::auth::UtcOnly,
        client_ip: None,
    }
}

/// A set of connection types.
pub fn types(list: &[ConnectionType]) -> ConnectionTypes {
    list.iter().copied().collect()
}
