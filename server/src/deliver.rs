//! The delivery engine: publish into an account from any origin (a
//! connection's read turn, or an internal publisher with no socket), and
//! add or remove subscriptions.
//!
//! One publish: match in the account's router (cached), pick the receivers
//! (`router::select`: every plain subscription, one member per queue group,
//! `echo`, auto-unsubscribe), then for each receiver's [`Sink`]:
//! - a connection: delivery-time permissions (subscribe deny, response
//!   permissions), then the MSG/HMSG rendered into its outbox under its own
//!   lock, unless the outbox is over the kind's `max_pending` (the
//!   connection is marked a slow consumer instead); above three quarters of
//!   it the publisher's reads pause ([`Turn::stall`]); the connection is
//!   queued for a flush once (its `dirty` flag) on its own loop, and another
//!   loop is woken once per turn;
//! - the origin's own subscriptions (echo) go to `self_out`, so they keep
//!   their order with the origin's own replies;
//! - an internal handler is called at once.
//!
//! Subscriptions that reached their auto-unsubscribe limit are removed from
//! their router after the turn ([`Turn::remove_exhausted`]), never while the
//! router is locked for the match.
//!
//! Source rules: spec `nats-protocol.md` §2.2 (routing), §1.7 (slow
//! consumers); nats-server `processMsgResults` / `deliverMsg`.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use natsws_core::proto::leaf::{encode_lmsg, Queues};
use natsws_core::router::{self, Message, Origin, SubRef};
use natsws_core::session::encode_delivery;

use crate::account::Account;
use crate::kind::ConnKind;
use crate::settings::Settings;
use crate::shared::Shared;
use crate::sink::{ConnShared, Sink};

/// One event loop's scratch state for a turn: the connections it made dirty,
/// the loops to wake, exhausted subscriptions, the queue-member choice, and
/// whether the publisher must pause.
pub(crate) struct Turn {
    /// This loop's index.
    pub idx: usize,
    /// Connections of this loop made dirty during this turn.
    pub local_dirty: Vec<Arc<ConnShared>>,
    /// Which other loops to wake at the end of this turn.
    pub wake: Vec<bool>,
    /// Queue-member choice.
    pub rng: fastrand::Rng,
    /// Subscriptions that reached their auto-unsubscribe limit.
    pub removed: Vec<(Arc<Account>, SubRef<Sink>)>,
    /// Set during a turn when a delivery found its target's queue above
    /// three quarters of `max_pending`: the publisher's reads then pause.
    pub stall: bool,
    /// The settings this loop works with, taken again when a reload swaps
    /// them ([`Turn::refresh`]).
    pub settings: Arc<Settings>,
    /// The leaf-link deliveries of the current publish, rendered after
    /// the queue choice as one LMSG per link ([`render_leaf`]).
    pub leaf_pending: Vec<SubRef<Sink>>,
    /// Scratch buffers of this loop's MQTT connections.
    pub mqtt: crate::mqtt::Scratch,
    /// Their generation ([`crate::settings::SettingsHolder::generation`]).
    settings_gen: u64,
    /// Per kind ([`ConnKind::index`]): `max_pending`, and the three quarters
    /// of it above which the publisher stalls; derived from `settings`.
    limits: [(usize, usize); ConnKind::ALL.len()],
}

/// [`Turn::limits`] for `settings`.
fn limits_of(settings: &Settings) -> [(usize, usize); ConnKind::ALL.len()] {
    ConnKind::ALL.map(|k| {
        let max = settings.max_pending_for(k);
        (max, max / 4 * 3)
    })
}

impl Turn {
    /// The turn state of loop `idx` of the server's loops.
    pub(crate) fn new(idx: usize, shared: &Shared) -> Turn {
        let settings = shared.settings();
        Turn {
            idx,
            local_dirty: Vec::new(),
            wake: vec![false; shared.loops.len()],
            rng: fastrand::Rng::new(),
            removed: Vec::new(),
            stall: false,
            leaf_pending: Vec::new(),
            mqtt: Default::default(),
            limits: limits_of(&settings),
            settings,
            settings_gen: shared.settings_holder.generation(),
        }
    }

    /// At the start of a turn: takes the settings again if a reload swapped
    /// them (one atomic load when it did not); returns the settings replaced,
    /// so that the loop can re-evaluate its connections.
    pub(crate) fn refresh(&mut self, shared: &Shared) -> Option<Arc<Settings>> {
        let gen = shared.settings_holder.generation();
        if gen == self.settings_gen {
            return None;
        }
        let old = std::mem::replace(&mut self.settings, shared.settings());
        self.limits = limits_of(&self.settings);
        self.settings_gen = gen;
        Some(old)
    }

