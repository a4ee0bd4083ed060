//! The mutable state of an MQTT session ([`Inner`], behind the session's
//! mutex) and the delivery state an idle session does without ([`Rare`]).

use std::collections::{BTreeMap, VecDeque};

use natsws_core::mqtt::session::Outbound;
use natsws_core::time::Millis;

use std::sync::Arc;

use super::{store, window, OutMsg, Staged, SubMap, WillMsg};
use crate::sink::ConnShared;

/// The mutable state of a session.
///
/// An idle session (connected or not, nothing routed, no will) holds only
/// its owner, its filters and two settings; the delivery state is created
/// at the first delivery or will ([`Inner::rare_mut`]) and kept (issue
/// #17: idle memory per connection).
pub(crate) struct Inner {
    /// The connection that owns it now.
    pub conn: Option<Arc<ConnShared>>,
    /// Filters → subscriptions.
    pub subs: SubMap,
    /// The delivery state, once used.
    rare: Option<Box<Rare>>,
    /// `ack_wait` in force, ms (saturated at `u32::MAX`, 49 days).
    ack_wait: u32,
    /// The session cap of unacknowledged deliveries in force
    /// ([`window::session_cap`]: at most [`window::TOTAL_LIMIT`]).
    cap: u16,
    /// Clean session: dropped when its connection ends.
    pub clean: bool,
    /// Resumed with unacknowledged deliveries: resend them all after the
    /// CONNACK ([MQTT-4.4.0-1]).
    pub resend_all: bool,
}

/// The delivery state of a session ([`Inner::rare_mut`]).
pub(crate) struct Rare {
    /// Deliveries routed since the owner's last flush (or while offline):
    /// records of `qos u8, slot u32, subject len u16, subject, payload
    /// len u32, payload` (slot: [`window::slot`] of the filter).
    pub records: Vec<u8>,
    /// QoS 1/2 deliveries in flight.
    pub out: Outbound<OutMsg>,
    /// QoS 1/2 deliveries waiting for room in the window: (QoS, message).
    pub pending: VecDeque<(u8, OutMsg)>,
    /// Inbound QoS 2 messages awaiting PUBREL, by packet identifier.
    pub qos2_in: BTreeMap<u16, Staged>,
    /// The will of the owning connection.
    pub will: Option<WillMsg>,
    /// Stored filters that no longer convert to a subject (a restore):
    /// (filter, QoS), kept for the store and `/mqttz` and removed by an
    /// UNSUBSCRIBE, never routed.
    pub orphans: Vec<(Box<[u8]>, u8)>,
    /// Buffers of acknowledged deliveries, reused by the next ones (at
    /// most [`window::SPARE_MAX`], each at most [`window::SPARE_BYTES`]
    /// bytes); given back at an idle moment ([`Inner::shrink_idle`]).
    pub spare: Vec<Vec<u8>>,
}

impl Inner {
    /// A new session's state: nothing subscribed, owned by no connection;
    /// `cap`: `max_ack_pending`, `ack_wait` (see [`Inner::set_limits`]).
    pub(super) fn new(clean: bool, cap: usize, ack_wait: Millis) -> Inner {
        let mut i = Inner {
            conn: None,
            subs: SubMap::default(),
            rare: None,
            ack_wait: 0,
            cap: 0,
            clean,
            resend_all: false,
        };
        i.set_limits(cap, ack_wait);
        i
    }

    /// Applies `max_ack_pending` (as [`window::session_cap`]) and
    /// `ack_wait` to the session (attach, reload).
    pub(crate) fn set_limits(&mut self, cap: usize, ack_wait: Millis) {
        self.cap = window::session_cap(cap) as u16;
        self.ack_wait = u32::try_from(ack_wait.0).unwrap_or(u32::MAX);
        if let Some(r) = &mut self.rare {
            r.out.max_inflight = usize::from(self.cap);
            r.out.ack_wait = Millis(u64::from(self.ack_wait));
        }
    }

    /// Applies `max_ack_pending` (as [`window::session_cap`]) alone (a
    /// reload: `ack_wait` applies from the next attach).
    pub(crate) fn set_cap(&mut self, cap: usize) {
        self.cap = window::session_cap(cap) as u16;
        if let Some(r) = &mut self.rare {
            r.out.max_inflight = usize::from(self.cap);
        }
    }

    /// The delivery state, if any was ever needed.
    pub(crate) fn rare(&self) -> Option<&Rare> {
        self.rare.as_deref()
    }

    /// The delivery state to change, if any was ever needed.
    pub(crate) fn rare_opt_mut(&mut self) -> Option<&mut Rare> {
        self.rare.as_deref_mut()
    }

