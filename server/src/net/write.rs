//! Writes: the outbox batch framed (WebSocket) and written, vectored for
//! large plain batches; closing, the lingering close, the closed ring.

use super::*;

/// A connection's buffers above this capacity are released once the
/// traffic that grew them has stopped (see [`oversized`]).
const SHRINK_ABOVE: usize = 64 * 1024;

/// Whether `buf` should be released: above [`SHRINK_ABOVE`] and more than
/// four times what the connection just used (`used` bytes: its largest
/// read, or its largest outbound batch). A connection under steady large
/// traffic keeps its buffers (releasing them after every turn made each
/// turn fault fresh pages in again: 7% of the server's time at 16 KiB
/// messages); one whose traffic became small or stopped gives them back
/// at its next small read or write (at the latest, the ping interval's
/// PING/PONG).
pub(super) fn oversized(buf: &Vec<u8>, used: usize) -> bool {
    buf.capacity() > SHRINK_ABOVE && buf.capacity() / 4 > used
}

/// An outbox buffer this small (bytes) is not kept after a direct write:
/// it grew for one control packet (CONNACK, SUBACK, PUBACK, PINGRESP,
/// `PONG`, `+OK`), and a quiet connection would hold its 32-byte chunk
/// until its next PING. A connection with traffic queues more than this
/// per flush, so it keeps its buffer.
const TINY: usize = 8;

/// What [`Conn::write_direct`] left to do.
enum Direct {
    /// Everything was written (true: the socket took bytes).
    Done(bool),
    /// Go on with the buffers (true: the socket took bytes).
    More(bool),
}

impl Conn {
    /// Gives the I/O buffers back to the allocator once everything was
    /// written and nothing waits: after the handshake (INFO, the WebSocket
    /// upgrade response and CONNECT grew them; an idle WebSocket client
    /// kept about 1.8 KiB) and after an idle client's PING was answered
    /// (`Conn::idle_ping`), so a quiet connection holds none. Buffers in
    /// use are kept.
    fn release_idle(&mut self) {
        let framing = self.ws.as_ref().is_some_and(|w| w.frames.is_some());
        if !framing && self.io.as_ref().is_some_and(|b| b.is_idle()) {
            self.io = None;
        }
        let mut ob = self.shared.out.lock().expect("out");
        if ob.buf.is_empty() {
            ob.buf = Vec::new();
        }
    }

    /// A quiet plain or TLS connection (no [`Io`]): the outbox batch is
    /// written straight from the outbox's own buffer, which goes back to
    /// the outbox afterwards, so answering a client (CONNACK, SUBACK,
    /// PINGRESP, a few deliveries) makes no buffers. Only a write the
    /// socket did not take whole, or deliveries queued meanwhile, move
    /// the batch into the buffers ([`Direct::More`]: the normal path goes
    /// on from there). WebSocket framing always uses the buffers.
    fn write_direct(&mut self) -> Result<Direct, ()> {
        if self.ws.is_some() || self.closing.is_some() {
            return Ok(Direct::More(false));
        }
        let mut batch = {
            let mut ob = self.shared.out.lock().expect("out");
            if ob.buf.is_empty() {
                return Ok(Direct::Done(false));
            }
            std::mem::take(&mut ob.buf)
        };
        let mut pos = 0;
        while pos < batch.len() {
            match self.sock.write(&batch[pos..]) {
                Ok(0) => break,
                Ok(n) => pos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return Err(()),
            }
        }
        let progressed = pos > 0;
        if pos < batch.len() {
            let b = io(&mut self.io);
            b.last_batch = batch.len();
            b.wbuf = batch;
            b.wpos = pos;
            return Ok(Direct::More(progressed));
        }
        let used = batch.len();
        batch.clear();
        if oversized(&batch, used) || batch.capacity() <= TINY {
            batch = Vec::new();
        }
        let mut ob = self.shared.out.lock().expect("out");
        if ob.buf.is_empty() {
            ob.buf = batch;
            return Ok(Direct::Done(progressed));
        }
        drop(ob);
        io(&mut self.io).spare = batch;
        Ok(Direct::More(progressed))
    }

