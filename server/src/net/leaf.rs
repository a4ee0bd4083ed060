//! Leafnode connections on the loop (spec `leafnode.md` §3.1, §3.12): the
//! `leafnodes` listener's accepted links, and the dialers of the `remotes`
//! (one thread each: dial, hand the socket to a loop, wait for the link to
//! close, wait `reconnect` (plus jitter after a failed dial, or the delay
//! a loop imposes), dial the next URL).

use std::net::{TcpListener as StdListener, TcpStream as StdStream, ToSocketAddrs};
use std::sync::Mutex;
use std::time::Duration;

use super::leaf_dial::{self, DialError, DialTls};
use super::*;
use crate::session::leaf::{Leaf, Remote, RemoteUrl};

/// Binds the `leafnodes` listener if one is configured, records its
/// address and logs `Listening for leafnode connections on <addr>`.
pub(crate) fn bind_listener(shared: &Shared) -> io::Result<()> {
    let settings = shared.settings();
    let Some(l) = settings.leafnodes.as_ref().filter(|l| l.listens()) else {
        return Ok(());
    };
    let host = l.host.clone().unwrap_or_else(|| "0.0.0.0".into());
    let port = l.port.unwrap_or(0).max(0) as u16;
    let listener = StdListener::bind((host.as_str(), port))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let _ = shared.leaf_addr.set(addr);
    *shared.leaf_listener.lock().expect("leaf listener") = Some(listener);
    crate::info!("Listening for leafnode connections on {addr}");
    // nats-server warns here only, when the listener starts.
    let insecure = |t: Option<&crate::options::TlsConfig>| t.is_some_and(|t| t.insecure);
    if insecure(l.tls.as_ref()) || l.remotes.iter().any(|r| insecure(r.tls.as_ref())) {
        crate::warn!("{}", crate::leaf_tls::INSECURE_WARNING);
    }
    Ok(())
}

/// Starts one dialer thread per enabled remote.
pub(crate) fn start_remotes(shared: &Arc<Shared>) {
    let settings = shared.settings();
    let Some(l) = settings.leafnodes.as_ref() else {
        return;
    };
    for cfg in l.remotes.iter().filter(|r| !r.disabled) {
        let remote = Arc::new(Remote {
            cfg: cfg.clone(),
            current: Mutex::new(None),
            closed: Mutex::new(None),
            cv: std::sync::Condvar::new(),
            handoff: Mutex::new(None),
            discovered: Mutex::new(Vec::new()),
        });
        let shared = shared.clone();
        let reconnect = l.reconnect;
        let dial_timeout = cfg.dial_timeout.unwrap_or(l.dial_timeout);
        let _ = std::thread::Builder::new()
            .name("natsws-leaf-dialer".into())
            .spawn(move || dialer(&shared, &remote, reconnect, dial_timeout));
    }
}

/// Sleeps `d` unless the server shuts down first (false then).
fn pause(shared: &Shared, remote: &Remote, d: Duration) -> bool {
    let until = std::time::Instant::now() + d;
    let mut g = remote.closed.lock().expect("remote");
    loop {
        if shared.shutdown.load(Ordering::Acquire) {
            return false;
        }
        let left = until.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return true;
        }
        g = remote
            .cv
            .wait_timeout(g, left.min(Duration::from_millis(200)))
            .expect("remote")
            .0;
    }
}

