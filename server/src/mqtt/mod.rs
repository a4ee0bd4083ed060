//! MQTT session state kept by natsws itself (no JetStream; mqtt spec §4,
//! §7.2): the sessions of every account by client id, each a
//! [`Sink::Numbered`](crate::sink::Sink::Numbered) target whose deliveries
//! are queued as records and numbered at flush by the connection that owns
//! the session now; the retained messages per account; the takeover jail.
//!
//! This sits below [`crate::shared`] (which holds the [`Registry`]); the
//! connection side, `crate::session::mqtt`, drives it.

mod commit;
pub(crate) mod committer;
mod inner;
mod key;
pub(crate) mod store;
mod submap;
pub(crate) mod window;

pub(crate) use inner::Inner;
pub(crate) use key::{Account, SessionKey};
pub(crate) use submap::{SubMap, SubPair};

use std::borrow::Borrow;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use natsws_core::mqtt::retained::Retained;
use natsws_core::mqtt::topic::is_reserved_filter;
use natsws_core::router::{ConnId, Message, SubRef, Subscription};
use natsws_core::time::Millis;

use crate::sink::{ConnShared, Numbered, Sink};

/// Scratch buffers of one event loop's MQTT connections (in its
/// [`crate::deliver::Turn`]): an idle connection holds none of them; their
/// capacity stays with the loop, so the hot paths do not allocate.
#[derive(Default)]
pub(crate) struct Scratch {
    /// A converted subject or topic.
    pub subject: Vec<u8>,
    /// Records taken from a session at flush.
    pub recs: Vec<u8>,
    /// The PUBLISH packets rendered from them.
    pub rendered: Vec<u8>,
}

/// (account, NATS subject) of a retained message.
pub(crate) type RetainedKey = (Box<str>, Box<[u8]>);

/// A message kept for (re)delivery: the MQTT topic and the payload, in one
/// buffer. A session reuses the buffers of acknowledged deliveries for the
/// next ones ([`OutMsg::new_in`], `Rare::spare`), so a steady QoS 1/2
/// stream allocates none per message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OutMsg {
    bytes: Vec<u8>,
    topic_len: usize,
    /// The subscription whose `max_ack_pending` window it counts in
    /// ([`window::slot`] of its filter; 0: none, e.g. a retained message
    /// sent on SUBSCRIBE).
    pub slot: u32,
}

impl OutMsg {
    /// A message on `topic` with `payload`, in a buffer of its exact size.
    pub(crate) fn new(topic: &[u8], payload: &[u8]) -> OutMsg {
        OutMsg::new_in(
            Vec::with_capacity(topic.len() + payload.len()),
            topic,
            payload,
        )
    }

    /// The same in `buf` (emptied first), a buffer given back by
    /// [`OutMsg::into_buf`]: no allocation when it is large enough.
    pub(crate) fn new_in(mut buf: Vec<u8>, topic: &[u8], payload: &[u8]) -> OutMsg {
        buf.clear();
        buf.extend_from_slice(topic);
        buf.extend_from_slice(payload);
        OutMsg {
            bytes: buf,
            topic_len: topic.len(),
            slot: 0,
        }
    }

    /// Its buffer, for the next message ([`OutMsg::new_in`]).
    pub(crate) fn into_buf(self) -> Vec<u8> {
        self.bytes
    }

    /// The same, counted in the window of subscription `slot`.
    pub(crate) fn with_slot(mut self, slot: u32) -> OutMsg {
        self.slot = slot;
        self
    }
    /// The MQTT topic.
    pub(crate) fn topic(&self) -> &[u8] {
        &self.bytes[..self.topic_len]
    }
    /// The payload.
    pub(crate) fn payload(&self) -> &[u8] {
        &self.bytes[self.topic_len..]
    }
}

/// A retained message (spec §4.6).
#[derive(Debug, Clone)]
pub(crate) struct RetainedMsg {
    /// Topic and payload.
    pub msg: OutMsg,
    /// Stored QoS.
    pub qos: u8,
}

