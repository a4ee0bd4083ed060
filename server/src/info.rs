//! The INFO lines the server sends (spec `nats-protocol.md` §1.5,
//! `websocket.md` §4.3).

use std::net::SocketAddr;

use natsws_core::proto::{self, Info};
use natsws_core::router::ConnId;

use crate::server::{ConnKind, Shared, VERSION};

/// A parsed `client_advertise` (spec §1.5: INFO `host`/`port` for TCP
/// clients).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advertise {
    /// The advertised host, trimmed (may be empty, as in nats-server).
    pub host: String,
    /// The advertised port; `None` = the actual client listen port (no port
    /// given, or 0 or -1).
    pub port: Option<u16>,
}

/// Parses `client_advertise` as nats-server's `parseHostPort` with Go's
/// `net.SplitHostPort` and `strconv.Atoi`: `host:port`, `[v6]:port`, or a
/// bare host (then the listen port); port 0 and -1 mean the listen port;
/// host and port are trimmed of white space. `listen_port` (the configured
/// port) only appears in error texts. An empty value is `Ok(None)` (not
/// advertised).
///
/// # Errors
/// nats-server's startup error, e.g. `Error setting server INFO with
/// ClientAdvertise value of a:b, err=strconv.Atoi: parsing "b": invalid
/// syntax`. A port outside 0–65535 (other than -1), which nats-server puts in
/// INFO as is, is refused too (docs/compat.md).
pub fn parse_client_advertise(value: &str, listen_port: i32) -> Result<Option<Advertise>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    let fail = |why: String| {
        format!("Error setting server INFO with ClientAdvertise value of {value}, err={why}")
    };
    let (host, port) = match split_host_port(value) {
        Ok(hp) => hp,
        Err(why) if why == MISSING_PORT => {
            let with_port = format!("{value}:{listen_port}");
            let (h, _) = split_host_port(&with_port)
                .map_err(|why| fail(format!("address {with_port}: {why}")))?;
            (h.to_string(), None)
        }
        Err(why) => return Err(fail(format!("address {value}: {why}"))),
    };
    let port = match port {
        None => None,
        Some(p) => {
            let p = p.trim();
            let n: i64 = p.parse().map_err(|e: std::num::ParseIntError| {
                let why = match e.kind() {
                    std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                        "value out of range"
                    }
                    _ => "invalid syntax",
                };
                fail(format!("strconv.Atoi: parsing {p:?}: {why}"))
            })?;
            match n {
                0 | -1 => None,
                n => Some(
                    u16::try_from(n).map_err(|_| fail(format!("port {n} out of range 0-65535")))?,
                ),
            }
        }
    };
    Ok(Some(Advertise {
        host: host.trim().to_string(),
        port,
    }))
}

const MISSING_PORT: &str = "missing port in address";

/// Go's `net.SplitHostPort`: (host, port) or the reason of its `AddrError`.
fn split_host_port(hp: &str) -> Result<(String, Option<&str>), &'static str> {
    let Some(i) = hp.rfind(':') else {
        return Err(MISSING_PORT);
    };
    let (host, j, k) = if hp.starts_with('[') {
        let Some(end) = hp.find(']') else {
            return Err("missing ']' in address");
        };
        if end + 1 == hp.len() {
            return Err(MISSING_PORT);
        }
        if end + 1 != i {
            return Err(if hp.as_bytes()[end + 1] == b':' {
                "too many colons in address"
            } else {
                MISSING_PORT
            });
        }
        (&hp[1..end], 1, end + 1)
    } else {
        let host = &hp[..i];
        if host.contains(':') {
            return Err("too many colons in address");
        }
        (host, 0, 0)
    };
    if hp[j..].contains('[') {
        return Err("unexpected '[' in address");
    }
    if hp[k..].contains(']') {
        return Err("unexpected ']' in address");
    }
    Ok((host.to_string(), Some(&hp[i + 1..])))
}

/// The INFO a client gets on connect: the listener's host and port (the
/// websocket listener's for WebSocket clients; `client_advertise` instead for
/// TCP clients), this connection's id and IP.
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
    let (host, port) = match (&s.client_advertise, kind) {
        (Some(a), ConnKind::Client) => (a.host.clone(), a.port.unwrap_or(addr.port())),
        _ => (addr.ip().to_string(), addr.port()),
    };
    Info {
        server_id: shared.server_id.clone(),
        server_name: shared.server_name.clone(),
        version: VERSION.into(),
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
    pub fn new(shared: &Shared, kind: ConnKind) -> InfoTemplates {
        let mut i = info(shared, 0, SocketAddr::from(([0, 0, 0, 0], 0)), kind);
        i.client_id = 0; // omitted; spliced in front of client_ip
        i.client_ip = IP_MARK.into();
        if let Some(a) = shared.settings.auth.as_deref() {
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
