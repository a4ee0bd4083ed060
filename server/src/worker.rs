//! One event-loop thread: a `mio::Poll`, a slab of connections, a timer heap.
//!
//! Per wake-up: accept (loop 0), read every readable connection until
//! `WouldBlock` (processing each read at once, so a connection never holds
//! more than one partial op plus one read), fire due timers, then flush every
//! dirty connection once: framing (WebSocket) and compression happen there,
//! over the whole batch, and each connection gets one `write` per wake-up.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

use natsws_core::proto::{Connect, Limits};
use natsws_core::router::{ConnId, Message, Origin, SubRef, SubjectSpace};
use natsws_core::session::{AuthFailure, ClosedReason, Grant, Host, Session, SessionConfig};
use natsws_core::time::Millis;

use crate::account::{Account, GLOBAL_ACCOUNT};
use crate::deliver::{self, Turn};
use crate::kind::ConnKind;
use crate::shared::{ClosedConn, Shared, CLOSED_RING};
use crate::sink::{ClientMeta, ConnShared, Sink, KILL_SHUTDOWN, KILL_SLOW};
use crate::transport::Transport;
use crate::ws::{WsConn, WsEvent};

/// Token of the loop's waker.
pub const WAKER: Token = Token(usize::MAX - 1);
const CLIENT_LISTENER: Token = Token(usize::MAX - 2);
const WS_LISTENER: Token = Token(usize::MAX - 3);

/// Size of the per-loop read buffer (the largest single read), bytes.
const READ_BUF: usize = 64 * 1024;
/// Reads per connection per wake-up before yielding to others (fairness).
const MAX_READS_PER_TURN: usize = 16;
/// How long a closing connection's input is drained before the socket is
/// dropped (lingering close), ms.
const LINGER: Millis = Millis(2000);
/// How long a publisher's reads pause when one of its deliveries found the
/// target's queue over three quarters of `max_pending` (nats-server's fast
/// producer stall: 2–5 ms), ms.
const STALL: Millis = Millis(3);
/// WebSocket batches of at least this many bytes that go out as one plain
/// frame are written with `writev` (frame header + the batch) instead of
/// being copied behind the header first.
const VECTORED_MIN: usize = 2048;
/// IoSlices per vectored write (frame headers and their bytes).
const VECTORED_SLICES: usize = 64;

/// A batch of NATS bytes (the connection's `spare`) on its way out as plain
/// binary WebSocket frames of `size` bytes (the last may be shorter), by
/// vectored writes: the headers are encoded here, the bytes are never
/// copied. The wire bytes are, in order, for each frame its header and its
/// piece of the batch; `sent` of them are written.
struct Frames {
    size: usize,
    /// Header of a frame of `size` bytes.
    full: [u8; natsws_core::ws::MAX_FRAME_HEADER],
    full_len: u8,
    /// Header of the last frame.
    last: [u8; natsws_core::ws::MAX_FRAME_HEADER],
    last_len: u8,
    sent: usize,
}

impl Frames {
    fn new(len: usize, size: usize) -> Frames {
        let header = |n: usize| {
            let mut h = [0u8; natsws_core::ws::MAX_FRAME_HEADER];
            let k = natsws_core::ws::frame::FrameHeader {
                fin: true,
                rsv1: false,
                opcode: natsws_core::ws::OpCode::BINARY,
                len: n as u64,
                mask: None,
            }
            .encode(&mut h);
            (h, k as u8)
        };
        let (full, full_len) = header(size);
        let rest = len % size;
        let (last, last_len) = header(if rest == 0 { size } else { rest });
        Frames {
            size,
            full,
            full_len,
            last,
            last_len,
            sent: 0,
        }
    }

    fn count(&self, len: usize) -> usize {
        len.div_ceil(self.size)
    }

    /// Wire bytes of the whole batch of `len` bytes.
    fn total(&self, len: usize) -> usize {
        let n = self.count(len);
        len + (n - 1) * usize::from(self.full_len) + usize::from(self.last_len)
    }

    /// Fills `out` with the unsent rest of the wire bytes (as many slices
    /// as fit), the batch being `data`; returns how many were filled.
    fn slices<'a>(&'a self, data: &'a [u8], out: &mut [io::IoSlice<'a>]) -> usize {
        let n = self.count(data.len());
        let stride = self.size + usize::from(self.full_len);
        // Whole frames already written (never past the last).
        let first = (self.sent / stride).min(n - 1);
        let mut skip = self.sent - first * stride;
        let mut k = 0;
        for i in first..n {
            let header = if i + 1 == n {
                &self.last[..usize::from(self.last_len)]
            } else {
                &self.full[..usize::from(self.full_len)]
            };
            let piece = &data[i * self.size..((i + 1) * self.size).min(data.len())];
            for part in [header, piece] {
                if skip >= part.len() {
                    skip -= part.len();
                    continue;
                }
                out[k] = io::IoSlice::new(&part[skip..]);
                skip = 0;
                k += 1;
                if k == out.len() {
                    return k;
                }
            }
        }
        k
    }
}

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
fn oversized(buf: &Vec<u8>, used: usize) -> bool {
    buf.capacity() > SHRINK_ABOVE && buf.capacity() / 4 > used
}