/// The dial loop of one remote (spec §3.12).
fn dialer(shared: &Arc<Shared>, remote: &Arc<Remote>, reconnect: Duration, dial_timeout: Duration) {
    let mut urls: Vec<RemoteUrl> = remote
        .cfg
        .urls
        .iter()
        .filter_map(|u| RemoteUrl::parse(u))
        .collect();
    if urls.is_empty() {
        return;
    }
    if !remote.cfg.no_randomize {
        fastrand::shuffle(&mut urls);
    }
    let mut attempt = 0u64;
    let mut connected_once = false;
    let mut dtls = DialTls::new(remote);
    loop {
        if shared.shutdown.load(Ordering::Acquire) {
            return;
        }
        remote.merge_discovered(&mut urls);
        let url = urls[0].clone();
        attempt += 1;
        crate::debug!(
            "Trying to connect as leafnode to remote server on \"{}\"",
            url.host_port
        );
        let dialed = match &remote.cfg.proxy {
            Some(p) => crate::leaf_tunnel::open(
                p,
                &crate::leaf_tunnel::target(&url),
                p.timeout.filter(|t| !t.is_zero()).unwrap_or(dial_timeout),
            )
            .map_err(io::Error::other),
            None => dial(&url.host_port, dial_timeout),
        };
        let dialed = dialed.map_err(DialError::Io).and_then(|(s, peer)| {
            let (s, h) = leaf_dial::prepare(shared, remote, &mut dtls, &url, s, peer)?;
            *remote.handoff.lock().expect("remote") = Some(h);
            s.set_nonblocking(true).map_err(DialError::Io)?;
            Ok((TcpStream::from_std(s), peer))
        });
        match dialed {
            Ok((sock, peer)) => {
                attempt = 0;
                connected_once = true;
                *remote.current.lock().expect("remote") = Some(url);
                *remote.closed.lock().expect("remote") = None;
                let idx = fastrand::usize(..shared.loops.len());
                let h = &shared.loops[idx];
                h.solicited
                    .lock()
                    .expect("solicited")
                    .push((sock, peer, remote.clone()));
                let _ = h.waker.wake();
                // Wait for the link to end.
                let delay = {
                    let mut g = remote.closed.lock().expect("remote");
                    loop {
                        if shared.shutdown.load(Ordering::Acquire) {
                            return;
                        }
                        if let Some(d) = g.take() {
                            break d;
                        }
                        g = remote
                            .cv
                            .wait_timeout(g, Duration::from_millis(500))
                            .expect("remote")
                            .0;
                    }
                };
                if !pause(shared, remote, delay.unwrap_or(reconnect)) {
                    return;
                }
            }
            Err(DialError::Handshake) => {
                // A link was made and failed its TLS handshake (logged):
                // the `reconnect` interval, as after any closed link.
                attempt = 0;
                urls.rotate_left(1);
                if !pause(shared, remote, reconnect) {
                    return;
                }
            }
            Err(DialError::Io(e)) => {
                // First failure, then every 3600th before the first
                // success; every one after a disconnect (spec §1).
                if attempt == 1 || connected_once || attempt.is_multiple_of(3600) {
                    crate::error!(
                        "Error trying to connect as leafnode to remote server \"{}\" (attempt {attempt}): {e}",
                        url.host_port
                    );
                }
                urls.rotate_left(1);
                let jitter =
                    Duration::from_millis(fastrand::u64(0..reconnect.as_millis().max(1) as u64));
                if !pause(shared, remote, reconnect + jitter) {
                    return;
                }
            }
        }
    }
}

/// Dials `host_port` (one resolved address at random) within `timeout`.
fn dial(host_port: &str, timeout: Duration) -> io::Result<(StdStream, SocketAddr)> {
    let addrs: Vec<SocketAddr> = host_port.to_socket_addrs()?.collect();
    let Some(addr) = (!addrs.is_empty()).then(|| addrs[fastrand::usize(..addrs.len())]) else {
        return Err(io::Error::new(io::ErrorKind::NotFound, "no address"));
    };
    let s = StdStream::connect_timeout(&addr, timeout)?;
    let _ = s.set_nodelay(true);
    Ok((s, addr))
}

impl EventLoop {
    /// Loop 0 takes the `leafnodes` listener bound at start.
    pub(super) fn take_leaf_listener(&mut self) -> io::Result<()> {
        if let Some(l) = self
            .shared
            .leaf_listener
            .lock()
            .expect("leaf listener")
            .take()
        {
            let mut l = TcpListener::from_std(l);
            self.poll
                .registry()
                .register(&mut l, LEAF_LISTENER, Interest::READABLE)?;
            self.leaf_listener = Some(l);
        }
        Ok(())
    }

    /// Takes the sockets the dialers handed to this loop.
    pub(super) fn take_solicited(&mut self) {
        let list = std::mem::take(
            &mut *self.shared.loops[self.turn.idx]
                .solicited
                .lock()
                .expect("solicited"),
        );
        for (sock, peer, remote) in list {
            self.add_leaf(sock, peer, Some(remote));
        }
    }

