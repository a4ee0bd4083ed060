//! The INFO lines the server sends (spec `nats-protocol.md` §1.5,
//! `websocket.md` §4.3).

use std::net::SocketAddr;

use natsws_core::proto::{self, Info};
use natsws_core::router::ConnId;

use crate::server::{ConnKind, Shared, VERSION};

/// The INFO a client gets on connect: the listener's host and port (the
/// websocket listener's for WebSocket clients), this connection's id and IP.
pub fn info(shared: &Shared, cid: ConnId, peer: SocketAddr, kind: ConnKind) -> Info {
    let s = &shared.settings;
    let addr = match kind {
        ConnKind::Client => shared.client_addr,
        ConnKind::WebSocket => shared.ws_addr.unwrap_or(shared.client_addr),
    };
    // Client port: tls_required with a `tls` block. Websocket (§4.3):
    // tls_required and tls_available both follow the websocket listener's
    // TLS; tls_verify is the client port's (nats-server quirk).
    let client_verify = s.tls.as_ref().is_some_and(|t| t.verify);
    let (tls_required, tls_available) = match kind {
        ConnKind::Client => (s.tls.is_some(), false),
        ConnKind::WebSocket => {
            let t = s.websocket.as_ref().is_some_and(|w| w.tls.is_some());
            (t, t)
        }
    };
    Info {
        server_id: shared.server_id.clone(),
        server_name: shared.server_name.clone(),
        version: VERSION.into(),
        proto: 1,
        go: concat!("natsws ", env!("CARGO_PKG_VERSION")).into(),
        host: addr.ip().to_string(),
        port: addr.port(),
        headers: !s.no_header_support,
        tls_required,
        tls_verify: client_verify,
        tls_available,
        max_payload: i32::try_from(s.max_payload).unwrap_or(i32::MAX),
        client_id: cid,
        client_ip: peer.ip().to_string(),
        ..Info::default()
    }
}

/// The encoded INFO line sent on connect.
pub fn info_line(shared: &Shared, cid: ConnId, peer: SocketAddr, kind: ConnKind) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    proto::encode_info(&mut out, &info(shared, cid, peer, kind));
    out
}

/// The INFO sent after the first PONG to protocol-1 clients, with
/// `"connect_info":true` and the bound account.
pub fn connect_info_line(
    shared: &Shared,
    cid: ConnId,
    peer: SocketAddr,
    kind: ConnKind,
) -> Vec<u8> {
    let mut i = info(shared, cid, peer, kind);
    i.connect_info = true;
    i.remote_account = "$G".into();
    let mut out = Vec::with_capacity(512);
    proto::encode_info(&mut out, &i);
    out
}