    /// Writes what is already framed; only when the socket took all of it
    /// is the next batch taken from the outbox (framed for WebSocket:
    /// vectored plain frames for large batches, else copied into `wbuf`).
    /// While the socket is blocked, new deliveries stay in the outbox, where
    /// `max_pending` bounds them (slow consumer), so memory per connection
    /// is bounded. `Ok(true)` when the socket took at least one byte;
    /// `Err` when the socket failed.
    fn write_out(&mut self) -> Result<bool, ()> {
        let mut progressed = false;
        if self.io.is_none() {
            match self.write_direct()? {
                Direct::Done(p) => return Ok(p),
                Direct::More(p) => progressed = p,
            }
        }
        let b = io(&mut self.io);
        loop {
            while let Some(frames) = self.ws.as_mut().and_then(|w| w.frames.as_mut()) {
                let mut slices = [io::IoSlice::new(&[]); VECTORED_SLICES];
                let k = frames.slices(&b.spare, &mut slices);
                match self.sock.write_vectored(&slices[..k]) {
                    Some(Ok(0)) => break,
                    Some(Ok(n)) => {
                        progressed = true;
                        frames.sent += n;
                        if frames.sent >= frames.total(b.spare.len()) {
                            if let Some(w) = self.ws.as_mut() {
                                w.frames = None;
                            }
                            b.spare.clear();
                        }
                    }
                    Some(Err(e)) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Some(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Some(Err(_)) | None => return Err(()),
                }
            }
            if self.ws.as_ref().is_some_and(|w| w.frames.is_some()) {
                break;
            }
            while b.wpos < b.wbuf.len() {
                match self.sock.write(&b.wbuf[b.wpos..]) {
                    Ok(0) => break,
                    Ok(n) => {
                        progressed = true;
                        b.wpos += n;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => return Err(()),
                }
            }
            if b.wpos < b.wbuf.len() {
                break;
            }
            b.wbuf.clear();
            b.wpos = 0;
            if self.closing.is_some() {
                break;
            }
            {
                let mut ob = self.shared.out.lock().expect("out");
                if ob.buf.is_empty() {
                    break;
                }
                b.spare.clear();
                std::mem::swap(&mut ob.buf, &mut b.spare);
            }
            b.last_batch = b.last_batch.max(b.spare.len());
            match self.ws.as_mut() {
                Some(ws) => {
                    // A large batch that goes out as plain frames: headers
                    // and NATS bytes in vectored writes, without copying the
                    // bytes behind the headers.
                    if b.spare.len() >= VECTORED_MIN && !self.sock.is_tls() {
                        if let Some(size) = ws.plain_frame_size(b.spare.len()) {
                            ws.frames = Some(Frames::new(b.spare.len(), size));
                            continue;
                        }
                    }
                    ws.frame_out(&b.spare, &mut b.wbuf);
                }
                None => std::mem::swap(&mut b.wbuf, &mut b.spare),
            }
            b.spare.clear();
        }
        Ok(progressed)
    }
}

impl EventLoop {
    /// Writes a dirty connection: a kill requested by another thread
    /// first (slow consumer, lame duck), else the framed bytes and the
    /// outbox ([`Conn::write_out`]), the TLS records, then what follows a
    /// write ([`EventLoop::after_write`]).
    pub(super) fn flush(&mut self, token: usize) {
        if self.kill_requested(token) {
            return;
        }
        let now = self.shared.now();
        let conn = &mut self.conns[token];
        conn.shared.dirty.store(false, Ordering::Release);
        if conn.proto.render(&conn.shared, now, &mut self.turn) {
            // Rendering may have started redelivery timers (MQTT QoS 1/2).
            arm(&mut self.timers, conn, token);
        }
        if let Some(ws) = conn.ws.as_mut() {
            ws.last_out = now;
        }
        // TLS: records (and raw bytes) the socket has not taken yet.
        let drained = conn.write_out().and_then(|progressed| {
            let drained = conn.sock.flush_pending().map_err(|_| ())?;
            Ok((drained, progressed))
        });
        match drained {
            Ok((drained, progressed)) => self.after_write(token, drained, progressed, now),
            Err(()) => self.close_on_write_error(token),
        }
    }

    /// Acts on a kill another thread asked for; true when the connection
    /// is closing because of it.
    fn kill_requested(&mut self, token: usize) -> bool {
        let conn = &self.conns[token];
        if conn.closing.is_some() {
            return false;
        }
        match conn.shared.kill_requested() {
            Kill::SlowConsumer => {
                self.shared.stats.count_slow_consumer(conn.shared.kind);
                crate::info!(
                    "{} - {}:{} - Slow Consumer Detected: MaxPending of {} Exceeded",
                    conn.shared.log_peer(),
                    conn.shared.kind.label(),
                    conn.shared.cid,
                    self.turn.settings.max_pending_for(conn.shared.kind)
                );
                self.close(token, ClosedReason::SlowConsumerPendingBytes, false);
                true
            }
            Kill::Takeover => {
                self.close(token, ClosedReason::DuplicateClientId, false);
                true
            }
            Kill::Shutdown => {
                // Lame duck mode: what is queued goes out, then the close.
                self.close(token, ClosedReason::ServerShutdown, true);
                true
            }
            Kill::Kicked => {
                // An operator's KICK: what is queued goes out, then the
                // close (no -ERR, as nats-server).
                self.close(token, ClosedReason::Kicked, true);
                true
            }
            Kill::MaxConnections => {
                // A reload lowered max_connections (nats-server
                // `maxConnExceeded`); an MQTT client has no `-ERR`.
                if conn.shared.kind.kind == crate::kind::Kind::Client {
                    let mut err = Vec::new();
                    natsws_core::proto::encode_err(&mut err, "maximum connections exceeded");
                    self.turn.queue_out(&conn.shared.clone(), &err);
                }
                self.close(token, ClosedReason::MaxConnectionsExceeded, true);
                true
            }
            Kill::PinnedCert => {
                self.close(token, ClosedReason::TlsHandshakeFailure, true);
                true
            }
            Kill::None => false,
        }
    }

    /// A write failed: the connection ends with the reason it was already
    /// closing for, else Write Error.
    fn close_on_write_error(&mut self, token: usize) {
        let reason = self.conns[token]
            .closing
            .unwrap_or(ClosedReason::WriteError);
        self.finish_close(token, reason);
    }

    /// After a write: everything out (`drained`: TLS too) releases oversized
    /// buffers, drops write interest and moves a closing connection to its
    /// lingering close; otherwise the write deadline is checked and write
    /// interest requested. Under the `retry` write-timeout policy (leaf
    /// links by default, client connections with the top-level
    /// `write_timeout: retry`; nats-server `handleWriteTimeout`) a write that made
    /// `progressed` restarts the deadline: only a link that took no byte
    /// for a whole deadline is closed.
    fn after_write(&mut self, token: usize, drained: bool, progressed: bool, now: Millis) {
        let conn = &mut self.conns[token];
        if conn.io.as_ref().is_none_or(|b| b.wpos == b.wbuf.len())
            && drained
            && conn.ws.as_ref().is_none_or(|w| w.frames.is_none())
        {
            if let Some(b) = conn.io.as_mut() {
                b.wbuf.clear();
                b.wpos = 0;
                let batch = std::mem::take(&mut b.last_batch);
                if oversized(&b.wbuf, batch) {
                    b.wbuf = Vec::new();
                }
                if oversized(&b.spare, batch) {
                    b.spare = Vec::new();
                }
            }
            conn.blocked_since = At::NONE;
            if !conn.pre_auth && !conn.greeted {
                conn.greeted = true;
                conn.release_idle();
            }
            if std::mem::take(&mut conn.idle_ping) {
                conn.release_idle();
            }
            if conn.write_interest {
                conn.write_interest = false;
                let _ = self.poll.registry().reregister(
                    &mut conn.sock,
                    Token(token),
                    Interest::READABLE,
                );
            }
            if let Some(reason) = conn.closing {
                if conn.draining().is_none() && !self.shared.shutdown.load(Ordering::Acquire) {
                    let _ = conn.sock.shutdown(std::net::Shutdown::Write);
                    conn.set_draining(now.saturating_add(LINGER));
                    arm(&mut self.timers, conn, token);
                    // Closed now for everyone but the socket, as
                    // nats-server closes right after its flush: the
                    // lingering socket only keeps unread input from
                    // resetting the connection.
                    record_closed(&self.shared, conn, reason);
                    // Whatever is already queued is read (and dropped) now.
                    self.readable.push(token);
                } else if conn.draining().is_none() {
                    self.finish_close(token, reason);
                }
            }
        } else {
            let retry = progressed && self.turn.settings.write_retry_for(conn.shared.kind);
            let since = conn.blocked_since.get().filter(|_| !retry).unwrap_or(now);
            conn.blocked_since = At::from(Some(since));
            let deadline = self.turn.settings.write_deadline_for(conn.shared.kind);
            if now.saturating_sub(since).0 > deadline.as_millis() as u64 {
                // Before CONNECT it is closed the same way but not counted
                // (nats-server `handleWriteTimeout`: "misleading").
                if !conn.pre_auth {
                    self.shared.stats.count_slow_consumer(conn.shared.kind);
                }
                self.finish_close(token, ClosedReason::SlowConsumerWriteDeadline);
                return;
            }
            if !conn.write_interest {
                conn.write_interest = true;
                let _ = self.poll.registry().reregister(
                    &mut conn.sock,
                    Token(token),
                    Interest::READABLE | Interest::WRITABLE,
                );
            }
        }
    }

    /// Starts closing: releases subscriptions at once; when `flush` is set,
    /// writes what is queued (the `-ERR`, a WebSocket close frame) first.
    pub(super) fn close(&mut self, token: usize, reason: ClosedReason, flush: bool) {
        let EventLoop {
            conns,
            shared,
            turn,
            ..
        } = self;
        let Some(conn) = conns.get_mut(token) else {
            return;
        };
        if conn.closing.is_some() {
            return;
        }
        conn.release(shared, turn);
        conn.start_closing(reason);
        crate::debug!(
            "{} - {}:{} - Client connection closed: {reason}",
            conn.shared.log_peer(),
            conn.shared.kind.label(),
            conn.shared.cid
        );
        if flush {
            // Move the session's last words to the wire, then close.
            let pending = std::mem::take(&mut conn.shared.out.lock().expect("out").buf);
            match conn.ws.as_mut() {
                Some(ws) => {
                    if ws.is_open() {
                        let b = io(&mut conn.io);
                        ws.frame_out(&pending, &mut b.wbuf);
                        ws.close_frame(reason.ws_close_code(), reason.as_str(), &mut b.wbuf);
                    }
                }
                None => io(&mut conn.io).wbuf.extend_from_slice(&pending),
            }
            let cs = conn.shared.clone();
            turn.local_dirty.push(cs);
        } else {
            self.finish_close(token, reason);
        }
    }

    /// Reads and discards a lingering connection's input; finishes the close
    /// on EOF or error.
    pub(super) fn drain(&mut self, token: usize, reason: ClosedReason) {
        let conn = &mut self.conns[token];
        for _ in 0..MAX_READS_PER_TURN {
            match conn.sock.read_discard(&mut self.rbuf) {
                Ok(0) => {
                    self.finish_close(token, reason);
                    return;
                }
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.finish_close(token, reason);
                    return;
                }
            }
        }
        // Still more to discard: come back next turn (fairness).
        self.readable.push(token);
    }

    /// Ends a connection: releases it if it was not yet, drops the socket
    /// and records the close (unless its lingering close did already).
    pub(super) fn finish_close(&mut self, token: usize, reason: ClosedReason) {
        if !self.conns.contains(token) {
            return;
        }
        let mut conn = self.conns.remove(token);
        if conn.closing.is_none() {
            // Not yet released (write error path).
            let EventLoop { shared, turn, .. } = self;
            conn.release(shared, turn);
        }
        self.turn.remove_exhausted();
        let _ = self.poll.registry().deregister(&mut conn.sock);
        let _ = conn.sock.shutdown(std::net::Shutdown::Both);
        if conn.draining().is_none() {
            record_closed(&self.shared, &conn, reason);
        }
    }
}

/// Records that `conn` closed for `reason`: the pre-auth count, the leaf
/// log line, the open list, the closed counters, the disconnect event and
/// the closed ring (`/connz?state=closed`). Once per connection: at the
/// start of its lingering close, or when its socket is dropped without one.
fn record_closed(shared: &Shared, conn: &Conn, reason: ClosedReason) {
    if conn.pre_auth {
        shared.pre_auth.fetch_sub(1, Ordering::Relaxed);
    }
    let cs = &conn.shared;
    if cs.kind.is_leaf() {
        leaf::log_closed(cs, reason);
    }
    shared.conns.lock().expect("conns").remove(&cs.cid);
    shared.stats.closed[reason.index()].fetch_add(1, Ordering::Relaxed);
    if reason == ClosedReason::StaleConnection {
        shared.stats.count_stale(cs.kind);
    }
    crate::system::events::client_disconnect(shared, cs, &conn.account, reason, !conn.pre_auth);
    let pending = cs.out.lock().map_or(0, |o| o.buf.len())
        + conn
            .io
            .as_ref()
            .map_or(0, |b| b.wbuf.len() - b.wpos + b.spare.len());
    let mut closed = shared.closed.lock().expect("closed");
    if closed.len() == CLOSED_RING {
        closed.pop_front();
    }
    closed.push_back(ClosedConn {
        cid: cs.cid,
        kind: cs.kind,
        peer: cs.peer_addr(),
        start: cs.start(),
        stop: std::time::SystemTime::now(),
        reason,
        client: cs
            .client
            .lock()
            .map(|m| m.clone())
            .unwrap_or_else(|_| ClientMeta::default()),
        stats: crate::shared::ClosedStats {
            in_msgs: cs.in_msgs.load(Ordering::Relaxed),
            in_bytes: cs.in_bytes.load(Ordering::Relaxed),
            out_msgs: cs.out_msgs.load(Ordering::Relaxed),
            out_bytes: cs.out_bytes.load(Ordering::Relaxed),
            subs: cs.subs.load(Ordering::Relaxed),
            rtt: cs.rtt.get(),
            last_activity: cs.last_activity.load(Ordering::Relaxed),
            idle: Duration::from_millis(
                (shared.now().0).saturating_sub(cs.last_activity.load(Ordering::Relaxed)),
            ),
            pending: pending as u64,
        },
    });
}
