//! A `remotes` entry's dialing state (spec `leafnode.md` §2.3, §3.12),
//! shared by its dialer thread (`crate::net`) and the link it made
//! (`crate::session::leaf`).

use std::sync::{Condvar, Mutex};
use std::time::Duration;

use crate::options::leaf::RemoteLeaf;

/// One `remotes` entry's dialing state, shared by its dialer thread
/// (`crate::net`) and the connection it made.
#[derive(Debug)]
pub(crate) struct Remote {
    /// The configuration.
    pub cfg: RemoteLeaf,
    /// The URL being used: (`host:port`, user, password).
    pub current: Mutex<Option<RemoteUrl>>,
    /// Set when the connection closed, with a delay owed before the next
    /// dial (a loop: 30 s); the dialer waits on `cv`.
    pub closed: Mutex<Option<Option<Duration>>>,
    /// Signals `closed`.
    pub cv: Condvar,
    /// What the dialer did before handing the socket to a loop, taken by
    /// the loop with the socket.
    pub handoff: Mutex<Option<Handoff>>,
    /// The hub's `leafnode_urls` (`host:port`), from its latest INFO;
    /// empty with `ignore_discovered_servers` (spec §3.12).
    pub discovered: Mutex<Vec<String>>,
}

/// What a remote's dialer did on a new socket before a loop takes it
/// (`crate::net::leaf_dial`).
#[derive(Debug)]
pub(crate) struct Handoff {
    /// The connection id the dialer's log lines used.
    pub cid: u64,
    /// Bytes already read, for the loop to process first: the INFO, or
    /// what came after the WebSocket 101 (frames).
    pub early: Vec<u8>,
    /// A WebSocket link: whether to mask outgoing frames.
    pub ws_mask: Option<bool>,
    /// A WebSocket link with permessage-deflate agreed.
    pub ws_compress: bool,
    /// The TLS session whose client handshake completed.
    pub tls: Option<rustls::ClientConnection>,
    /// The first INFO did not come within `first_info_timeout`: the loop
    /// closes the link at once, as it would have at its own deadline.
    pub info_overdue: bool,
}

/// The upgrade request of a `ws://` remote (spec §5.2): `GET
/// <path>/leafnode`, with `Sec-WebSocket-Extensions: permessage-deflate;
/// server_no_context_takeover; client_no_context_takeover` when
/// `compress` and `Nats-No-Masking: true` when `no_masking`. Returns the
/// request and its `Sec-WebSocket-Key`.
pub(crate) fn ws_request(url: &RemoteUrl, no_masking: bool, compress: bool) -> (Vec<u8>, String) {
    use base64::Engine as _;
    let key = base64::engine::general_purpose::STANDARD.encode(fastrand::u128(..).to_be_bytes());
    let path = format!("{}/leafnode", url.path.trim_end_matches('/'));
    let mut req = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: natsws\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nUpgrade: websocket\r\n",
        url.host_port
    );
    if compress {
        req.push_str("Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n");
    }
    if no_masking {
        req.push_str("Nats-No-Masking: true\r\n");
    }
    req.push_str("\r\n");
    (req.into_bytes(), key)
}

/// What the hub's `101` agreed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WsAgreed {
    /// Length of the response head.
    pub len: usize,
    /// `Nats-No-Masking: true` echoed.
    pub no_masking: bool,
    /// permessage-deflate with both no-context-takeover parameters.
    pub compression: bool,
}

