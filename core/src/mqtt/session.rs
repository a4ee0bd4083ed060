//! The outbound QoS 1/2 bookkeeping of one MQTT session (spec §4.4):
//! packet identifiers from a rolling counter (last + 1, wrapping 65535 → 1,
//! skipping identifiers in use), the in-flight window (`max_ack_pending`),
//! the QoS 2 stages (PUBLISH sent, then PUBREL sent) and `ack_wait`
//! redelivery, always in the original send order ([MQTT-4.6.0-1]).
//!
//! `M` is what the server keeps to resend a PUBLISH (topic, payload). Time
//! enters as [`Millis`]; [`Outbound::poll_timeout`] says when
//! [`Outbound::redeliver`] is next due.

use alloc::collections::VecDeque;

use crate::time::Millis;

/// Where an in-flight delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// PUBLISH sent; waiting for PUBACK (QoS 1) or PUBREC (QoS 2).
    Publish,
    /// QoS 2: PUBREC received, PUBREL sent; waiting for PUBCOMP.
    Pubrel,
}

/// One unacknowledged delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inflight<M> {
    /// Its packet identifier.
    pub id: u16,
    /// 1 or 2.
    pub qos: u8,
    /// Where it stands.
    pub stage: Stage,
    /// When it was last sent.
    pub sent_at: Millis,
    /// What to resend.
    pub msg: M,
}

/// What to send again for an in-flight delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resend<'a, M> {
    /// The PUBLISH, with DUP=1 and the same identifier.
    Publish {
        /// Packet identifier.
        id: u16,
        /// 1 or 2.
        qos: u8,
        /// The message.
        msg: &'a M,
    },
    /// The PUBREL (no DUP flag exists).
    Pubrel(u16),
}

/// The outbound state of a session (see the module docs).
#[derive(Debug, Clone)]
pub struct Outbound<M> {
    last_id: u16,
    inflight: VecDeque<Inflight<M>>,
    /// The in-flight identifiers increase (cyclically, from the oldest) in
    /// send order, so a lookup can binary-search them. Identifiers handed
    /// out as last + 1 keep this until a delivery stays unacknowledged
    /// while the counter goes all the way round; then lookups scan until
    /// the window is empty again.
    ordered: bool,
    /// `max_ack_pending`: at most this many unacknowledged deliveries
    /// (0: none may be in flight).
    pub max_inflight: usize,
    /// `ack_wait`: resend after this long without an acknowledgement.
    pub ack_wait: Millis,
}

impl<M> Outbound<M> {
    /// An empty state; identifiers start at 1.
    pub fn new(max_inflight: usize, ack_wait: Millis) -> Outbound<M> {
        Outbound {
            last_id: 0,
            inflight: VecDeque::new(),
            ordered: true,
            max_inflight,
            ack_wait,
        }
    }

    /// Whether another delivery may go out now.
    pub fn has_room(&self) -> bool {
        self.inflight.len() < self.max_inflight.min(65535)
    }

    /// Unacknowledged deliveries, in send order.
    pub fn inflight(&self) -> impl Iterator<Item = &Inflight<M>> {
        self.inflight.iter()
    }

    /// How many are in flight.
    pub fn len(&self) -> usize {
        self.inflight.len()
    }

    /// Whether nothing is in flight.
    pub fn is_empty(&self) -> bool {
        self.inflight.is_empty()
    }

    /// Distance of `id` after the oldest in-flight identifier, counting
    /// 65535 → 1 as one step.
    fn offset(&self, id: u16) -> u32 {
        let front = self.inflight.front().map_or(0, |f| u32::from(f.id));
        (u32::from(id) + 65535 - front) % 65535
    }

    fn in_use(&self, id: u16) -> bool {
        if !self.ordered {
            return self.inflight.iter().any(|f| f.id == id);
        }
        let t = self.offset(id);
        self.inflight
            .binary_search_by_key(&t, |f| self.offset(f.id))
            .is_ok()
    }

    /// Appends in send order, keeping [`Outbound::ordered`] up to date.
    fn push(&mut self, f: Inflight<M>) {
        if self.inflight.is_empty() {
            self.ordered = true;
        } else if let Some(b) = self.inflight.back() {
            self.ordered &= self.offset(f.id) > self.offset(b.id);
        }
        self.inflight.push_back(f);
    }

