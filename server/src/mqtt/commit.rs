//! The commit of the durable MQTT store (mqtt spec §7.5, group commit):
//! what was marked dirty is written in one transaction; the epoch it
//! closes becomes durable, or, when the write fails, the failed epoch
//! whose acknowledgements are never sent (`net/mqtt_hold.rs` closes their
//! connections); the changes of a failed commit are marked again and
//! written by a later one (docs/compat.md "Durable MQTT state").

use std::sync::atomic::Ordering;

use super::{store, Dirty, Registry, RetainedKey, SessionKey, LAZY_COMMIT};

impl Dirty {
    /// The newest epoch settled: durable, or failed (its acknowledgements
    /// are never sent): nothing up to it is waited for any more.
    fn settled(&self) -> u64 {
        self.durable
            .load(Ordering::SeqCst)
            .max(self.failed.load(Ordering::SeqCst))
    }
}

impl Registry {
    /// `need`: the epoch the caller waits for; `all`: lazy changes too,
    /// whatever their age; `lazy`: lazy changes once due.
    ///
    /// Only `lazy` or `all` callers (the committer thread, a loop when
    /// there is none, the shutdown) reopen a store a failure closed: a
    /// reopen repairs the file, reading all of it, which must not stall an
    /// event loop. Others leave their changes marked for those (no
    /// acknowledgement waits on a loop's own commit: a held connection's
    /// epoch goes to the committer while the store is closed, see
    /// `net/mqtt_hold.rs`).
    ///
    /// On success the closed epoch becomes durable. On failure it becomes
    /// the failed epoch instead (never durable: the acknowledgements
    /// waiting for it are not sent), its changes are marked again, as lazy
    /// ones, and written by the next commit: one that someone waits for,
    /// or the lazy one once the store may reopen
    /// ([`store::FileStore::ready`]).
    pub(super) fn commit_upto(&self, need: u64, all: bool, lazy: bool) {
        let (Some(fs), Some(d)) = (self.store.get(), self.dirty.get()) else {
            return;
        };
        // This thread's epoch is neither durable nor failed yet.
        let pending = |d: &Dirty| need > d.settled();
        // Nothing of this thread's to wait for, and no lazy change: no
        // lock (another loop may be in its fsync).
        let lazy_due = lazy && d.lazy.load(Ordering::Acquire);
        if !(all || pending(d) || lazy_due) {
            return;
        }
        if !(all || lazy || fs.is_open()) {
            return;
        }
        let mut last = if all || pending(d) {
            d.commit.lock().expect("commit")
        } else {
            // Only lazy changes: never wait behind another loop's fsync
            // for them (that loop's commit writes them anyway).
            let Ok(g) = d.commit.try_lock() else {
                return;
            };
            g
        };
        if !pending(d) {
            // Another loop's commit covered (or failed) this thread's
            // changes.
            // A store waiting to reopen would refuse it at once: not due.
            let due =
                all || (lazy && last.is_none_or(|t| t.elapsed() >= LAZY_COMMIT) && fs.ready());
            if !due || !d.lazy.load(Ordering::Acquire) {
                return;
            }
        }
        d.lazy.store(false, Ordering::Release);
        *last = Some(std::time::Instant::now());
        // Later marks belong to the next epoch.
        let closed = d.epoch.fetch_add(1, Ordering::SeqCst);
        let keys: Vec<SessionKey> = d.sessions.lock().expect("dirty").drain().collect();
        let rets: Vec<RetainedKey> = d.retained.lock().expect("dirty").drain().collect();
        let writes = self.writes(&keys, &rets);
        if writes.is_empty() {
            d.durable.store(closed, Ordering::SeqCst);
            return;
        }
        match fs.commit(&writes, all) {
            Ok(()) => {
                if d.failing.swap(false, Ordering::Relaxed) {
                    crate::info!("MQTT store: writes succeed again (epoch {closed} committed)");
                }
                d.durable.store(closed, Ordering::SeqCst);
            }
            Err(e) => {
                d.sessions.lock().expect("dirty").extend(keys);
                d.retained.lock().expect("dirty").extend(rets);
                d.lazy.store(true, Ordering::Release);
                d.failing.store(true, Ordering::Relaxed);
                crate::error!(
                    "MQTT store: commit of epoch {closed} failed: {e}; the CONNACK, PUBACK, PUBREC, SUBACK and UNSUBACK that depend on it are not sent and their connections are closed; its changes are written again with the next commit"
                );
                d.failed.store(closed, Ordering::SeqCst);
            }
        }
    }

