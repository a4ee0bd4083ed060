//! The loop itself: poll with an adaptive spin, timers, the dirty flush,
//! cross-loop wakes, lame duck mode and shutdown.

use super::*;

/// Smallest non-zero spin budget, µs.
const MIN_SPIN: Duration = Duration::from_micros(4);

/// The next spin budget after a busy turn whose spin (if any) caught
/// nothing: `gap` is the time from the end of the turn to the next event
/// (spin + blocking wait). A gap within `max` means a full spin would have
/// caught it: back to `max`. A longer gap, or a timer, means spinning was
/// waste: the budget shrinks by a quarter, to zero below [`MIN_SPIN`].
fn adapt_spin(spin: Duration, max: Duration, gap: Duration, event: bool) -> Duration {
    if event && gap <= max {
        max
    } else {
        let less = spin * 3 / 4;
        if less < MIN_SPIN {
            Duration::ZERO
        } else {
            less
        }
    }
}

impl EventLoop {
    /// A loop; loop 0 gets the listeners.
    pub(crate) fn new(
        idx: usize,
        poll: Poll,
        shared: Arc<Shared>,
        listeners: Option<(StdListener, Option<StdListener>, Option<StdListener>)>,
    ) -> io::Result<EventLoop> {
        let (mut cl, mut wl, mut ml) = (None, None, None);
        if let Some((c, w, m)) = listeners {
            if let Some(m) = m {
                let mut m = TcpListener::from_std(m);
                poll.registry()
                    .register(&mut m, MQTT_LISTENER, Interest::READABLE)?;
                ml = Some(m);
            }
            let mut c = TcpListener::from_std(c);
            poll.registry()
                .register(&mut c, CLIENT_LISTENER, Interest::READABLE)?;
            cl = Some(c);
            if let Some(w) = w {
                let mut w = TcpListener::from_std(w);
                poll.registry()
                    .register(&mut w, WS_LISTENER, Interest::READABLE)?;
                wl = Some(w);
            }
        }
        let turn = Turn::new(idx, &shared);
        let mut el = EventLoop {
            poll,
            shared,
            conns: Slab::new(),
            timers: BinaryHeap::new(),
            rbuf: vec![0; READ_BUF],
            tls_in: Default::default(),
            turn,
            readable: Vec::new(),
            client_listener: cl,
            ws_listener: wl,
            mqtt_listener: ml,
            leaf_listener: None,
            next_loop: 0,
            scratch_out: Vec::new(),
            in_lame_duck: false,
            held: Vec::new(),
            held_need: 0,
        };
        if idx == 0 {
            el.take_leaf_listener()?;
        }
        Ok(el)
    }

