//! The interest an account shows its leafnode links (spec `leafnode.md`
//! §3.8, §4.2): each link keeps a map `key → count` of what it has told
//! its peer (nats-server's `smap`), key = `subject` or `subject queue`.
//! Every subscription change in the account updates the map of every link
//! that may see it and renders `LS+`/`LS-` into the link's outbox:
//! a plain key sends `LS+` at 0 → 1 and `LS-` at 1 → 0; a queue key sends
//! `LS+ <subject> <queue> <weight>` on every change and `LS-` at 0.
//!
//! Which subscriptions a link sees: never its own; a subscription of
//! another leaf only when this side plays the hub on the link, or when this
//! server is the hub of that other leaf (daisy chains), and never on an
//! isolated link (spec §4.7, nats-server `isIsolatedLeafNode`: also the
//! other leafs' `$LDS.` subjects); local ones (clients, MQTT, internal
//! handlers, this account's `$LDS.`) always.
//!
//! Callers hold the account's router lock across a change and its
//! rendering (lock order: `router` → `LeafLinks::links` → `LeafLink::smap`
//! → `ConnShared::out`), so the interest dump of a new link and concurrent
//! changes never count a subscription twice.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use natsws_core::proto::leaf::{encode_ls_minus, encode_ls_plus};
use natsws_core::router::{Router, SubRef};

use crate::sink::{ConnShared, Sink};

/// One leafnode link of an account.
#[derive(Debug)]
pub struct LeafLink {
    /// The link's connection.
    pub conn: Arc<ConnShared>,
    /// Whether this side plays the hub on the link (accepted, or solicited
    /// with `hub: true`).
    pub hub: bool,
    /// Subject filters never advertised to the peer (`deny_imports`).
    pub deny_imports: Vec<natsws_core::subject::Filter>,
    /// What the peer has been told: key → count.
    smap: Mutex<HashMap<Box<[u8]>, u32>>,
    /// Accepting side with a bound user's permissions: only interest the
    /// leaf user may publish to is advertised (spec §3.8, §4.6;
    /// nats-server `canSubscribe` on the swapped permissions).
    interest: Option<crate::leaf_perms::Rules>,
    /// Interest isolation (spec §4.7): the interest of other leaf
    /// connections is never advertised on this link.
    isolated: bool,
}

impl LeafLink {
    /// A link with nothing advertised yet.
    pub fn new(
        conn: Arc<ConnShared>,
        hub: bool,
        deny_imports: Vec<natsws_core::subject::Filter>,
    ) -> LeafLink {
        LeafLink {
            conn,
            hub,
            deny_imports,
            smap: Mutex::new(HashMap::new()),
            interest: None,
            isolated: false,
        }
    }

    /// Isolates the link from the interest of other leaf connections
    /// (`leafnodes { isolate_leafnode_interest }`, a remote's
    /// `isolate_leafnode_interest`, or the peer's CONNECT `isolate`; spec
    /// §4.7). Set before [`LeafLinks::register`]; fixed for the link's life,
    /// as in nats-server.
    pub fn isolated(mut self, isolated: bool) -> LeafLink {
        self.isolated = isolated;
        self
    }

    /// Whether the link is isolated (`/leafz` `is_isolated`).
    pub fn is_isolated(&self) -> bool {
        self.isolated
    }

    /// Advertises only interest that `rules` let through
    /// ([`crate::leaf_perms::Rules::permits_interest`]); `None`: all.
    pub fn with_interest(mut self, rules: Option<crate::leaf_perms::Rules>) -> LeafLink {
        self.interest = rules;
        self
    }

    /// The number of keys advertised to the peer.
    pub fn advertised(&self) -> usize {
        self.smap.lock().expect("smap").len()
    }
}

/// The leaf links of one account, and its loop-detection subject.
#[derive(Debug, Default)]
pub struct LeafLinks {
    links: Mutex<Vec<Arc<LeafLink>>>,
    any: AtomicBool,
    lds: OnceLock<String>,
    /// The `$JS.API` hint was logged ([`js_hint`]).
    js_hinted: AtomicBool,
}