    /// Removes the subscriptions that reached their auto-unsubscribe limit
    /// during this turn from their routers.
    pub(crate) fn remove_exhausted(&mut self) {
        for (acc, s) in self.removed.drain(..) {
            acc.router.lock().expect("router").remove(&s);
        }
    }

    /// [`mark_dirty`] with this turn's loop index, dirty list and wake-ups.
    fn mark_dirty(&mut self, shared: &Shared, target: &Arc<ConnShared>) {
        let _ = mark_dirty(
            shared,
            self.idx,
            &mut self.local_dirty,
            &mut self.wake,
            target,
        );
    }

    /// Appends NATS bytes to a connection of this loop's outbox and queues
    /// it for this turn's flush (once: the `dirty` flag).
    pub(crate) fn queue_out(&mut self, cs: &Arc<ConnShared>, bytes: &[u8]) {
        cs.out.lock().expect("out").buf.extend_from_slice(bytes);
        if !cs.dirty.swap(true, Ordering::AcqRel) {
            self.local_dirty.push(cs.clone());
        }
    }
}

/// Queues `target` for a flush on its loop, once: on loop `idx`'s dirty
/// list when it is this loop's, else on its own loop's inbox with a wake at
/// the end of the turn. Returns whether this call queued it.
fn mark_dirty(
    shared: &Shared,
    idx: usize,
    local_dirty: &mut Vec<Arc<ConnShared>>,
    wake: &mut [bool],
    target: &Arc<ConnShared>,
) -> bool {
    // Read first: the flag lives on a line the target's loop also writes,
    // so skip the read-modify-write when already dirty.
    if target.dirty.load(Ordering::Acquire) || target.dirty.swap(true, Ordering::AcqRel) {
        return false;
    }
    if target.loop_idx() == idx {
        local_dirty.push(target.clone());
    } else {
        shared.loops[target.loop_idx()]
            .inbox
            .lock()
            .expect("inbox")
            .push(target.clone());
        wake[target.loop_idx()] = true;
    }
    true
}

/// [`mark_dirty`] for a delivery: the first one queued for a flush is
/// activity of the target (nats-server `flushClients` sets `last` of each
/// client it flushes for a publisher): one clock read and one store per
/// flush, not per message.
fn mark_delivered(
    shared: &Shared,
    idx: usize,
    local_dirty: &mut Vec<Arc<ConnShared>>,
    wake: &mut [bool],
    target: &Arc<ConnShared>,
) {
    if mark_dirty(shared, idx, local_dirty, wake, target) {
        // 0 stands for "none since the accept".
        let now = shared.now().0.max(1);
        target.last_activity.store(now, Ordering::Relaxed);
    }
}

/// Whether `msg` is larger than the leafnode peer's `max_payload`: then
/// it is not sent, with a warning naming the subject (nats-server sends
/// it and the peer closes the link, leafnode.md §4.1, §9).
fn over_peer_max(target: &ConnShared, msg: &Message<'_>, size: u64) -> bool {
    let max = target.peer_max_payload.load(Ordering::Relaxed);
    if max == 0 || size <= u64::from(max) {
        return false;
    }
    crate::warn!(
        "{} - {}:{} - Not sending a message on \"{}\" to the leafnode: {size} bytes is over its max_payload of {max}",
        target.log_peer(),
        target.kind.label(),
        target.cid,
        String::from_utf8_lossy(msg.subject)
    );
    true
}

/// Adds a subscription from outside a connection's read turn (internal
/// subscribers, MQTT sessions, the monitor): as [`interest`], and the
/// leafnode links told are woken at once rather than at a turn's end.
pub(crate) fn subscribe(shared: &Shared, acc: &Account, sub: &SubRef<Sink>) {
    let mut router = acc.router.lock().expect("router");
    router.insert(sub);
    if acc.leafs.active() {
        acc.leafs.changed(sub, true, |c| wake_now(shared, c));
    }
}

/// Removes a subscription from its account (see [`subscribe`]).
pub(crate) fn unsubscribe(shared: &Shared, acc: &Account, sub: &SubRef<Sink>) {
    let mut router = acc.router.lock().expect("router");
    if router.remove(sub) && acc.leafs.active() {
        acc.leafs.changed(sub, false, |c| wake_now(shared, c));
    }
}

