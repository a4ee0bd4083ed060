//! `max_ack_pending` as nats-server applies it (mqtt spec §4.4): a session
//! has at most `max_ack_pending` QoS 1/2 deliveries unacknowledged
//! (`sess.maxp`, the current setting: a reload changes it for existing
//! sessions), and each QoS 1/2 subscription has its own window too (its
//! JetStream consumer's `MaxAckPending`, fixed when it was made): after a
//! reload, subscriptions made before keep their old window. A delivery
//! that finds no room waits in the session's queue, in order per
//! subscription; a full subscription window does not hold back the
//! others. A `#` filter and its parent-level twin share one window (spec §7.4
//! item 9). The caps of a session's subscriptions add up to at most
//! [`TOTAL_LIMIT`]; a subscription that would go over is refused (SUBACK
//! 0x80), as nats-server's `mqttMaxAckTotalLimit`.
//!
//! Deliveries carry their subscription as a `slot`: a 32-bit hash of the
//! filter (stable across restarts, so stored deliveries find their window
//! again); slot 0 counts in no window (retained messages sent on
//! SUBSCRIBE, deliveries stored by a version without windows).

use natsws_core::mqtt::codec::encode_publish;
use natsws_core::time::Millis;

use super::{Inner, OutMsg, SubMap};

/// The most the `max_ack_pending` of one session's subscriptions may add up
/// to (nats-server `mqttMaxAckTotalLimit`).
pub(crate) const TOTAL_LIMIT: usize = 65535;

/// The most delivery buffers a session keeps for reuse (`Rare::spare`).
pub(crate) const SPARE_MAX: usize = 32;

/// The largest delivery buffer (capacity, bytes) a session keeps for
/// reuse: a burst of large messages is not held on to.
pub(crate) const SPARE_BYTES: usize = 64 * 1024;

/// `max_ack_pending` when configured as 0 (nats-server
/// `mqttDefaultMaxAckPending`).
pub(crate) const DEFAULT_CAP: usize = 1024;

/// The session cap for a `max_ack_pending` setting (0: the default).
pub(crate) fn session_cap(max_ack_pending: usize) -> usize {
    if max_ack_pending == 0 {
        DEFAULT_CAP
    } else {
        max_ack_pending.min(TOTAL_LIMIT)
    }
}

/// The window of one subscription (12 bytes: one per filter of every
/// session).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Window {
    /// [`slot`] of the filter.
    pub slot: u32,
    /// Deliveries waiting in the session's queue.
    pub waiting: u32,
    /// `max_ack_pending` when the subscription was made (at most
    /// [`TOTAL_LIMIT`]).
    pub cap: u16,
    /// Deliveries in flight (at most `cap`, as packet identifiers).
    pub inflight: u16,
}

impl Window {
    /// A window of `cap` (0: [`DEFAULT_CAP`]) for `filter`.
    pub(crate) fn new(filter: &[u8], cap: usize) -> Window {
        Window {
            slot: slot(filter),
            cap: session_cap(cap) as u16,
            inflight: 0,
            waiting: 0,
        }
    }
}