/// Whether `link` advertises `sub` (see the module docs).
fn sees(link: &LeafLink, links: &[Arc<LeafLink>], sub: &SubRef<Sink>) -> bool {
    if sub.conn == link.conn.cid {
        return false;
    }
    if link.deny_imports.iter().any(|d| d.matches(sub.filter())) {
        return false;
    }
    if let Some(r) = &link.interest {
        // Other links' loop-detection subjects always pass (nats-server
        // `updateLeafNodesEx` skips the check for `$LDS.`).
        let f = sub.filter();
        if !f.starts_with(b"$LDS.") && !r.permits_interest(f) {
            return false;
        }
    }
    match &sub.target {
        Some(Sink::Conn(c)) if c.kind.is_leaf() => {
            !link.isolated && (link.hub || links.iter().any(|l| l.conn.cid == c.cid && l.hub))
        }
        _ => true,
    }
}

/// Appends the key of `sub` (`subject` or `subject queue`) to `key`.
fn key_of(sub: &SubRef<Sink>, key: &mut Vec<u8>) {
    key.clear();
    key.extend_from_slice(sub.filter());
    if let Some(q) = sub.queue() {
        key.push(b' ');
        key.extend_from_slice(q);
    }
}

/// What `sub` counts for in a key: 1 for a plain subscription, its weight
/// for a queue one (a leaf's queue interest weighs what its `LS+` said,
/// a local member 1; nats-server counts `qw`, spec §3.8, §4.2).
fn weight(sub: &SubRef<Sink>) -> u32 {
    if sub.queue().is_some() {
        sub.remote_weight().max(1)
    } else {
        1
    }
}

/// Updates `smap` by `delta` for the key of `sub` and renders the op owed
/// to the peer into `out`, if any: a plain key `LS+` at 0 → n and `LS-`
/// at n → 0; a queue key `LS+ … <weight>` at every change, `LS-` at 0.
fn apply(smap: &mut HashMap<Box<[u8]>, u32>, sub: &SubRef<Sink>, delta: i64, out: &mut Vec<u8>) {
    let mut key = Vec::new();
    key_of(sub, &mut key);
    let subject = sub.filter();
    let queue = sub.queue();
    let old = smap.get(key.as_slice()).copied().unwrap_or(0);
    if old == 0 && delta <= 0 {
        return;
    }
    let n = u32::try_from((i64::from(old) + delta).max(0)).unwrap_or(u32::MAX);
    if n == old {
        return;
    }
    if n == 0 {
        smap.remove(key.as_slice());
    } else {
        smap.insert(key.into_boxed_slice(), n);
    }
    match (queue, n) {
        (None, 0) => encode_ls_minus(out, subject, None),
        (None, _) if old == 0 => encode_ls_plus(out, subject, None),
        (None, _) => {}
        (Some(q), 0) => encode_ls_minus(out, subject, Some(q)),
        (Some(q), w) => encode_ls_plus(out, subject, Some((q, w))),
    }
}

impl LeafLinks {
    /// Whether the account has any leaf link (one atomic load).
    pub fn active(&self) -> bool {
        self.any.load(Ordering::Acquire)
    }

    /// The account's loop-detection subject `$LDS.<nuid>`, made on first
    /// use (spec §4.5).
    pub fn lds(&self) -> &str {
        self.lds
            .get_or_init(|| format!("$LDS.{}", crate::auth::new_nonce()))
    }

    /// The links, for monitoring.
    pub fn all(&self) -> Vec<Arc<LeafLink>> {
        self.links.lock().expect("links").clone()
    }