/// [`mark_dirty`] outside a turn: the target's loop is woken now.
fn wake_now(shared: &Shared, target: &Arc<ConnShared>) {
    if target.dirty.load(Ordering::Acquire) || target.dirty.swap(true, Ordering::AcqRel) {
        return;
    }
    let l = &shared.loops[target.loop_idx()];
    l.inbox.lock().expect("inbox").push(target.clone());
    let _ = l.waker.wake();
}

/// Adds (`added`) or removes a subscription from a connection's turn: as
/// [`subscribe`]/[`unsubscribe`], and the account's leafnode links are
/// told (`LS+`/`LS-`, [`crate::leaf_interest`]) under the same router lock.
/// Returns whether the router changed.
pub(crate) fn interest(
    shared: &Shared,
    turn: &mut Turn,
    acc: &Account,
    sub: &SubRef<Sink>,
    added: bool,
) -> bool {
    let mut router = acc.router.lock().expect("router");
    let changed = if added {
        router.insert(sub);
        true
    } else {
        router.remove(sub)
    };
    if changed && acc.leafs.active() {
        acc.leafs
            .changed(sub, added, |c| turn.mark_dirty(shared, c));
    }
    changed
}

/// A leafnode peer's queue interest `sub` now weighs `weight` (a repeated
/// `LS+ <subject> <queue> <weight>`, spec `leafnode.md` §4.2): queue
/// member selection uses it at once, and the account's other links are
/// told the new total (nats-server `processLeafSub` on an existing sub).
pub(crate) fn reweigh(
    shared: &Shared,
    turn: &mut Turn,
    acc: &Account,
    sub: &SubRef<Sink>,
    weight: u32,
) {
    let _router = acc.router.lock().expect("router");
    let old = sub.remote_weight();
    sub.set_remote_weight(weight);
    if acc.leafs.active() {
        acc.leafs
            .reweighed(sub, old, |c| turn.mark_dirty(shared, c));
    }
}

/// What one publish did: receivers reached, and the payload bytes of one
/// copy (for the out counters).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Published {
    /// Subscriptions that received the message.
    pub deliveries: usize,
    /// Header plus payload bytes of the message.
    pub size: u64,
}

/// Publishes `msg` into `acc` from `origin` (see the module docs). The
/// origin's own subscriptions receive it only with `echo`, in `self_out`.
pub(crate) fn publish(
    shared: &Shared,
    acc: &Arc<Account>,
    origin: Origin,
    echo: bool,
    msg: &Message<'_>,
    turn: &mut Turn,
    self_out: &mut Vec<u8>,
) -> Published {
    publish_to_queues(shared, acc, origin, echo, msg, turn, self_out, None, None)
}

/// [`publish`], with `queues` from a leafnode message (spec leafnode.md
/// §4.3): `Some`: queue subscribers receive it only in the groups named
/// (none for an untargeted `LMSG`); `None`: every group, as for a client.
/// `shown`: the message as subscribers see it when it differs from the
/// one routed (a JetStream `…@<subject>` reply split, §4.4): routed on
/// `msg.subject`, delivered with `shown`'s subject and reply.
#[allow(clippy::too_many_arguments)]
pub(crate) fn publish_to_queues(
    shared: &Shared,
    acc: &Arc<Account>,
    origin: Origin,
    echo: bool,
    msg: &Message<'_>,
    turn: &mut Turn,
    self_out: &mut Vec<u8>,
    queues: Option<Queues<'_>>,
    shown: Option<&Message<'_>>,
) -> Published {
    let size = (msg.payload.len() + msg.headers.map_or(0, <[u8]>::len)) as u64;
    if acc.has_links() {
        // Exports, imports, mappings: each account on the way is a local
        // publish (crate::imports).
        // The leaf view (queue filter, `shown`) applies to the message as
        // it arrived, not to the copies an import or mapping makes.
        let deliveries = crate::imports::route(
            shared.now(),
            acc,
            origin,
            echo,
            msg,
            &|cid| shared.conns.lock().ok()?.get(&cid).cloned(),
            &mut |a, o, e, m| {
                let arrived = core::ptr::eq(m, msg);
                let view = LeafView {
                    queues: if arrived { queues } else { None },
                    shown: if arrived { shown } else { None },
                };
                publish_local(shared, a, o, e, m, size, turn, self_out, view)
            },
        );
        return Published { deliveries, size };
    }
    let view = LeafView { queues, shown };
    let deliveries = publish_local(shared, acc, origin, echo, msg, size, turn, self_out, view);
    Published { deliveries, size }
}

