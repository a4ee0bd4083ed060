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
//! that is released. When that commit fails, they never go out: the
//! connection is closed without them (`Registry::failed_epoch`), and its
//! client resends on reconnect.

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
    /// to read, or the store closed by a failure, the committer thread
    /// writes them (the loop goes on and is woken when they are durable or
    /// failed); with nothing else to do, the loop writes them itself (a
    /// hand-off to another thread costs two wake-ups per batch, which on a
    /// busy machine cost more than the fsync) and sends the held
    /// acknowledgements at once.
    pub(super) fn settle_held(&mut self) {
        let need = std::mem::take(&mut self.held_need);
        if need == 0 {
            return;
        }
        let mqtt = &self.shared.mqtt;
        // A store a failure closed is reopened by the committer thread (a
        // repair reading the whole file), never on the loop.
        let here = self.readable.is_empty() && mqtt.store_open();
        // Settled already (durable, or failed: release_held closes them).
        let settled = mqtt.durable_epoch().max(mqtt.failed_epoch());
        if need > settled && (here || !mqtt.request_commit(need, self.turn.idx)) {
            mqtt.commit_epoch(need);
        }
        self.flush_dirty();
    }

    /// Releases the held connections whose epoch is durable: queued for
    /// this turn's flush, and read again (input that came while held
    /// raised its edge then). Those whose epoch failed to commit (and is
    /// not durable since) are closed without a flush: the PUBACK, PUBREC
    /// or SUBACK they hold promised a write that did not happen, so the
    /// client resends on reconnect (mqtt spec §7.5; docs/compat.md).
    pub(super) fn release_held(&mut self) {
        if self.held.is_empty() {
            return;
        }
        // Durable first: a commit that succeeds between the two loads
        // only makes this close what it could have released, never the
        // reverse.
        let durable = self.shared.mqtt.durable_epoch();
        let failed = self.shared.mqtt.failed_epoch();
        let mut i = 0;
        while i < self.held.len() {
            let (token, cs) = &self.held[i];
            let token = *token;
            match self.conns.get_mut(token) {
                Some(c) if Arc::ptr_eq(&c.shared, cs) => {
                    if c.acks_after > durable && c.acks_after > failed {
                        i += 1;
                        continue;
                    }
                    let lost = c.acks_after > durable;
                    c.acks_after = 0;
                    self.held.swap_remove(i);
                    if lost {
                        self.drop_acks(token);
                    } else {
                        let c = &self.conns[token];
                        self.turn.local_dirty.push(c.shared.clone());
                        self.readable.push(token);
                    }
                }
                _ => {
                    self.held.swap_remove(i);
                }
            }
        }
    }

    /// Closes held connection `token` without sending what it queued (its
    /// acknowledgements wait for a commit that failed, and what was queued
    /// behind them goes too: QoS 1/2 deliveries stay in the session); as
    /// nats-server closes an MQTT connection whose message its store
    /// refused (`ProtocolViolation` after its read loop's error: over
    /// WebSocket a close frame 1002 is all the client gets).
    fn drop_acks(&mut self, token: usize) {
        let c = &self.conns[token];
        crate::error!(
            "{} - {}:{} - MQTT acknowledgements not sent: the store write they depend on failed; closing the connection (the client resends)",
            c.shared.log_peer(),
            c.shared.kind.label(),
            c.shared.cid
        );
        match c.closing {
            // Already closing (e.g. taken over): its lingering close may
            // have moved the held bytes to the socket buffer; drop them.
            Some(reason) => self.finish_close(token, reason),
            None => {
                c.shared.out.lock().expect("out").buf.clear();
                self.close(token, ClosedReason::ProtocolViolation, true);
            }
        }
    }
}