    /// Records a QoS 1/2 delivery sent at `now` and returns its identifier;
    /// `None` when the window is full (send it later).
    pub fn send(&mut self, qos: u8, msg: M, now: Millis) -> Option<u16> {
        if !self.has_room() {
            return None;
        }
        let mut id = self.last_id;
        loop {
            id = if id == u16::MAX { 1 } else { id + 1 };
            if !self.in_use(id) {
                break;
            }
        }
        self.last_id = id;
        self.push(Inflight {
            id,
            qos,
            stage: Stage::Publish,
            sent_at: now,
            msg,
        });
        Some(id)
    }

    fn take(&mut self, id: u16, qos: u8, stage: Stage) -> Option<Inflight<M>> {
        // Acknowledgements mostly come in send order: the oldest first.
        let i = if self.inflight.front().is_some_and(|f| f.id == id) {
            0
        } else {
            self.inflight.iter().position(|f| f.id == id)?
        };
        let f = &self.inflight[i];
        if f.qos != qos || f.stage != stage {
            return None;
        }
        self.inflight.remove(i)
    }

    /// PUBACK: the QoS 1 delivery is done; `None` when nothing waited for
    /// it (ignored, spec §2.5).
    pub fn puback(&mut self, id: u16) -> Option<M> {
        self.take(id, 1, Stage::Publish).map(|f| f.msg)
    }

    /// PUBREC: the QoS 2 delivery moves to its PUBREL stage (send PUBREL
    /// now: true); false when nothing waited for it (ignored).
    pub fn pubrec(&mut self, id: u16, now: Millis) -> bool {
        match self.inflight.iter_mut().find(|f| f.id == id && f.qos == 2) {
            Some(f) => {
                f.stage = Stage::Pubrel;
                f.sent_at = now;
                true
            }
            None => false,
        }
    }

    /// PUBCOMP: the QoS 2 delivery is done; `None` when nothing waited.
    pub fn pubcomp(&mut self, id: u16) -> Option<M> {
        self.take(id, 2, Stage::Pubrel).map(|f| f.msg)
    }

    /// When the earliest redelivery is due.
    pub fn poll_timeout(&self) -> Option<Millis> {
        self.inflight
            .iter()
            .map(|f| f.sent_at.saturating_add(self.ack_wait))
            .min()
    }