/// A QoS 2 PUBLISH received and not yet released (spec §4.3).
#[derive(Debug, Clone)]
pub(crate) struct Staged {
    /// NATS subject.
    pub subject: Box<[u8]>,
    /// Topic and payload.
    pub msg: OutMsg,
    /// RETAIN flag.
    pub retain: bool,
}

/// A will captured at CONNECT (spec §4.7).
#[derive(Debug, Clone)]
pub(crate) struct WillMsg {
    /// The connection that set it (a takeover clears it).
    pub owner: ConnId,
    /// Topic and message.
    pub msg: OutMsg,
    /// Will QoS.
    pub qos: u8,
    /// Will retain.
    pub retain: bool,
}

/// One MQTT filter of a session.
#[derive(Debug, Clone)]
pub(crate) struct SubEntry {
    /// Granted QoS.
    pub qos: u8,
    /// Converted NATS filter is reserved (`$` rule, spec §3.4).
    pub reserved: bool,
    /// Its NATS subscriptions (the filter, and the `#` parent-level twin),
    /// whose id is the MQTT filter.
    pub subs: SubPair,
    /// Its window: the `max_ack_pending` in force when it was made, the
    /// QoS 1/2 deliveries of it in flight and those waiting for room
    /// (mqtt spec §4.4; the `#` twin shares it).
    pub win: window::Window,
}

impl SubEntry {
    /// The MQTT filter: the id of its subscriptions (empty when it has
    /// none; [`SubMap`] keeps no such entry).
    pub(crate) fn filter(&self) -> &[u8] {
        self.subs.first().map_or(&[], |s| s.sid())
    }
}

/// What the durable store must write at the next commit.
#[derive(Default)]
pub(crate) struct Dirty {
    /// The open commit epoch (from 1): a change that an acknowledgement depends on
    /// (a routed QoS 1/2 message, a staged QoS 2 message, a subscription,
    /// a retained message, a session created or dropped) belongs to the
    /// epoch open when it was marked, and the marking thread's next
    /// [`Registry::commit`] returns only once that epoch is durable.
    epoch: AtomicU64,
    /// The last epoch written (0: none).
    durable: AtomicU64,
    /// The last epoch whose commit failed (0: none): the acknowledgements
    /// of epochs up to it that are not durable are never sent (their
    /// connections are closed, see `net/mqtt_hold.rs`); its changes are
    /// marked again and written by a later commit.
    failed: AtomicU64,
    /// The last commit failed (for the log line of the next success).
    failing: AtomicBool,
    /// Only changes no acknowledgement waits for (a PUBACK or PUBCOMP
    /// received, deliveries rendered) were marked: written with the next
    /// required commit, or after [`LAZY_COMMIT`] at the latest.
    lazy: AtomicBool,
    /// Sessions to write (or delete).
    sessions: Mutex<HashSet<SessionKey>>,
    /// (account, subject) of retained messages to write (or delete).
    retained: Mutex<HashSet<RetainedKey>>,
    /// Held through a whole commit (so that a loop whose marks another
    /// loop's commit took waits for that commit before its
    /// acknowledgements go out); holds when the last commit started.
    commit: Mutex<Option<std::time::Instant>>,
}

/// The longest a change that no acknowledgement depends on stays
/// unwritten while the server is busy (a crash within it only redelivers
/// what was acknowledged, as QoS 1 allows).
pub(crate) const LAZY_COMMIT: std::time::Duration = std::time::Duration::from_millis(100);