/// How a message that came from a leafnode is seen (see
/// [`publish_to_queues`]): `None`s for any other origin.
#[derive(Clone, Copy)]
struct LeafView<'q, 'm> {
    queues: Option<Queues<'q>>,
    shown: Option<&'m Message<'m>>,
}

/// [`publish`] into one account, without its links.
#[allow(clippy::too_many_arguments)]
fn publish_local(
    shared: &Shared,
    acc: &Arc<Account>,
    origin: Origin,
    echo: bool,
    msg: &Message<'_>,
    size: u64,
    turn: &mut Turn,
    self_out: &mut Vec<u8>,
    view: LeafView<'_, '_>,
) -> usize {
    let LeafView { queues, shown } = view;
    let result = acc.router.lock().expect("router").matches(msg.subject);
    // Leaf links get the message as routed (the next hop splits it).
    let routed = msg;
    let msg = shown.unwrap_or(msg);
    if result.plain.is_empty() && result.queues.is_empty() {
        return 0;
    }
    let Turn {
        idx,
        local_dirty,
        wake,
        rng,
        removed,
        stall,
        limits,
        leaf_pending,
        ..
    } = turn;
    let mut rand = |n: u32| rng.u32(0..n);
    leaf_pending.clear();
    let deliveries = router::select(&result, origin, echo, &mut rand, |sub, last| {
        if let (Some(q), Some(f)) = (sub.queue(), queues) {
            if !f.contains(q) {
                return;
            }
        }
        if last {
            removed.push((acc.clone(), sub.clone()));
        }
        let own = origin == Origin::Conn(sub.conn);
        let target = match &sub.target {
            Some(Sink::Conn(c)) => c,
            Some(Sink::Internal(h)) => return h.deliver_from(origin, sub, msg),
            Some(Sink::Numbered(n)) => {
                if let Some(c) = n.push(sub, msg) {
                    c.out_msgs.fetch_add(1, Ordering::Relaxed);
                    c.out_bytes.fetch_add(size, Ordering::Relaxed);
                    mark_delivered(shared, *idx, local_dirty, wake, &c);
                }
                return;
            }
            None => {
                if own {
                    encode_delivery(sub, msg, self_out);
                }
                return;
            }
        };
        if !target.may_deliver(msg.subject, msg.reply, || shared.now()) {
            return;
        }
        if own {
            encode_delivery(sub, msg, self_out);
            return;
        }
        let leaf = target.kind.is_leaf();
        if leaf && over_peer_max(target, msg, size) {
            return;
        }
        if leaf {
            // Rendered below, once per link (spec leafnode.md §4.3).
            leaf_pending.push(sub.clone());
            return;
        }
        {
            let (max_pending, stall_at) = limits[target.kind.index()];
            let mut ob = target.out.lock().expect("out");
            if ob.buf.len() > max_pending {
                drop(ob);
                target.mark_slow();
            } else {
                encode_delivery(sub, msg, &mut ob.buf);
                if ob.buf.len() > stall_at {
                    *stall = true;
                }
            }
        }
        target.out_msgs.fetch_add(1, Ordering::Relaxed);
        target.out_bytes.fetch_add(size, Ordering::Relaxed);
        mark_delivered(shared, *idx, local_dirty, wake, target);
    });
    if !leaf_pending.is_empty() {
        let out = LeafOut {
            subject: routed.subject,
            reply: routed.reply,
            headers: msg.headers,
            payload: msg.payload,
            size,
        };
        render_leaf(shared, turn, &out);
    }
    deliveries
}

/// One message as rendered to leaf links.
struct LeafOut<'m> {
    subject: &'m [u8],
    reply: Option<&'m [u8]>,
    headers: Option<&'m [u8]>,
    payload: &'m [u8],
    size: u64,
}

