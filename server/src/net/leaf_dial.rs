//! What a remote's dialer does on a new socket before a loop takes it
//! (spec `leafnode.md` §3.3, §3.10, §5.2), blocking, in the dialer's
//! thread:
//!
//! - `wss://` (or `ws://` with a `tls { … }` block): the TLS client
//!   handshake, then the WebSocket upgrade over it;
//! - `ws://`: the WebSocket upgrade;
//! - a `tls { handshake_first }` remote: the handshake, then the loop reads
//!   the INFO over TLS;
//! - any other: the hub's first INFO, in plaintext within
//!   `first_info_timeout`; then, when the remote has a `tls { … }` block
//!   or the INFO says `tls_required` (nats-server `processLeafnodeInfo`),
//!   the handshake. The loop processes the INFO it is handed first.
//!
//! A failed handshake is logged as nats-server's `doTLSHandshake` does
//! (`<peer> - lid:<cid> - TLS leafnode handshake error: <error>`, then
//! `Leafnode connection closed: TLS Handshake Failure`) and the dialer
//! waits the `reconnect` interval, as nats-server's
//! `reConnectToRemoteLeafNode`.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream as StdStream};
use std::time::{Duration, Instant};

use crate::leaf_remote::{Handoff, Remote, RemoteUrl};
use crate::leaf_tls::{ClientTls, HandshakeError};
use crate::shared::Shared;

/// Why a dialed socket did not become a link.
#[derive(Debug)]
pub(super) enum DialError {
    /// Before a link existed (logged by the dialer as a failed dial).
    Io(io::Error),
    /// The link failed its TLS handshake (already logged).
    Handshake,
}

/// The TLS state of one dialer: its remote's client settings, built on
/// first use (a plain remote never reads the trust store), and the host
/// name to verify when a URL gives an address.
pub(super) struct DialTls {
    client: Option<ClientTls>,
    tls_name: Option<String>,
}

impl DialTls {
    /// For `remote` (its URLs give the saved host name).
    pub(super) fn new(remote: &Remote) -> DialTls {
        let tls_name = remote
            .cfg
            .urls
            .iter()
            .filter_map(|u| RemoteUrl::parse(u))
            .map(|u| u.host().to_string())
            .find(|h| h.parse::<std::net::IpAddr>().is_err());
        DialTls {
            client: None,
            tls_name,
        }
    }

    fn client(&mut self, remote: &Remote) -> Result<&ClientTls, String> {
        if self.client.is_none() {
            let c = ClientTls::new(remote.cfg.tls.as_ref()).map_err(|e| e.to_string())?;
            self.client = Some(c);
        }
        Ok(self.client.as_ref().expect("built"))
    }
}

/// Prepares the socket `s` dialed to `url` (module docs). Ok: the socket
/// (still blocking) and what the loop needs.
///
/// # Errors
/// [`DialError::Io`] for a failed WebSocket upgrade (logged as
/// `Error soliciting websocket connection: <e>`), [`DialError::Handshake`]
/// for a failed TLS handshake.
pub(super) fn prepare(
    shared: &Shared,
    remote: &Remote,
    dtls: &mut DialTls,
    url: &RemoteUrl,
    mut s: StdStream,
    peer: SocketAddr,
) -> Result<(StdStream, Handoff), DialError> {
    let cid = shared
        .next_cid
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let has_block = remote.cfg.tls.is_some();
    let first = remote.cfg.tls.as_ref().is_some_and(|t| t.handshake_first);
    let mut h = Handoff {
        cid,
        early: Vec::new(),
        ws_mask: None,
        ws_compress: false,
        tls: None,
        info_overdue: false,
    };
    if url.wss || (has_block && (url.ws || first)) {
        let (conn, plain) = handshake(shared, dtls, remote, url, &mut s, peer, cid, &[])?;
        h.tls = Some(conn);
        h.early = plain;
    }
    if url.ws {
        let timeout = remote.cfg.first_info_timeout;
        let up = match h.tls.as_mut() {
            Some(conn) => {
                let ctl = s.try_clone().map_err(DialError::Io)?;
                let mut io = rustls::Stream::new(conn, &mut s);
                ws_upgrade(&mut io, &ctl, url, &remote.cfg, timeout)
            }
            None => {
                let ctl = s.try_clone().map_err(DialError::Io)?;
                ws_upgrade(&mut s, &ctl, url, &remote.cfg, timeout)
            }
        };
        let (rest, mask, compress) = up.map_err(|e| {
            crate::error!("Error soliciting websocket connection: {e}");
            DialError::Io(io::Error::other(e))
        })?;
        h.early = rest;
        if let Some(conn) = h.tls.as_mut() {
            drain_plain(conn, &mut h.early);
        }
        crate::debug!("{peer} - lid:{cid} - Leafnode compression={compress} masking={mask}");
        h.ws_mask = Some(mask);
        h.ws_compress = compress;
        return Ok((s, h));
    }
    if h.tls.is_some() {
        return Ok((s, h));
    }
    let (info, extra, overdue) =
        read_info(&mut s, remote.cfg.first_info_timeout, shared).map_err(DialError::Io)?;
    if !overdue && !has_block && remote.cfg.proxy.is_some() && tls_required(&info) {
        // nats-server `processLeafnodeInfo`: through a proxy, a hub that
        // requires TLS needs the remote's own `tls { … }` block.
        crate::error!("{peer} - lid:{cid} - TLS configuration mismatch: Hub requires TLS but leafnode remote is not configured for TLS. When using a proxy, ensure TLS leafnode configuration matches the Hub requirements.");
        crate::info!("{peer} - lid:{cid} - Leafnode connection closed: TLS Handshake Failure");
        let _ = s.shutdown(std::net::Shutdown::Both);
        return Err(DialError::Handshake);
    }
    if !overdue && (has_block || tls_required(&info)) {
        let (conn, plain) = handshake(shared, dtls, remote, url, &mut s, peer, cid, &extra)?;
        h.tls = Some(conn);
        h.early = info;
        h.early.extend_from_slice(&plain);
    } else {
        h.early = info;
        h.early.extend_from_slice(&extra);
        h.info_overdue = overdue;
    }
    Ok((s, h))
}