std::thread_local! {
    /// The newest epoch this thread marked a required change in (0: none
    /// since its last commit).
    static NEED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

impl Dirty {
    /// After the change is in a dirty set: this thread's next commit must
    /// cover the open epoch.
    fn need(&self) {
        // Read after the insert: a commit that closed this epoch drains
        // the sets after closing it, so it holds the change.
        let e = self.epoch.load(Ordering::SeqCst);
        NEED.with(|n| n.set(n.get().max(e)));
        // Also a lazy change: a thread that never commits (not a loop)
        // still gets it written by a loop within LAZY_COMMIT.
        self.lazy.store(true, Ordering::Release);
    }

    fn session(&self, key: &SessionKey) {
        self.sessions.lock().expect("dirty").insert(key.clone());
        self.need();
    }

    fn session_lazy(&self, key: &SessionKey) {
        self.sessions.lock().expect("dirty").insert(key.clone());
        self.lazy.store(true, Ordering::Release);
    }
}

/// One session (see the module docs).
pub(crate) struct MqttSession {
    /// (account, client id); its account holds what every session shares
    /// ([`MqttSession::common`]).
    pub key: SessionKey,
    /// Its state.
    pub inner: Mutex<Inner>,
}

/// What every session of a [`Registry`] shares (one pointer per session
/// instead of a copy).
pub(crate) struct Common {
    /// The durable store's dirty set (`None`: memory store).
    pub(super) dirty: Option<Arc<Dirty>>,
    /// `max_pending` of the connection kind (slow consumer bound; `usize::MAX`
    /// when not set).
    pub(super) max_pending: usize,
}

impl MqttSession {
    /// What every session of the registry shares.
    fn common(&self) -> &Common {
        &self.key.0.common
    }

    /// The id its NATS subscriptions carry: unique among live sessions, and
    /// never a connection's (those count up from 1). It is derived from the
    /// session's address, which cannot be reused while a subscription
    /// holds the session ([`Sink::Numbered`]), so a session does not store
    /// it.
    pub(crate) fn sub_conn(&self) -> ConnId {
        u64::MAX - (self as *const MqttSession as usize as u64)
    }

    /// Marks the session for the next durable commit (persistent sessions
    /// with a file store only; `clean`: its state's flag).
    pub(crate) fn mark(&self, clean: bool) {
        if let (Some(d), false) = (&self.common().dirty, clean) {
            d.session(&self.key);
        }
    }

    /// Marks a change that no acknowledgement depends on (a PUBACK or
    /// PUBCOMP received, deliveries rendered): written with the next
    /// required commit, or within [`LAZY_COMMIT`]. True when marked (a
    /// file store and a persistent session): the caller then arms a timer
    /// [`LAZY_COMMIT`] ahead, so that an idle loop wakes up and writes it.
    pub(crate) fn mark_lazy(&self, clean: bool) -> bool {
        if let (Some(d), false) = (&self.common().dirty, clean) {
            d.session_lazy(&self.key);
            return true;
        }
        false
    }

    fn new(key: SessionKey, clean: bool, max_inflight: usize, ack_wait: Millis) -> MqttSession {
        MqttSession {
            key,
            inner: Mutex::new(Inner::new(clean, max_inflight, ack_wait)),
        }
    }
}

/// Sessions are the same when their keys are: the registry is a set of
/// sessions looked up by [`SessionKey`] (no second copy of the key).
impl PartialEq for MqttSession {
    fn eq(&self, other: &MqttSession) -> bool {
        self.key == other.key
    }
}

impl Eq for MqttSession {}

impl std::hash::Hash for MqttSession {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.key.hash(h);
    }
}

impl Borrow<SessionKey> for Arc<MqttSession> {
    fn borrow(&self) -> &SessionKey {
        &self.key
    }
}

/// The QoS of a message from its `Nmqtt-Pub` header (MQTT publishes),
/// else 0 (NATS messages).
fn publish_qos(headers: Option<&[u8]>) -> u8 {
    let Some(h) = headers else { return 0 };
    const KEY: &[u8] = b"\r\nNmqtt-Pub:";
    match h.windows(KEY.len()).position(|w| w == KEY) {
        Some(i) => match h.get(i + KEY.len()) {
            Some(b'1') => 1,
            Some(b'2') => 2,
            _ => 0,
        },
        None => 0,
    }
}

/// Appends one delivery record.
pub(crate) fn push_record(
    records: &mut Vec<u8>,
    qos: u8,
    slot: u32,
    subject: &[u8],
    payload: &[u8],
) {
    records.push(qos);
    records.extend_from_slice(&slot.to_be_bytes());
    records.extend_from_slice(&(subject.len() as u16).to_be_bytes());
    records.extend_from_slice(subject);
    records.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    records.extend_from_slice(payload);
}

