//! The INFO lines the server sends (spec `nats-protocol.md` §1.5,
//! `websocket.md` §4.3).

use std::net::SocketAddr;

use natsws_core::proto::{self, Info};
use natsws_core::router::ConnId;

use crate::kind::ConnKind;
use crate::settings::Settings;

/// natsws's own version (Cargo): `--version`, the startup banner, INFO and
/// `/varz` `go` (`natsws <version>`). INFO and `/varz` `version` carry
/// [`natsws_core::proto::SERVER_VERSION`] instead, the nats-server release
/// whose behaviour natsws matches (clients gate features on it).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What the INFO lines are made from: the settings, the server's identity
/// and the bound listener addresses (after port 0 was resolved).
#[derive(Debug, Clone, Copy)]
pub struct InfoInputs<'a> {
    /// The settings in force.
    pub settings: &'a Settings,
    /// Server id (an `N…` nkey).
    pub server_id: &'a str,
    /// Server name (the id when none is configured).
    pub server_name: &'a str,
    /// Bound client address.
    pub client_addr: SocketAddr,
    /// Bound websocket address.
    pub ws_addr: Option<SocketAddr>,
}

/// The INFO a client gets on connect: the listener's host and port (the
/// websocket listener's for WebSocket clients; `client_advertise` instead for
/// TCP clients), this connection's id and IP.
pub(crate) fn info(inputs: &InfoInputs<'_>, cid: ConnId, peer: SocketAddr, kind: ConnKind) -> Info {
    let s = inputs.settings;
    let addr = match kind {
        ConnKind::WEBSOCKET => inputs.ws_addr.unwrap_or(inputs.client_addr),
        _ => inputs.client_addr,
    };
    // Client port: tls_required with a `tls` block. Websocket (§4.3):
    // tls_required and tls_available both follow the websocket listener's
    // TLS; tls_verify is the client port's (nats-server quirk).
    let client_verify = s.tls.as_ref().is_some_and(|t| t.verify);
    let (tls_required, tls_available) = match kind {
        ConnKind::WEBSOCKET => {
            let t = s.websocket.as_ref().is_some_and(|w| w.tls.is_some());
            (t, t)
        }
        _ => (s.tls.is_some(), false),
    };
    let (host, port) = match (&s.client_advertise, kind) {
        (Some(a), ConnKind::CLIENT) => (a.host.clone(), a.port.unwrap_or(addr.port())),
        _ => (addr.ip().to_string(), addr.port()),
    };
    Info {
        server_id: inputs.server_id.into(),
        server_name: inputs.server_name.into(),
        version: proto::SERVER_VERSION.into(),
        proto: 1,
        go: concat!("natsws ", env!("CARGO_PKG_VERSION")).into(),
        host,
        port,
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

/// Marker values the templates are rendered with, replaced per connection.
const IP_MARK: &str = "@@natsws-client-ip@@";
const ACCOUNT_MARK: &str = "@@natsws-account@@";

/// The INFO lines of one listener kind, serialized once and spliced per
/// connection: the per-connection fields (`client_id`, `client_ip`, `nonce`)
/// follow each other in INFO's field order, and the connect_info INFO adds
/// `remote_account`. Rendering allocates once and never runs serde (a full
/// serialization per connection was about a fifth of the server's
/// instructions per WebSocket connect).
#[derive(Debug)]
pub struct InfoTemplates {
    /// `INFO {…` up to where `client_id` goes, and from after `client_ip`.
    info: (Vec<u8>, Vec<u8>),
    /// The same for the connect_info INFO, split again at the account.
    connect_info: (Vec<u8>, Vec<u8>, Vec<u8>),
    /// The same for the lame duck INFO (`"ldm":true`).
    ldm: (Vec<u8>, Vec<u8>),
}

fn split_at<'a>(json: &'a [u8], marker: &[u8]) -> (&'a [u8], &'a [u8]) {
    let at = json
        .windows(marker.len())
        .position(|w| w == marker)
        .expect("template marker present");
    (&json[..at], &json[at + marker.len()..])
}

impl InfoTemplates {
    /// Templates for `kind`, from [`info`] with the auth fields the server's
    /// configuration gives this kind.
    pub fn new(inputs: &InfoInputs<'_>, kind: ConnKind) -> InfoTemplates {
        let mut i = info(inputs, 0, SocketAddr::from(([0, 0, 0, 0], 0)), kind);
        i.client_id = 0; // omitted; spliced in front of client_ip
        i.client_ip = IP_MARK.into();
        if let Some(a) = inputs.settings.auth.as_deref() {
            i.auth_required = a.info_auth_required(kind);
        }
        let mut line = Vec::with_capacity(512);
        proto::encode_info(&mut line, &i);
        let ip_field = format!("\"client_ip\":\"{IP_MARK}\"");
        let (h, t) = split_at(&line, ip_field.as_bytes());
        let info = (h.to_vec(), t.to_vec());
        i.ldm = true;
        let mut line = Vec::with_capacity(512);
        proto::encode_info(&mut line, &i);
        let (h, t) = split_at(&line, ip_field.as_bytes());
        let ldm = (h.to_vec(), t.to_vec());
        i.ldm = false;
        i.connect_info = true;
        i.remote_account = ACCOUNT_MARK.into();
        let mut line = Vec::with_capacity(512);
        proto::encode_info(&mut line, &i);
        let (h, rest) = split_at(&line, ip_field.as_bytes());
        let (m, t) = split_at(rest, format!("\"{ACCOUNT_MARK}\"").as_bytes());
        InfoTemplates {
            info,
            connect_info: (h.to_vec(), m.to_vec(), t.to_vec()),
            ldm,
        }
    }

    fn client_fields(out: &mut Vec<u8>, cid: ConnId, peer: SocketAddr, nonce: &str) {
        use std::io::Write as _;
        let _ = write!(out, "\"client_id\":{cid},\"client_ip\":\"{}\"", peer.ip());
        if !nonce.is_empty() {
            // Base64url: nothing to escape.
            let _ = write!(out, ",\"nonce\":\"{nonce}\"");
        }
    }

    /// `INFO {…} \r\n` for a new connection (`nonce` empty = none).
    pub fn info_line(&self, cid: ConnId, peer: SocketAddr, nonce: &str) -> Vec<u8> {
        let (h, t) = &self.info;
        let mut out = Vec::with_capacity(h.len() + t.len() + 96);
        out.extend_from_slice(h);
        Self::client_fields(&mut out, cid, peer, nonce);
        out.extend_from_slice(t);
        out
    }

    /// The INFO for a new client-port connection under `proxy_protocol`:
    /// no `client_ip` (it would be the proxy's address; nats-server
    /// `generateClientInfoJSON(info, false)`).
    pub fn info_line_without_ip(&self, cid: ConnId, nonce: &str) -> Vec<u8> {
        use std::io::Write as _;
        let (h, t) = &self.info;
        let mut out = Vec::with_capacity(h.len() + t.len() + 64);
        out.extend_from_slice(h);
        let _ = write!(out, "\"client_id\":{cid}");
        if !nonce.is_empty() {
            let _ = write!(out, ",\"nonce\":\"{nonce}\"");
        }
        out.extend_from_slice(t);
        out
    }

    /// The INFO sent to protocol-1 clients when lame duck mode starts:
    /// `"ldm":true`, no nonce.
    pub fn ldm_line(&self, cid: ConnId, peer: SocketAddr) -> Vec<u8> {
        let (h, t) = &self.ldm;
        let mut out = Vec::with_capacity(h.len() + t.len() + 64);
        out.extend_from_slice(h);
        Self::client_fields(&mut out, cid, peer, "");
        out.extend_from_slice(t);
        out
    }

    /// The INFO after the first PONG to protocol-1 clients, with
    /// `"connect_info":true` and the bound account.
    pub fn connect_info_line(&self, cid: ConnId, peer: SocketAddr, account: &str) -> Vec<u8> {
        let (h, m, t) = &self.connect_info;
        let mut out = Vec::with_capacity(h.len() + m.len() + t.len() + 96);
        out.extend_from_slice(h);
        Self::client_fields(&mut out, cid, peer, "");
        out.extend_from_slice(m);
        let acc = serde_json::to_vec(account).unwrap_or_default();
        out.extend_from_slice(&acc);
        out.extend_from_slice(t);
        out
    }
}
