//! MQTT acknowledgements held for the file store's commit, off the event
//! loop (mqtt spec §7.5; docs/compat.md "Durable MQTT state"): a
//! connection whose input marked durable changes that its acknowledgements
//! depend on (a routed QoS 1/2 message, a staged QoS 2 message, a
//! subscription, a retained message) is held, neither read nor flushed,
//! until that commit epoch is durable, while the loop serves and flushes
//! its other connections (a subscriber gets its deliveries before the
//! fsync, not after it). At the end of the turn the epoch is written by
//! the committer thread when more connections wait to be read (the loop
//! goes on and is woken by it), else by the loop itself; then the
//! connection's queued bytes (its PUBACK, PUBREC, SUBACK and whatever was
//! queued behind them) go out. Not reading it meanwhile keeps later
//! acknowledgements, which belong to the next epoch, out of the batch
//! that is released.

use super::*;

impl EventLoop {
    /// After `token`'s input was processed: when it marked changes of an
    /// epoch not yet durable, asks for that epoch and holds the connection.
    /// True when held (the caller stops reading it). Without a committer
    /// thread (no file store) nothing is ever held.
    pub(super) fn hold_acks(&mut self, token: usize) -> bool {
        let need = crate::mqtt::take_need();
        let mqtt = &self.shared.mqtt;
        if need == 0 || need <= mqtt.durable_epoch() {
            return false;
        }
        let Some(conn) = self.conns.get_mut(token) else {
            // Closed without a last flush: nothing of it waits; the change
            // is written with the next commit (lazy at the latest).
            return false;
        };
        if conn.acks_after == 0 {
            self.held.push((token, conn.shared.clone()));
        }
        conn.acks_after = conn.acks_after.max(need);
        self.held_need = self.held_need.max(need);
        true
    }

    /// At the end of a turn, after every other connection was flushed:
    /// the epochs held connections wait for. With more connections ready
    /// to read, the committer thread writes them (the loop goes on and is
    /// woken when they are durable); with nothing else to do, the loop
    /// writes them itself (a hand-off to another thread costs two wake-ups
    /// per batch, which on a busy machine cost more than the fsync) and
    /// sends the held acknowledgements at once.
    pub(super) fn settle_held(&mut self) {
        let need = std::mem::take(&mut self.held_need);
        if need == 0 {
            return;
        }
        let mqtt = &self.shared.mqtt;
        if need > mqtt.durable_epoch()
            && (self.readable.is_empty() || !mqtt.request_commit(need, self.turn.idx))
        {
            mqtt.commit_epoch(need);
        }
        self.flush_dirty();
    }

    /// Releases the held connections whose epoch is durable: queued for
    /// this turn's flush, and read again (input that came while held
    /// raised its edge then).
    pub(super) fn release_held(&mut self) {
        if self.held.is_empty() {
            return;
        }
        let durable = self.shared.mqtt.durable_epoch();
        let mut i = 0;
        while i < self.held.len() {
            let (token, cs) = &self.held[i];
            let token = *token;
            match self.conns.get_mut(token) {
                Some(c) if Arc::ptr_eq(&c.shared, cs) => {
                    if c.acks_after > durable {
                        i += 1;
                        continue;
                    }
                    c.acks_after = 0;
                    self.turn.local_dirty.push(c.shared.clone());
                    self.readable.push(token);
                    self.held.swap_remove(i);
                }
                _ => {
                    self.held.swap_remove(i);
                }
            }
        }
    }
}