/// Reads the records of [`Inner::records`]: (QoS, slot, subject,
/// payload).
pub(crate) fn records(mut b: &[u8]) -> impl Iterator<Item = (u8, u32, &[u8], &[u8])> {
    std::iter::from_fn(move || {
        if b.len() < 7 {
            return None;
        }
        let qos = b[0];
        let slot = u32::from_be_bytes([b[1], b[2], b[3], b[4]]);
        let sl = usize::from(u16::from_be_bytes([b[5], b[6]]));
        let subject = &b[7..7 + sl];
        let r = &b[7 + sl..];
        let pl = u32::from_be_bytes([r[0], r[1], r[2], r[3]]) as usize;
        let payload = &r[4..4 + pl];
        b = &r[4 + pl..];
        Some((qos, slot, subject, payload))
    })
}

impl Numbered for MqttSession {
    fn push(&self, sub: &Subscription<Sink>, msg: &Message<'_>) -> Option<Arc<ConnShared>> {
        let mut inner = self.inner.lock().expect("mqtt session");
        let entry = inner.subs.get(sub.sid())?;
        if entry.reserved && msg.subject.first() == Some(&b'$') {
            return None;
        }
        let qos = entry.qos.min(publish_qos(msg.headers));
        let conn = inner.conn.clone();
        if conn.is_none() && qos == 0 {
            // QoS 0 is not kept for offline sessions (spec §4.5.1).
            return None;
        }
        if let Some(c) = &conn {
            if !c.may_deliver(msg.subject, None, Millis::default) {
                return None;
            }
            // Slow consumer: what waits for this connection (routed, and
            // rendered but not written) is bounded by its max_pending.
            let queued = inner.queued() + c.out.lock().expect("out").buf.len();
            if queued > self.common().max_pending {
                c.mark_slow();
                return None;
            }
        }
        // An offline session keeps at most max_pending bytes of queued
        // messages; later ones are dropped (warned once per fill) so an
        // abandoned persistent session cannot grow without bound.
        let offline_full = conn.is_none() && inner.queued() > self.common().max_pending;
        if offline_full {
            return None;
        }
        let slot = entry.win.slot;
        let records = &mut inner.rare_mut().records;
        push_record(records, qos, slot, msg.subject, msg.payload);
        if conn.is_none() && records.len() > self.common().max_pending {
            crate::warn!(
                "MQTT session {:?} of account {:?} is offline with {} bytes queued (max_pending): later messages are dropped until it reconnects",
                self.key.1,
                &*self.key.0.name,
                records.len()
            );
        }
        if qos > 0 {
            self.mark(inner.clean);
        }
        conn
    }
}

/// Sessions, retained messages and the takeover jail of the server.
#[derive(Default)]
pub(crate) struct Registry {
    /// Every session, found by its key.
    sessions: Mutex<HashSet<Arc<MqttSession>>>,
    /// The accounts of the sessions, one allocation each.
    accounts: Mutex<HashMap<Box<str>, Arc<Account>>>,
    retained: Mutex<HashMap<Box<str>, Retained<RetainedMsg>>>,
    jail: Mutex<HashMap<SessionKey, Millis>>,
    /// What its sessions share, made at the first session (after the
    /// start set `max_pending` and opened the store).
    common: OnceLock<Arc<Common>>,
    /// The durable store, when `store: file`.
    store: OnceLock<store::FileStore>,
    /// `max_pending` of MQTT connections (set at start).
    pub(crate) max_pending: std::sync::atomic::AtomicUsize,
    /// What it must write next.
    dirty: OnceLock<Arc<Dirty>>,
    /// The committer thread's queue, once it runs (file store): loops then
    /// ask for their commits instead of writing them.
    committer: OnceLock<Arc<committer::Committer>>,
}

/// The newest commit epoch this thread marked a change in that an
/// acknowledgement depends on, since the last call (0: none); the caller
/// takes over the duty to see it durable before the acknowledgements go
/// out ([`Registry::durable_epoch`], [`Registry::request_commit`]).
pub(crate) fn take_need() -> u64 {
    NEED.with(|n| n.replace(0))
}