/// The client handshake, logged as nats-server's `doTLSHandshake`; the
/// hub's certificate must then match the leafnode listener's
/// `pinned_certs` when it has any ([`pinned_check`]).
#[allow(clippy::too_many_arguments)]
fn handshake(
    shared: &Shared,
    dtls: &mut DialTls,
    remote: &Remote,
    url: &RemoteUrl,
    s: &mut StdStream,
    peer: SocketAddr,
    cid: u64,
    early: &[u8],
) -> Result<(rustls::ClientConnection, Vec<u8>), DialError> {
    crate::debug!("{peer} - lid:{cid} - Starting TLS leafnode client handshake");
    let settings = shared.settings();
    let pinned = settings
        .leaf_tls
        .as_ref()
        .map_or(&[][..], |t| t.pinned_certs.as_slice());
    let name = crate::leaf_tls::server_name(url.host(), dtls.tls_name.as_deref());
    let saved_name_used = url.host().parse::<std::net::IpAddr>().is_ok() && dtls.tls_name.is_some();
    let result = match (dtls.client(remote), name) {
        (Ok(c), Some(name)) => c
            .handshake(s, name, early)
            .and_then(|ok| pinned_check(&ok.0, pinned, peer, cid).map(|()| ok)),
        (Err(e), _) => Err(HandshakeError::Failed(e)),
        (Ok(_), None) => Err(HandshakeError::Failed(format!(
            "tls: invalid server name {:?}",
            url.host()
        ))),
    };
    if let Ok((conn, _)) = &result {
        let info = crate::leaf_tls::session_info(conn);
        crate::debug!("{peer} - lid:{cid} - TLS handshake complete");
        crate::debug!(
            "{peer} - lid:{cid} - TLS version {}, cipher suite {}",
            info.version,
            info.cipher
        );
    }
    result.map_err(|e| {
        match e {
            HandshakeError::Timeout => {
                crate::debug!("{peer} - lid:{cid} - TLS handshake timeout");
            }
            HandshakeError::NameMismatch(e) => {
                crate::error!("{peer} - lid:{cid} - TLS leafnode handshake error: {e}");
                // nats-server issue 1256: the saved name was wrong; the
                // next attempt verifies the address itself.
                if saved_name_used {
                    dtls.tls_name = None;
                }
            }
            HandshakeError::Failed(e) => {
                crate::error!("{peer} - lid:{cid} - TLS leafnode handshake error: {e}");
            }
        }
        crate::info!("{peer} - lid:{cid} - Leafnode connection closed: TLS Handshake Failure");
        let _ = s.shutdown(std::net::Shutdown::Both);
        DialError::Handshake
    })
}