    /// The rows of `keys` and `rets` as they are now (a session gone or
    /// clean, or a retained message cleared: a delete).
    fn writes(&self, keys: &[SessionKey], rets: &[RetainedKey]) -> Vec<store::Write> {
        let mut writes = Vec::with_capacity(keys.len() + rets.len());
        {
            let map = self.sessions.lock().expect("sessions");
            for k in keys {
                let row = store::key(&k.0.name, k.1.as_bytes());
                let snap = map.get(k).and_then(|s| {
                    let inner = s.inner.lock().expect("mqtt session");
                    (!inner.clean).then(|| inner.snapshot().encode())
                });
                writes.push(store::Write::Session(row, snap));
            }
        }
        {
            let r = self.retained.lock().expect("retained");
            for (acc, subject) in rets {
                let m = r.get(acc).and_then(|idx| idx.get(subject)).cloned();
                writes.push(store::Write::Retained(store::key(acc, subject), m));
            }
        }
        writes
    }
}

#[cfg(test)]
mod tests {
    use super::super::{store::testing, take_need};
    use super::*;
    use std::sync::atomic::AtomicU64;
    use std::sync::Arc;
    use std::time::Duration;

    /// A registry on a store whose writes fail on demand.
    fn registry(name: &str, backoff: Duration) -> (Registry, testing::Flags) {
        let (fs, flags) = testing::flaky(name, backoff);
        let r = Registry::default();
        let _ = r.store.set(fs);
        let _ = r.dirty.set(Arc::new(Dirty {
            epoch: AtomicU64::new(1),
            ..Dirty::default()
        }));
        (r, flags)
    }

    /// Marks a retained message (an acknowledgement depends on it) and
    /// returns the epoch to wait for.
    fn retain(r: &Registry, subject: &str) -> u64 {
        r.retain("A", subject.as_bytes(), subject.as_bytes(), b"v", 1);
        take_need()
    }

    fn stored(r: &Registry) -> Vec<String> {
        let mut v: Vec<String> = r
            .store
            .get()
            .expect("store")
            .retained()
            .expect("read")
            .into_iter()
            .map(|(_, s, _)| String::from_utf8(s).expect("utf8"))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_failed_epoch_is_never_durable_and_a_later_commit_writes_its_changes() {
        let (r, flags) = registry("commit-fail", Duration::ZERO);
        let e1 = retain(&r, "a");
        r.commit_epoch(e1);
        assert_eq!((r.durable_epoch(), r.failed_epoch()), (e1, 0));

        flags.fail.store(true, Ordering::SeqCst);
        let e2 = retain(&r, "b");
        assert!(e2 > e1);
        r.commit_epoch(e2);
        assert_eq!((r.durable_epoch(), r.failed_epoch()), (e1, e2), "failed");
        // A new change someone waits for is attempted at once, and fails.
        let e3 = retain(&r, "c");
        r.commit_epoch(e3);
        assert_eq!((r.durable_epoch(), r.failed_epoch()), (e1, e3));

        // The disk takes writes again: the next commit reopens the store
        // and writes what the failed ones left marked.
        flags.fail.store(false, Ordering::SeqCst);
        let e4 = retain(&r, "d");
        r.commit_epoch(e4);
        assert_eq!((r.durable_epoch(), r.failed_epoch()), (e4, e3));
        assert_eq!(stored(&r), ["a", "b", "c", "d"]);
    }

    #[test]
    fn the_shutdown_commit_writes_what_failed_despite_the_backoff() {
        let (r, flags) = registry("commit-retry", Duration::from_secs(3600));
        flags.fail.store(true, Ordering::SeqCst);
        let e = retain(&r, "a");
        r.commit_epoch(e);
        assert_eq!(r.failed_epoch(), e);
        // A second failure in a row: the reopen now waits an hour, and a
        // commit someone waits for fails at once.
        let e = retain(&r, "b");
        r.commit_epoch(e);
        assert_eq!(r.failed_epoch(), e);
        flags.fail.store(false, Ordering::SeqCst);
        let e = retain(&r, "c");
        r.commit_epoch(e);
        assert_eq!(r.failed_epoch(), e, "not reopened within the backoff");
        // No new change: the shutdown's commit tries anyway and writes
        // what the failed ones left marked.
        r.commit_all();
        assert!(r.durable_epoch() > e);
        assert_eq!(stored(&r), ["a", "b", "c"]);
    }

    #[test]
    fn only_the_committer_reopens_a_failed_store() {
        let (r, flags) = registry("commit-loop", Duration::ZERO);
        r.set_committer(Arc::new(super::super::committer::Committer::default()));
        flags.fail.store(true, Ordering::SeqCst);
        let e = retain(&r, "a");
        r.commit_epoch(e);
        assert_eq!(r.failed_epoch(), e);
        assert!(!r.store_open());
        flags.fail.store(false, Ordering::SeqCst);
        // A loop's own commit leaves it to the committer thread.
        let opens = flags.opens.load(Ordering::SeqCst);
        r.retain("A", b"b", b"b", b"v", 1);
        r.commit();
        assert_eq!(flags.opens.load(Ordering::SeqCst), opens, "not reopened");
        assert_eq!(r.durable_epoch(), e - 1);
        // The committer's commit reopens it and writes both.
        r.commit_epoch(e + 1);
        assert!(r.store_open());
        assert!(r.durable_epoch() > e);
        assert_eq!(stored(&r), ["a", "b"]);
    }
}