/// Checks the upgrade response head (spec §5.2): `101`, `Upgrade:
/// websocket`, `Connection: upgrade`, the accept key; with `compress`
/// asked, a `permessage-deflate` extension must carry both
/// `server_no_context_takeover` and `client_no_context_takeover`
/// (`compression negotiation error`), and its absence turns compression
/// off (nats-server `leafNodeSolicitWSConnection`).
pub(crate) fn ws_response(
    buf: &[u8],
    key: &str,
    compress: bool,
) -> Result<Option<WsAgreed>, String> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut resp = httparse::Response::new(&mut headers);
    let len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(format!("malformed HTTP response: {e}")),
    };
    let get = |name: &str| {
        resp.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).trim().to_string())
    };
    let accept = natsws_core::ws::handshake::accept_key(key.as_bytes());
    let ok = resp.code == Some(101)
        && get("Upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
        && get("Connection").is_some_and(|v| v.eq_ignore_ascii_case("upgrade"))
        && get("Sec-WebSocket-Accept").as_deref() == Some(accept.as_str());
    if !ok {
        return Err("invalid websocket connection".into());
    }
    let no_masking = get("Nats-No-Masking").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let mut compression = false;
    if compress {
        let offers = resp
            .headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case("Sec-WebSocket-Extensions"))
            .flat_map(|h| {
                String::from_utf8_lossy(h.value)
                    .split(',')
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            });
        for ext in offers {
            let mut params = ext.split(';').map(|p| p.trim().to_ascii_lowercase());
            if params.next().as_deref() != Some("permessage-deflate") {
                continue;
            }
            let params: Vec<String> = params.collect();
            let has = |p: &str| params.iter().any(|x| x == p);
            if !(has("server_no_context_takeover") && has("client_no_context_takeover")) {
                return Err("compression negotiation error".into());
            }
            compression = true;
        }
    }
    Ok(Some(WsAgreed {
        len,
        no_masking,
        compression,
    }))
}

/// A parsed remote URL (`nats-leaf://user:pass@host:port`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RemoteUrl {
    /// `host:port` (port 7422 when none).
    pub host_port: String,
    /// Userinfo user.
    pub user: Option<String>,
    /// Userinfo password.
    pub pass: Option<String>,
    /// A `ws://` or `wss://` URL: the link runs over WebSocket (spec §5.2).
    pub ws: bool,
    /// A `wss://` URL: TLS, then the WebSocket upgrade (nats-server sets
    /// the remote's `TLS` for it).
    pub wss: bool,
    /// The URL's path (`/` when none), joined with `leafnode` for the
    /// upgrade request.
    pub path: String,
    /// Whether the URL gave a port (a proxy's CONNECT target without one
    /// gets 80, or 443 for `wss://`, as nats-server).
    pub explicit_port: bool,
}

impl RemoteUrl {
    /// Parses `scheme://[user[:pass]@]host[:port][/path]`; any scheme not
    /// starting with `ws` is plain TCP (spec §2.3).
    pub(crate) fn parse(url: &str) -> Option<RemoteUrl> {
        let (scheme, rest) = url.split_once("://").unwrap_or(("nats", url));
        let ws = scheme.to_ascii_lowercase().starts_with("ws");
        let wss = scheme.eq_ignore_ascii_case("wss");
        let (rest, path) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].to_string()),
            None => (rest, "/".to_string()),
        };
        let (userinfo, hp) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        if hp.is_empty() {
            return None;
        }
        let has_port = match hp.rfind(':') {
            Some(i) => !hp.ends_with(']') && hp[i + 1..].parse::<u16>().is_ok(),
            None => false,
        };
        let host_port = if has_port {
            hp.to_string()
        } else {
            format!("{hp}:{}", crate::options::leaf::DEFAULT_LEAF_PORT)
        };
        let (user, pass) = match userinfo {
            Some(u) => match u.split_once(':') {
                Some((a, b)) => (Some(a.to_string()), Some(b.to_string())),
                None => (Some(u.to_string()), None),
            },
            None => (None, None),
        };
        Some(RemoteUrl {
            host_port,
            user,
            pass,
            ws,
            wss,
            path,
            explicit_port: has_port,
        })
    }

    /// The host part of `host_port` (IPv6 without brackets).
    pub(crate) fn host(&self) -> &str {
        let h = match self.host_port.rfind(':') {
            Some(i) if !self.host_port.ends_with(']') => &self.host_port[..i],
            _ => &self.host_port,
        };
        h.trim_start_matches('[').trim_end_matches(']')
    }
}

impl Remote {
    /// Records the `leafnode_urls` of a hub INFO `v` (any INFO: the first
    /// and the updates a cluster sends when its members change), or its
    /// `ws_connect_urls` for a `ws://`/`wss://` remote (nats-server
    /// `updateLeafNodeURLs`), unless the remote has
    /// `ignore_discovered_servers`.
    pub(crate) fn learn_urls(&self, v: &serde_json::Value) {
        if self.cfg.ignore_discovered_servers {
            return;
        }
        let key = if self.is_ws() {
            "ws_connect_urls"
        } else {
            "leafnode_urls"
        };
        let Some(list) = v[key].as_array() else {
            return;
        };
        let urls: Vec<String> = list
            .iter()
            .filter_map(|u| u.as_str())
            .filter(|u| !u.is_empty())
            .map(str::to_string)
            .collect();
        *self.discovered.lock().expect("remote") = urls;
    }

