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