struct Conn {
    shared: Arc<ConnShared>,
    /// The account this connection publishes and subscribes in.
    account: Arc<Account>,
    /// The nonce sent in INFO (nkeys/JWT), empty when none.
    nonce: Box<str>,
    /// The socket, plain or TLS (see [`Transport`]).
    sock: Transport,
    session: Session<Sink>,
    ws: Option<WsConn>,
    /// NATS bytes not yet consumed by the session.
    inbuf: Vec<u8>,
    /// Bytes ready for the socket (framed for WebSocket).
    wbuf: Vec<u8>,
    wpos: usize,
    /// Spare buffer swapped with the outbox at flush time.
    spare: Vec<u8>,
    /// WebSocket output in flight as vectored writes (see [`Frames`]): all
    /// of `spare`, cut into frames. It precedes anything in `wbuf`.
    vec: Option<Frames>,
    /// The largest batch taken from the outbox since the socket last took
    /// everything (for the buffer shrink).
    last_batch: usize,
    /// Close once `wbuf` is written.
    closing: Option<ClosedReason>,
    /// Whether the session has passed CONNECT/auth (pre-auth accounting).
    pre_auth: bool,
    /// Still readable (stopped early for fairness).
    more_to_read: bool,
    write_interest: bool,
    /// When a pending write started blocking (write deadline).
    blocked_since: Option<Millis>,
    /// Handshake deadline: WebSocket (TLS and HTTP upgrade), or the TLS
    /// handshake of a client-port connection.
    handshake_deadline: Option<Millis>,
    /// Lingering close: the last bytes are written and our side is shut
    /// down; the peer's remaining input is read and discarded until EOF or
    /// this deadline, so closing with unread input does not reset the
    /// connection and destroy the `-ERR` or close frame in flight.
    draining: Option<Millis>,
    /// The deadline currently in the timer heap (older heap entries for
    /// this connection are stale and skipped).
    timer_at: Option<Millis>,
    /// Fast-producer stall: reads resume at this time (see [`STALL`]).
    stalled_until: Option<Millis>,
}

/// One event loop.
pub struct Worker {
    poll: Poll,
    shared: Arc<Shared>,
    conns: Slab<Conn>,
    timers: BinaryHeap<Reverse<(Millis, usize, ConnId)>>,
    rbuf: Vec<u8>,
    /// What a connection's turn touches besides itself (see [`Turn`]).
    turn: Turn,
    readable: Vec<usize>,
    client_listener: Option<TcpListener>,
    ws_listener: Option<TcpListener>,
    next_loop: usize,
    scratch_out: Vec<u8>,
    /// Lame duck mode has been entered by this loop.
    in_lame_duck: bool,
}