    /// A leafnode connection: accepted (`remote` None: it gets the leaf
    /// INFO now) or solicited (it waits for the hub's INFO).
    pub(super) fn add_leaf(
        &mut self,
        mut sock: TcpStream,
        peer: SocketAddr,
        remote: Option<Arc<Remote>>,
    ) {
        let shared = &self.shared;
        let settings = shared.settings();
        let entry = self.conns.vacant_entry();
        let token = entry.key();
        if let Err(e) = self
            .poll
            .registry()
            .register(&mut sock, Token(token), Interest::READABLE)
        {
            crate::error!("register: {e}");
            if let Some(r) = remote {
                r.notify_closed(None);
            }
            return;
        }
        let handoff = remote
            .as_ref()
            .and_then(|r| r.handoff.lock().expect("remote").take());
        let cid = match &handoff {
            Some(h) => h.cid,
            None => shared.next_cid.fetch_add(1, Ordering::Relaxed),
        };
        shared
            .stats
            .total_connections
            .fetch_add(1, Ordering::Relaxed);
        let now = shared.now();
        let (handoff, client_tls) = match handoff {
            Some(mut h) => {
                let t = h.tls.take();
                (Some(h), t)
            }
            None => (None, None),
        };
        let kind = if handoff.as_ref().is_some_and(|h| h.ws_mask.is_some()) {
            ConnKind::LEAF_WS
        } else {
            ConnKind::LEAF
        };
        let cs = Arc::new(ConnShared::new(cid, self.turn.idx, token, kind, peer));
        if let Some(c) = &client_tls {
            cs.set_tls(crate::leaf_tls::session_info(c));
        }
        let account = match &remote {
            Some(r) => shared.accounts.get(&r.cfg.account),
            None => shared.accounts.global().clone(),
        };
        let accepted = remote.is_none();
        let overdue = handoff.as_ref().is_some_and(|h| h.info_overdue);
        let (proto, nonce) = match remote {
            Some(r) => {
                let mut l = Leaf::solicit(&settings, r, now);
                if overdue {
                    l.info_overdue(now);
                }
                (l, String::new())
            }
            None => (Leaf::accept(&settings, now), crate::auth::new_nonce()),
        };
        // The listener's TLS (spec §3.10): INFO in plaintext, then the
        // handshake; with handshake_first, INFO after it.
        let tls = settings.tls_for(ConnKind::LEAF).filter(|_| accepted);
        let transport = match (tls, client_tls) {
            (_, Some(c)) => Transport::tls_client(sock, c),
            (None, None) => Transport::Plain(sock),
            (Some(t), None) => match Transport::tls(sock, t.holder.current(), false) {
                Ok(t) => t,
                Err((_, e)) => {
                    crate::error!("{peer} - lid:{cid} - TLS setup error: {e}");
                    return;
                }
            },
        };
        let mut conn = Conn::new(
            cs.clone(),
            account,
            nonce.clone().into(),
            transport,
            Proto::Leaf(Box::new(proto)),
        );
        // Leafs are not clients: no pre-auth accounting.
        conn.pre_auth = false;
        // natsws `leafnodes { proxy_protocol }` (operations spec §5.4): an
        // accepted link may start with a PROXY header (never with TLS:
        // refused at start).
        conn.proxy_pending = accepted
            && tls.is_none()
            && settings
                .leafnodes
                .as_ref()
                .is_some_and(|l| l.proxy_protocol);
        shared.conns.lock().expect("conns").insert(cid, cs.clone());
        match tls {
            Some(t) => {
                if !t.handshake_first {
                    conn.sock
                        .queue_raw(&crate::session::leaf_info(shared, cid, &nonce));
                }
                conn.set_handshake_deadline(Some(
                    now.saturating_add(Millis(t.timeout.as_millis() as u64)),
                ));
            }
            None if accepted => io(&mut conn.io)
                .wbuf
                .extend_from_slice(&crate::session::leaf_info(shared, cid, &nonce)),
            None => {}
        }
        let mut early = Vec::new();
        if let Some(h) = handoff {
            if let Some(mask) = h.ws_mask {
                conn.ws = Some(Box::new(WsConn::client(
                    settings.max_payload,
                    mask,
                    h.ws_compress,
                )));
            }
            early = h.early;
        }
        entry.insert(conn);
        arm(&mut self.timers, &mut self.conns[token], token);
        self.turn.local_dirty.push(cs);
        if !early.is_empty() {
            // The INFO may have come with the 101.
            let n = early.len();
            if self.rbuf.len() < n {
                self.rbuf.resize(n, 0);
            }
            self.rbuf[..n].copy_from_slice(&early);
            self.process(token, n);
        }
    }

