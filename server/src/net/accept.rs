//! Listeners and new connections: accept, hand-off between loops, the
//! connection's state and INFO, `max_connections`, TLS handshakes.

use super::*;
use crate::kind::Kind;
use crate::session::client::info_line;

impl EventLoop {
    pub(super) fn accept(&mut self, kind: ConnKind) {
        loop {
            let l = match kind {
                ConnKind::CLIENT => self.client_listener.as_ref(),
                ConnKind::WEBSOCKET => self.ws_listener.as_ref(),
                ConnKind::MQTT => self.mqtt_listener.as_ref(),
                _ => self.leaf_listener.as_ref(),
            };
            let Some(l) = l else { return };
            match l.accept() {
                Ok((sock, peer)) => {
                    let cap = self.turn.settings.max_pending_handshakes;
                    if cap > 0 && self.shared.pre_auth.load(Ordering::Relaxed) >= cap {
                        // Pre-auth hardening: too many connections still in
                        // a handshake or awaiting CONNECT. Dropping the
                        // socket closes it; nothing was allocated for it.
                        let n = self
                            .shared
                            .stats
                            .pre_auth_rejected
                            .fetch_add(1, Ordering::Relaxed);
                        if (n + 1).is_power_of_two() {
                            crate::warn!(
                                "{peer} - connection refused: {cap} connections are still in handshake or awaiting CONNECT (max_pending_handshakes); {} refused so far",
                                n + 1
                            );
                        }
                        drop(sock);
                        continue;
                    }
                    let target = self.next_loop % self.shared.loops.len();
                    self.next_loop += 1;
                    if target == self.turn.idx {
                        self.add_conn(sock, peer, kind);
                    } else {
                        let h = &self.shared.loops[target];
                        h.accepted
                            .lock()
                            .expect("accepted")
                            .push((sock, peer, kind));
                        let _ = h.waker.wake();
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    crate::error!("error accepting connection: {e}");
                    return;
                }
            }
        }
    }

    pub(super) fn take_accepted(&mut self) {
        let list = std::mem::take(
            &mut *self.shared.loops[self.turn.idx]
                .accepted
                .lock()
                .expect("lock"),
        );
        for (sock, peer, kind) in list {
            self.add_conn(sock, peer, kind);
        }
    }

    pub(super) fn take_inbox(&mut self) {
        let mut inbox = self.shared.loops[self.turn.idx]
            .inbox
            .lock()
            .expect("inbox");
        self.turn.local_dirty.append(&mut inbox);
    }

    /// A new connection from `kind`'s listener: its transport (TLS set up,
    /// not yet handshaken), its shared part, a client session, the INFO
    /// (client port; WebSocket clients get theirs after the upgrade) and
    /// the `max_connections` check.
    pub(super) fn add_conn(&mut self, sock: TcpStream, peer: SocketAddr, kind: ConnKind) {
        let shared = &self.shared;
        let settings = shared.settings();
        let s = &*settings;
        let _ = sock.set_nodelay(true);
        let tls = s.tls_for(kind);
        let mut sock = match tls {
            None => Transport::Plain(sock),
            Some(t) => {
                match Transport::tls(sock, t.holder.current(), kind == ConnKind::WEBSOCKET) {
                    Ok(t) => t,
                    Err((_, e)) => {
                        crate::error!("{peer} - TLS setup error: {e}");
                        return;
                    }
                }
            }
        };
        let cid = shared.next_cid.fetch_add(1, Ordering::Relaxed);
        shared
            .stats
            .total_connections
            .fetch_add(1, Ordering::Relaxed);
        let entry = self.conns.vacant_entry();
        let token = entry.key();
        if let Err(e) = self
            .poll
            .registry()
            .register(&mut sock, Token(token), Interest::READABLE)
        {
            crate::error!("register: {e}");
            return;
        }
        let now = shared.now();
        let cs = Arc::new(ConnShared::new(cid, self.turn.idx, token, kind, peer));
        let auth = s.auth.as_deref();
        let nonce = auth
            .filter(|a| a.cfg.needs_nonce())
            .map(|_| crate::auth::new_nonce());
        let proto = Proto::open(shared, &cs, &mut self.turn.rng, now);
        let mut conn = Conn::new(
            cs.clone(),
            shared.accounts.global().clone(),
            nonce.unwrap_or_default().into(),
            sock,
            proto,
        );
        shared.pre_auth.fetch_add(1, Ordering::Relaxed);
        // A WebSocket connection counts (max_connections, /varz, /connz)
        // only from its upgrade on, as in nats-server: sockets still in the
        // handshake must not lock clients out.
        let too_many = (kind == ConnKind::CLIENT || kind == ConnKind::MQTT) && shared.admit(&cs);
        crate::debug!(
            "{peer} - {}:{cid} - Client connection created",
            kind.label()
        );
        greet(shared, &mut conn, too_many, now);
        entry.insert(conn);
        arm(&mut self.timers, &mut self.conns[token], token);
        self.turn.local_dirty.push(cs);
    }

    /// The TLS handshake just completed: keeps what was negotiated (and the
    /// client certificate's identity for `verify_and_map`); client port:
    /// clears the TLS deadline and, with `handshake_first`, sends INFO.
    /// Returns false if the connection closed.
    pub(super) fn tls_ready(&mut self, token: usize) -> bool {
        let shared = &self.shared;
        let conn = &mut self.conns[token];
        let kind = conn.shared.kind;
        let (cid, peer) = (conn.shared.cid, conn.shared.peer());
        let settings = shared.settings();
        let Some(listen) = settings.tls_for(kind) else {
            return true;
        };
        let mut info = crate::tls::TlsInfo::default();
        let mut pinned_ok = true;
        if let Some(s) = conn.sock.session() {
            let key = s
                .peer_certificates()
                .and_then(|c| c.first())
                .and_then(|c| crate::tls::spki_sha256(c));
            info.spki.clone_from(&key);
            if !listen.pinned_certs.is_empty() {
                // nats-server's matchesPinnedCert, its debug lines (enforced for websocket
                // too: see docs/compat.md).
                pinned_ok = match key {
                    None => {
                        crate::debug!("{peer} - {}:{cid} - Failed pinned cert test as client did not provide a certificate", kind.label());
                        false
                    }
                    Some(k) if !listen.pinned_certs.contains(&k) => {
                        crate::debug!(
                            "{peer} - {}:{cid} - Failed pinned cert test for key id: {k}",
                            kind.label()
                        );
                        false
                    }
                    Some(_) => true,
                };
            }
            info.version = s
                .protocol_version()
                .map(crate::tls::version_name)
                .unwrap_or_default();
            info.cipher = s
                .negotiated_cipher_suite()
                .map(|c| crate::tls::cipher_name(c.suite()))
                .unwrap_or_default();
            if listen.verify_and_map {
                info.peer = s
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .and_then(|c| crate::tls::peer_identity(c));
            }
        }
        let label = kind.label();
        crate::debug!("{peer} - {label}:{cid} - TLS handshake complete");
        crate::debug!(
            "{peer} - {label}:{cid} - TLS version {}, cipher suite {}",
            info.version,
            info.cipher
        );
        conn.shared.set_tls(info);
        if !pinned_ok {
            self.tls_failed(token, "certificate not pinned");
            return false;
        }
        if kind.is_leaf() {
            return self.leaf_tls_ready(token);
        }
        if kind == ConnKind::MQTT {
            conn.set_handshake_deadline(None);
            arm(&mut self.timers, conn, token);
            return true;
        }
        if kind != ConnKind::CLIENT {
            return true;
        }
        conn.set_handshake_deadline(None);
        let mut too_many = false;
        if listen.handshake_first {
            let info = info_line(shared, cid, peer, kind, &conn.nonce);
            io(&mut conn.io).wbuf.extend_from_slice(&info);
            too_many = shared.over_max_connections();
            if too_many {
                push_max_connections(&mut io(&mut conn.io).wbuf);
            }
            self.turn.local_dirty.push(conn.shared.clone());
        }
        arm(&mut self.timers, conn, token);
        if too_many {
            self.close(token, ClosedReason::MaxConnectionsExceeded, true);
            return false;
        }
        true
    }

    /// The TLS handshake failed (`why`: Go's wording): logs as nats-server
    /// (client port) or Go's HTTP server (websocket), then closes after
    /// writing what is owed (an alert, or the 400 to a plaintext HTTP
    /// request).
    pub(super) fn tls_failed(&mut self, token: usize, why: &str) {
        let conn = &self.conns[token];
        let (cid, peer) = (conn.shared.cid, conn.shared.peer());
        match conn.shared.kind {
            ConnKind::WEBSOCKET => {
                crate::error!("websocket: TLS handshake error from {peer}: {why}")
            }
            k => crate::error!("{peer} - {}:{cid} - TLS handshake error: {why}", k.label()),
        }
        self.close(token, ClosedReason::TlsHandshakeFailure, true);
    }
}

/// Appends `-ERR 'maximum connections exceeded'` (nats-server
/// `ErrTooManyConnections`).
pub(super) fn push_max_connections(out: &mut Vec<u8>) {
    natsws_core::proto::encode_err(out, "maximum connections exceeded");
}

/// What a new connection is sent before it says anything: on the client
/// port the INFO (in plaintext before TLS, unless `handshake_first`) and,
/// over `max_connections`, the error and the close; the TLS and WebSocket
/// handshake deadlines.
fn greet(shared: &Shared, conn: &mut Conn, too_many: bool, now: Millis) {
    let (kind, cid, peer) = (conn.shared.kind, conn.shared.cid, conn.shared.peer());
    let settings = shared.settings();
    let s = &*settings;
    match (kind, s.tls_for(kind)) {
        (ConnKind::CLIENT, None) => {
            if s.proxy_protocol {
                // The peer is the proxy: no client_ip until the header
                // names the client (nats-server).
                conn.proxy_pending = true;
                let info = shared
                    .info_templates(kind)
                    .info_line_without_ip(cid, &conn.nonce);
                io(&mut conn.io).wbuf.extend_from_slice(&info);
            } else {
                io(&mut conn.io).wbuf.extend_from_slice(&info_line(
                    shared,
                    cid,
                    peer,
                    kind,
                    &conn.nonce,
                ));
            }
            if too_many {
                push_max_connections(&mut io(&mut conn.io).wbuf);
                conn.start_closing(ClosedReason::MaxConnectionsExceeded);
            }
        }
        (ConnKind::CLIENT, Some(t)) => {
            // INFO in plaintext, then the client starts TLS; with
            // handshake_first, INFO follows the handshake.
            crate::debug!("{peer} - cid:{cid} - Starting TLS client connection handshake");
            if !t.handshake_first {
                let info = info_line(shared, cid, peer, kind, &conn.nonce);
                conn.sock.queue_raw(&info);
                if too_many {
                    let mut e = Vec::new();
                    push_max_connections(&mut e);
                    conn.sock.queue_raw(&e);
                    conn.start_closing(ClosedReason::MaxConnectionsExceeded);
                }
            }
            conn.set_handshake_deadline(Some(
                now.saturating_add(Millis(t.timeout.as_millis() as u64)),
            ));
        }
        (
            ConnKind {
                kind: Kind::Mqtt, ..
            },
            tls,
        ) => {
            // MQTT sends nothing first; over max_connections the socket is
            // closed silently (nats-server maxConnExceeded before CONNECT).
            // On the MQTT port (not /mqtt: the websocket listener's own
            // proxy step ran), a PROXY header may come first.
            if !kind.is_ws() {
                conn.proxy_pending = s.mqtt.as_ref().is_some_and(|m| m.proxy_protocol);
            }
            if too_many {
                conn.start_closing(ClosedReason::MaxConnectionsExceeded);
            }
            if let Some(t) = tls {
                conn.set_handshake_deadline(Some(
                    now.saturating_add(Millis(t.timeout.as_millis() as u64)),
                ));
            }
        }
        (ConnKind::WEBSOCKET, _) => {
            // The upgrade answers max_connections, as nats-server does.
            let w = s.websocket.as_ref().expect("ws listener implies config");
            let mut ws = WsConn::new(w, s.max_payload, conn.proto.frames_itself());
            ws.leaf_ok = s.leafnodes.is_some();
            if !w.keepalive.is_zero() {
                ws.keepalive = Some((Millis(w.keepalive.as_millis() as u64), s.ping_max));
            }
            conn.ws = Some(Box::new(ws));
            conn.proxy_pending = w.proxy_protocol;
            let deadline = now.saturating_add(Millis(w.handshake_timeout.as_millis() as u64));
            conn.set_handshake_deadline(Some(deadline));
        }
        // A leafnode's protocol greets (crate::session::leaf).
        _ => {}
    }
}