    /// The delivery state, created empty at first use.
    pub(crate) fn rare_mut(&mut self) -> &mut Rare {
        let (cap, ack_wait) = (usize::from(self.cap), Millis(u64::from(self.ack_wait)));
        self.rare.get_or_insert_with(|| {
            Box::new(Rare {
                records: Vec::new(),
                out: Outbound::new(cap, ack_wait),
                pending: VecDeque::new(),
                qos2_in: BTreeMap::new(),
                will: None,
                orphans: Vec::new(),
                spare: Vec::new(),
            })
        })
    }

    /// The filters and the delivery state, both to change.
    pub(crate) fn split(&mut self) -> (&mut SubMap, &mut Rare) {
        self.rare_mut();
        let Inner { subs, rare, .. } = self;
        (subs, rare.as_deref_mut().expect("just made"))
    }

    /// The stored filters that do not convert ([`Rare::orphans`]).
    pub(crate) fn orphans(&self) -> impl Iterator<Item = (&[u8], u8)> {
        self.rare()
            .into_iter()
            .flat_map(|r| r.orphans.iter().map(|(f, q)| (&**f, *q)))
    }

    /// An idle moment (a PINGREQ): the delivery state goes back to the
    /// allocator when it holds nothing (packet identifiers then start at
    /// 1 again, which MQTT allows for identifiers not in use); else the
    /// buffers a burst grew that are empty now, above `keep` bytes.
    pub(crate) fn shrink_idle(&mut self, keep: usize) {
        let Some(r) = self.rare.as_deref_mut() else {
            return;
        };
        let unused = r.records.is_empty()
            && r.out.is_empty()
            && r.pending.is_empty()
            && r.qos2_in.is_empty()
            && r.will.is_none()
            && r.orphans.is_empty();
        if unused {
            self.rare = None;
            return;
        }
        if r.records.is_empty() && r.records.capacity() > keep {
            r.records = Vec::new();
        }
        r.spare = Vec::new();
        if r.pending.is_empty() {
            r.pending.shrink_to_fit();
        }
    }

    /// The will, if one is set.
    pub(crate) fn will(&self) -> Option<&WillMsg> {
        self.rare().and_then(|r| r.will.as_ref())
    }

    /// Takes the will away.
    pub(crate) fn take_will(&mut self) -> Option<WillMsg> {
        self.rare.as_mut().and_then(|r| r.will.take())
    }

    /// Bytes routed and not yet rendered.
    pub(crate) fn queued(&self) -> usize {
        self.rare().map_or(0, |r| r.records.len())
    }

    /// Whether deliveries are unacknowledged.
    pub(super) fn has_inflight(&self) -> bool {
        self.rare().is_some_and(|r| !r.out.is_empty())
    }
}

