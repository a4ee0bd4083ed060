//! The HTTP CONNECT tunnel of a remote with a `proxy { … }` block
//! (nats-server 2.15.1 `leafnode.go: establishHTTPProxyTunnel`): dial the
//! proxy, ask it to `CONNECT host:port`, and hand the socket on as if it
//! had been dialed to the hub. Blocking, in the remote's dialer thread,
//! once per dial (never on a message path).
//!
//! The errors are nats-server's texts, logged by the dial loop as
//! `Error trying to connect as leafnode to remote server "<h>" (attempt
//! <n>): <error>`: `failed to connect to proxy: dial tcp <addr>: connect:
//! connection refused`, `failed to write CONNECT request: <e>`, `failed to
//! read proxy response: <e>`, `proxy CONNECT failed: <status>` (the
//! status as the proxy sent it, e.g. `407 Proxy Authentication
//! Required`).

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream as StdStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use base64::Engine as _;

use crate::leaf_remote::RemoteUrl;
use crate::options::leaf_proxy::LeafProxy;

/// The most bytes of a proxy's response head read (status line and
/// headers); a longer head is a failed tunnel.
const MAX_HEAD: usize = 16 * 1024;

/// Why a tunnel was not made; `Display` is nats-server's text.
#[derive(Debug)]
pub(crate) enum TunnelError {
    /// Dialing the proxy failed (`failed to connect to proxy: …`).
    Connect(String),
    /// Sending the request failed (`failed to write CONNECT request: …`).
    Write(String),
    /// Reading the response failed (`failed to read proxy response: …`).
    Read(String),
    /// The proxy answered other than 200 (`proxy CONNECT failed: <status>`).
    Refused(String),
}

impl fmt::Display for TunnelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TunnelError::Connect(e) => write!(f, "failed to connect to proxy: {e}"),
            TunnelError::Write(e) => write!(f, "failed to write CONNECT request: {e}"),
            TunnelError::Read(e) => write!(f, "failed to read proxy response: {e}"),
            TunnelError::Refused(s) => write!(f, "proxy CONNECT failed: {s}"),
        }
    }
}

impl std::error::Error for TunnelError {}

/// The CONNECT target of `url`: its `host:port`, or the host with 80 (443
/// for `wss://`) when the URL gave no port (nats-server
/// `connectToRemoteLeafNode`).
pub(crate) fn target(url: &RemoteUrl) -> String {
    if url.explicit_port {
        return url.host_port.clone();
    }
    let port = if url.wss { 443 } else { 80 };
    let h = url.host();
    if h.contains(':') {
        format!("[{h}]:{port}")
    } else {
        format!("{h}:{port}")
    }
}

