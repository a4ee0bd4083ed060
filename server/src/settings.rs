//! Resolved runtime settings: what the loops, the listeners and the
//! monitor read. Built from [`crate::options::Options`] by `main.rs`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::kind::ConnKind;
use crate::ws::WsListenConfig;

/// Resolved runtime settings (from the config file and the command line).
/// Units: bytes, and `Duration`s.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Client (TCP) listen address; port 0 picks a free port.
    pub client_addr: SocketAddr,
    /// The WebSocket listener, if configured with a port.
    pub websocket: Option<WsListenConfig>,
    /// Monitoring listen address (`http_port`, or `https_port` when
    /// [`Settings::https_tls`] is set).
    pub http_addr: Option<SocketAddr>,
    /// Client-port TLS (top-level `tls { … }`); `None` = plaintext.
    pub tls: Option<crate::tls::TlsListen>,
    /// Monitoring over TLS (`https_port`/`https`): the top-level `tls`
    /// block's certificate, client certificates never requested.
    pub https_tls: Option<Arc<crate::tls::TlsHolder>>,
    /// `server_name`; defaults to the server id.
    pub server_name: Option<String>,
    /// `client_advertise`: host and port in the INFO to TCP clients.
    pub client_advertise: Option<Advertise>,
    /// `max_payload` (default 1 MiB).
    pub max_payload: usize,
    /// `max_control_line` (default 4096).
    pub max_control_line: usize,
    /// `max_pending` outbound bytes per connection (default 64 MiB).
    pub max_pending: usize,
    /// `max_subscriptions` per connection, 0 = unlimited.
    pub max_subscriptions: usize,
    /// `max_sub_tokens`: tokens allowed in a SUB subject, 0 = unlimited.
    pub max_sub_tokens: usize,
    /// `max_connections` (default 65536; a configured 0 rejects everyone,
    /// as in nats-server).
    pub max_connections: usize,
    /// `ping_interval` (default 2 min).
    pub ping_interval: Duration,
    /// `ping_max` (default 2).
    pub ping_max: u32,
    /// `write_deadline` (default 10 s).
    pub write_deadline: Duration,
    /// `max_pending` for WebSocket clients (natsws `websocket {
    /// max_pending }`; default the server's).
    pub ws_max_pending: usize,
    /// `write_deadline` for WebSocket clients (natsws `websocket {
    /// write_deadline }`; default the server's).
    pub ws_write_deadline: Duration,
    /// `no_header_support`.
    pub no_header_support: bool,
    /// Event-loop threads (default: one per core).
    pub threads: usize,
    /// Pre-auth cap: connections still in handshake or awaiting CONNECT
    /// (default 4096; 0 = unlimited). natsws-only hardening.
    pub max_pending_handshakes: usize,
    /// The longest an event loop keeps polling without blocking after a
    /// turn that had events (`loop_spin`; the window adapts below it).
    /// Default 50 µs; zero turns it off.
    pub loop_spin: Duration,
    /// `lame_duck_duration`: lame duck mode closes the clients within this
    /// time (default 2 min).
    pub lame_duck_duration: Duration,
    /// `lame_duck_grace_period`: lame duck mode waits this long before it
    /// closes clients (default 10 s).
    pub lame_duck_grace_period: Duration,
    /// Authentication and authorization; `None` when nothing is
    /// configured (everyone is anonymous in `$G`).
    pub auth: Option<Arc<crate::auth::ServerAuth>>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            client_addr: "0.0.0.0:4222".parse().expect("literal"),
            websocket: None,
            http_addr: None,
            tls: None,
            https_tls: None,
            server_name: None,
            client_advertise: None,
            max_payload: 1024 * 1024,
            max_control_line: 4096,
            max_pending: 64 * 1024 * 1024,
            max_subscriptions: 0,
            max_sub_tokens: 0,
            max_connections: 65536,
            ping_interval: Duration::from_secs(120),
            ping_max: 2,
            write_deadline: Duration::from_secs(10),
            ws_max_pending: 64 * 1024 * 1024,
            ws_write_deadline: Duration::from_secs(10),
            no_header_support: false,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            max_pending_handshakes: 4096,
            loop_spin: crate::options::DEFAULT_LOOP_SPIN,
            lame_duck_duration: crate::options::DEFAULT_LAME_DUCK_DURATION,
            lame_duck_grace_period: crate::options::DEFAULT_LAME_DUCK_GRACE_PERIOD,
            auth: None,
        }
    }
}

impl Settings {
    /// `max_pending` for a connection of `kind`.
    pub fn max_pending_for(&self, kind: ConnKind) -> usize {
        match kind {
            ConnKind::Client => self.max_pending,
            ConnKind::WebSocket => self.ws_max_pending,
        }
    }

    /// `write_deadline` for a connection of `kind`.
    pub fn write_deadline_for(&self, kind: ConnKind) -> Duration {
        match kind {
            ConnKind::Client => self.write_deadline,
            ConnKind::WebSocket => self.ws_write_deadline,
        }
    }
}

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