impl Inner {
    /// The durable snapshot of this state.
    pub(super) fn snapshot(&self) -> store::Snapshot {
        let subs = (self.subs.iter().map(|(f, e)| (f, e.qos)))
            .chain(self.orphans())
            .map(|(f, q)| (Box::from(f), q))
            .collect();
        let Some(r) = self.rare() else {
            return store::Snapshot {
                subs,
                ..store::Snapshot::default()
            };
        };
        store::Snapshot {
            subs,
            inflight: r
                .out
                .inflight()
                .map(|f| {
                    let rel = f.stage == natsws_core::mqtt::session::Stage::Pubrel;
                    (f.id, f.qos, rel, f.msg.clone())
                })
                .collect(),
            pending: r.pending.iter().cloned().collect(),
            records: r.records.clone(),
            qos2_in: r.qos2_in.iter().map(|(id, s)| (*id, s.clone())).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::{MqttSession, SessionKey, SubEntry};

    /// Issue #17 (idle memory per MQTT connection ≤ mosquitto's): an idle
    /// session is one allocation of this size (plus the Arc's two counts)
    /// and its client id (a filter's text is its subscription's id);
    /// nothing else until a delivery
    /// or a will ([`Rare`]). Was 288 bytes with the delivery state, the
    /// settings and a heap vector of filters inline.
    #[test]
    fn idle_session_footprint() {
        use std::mem::size_of;
        // 88: with the Arc's two counts, a 112-byte heap chunk (was 104,
        // a 128-byte one, with the shared settings' pointer of its own).
        let session = size_of::<MqttSession>();
        assert!(session <= 88, "MqttSession is {session} bytes");
        let inner = size_of::<Inner>();
        assert!(inner <= 56, "Inner is {inner} bytes");
        // One filter inline, its text its subscription's id.
        assert!(size_of::<SubMap>() <= 32);
        assert!(size_of::<SubEntry>() <= 32);
        // The key: the shared account (with what the sessions share) and
        // the shared client id.
        assert_eq!(size_of::<SessionKey>(), 24);
        // Boxed, so an idle session does not carry it.
        assert_eq!(size_of::<Option<Box<Rare>>>(), 8);
    }

    /// A session and its state made through the registry: no delivery
    /// state until something is routed; the account name is shared by the
    /// sessions of an account.
    #[test]
    fn idle_session_allocates_no_delivery_state() {
        let r = crate::mqtt::Registry::default();
        let a = r.account_name("$G");
        let b = r.account_name("$G");
        assert!(Arc::ptr_eq(&a, &b));
        let s = MqttSession::new(SessionKey(a, "c1".into()), false, 0, Millis(30_000));
        let mut inner = s.inner.lock().expect("mqtt session");
        assert!(inner.rare().is_none());
        assert_eq!(inner.queued(), 0);
        assert!(!inner.has_inflight());
        // The limits are kept narrowed and reach the delivery state made
        // later.
        inner.set_limits(70_000, Millis(u64::MAX));
        let r = inner.rare_mut();
        assert_eq!(r.out.max_inflight, window::TOTAL_LIMIT);
        assert_eq!(r.out.ack_wait, Millis(u64::from(u32::MAX)));
        inner.set_cap(0);
        assert_eq!(
            inner.rare().map(|r| r.out.max_inflight),
            Some(window::DEFAULT_CAP)
        );
        // Idle with nothing in it: given back; a will (or anything queued)
        // keeps it.
        inner.rare_mut().records.extend_from_slice(b"queued");
        inner.shrink_idle(0);
        assert_eq!(inner.queued(), 6);
        inner.rare_mut().records.clear();
        inner.rare_mut().will = Some(WillMsg {
            owner: 1,
            msg: OutMsg::new(b"t", b"w"),
            qos: 0,
            retain: false,
        });
        inner.shrink_idle(0);
        assert!(inner.will().is_some());
        inner.take_will();
        inner.shrink_idle(0);
        assert!(inner.rare().is_none());
    }

    /// A stored filter that no longer converts to a NATS filter (`a/#/b`
    /// gives `a.>.b`) is restored without a subscription: it is not
    /// routed, but `/mqttz` lists it and the next write keeps it, as
    /// before [`SubMap`] took its keys from the subscriptions.
    #[test]
    fn restore_keeps_a_filter_that_no_longer_converts() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir =
            std::env::temp_dir().join(format!("natsws-orphan-{}-{nanos}", std::process::id()));
        let r = crate::mqtt::Registry::default();
        r.open_store(&dir).expect("store");
        let snap = store::Snapshot {
            subs: vec![
                (b"a/#".as_slice().into(), 1),
                (b"a/#/b".as_slice().into(), 2),
            ],
            ..store::Snapshot::default()
        };
        let fs = r.store.get().expect("open");
        let row = store::key("$G", b"c1");
        fs.commit(&[store::Write::Session(row, Some(snap.encode()))], true)
            .expect("write");
        let mut routed = Vec::new();
        let n = r
            .restore(0, Millis(30_000), Millis(1), |acc, sub| {
                routed.push((
                    acc.to_string(),
                    String::from_utf8_lossy(sub.filter()).into_owned(),
                    sub.sid().to_vec(),
                ))
            })
            .expect("restore");
        assert_eq!(n, 1);
        // `a/#`: `a.>` and its parent-level twin `a`, both with the
        // filter as their id; nothing for `a/#/b`.
        assert_eq!(
            routed,
            [
                ("$G".to_string(), "a.>".to_string(), b"a/#".to_vec()),
                ("$G".to_string(), "a".to_string(), b"a/#".to_vec()),
            ]
        );
        let list = r.list();
        assert_eq!(list.len(), 1);
        assert_eq!(
            list[0].subs,
            [("a/#".to_string(), 1), ("a/#/b".to_string(), 2)]
        );
        let key = SessionKey::new("$G", "c1");
        let sessions = r.sessions.lock().expect("sessions");
        let s = sessions.get(&key).expect("restored");
        let inner = s.inner.lock().expect("mqtt session");
        assert_eq!(inner.subs.iter().count(), 1);
        let kept: Vec<(Vec<u8>, u8)> = inner
            .snapshot()
            .subs
            .into_iter()
            .map(|(f, q)| (f.to_vec(), q))
            .collect();
        assert_eq!(kept, [(b"a/#".to_vec(), 1), (b"a/#/b".to_vec(), 2)]);
        drop(inner);
        drop(sessions);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