    /// A WebSocket upgrade on a `…/leafnode` path completed (spec
    /// `leafnode.md` §5.1): the connection becomes an accepted leaf
    /// (`lid_ws`): a new shared part of kind `LEAF_WS`, the leaf protocol,
    /// and the leaf INFO, framed. Always true (it stays open).
    pub(super) fn leaf_upgraded(&mut self, token: usize, now: Millis) -> bool {
        let shared = &self.shared;
        let settings = shared.settings();
        let conn = &mut self.conns[token];
        let old = conn.shared.clone();
        let cs = Arc::new(ConnShared::new(
            old.cid,
            old.loop_idx(),
            old.token(),
            ConnKind::LEAF_WS,
            old.peer(),
        ));
        if let Some(up) = old.upgrade.get() {
            let _ = cs.upgrade.set(Box::new(up.clone()));
        }
        if let Some(p) = old.proxied() {
            cs.set_proxied(p);
        }
        conn.shared = cs.clone();
        conn.set_handshake_deadline(None);
        if let Some(ws) = conn.ws.as_mut() {
            ws.last_out = now;
        }
        if conn.pre_auth {
            conn.pre_auth = false;
            shared.pre_auth.fetch_sub(1, Ordering::Relaxed);
        }
        let nonce = crate::auth::new_nonce();
        conn.nonce = nonce.clone().into();
        conn.proto = Proto::Leaf(Box::new(Leaf::accept(&settings, now)));
        shared
            .conns
            .lock()
            .expect("conns")
            .insert(cs.cid, cs.clone());
        let info = crate::session::leaf_info(shared, cs.cid, &nonce);
        let ws = conn.ws.as_mut().expect("upgraded");
        ws.frame_out(&info, &mut io(&mut conn.io).wbuf);
        self.turn.local_dirty.push(cs);
        arm(&mut self.timers, &mut self.conns[token], token);
        true
    }

    /// The TLS handshake of an accepted leaf completed: the deadline ends;
    /// with `handshake_first` the INFO goes out now. True: still open.
    pub(super) fn leaf_tls_ready(&mut self, token: usize) -> bool {
        let settings = self.shared.settings();
        let conn = &mut self.conns[token];
        conn.set_handshake_deadline(None);
        if settings
            .leaf_tls
            .as_ref()
            .is_some_and(|t| t.handshake_first)
        {
            let info = crate::session::leaf_info(&self.shared, conn.shared.cid, &conn.nonce);
            io(&mut conn.io).wbuf.extend_from_slice(&info);
            self.turn.local_dirty.push(conn.shared.clone());
        }
        arm(&mut self.timers, conn, token);
        true
    }

    /// Accepts on the `leafnodes` listener.
    pub(super) fn accept_leaf(&mut self) {
        loop {
            let Some(l) = self.leaf_listener.as_ref() else {
                return;
            };
            match l.accept() {
                Ok((sock, peer)) => {
                    let _ = sock.set_nodelay(true);
                    self.add_leaf(sock, peer, None);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    crate::error!("error accepting leafnode connection: {e}");
                    return;
                }
            }
        }
    }
}

/// The close line of a leafnode connection (spec §6.4):
/// `Leafnode connection closed: <reason> - Remote: <name>`.
pub(super) fn log_closed(cs: &ConnShared, reason: ClosedReason) {
    let name = cs
        .client
        .lock()
        .map(|m| m.name().to_string())
        .unwrap_or_default();
    let remote = if name.is_empty() {
        String::new()
    } else {
        format!(" - Remote: {name}")
    };
    crate::info!(
        "{} - {}:{} - Leafnode connection closed: {}{remote}",
        cs.log_peer(),
        cs.kind.label(),
        cs.cid,
        reason.as_str()
    );
}
