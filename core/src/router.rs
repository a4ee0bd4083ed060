//! The subject space: which subscriptions receive a published message.
//!
//! A [`Router`] owns the [`Sublist`] of one account. Each subscription is a
//! shared [`SubRef`] (`Arc<Subscription>`) so that the connection that made
//! it, the router and the thread delivering a message can all refer to it
//! without copying. Delivery decisions follow nats-server (spec
//! `nats-protocol.md` §2.2):
//!
//! - every matching plain subscription gets one copy, a connection with
//!   several matching subscriptions gets one copy per subscription;
//! - each queue group (keyed by queue name across all matching filters) gets
//!   exactly one copy: a random start index, then a walk over the members until
//!   one accepts (skipping closed subscriptions, auto-unsubscribe-exhausted
//!   ones, and the publisher's own when it asked for `echo: false`);
//! - `echo: false` suppresses delivery to the publisher's own subscriptions.
//!
//! Auto-unsubscribe (`UNSUB <sid> <max_msgs>`) is counted here with atomics,
//! because the thread delivering a message is not the thread owning the
//! subscriber's connection: [`Subscription::claim`] says whether a delivery
//! may go out and whether it is the last one.
//!
//! Each subscription carries a target of the embedding server's type `T`
//! (natsws: the subscriber's sink, a connection's outbound queue or an
//! internal handler), so a delivery reaches its subscriber without a lookup
//! or a downcast. Everything that publishes into or subscribes in a subject
//! space goes through [`SubjectSpace`], whatever its origin: a client, a
//! leaf, or an internal publisher with no socket ([`Origin`]).

use alloc::{boxed::Box, sync::Arc, vec::Vec};
use core::{
    fmt,
    ops::Deref,
    sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering},
};

use crate::subject::{Filter, Sublist, SublistResult};

/// Identifies a connection within one server process (nats-server's `cid`:
/// starts at 1, never reused while the process lives).
pub type ConnId = u64;

/// Where a published message comes from: which connection, or an internal
/// publisher with no socket (system events, imports). `echo: false` and
/// loop detection compare subscribers against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A connection (its `cid`).
    Conn(ConnId),
    /// An internal publisher; it owns no subscription, so `echo` never
    /// suppresses anything for it.
    Internal,
}

impl Origin {
    /// Whether `sub`'s connection is this origin (an internal origin owns
    /// none).
    fn owns<T>(self, sub: &Subscription<T>) -> bool {
        self == Origin::Conn(sub.conn)
    }
}

/// The subject space as a session, or any other origin, sees it: add and
/// remove subscriptions, publish. Implemented by the server over an
/// account's [`Router`] and its subscribers' sinks, and by test worlds.
pub trait SubjectSpace {
    /// What a subscription delivers to (see [`Subscription::target`]).
    type Target: Clone;
    /// Adds a new subscription to the subject space.
    fn subscribe(&mut self, sub: &SubRef<Self::Target>);
    /// Removes a subscription from the subject space.
    fn unsubscribe(&mut self, sub: &SubRef<Self::Target>);
    /// Routes one message from `origin`. Deliveries to the origin's own
    /// subscriptions (only when `echo`) must be appended to `self_out`, so
    /// they keep their order relative to the origin's own replies. Returns
    /// how many subscriptions received it (`no_responders` needs the count).
    fn publish(
        &mut self,
        origin: Origin,
        echo: bool,
        msg: &Message<'_>,
        self_out: &mut Vec<u8>,
    ) -> usize;
}

/// One message being routed, borrowed from the publisher's input buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    /// The subject it was published to.
    pub subject: &'a [u8],
    /// The reply subject, if the publisher gave one.
    pub reply: Option<&'a [u8]>,
    /// The `NATS/1.0` header block (including its blank line) for `HPUB`,
    /// `None` for `PUB`.
    pub headers: Option<&'a [u8]>,
    /// The payload bytes (after the header block for `HPUB`).
    pub payload: &'a [u8],
}

/// What [`Subscription::claim`] allows for one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Deliver; the subscription stays.
    Deliver,
    /// Deliver; this delivery reached `max_msgs`, so the subscription is now
    /// closed and the caller must remove it from the router.
    DeliverLast,
    /// Do not deliver: the subscription is closed or exhausted.
    Skip,
}

