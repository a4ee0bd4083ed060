//! Connection kinds: which listener a connection came from, and the one
//! table of what each kind is called in logs, `/connz` and authorization.

use natsws_core::auth::ConnectionType;

/// Which listener a connection came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnKind {
    /// The client port (plain NATS over TCP).
    Client,
    /// The websocket listener.
    WebSocket,
}

impl ConnKind {
    /// Every kind, in [`ConnKind::index`] order.
    pub const ALL: [ConnKind; 2] = [ConnKind::Client, ConnKind::WebSocket];

    /// The id label in log prefixes (nats-server `cid` for clients, `wid`
    /// for WebSocket clients): `127.0.0.1:5000 - wid:7 - `.
    pub fn label(self) -> &'static str {
        match self {
            ConnKind::Client => "cid",
            ConnKind::WebSocket => "wid",
        }
    }

    /// The `/connz` `type` (nats-server `clientType`-based strings): `nats`
    /// or `websocket`.
    pub fn connz_type(self) -> &'static str {
        match self {
            ConnKind::Client => "nats",
            ConnKind::WebSocket => "websocket",
        }
    }

    /// The `allowed_connection_types` name this kind is checked against
    /// (nats-protocol.md §3.8): `STANDARD` or `WEBSOCKET`.
    pub fn connection_type(self) -> ConnectionType {
        match self {
            ConnKind::Client => ConnectionType::Standard,
            ConnKind::WebSocket => ConnectionType::Websocket,
        }
    }

    /// Position in per-kind arrays (`[T; 2]`, in [`ConnKind::ALL`] order).
    pub fn index(self) -> usize {
        match self {
            ConnKind::Client => 0,
            ConnKind::WebSocket => 1,
        }
    }
}