/// What [`Registry::attach`] found.
pub(crate) struct Attached {
    /// The session now owned by the caller.
    pub session: Arc<MqttSession>,
    /// CONNACK session present.
    pub present: bool,
    /// The connection it took the session from, to close.
    pub taken_from: Option<Arc<ConnShared>>,
    /// Subscriptions of a discarded session, to remove from the router.
    pub dropped: Vec<SubRef<Sink>>,
}

impl Registry {
    /// What the sessions share (made at the first call).
    fn common(&self) -> Arc<Common> {
        self.common
            .get_or_init(|| {
                let n = self.max_pending.load(Ordering::Relaxed);
                Arc::new(Common {
                    dirty: self.dirty.get().cloned(),
                    max_pending: if n > 0 { n } else { usize::MAX },
                })
            })
            .clone()
    }

    /// The shared [`Account`] of `account` for the keys of its sessions
    /// (one allocation per account, kept for the server's life).
    pub(crate) fn account_name(&self, account: &str) -> Arc<Account> {
        let mut names = self.accounts.lock().expect("accounts");
        if let Some(a) = names.get(account) {
            return a.clone();
        }
        let a = Arc::new(Account::new(account, self.common()));
        names.insert(account.into(), a.clone());
        a
    }

    /// Whether a CONNECT for `key` at `now` falls within `jail` of the
    /// last takeover of that id (spec §4.5.4).
    pub(crate) fn jailed(&self, key: &SessionKey, now: Millis, jail: Millis) -> bool {
        let mut j = self.jail.lock().expect("jail");
        j.retain(|_, t| t.saturating_add(jail) > now);
        j.contains_key(key)
    }

    /// Binds the session of `key` to `conn` (spec §4.5.2–§4.5.3): a clean
    /// CONNECT discards a stored session; a persistent one resumes it; a
    /// connected owner is taken over (its will dropped, the jail armed).
    pub(crate) fn attach(
        &self,
        key: SessionKey,
        conn: &Arc<ConnShared>,
        clean: bool,
        max_inflight: usize,
        ack_wait: Millis,
        now: Millis,
    ) -> Attached {
        let mut map = self.sessions.lock().expect("sessions");
        let mut dropped = Vec::new();
        let mut taken_from = None;
        if let Some(s) = map.get(&key).cloned() {
            let mut inner = s.inner.lock().expect("mqtt session");
            if let Some(old) = inner.conn.take() {
                if old.cid != conn.cid {
                    inner.take_will();
                    taken_from = Some(old);
                    self.jail.lock().expect("jail").insert(key.clone(), now);
                }
            }
            if !clean && !inner.clean {
                inner.conn = Some(conn.clone());
                // The session cap in force now (a reload changes it for
                // existing sessions too, nats-server
                // `mqttUpdateMaxAckPending`).
                inner.set_limits(max_inflight, ack_wait);
                inner.resend_all = inner.has_inflight();
                drop(inner);
                return Attached {
                    session: s,
                    present: true,
                    taken_from,
                    dropped,
                };
            }
            for e in std::mem::take(&mut inner.subs) {
                dropped.extend(e.subs);
            }
            drop(inner);
            map.remove(&key);
            if let Some(d) = self.dirty.get() {
                d.session(&key);
            }
        }
        let s = Arc::new(MqttSession::new(
            key,
            clean,
            window::session_cap(max_inflight),
            ack_wait,
        ));
        s.inner.lock().expect("mqtt session").conn = Some(conn.clone());
        map.insert(s.clone());
        Attached {
            session: s,
            present: false,
            taken_from,
            dropped,
        }
    }