/// One subscription (`SUB <subject> [queue] <sid>`) of one connection,
/// delivering to a target of the server's type `T`.
///
/// Its filter, id and queue name are one allocation ([`Subscription::filter`],
/// [`Subscription::sid`], [`Subscription::queue`]): every connection holds
/// its subscriptions, so each allocation counts in the idle memory of a
/// connection (issue #17). 72 bytes with a 16-byte `Option<T>`, so that the
/// `Arc` (two counts more) takes a 96-byte heap chunk.
pub struct Subscription<T = ()> {
    /// The connection that owns it.
    pub conn: ConnId,
    /// The subject filter (may hold `*` and `>` wildcards; validated, see
    /// [`Filter`]), then the subscription id chosen by the client (opaque
    /// bytes), then the queue group name (never empty, so none when
    /// `queue_at` is the end).
    text: Box<[u8]>,
    /// Where deliveries go, set by the server so that a delivery needs no
    /// lookup (see [`crate::session::SessionConfig::target`]); `None` in
    /// worlds that deliver by connection id.
    pub target: Option<T>,
    /// Auto-unsubscribe limit; 0 means none.
    max_msgs: AtomicU64,
    /// Messages delivered so far (or claimed for delivery).
    delivered: AtomicU64,
    /// 0: a local member; ≥ 1: a remote queue member (a leafnode's `LS+
    /// <subject> <queue> <weight>`) counting as that many members.
    remote_weight: AtomicU32,
    /// Where the id starts in `text` (the filter's length).
    sid_at: u32,
    /// Where the queue name starts in `text` (its length when none).
    queue_at: u32,
    /// Whether the owning connection negotiated headers (`"headers":true` in
    /// CONNECT and the server supports them). Decides `HMSG` versus `MSG`
    /// with the header block stripped (spec §1.3).
    pub headers: bool,
    closed: AtomicBool,
}

