//! A connection's deadlines and their timer-heap entries.

use super::*;

/// Puts the connection's next deadline in the heap when it is earlier than
/// the entry already there. A later one waits for that entry: it fires
/// early, finds nothing due and arms again (`EventLoop::fire_timers`).
/// A deadline that moves with every read (MQTT keep-alive, WebSocket
/// keepalive) so pushes no entry per read: the stale entries of a busy
/// connection piled up until their time came (one per turn with input).
pub(super) fn arm(
    timers: &mut BinaryHeap<Reverse<(Millis, TimerKey)>>,
    conn: &mut Conn,
    token: usize,
) {
    let next = conn.next_deadline();
    let armed = conn.timer_at.get();
    if armed.is_some_and(|a| next.is_none_or(|n| a <= n)) {
        return;
    }
    conn.timer_at = At::from(next);
    if let Some(t) = next {
        timers.push(Reverse((t, TimerKey::new(token, conn.shared.cid))));
    }
}

/// A timer-heap entry's connection in 8 bytes (an entry takes 16, not
/// 24: every connection with a deadline has one): its slab token in the
/// low half, the low half of its id in the high one, which tells a
/// newer connection in the same slot from the one the entry was for.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(super) struct TimerKey(u64);

impl TimerKey {
    /// The entry for connection `cid` in slot `token`.
    pub(super) fn new(token: usize, cid: ConnId) -> TimerKey {
        debug_assert!(u32::try_from(token).is_ok(), "slab token {token}");
        TimerKey((cid << 32) | (token as u64 & 0xffff_ffff))
    }

    /// The slab token.
    pub(super) fn token(self) -> usize {
        (self.0 & 0xffff_ffff) as usize
    }

    /// Whether the entry was made for connection `cid`.
    pub(super) fn is_for(self, cid: ConnId) -> bool {
        self.0 >> 32 == cid & 0xffff_ffff
    }
}

impl Conn {
    /// The connection ended: its protocol lets go of what it holds in the
    /// subject space ([`Proto::close`]).
    pub(super) fn release(&mut self, shared: &Shared, turn: &mut Turn) {
        self.proto.close(&mut crate::session::Cx {
            shared,
            turn,
            me: &self.shared,
            account: &mut self.account,
            nonce: &self.nonce,
            cookies: None,
        });
    }

    /// A connection just accepted: nothing read or written, no deadline;
    /// boxed for the loop's slab (see `EventLoop::conns`).
    pub(super) fn new(
        shared: Arc<ConnShared>,
        account: Arc<Account>,
        nonce: Nonce,
        sock: Transport,
        proto: Proto,
    ) -> Box<Conn> {
        Box::new(Conn {
            shared,
            account,
            nonce,
            sock,
            proto,
            ws: None,
            io: None,
            closing: None,
            pre_auth: true,
            greeted: false,
            more_to_read: false,
            read_closed: false,
            write_interest: false,
            idle_ping: false,
            blocked_since: At::NONE,
            phase_deadline: At::NONE,
            timer_at: At::NONE,
            stalled_until: At::NONE,
            proxy_pending: false,
            acks_after: 0,
        })
    }

    /// The handshake deadline (see `Conn::phase_deadline`); none once
    /// closing.
    pub(super) fn handshake_deadline(&self) -> Option<Millis> {
        self.phase_deadline.get().filter(|_| self.closing.is_none())
    }

    /// Sets or (with `None`) clears the handshake deadline; a closing
    /// connection's lingering close deadline is left as it is.
    pub(super) fn set_handshake_deadline(&mut self, t: Option<Millis>) {
        if self.closing.is_none() {
            self.phase_deadline = At::from(t);
        }
    }

    /// The lingering close's deadline, once it started (see
    /// `Conn::phase_deadline`).
    pub(super) fn draining(&self) -> Option<Millis> {
        self.phase_deadline.get().filter(|_| self.closing.is_some())
    }

    /// Starts the lingering close: it ends at `t` at the latest.
    pub(super) fn set_draining(&mut self, t: Millis) {
        debug_assert!(self.closing.is_some(), "draining a connection not closing");
        self.phase_deadline = At::from(Some(t));
    }

    /// Marks the connection closing for `reason`: a handshake deadline
    /// it had is void (the lingering close sets its own).
    pub(super) fn start_closing(&mut self, reason: ClosedReason) {
        self.closing = Some(reason);
        self.phase_deadline = At::NONE;
    }

    /// The earliest of: the lingering-close deadline, the handshake
    /// deadline or the session's timer, and the end of a stall.
    pub(super) fn next_deadline(&self) -> Option<Millis> {
        if self.draining().is_some() {
            return self.draining();
        }
        let t = match (self.handshake_deadline(), self.proto.poll_timeout()) {
            (Some(h), _) => Some(h),
            (None, t) => t,
        };
        let t = min_deadline(t, self.stalled_until.get());
        min_deadline(t, self.keepalive_deadline())
    }

    /// The next keepalive event of an open WebSocket connection: the ping
    /// after `keepalive` of outbound silence, or the stale close after
    /// `ping_max` windows without input (spec operations.md §6.4).
    pub(super) fn keepalive_deadline(&self) -> Option<Millis> {
        let ws = self.ws.as_ref()?;
        let (window, max) = ws.keepalive?;
        if !ws.is_open() || self.handshake_deadline().is_some() {
            return None;
        }
        let ping = ws.last_out.saturating_add(window);
        let stale = ws
            .last_in
            .saturating_add(Millis(window.0.saturating_mul(u64::from(max.max(1)))));
        Some(ping.min(stale))
    }
}

fn min_deadline(a: Option<Millis>, b: Option<Millis>) -> Option<Millis> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What every idle connection pays in its loop slot and its shared
    /// part (an Arc allocation each): the WebSocket state (with its
    /// vectored frames and keepalive), TLS details, delivery permissions
    /// and a PROXY address are boxed, and deadlines take 8 bytes each, so
    /// a plain TCP connection does not carry them (was 728 + 656 bytes,
    /// then 352 + 432).
    #[test]
    fn idle_connection_footprint() {
        let conn = std::mem::size_of::<Conn>();
        let shared = std::mem::size_of::<ConnShared>();
        assert!(conn <= 120, "Conn is {conn} bytes");
        // 432 before `ClientMeta` held `Box<str>` and boxed name/lang/version;
        // 328 before `last_activity` (`/connz`).
        assert!(shared <= 232, "ConnShared is {shared} bytes");
        assert!(std::mem::size_of::<Option<Box<WsConn>>>() == 8);
        assert!(std::mem::size_of::<Reverse<(Millis, TimerKey)>>() == 16);
    }

    /// The entry keeps the token and tells the connection it was made for
    /// from a newer one in the same slot.
    #[test]
    fn timer_key_token_and_connection() {
        let k = TimerKey::new(4093, 77);
        assert_eq!(k.token(), 4093);
        assert!(k.is_for(77));
        assert!(!k.is_for(78));
        let big = TimerKey::new(u32::MAX as usize, (1 << 40) + 5);
        assert_eq!(big.token(), u32::MAX as usize);
        assert!(big.is_for((1 << 40) + 5));
    }
}