/// nats-server `matchesPinnedCert` on a solicited link: it checks the
/// hub's certificate against the `leafnodes { tls { pinned_certs } }` of
/// the listener (`opts.LeafNode.TLSPinnedCerts`, passed to
/// `doTLSClientHandshake`), not the remote's own block; an empty list
/// allows any. A miss is `certificate not pinned` (`ErrCertNotPinned`).
fn pinned_check(
    conn: &rustls::ClientConnection,
    pinned: &[String],
    peer: SocketAddr,
    cid: u64,
) -> Result<(), HandshakeError> {
    if pinned.is_empty() {
        return Ok(());
    }
    let key = conn
        .peer_certificates()
        .and_then(|c| c.first())
        .and_then(|c| crate::tls::spki_sha256(c));
    match key {
        Some(k) if pinned.contains(&k) => Ok(()),
        Some(k) => {
            crate::debug!("{peer} - lid:{cid} - Failed pinned cert test for key id: {k}");
            Err(HandshakeError::Failed("certificate not pinned".into()))
        }
        None => {
            crate::debug!("{peer} - lid:{cid} - Failed pinned cert test as client did not provide a certificate");
            Err(HandshakeError::Failed("certificate not pinned".into()))
        }
    }
}

/// Moves the plaintext rustls already decrypted into `out`.
fn drain_plain(conn: &mut rustls::ClientConnection, out: &mut Vec<u8>) {
    let mut chunk = [0u8; 4096];
    while let Ok(n) = conn.reader().read(&mut chunk) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&chunk[..n]);
    }
}

/// Whether a first line is an INFO with `tls_required: true`.
fn tls_required(line: &[u8]) -> bool {
    let Some(json) = line
        .get(..5)
        .filter(|p| p.eq_ignore_ascii_case(b"INFO "))
        .map(|_| &line[5..])
    else {
        return false;
    };
    serde_json::from_slice::<serde_json::Value>(json.trim_ascii())
        .is_ok_and(|v| v["tls_required"].as_bool() == Some(true))
}

/// Reads the hub's first line within `timeout`: (the line through its
/// `\r\n`, any bytes after it, whether the time ran out first). Stops,
/// without a line, at EOF or after `max_control_line` bytes: the loop
/// reports what it got.
///
/// # Errors
/// Socket errors other than the timeout.
fn read_info(
    s: &mut StdStream,
    timeout: Duration,
    shared: &Shared,
) -> io::Result<(Vec<u8>, Vec<u8>, bool)> {
    let limit = shared.settings().max_control_line.max(4096) + 2;
    let until = Instant::now() + timeout;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
            let extra = buf.split_off(i + 2);
            return Ok((buf, extra, false));
        }
        if buf.len() > limit {
            return Ok((buf, Vec::new(), false));
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok((buf, Vec::new(), true));
        }
        s.set_read_timeout(Some(left))?;
        match s.read(&mut chunk) {
            Ok(0) => return Ok((buf, Vec::new(), false)),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Ok((buf, Vec::new(), true))
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// The WebSocket upgrade of a `ws://`/`wss://` remote over `io` (the
/// socket, or the TLS stream on it), blocking within `timeout` (spec §5.2:
/// the whole exchange has the `first_info_timeout`); `ctl` is the socket,
/// for its timeouts. Returns the bytes read after the response head,
/// whether to mask and whether permessage-deflate was agreed.
fn ws_upgrade(
    io: &mut (impl Read + Write),
    ctl: &StdStream,
    url: &RemoteUrl,
    cfg: &crate::options::leaf::RemoteLeaf,
    timeout: Duration,
) -> Result<(Vec<u8>, bool, bool), String> {
    let no_masking = cfg.ws_no_masking;
    let (req, key) = crate::leaf_remote::ws_request(url, no_masking, cfg.ws_compression);
    let until = Instant::now() + timeout;
    ctl.set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    io.write_all(&req).map_err(|e| e.to_string())?;
    io.flush().map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err("i/o timeout".into());
        }
        ctl.set_read_timeout(Some(left))
            .map_err(|e| e.to_string())?;
        let mut chunk = [0u8; 4096];
        let n = io.read(&mut chunk).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("EOF".into());
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > 16 * 1024 {
            return Err("response head too long".into());
        }
        if let Some(a) = crate::leaf_remote::ws_response(&buf, &key, cfg.ws_compression)? {
            let _ = ctl.set_read_timeout(None);
            let _ = ctl.set_write_timeout(None);
            let mask = !(no_masking && a.no_masking);
            return Ok((buf.split_off(a.len), mask, a.compression));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::tls_required;

    #[test]
    fn tls_required_is_read_from_an_info_line_only() {
        assert!(tls_required(b"INFO {\"tls_required\":true}\r\n"));
        assert!(!tls_required(b"INFO {\"tls_required\":false}\r\n"));
        assert!(!tls_required(b"INFO {}\r\n"));
        assert!(!tls_required(b"-ERR 'x'\r\n"));
        assert!(!tls_required(b"INFO {bad\r\n"));
        assert!(!tls_required(b""));
    }
}