impl<T> fmt::Debug for Subscription<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("conn", &self.conn)
            .field("sid", &alloc::string::String::from_utf8_lossy(self.sid()))
            .field(
                "filter",
                &alloc::string::String::from_utf8_lossy(self.filter()),
            )
            .field("delivered", &self.delivered())
            .field("max_msgs", &self.max_msgs())
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl<T> Subscription<T> {
    /// A new open subscription with no auto-unsubscribe limit (an empty
    /// `queue` is none: queue names are never empty).
    ///
    /// Panics when the filter and the id together are 4 GiB or more (a
    /// control line is far shorter).
    pub fn new(
        conn: ConnId,
        sid: &[u8],
        filter: Filter,
        queue: Option<&[u8]>,
        headers: bool,
    ) -> Self {
        let filter = filter.as_bytes();
        let queue = queue.unwrap_or_default();
        let mut text = Vec::with_capacity(filter.len() + sid.len() + queue.len());
        text.extend_from_slice(filter);
        text.extend_from_slice(sid);
        let at = |n: usize| u32::try_from(n).expect("subscription text under 4 GiB");
        let (sid_at, queue_at) = (at(filter.len()), at(text.len()));
        text.extend_from_slice(queue);
        Subscription {
            target: None,
            conn,
            text: text.into_boxed_slice(),
            headers,
            max_msgs: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            remote_weight: AtomicU32::new(0),
            sid_at,
            queue_at,
        }
    }

    /// The subject filter (may hold `*` and `>` wildcards): the bytes of
    /// a valid [`Filter`].
    #[inline]
    pub fn filter(&self) -> &[u8] {
        &self.text[..self.sid_at as usize]
    }

    /// The subscription id chosen by the client (opaque bytes).
    #[inline]
    pub fn sid(&self) -> &[u8] {
        &self.text[self.sid_at as usize..self.queue_at as usize]
    }

    /// The queue group, if any.
    #[inline]
    pub fn queue(&self) -> Option<&[u8]> {
        let q = &self.text[self.queue_at as usize..];
        (!q.is_empty()).then_some(q)
    }

    /// Whether a message published to `subject` is delivered to this
    /// subscription's filter ([`Filter::matches`]). Does not allocate.
    pub fn matches(&self, subject: &[u8]) -> bool {
        crate::subject::matches_valid(self.filter(), subject)
    }

    /// Marks a queue subscription as a remote member standing for `weight`
    /// members (at least 1): a leafnode peer's interest (`LS+ <subject>
    /// <queue> <weight>`, spec `leafnode.md` §4.2). See [`select`].
    #[must_use]
    pub fn with_remote_weight(self, weight: u32) -> Self {
        self.remote_weight.store(weight.max(1), Ordering::Relaxed);
        self
    }

    /// 0 for a local member, else the weight of a remote one.
    pub fn remote_weight(&self) -> u32 {
        self.remote_weight.load(Ordering::Relaxed)
    }

    /// Updates the weight of a remote member (a repeated `LS+` with a new
    /// weight, at least 1); no effect on a local member.
    pub fn set_remote_weight(&self, weight: u32) {
        let _ = self
            .remote_weight
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |w| {
                (w > 0).then_some(weight.max(1))
            });
    }

    /// Attaches the server's delivery target.
    #[must_use]
    pub fn with_target(mut self, target: Option<T>) -> Self {
        self.target = target;
        self
    }

    /// Messages delivered to this subscription so far.
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// The auto-unsubscribe limit (0 = none).
    pub fn max_msgs(&self) -> u64 {
        self.max_msgs.load(Ordering::Relaxed)
    }

    /// Sets the auto-unsubscribe limit. The caller has checked that `n` is
    /// greater than [`Subscription::delivered`] (spec §1.2 UNSUB).
    pub fn set_max_msgs(&self, n: u64) {
        self.max_msgs.store(n, Ordering::Relaxed);
    }

    /// Whether the subscription was unsubscribed, reached its limit, or its
    /// connection closed.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Marks the subscription closed; later claims return [`Claim::Skip`].
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    /// Claims one delivery, counting it against `max_msgs`. Thread-safe: of
    /// concurrent claims on a subscription with `max_msgs = n`, exactly `n`
    /// succeed and exactly one of them is [`Claim::DeliverLast`].
    pub fn claim(&self) -> Claim {
        if self.is_closed() {
            return Claim::Skip;
        }
        let max = self.max_msgs();
        if max == 0 {
            self.delivered.fetch_add(1, Ordering::Relaxed);
            return Claim::Deliver;
        }
        let n = self.delivered.fetch_add(1, Ordering::AcqRel) + 1;
        match n.cmp(&max) {
            core::cmp::Ordering::Less => Claim::Deliver,
            core::cmp::Ordering::Equal => {
                self.close();
                Claim::DeliverLast
            }
            core::cmp::Ordering::Greater => {
                // Undo the over-count so `delivered` reports what went out.
                self.delivered.fetch_sub(1, Ordering::AcqRel);
                Claim::Skip
            }
        }
    }
}

/// A shared handle on a [`Subscription`]. Equality is identity (pointer
/// equality), so two `SUB`s with the same subject are two subscriptions.
#[derive(Debug)]
pub struct SubRef<T = ()>(pub Arc<Subscription<T>>);

impl<T> SubRef<T> {
    /// Wraps a new subscription.
    pub fn new(sub: Subscription<T>) -> Self {
        SubRef(Arc::new(sub))
    }
}

impl<T> Clone for SubRef<T> {
    fn clone(&self) -> Self {
        SubRef(self.0.clone())
    }
}

impl<T> PartialEq for SubRef<T> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl<T> Eq for SubRef<T> {}

impl<T> Deref for SubRef<T> {
    type Target = Subscription<T>;
    fn deref(&self) -> &Subscription<T> {
        &self.0
    }
}

/// The subject space of one account: a [`Sublist`] of [`SubRef`]s.
pub struct Router<T = ()> {
    sublist: Sublist<SubRef<T>>,
}

impl<T> Default for Router<T> {
    fn default() -> Self {
        Router::new()
    }
}

impl<T> fmt::Debug for Router<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Router")
            .field("subscriptions", &self.sublist.len())
            .finish()
    }
}

impl<T> Router<T> {
    /// An empty subject space.
    pub fn new() -> Self {
        Router {
            sublist: Sublist::new(),
        }
    }