    /// `conn` ended: the session is released; a clean one is removed and
    /// its subscriptions returned for the router. Nothing happens when
    /// another connection owns the session now.
    pub(crate) fn detach(&self, s: &Arc<MqttSession>, conn: ConnId) -> Vec<SubRef<Sink>> {
        let mut map = self.sessions.lock().expect("sessions");
        let mut inner = s.inner.lock().expect("mqtt session");
        if inner.conn.as_ref().is_none_or(|c| c.cid != conn) {
            return Vec::new();
        }
        inner.conn = None;
        inner.take_will();
        if !inner.clean {
            return Vec::new();
        }
        if map.get(&s.key).is_some_and(|x| Arc::ptr_eq(x, s)) {
            map.remove(&s.key);
        }
        let mut subs = Vec::new();
        for e in std::mem::take(&mut inner.subs) {
            subs.extend(e.subs);
        }
        subs
    }

    /// Stores or clears (empty payload) the retained message of `subject`
    /// in `account` (spec §4.6).
    pub(crate) fn retain(
        &self,
        account: &str,
        subject: &[u8],
        topic: &[u8],
        payload: &[u8],
        qos: u8,
    ) {
        if let Some(d) = self.dirty.get() {
            d.retained
                .lock()
                .expect("dirty")
                .insert((account.into(), subject.into()));
            d.need();
        }
        let mut r = self.retained.lock().expect("retained");
        let idx = r.entry(account.into()).or_default();
        if payload.is_empty() {
            idx.clear(subject);
        } else {
            idx.set(
                subject,
                RetainedMsg {
                    msg: OutMsg::new(topic, payload),
                    qos,
                },
            );
        }
    }

    /// The retained messages of `account` matching the NATS `filter`, in
    /// subject order: (subject, message).
    pub(crate) fn retained_matching(
        &self,
        account: &str,
        filter: &[u8],
    ) -> Vec<(Box<[u8]>, RetainedMsg)> {
        let r = self.retained.lock().expect("retained");
        match r.get(account) {
            Some(idx) => idx
                .matching(filter)
                .map(|(s, m)| (Box::from(s), m.clone()))
                .collect(),
            None => Vec::new(),
        }
    }
}

/// Whether a converted filter is reserved (re-exported for the session).
pub(crate) fn reserved(subject: &[u8]) -> bool {
    is_reserved_filter(subject)
}

impl Registry {
    /// Opens the durable store in `dir` (`store: file`); sessions and
    /// retained messages are written from then on.
    pub(crate) fn open_store(&self, dir: &std::path::Path) -> Result<(), store::StoreError> {
        let fs = store::FileStore::open(dir)?;
        let _ = self.store.set(fs);
        let _ = self.dirty.set(Arc::new(Dirty {
            epoch: AtomicU64::new(1),
            ..Dirty::default()
        }));
        Ok(())
    }

    /// Writes what was marked since the last commit, in one transaction:
    /// called by each event loop once per turn before it writes the
    /// acknowledgements of that turn. A failed commit is logged and its
    /// epoch recorded as failed ([`Registry::failed_epoch`]); the state
    /// stays marked for a later commit.
    /// With a committer thread running, lazy changes are its job, and so
    /// is reopening a store a failure closed: a loop writes here only what
    /// this thread still needs, and only while the store is open.
    pub(crate) fn commit(&self) {
        let lazy = self.committer.get().is_none();
        self.commit_upto(take_need(), false, lazy);
    }

    /// Writes everything marked, lazy changes too (at shutdown).
    pub(crate) fn commit_all(&self) {
        self.commit_upto(take_need(), true, true);
    }

    /// The committer thread's commit: every change up to `epoch`, and
    /// lazy changes when due.
    pub(crate) fn commit_epoch(&self, epoch: u64) {
        self.commit_upto(epoch, false, true);
    }

    /// The last commit epoch written (`u64::MAX` without a file store:
    /// nothing ever waits).
    pub(crate) fn durable_epoch(&self) -> u64 {
        self.dirty
            .get()
            .map_or(u64::MAX, |d| d.durable.load(Ordering::SeqCst))
    }

    /// The last commit epoch whose write failed (0: none, or no file
    /// store). A connection whose acknowledgements wait for an epoch up to
    /// it that is not durable ([`Registry::durable_epoch`]) never gets
    /// them: it is closed instead (mqtt spec §7.5; `net/mqtt_hold.rs`).
    /// Read it after [`Registry::durable_epoch`].
    pub(crate) fn failed_epoch(&self) -> u64 {
        self.dirty
            .get()
            .map_or(0, |d| d.failed.load(Ordering::SeqCst))
    }