    /// Calls `f` for every delivery whose `ack_wait` has passed at `now`
    /// (every delivery with `all`: a resumed session, [MQTT-4.4.0-1]), in
    /// send order, and marks it sent at `now`.
    pub fn redeliver(&mut self, now: Millis, all: bool, mut f: impl FnMut(Resend<'_, M>)) {
        let wait = self.ack_wait;
        for e in self.inflight.iter_mut() {
            if all || e.sent_at.saturating_add(wait) <= now {
                e.sent_at = now;
                f(match e.stage {
                    Stage::Publish => Resend::Publish {
                        id: e.id,
                        qos: e.qos,
                        msg: &e.msg,
                    },
                    Stage::Pubrel => Resend::Pubrel(e.id),
                });
            }
        }
    }

    /// Puts back a delivery read from a durable store (in send order, as
    /// it was written), sent at `now` for the `ack_wait` clock; the
    /// identifier counter continues after it.
    pub fn restore(&mut self, id: u16, qos: u8, stage: Stage, msg: M, now: Millis) {
        self.last_id = id;
        self.push(Inflight {
            id,
            qos,
            stage,
            sent_at: now,
            msg,
        });
    }

    /// The last identifier given out (0: none yet).
    pub fn last_id(&self) -> u16 {
        self.last_id
    }

    /// Forgets everything (a clean session); identifiers restart at 1.
    pub fn clear(&mut self) {
        self.inflight.clear();
        self.last_id = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn ids_roll_skip_in_use_and_wrap() {
        let mut o = Outbound::new(3, Millis(1000));
        assert_eq!(o.send(1, 'a', Millis(0)), Some(1));
        assert_eq!(o.send(1, 'b', Millis(0)), Some(2));
        assert_eq!(o.puback(1), Some('a'));
        // A freed identifier is not reused at once.
        assert_eq!(o.send(1, 'c', Millis(0)), Some(3));
        assert_eq!(o.send(1, 'd', Millis(0)), Some(4));
        assert_eq!(o.send(1, 'x', Millis(0)), None, "window of 3 full");
        o.puback(2);
        o.puback(3);
        o.puback(4);
        o.last_id = 65534;
        assert_eq!(o.send(1, 'e', Millis(0)), Some(65535));
        assert_eq!(o.send(1, 'f', Millis(0)), Some(1), "wraps to 1, never 0");
        o.last_id = 65535;
        // 1 is in use: skipped.
        assert_eq!(o.send(1, 'g', Millis(0)), Some(2));
    }

    #[test]
    fn unknown_acks_are_ignored_and_stages_checked() {
        let mut o = Outbound::new(10, Millis(1000));
        let id = o.send(2, 'x', Millis(0)).unwrap();
        assert_eq!(o.puback(id), None, "a QoS 2 delivery wants PUBREC");
        assert_eq!(o.pubcomp(id), None, "PUBCOMP before PUBREC");
        assert!(!o.pubrec(99, Millis(0)));
        assert!(o.pubrec(id, Millis(5)));
        assert_eq!(o.pubcomp(id), Some('x'));
        assert!(o.is_empty());
    }

    #[test]
    fn redelivery_after_ack_wait_in_order_with_pubrel() {
        let mut o = Outbound::new(10, Millis(1000));
        let a = o.send(1, 'a', Millis(0)).unwrap();
        let b = o.send(2, 'b', Millis(100)).unwrap();
        assert_eq!(o.poll_timeout(), Some(Millis(1000)));
        let mut seen = Vec::new();
        o.redeliver(Millis(999), false, |r| seen.push(alloc::format!("{r:?}")));
        assert!(seen.is_empty());
        o.redeliver(Millis(1000), false, |r| seen.push(alloc::format!("{r:?}")));
        assert_eq!(seen, ["Publish { id: 1, qos: 1, msg: 'a' }"]);
        assert_eq!(o.poll_timeout(), Some(Millis(1100)));
        assert!(o.pubrec(b, Millis(1050)));
        seen.clear();
        // A resumed session: everything, in send order, at once.
        o.redeliver(Millis(1060), true, |r| seen.push(alloc::format!("{r:?}")));
        assert_eq!(
            seen,
            [
                alloc::format!("Publish {{ id: {a}, qos: 1, msg: 'a' }}"),
                alloc::format!("Pubrel({b})")
            ]
        );
        o.clear();
        assert_eq!(o.send(1, 'z', Millis(0)), Some(1));
    }

    #[test]
    fn a_delivery_held_over_a_full_turn_of_identifiers_is_skipped() {
        let mut o = Outbound::new(3, Millis(1000));
        // 1 and 5 stay unacknowledged while the counter goes round.
        for n in 1..=65535u32 {
            let id = o.send(1, n, Millis(0)).unwrap();
            assert_eq!(u32::from(id), n);
            if id != 1 && id != 5 {
                assert_eq!(o.puback(id), Some(n));
            }
        }
        // 1 is in use: 2 is next, then 3 (2 now comes after 5 in send
        // order, so lookups scan), never 1 or 5.
        assert_eq!(o.send(1, 2, Millis(0)), Some(2));
        assert_eq!(o.send(1, 0, Millis(0)), None, "window of 3");
        assert_eq!(o.puback(1), Some(1));
        assert_eq!(o.send(1, 3, Millis(0)), Some(3));
        assert_eq!(o.puback(3), Some(3));
        assert_eq!(o.puback(2), Some(2));
        assert_eq!(o.send(1, 4, Millis(0)), Some(4));
        assert_eq!(o.send(1, 6, Millis(0)), Some(6), "5 is still in flight");
        let ids: Vec<u16> = o.inflight().map(|f| f.id).collect();
        assert_eq!(ids, [5, 4, 6]);
        assert_eq!(o.puback(5), Some(5));
        assert_eq!(o.puback(4), Some(4));
        assert_eq!(o.puback(6), Some(6));
        // Empty again: ordered lookups.
        assert_eq!(o.send(1, 7, Millis(0)), Some(7));
    }

    #[test]
    fn zero_window_sends_nothing() {
        let mut o: Outbound<()> = Outbound::new(0, Millis(1));
        assert_eq!(o.send(1, (), Millis(0)), None);
    }
}