/// Renders the leaf deliveries of one publish ([`Turn::leaf_pending`]):
/// one LMSG per link, naming every queue group a member of that link was
/// chosen for, so the peer delivers it to its plain subscribers and those
/// groups (nats-server `processMsgResults` collects a leaf's queue names
/// into its one delivery; an untargeted LMSG is for no group).
fn render_leaf(shared: &Shared, turn: &mut Turn, m: &LeafOut<'_>) {
    let Turn {
        idx,
        local_dirty,
        wake,
        stall,
        limits,
        leaf_pending,
        ..
    } = turn;
    let pending: &[SubRef<Sink>] = leaf_pending;
    fn conn_of(s: &SubRef<Sink>) -> Option<&Arc<ConnShared>> {
        match &s.target {
            Some(Sink::Conn(c)) => Some(c),
            _ => None,
        }
    }
    for (i, sub) in pending.iter().enumerate() {
        let Some(target) = conn_of(sub) else { continue };
        let same = |s: &SubRef<Sink>| conn_of(s).is_some_and(|c| c.cid == target.cid);
        if pending[..i].iter().any(same) {
            continue;
        }
        // The queue names: none, one (the common case, no allocation) or
        // several.
        let mut one: Option<&[u8]> = None;
        let mut many: Vec<&[u8]> = Vec::new();
        for q in pending[i..]
            .iter()
            .filter(|s| same(s))
            .filter_map(|s| s.queue())
        {
            match one.take() {
                None if many.is_empty() => one = Some(q),
                first => {
                    many.extend(first);
                    many.push(q);
                }
            }
        }
        let qs: &[&[u8]] = match &one {
            Some(q) => core::slice::from_ref(q),
            None => &many,
        };
        {
            let (max_pending, stall_at) = limits[target.kind.index()];
            let mut ob = target.out.lock().expect("out");
            if ob.buf.len() > max_pending {
                drop(ob);
                target.mark_slow();
            } else {
                encode_lmsg(&mut ob.buf, m.subject, m.reply, qs, m.headers, m.payload);
                if ob.buf.len() > stall_at {
                    *stall = true;
                }
            }
        }
        target.out_msgs.fetch_add(1, Ordering::Relaxed);
        target.out_bytes.fetch_add(m.size, Ordering::Relaxed);
        mark_delivered(shared, *idx, local_dirty, wake, target);
    }
    leaf_pending.clear();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Settings;
    use crate::shared::Addrs;
    use crate::sink::Handler;
    use natsws_core::router::Subscription;
    use natsws_core::subject::Filter;
    use std::sync::Mutex;

    /// An internal subscriber that records what it was given.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<Delivery>>);

    /// (sid, subject, payload) of one delivery.
    type Delivery = (Vec<u8>, Vec<u8>, Vec<u8>);

    impl Handler for Recorder {
        fn deliver(&self, sub: &Subscription<Sink>, msg: &Message<'_>) {
            self.0.lock().unwrap().push((
                sub.sid().to_vec(),
                msg.subject.to_vec(),
                msg.payload.to_vec(),
            ));
        }
    }

    fn shared() -> Shared {
        let addr = "127.0.0.1:4222".parse().unwrap();
        Shared::new(
            Settings::default(),
            Vec::new(),
            Addrs {
                client: addr,
                ws: None,
                mqtt: None,
                http: None,
            },
            "NTEST".into(),
            "test".into(),
        )
    }

    fn sub(conn: u64, sid: &str, filter: &str, queue: Option<&str>, sink: Sink) -> SubRef<Sink> {
        SubRef::new(
            Subscription::new(
                conn,
                sid.as_bytes(),
                Filter::try_from(filter).unwrap(),
                queue.map(str::as_bytes),
                true,
            )
            .with_target(Some(sink)),
        )
    }

    /// Deliveries of `m` published from an internal origin.
    fn internal(shared: &Shared, acc: &Arc<Account>, m: &Message<'_>, turn: &mut Turn) -> usize {
        publish(
            shared,
            acc,
            Origin::Internal,
            false,
            m,
            turn,
            &mut Vec::new(),
        )
        .deliveries
    }

    fn msg<'a>(subject: &'a [u8], payload: &'a [u8]) -> Message<'a> {
        Message {
            subject,
            reply: None,
            headers: None,
            payload,
        }
    }

    #[test]
    fn internal_publisher_reaches_internal_and_connection_subscribers() {
        let shared = shared();
        let acc = shared.accounts.global().clone();
        let rec = Arc::new(Recorder::default());
        let conn = Arc::new(ConnShared::new(
            7,
            0,
            0,
            ConnKind::WEBSOCKET,
            "127.0.0.1:5000".parse().unwrap(),
        ));
        subscribe(
            &shared,
            &acc,
            &sub(0, "i1", "sys.>", None, Sink::Internal(rec.clone())),
        );
        subscribe(
            &shared,
            &acc,
            &sub(7, "c1", "sys.*", None, Sink::Conn(conn.clone())),
        );
        // A queue group of two internal members: exactly one gets each message.
        subscribe(
            &shared,
            &acc,
            &sub(0, "q1", "sys.a", Some("g"), Sink::Internal(rec.clone())),
        );
        subscribe(
            &shared,
            &acc,
            &sub(0, "q2", "sys.a", Some("g"), Sink::Internal(rec.clone())),
        );
        let mut turn = Turn::new(0, &shared);
        let mut self_out = Vec::new();
        let p = publish(
            &shared,
            &acc,
            Origin::Internal,
            false,
            &msg(b"sys.a", b"hi"),
            &mut turn,
            &mut self_out,
        );
        assert_eq!(
            p,
            Published {
                deliveries: 3,
                size: 2
            }
        );
        assert!(
            self_out.is_empty(),
            "an internal origin owns no subscription"
        );
        let got = std::mem::take(&mut *rec.0.lock().unwrap());
        assert_eq!(got.len(), 2);
        assert!(got.contains(&(b"i1".to_vec(), b"sys.a".to_vec(), b"hi".to_vec())));
        assert!(got.iter().any(|(sid, ..)| sid == b"q1" || sid == b"q2"));
        // The connection got its MSG rendered into its outbox and is queued
        // for this loop's flush.
        assert_eq!(conn.out.lock().unwrap().buf, b"MSG sys.a c1 2\r\nhi\r\n");
        assert_eq!(turn.local_dirty.len(), 1);
        assert_eq!(conn.out_msgs.load(Ordering::Relaxed), 1);
        // No match: nothing delivered.
        let p = publish(
            &shared,
            &acc,
            Origin::Internal,
            false,
            &msg(b"other", b"x"),
            &mut turn,
            &mut self_out,
        );
        assert_eq!(p.deliveries, 0);
    }

    #[test]
    fn connection_origin_gets_its_own_echo_in_self_out_only_with_echo() {
        let shared = shared();
        let acc = shared.accounts.global().clone();
        let me = Arc::new(ConnShared::new(
            3,
            0,
            0,
            ConnKind::CLIENT,
            "127.0.0.1:5001".parse().unwrap(),
        ));
        subscribe(
            &shared,
            &acc,
            &sub(3, "1", "foo", None, Sink::Conn(me.clone())),
        );
        let mut turn = Turn::new(0, &shared);
        let mut self_out = Vec::new();
        let m = msg(b"foo", b"x");
        assert_eq!(
            publish(
                &shared,
                &acc,
                Origin::Conn(3),
                false,
                &m,
                &mut turn,
                &mut self_out
            )
            .deliveries,
            0
        );
        assert_eq!(
            publish(
                &shared,
                &acc,
                Origin::Conn(3),
                true,
                &m,
                &mut turn,
                &mut self_out
            )
            .deliveries,
            1
        );
        assert_eq!(self_out, b"MSG foo 1 1\r\nx\r\n");
        assert!(me.out.lock().unwrap().buf.is_empty());
    }

    #[test]
    fn auto_unsubscribe_removes_after_the_turn() {
        let shared = shared();
        let acc = shared.accounts.global().clone();
        let rec = Arc::new(Recorder::default());
        let s = sub(0, "1", "foo", None, Sink::Internal(rec.clone()));
        s.set_max_msgs(1);
        subscribe(&shared, &acc, &s);
        let mut turn = Turn::new(0, &shared);
        let m = msg(b"foo", b"x");
        assert_eq!(internal(&shared, &acc, &m, &mut turn), 1);
        assert_eq!(acc.router.lock().unwrap().len(), 1);
        turn.remove_exhausted();
        assert!(acc.router.lock().unwrap().is_empty());
        assert_eq!(internal(&shared, &acc, &m, &mut turn), 0);
    }

    #[test]
    fn a_swapped_settings_reach_the_turn_at_its_next_refresh() {
        let shared = shared();
        let mut turn = Turn::new(0, &shared);
        let before = turn.settings.max_pending;
        turn.refresh(&shared);
        assert!(Arc::ptr_eq(&turn.settings, &shared.settings()));
        let old = shared.settings_holder.swap(Settings {
            max_pending: before / 2,
            ..Settings::default()
        });
        assert_eq!(old.max_pending, before);
        // Whoever took the old settings keeps them until it refreshes.
        assert_eq!(turn.settings.max_pending, before);
        turn.refresh(&shared);
        assert_eq!(turn.settings.max_pending, before / 2);
        assert_eq!(shared.settings_holder.generation(), 1);
    }
}