    /// Whether the durable store is open (true without a file store): a
    /// failed write closes it until the committer thread reopens it.
    pub(crate) fn store_open(&self) -> bool {
        self.store.get().is_none_or(store::FileStore::is_open)
    }

    /// Starts using `c` for commits (the committer thread is running).
    pub(crate) fn set_committer(&self, c: Arc<committer::Committer>) {
        let _ = self.committer.set(c);
    }

    /// Asks the committer thread for `epoch` on behalf of loop `loop_idx`
    /// (woken once it is durable). False when there is no committer: the
    /// caller commits itself ([`Registry::commit_epoch`]).
    pub(crate) fn request_commit(&self, epoch: u64, loop_idx: usize) -> bool {
        match self.committer.get() {
            Some(c) => {
                c.request(epoch, loop_idx);
                true
            }
            None => false,
        }
    }

    /// Stops the committer thread (shutdown; the loops commit what is
    /// left with [`Registry::commit_all`]).
    pub(crate) fn stop_committer(&self) {
        if let Some(c) = self.committer.get() {
            c.stop();
        }
    }

    /// At start: the stored retained messages and persistent sessions
    /// (offline; their filters subscribed again through `subscribe`, given
    /// the account name and the subscription). Returns the session count.
    pub(crate) fn restore(
        &self,
        max_inflight: usize,
        ack_wait: Millis,
        now: Millis,
        mut subscribe: impl FnMut(&str, &SubRef<Sink>),
    ) -> Result<usize, store::StoreError> {
        let Some(fs) = self.store.get() else {
            return Ok(0);
        };
        for (acc, subject, m) in fs.retained()? {
            self.retained
                .lock()
                .expect("retained")
                .entry(acc.into())
                .or_default()
                .set(&subject, m);
        }
        let sessions = fs.sessions()?;
        let n = sessions.len();
        let mut map = self.sessions.lock().expect("sessions");
        for (acc, id, snap) in sessions {
            let key = SessionKey(self.account_name(&acc), id.as_str().into());
            let s = Arc::new(MqttSession::new(
                key,
                false,
                window::session_cap(max_inflight),
                ack_wait,
            ));
            {
                let mut inner = s.inner.lock().expect("mqtt session");
                let busy = !(snap.inflight.is_empty()
                    && snap.pending.is_empty()
                    && snap.records.is_empty()
                    && snap.qos2_in.is_empty());
                if busy {
                    let r = inner.rare_mut();
                    for (id, qos, rel, m) in snap.inflight {
                        let stage = if rel {
                            natsws_core::mqtt::session::Stage::Pubrel
                        } else {
                            natsws_core::mqtt::session::Stage::Publish
                        };
                        r.out.restore(id, qos, stage, m, now);
                    }
                    r.pending = snap.pending.into();
                    r.records = snap.records;
                    r.qos2_in = snap.qos2_in.into_iter().collect();
                }
                for (filter, qos) in snap.subs {
                    let subs = filter_subs(&s, &filter);
                    for sub in &subs {
                        subscribe(&acc, sub);
                    }
                    let reserved = subs.first().is_some_and(|x| reserved(x.filter()));
                    if subs.first().is_none() {
                        // Stored, but no longer converts: kept for the
                        // store and `/mqttz`, never routed.
                        inner.rare_mut().orphans.push((filter, qos));
                        continue;
                    }
                    let win = window::Window::new(&filter, max_inflight);
                    inner.subs.insert(SubEntry {
                        qos,
                        reserved,
                        subs,
                        win,
                    });
                }
                inner.recount();
            }
            map.insert(s);
        }
        Ok(n)
    }
}