    /// Runs until shutdown.
    pub(crate) fn run(mut self) {
        let mut events = Events::with_capacity(1024);
        let mut max_spin = self.turn.settings.loop_spin;
        // The current spin budget, adapted as KVM's halt polling adapts its
        // window: back to `max_spin` when the next event came within it (a
        // full spin would have caught it), a quarter less when it came
        // later (spinning was waste). Steady traffic with gaps
        // longer than `max_spin` (say 10,000 evenly spaced messages a
        // second) brings it to zero; request-reply ping-pong keeps it up.
        let mut spin = max_spin;
        // Whether the last turn had events (the spin only follows those).
        let mut busy = false;
        loop {
            let mut timeout = if !self.readable.is_empty() {
                Some(Duration::ZERO)
            } else {
                self.next_timeout()
            };
            let mut got = false;
            let mut spun = Duration::ZERO;
            if busy && !spin.is_zero() && timeout != Some(Duration::ZERO) {
                spun = spin.min(timeout.unwrap_or(spin));
                got = self.spin_poll(&mut events, spun);
                if !got {
                    timeout = self.next_timeout();
                }
            }
            if !got {
                let waited = std::time::Instant::now();
                if let Err(e) = self.poll.poll(&mut events, timeout) {
                    if e.kind() == io::ErrorKind::Interrupted {
                        continue;
                    }
                    crate::error!("poll error: {e}");
                    return;
                }
                if busy && !max_spin.is_zero() && timeout != Some(Duration::ZERO) {
                    let gap = spun + waited.elapsed();
                    spin = adapt_spin(spin, max_spin, gap, !events.is_empty());
                }
            }
            busy = !events.is_empty();
            // A reload's new settings apply from the next turn on.
            if let Some(old) = self.turn.refresh(&self.shared) {
                max_spin = self.turn.settings.loop_spin;
                spin = spin.min(max_spin);
                self.reconfigure_conns(&old);
            }
            if self.shared.shutdown.load(Ordering::Acquire) {
                self.shutdown_all();
                return;
            }
            if !self.in_lame_duck && self.shared.in_lame_duck() {
                self.enter_lame_duck();
            }
            for ev in events.iter() {
                match ev.token() {
                    WAKER => {}
                    CLIENT_LISTENER => self.accept(ConnKind::CLIENT),
                    WS_LISTENER => self.accept(ConnKind::WEBSOCKET),
                    MQTT_LISTENER => self.accept(ConnKind::MQTT),
                    LEAF_LISTENER => self.accept_leaf(),
                    Token(t) => {
                        if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                            self.readable.push(t);
                        }
                        if ev.is_read_closed() || ev.is_error() {
                            if let Some(c) = self.conns.get_mut(t) {
                                c.read_closed = true;
                            }
                        }
                        if ev.is_writable() {
                            if let Some(c) = self.conns.get(t) {
                                self.turn.local_dirty.push(c.shared.clone());
                            }
                        }
                    }
                }
            }
            self.take_accepted();
            self.take_solicited();
            self.take_inbox();
            let readable = std::mem::take(&mut self.readable);
            for t in readable {
                self.read_conn(t);
            }
            self.fire_timers();
            self.flush_dirty();
            self.settle_held();
            self.wake_others();
        }
    }

    /// The spin of `loop_spin`: polls without blocking, yielding the CPU
    /// between polls (so a client process sharing the core runs), until an
    /// event arrives (true) or `budget` has passed (false). After a busy
    /// turn the next event usually comes within microseconds; catching it
    /// here saves the thread wake-up that a blocking poll would need, which
    /// on a virtual machine costs tens of microseconds (an idle vCPU halts).
    pub(super) fn spin_poll(&mut self, events: &mut Events, budget: Duration) -> bool {
        let start = std::time::Instant::now();
        loop {
            match self.poll.poll(events, Some(Duration::ZERO)) {
                Ok(()) if !events.is_empty() => return true,
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
            if start.elapsed() >= budget {
                return false;
            }
            std::thread::yield_now();
        }
    }

    pub(super) fn next_timeout(&mut self) -> Option<Duration> {
        let now = self.shared.now();
        self.timers
            .peek()
            .map(|Reverse((at, _))| Duration::from_millis(at.saturating_sub(now).0))
    }

    /// The WebSocket keepalive is due (spec operations.md §6.4): after
    /// `ping_max` windows without a byte from the peer, `-ERR 'Stale
    /// Connection'` and a close 1001; else a ping frame after a window of
    /// outbound silence. True when the connection is closing.
    fn keepalive(&mut self, token: usize, now: Millis) -> bool {
        let conn = &mut self.conns[token];
        let Some((window, max)) = conn.ws.as_ref().and_then(|w| w.keepalive) else {
            return false;
        };
        let stale_after = Millis(window.0.saturating_mul(u64::from(max.max(1))));
        let (last_in, last_out) = conn
            .ws
            .as_ref()
            .map_or((now, now), |w| (w.last_in, w.last_out));
        if now.saturating_sub(last_in) >= stale_after {
            crate::debug!(
                "{} - {}:{} - Stale Client Connection - Closing",
                conn.shared.log_peer(),
                conn.shared.kind.label(),
                conn.shared.cid
            );
            let mut err = Vec::new();
            natsws_core::proto::encode_err(&mut err, "Stale Connection");
            self.turn.queue_out(&conn.shared, &err);
            self.close(token, ClosedReason::StaleConnection, true);
            return true;
        }
        if now.saturating_sub(last_out) >= window {
            if let Some(ws) = conn.ws.as_mut() {
                if ws.ping(&mut io(&mut conn.io).wbuf) {
                    self.shared.stats.ws_pings.fetch_add(1, Ordering::Relaxed);
                    ws.last_out = now;
                    self.turn.local_dirty.push(conn.shared.clone());
                }
            }
        }
        false
    }

    pub(super) fn fire_timers(&mut self) {
        let now = self.shared.now();
        while let Some(Reverse((at, key))) = self.timers.peek().copied() {
            let token = key.token();
            if at > now {
                break;
            }
            self.timers.pop();
            let Some(conn) = self.conns.get_mut(token) else {
                continue;
            };
            let cid = conn.shared.cid;
            if !key.is_for(cid) || conn.timer_at.get() != Some(at) {
                continue;
            }
            if let Some(reason) = conn.closing {
                if conn.draining().is_some_and(|d| d <= now) {
                    self.finish_close(token, reason);
                } else {
                    // An earlier entry (see `arm`): the lingering close's
                    // own deadline goes in now.
                    conn.timer_at = At::NONE;
                    arm(&mut self.timers, conn, token);
                }
                continue;
            }
            conn.timer_at = At::NONE;
            if conn.stalled_until.get().is_some_and(|t| t <= now) {
                // The stall is over: read what the publisher sent meanwhile.
                conn.stalled_until = At::NONE;
                self.readable.push(token);
            }
            if conn.handshake_deadline().is_some_and(|d| d <= now) {
                let peer = conn.shared.peer();
                // Go's read deadline error names both ends.
                let local = || {
                    conn.sock
                        .tcp()
                        .local_addr()
                        .map(|a| a.to_string())
                        .unwrap_or_default()
                };
                if conn.shared.kind == ConnKind::CLIENT {
                    // nats-server 2.15.1: the handshake's read deadline
                    // fails it (`TLS handshake error: read tcp
                    // <local>-><peer>: i/o timeout`, debug for clients).
                    // natsws also sends `-ERR 'Secure Connection - TLS
                    // Required'`, in plaintext and only to a peer that
                    // sent nothing (a TLS peer could not read it;
                    // docs/compat.md).
                    crate::debug!(
                        "{peer} - cid:{cid} - TLS handshake error: read tcp {}->{peer}: i/o timeout",
                        local()
                    );
                    if !conn.sock.received_any() {
                        let mut e = Vec::new();
                        natsws_core::proto::encode_err(&mut e, "Secure Connection - TLS Required");
                        conn.sock.queue_raw(&e);
                    }
                    self.close(token, ClosedReason::TlsHandshakeFailure, true);
                } else if conn.sock.is_handshaking() {
                    self.shared
                        .stats
                        .ws_handshake_failures
                        .fetch_add(1, Ordering::Relaxed);
                    // Go's HTTP server: the read deadline ends the handshake.
                    crate::error!(
                        "websocket: TLS handshake error from {peer}: read tcp {}->{peer}: i/o timeout",
                        local()
                    );
                    self.close(token, ClosedReason::TlsHandshakeFailure, false);
                } else {
                    crate::debug!("{peer} - wid:{cid} - websocket handshake timeout");
                    self.shared
                        .stats
                        .ws_handshake_failures
                        .fetch_add(1, Ordering::Relaxed);
                    self.close(token, ClosedReason::ReadError, false);
                }
                continue;
            }
            if conn.keepalive_deadline().is_some_and(|t| t <= now) && self.keepalive(token, now) {
                continue;
            }
            let conn = &mut self.conns[token];
            if conn.proto.poll_timeout().is_some_and(|t| t <= now)
                && conn.ws.as_ref().is_none_or(|w| w.is_open())
                && !conn.sock.is_handshaking()
            {
                let mut out = std::mem::take(&mut self.scratch_out);
                out.clear();
                let pings = conn.proto.ping_counts();
                let res = conn.proto.handle_timeout(now, &mut out);
                crate::rtt::note_pings(&conn.shared.rtt, pings, conn.proto.ping_counts());
                if !out.is_empty() {
                    self.turn.queue_out(&conn.shared, &out);
                }
                self.scratch_out = out;
                if let Err(c) = res {
                    self.close(token, c.reason, true);
                    continue;
                }
            }
            arm(&mut self.timers, &mut self.conns[token], token);
        }
    }

    pub(super) fn flush_dirty(&mut self) {
        // Group commit: what this turn changed in durable MQTT state is
        // written before the acknowledgements that depend on it go out.
        self.shared.mqtt.commit();
        self.release_held();
        let mut i = 0;
        while i < self.turn.local_dirty.len() {
            let cs = self.turn.local_dirty[i].clone();
            i += 1;
            if cs.loop_idx() != self.turn.idx {
                continue;
            }
            let Some(conn) = self.conns.get(cs.token()) else {
                continue;
            };
            if !Arc::ptr_eq(&conn.shared, &cs) || conn.acks_after > 0 {
                // Held: flushed when its commit is durable (mqtt_hold).
                continue;
            }
            self.flush(cs.token());
        }
        self.turn.local_dirty.clear();
    }

    pub(super) fn wake_others(&mut self) {
        for (i, w) in self.turn.wake.iter_mut().enumerate() {
            if *w {
                *w = false;
                let _ = self.shared.loops[i].waker.wake();
            }
        }
    }

    /// Lame duck mode starts ([`crate::server::lame_duck`]): the listeners
    /// close (loop 0 has them), and clients that take asynchronous INFO
    /// get the INFO with `"ldm":true`.
    pub(super) fn enter_lame_duck(&mut self) {
        self.in_lame_duck = true;
        for mut l in [
            self.client_listener.take(),
            self.ws_listener.take(),
            self.mqtt_listener.take(),
        ]
        .into_iter()
        .flatten()
        {
            let _ = self.poll.registry().deregister(&mut l);
        }
        for (_, conn) in self.conns.iter() {
            if conn.closing.is_some() || !conn.proto.takes_async_info() {
                continue;
            }
            let info = self
                .shared
                .info_templates(conn.shared.kind)
                .ldm_line(conn.shared.cid, conn.shared.client_addr());
            self.turn.queue_out(&conn.shared, &info);
        }
        *self.shared.ldm_acks.lock().expect("ldm") += 1;
        self.shared.ldm_cv.notify_all();
    }

    pub(super) fn shutdown_all(&mut self) {
        // Acknowledgements held for a commit (mqtt_hold) go out with the
        // others once everything is written (those of a failed write are
        // dropped with their connections).
        self.shared.mqtt.commit_all();
        self.release_held();
        let tokens: Vec<usize> = self.conns.iter().map(|(t, _)| t).collect();
        for t in &tokens {
            self.close(*t, ClosedReason::ServerShutdown, true);
        }
        self.flush_dirty();
        self.shared.mqtt.commit_all();
        for t in tokens {
            self.finish_close(t, ClosedReason::ServerShutdown);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: Duration = Duration::from_micros(50);

    #[test]
    fn spin_budget_decays_to_zero_under_sparse_traffic() {
        // Events 100 µs apart (10,000 a second): a 50 µs spin never catches
        // one, so the budget shrinks by a quarter each time, then stops.
        let mut spin = MAX;
        let mut steps = 0;
        while !spin.is_zero() {
            let next = adapt_spin(spin, MAX, Duration::from_micros(100), true);
            assert!(next < spin);
            spin = next;
            steps += 1;
        }
        assert!(steps > 3 && steps < 20, "{steps}");
        // Without a spin, long gaps keep it off.
        assert_eq!(
            adapt_spin(spin, MAX, Duration::from_micros(100), true),
            Duration::ZERO
        );
    }

    #[test]
    fn spin_budget_returns_to_max_when_events_come_back_close() {
        // An event within the window after a missed (or no) spin: a full
        // spin would have caught it.
        assert_eq!(
            adapt_spin(Duration::ZERO, MAX, Duration::from_micros(30), true),
            MAX
        );
        assert_eq!(adapt_spin(Duration::from_micros(8), MAX, MAX, true), MAX);
        // A timer (no event) is not traffic: shrink.
        assert_eq!(
            adapt_spin(MAX, MAX, Duration::from_micros(10), false),
            MAX * 3 / 4
        );
    }
}