/// The slot of an MQTT filter: FNV-1a, never 0.
pub(crate) fn slot(filter: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for &b in filter {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h.max(1)
}

/// The window of subscription `slot` among `subs` (slot 0: none).
fn window(subs: &mut SubMap, slot: u32) -> Option<&mut Window> {
    if slot == 0 {
        return None;
    }
    subs.values_mut()
        .map(|e| &mut e.win)
        .find(|w| w.slot == slot)
}

/// Whether a delivery of `slot` may go out now as far as its window goes
/// (no window: yes).
fn window_room(subs: &SubMap, slot: u32) -> bool {
    slot == 0
        || subs
            .values()
            .find(|e| e.win.slot == slot)
            .is_none_or(|e| e.win.inflight < e.win.cap)
}

impl Inner {
    /// The caps of the session's QoS 1/2 subscriptions, added up.
    pub(crate) fn total_cap(&self) -> usize {
        self.subs
            .values()
            .filter(|e| e.qos > 0)
            .map(|e| e.win.cap as usize)
            .sum()
    }

    /// Sends one delivery at `qos`: QoS 0 at once; QoS 1/2 with the next
    /// packet identifier when its window has room and nothing of its
    /// subscription waits before it, else queued in order.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn deliver(
        &mut self,
        out: &mut Vec<u8>,
        qos: u8,
        slot: u32,
        retain: bool,
        topic: &[u8],
        payload: &[u8],
        now: Millis,
    ) {
        if qos == 0 {
            encode_publish(out, false, 0, retain, topic, 0, payload);
            return;
        }
        let (subs, r) = self.split();
        let queued_before = match window(subs, slot) {
            Some(w) => w.waiting > 0,
            None => r.pending.iter().any(|(_, m)| m.slot == slot),
        };
        let room = r.out.has_room() && window(subs, slot).is_none_or(|w| w.inflight < w.cap);
        if !queued_before && room {
            let m =
                OutMsg::new_in(r.spare.pop().unwrap_or_default(), topic, payload).with_slot(slot);
            if let Some(id) = r.out.send(qos, m, now) {
                if let Some(w) = window(subs, slot) {
                    w.inflight += 1;
                }
                encode_publish(out, false, qos, retain, topic, id, payload);
                return;
            }
        }
        if let Some(w) = window(subs, slot) {
            w.waiting += 1;
        }
        let m = OutMsg::new_in(r.spare.pop().unwrap_or_default(), topic, payload);
        r.pending.push_back((qos, m.with_slot(slot)));
    }

    /// Sends what waits, in order per subscription, while windows have
    /// room; a subscription whose window is full does not hold back the
    /// others. (The first entry that may go is found by a scan: with one
    /// subscription, or acknowledgements in order, it is the first.)
    pub(crate) fn fill(&mut self, out: &mut Vec<u8>, now: Millis) {
        if self.rare().is_none_or(|r| r.pending.is_empty()) {
            return;
        }
        let (subs, r) = self.split();
        while r.out.has_room() {
            let Some(i) = r
                .pending
                .iter()
                .position(|(_, m)| window_room(subs, m.slot))
            else {
                break;
            };
            let Some((qos, m)) = r.pending.remove(i) else {
                break;
            };
            let slot = m.slot;
            if let Some(w) = window(subs, slot) {
                w.waiting = w.waiting.saturating_sub(1);
            }
            if let Some(id) = r.out.send(qos, m, now) {
                if let Some(w) = window(subs, slot) {
                    w.inflight += 1;
                }
                let msg = &r.out.inflight().last().expect("just sent").msg;
                encode_publish(out, false, qos, false, msg.topic(), id, msg.payload());
            }
        }
    }

    /// A delivery was acknowledged (PUBACK, PUBCOMP): its window has room
    /// again.
    /// Its buffer is kept for the next delivery (see `Rare::spare`).
    pub(crate) fn acked(&mut self, m: Option<OutMsg>) {
        let Some(m) = m else {
            return;
        };
        if let Some(w) = window(&mut self.subs, m.slot) {
            w.inflight = w.inflight.saturating_sub(1);
        }
        if let Some(r) = self.rare_opt_mut() {
            let buf = m.into_buf();
            if r.spare.len() < SPARE_MAX && buf.capacity() <= SPARE_BYTES {
                r.spare.push(buf);
            }
        }
    }

    /// Counts the windows again from what is in flight and queued (after a
    /// restore).
    pub(crate) fn recount(&mut self) {
        let mut counts: Vec<(u32, u32, u32)> = Vec::new();
        let mut add = |slot: u32, inflight: bool| {
            let i = match counts.iter().position(|c| c.0 == slot) {
                Some(i) => i,
                None => {
                    counts.push((slot, 0, 0));
                    counts.len() - 1
                }
            };
            if inflight {
                counts[i].1 += 1;
            } else {
                counts[i].2 += 1;
            }
        };
        if let Some(r) = self.rare() {
            for f in r.out.inflight() {
                add(f.msg.slot, true);
            }
            for (_, m) in &r.pending {
                add(m.slot, false);
            }
        }
        for e in self.subs.values_mut() {
            let c = counts.iter().find(|c| c.0 == e.win.slot);
            e.win.inflight = c.map_or(0, |c| c.1.min(u32::from(u16::MAX)) as u16);
            e.win.waiting = c.map_or(0, |c| c.2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_stable_and_never_zero() {
        assert_eq!(slot(b"a/#"), slot(b"a/#"));
        assert_ne!(slot(b"a/#"), slot(b"a/+"));
        assert_ne!(slot(b""), 0);
        assert_eq!(Window::new(b"x", 0).cap, DEFAULT_CAP as u16);
        assert_eq!(Window::new(b"x", 70000).cap, TOTAL_LIMIT as u16);
        assert_eq!(std::mem::size_of::<Window>(), 12);
    }

    /// A steady QoS 1 stream reuses the buffers of acknowledged
    /// deliveries: after the first, a delivery takes a kept buffer, and
    /// an idle moment gives them back.
    #[test]
    fn acknowledged_buffers_are_reused() {
        let mut inner = Inner::new(true, 16, Millis(30_000));
        let mut out = Vec::new();
        for i in 1..=5u16 {
            inner.deliver(&mut out, 1, 0, false, b"t/a", b"payload", Millis(1));
            let r = inner.rare_opt_mut().expect("delivery state");
            assert!(r.spare.is_empty(), "delivery {i} took the kept buffer");
            let m = r.out.puback(i);
            assert!(m.is_some(), "packet id {i} in flight");
            inner.acked(m);
            let r = inner.rare().expect("delivery state");
            assert_eq!(r.spare.len(), 1, "the buffer of delivery {i} is kept");
            assert!(r.spare[0].capacity() >= 10);
        }
        let big = vec![0u8; SPARE_BYTES + 1];
        inner.deliver(&mut out, 1, 0, false, b"t/a", &big, Millis(1));
        inner.deliver(&mut out, 1, 0, false, b"t/a", b"x", Millis(1));
        let m = inner.rare_opt_mut().expect("state").out.puback(6);
        inner.acked(m);
        assert!(
            inner.rare().expect("state").spare.is_empty(),
            "a buffer over SPARE_BYTES is not kept"
        );
        inner.shrink_idle(0);
        assert!(inner.rare().is_none_or(|r| r.spare.is_empty()));
    }
}