    /// Registers `link` and renders its interest dump into `out` (spec
    /// §3.8): one `LS+` per key of every subscription the link sees, then
    /// `LS+ $LDS.<id>`. `router` is the account's, locked by the caller.
    pub fn register(&self, router: &Router<Sink>, link: Arc<LeafLink>, out: &mut Vec<u8>) {
        let mut links = self.links.lock().expect("links");
        links.push(link.clone());
        self.any.store(true, Ordering::Release);
        let mut smap = link.smap.lock().expect("smap");
        let mut counts: HashMap<Box<[u8]>, (SubRef<Sink>, u32)> = HashMap::new();
        let mut key = Vec::new();
        router.sublist().for_each(|_, _, sub| {
            if sees(&link, &links, sub) {
                key_of(sub, &mut key);
                counts
                    .entry(key.as_slice().into())
                    .or_insert_with(|| (sub.clone(), 0))
                    .1 += weight(sub);
            }
        });
        for (k, (sub, n)) in counts {
            let q = sub.queue().map(|q| (q, n));
            encode_ls_plus(out, sub.filter(), q);
            smap.insert(k, n);
        }
        encode_ls_plus(out, self.lds().as_bytes(), None);
    }

    /// Removes the link of connection `cid`.
    pub fn unregister(&self, cid: u64) {
        let mut links = self.links.lock().expect("links");
        links.retain(|l| l.conn.cid != cid);
        self.any.store(!links.is_empty(), Ordering::Release);
    }

    /// A subscription was added (or removed) in the account: each link
    /// that sees it updates its map and gets the `LS+`/`LS-` owed in its
    /// outbox; `dirty` is called for each connection written to (queue it
    /// for a flush). Call with the account's router locked.
    pub fn changed(&self, sub: &SubRef<Sink>, added: bool, dirty: impl FnMut(&Arc<ConnShared>)) {
        let w = i64::from(weight(sub));
        self.update(sub, if added { w } else { -w }, dirty);
    }

    /// The remote queue subscription `sub` changed its weight from `old`
    /// to its current one (a repeated `LS+ <subject> <queue> <weight>`):
    /// each link that sees it is told the new total (see [`Self::changed`]).
    pub fn reweighed(&self, sub: &SubRef<Sink>, old: u32, dirty: impl FnMut(&Arc<ConnShared>)) {
        let delta = i64::from(weight(sub)) - i64::from(old.max(1));
        if delta != 0 {
            self.update(sub, delta, dirty);
        }
    }

    fn update(&self, sub: &SubRef<Sink>, delta: i64, mut dirty: impl FnMut(&Arc<ConnShared>)) {
        let links = self.links.lock().expect("links");
        let mut buf = Vec::new();
        for link in links.iter() {
            if !sees(link, &links, sub) {
                continue;
            }
            buf.clear();
            apply(&mut link.smap.lock().expect("smap"), sub, delta, &mut buf);
            if !buf.is_empty() {
                link.conn
                    .out
                    .lock()
                    .expect("out")
                    .buf
                    .extend_from_slice(&buf);
                dirty(&link.conn);
            }
        }
    }
}

/// A client of account `name` (with leaf links `links`) published a plain `$JS.API`
/// request that reached nobody and no `default_js_domain` maps it: logs,
/// once per account, how to reach the hub's JetStream (leafnode.md §4.10,
/// §9: the classic 503 confusion).
pub(crate) fn js_hint(name: &str, links: &LeafLinks) {
    if links.js_hinted.swap(true, Ordering::Relaxed) {
        return;
    }
    crate::warn!(
        "A $JS.API request in account \"{}\" found no JetStream: natsws has none; to use the JetStream of a leafnode hub, set `default_js_domain: {{ \"{}\": <hub domain> }}` or have clients use the hub's domain ($JS.<domain>.API)",
        name,
        name
    );
}

