//! Reads: socket → (TLS) → WebSocket overlay → the client session.

use super::*;
use crate::session::client::info_line;
use crate::session::Cx;
use crate::settings::Settings;
use natsws_core::proxy_protocol::{Header, Parsed};

impl EventLoop {
    pub(super) fn read_conn(&mut self, token: usize) {
        let Some(conn) = self.conns.get_mut(token) else {
            return;
        };
        if conn.acks_after > 0 {
            // Held for a commit: read again when released (mqtt_hold).
            return;
        }
        if let Some(reason) = conn.closing {
            if conn.draining().is_some() {
                self.drain(token, reason);
            }
            return;
        }
        if let Some(until) = conn.stalled_until.get() {
            if self.shared.now() < until {
                // The stall timer reads it again.
                return;
            }
            conn.stalled_until = At::NONE;
        }
        conn.more_to_read = false;
        let mut reads = 0;
        // The largest single read of this turn (for the buffer shrink).
        let mut largest = 0usize;
        loop {
            if reads == MAX_READS_PER_TURN {
                self.readable.push(token);
                break;
            }
            reads += 1;
            let conn = &mut self.conns[token];
            let res = conn.sock.read(&mut self.rbuf, &mut self.tls_in);
            if conn.sock.take_handshake_done() && !self.tls_ready(token) {
                return;
            }
            // A TLS handshake that ends in EOF or an error.
            let handshaking = self.conns[token].sock.is_handshaking();
            match res {
                Ok(0) if handshaking => {
                    self.tls_failed(token, "EOF");
                    return;
                }
                Ok(0) => {
                    self.close(token, ClosedReason::ClientClosed, false);
                    return;
                }
                Ok(n) => {
                    largest = largest.max(n);
                    let alive = self.process(token, n);
                    let held = self.hold_acks(token);
                    // As nats-server's read loop: deliver what this read
                    // produced before reading more, so one fast publisher
                    // cannot pile a whole turn's worth of data on its
                    // subscribers' queues.
                    self.flush_dirty();
                    self.wake_others();
                    if !alive || held {
                        return;
                    }
                    if std::mem::take(&mut self.turn.stall) {
                        // Fast producer: let its subscribers drain before
                        // reading more from it, instead of closing them as
                        // slow consumers.
                        let now = self.shared.now();
                        let conn = &mut self.conns[token];
                        conn.stalled_until = At::from(Some(now.saturating_add(STALL)));
                        arm(&mut self.timers, conn, token);
                        return;
                    }
                    // A short read that emptied the socket: more data
                    // raises a new edge (mio's epoll is edge-triggered,
                    // and every arrival signals), so the read that would
                    // only say WouldBlock is skipped. TLS keeps reading
                    // while it holds input (`Transport::drained`).
                    let conn = &self.conns[token];
                    if n < self.rbuf.len() && !conn.read_closed && conn.sock.drained() {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if handshaking => {
                    self.tls_failed(token, &e.to_string());
                    return;
                }
                Err(_) => {
                    self.close(token, ClosedReason::ReadError, false);
                    return;
                }
            }
        }
        let conn = &mut self.conns[token];
        if let Some(b) = conn.io.as_mut() {
            if b.inbuf.is_empty() && oversized(&b.inbuf, largest) {
                b.inbuf = Vec::new();
            }
        }
        // What was read may have moved the connection's deadlines (the
        // WebSocket upgrade ends the handshake deadline and starts the
        // session's auth and ping timers): keep the timer heap in step.
        if conn.closing.is_none() {
            arm(&mut self.timers, conn, token);
        }
        if conn.sock.has_pending() {
            // TLS records (handshake, alerts) the socket did not take.
            self.turn.local_dirty.push(conn.shared.clone());
        }
    }

    /// Handles `n` fresh bytes in `rbuf`: the WebSocket overlay first
    /// (handshake, frames, inflate), then the client session. Returns false
    /// if the connection closed.
    pub(super) fn process(&mut self, token: usize, n: usize) -> bool {
        let now = self.shared.now();
        if let Some(ws) = self.conns[token].ws.as_mut() {
            ws.last_in = now;
        }
        let mut n = n;
        if self.conns[token].proxy_pending {
            match self.proxy_header(token, n) {
                ProxyStep::Wait => return true,
                ProxyStep::Closed => return false,
                // What followed the header is back in rbuf[..m].
                ProxyStep::Done(0) => return true,
                ProxyStep::Done(m) => n = m,
            }
        }
        let mut close_after = None;
        if self.conns[token].ws.is_some() {
            match self.ws_read(token, n, now) {
                WsStep::Stop(alive) => return alive,
                WsStep::Input(reason) => close_after = reason,
            }
        }
        self.proto_input(token, n, close_after, now)
    }

    /// The WebSocket overlay's step: un-frames `rbuf[..n]` into `inbuf`.
    fn ws_read(&mut self, token: usize, n: usize, now: Millis) -> WsStep {
        let EventLoop {
            conns,
            rbuf,
            turn,
            shared,
            ..
        } = self;
        let conn = &mut conns[token];
        let ws = conn.ws.as_mut().expect("checked by the caller");
        let b = io(&mut conn.io);
        let event = if ws.is_client() {
            ws.on_read_client(&mut rbuf[..n], &mut b.inbuf, &mut b.wbuf)
        } else {
            let wcfg = turn
                .settings
                .websocket
                .as_ref()
                .expect("ws conn implies config");
            ws.on_read(
                wcfg,
                conn.shared.peer().ip(),
                &mut rbuf[..n],
                &mut b.inbuf,
                &mut b.wbuf,
            )
        };
        match event {
            WsEvent::Nothing => {
                if !b.wbuf.is_empty() {
                    turn.local_dirty.push(conn.shared.clone());
                }
                WsStep::Stop(true)
            }
            WsEvent::Upgraded => {
                if let Some(up) = ws.take_upgrade() {
                    let _ = conn.shared.upgrade.set(up);
                }
                if self.upgraded(token, now) {
                    WsStep::Input(None)
                } else {
                    WsStep::Stop(false)
                }
            }
            WsEvent::Data => WsStep::Input(None),
            WsEvent::Close(reason) => {
                if !ws.upgraded() {
                    shared
                        .stats
                        .ws_handshake_failures
                        .fetch_add(1, Ordering::Relaxed);
                }
                // Deliver what came before the bad frame, then close.
                WsStep::Input(Some(reason))
            }
        }
    }

    /// The upgrade completed: the NATS session starts now (not at accept),
    /// the INFO goes out framed, and the connection counts towards
    /// `max_connections` from here on. False if it closed (over the limit).
    fn upgraded(&mut self, token: usize, now: Millis) -> bool {
        let EventLoop {
            conns,
            shared,
            turn,
            ..
        } = self;
        if conns[token].ws.as_ref().is_some_and(|w| w.is_leaf()) {
            return self.leaf_upgraded(token, now);
        }
        let conn = &mut conns[token];
        conn.set_handshake_deadline(None);
        if let Some(ws) = conn.ws.as_mut() {
            ws.last_out = now;
        }
        if conn.shared.upgrade.get().is_some_and(|u| {
            natsws_core::ws::handshake::PathKind::from_path(&u.path)
                == natsws_core::ws::handshake::PathKind::Mqtt
        }) {
            return self.upgraded_mqtt(token, now);
        }
        conn.proto.upgraded(now);
        conn.shared.rtt.restart();
        let info = info_line(
            shared,
            conn.shared.cid,
            conn.shared.client_addr(),
            ConnKind::WEBSOCKET,
            &conn.nonce,
        );
        // Nothing was sent before the upgrade, so no vectored batch holds
        // `spare`.
        debug_assert!(conn.ws.as_ref().is_none_or(|w| w.frames.is_none()));
        let b = io(&mut conn.io);
        let mut out = std::mem::take(&mut b.spare);
        out.clear();
        out.extend_from_slice(&info);
        let too_many = shared.admit(&conn.shared);
        if too_many {
            super::accept::push_max_connections(&mut out);
        }
        let ws = conn.ws.as_mut().expect("upgraded");
        ws.frame_out(&out, &mut b.wbuf);
        out.clear();
        b.spare = out;
        turn.local_dirty.push(conn.shared.clone());
        if too_many {
            self.close(token, ClosedReason::MaxConnectionsExceeded, true);
            return false;
        }
        true
    }

    /// The protocol's step (see [`crate::session::Proto`]): the bytes not yet consumed plus the new
    /// ones (`rbuf[..n]` for TCP; `inbuf` holds them for WebSocket). Then
    /// `close_after` (a bad WebSocket frame after good data) closes.
    fn proto_input(
        &mut self,
        token: usize,
        n: usize,
        close_after: Option<ClosedReason>,
        now: Millis,
    ) -> bool {
        let EventLoop {
            conns,
            rbuf,
            shared,
            turn,
            scratch_out,
            ..
        } = self;
        let conn = &mut conns[token];
        // Present unconsumed bytes plus the new ones, without copying when
        // nothing was left over (TCP); WebSocket input is always in inbuf.
        let from_inbuf = conn.ws.is_some() || conn.io.as_ref().is_some_and(|b| !b.inbuf.is_empty());
        if from_inbuf && conn.ws.is_none() {
            io(&mut conn.io).inbuf.extend_from_slice(&rbuf[..n]);
        }
        // Only a protocol that frames its own output writes to `wbuf`;
        // the others need no buffers for their input (an idle client's
        // PING is answered without making them).
        let wants_io = from_inbuf || conn.proto.frames_itself();
        let mut unused = Vec::new();
        let (input, wbuf): (&mut [u8], &mut Vec<u8>) = match conn.io.as_deref_mut() {
            Some(b) if from_inbuf => (&mut b.inbuf[..], &mut b.wbuf),
            Some(b) => (&mut rbuf[..n], &mut b.wbuf),
            None if wants_io => {
                let b = io(&mut conn.io);
                (&mut b.inbuf[..], &mut b.wbuf)
            }
            None => (&mut rbuf[..n], &mut unused),
        };
        if input.is_empty() {
            if let Some(reason) = close_after {
                turn.local_dirty.push(conn.shared.clone());
                self.close(token, reason, true);
                return false;
            }
            return true;
        }
        scratch_out.clear();
        let mut cx = Cx {
            shared,
            turn,
            me: &conn.shared,
            account: &mut conn.account,
            nonce: &conn.nonce,
            cookies: conn.ws.as_ref().and_then(|w| w.cookies.as_deref()),
        };
        let before = (
            conn.shared.subs.load(Ordering::Relaxed),
            conn.proto.interest_ops(),
        );
        conn.idle_ping = is_idle_ping(&conn.proto, input);
        let res = conn.proto.input(&mut cx, input, now, scratch_out, wbuf);
        debug_assert!(
            unused.is_empty(),
            "wbuf written by a protocol that does not frame"
        );
        record_input(shared, conn, before, now);
        if !scratch_out.is_empty() {
            turn.queue_out(&conn.shared, scratch_out);
        }
        if conn.proto.frames_itself() && conn.io.as_ref().is_some_and(|b| !b.wbuf.is_empty()) {
            turn.local_dirty.push(conn.shared.clone());
        }
        if conn.idle_ping {
            // Flushed (and so released) even when the answer is nothing.
            turn.local_dirty.push(conn.shared.clone());
        }
        match res {
            Ok(used) => {
                if from_inbuf {
                    io(&mut conn.io).inbuf.drain(..used);
                } else if used < n {
                    io(&mut conn.io).inbuf.extend_from_slice(&rbuf[used..n]);
                }
                arm(&mut self.timers, conn, token);
                if let Some(reason) = close_after {
                    self.close(token, reason, true);
                    return false;
                }
                true
            }
            Err(close) => {
                if let Some(l) = &close.log {
                    crate::error!(
                        "{} - {}:{} - {l}",
                        conn.shared.log_peer(),
                        conn.shared.kind.label(),
                        conn.shared.cid
                    );
                }
                if conn.proto.frames_itself() {
                    // It sent its own close frame.
                    if let Some(ws) = conn.ws.as_mut() {
                        ws.mark_close_sent();
                    }
                }
                self.close(token, close.reason, true);
                false
            }
        }
    }
}

/// What reading a PROXY protocol header left to do.
enum ProxyStep {
    /// A header may be under way: wait for more bytes.
    Wait,
    /// Header read (or none sent): the client's first bytes, this many,
    /// are in `rbuf` as if just read.
    Done(usize),
    /// A malformed header closed the connection.
    Closed,
}

impl EventLoop {
    /// `proxy_protocol` on the client port (operations spec §5.1, nats-server
    /// `readProxyProtoHeader`): the first bytes may be a PROXY v1/v2 header;
    /// its client address replaces the peer's everywhere. No header: the
    /// bytes are the client's. A malformed header is logged (WRN) and the
    /// connection closed without an `-ERR`.
    fn proxy_header(&mut self, token: usize, n: usize) -> ProxyStep {
        let conn = &mut self.conns[token];
        let trusted = trusted(&self.turn.settings, conn);
        // Staged in inbuf (empty until the protocol starts) across reads.
        let b = io(&mut conn.io);
        b.inbuf.extend_from_slice(&self.rbuf[..n]);
        match natsws_core::proxy_protocol::parse(&b.inbuf) {
            Ok(Parsed::Incomplete) => return ProxyStep::Wait,
            Ok(Parsed::NotProxy) => {}
            Ok(Parsed::Header { header, len }) if trusted => {
                if let Header::Proxied { src, .. } = header {
                    conn.shared.set_proxied(src);
                }
                b.inbuf.drain(..len);
            }
            res => {
                let why = match res {
                    Err(e) => e.to_string(),
                    _ => "PROXY header from a peer not in trusted_proxies".to_string(),
                };
                crate::warn!(
                    "Error reading PROXY protocol header from {}: {why}",
                    conn.shared.peer()
                );
                b.inbuf.clear();
                self.close(token, ClosedReason::ProtocolViolation, true);
                return ProxyStep::Closed;
            }
        }
        conn.proxy_pending = false;
        // What is left goes back where a read puts its bytes. It is at most
        // the last read plus 5 staged bytes (a header ends in the read that
        // completes it; NotProxy is decided by the sixth byte).
        let b = io(&mut conn.io);
        let m = b.inbuf.len();
        if self.rbuf.len() < m {
            self.rbuf.resize(m, 0);
        }
        self.rbuf[..m].copy_from_slice(&b.inbuf);
        b.inbuf.clear();
        ProxyStep::Done(m)
    }
}

/// Whether the socket's peer may send a PROXY header: any peer without
/// `trusted_proxies` (nats-server), else only the listed ones (operations
/// spec §5.2: never trust a header from an unknown peer).
fn trusted(settings: &Settings, conn: &Conn) -> bool {
    let list = match (&conn.ws, &settings.websocket) {
        (Some(_), Some(w)) => &w.trusted_proxies,
        _ => &settings.trusted_proxies,
    };
    list.is_empty() || list.iter().any(|c| c.contains(conn.shared.peer().ip()))
}

/// What the WebSocket overlay's step leaves to do.
enum WsStep {
    /// Nothing for the session; the connection is alive (true) or closed.
    Stop(bool),
    /// Run the session over `inbuf`, then close with this reason, if any.
    Input(Option<ClosedReason>),
}

/// Moves the session's input counters to the connection and the server,
/// and, the first time CONNECT has passed, ends its pre-auth accounting and
/// keeps its name, lang and version for `/connz`. A batch that brought a
/// message, a SUB/UNSUB or a change of the subscriptions (`before`: the
/// open subscriptions and [`Proto::interest_ops`] before it), or a NATS
/// client's CONNECT, is activity at `now` (nats-server `readLoop` after
/// `c.in.msgs`/`c.in.subs`, `processConnect`): one store per batch.
fn record_input(shared: &Shared, conn: &mut Conn, before: (usize, u32), now: Millis) {
    let (im, ib) = conn.proto.in_counts();
    let connect = conn.pre_auth
        && conn.shared.kind.kind == crate::kind::Kind::Client
        && conn.proto.connect_options().is_some();
    if connect
        || im != conn.shared.in_msgs.load(Ordering::Relaxed)
        || before.0 != conn.shared.subs.load(Ordering::Relaxed)
        || before.1 != conn.proto.interest_ops()
    {
        // 0 stands for "none since the accept".
        conn.shared
            .last_activity
            .store(now.0.max(1), Ordering::Relaxed);
    }
    let prev_m = conn.shared.in_msgs.swap(im, Ordering::Relaxed);
    let prev_b = conn.shared.in_bytes.swap(ib, Ordering::Relaxed);
    shared
        .stats
        .in_msgs
        .fetch_add(im - prev_m, Ordering::Relaxed);
    shared
        .stats
        .in_bytes
        .fetch_add(ib - prev_b, Ordering::Relaxed);
    if !conn.shared.async_info.load(Ordering::Relaxed) && conn.proto.takes_async_info() {
        conn.shared.async_info.store(true, Ordering::Release);
    }
    if conn.pre_auth && conn.proto.connect_options().is_some() {
        conn.pre_auth = false;
        shared.pre_auth.fetch_sub(1, Ordering::Relaxed);
        let c = conn.proto.connect_options().expect("checked");
        let mut meta = conn.shared.client.lock().expect("meta");
        meta.set_names(&c.name, &c.lang, &c.version);
        meta.set_account(&conn.account.shared_name);
        drop(meta);
        crate::system::events::client_connect(shared, &conn.shared, &conn.account);
    }
}

impl EventLoop {
    /// A WebSocket upgrade on a path ending in `/mqtt` (mqtt spec §1.3):
    /// the connection becomes an `MQTT_WS` client (its shared part is made
    /// again with that kind, keeping what TLS and the upgrade recorded),
    /// sends nothing first, and counts towards `max_connections` from
    /// here (over it: closed silently, as before CONNECT on the MQTT port).
    fn upgraded_mqtt(&mut self, token: usize, now: Millis) -> bool {
        let EventLoop {
            conns,
            shared,
            turn,
            ..
        } = self;
        let conn = &mut conns[token];
        let old = &conn.shared;
        let cs = ConnShared::new(
            old.cid,
            old.loop_idx(),
            old.token(),
            ConnKind::MQTT_WS,
            old.peer(),
        );
        if let Some(t) = old.tls() {
            cs.set_tls(t.clone());
        }
        if let Some(u) = old.upgrade.get() {
            let _ = cs.upgrade.set(Box::new(u.clone()));
        }
        if let Some(p) = old.proxied() {
            cs.set_proxied(p);
        }
        let cs = Arc::new(cs);
        conn.shared = cs.clone();
        if let Some(ws) = conn.ws.as_mut() {
            ws.binary_only();
        }
        conn.proto = Proto::open(shared, &cs, &mut turn.rng, now);
        conn.proto.upgraded(now);
        turn.local_dirty.push(cs.clone());
        if shared.admit(&cs) {
            self.close(token, ClosedReason::MaxConnectionsExceeded, false);
            return false;
        }
        true
    }
}

/// Whether `input` is exactly one keep-alive from an idle client: a NATS
/// `PING` or `PONG`, an MQTT PINGREQ. Its answer written, the
/// connection's buffers go back to the allocator (`Conn::release_idle`).
fn is_idle_ping(proto: &Proto, input: &[u8]) -> bool {
    match proto {
        Proto::Client(_) => {
            input.eq_ignore_ascii_case(b"PING\r\n") || input.eq_ignore_ascii_case(b"PONG\r\n")
        }
        Proto::Mqtt(_) => input == [0xC0, 0x00],
        _ => false,
    }
}