    /// Adds a subscription.
    pub fn insert(&mut self, sub: &SubRef<T>) {
        self.sublist
            .insert_valid(sub.filter(), sub.queue(), sub.clone());
    }

    /// Removes a subscription; `false` when it was not there (already
    /// removed, for example by reaching its auto-unsubscribe limit).
    pub fn remove(&mut self, sub: &SubRef<T>) -> bool {
        self.sublist.remove_valid(sub.filter(), sub.queue(), sub)
    }

    /// The subscriptions whose filter matches `subject` (cached by the
    /// sublist until the next insert or remove).
    pub fn matches(&mut self, subject: &[u8]) -> Arc<SublistResult<SubRef<T>>> {
        self.sublist.match_subject(subject)
    }

    /// Number of subscriptions held.
    pub fn len(&self) -> usize {
        self.sublist.len()
    }

    /// Whether no subscription is held.
    pub fn is_empty(&self) -> bool {
        self.sublist.len() == 0
    }

    /// The sublist, for monitoring (`/subsz`).
    pub fn sublist(&self) -> &Sublist<SubRef<T>> {
        &self.sublist
    }
}

/// Picks the receivers of one publish from a match result and calls
/// `deliver(sub, last)` for each, in order: plain subscriptions first, then
/// one member per queue group. `last` is true when the delivery reached the
/// subscription's auto-unsubscribe limit; the caller must then remove it from
/// the router. `rand(n)` returns a number in `0..n` (the queue start index).
/// Returns the number of deliveries made. With `echo` false the origin's
/// own subscriptions are skipped.
///
/// Source rule: spec `nats-protocol.md` §2.2 (plain: every match; queue: one
/// member per group, random start, walk until one accepts; echo). Remote
/// members ([`Subscription::with_remote_weight`]) are used only when no
/// local member accepts, and then one is chosen with a probability
/// proportional to its weight (nats-server `processMsgResults` over the
/// sublist's weight-shadowed members: local queue subscribers first, a
/// leaf's `qw` copies otherwise).
pub fn select<T>(
    result: &SublistResult<SubRef<T>>,
    origin: Origin,
    echo: bool,
    rand: &mut impl FnMut(u32) -> u32,
    mut deliver: impl FnMut(&SubRef<T>, bool),
) -> usize {
    let mut count = 0;
    for sub in &result.plain {
        if !echo && origin.owns(sub) {
            continue;
        }
        match sub.claim() {
            Claim::Deliver => deliver(sub, false),
            Claim::DeliverLast => deliver(sub, true),
            Claim::Skip => continue,
        }
        count += 1;
    }
    for group in &result.queues {
        let n = group.members.len();
        if n == 0 {
            continue;
        }
        let start = if n == 1 {
            0
        } else {
            rand(u32::try_from(n).unwrap_or(u32::MAX)) as usize % n
        };
        let eligible = |sub: &SubRef<T>| (echo || !origin.owns(sub)) && !sub.is_closed();
        let mut remote_total: u64 = 0;
        let mut done = false;
        for i in 0..n {
            let sub = &group.members[(start + i) % n];
            if !echo && origin.owns(sub) {
                continue;
            }
            let w = sub.remote_weight();
            if w > 0 {
                if eligible(sub) {
                    remote_total += u64::from(w);
                }
                continue;
            }
            match sub.claim() {
                Claim::Deliver => deliver(sub, false),
                Claim::DeliverLast => deliver(sub, true),
                Claim::Skip => continue,
            }
            count += 1;
            done = true;
            break;
        }
        if done || remote_total == 0 {
            continue;
        }
        // A remote member: the one whose weight range holds a random point,
        // then onwards if it cannot take the message.
        let point = if remote_total == 1 {
            0
        } else {
            u64::from(rand(u32::try_from(remote_total).unwrap_or(u32::MAX))) % remote_total
        };
        let mut first = 0;
        let mut acc: u64 = 0;
        for (i, sub) in group.members.iter().enumerate() {
            let w = sub.remote_weight();
            if w == 0 || !eligible(sub) {
                continue;
            }
            acc += u64::from(w);
            if acc > point {
                first = i;
                break;
            }
        }
        for i in 0..n {
            let sub = &group.members[(first + i) % n];
            if sub.remote_weight() == 0 || !eligible(sub) {
                continue;
            }
            match sub.claim() {
                Claim::Deliver => deliver(sub, false),
                Claim::DeliverLast => deliver(sub, true),
                Claim::Skip => continue,
            }
            count += 1;
            break;
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn sub(conn: ConnId, sid: &str, filter: &str, queue: Option<&str>) -> SubRef {
        SubRef::new(Subscription::new(
            conn,
            sid.as_bytes(),
            Filter::try_from(filter).unwrap(),
            queue.map(str::as_bytes),
            true,
        ))
    }

    fn receivers(
        router: &mut Router,
        subject: &str,
        publisher: ConnId,
        echo: bool,
        seed: u32,
    ) -> Vec<(ConnId, Vec<u8>, bool)> {
        let res = router.matches(subject.as_bytes());
        let mut out = vec![];
        let mut r = |n: u32| seed % n;
        select(&res, Origin::Conn(publisher), echo, &mut r, |s, last| {
            out.push((s.conn, s.sid().to_vec(), last))
        });
        out.sort();
        out
    }

    #[test]
    fn plain_subscriptions_each_get_a_copy() {
        let mut r = Router::new();
        r.insert(&sub(1, "1", "foo.*", None));
        r.insert(&sub(1, "2", "foo.bar", None));
        r.insert(&sub(2, "1", ">", None));
        r.insert(&sub(3, "1", "foo.baz", None));
        let got = receivers(&mut r, "foo.bar", 9, true, 0);
        assert_eq!(
            got,
            vec![
                (1, b"1".to_vec(), false),
                (1, b"2".to_vec(), false),
                (2, b"1".to_vec(), false)
            ]
        );
    }

    #[test]
    fn one_member_per_queue_group_across_filters() {
        let mut r = Router::new();
        r.insert(&sub(1, "1", "foo.*", Some("q")));
        r.insert(&sub(2, "1", "foo.bar", Some("q")));
        r.insert(&sub(3, "1", "foo.bar", Some("other")));
        for seed in 0..4 {
            let got = receivers(&mut r, "foo.bar", 9, true, seed);
            assert_eq!(got.len(), 2, "seed {seed}: {got:?}");
            assert!(got.iter().any(|g| g.0 == 3));
        }
        // The random start spreads deliveries over both members of q.
        let firsts: Vec<_> = (0..2)
            .map(|seed| {
                receivers(&mut r, "foo.bar", 9, true, seed)
                    .into_iter()
                    .find(|g| g.0 != 3)
                    .unwrap()
                    .0
            })
            .collect();
        assert_ne!(firsts[0], firsts[1]);
    }

    #[test]
    fn echo_off_skips_own_plain_and_queue_members() {
        let mut r = Router::new();
        r.insert(&sub(1, "1", "foo", None));
        r.insert(&sub(1, "2", "foo", Some("q")));
        r.insert(&sub(2, "1", "foo", Some("q")));
        for seed in 0..2 {
            let got = receivers(&mut r, "foo", 1, false, seed);
            assert_eq!(got, vec![(2, b"1".to_vec(), false)]);
        }
        let got = receivers(&mut r, "foo", 1, true, 0);
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn auto_unsubscribe_delivers_exactly_max_and_flags_last() {
        let mut r = Router::new();
        let s = sub(1, "1", "foo", None);
        r.insert(&s);
        s.set_max_msgs(2);
        assert_eq!(
            receivers(&mut r, "foo", 9, true, 0),
            vec![(1, b"1".to_vec(), false)]
        );
        assert_eq!(
            receivers(&mut r, "foo", 9, true, 0),
            vec![(1, b"1".to_vec(), true)]
        );
        assert!(s.is_closed());
        assert_eq!(s.delivered(), 2);
        // Even before removal, a closed subscription gets nothing more.
        assert_eq!(receivers(&mut r, "foo", 9, true, 0), vec![]);
        assert!(r.remove(&s));
        assert!(!r.remove(&s));
        assert!(r.is_empty());
    }

    fn remote(conn: ConnId, weight: u32) -> SubRef {
        SubRef::new(
            Subscription::new(
                conn,
                b"r",
                Filter::try_from("foo").unwrap(),
                Some(b"q"),
                true,
            )
            .with_remote_weight(weight),
        )
    }

    #[test]
    fn a_local_queue_member_is_preferred_to_remote_ones() {
        let mut r = Router::new();
        r.insert(&remote(5, 3));
        r.insert(&sub(1, "1", "foo", Some("q")));
        r.insert(&remote(6, 1));
        for seed in 0..8 {
            assert_eq!(
                receivers(&mut r, "foo", 9, true, seed),
                vec![(1, b"1".to_vec(), false)],
                "seed {seed}"
            );
        }
        // The local member cannot take it (echo off for its own
        // connection): a remote one does.
        let got = receivers(&mut r, "foo", 1, false, 0);
        assert_eq!(got.len(), 1);
        assert!(got[0].0 == 5 || got[0].0 == 6, "{got:?}");
    }

    #[test]
    fn remote_members_are_chosen_in_proportion_to_their_weights() {
        let mut r = Router::new();
        let heavy = remote(5, 3);
        let light = remote(6, 1);
        r.insert(&light);
        r.insert(&heavy);
        // Every point of the weight range 0..4: three land on the weight-3
        // member, one on the weight-1 member.
        let mut hits = [0u32; 2];
        for seed in 0..4u32 {
            let res = r.matches(b"foo");
            let mut n = 0;
            let mut rand = |m: u32| {
                n += 1;
                // The first draw is the start index, the second the point.
                if n == 1 {
                    0
                } else {
                    seed % m
                }
            };
            select(&res, Origin::Conn(9), true, &mut rand, |s, _| {
                hits[usize::from(s.conn == 5)] += 1;
            });
        }
        assert_eq!(hits, [1, 3]);
        // A weight update moves the split; a closed member weighs nothing.
        heavy.set_remote_weight(1);
        assert_eq!(heavy.remote_weight(), 1);
        light.close();
        for seed in 0..4 {
            assert_eq!(receivers(&mut r, "foo", 9, true, seed).len(), 1);
            assert_eq!(receivers(&mut r, "foo", 9, true, seed)[0].0, 5);
        }
        // A local subscription's weight cannot be set.
        let local = sub(1, "1", "foo", Some("q"));
        local.set_remote_weight(4);
        assert_eq!(local.remote_weight(), 0);
        // Echo off for the origin leaf: its own remote member is skipped.
        assert_eq!(receivers(&mut r, "foo", 5, false, 0), vec![]);
    }

    /// Issue #17: a subscription is one allocation for its texts and an
    /// `Arc` of a 72-byte value with a server's 16-byte target (the
    /// server's `Sink`): 88 bytes with the counts, a 96-byte heap chunk.
    /// Was 104 bytes (a 128-byte chunk) and three allocations with a
    /// queue.
    #[test]
    fn subscription_footprint() {
        use core::mem::size_of;
        // A 16-byte target with a niche, as the server's.
        type Target = Box<[u8]>;
        assert_eq!(size_of::<Option<Target>>(), 16);
        let n = size_of::<Subscription<Target>>();
        assert!(n <= 72, "Subscription is {n} bytes");
        assert!(size_of::<Subscription>() <= 56);
        let s = sub(1, "22", "foo.*", Some("q"));
        assert_eq!(
            (s.filter(), s.sid(), s.queue()),
            (&b"foo.*"[..], &b"22"[..], Some(&b"q"[..]))
        );
        let s = sub(1, "", "foo", None);
        assert_eq!(
            (s.filter(), s.sid(), s.queue()),
            (&b"foo"[..], &b""[..], None)
        );
        assert!(s.matches(b"foo") && !s.matches(b"foo.bar"));
        assert_eq!(sub(1, "1", ">", Some("")).queue(), None);
    }

    #[test]
    fn exhausted_queue_member_is_skipped_for_the_next() {
        let mut r = Router::new();
        let a = sub(1, "1", "foo", Some("q"));
        let b = sub(2, "1", "foo", Some("q"));
        r.insert(&a);
        r.insert(&b);
        a.close();
        for seed in 0..2 {
            assert_eq!(
                receivers(&mut r, "foo", 9, true, seed),
                vec![(2, b"1".to_vec(), false)]
            );
        }
    }
}