impl Worker {
    /// A loop; loop 0 gets the listeners.
    pub fn new(
        idx: usize,
        poll: Poll,
        shared: Arc<Shared>,
        listeners: Option<(StdListener, Option<StdListener>)>,
    ) -> io::Result<Worker> {
        let (mut cl, mut wl) = (None, None);
        if let Some((c, w)) = listeners {
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
        let n = shared.loops.len();
        Ok(Worker {
            poll,
            shared,
            conns: Slab::new(),
            timers: BinaryHeap::new(),
            rbuf: vec![0; READ_BUF],
            turn: Turn::new(idx, n),
            readable: Vec::new(),
            client_listener: cl,
            ws_listener: wl,
            next_loop: 0,
            scratch_out: Vec::new(),
            in_lame_duck: false,
        })
    }

    /// Runs until shutdown.
    pub fn run(mut self) {
        let mut events = Events::with_capacity(1024);
        let max_spin = self.shared.settings.loop_spin;
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
                    CLIENT_LISTENER => self.accept(ConnKind::Client),
                    WS_LISTENER => self.accept(ConnKind::WebSocket),
                    Token(t) => {
                        if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                            self.readable.push(t);
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
            self.take_inbox();
            let readable = std::mem::take(&mut self.readable);
            for t in readable {
                self.read_conn(t);
            }
            self.fire_timers();
            self.flush_dirty();
            self.wake_others();
        }
    }

    /// The spin of `loop_spin`: polls without blocking, yielding the CPU
    /// between polls (so a client process sharing the core runs), until an
    /// event arrives (true) or `budget` has passed (false). After a busy
    /// turn the next event usually comes within microseconds; catching it
    /// here saves the thread wake-up that a blocking poll would need, which
    /// on a virtual machine costs tens of microseconds (an idle vCPU halts).
    fn spin_poll(&mut self, events: &mut Events, budget: Duration) -> bool {
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

    fn next_timeout(&mut self) -> Option<Duration> {
        let now = self.shared.now();
        self.timers
            .peek()
            .map(|Reverse((at, _, _))| Duration::from_millis(at.saturating_sub(now).0))
    }

    fn accept(&mut self, kind: ConnKind) {
        loop {
            let l = match kind {
                ConnKind::Client => self.client_listener.as_ref(),
                ConnKind::WebSocket => self.ws_listener.as_ref(),
            };
            let Some(l) = l else { return };
            match l.accept() {
                Ok((sock, peer)) => {
                    let cap = self.shared.settings.max_pending_handshakes;
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

    fn take_accepted(&mut self) {
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

    fn take_inbox(&mut self) {
        let mut inbox = self.shared.loops[self.turn.idx]
            .inbox
            .lock()
            .expect("inbox");
        self.turn.local_dirty.append(&mut inbox);
    }

    fn add_conn(&mut self, sock: TcpStream, peer: SocketAddr, kind: ConnKind) {
        let shared = &self.shared;
        let s = &shared.settings;
        let _ = sock.set_nodelay(true);
        let tls = match kind {
            ConnKind::Client => s.tls.as_ref(),
            ConnKind::WebSocket => s.websocket.as_ref().and_then(|w| w.tls.as_ref()),
        };
        let mut sock = match tls {
            None => Transport::Plain(sock),
            Some(t) => {
                match Transport::tls(sock, t.holder.current(), kind == ConnKind::WebSocket) {
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
        // nats-server: the first PING (for RTT) after about 2 s, or sooner
        // when the ping interval is shorter.
        let auth = s.auth.as_deref();
        let (auth_required, auth_check, auth_timeout) = match auth {
            Some(a) => (a.required(kind), a.checks(kind), a.timeout(kind)),
            None => (false, false, Millis(2000)),
        };
        let nonce = auth
            .filter(|a| a.cfg.needs_nonce())
            .map(|_| crate::auth::new_nonce());
        let cfg = SessionConfig {
            conn: cid,
            limits: Limits {
                max_control_line: s.max_control_line,
                max_payload: s.max_payload,
            },
            max_subscriptions: s.max_subscriptions,
            max_sub_tokens: s.max_sub_tokens,
            auth_required,
            auth_check,
            auth_timeout,
            first_ping: Millis(0),
            ping_interval: Millis(
                match (kind, &s.websocket) {
                    (ConnKind::WebSocket, Some(w)) if w.ping_interval > Duration::ZERO => {
                        w.ping_interval
                    }
                    _ => s.ping_interval,
                }
                .as_millis() as u64,
            ),
            ping_max: s.ping_max,
            headers_supported: !s.no_header_support,
            connect_info: Some(shared.info_templates(kind).connect_info_line(
                cid,
                peer,
                GLOBAL_ACCOUNT,
            )),
            target: Some(Sink::Conn(cs.clone())),
        };
        let mut cfg = cfg;
        cfg.first_ping = Millis((2000 + self.turn.rng.u64(0..400)).min(cfg.ping_interval.0));
        let session = Session::new(cfg, now);
        let mut conn = Conn {
            shared: cs.clone(),
            account: shared.accounts.global().clone(),
            nonce: nonce.unwrap_or_default().into(),
            sock,
            session,
            ws: None,
            inbuf: Vec::new(),
            wbuf: Vec::new(),
            wpos: 0,
            spare: Vec::new(),
            vec: None,
            last_batch: 0,
            closing: None,
            pre_auth: true,
            more_to_read: false,
            write_interest: false,
            blocked_since: None,
            handshake_deadline: None,
            draining: None,
            timer_at: None,
            stalled_until: None,
        };
        shared.pre_auth.fetch_add(1, Ordering::Relaxed);
        // A WebSocket connection counts (max_connections, /varz, /connz)
        // only from its upgrade on, as in nats-server: sockets still in the
        // handshake must not lock clients out.
        let too_many = kind == ConnKind::Client && {
            let mut conns = shared.conns.lock().expect("conns");
            let n = conns.len();
            conns.insert(cid, cs.clone());
            n >= s.max_connections
        };
        crate::debug!(
            "{peer} - {}:{cid} - Client connection created",
            kind.label()
        );
        match kind {
            ConnKind::Client => match tls {
                None => {
                    conn.wbuf
                        .extend_from_slice(&info_line(shared, cid, peer, kind, &conn.nonce));
                    if too_many {
                        natsws_core::proto::encode_err(
                            &mut conn.wbuf,
                            "maximum connections exceeded",
                        );
                        conn.closing = Some(ClosedReason::MaxConnectionsExceeded);
                    }
                }
                Some(t) => {
                    // INFO in plaintext, then the client starts TLS; with
                    // handshake_first, INFO follows the handshake.
                    crate::debug!("{peer} - cid:{cid} - Starting TLS client connection handshake");
                    if !t.handshake_first {
                        let info = info_line(shared, cid, peer, kind, &conn.nonce);
                        conn.sock.queue_raw(&info);
                        if too_many {
                            let mut e = Vec::new();
                            natsws_core::proto::encode_err(&mut e, "maximum connections exceeded");
                            conn.sock.queue_raw(&e);
                            conn.closing = Some(ClosedReason::MaxConnectionsExceeded);
                        }
                    }
                    conn.handshake_deadline =
                        Some(now.saturating_add(Millis(t.timeout.as_millis() as u64)));
                }
            },
            ConnKind::WebSocket => {
                let w = s.websocket.as_ref().expect("ws listener implies config");
                conn.ws = Some(WsConn::new(w, s.max_payload));
                let deadline = now.saturating_add(Millis(w.handshake_timeout.as_millis() as u64));
                conn.handshake_deadline = Some(deadline);
                if too_many {
                    // Answer after the handshake, as nats-server does.
                    conn.closing = None;
                }
            }
        }
        entry.insert(conn);
        arm(&mut self.timers, &mut self.conns[token], token);
        self.turn.local_dirty.push(cs);
    }

    fn read_conn(&mut self, token: usize) {
        let Some(conn) = self.conns.get_mut(token) else {
            return;
        };
        if let Some(reason) = conn.closing {
            if conn.draining.is_some() {
                self.drain(token, reason);
            }
            return;
        }
        if let Some(until) = conn.stalled_until {
            if self.shared.now() < until {
                // The stall timer reads it again.
                return;
            }
            conn.stalled_until = None;
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
            let res = conn.sock.read(&mut self.rbuf);
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
                    // As nats-server's read loop: deliver what this read
                    // produced before reading more, so one fast publisher
                    // cannot pile a whole turn's worth of data on its
                    // subscribers' queues.
                    self.flush_dirty();
                    self.wake_others();
                    if !alive {
                        return;
                    }
                    if std::mem::take(&mut self.turn.stall) {
                        // Fast producer: let its subscribers drain before
                        // reading more from it, instead of closing them as
                        // slow consumers.
                        let now = self.shared.now();
                        let conn = &mut self.conns[token];
                        conn.stalled_until = Some(now.saturating_add(STALL));
                        arm(&mut self.timers, conn, token);
                        return;
                    }
                    // A short read on plain TCP emptied the socket: more
                    // data raises a new edge (mio's epoll is
                    // edge-triggered, and every arrival signals), so the
                    // read that would only say WouldBlock is skipped. TLS
                    // keeps reading: rustls may hold decrypted bytes.
                    if n < self.rbuf.len() && !self.conns[token].sock.is_tls() {
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
        if conn.inbuf.is_empty() && oversized(&conn.inbuf, largest) {
            conn.inbuf = Vec::new();
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

    /// The TLS handshake just completed: keeps what was negotiated (and the
    /// client certificate's identity for `verify_and_map`); client port:
    /// clears the TLS deadline and, with `handshake_first`, sends INFO.
    /// Returns false if the connection closed.
    fn tls_ready(&mut self, token: usize) -> bool {
        let shared = &self.shared;
        let conn = &mut self.conns[token];
        let kind = conn.shared.kind;
        let (cid, peer) = (conn.shared.cid, conn.shared.peer);
        let listen = match kind {
            ConnKind::Client => shared.settings.tls.as_ref(),
            ConnKind::WebSocket => shared
                .settings
                .websocket
                .as_ref()
                .and_then(|w| w.tls.as_ref()),
        };
        let Some(listen) = listen else { return true };
        let mut info = crate::tls::TlsInfo::default();
        let mut pinned_ok = true;
        if let Some(s) = conn.sock.session() {
            if !listen.pinned_certs.is_empty() {
                // nats-server's matchesPinnedCert (enforced for websocket
                // too: see docs/compat.md).
                let key = s
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .and_then(|c| crate::tls::spki_sha256(c));
                pinned_ok = match key {
                    None => {
                        crate::warn!("{peer} - {}:{cid} - Matching against pinned certificates failed as no certificate was provided", kind.label());
                        false
                    }
                    Some(k) if !listen.pinned_certs.contains(&k) => {
                        crate::warn!(
                            "{peer} - {}:{cid} - Certificate not pinned: {k}",
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
                    .and_then(|c| crate::tls::PeerIdentity::from_der(c));
            }
        }
        let label = kind.label();
        crate::debug!("{peer} - {label}:{cid} - TLS handshake complete");
        crate::debug!(
            "{peer} - {label}:{cid} - TLS version {}, cipher suite {}",
            info.version,
            info.cipher
        );
        let _ = conn.shared.tls.set(info);
        if !pinned_ok {
            self.tls_failed(token, "certificate not pinned");
            return false;
        }
        if kind != ConnKind::Client {
            return true;
        }
        conn.handshake_deadline = None;
        let mut too_many = false;
        if listen.handshake_first {
            let info = info_line(shared, cid, peer, kind, &conn.nonce);
            conn.wbuf.extend_from_slice(&info);
            too_many = shared.conns.lock().expect("conns").len() > shared.settings.max_connections;
            if too_many {
                natsws_core::proto::encode_err(&mut conn.wbuf, "maximum connections exceeded");
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
    fn tls_failed(&mut self, token: usize, why: &str) {
        let conn = &self.conns[token];
        let (cid, peer) = (conn.shared.cid, conn.shared.peer);
        match conn.shared.kind {
            ConnKind::Client => crate::error!("{peer} - cid:{cid} - TLS handshake error: {why}"),
            ConnKind::WebSocket => {
                crate::error!("websocket: TLS handshake error from {peer}: {why}")
            }
        }
        self.close(token, ClosedReason::TlsHandshakeFailure, true);
    }

    /// Handles `n` fresh bytes in `rbuf`. Returns false if the connection
    /// closed.
    fn process(&mut self, token: usize, n: usize) -> bool {
        let now = self.shared.now();
        let Worker {
            conns,
            rbuf,
            shared,
            turn,
            scratch_out,
            ..
        } = self;
        let conn = &mut conns[token];
        let data = &mut rbuf[..n];
        // WebSocket: un-frame into inbuf (handshake, control frames, inflate).
        let mut nats: &[u8] = data;
        let mut close_after = None;
        if let Some(ws) = conn.ws.as_mut() {
            let wcfg = shared
                .settings
                .websocket
                .as_ref()
                .expect("ws conn implies config");
            match ws.on_read(
                wcfg,
                conn.shared.peer.ip(),
                data,
                &mut conn.inbuf,
                &mut conn.wbuf,
            ) {
                WsEvent::Nothing => {
                    if !conn.wbuf.is_empty() {
                        turn.local_dirty.push(conn.shared.clone());
                    }
                    return true;
                }
                WsEvent::Upgraded => {
                    if let Some(up) = ws.take_upgrade() {
                        let _ = conn.shared.upgrade.set(up);
                    }
                    conn.handshake_deadline = None;
                    // The NATS session starts now, not at accept.
                    conn.session.restart_timers(now);
                    let info = info_line(
                        shared,
                        conn.shared.cid,
                        SocketAddr::new(conn.shared.client_ip(), conn.shared.peer.port()),
                        ConnKind::WebSocket,
                        &conn.nonce,
                    );
                    // Nothing was sent before the upgrade, so no
                    // vectored batch holds `spare`.
                    debug_assert!(conn.vec.is_none());
                    let mut out = std::mem::take(&mut conn.spare);
                    out.clear();
                    out.extend_from_slice(&info);
                    let too_many = {
                        let mut conns = shared.conns.lock().expect("conns");
                        let n = conns.len();
                        conns.insert(conn.shared.cid, conn.shared.clone());
                        n >= shared.settings.max_connections
                    };
                    if too_many {
                        natsws_core::proto::encode_err(&mut out, "maximum connections exceeded");
                    }
                    ws.frame_out(&out, &mut conn.wbuf);
                    out.clear();
                    conn.spare = out;
                    turn.local_dirty.push(conn.shared.clone());
                    if too_many {
                        self.close(token, ClosedReason::MaxConnectionsExceeded, true);
                        return false;
                    }
                }
                WsEvent::Data => {}
                WsEvent::Close(reason) => {
                    // Deliver what came before the bad frame, then close.
                    close_after = Some(reason);
                }
            }
            nats = &[];
        }
        // Present unconsumed bytes plus the new ones, without copying when
        // nothing was left over.
        let input: &[u8] = if conn.ws.is_some() || !conn.inbuf.is_empty() {
            if conn.ws.is_none() {
                conn.inbuf.extend_from_slice(nats);
            }
            &conn.inbuf
        } else {
            nats
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
        let mut host = LoopHost::new(shared, turn, &conn.shared, &mut conn.account);
        host.nonce = &conn.nonce;
        host.cookies = conn.ws.as_ref().and_then(|w| w.cookies.as_deref());
        let res = conn
            .session
            .handle_input(input, now, &mut host, scratch_out);
        let (om, ob) = (host.out_msgs, host.out_bytes);
        shared.stats.out_msgs.fetch_add(om, Ordering::Relaxed);
        shared.stats.out_bytes.fetch_add(ob, Ordering::Relaxed);
        turn.remove_exhausted();
        let (im, ib) = conn.session.in_counts();
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
        if !scratch_out.is_empty() {
            turn.queue_out(&conn.shared, scratch_out);
        }
        if conn.pre_auth && conn.session.connect_options().is_some() {
            conn.pre_auth = false;
            shared.pre_auth.fetch_sub(1, Ordering::Relaxed);
            let c = conn.session.connect_options().expect("checked");
            let mut meta = conn.shared.client.lock().expect("meta");
            meta.name = c.name.clone();
            meta.lang = c.lang.clone();
            meta.version = c.version.clone();
        }
        match res {
            Ok(used) => {
                let is_inbuf = conn.ws.is_some() || !conn.inbuf.is_empty();
                if is_inbuf {
                    conn.inbuf.drain(..used);
                } else if used < nats.len() {
                    conn.inbuf.extend_from_slice(&nats[used..]);
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
                self.close(token, close.reason, true);
                false
            }
        }
    }

    fn fire_timers(&mut self) {
        let now = self.shared.now();
        while let Some(Reverse((at, token, cid))) = self.timers.peek().copied() {
            if at > now {
                break;
            }
            self.timers.pop();
            let Some(conn) = self.conns.get_mut(token) else {
                continue;
            };
            if conn.shared.cid != cid || conn.timer_at != Some(at) {
                continue;
            }
            if let Some(reason) = conn.closing {
                if conn.draining.is_some_and(|d| d <= now) {
                    self.finish_close(token, reason);
                }
                continue;
            }
            conn.timer_at = None;
            if conn.stalled_until.is_some_and(|t| t <= now) {
                // The stall is over: read what the publisher sent meanwhile.
                conn.stalled_until = None;
                self.readable.push(token);
            }
            if conn.handshake_deadline.is_some_and(|d| d <= now) {
                let peer = conn.shared.peer;
                if conn.shared.kind == ConnKind::Client {
                    // nats-server: `TLS handshake timeout` (debug for
                    // clients), `-ERR 'Secure Connection - TLS Required'`.
                    // The -ERR goes out in plaintext only to a peer that
                    // sent nothing (a TLS peer could not read it).
                    crate::debug!("{peer} - cid:{cid} - TLS handshake timeout");
                    if !conn.sock.received_any() {
                        let mut e = Vec::new();
                        natsws_core::proto::encode_err(&mut e, "Secure Connection - TLS Required");
                        conn.sock.queue_raw(&e);
                    }
                    self.close(token, ClosedReason::TlsHandshakeFailure, true);
                } else if conn.sock.is_handshaking() {
                    // Go's HTTP server: the read deadline ends the handshake.
                    let local = conn
                        .sock
                        .tcp()
                        .local_addr()
                        .map(|a| a.to_string())
                        .unwrap_or_default();
                    crate::error!(
                        "websocket: TLS handshake error from {peer}: read tcp {local}->{peer}: i/o timeout"
                    );
                    self.close(token, ClosedReason::TlsHandshakeFailure, false);
                } else {
                    crate::debug!("{peer} - wid:{cid} - websocket handshake timeout");
                    self.close(token, ClosedReason::ReadError, false);
                }
                continue;
            }
            if conn.session.poll_timeout().is_some_and(|t| t <= now)
                && conn.ws.as_ref().is_none_or(|w| w.is_open())
                && !conn.sock.is_handshaking()
            {
                let mut out = std::mem::take(&mut self.scratch_out);
                out.clear();
                let res = conn.session.handle_timeout(now, &mut out);
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

    fn flush_dirty(&mut self) {
        let mut i = 0;
        while i < self.turn.local_dirty.len() {
            let cs = self.turn.local_dirty[i].clone();
            i += 1;
            if cs.loop_idx != self.turn.idx {
                continue;
            }
            let Some(conn) = self.conns.get(cs.token) else {
                continue;
            };
            if !Arc::ptr_eq(&conn.shared, &cs) {
                continue;
            }
            self.flush(cs.token);
        }
        self.turn.local_dirty.clear();
    }

    fn flush(&mut self, token: usize) {
        let now = self.shared.now();
        let conn = &mut self.conns[token];
        if conn.shared.kill.load(Ordering::Acquire) == KILL_SLOW && conn.closing.is_none() {
            self.shared
                .stats
                .slow_consumers
                .fetch_add(1, Ordering::Relaxed);
            crate::info!(
                "{} - {}:{} - Slow Consumer Detected: MaxPending of {} Exceeded",
                conn.shared.log_peer(),
                conn.shared.kind.label(),
                conn.shared.cid,
                self.shared.settings.max_pending_for(conn.shared.kind)
            );
            self.close(token, ClosedReason::SlowConsumerPendingBytes, false);
            return;
        }
        if conn.shared.kill.load(Ordering::Acquire) == KILL_SHUTDOWN && conn.closing.is_none() {
            // Lame duck mode: what is queued goes out, then the close.
            self.close(token, ClosedReason::ServerShutdown, true);
            return;
        }
        conn.shared.dirty.store(false, Ordering::Release);
        // Write what is already framed; only when the socket took all of it
        // is the next batch taken from the outbox. While the socket is
        // blocked, new deliveries stay in the outbox, where `max_pending`
        // bounds them (slow consumer), so memory per connection is bounded.
        loop {
            while let Some(frames) = conn.vec.as_mut() {
                let mut slices = [io::IoSlice::new(&[]); VECTORED_SLICES];
                let k = frames.slices(&conn.spare, &mut slices);
                match conn.sock.write_vectored(&slices[..k]) {
                    Some(Ok(0)) => break,
                    Some(Ok(n)) => {
                        frames.sent += n;
                        if frames.sent >= frames.total(conn.spare.len()) {
                            conn.vec = None;
                            conn.spare.clear();
                        }
                    }
                    Some(Err(e)) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Some(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Some(Err(_)) | None => {
                        let reason = conn.closing.unwrap_or(ClosedReason::WriteError);
                        self.finish_close(token, reason);
                        return;
                    }
                }
            }
            if conn.vec.is_some() {
                break;
            }
            while conn.wpos < conn.wbuf.len() {
                match conn.sock.write(&conn.wbuf[conn.wpos..]) {
                    Ok(0) => break,
                    Ok(n) => conn.wpos += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => {
                        let reason = conn.closing.unwrap_or(ClosedReason::WriteError);
                        self.finish_close(token, reason);
                        return;
                    }
                }
            }
            if conn.wpos < conn.wbuf.len() {
                break;
            }
            conn.wbuf.clear();
            conn.wpos = 0;
            if conn.closing.is_some() {
                break;
            }
            {
                let mut ob = conn.shared.out.lock().expect("out");
                if ob.buf.is_empty() {
                    break;
                }
                conn.spare.clear();
                std::mem::swap(&mut ob.buf, &mut conn.spare);
            }
            conn.last_batch = conn.last_batch.max(conn.spare.len());
            match conn.ws.as_mut() {
                Some(ws) => {
                    // A large batch that goes out as plain frames: headers
                    // and NATS bytes in vectored writes, without copying the
                    // bytes behind the headers.
                    if conn.spare.len() >= VECTORED_MIN && !conn.sock.is_tls() {
                        if let Some(size) = ws.plain_frame_size(conn.spare.len()) {
                            conn.vec = Some(Frames::new(conn.spare.len(), size));
                            continue;
                        }
                    }
                    ws.frame_out(&conn.spare, &mut conn.wbuf);
                }
                None => std::mem::swap(&mut conn.wbuf, &mut conn.spare),
            }
            conn.spare.clear();
        }
        // TLS: records (and raw bytes) the socket has not taken yet.
        let drained = match conn.sock.flush_pending() {
            Ok(d) => d,
            Err(_) => {
                let reason = conn.closing.unwrap_or(ClosedReason::WriteError);
                self.finish_close(token, reason);
                return;
            }
        };
        if conn.wpos == conn.wbuf.len() && drained && conn.vec.is_none() {
            conn.wbuf.clear();
            conn.wpos = 0;
            conn.blocked_since = None;
            let batch = std::mem::take(&mut conn.last_batch);
            if oversized(&conn.wbuf, batch) {
                conn.wbuf = Vec::new();
            }
            if oversized(&conn.spare, batch) {
                conn.spare = Vec::new();
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
                if conn.draining.is_none() && !self.shared.shutdown.load(Ordering::Acquire) {
                    let _ = conn.sock.shutdown(std::net::Shutdown::Write);
                    conn.draining = Some(now.saturating_add(LINGER));
                    arm(&mut self.timers, conn, token);
                    // Whatever is already queued is read (and dropped) now.
                    self.readable.push(token);
                } else if conn.draining.is_none() {
                    self.finish_close(token, reason);
                }
            }
        } else {
            let since = *conn.blocked_since.get_or_insert(now);
            let deadline = self.shared.settings.write_deadline_for(conn.shared.kind);
            if now.saturating_sub(since).0 > deadline.as_millis() as u64 {
                self.shared
                    .stats
                    .slow_consumers
                    .fetch_add(1, Ordering::Relaxed);
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
    fn close(&mut self, token: usize, reason: ClosedReason, flush: bool) {
        let Worker {
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
        let mut host = LoopHost::new(shared, turn, &conn.shared, &mut conn.account);
        conn.session.close(&mut host);
        conn.closing = Some(reason);
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
                        ws.frame_out(&pending, &mut conn.wbuf);
                        ws.close_frame(reason.ws_close_code(), reason.as_str(), &mut conn.wbuf);
                    }
                }
                None => conn.wbuf.extend_from_slice(&pending),
            }
            let cs = conn.shared.clone();
            turn.local_dirty.push(cs);
        } else {
            self.finish_close(token, reason);
        }
    }

    /// Reads and discards a lingering connection's input; finishes the close
    /// on EOF or error.
    fn drain(&mut self, token: usize, reason: ClosedReason) {
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

    fn finish_close(&mut self, token: usize, reason: ClosedReason) {
        if !self.conns.contains(token) {
            return;
        }
        let mut conn = self.conns.remove(token);
        if conn.closing.is_none() {
            // Not yet released (write error path).
            let Worker { shared, turn, .. } = self;
            let mut host = LoopHost::new(shared, turn, &conn.shared, &mut conn.account);
            conn.session.close(&mut host);
        }
        self.turn.remove_exhausted();
        let _ = self.poll.registry().deregister(&mut conn.sock);
        let _ = conn.sock.shutdown(std::net::Shutdown::Both);
        if conn.pre_auth {
            self.shared.pre_auth.fetch_sub(1, Ordering::Relaxed);
        }
        let cs = &conn.shared;
        self.shared.conns.lock().expect("conns").remove(&cs.cid);
        let mut closed = self.shared.closed.lock().expect("closed");
        if closed.len() == CLOSED_RING {
            closed.pop_front();
        }
        closed.push_back(ClosedConn {
            cid: cs.cid,
            kind: cs.kind,
            peer: cs.peer,
            start: cs.start,
            stop: std::time::SystemTime::now(),
            reason,
            client: cs
                .client
                .lock()
                .map(|m| m.clone())
                .unwrap_or_else(|_| ClientMeta::default()),
        });
    }

    fn wake_others(&mut self) {
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
    fn enter_lame_duck(&mut self) {
        self.in_lame_duck = true;
        for mut l in [self.client_listener.take(), self.ws_listener.take()]
            .into_iter()
            .flatten()
        {
            let _ = self.poll.registry().deregister(&mut l);
        }
        for (_, conn) in self.conns.iter() {
            if conn.closing.is_some() || !conn.session.takes_async_info() {
                continue;
            }
            let info = self.shared.info_templates(conn.shared.kind).ldm_line(
                conn.shared.cid,
                SocketAddr::new(conn.shared.client_ip(), conn.shared.peer.port()),
            );
            self.turn.queue_out(&conn.shared, &info);
        }
        *self.shared.ldm_acks.lock().expect("ldm") += 1;
        self.shared.ldm_cv.notify_all();
    }

    fn shutdown_all(&mut self) {
        let tokens: Vec<usize> = self.conns.iter().map(|(t, _)| t).collect();
        for t in &tokens {
            self.close(*t, ClosedReason::ServerShutdown, true);
        }
        self.flush_dirty();
        for t in tokens {
            self.finish_close(t, ClosedReason::ServerShutdown);
        }
    }
}

/// Puts the connection's next deadline in the heap, once per change.
fn arm(timers: &mut BinaryHeap<Reverse<(Millis, usize, ConnId)>>, conn: &mut Conn, token: usize) {
    let next = conn.next_deadline();
    if next != conn.timer_at {
        conn.timer_at = next;
        if let Some(t) = next {
            timers.push(Reverse((t, token, conn.shared.cid)));
        }
    }
}

impl Conn {
    fn next_deadline(&self) -> Option<Millis> {
        if self.draining.is_some() {
            return self.draining;
        }
        let t = match (self.handshake_deadline, self.session.poll_timeout()) {
            (Some(h), _) => Some(h),
            (None, t) => t,
        };
        match (t, self.stalled_until) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// The INFO line for a new connection: auth_required and the nonce as the
/// auth configuration says for this kind of connection.
fn info_line(
    shared: &Shared,
    cid: ConnId,
    peer: SocketAddr,
    kind: ConnKind,
    nonce: &str,
) -> Vec<u8> {
    shared.info_templates(kind).info_line(cid, peer, nonce)
}

/// The server side of [`Host`] for one connection's turn on one loop.
struct LoopHost<'a> {
    shared: &'a Shared,
    turn: &'a mut Turn,
    me: &'a Arc<ConnShared>,
    /// The connection's account (replaced when authentication binds it).
    acc: &'a mut Arc<Account>,
    /// The nonce sent in INFO ("" when none).
    nonce: &'a str,
    /// Credential cookies of a WebSocket connection.
    cookies: Option<&'a natsws_core::ws::handshake::CookieValues>,
    out_msgs: u64,
    out_bytes: u64,
}

impl<'a> LoopHost<'a> {
    fn new(
        shared: &'a Shared,
        turn: &'a mut Turn,
        me: &'a Arc<ConnShared>,
        acc: &'a mut Arc<Account>,
    ) -> Self {
        LoopHost {
            shared,
            turn,
            me,
            acc,
            nonce: "",
            cookies: None,
            out_msgs: 0,
            out_bytes: 0,
        }
    }
}

impl SubjectSpace for LoopHost<'_> {
    type Target = Sink;

    fn subscribe(&mut self, sub: &SubRef<Sink>) {
        deliver::subscribe(self.acc, sub);
        self.me.subs.fetch_add(1, Ordering::Relaxed);
    }

    fn unsubscribe(&mut self, sub: &SubRef<Sink>) {
        deliver::unsubscribe(self.acc, sub);
        self.me.subs.fetch_sub(1, Ordering::Relaxed);
    }

    fn publish(
        &mut self,
        origin: Origin,
        echo: bool,
        msg: &Message<'_>,
        self_out: &mut Vec<u8>,
    ) -> usize {
        let p = deliver::publish(
            self.shared,
            self.acc,
            origin,
            echo,
            msg,
            self.turn,
            self_out,
        );
        let n = p.deliveries as u64;
        self.out_msgs += n;
        self.out_bytes += n * p.size;
        p.deliveries
    }
}

impl Host for LoopHost<'_> {
    fn authenticate(&mut self, connect: Option<&Connect>) -> Result<Grant, AuthFailure> {
        let shared = self.shared;
        let Some(auth) = shared.settings.auth.as_deref() else {
            return Ok(Grant::default());
        };
        let kind = self.me.kind.connection_type();
        let now_unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let res = match connect {
            None => auth.cfg.no_auth_identity(kind).unwrap_or_else(|| {
                Err(natsws_core::auth::AuthError {
                    log: "User \"N/A\"".into(),
                    expired: false,
                    detail: None,
                })
            }),
            Some(c) => {
                // verify_and_map: the certificate's identity (set only when
                // the listener's tls block maps certificates to users).
                let tls = self.me.tls_peer().map(|p| natsws_core::auth::TlsIdentity {
                    subject_dn: p.subject_dn.clone(),
                    emails: p.emails.clone(),
                    dns_names: p.dns_names.clone(),
                    uris: p.uris.clone(),
                });
                let cookies =
                    self.cookies
                        .map_or_else(Default::default, |v| natsws_core::auth::Cookies {
                            jwt: v.jwt.as_deref(),
                            user: v.user.as_deref(),
                            pass: v.pass.as_deref(),
                            token: v.token.as_deref(),
                        });
                natsws_core::auth::authenticate(
                    &auth.cfg,
                    &natsws_core::auth::Credentials {
                        connect: c,
                        kind,
                        nonce: self.nonce.as_bytes(),
                        cookies,
                        tls: tls.as_ref(),
                        now_unix_secs: now_unix,
                        zones: &crate::auth::SystemZones,
                        client_ip: Some(self.me.client_ip()),
                    },
                )
            }
        };
        let id = match res {
            Ok(id) => id,
            Err(e) => {
                if let Some(d) = &e.detail {
                    crate::error!(
                        "{} - {}:{} - {d}",
                        self.me.log_peer(),
                        self.me.kind.label(),
                        self.me.cid
                    );
                }
                crate::error!(
                    "{} - {}:{} - authentication error - {}",
                    self.me.log_peer(),
                    self.me.kind.label(),
                    self.me.cid,
                    e.log
                );
                // An already expired JWT is an Authorization Violation at
                // CONNECT, as in nats-server; `User Authentication Expired`
                // comes only from the expiry timer of a live connection.
                return Err(AuthFailure::Violation);
            }
        };
        if id.account != self.acc.name {
            *self.acc = shared.accounts.get(&id.account);
        }
        {
            let mut dp = self.me.perms.lock().expect("perms");
            *dp = id
                .permissions
                .clone()
                .map(|perms| crate::auth::DeliveryPerms {
                    perms,
                    replies: Default::default(),
                });
            self.me.has_perms.store(dp.is_some(), Ordering::Release);
        }
        let now = shared.now();
        let expires_at = id.expires_at_unix.map(|exp| {
            now.saturating_add(Millis(exp.saturating_sub(now_unix).saturating_mul(1000)))
        });
        let connect_info = shared.info_templates(self.me.kind).connect_info_line(
            self.me.cid,
            SocketAddr::new(self.me.client_ip(), self.me.peer.port()),
            &id.account,
        );
        Ok(Grant {
            permits: id
                .permissions
                .map(|p| p as Arc<dyn natsws_core::session::Permits>),
            // JWT limits: negative (-1) = unlimited, and natsws also takes a
            // missing or 0 limit as unlimited (docs/compat.md).
            max_subscriptions: id.max_subscriptions.filter(|&n| n > 0).map(|n| n as usize),
            max_payload: id.max_payload.filter(|&n| n > 0).map(|n| n as usize),
            expires_at,
            connect_info: Some(connect_info),
        })
    }

    fn on_connect(&mut self, json: &[u8]) {
        if crate::log::trace_enabled() {
            crate::trace!(
                "{} - {}:{} - <<- [CONNECT {}]",
                self.me.log_peer(),
                self.me.kind.label(),
                self.me.cid,
                crate::auth::redact_connect(json)
            );
        }
    }

    fn response_permitted(&mut self, subject: &[u8]) -> bool {
        let now = self.shared.now();
        self.me
            .perms
            .lock()
            .expect("perms")
            .as_mut()
            .is_some_and(|p| p.use_response(subject, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: Duration = Duration::from_micros(50);

    /// The wire bytes [`Frames`] would send from `sent` on, through as many
    /// vectored writes as it takes.
    fn rest_of(frames: &mut Frames, data: &[u8]) -> Vec<u8> {
        let mut wire = Vec::new();
        while frames.sent < frames.total(data.len()) {
            let mut slices = [io::IoSlice::new(&[]); VECTORED_SLICES];
            let k = frames.slices(data, &mut slices);
            assert!(k > 0);
            let before = wire.len();
            for sl in &slices[..k] {
                wire.extend_from_slice(sl);
            }
            frames.sent += wire.len() - before;
        }
        wire
    }

    #[test]
    fn vectored_frames_equal_the_copying_framer_from_any_offset() {
        use natsws_core::ws::codec::{frame_batch, Framing};
        for (len, framing) in [
            (2048, Framing::SINGLE),
            (70_000, Framing::SINGLE),
            (4096, Framing::BROWSER),
            (10_000, Framing::BROWSER),
            (8192, Framing::BROWSER),
            // 75 frames, 150 slices: more than one write's worth.
            (300 * 1024, Framing::BROWSER),
        ] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let mut want = Vec::new();
            frame_batch(&data, &mut want, framing, None);
            let size = framing.max_frame.map_or(len, |m| m.min(len));
            let mut frames = Frames::new(len, size);
            assert_eq!(frames.total(len), want.len(), "len {len}");
            assert_eq!(rest_of(&mut frames, &data), want, "len {len}");
            // Resuming after any partial write (every header byte, every
            // frame boundary, some payload bytes).
            let step = if len > 20_000 { 997 } else { 1 };
            for sent in (0..want.len()).step_by(step) {
                let mut frames = Frames::new(len, size);
                frames.sent = sent;
                assert_eq!(
                    rest_of(&mut frames, &data),
                    &want[sent..],
                    "len {len} sent {sent}"
                );
            }
        }
    }

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