/// `default_js_domain` (spec `leafnode.md` §4.10): the subject a client's
/// publish on a plain JetStream API subject is mapped to when its account
/// has a domain `d` — `$JS.API.<x>` → `$JS.<d>.API.<x>`, `$KV.<x>` →
/// `$JS.<d>.API.$KV.<x>`, `$OBJ.<x>` → `$JS.<d>.API.$OBJ.<x>` (the
/// reverse of the hub's domain mappings, so the request crosses the
/// link and the hub's JetStream answers). `None`: not mapped (an empty
/// domain means no mapping, as in nats-server).
pub(crate) fn js_domain_subject(subject: &[u8], domain: &str) -> Option<Vec<u8>> {
    if domain.is_empty() {
        return None;
    }
    let rest = if let Some(r) = subject.strip_prefix(b"$JS.API.") {
        r
    } else if subject.starts_with(b"$KV.") || subject.starts_with(b"$OBJ.") {
        subject
    } else {
        return None;
    };
    let mut out = Vec::with_capacity(rest.len() + domain.len() + 9);
    out.extend_from_slice(b"$JS.");
    out.extend_from_slice(domain.as_bytes());
    out.extend_from_slice(b".API.");
    out.extend_from_slice(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::js_domain_subject;

    #[test]
    fn plain_js_subjects_map_to_the_domain() {
        let m =
            |s: &str| js_domain_subject(s.as_bytes(), "HUB").map(|v| String::from_utf8(v).unwrap());
        assert_eq!(m("$JS.API.INFO").as_deref(), Some("$JS.HUB.API.INFO"));
        assert_eq!(
            m("$JS.API.STREAM.CREATE.S").as_deref(),
            Some("$JS.HUB.API.STREAM.CREATE.S")
        );
        assert_eq!(m("$KV.cfg.k").as_deref(), Some("$JS.HUB.API.$KV.cfg.k"));
        assert_eq!(m("$OBJ.b.c").as_deref(), Some("$JS.HUB.API.$OBJ.b.c"));
        assert_eq!(m("$JS.HUB.API.INFO"), None);
        assert_eq!(m("foo"), None);
        assert_eq!(js_domain_subject(b"$JS.API.INFO", ""), None);
    }
}

#[cfg(test)]
mod isolation {
    //! Which owners an isolated link still advertises (spec §4.7): every
    //! local one (clients over any transport, MQTT sessions, internal
    //! handlers), none of another leaf (nor that leaf's `$LDS.`).
    use super::*;
    use crate::kind::ConnKind;
    use natsws_core::router::{Message, Subscription};
    use natsws_core::subject::Filter;

    struct Nop;
    impl crate::sink::Handler for Nop {
        fn deliver(&self, _: &Subscription<Sink>, _: &Message<'_>) {}
    }
    impl crate::sink::Numbered for Nop {
        fn push(&self, _: &Subscription<Sink>, _: &Message<'_>) -> Option<Arc<ConnShared>> {
            None
        }
    }

    fn conn(cid: u64, kind: ConnKind) -> Arc<ConnShared> {
        Arc::new(ConnShared::new(
            cid,
            0,
            0,
            kind,
            "127.0.0.1:1".parse().unwrap(),
        ))
    }

    fn sub(cid: u64, subject: &str, target: Sink) -> SubRef<Sink> {
        let f = Filter::try_from(subject).unwrap();
        SubRef::new(
            Subscription::new(cid, subject.as_bytes(), f, None, true).with_target(Some(target)),
        )
    }

    /// The dump, then the updates, of a link of `hub` role, isolated.
    fn advertised(hub: bool, isolated: bool) -> String {
        let links = LeafLinks::default();
        let mut router: Router<Sink> = Router::new();
        let other = conn(9, ConnKind::LEAF_WS);
        let mut ignore = Vec::new();
        links.register(
            &router,
            Arc::new(LeafLink::new(other.clone(), true, Vec::new())),
            &mut ignore,
        );
        let before = [
            sub(1, "client", Sink::Conn(conn(1, ConnKind::CLIENT))),
            sub(2, "ws", Sink::Conn(conn(2, ConnKind::WEBSOCKET))),
            sub(9, "leaf", Sink::Conn(other.clone())),
            sub(9, "$LDS.other", Sink::Conn(other.clone())),
        ];
        for s in &before {
            router.insert(s);
        }
        let me = conn(10, ConnKind::LEAF);
        let mut out = Vec::new();
        links.register(
            &router,
            Arc::new(LeafLink::new(me.clone(), hub, Vec::new()).isolated(isolated)),
            &mut out,
        );
        let later = [
            sub(3, "mqtt", Sink::Numbered(Arc::new(Nop))),
            sub(0, "internal", Sink::Internal(Arc::new(Nop))),
            sub(4, "mqttconn", Sink::Conn(conn(4, ConnKind::MQTT_WS))),
            sub(9, "leaf.later", Sink::Conn(other.clone())),
        ];
        for s in &later {
            router.insert(s);
            links.changed(s, true, |_| {});
        }
        out.extend_from_slice(&me.out.lock().unwrap().buf);
        let mut lines: Vec<String> = String::from_utf8(out)
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with(&format!("LS+ {}", links.lds())))
            .map(str::to_string)
            .collect();
        lines.sort();
        lines.join(",")
    }

    #[test]
    fn an_isolated_link_advertises_local_interest_only() {
        let local = "LS+ client,LS+ internal,LS+ mqtt,LS+ mqttconn,LS+ ws";
        for hub in [true, false] {
            assert_eq!(advertised(hub, true), local, "hub {hub}");
        }
        assert_eq!(
            advertised(true, false),
            "LS+ $LDS.other,LS+ client,LS+ internal,LS+ leaf,LS+ leaf.later,LS+ mqtt,LS+ mqttconn,LS+ ws"
        );
    }
}

#[cfg(test)]
mod props {
    //! Interest bookkeeping: after any sequence of subscribe/unsubscribe
    //! (local clients and other leafs, plain and queue) and any reconnect
    //! of the link, the peer's view rebuilt from the LS+/LS- the link sent
    //! equals the truth in the account, isolated link or not (spec §4.7).
    use super::*;
    use crate::kind::ConnKind;
    use natsws_core::proto::leaf::{LeafDecoder, LeafOp};
    use natsws_core::proto::Limits;
    use natsws_core::router::Subscription;
    use natsws_core::subject::Filter;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[derive(Debug, Clone)]
    enum Op {
        Toggle(usize),
        /// A repeated `LS+` of a leaf's queue interest with a new weight.
        Reweigh(usize, u32),
        Reconnect,
    }

    const SUBJECTS: [&str; 3] = ["a", "b.*", "c.>"];
    const QUEUES: [Option<&str>; 3] = [None, Some("q1"), Some("q2")];

    fn conn(cid: u64, kind: ConnKind) -> Arc<ConnShared> {
        Arc::new(ConnShared::new(
            cid,
            0,
            0,
            kind,
            "127.0.0.1:1".parse().unwrap(),
        ))
    }

    /// The peer's view: key → weight (plain keys weigh 1).
    fn replay(bytes: &[u8], view: &mut BTreeMap<String, u32>) {
        let mut dec = LeafDecoder::new(Limits::default());
        let mut at = 0;
        while let Some((op, n)) = dec.decode(&bytes[at..]).unwrap() {
            at += n;
            match op {
                LeafOp::Sub { subject, queue } => {
                    let s = String::from_utf8_lossy(subject).into_owned();
                    if s.starts_with("$LDS.") {
                        continue;
                    }
                    match queue {
                        Some((q, w)) => {
                            view.insert(format!("{s} {}", String::from_utf8_lossy(q)), w);
                        }
                        None => {
                            view.insert(s, 1);
                        }
                    }
                }
                LeafOp::Unsub { subject, queue } => {
                    let mut k = String::from_utf8_lossy(subject).into_owned();
                    if let Some(q) = queue {
                        k = format!("{k} {}", String::from_utf8_lossy(q));
                    }
                    view.remove(&k);
                }
                _ => {}
            }
        }
        assert_eq!(at, bytes.len());
    }

    /// Registers a link of `c` and replays its dump into `view`.
    fn link(
        links: &LeafLinks,
        router: &Router<Sink>,
        c: &Arc<ConnShared>,
        (hub, isolated): (bool, bool),
        view: &mut BTreeMap<String, u32>,
    ) {
        let mut out = Vec::new();
        links.register(
            router,
            Arc::new(LeafLink::new(c.clone(), hub, Vec::new()).isolated(isolated)),
            &mut out,
        );
        replay(&out, view);
    }

    proptest! {
        #[test]
        fn the_peers_view_equals_the_truth(
            ops in proptest::collection::vec(
                prop_oneof![
                    8 => (0usize..18).prop_map(Op::Toggle),
                    2 => (0usize..18, 1u32..5).prop_map(|(i, w)| Op::Reweigh(i, w)),
                    1 => Just(Op::Reconnect),
                ],
                1..60,
            ),
            hub in any::<bool>(),
            isolated in any::<bool>(),
        ) {
            let links = LeafLinks::default();
            let mut router: Router<Sink> = Router::new();
            let client = conn(1, ConnKind::CLIENT);
            // Another leaf this server is the hub for (its interest is
            // always shown) and one it is the spoke of (shown only when
            // our link plays the hub).
            let other_hub = conn(2, ConnKind::LEAF);
            let other_spoke = conn(3, ConnKind::LEAF);
            let mut ignore = BTreeMap::new();
            link(&links, &router, &other_hub, (true, false), &mut ignore);
            link(&links, &router, &other_spoke, (false, false), &mut ignore);
            // 18 possible subscriptions: 3 subjects × 3 queues × 2 owners
            // (the client, or one of the other leafs).
            let owner_of = |i: usize| match i / 9 {
                0 => &client,
                _ if i.is_multiple_of(2) => &other_hub,
                _ => &other_spoke,
            };
            let subs: Vec<SubRef<Sink>> = (0..18)
                .map(|i| {
                    let owner = owner_of(i);
                    let f = Filter::try_from(SUBJECTS[i % 3]).unwrap();
                    let q = QUEUES[(i / 3) % 3].map(str::as_bytes);
                    let s = Subscription::new(owner.cid, format!("{i}").as_bytes(), f, q, true)
                        .with_target(Some(Sink::Conn(owner.clone())));
                    // A leaf's queue interest is a weighted remote member.
                    let s = if owner.kind == ConnKind::LEAF && q.is_some() {
                        s.with_remote_weight(2)
                    } else {
                        s
                    };
                    SubRef::new(s)
                })
                .collect();
            let mut on = [false; 18];
            let mut cid = 100;
            let mut me = conn(cid, ConnKind::LEAF);
            let mut view = BTreeMap::new();
            link(&links, &router, &me, (hub, isolated), &mut view);
            for op in ops {
                match op {
                    Op::Toggle(i) => {
                        on[i] = !on[i];
                        if on[i] {
                            router.insert(&subs[i]);
                        } else {
                            router.remove(&subs[i]);
                        }
                        links.changed(&subs[i], on[i], |_| {});
                        let bytes = std::mem::take(&mut me.out.lock().unwrap().buf);
                        replay(&bytes, &mut view);
                    }
                    Op::Reweigh(i, w) => {
                        let old = subs[i].remote_weight();
                        subs[i].set_remote_weight(w);
                        if on[i] && old > 0 {
                            links.reweighed(&subs[i], old, |_| {});
                        }
                        let bytes = std::mem::take(&mut me.out.lock().unwrap().buf);
                        replay(&bytes, &mut view);
                    }
                    Op::Reconnect => {
                        links.unregister(me.cid);
                        cid += 1;
                        me = conn(cid, ConnKind::LEAF);
                        view.clear();
                        link(&links, &router, &me, (hub, isolated), &mut view);
                    }
                }
            }
            let mut truth = BTreeMap::new();
            for i in 0..18 {
                let owner = owner_of(i);
                // An isolated link is told no other leaf's interest.
                let leaf_shown = !isolated && (owner.cid == other_hub.cid || hub);
                let shown = on[i] && (owner.kind == ConnKind::CLIENT || leaf_shown);
                if !shown {
                    continue;
                }
                match QUEUES[(i / 3) % 3] {
                    Some(q) => {
                        *truth.entry(format!("{} {q}", SUBJECTS[i % 3])).or_insert(0) +=
                            subs[i].remote_weight().max(1)
                    }
                    None => {
                        truth.insert(SUBJECTS[i % 3].to_string(), 1);
                    }
                }
            }
            prop_assert_eq!(view, truth);
        }
    }
}
