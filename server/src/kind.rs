//! Connection kinds: what a connection speaks ([`Kind`]) over which
//! transport ([`Transport`]), and the one table of what each pair is
//! called in logs, `/connz` and authorization, and which limits apply.
//! WebSocket is a transport of any kind, as in nats-server (`c.ws != nil`);
//! leafnodes and MQTT add kinds, not transports.

use natsws_core::auth::ConnectionType;

/// What a connection speaks (nats-server's client kinds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A NATS client.
    Client,
    /// A leafnode connection to another server (spec `leafnode.md`),
    /// accepted or solicited.
    Leaf,
    /// An MQTT 3.1.1 client (nats-server's client kind with `c.mqtt`).
    Mqtt,
}

/// How a connection's bytes travel (TLS or not is the listener's business).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Plain TCP (or TLS over it).
    Tcp,
    /// WebSocket (over TCP or TLS).
    Ws,
}

/// A listener's connections: a kind over a transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnKind {
    /// What it speaks.
    pub kind: Kind,
    /// How.
    pub transport: Transport,
}

impl ConnKind {
    /// NATS clients on the client port.
    pub const CLIENT: ConnKind = ConnKind {
        kind: Kind::Client,
        transport: Transport::Tcp,
    };
    /// NATS clients on the websocket port.
    pub const WEBSOCKET: ConnKind = ConnKind {
        kind: Kind::Client,
        transport: Transport::Ws,
    };
    /// Leafnode connections over TCP (the `leafnodes` port, or solicited).
    pub const LEAF: ConnKind = ConnKind {
        kind: Kind::Leaf,
        transport: Transport::Tcp,
    };
    /// Leafnode connections over WebSocket (`/leafnode` path).
    pub const LEAF_WS: ConnKind = ConnKind {
        kind: Kind::Leaf,
        transport: Transport::Ws,
    };
    /// MQTT clients on the MQTT port.
    pub const MQTT: ConnKind = ConnKind {
        kind: Kind::Mqtt,
        transport: Transport::Tcp,
    };
    /// MQTT clients on the websocket port (path ending in `/mqtt`).
    pub const MQTT_WS: ConnKind = ConnKind {
        kind: Kind::Mqtt,
        transport: Transport::Ws,
    };
    /// Every listener's kind, in [`ConnKind::index`] order.
    pub const ALL: [ConnKind; 6] = [
        ConnKind::CLIENT,
        ConnKind::WEBSOCKET,
        ConnKind::LEAF,
        ConnKind::LEAF_WS,
        ConnKind::MQTT,
        ConnKind::MQTT_WS,
    ];

    /// Whether it is a leafnode connection.
    pub fn is_leaf(self) -> bool {
        self.kind == Kind::Leaf
    }

    /// Whether it travels over WebSocket.
    pub fn is_ws(self) -> bool {
        self.transport == Transport::Ws
    }

    /// The table: (log id label, `/connz` type, `allowed_connection_types`
    /// name, per-kind array index).
    fn row(self) -> (&'static str, &'static str, ConnectionType, usize) {
        match (self.kind, self.transport) {
            (Kind::Client, Transport::Tcp) => ("cid", "nats", ConnectionType::Standard, 0),
            (Kind::Client, Transport::Ws) => ("wid", "websocket", ConnectionType::Websocket, 1),
            (Kind::Leaf, Transport::Tcp) => ("lid", "leafnode", ConnectionType::Leafnode, 2),
            (Kind::Leaf, Transport::Ws) => ("lid_ws", "leafnode", ConnectionType::LeafnodeWs, 3),
            (Kind::Mqtt, Transport::Tcp) => ("mid", "mqtt", ConnectionType::Mqtt, 4),
            (Kind::Mqtt, Transport::Ws) => ("mid_ws", "mqtt", ConnectionType::MqttWs, 5),
        }
    }

    /// The id label in log prefixes (nats-server `cid` for clients, `wid`
    /// for WebSocket clients): `127.0.0.1:5000 - wid:7 - `.
    pub fn label(self) -> &'static str {
        self.row().0
    }

    /// The `/connz` `type` (nats-server `clientType`-based strings): `nats`
    /// or `websocket`.
    pub fn connz_type(self) -> &'static str {
        self.row().1
    }

    /// The `allowed_connection_types` name this kind is checked against
    /// (nats-protocol.md §3.8): `STANDARD` or `WEBSOCKET`.
    pub fn connection_type(self) -> ConnectionType {
        self.row().2
    }

    /// Position in per-kind arrays (`[T; ConnKind::ALL.len()]`, in
    /// [`ConnKind::ALL`] order).
    pub fn index(self) -> usize {
        self.row().3
    }
}