/// Opens a tunnel to `target` through `proxy` within `timeout` (dial and
/// exchange together). Ok: the socket, blocking with no timeouts, whose
/// next byte is the hub's, and the proxy's address (the link's peer).
///
/// # Errors
/// [`TunnelError`] (module docs).
pub(crate) fn open(
    proxy: &LeafProxy,
    target: &str,
    timeout: Duration,
) -> Result<(StdStream, SocketAddr), TunnelError> {
    let until = Instant::now() + timeout;
    let (mut s, addr) = dial(&proxy.host, timeout).map_err(TunnelError::Connect)?;
    let mut req = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
    if !proxy.username.is_empty() && !proxy.password.is_empty() {
        let cred = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", proxy.username, proxy.password));
        req.push_str("Proxy-Authorization: Basic ");
        req.push_str(&cred);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    let left = until.saturating_duration_since(Instant::now());
    let _ = s.set_write_timeout(Some(left.max(Duration::from_millis(1))));
    s.write_all(req.as_bytes())
        .map_err(|e| TunnelError::Write(go_io(&s, "write", &e)))?;
    let head = read_head(&mut s, until)?;
    let _ = s.set_read_timeout(None);
    let _ = s.set_write_timeout(None);
    let status =
        crate::leaf_proxy_head::status(&head).map_err(|e| TunnelError::Read(e.to_string()))?;
    if !crate::leaf_proxy_head::is_ok(&status) {
        let _ = s.shutdown(std::net::Shutdown::Both);
        return Err(TunnelError::Refused(status));
    }
    Ok((s, addr))
}

/// Dials the proxy's `host` (Go's `url.Host`) within `timeout`; errors in
/// Go's `net.Dial` words.
fn dial(host: &str, timeout: Duration) -> Result<(StdStream, SocketAddr), String> {
    let has_port = host
        .rfind(':')
        .is_some_and(|i| !host.ends_with(']') && host[i + 1..].parse::<u16>().is_ok());
    if !has_port {
        return Err(format!("dial tcp: address {host}: missing port in address"));
    }
    let addrs: Vec<SocketAddr> = host
        .to_socket_addrs()
        .map_err(|_| {
            let name = host.rsplit_once(':').map_or(host, |(h, _)| h);
            format!("dial tcp: lookup {name}: no such host")
        })?
        .collect();
    let Some(addr) = addrs.first().copied() else {
        return Err(format!("dial tcp: lookup {host}: no such host"));
    };
    let s = StdStream::connect_timeout(&addr, timeout).map_err(|e| {
        let what = match e.kind() {
            io::ErrorKind::ConnectionRefused => "connect: connection refused".to_string(),
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => "i/o timeout".to_string(),
            _ => format!("connect: {e}"),
        };
        format!("dial tcp {addr}: {what}")
    })?;
    let _ = s.set_nodelay(true);
    Ok((s, addr))
}

/// Reads the response head through its blank line, one byte at a time so
/// that nothing of the hub's first bytes (an INFO right after the 200)
/// is taken from the socket.
fn read_head(s: &mut StdStream, until: Instant) -> Result<Vec<u8>, TunnelError> {
    let mut head = Vec::with_capacity(128);
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && !head.ends_with(b"\n\n") {
        if head.len() >= MAX_HEAD {
            return Err(TunnelError::Read("http: response head too long".into()));
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(TunnelError::Read(go_timeout(s, "read")));
        }
        let _ = s.set_read_timeout(Some(left));
        match s.read(&mut b) {
            Ok(0) if head.is_empty() => return Err(TunnelError::Read("EOF".into())),
            Ok(0) => return Err(TunnelError::Read("unexpected EOF".into())),
            Ok(_) => head.push(b[0]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(TunnelError::Read(go_io(s, "read", &e))),
        }
    }
    Ok(head)
}

/// Go's `net.OpError` text for a read/write on `s`.
fn go_io(s: &StdStream, op: &str, e: &io::Error) -> String {
    if matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    ) {
        return go_timeout(s, op);
    }
    let what = match e.kind() {
        io::ErrorKind::ConnectionReset => "connection reset by peer".to_string(),
        io::ErrorKind::BrokenPipe => "broken pipe".to_string(),
        _ => e.to_string(),
    };
    format!("{op} tcp {}: {what}", ends(s))
}

fn go_timeout(s: &StdStream, op: &str) -> String {
    format!("{op} tcp {}: i/o timeout", ends(s))
}

fn ends(s: &StdStream) -> String {
    match (s.local_addr(), s.peer_addr()) {
        (Ok(l), Ok(p)) => format!("{l}->{p}"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::target;
    use crate::leaf_remote::RemoteUrl;

    #[test]
    fn a_target_without_a_port_gets_the_scheme_default() {
        let t = |u: &str| target(&RemoteUrl::parse(u).unwrap());
        assert_eq!(t("ws://hub.example"), "hub.example:80");
        assert_eq!(t("wss://hub.example/path"), "hub.example:443");
        assert_eq!(t("nats://hub.example"), "hub.example:80");
        assert_eq!(t("wss://hub.example:8443"), "hub.example:8443");
        assert_eq!(t("nats://u:p@10.0.0.1:7422"), "10.0.0.1:7422");
    }
}