    /// Whether the remote's URLs are WebSocket ones (nats-server looks at
    /// the first; it refuses a mix).
    fn is_ws(&self) -> bool {
        self.cfg
            .urls
            .first()
            .and_then(|u| RemoteUrl::parse(u))
            .is_some_and(|u| u.ws)
    }

    /// Adds the discovered `host:port`s not already in `urls` at their
    /// end (nats-server `updateLeafNodeURLs`), with the userinfo of the
    /// first configured URL that has one (spec §3.6): `nats-leaf://` for a
    /// TCP remote, `ws://` or `wss://` (a `wss://` URL or a `tls {}`
    /// block) for a WebSocket one (spec §5.2).
    pub(crate) fn merge_discovered(&self, urls: &mut Vec<RemoteUrl>) {
        let scheme = if !self.is_ws() {
            "nats-leaf"
        } else if self.cfg.tls.is_some() || urls.iter().any(|u| u.wss) {
            "wss"
        } else {
            "ws"
        };
        let found = self.discovered.lock().expect("remote").clone();
        let creds = urls.iter().find(|u| u.user.is_some()).cloned();
        for hp in found {
            if urls.iter().any(|u| u.host_port == hp) {
                continue;
            }
            if let Some(mut u) = RemoteUrl::parse(&format!("{scheme}://{hp}")) {
                if let Some(c) = &creds {
                    u.user = c.user.clone();
                    u.pass = c.pass.clone();
                }
                urls.push(u);
            }
        }
    }

    /// The connection ended; the dialer may go on after `delay` (or the
    /// `reconnect` interval).
    pub(crate) fn notify_closed(&self, delay: Option<Duration>) {
        *self.closed.lock().expect("remote") = Some(delay);
        self.cv.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(key: &str, extra: &str) -> Vec<u8> {
        let accept = natsws_core::ws::handshake::accept_key(key.as_bytes());
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n{extra}\r\n",
            accept.as_str()
        )
        .into_bytes()
    }

    #[test]
    fn compression_needs_both_no_context_takeover_parameters() {
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let both = "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n";
        let a = ws_response(&response(key, both), key, true)
            .unwrap()
            .unwrap();
        assert!(a.compression);
        // Not asked for: ignored.
        let a = ws_response(&response(key, both), key, false)
            .unwrap()
            .unwrap();
        assert!(!a.compression);
        // Absent: off.
        let a = ws_response(&response(key, ""), key, true).unwrap().unwrap();
        assert!(!a.compression && !a.no_masking);
        let one = "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n";
        assert_eq!(
            ws_response(&response(key, one), key, true),
            Err("compression negotiation error".to_string())
        );
        let a = ws_response(&response(key, "Nats-No-Masking: true\r\n"), key, false)
            .unwrap()
            .unwrap();
        assert!(a.no_masking);
        // A partial head waits for more.
        assert_eq!(ws_response(b"HTTP/1.1 101", key, true), Ok(None));
    }

    #[test]
    fn the_request_offers_what_the_remote_asks() {
        let url = RemoteUrl::parse("wss://h:443/nats").unwrap();
        assert!(url.ws && url.wss);
        assert_eq!(url.host(), "h");
        let (req, _) = ws_request(&url, true, true);
        let req = String::from_utf8(req).unwrap();
        assert!(req.starts_with("GET /nats/leafnode HTTP/1.1\r\n"));
        assert!(req.contains(
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
        ));
        assert!(req.contains("Nats-No-Masking: true"));
        let (req, _) = ws_request(&url, false, false);
        let req = String::from_utf8(req).unwrap();
        assert!(!req.contains("Sec-WebSocket-Extensions") && !req.contains("Nats-No-Masking"));
        assert_eq!(RemoteUrl::parse("nats://[::1]:7422").unwrap().host(), "::1");
        assert!(!RemoteUrl::parse("ws://h").unwrap().wss);
    }
}