/// The NATS subscriptions of MQTT `filter` for session `s`: the converted
/// filter and its `#` parent-level twin (spec §3.2); none when the filter
/// has no valid subject.
pub(crate) fn filter_subs(s: &Arc<MqttSession>, filter: &[u8]) -> SubPair {
    use natsws_core::mqtt::topic;
    use natsws_core::subject::Filter;
    let mut subject = Vec::new();
    if topic::filter_to_subject(filter, &mut subject).is_err() {
        return SubPair::default();
    }
    let Ok(f) = Filter::try_from(subject) else {
        return SubPair::default();
    };
    let mut subjects = vec![f.clone()];
    if let Some(t) = topic::parent_level_twin(f.as_bytes()) {
        if let Ok(t) = Filter::try_from(t) {
            subjects.push(t);
        }
    }
    let target = Sink::Numbered(s.clone());
    subjects
        .into_iter()
        .map(|f| {
            SubRef::new(
                Subscription::new(s.sub_conn(), filter, f, None, false)
                    .with_target(Some(target.clone())),
            )
        })
        .collect()
}

/// One session as `/mqttz` shows it.
pub(crate) struct SessionInfo {
    /// Account name.
    pub account: String,
    /// Client id.
    pub client_id: String,
    /// Connected now.
    pub connected: bool,
    /// Clean session.
    pub clean: bool,
    /// (filter, granted QoS).
    pub subs: Vec<(String, u8)>,
    /// QoS 1/2 deliveries in flight.
    pub inflight: usize,
    /// Deliveries waiting for the window.
    pub pending: usize,
    /// Bytes routed and not yet rendered (offline queue).
    pub queued_bytes: usize,
    /// QoS 2 messages received and not released.
    pub qos2_in: usize,
}

/// Why a session could not be deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeleteError {
    /// No such session.
    NotFound,
    /// A connection holds it now.
    Connected,
}

impl Registry {
    /// Every session, connected or not, by account and client id.
    pub(crate) fn list(&self) -> Vec<SessionInfo> {
        let map = self.sessions.lock().expect("sessions");
        let mut out: Vec<SessionInfo> = map
            .iter()
            .map(|s| {
                let i = s.inner.lock().expect("mqtt session");
                SessionInfo {
                    account: s.key.0.name.to_string(),
                    client_id: s.key.1.to_string(),
                    connected: i.conn.is_some(),
                    clean: i.clean,
                    subs: i
                        .subs
                        .iter()
                        .map(|(f, e)| (f, e.qos))
                        .chain(i.orphans())
                        .map(|(f, q)| (String::from_utf8_lossy(f).into_owned(), q))
                        .collect(),
                    inflight: i.rare().map_or(0, |r| r.out.len()),
                    pending: i.rare().map_or(0, |r| r.pending.len()),
                    queued_bytes: i.queued(),
                    qos2_in: i.rare().map_or(0, |r| r.qos2_in.len()),
                }
            })
            .collect();
        out.sort_by(|a, b| (&a.account, &a.client_id).cmp(&(&b.account, &b.client_id)));
        out
    }

    /// Retained messages held, all accounts.
    pub(crate) fn retained_count(&self) -> usize {
        self.retained
            .lock()
            .expect("retained")
            .values()
            .map(Retained::len)
            .sum()
    }

    /// Whether the durable store is open.
    pub(crate) fn durable(&self) -> bool {
        self.store.get().is_some()
    }

    /// Deletes an offline session (the admin tool nats-server lacks, spec
    /// §8): its subscriptions are returned for the router, and the store
    /// forgets it at the next commit.
    pub(crate) fn delete(&self, key: &SessionKey) -> Result<Vec<SubRef<Sink>>, DeleteError> {
        let mut map = self.sessions.lock().expect("sessions");
        let s = map.get(key).cloned().ok_or(DeleteError::NotFound)?;
        let mut inner = s.inner.lock().expect("mqtt session");
        if inner.conn.is_some() {
            return Err(DeleteError::Connected);
        }
        let mut subs = Vec::new();
        for e in std::mem::take(&mut inner.subs) {
            subs.extend(e.subs);
        }
        drop(inner);
        map.remove(key);
        if let Some(d) = self.dirty.get() {
            d.session(key);
        }
        Ok(subs)
    }
}
