//! The durable MQTT store (`store: file`, mqtt spec §7.5): one redb
//! database, `<store_dir>/mqtt/state.redb`, with two tables of natsws's own
//! byte encodings (so a redb value-format change cannot touch the data):
//!
//! - `sessions`: account ‖ 0 ‖ client id → a snapshot of a persistent
//!   session: its filters and granted QoS, the QoS 1/2 deliveries in
//!   flight (identifier, stage, topic, payload), those waiting for room in
//!   the window, the deliveries routed and not yet rendered, and the QoS 2
//!   messages received and not yet released;
//! - `retained`: account ‖ 0 ‖ subject → QoS, topic, payload.
//!
//! Group commit: changes only mark sessions and retained subjects dirty;
//! each event loop commits what is dirty once per turn, before it writes
//! the acknowledgements (PUBACK, PUBREC, SUBACK) of that turn
//! ([`super::Registry::commit`]). Clean sessions are never written.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::{OutMsg, RetainedMsg, Staged};

const SESSIONS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("sessions");
const RETAINED: TableDefinition<&[u8], &[u8]> = TableDefinition::new("retained");

/// Format version of the session snapshot: 2 adds the window slot of each
/// delivery (in flight, waiting, and in the routed records); version 1
/// rows are still read, their deliveries in no window.
const VERSION: u8 = 2;

/// A failure of the durable store.
#[derive(Debug)]
pub(crate) enum StoreError {
    /// The store directory could not be created.
    Dir(std::io::Error),
    /// The database could not be opened, created or reopened.
    Open(redb::DatabaseError),
    /// A transaction failed (redb's own error: an I/O error of the write,
    /// or `PreviousIo` while a failed database is not yet reopened).
    Txn(redb::Error),
    /// Writes failed `failures` times in a row and the database is not
    /// reopened before `retry_in` has passed (see [`FileStore`]).
    Down {
        /// Failed writes or reopens in a row.
        failures: u32,
        /// Until the next reopen may be tried.
        retry_in: Duration,
    },
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Dir(e) => write!(f, "mqtt store: cannot create the directory: {e}"),
            StoreError::Open(e) => write!(f, "mqtt store: cannot open: {e}"),
            StoreError::Txn(e) => write!(f, "mqtt store: {e}"),
            StoreError::Down { failures, retry_in } => write!(
                f,
                "mqtt store: not written, {failures} failures in a row (reopened in {} ms at the earliest)",
                retry_in.as_millis()
            ),
        }
    }
}

impl std::error::Error for StoreError {}

fn txn<E: Into<redb::Error>>(e: E) -> StoreError {
    StoreError::Txn(e.into())
}

/// The durable state of a persistent session, as stored.
#[derive(Debug, Default, Clone)]
pub(crate) struct Snapshot {
    /// (filter, granted QoS).
    pub subs: Vec<(Box<[u8]>, u8)>,
    /// (identifier, QoS, PUBREL stage, message), in send order.
    pub inflight: Vec<(u16, u8, bool, OutMsg)>,
    /// (QoS, message) waiting for the window.
    pub pending: Vec<(u8, OutMsg)>,
    /// Routed, not yet rendered (records of [`super::push_record`]).
    pub records: Vec<u8>,
    /// (identifier, staged QoS 2 message).
    pub qos2_in: Vec<(u16, Staged)>,
}

fn put_bytes(v: &mut Vec<u8>, b: &[u8]) {
    v.extend_from_slice(&(b.len() as u32).to_be_bytes());
    v.extend_from_slice(b);
}

fn put_msg(v: &mut Vec<u8>, m: &OutMsg) {
    put_bytes(v, m.topic());
    put_bytes(v, m.payload());
}

/// A cursor; every read fails softly (a damaged row is skipped).
struct Rd<'a>(&'a [u8]);

impl<'a> Rd<'a> {
    fn n<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (a, b) = self.0.split_at_checked(N)?;
        self.0 = b;
        a.try_into().ok()
    }
    fn u8(&mut self) -> Option<u8> {
        self.n::<1>().map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.n::<2>().map(u16::from_be_bytes)
    }
    fn u32(&mut self) -> Option<u32> {
        self.n::<4>().map(u32::from_be_bytes)
    }
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        let (a, b) = self.0.split_at_checked(n)?;
        self.0 = b;
        Some(a)
    }
    fn msg(&mut self) -> Option<OutMsg> {
        let t = self.bytes()?;
        let p = self.bytes()?;
        Some(OutMsg::new(t, p))
    }
}

impl Snapshot {
    /// The stored bytes.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut v = vec![VERSION];
        v.extend_from_slice(&(self.subs.len() as u32).to_be_bytes());
        for (f, q) in &self.subs {
            put_bytes(&mut v, f);
            v.push(*q);
        }
        v.extend_from_slice(&(self.inflight.len() as u32).to_be_bytes());
        for (id, q, rel, m) in &self.inflight {
            v.extend_from_slice(&id.to_be_bytes());
            v.push(*q);
            v.push(u8::from(*rel));
            v.extend_from_slice(&m.slot.to_be_bytes());
            put_msg(&mut v, m);
        }
        v.extend_from_slice(&(self.pending.len() as u32).to_be_bytes());
        for (q, m) in &self.pending {
            v.push(*q);
            v.extend_from_slice(&m.slot.to_be_bytes());
            put_msg(&mut v, m);
        }
        put_bytes(&mut v, &self.records);
        v.extend_from_slice(&(self.qos2_in.len() as u32).to_be_bytes());
        for (id, s) in &self.qos2_in {
            v.extend_from_slice(&id.to_be_bytes());
            v.push(u8::from(s.retain));
            put_bytes(&mut v, &s.subject);
            put_msg(&mut v, &s.msg);
        }
        v
    }

    /// Reads stored bytes; `None` when damaged or of another version.
    pub(crate) fn decode(b: &[u8]) -> Option<Snapshot> {
        let mut r = Rd(b);
        let version = r.u8()?;
        if version != 1 && version != VERSION {
            return None;
        }
        let slotted = version >= 2;
        let mut s = Snapshot::default();
        for _ in 0..r.u32()? {
            let f = r.bytes()?.into();
            s.subs.push((f, r.u8()?));
        }
        for _ in 0..r.u32()? {
            let id = r.u16()?;
            let q = r.u8()?;
            let rel = r.u8()? != 0;
            let slot = if slotted { r.u32()? } else { 0 };
            s.inflight.push((id, q, rel, r.msg()?.with_slot(slot)));
        }
        for _ in 0..r.u32()? {
            let q = r.u8()?;
            let slot = if slotted { r.u32()? } else { 0 };
            s.pending.push((q, r.msg()?.with_slot(slot)));
        }
        let records = r.bytes()?;
        s.records = if slotted {
            records.to_vec()
        } else {
            v1_records(records)?
        };
        for _ in 0..r.u32()? {
            let id = r.u16()?;
            let retain = r.u8()? != 0;
            let subject = r.bytes()?.into();
            let msg = r.msg()?;
            s.qos2_in.push((
                id,
                Staged {
                    subject,
                    msg,
                    retain,
                },
            ));
        }
        Some(s)
    }
}

/// Version 1 records (`qos, subject len u16, subject, payload len u32,
/// payload`) in the current layout, slot 0; `None` when damaged.
fn v1_records(mut b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(b.len() + b.len() / 8);
    while !b.is_empty() {
        let mut r = Rd(b);
        let qos = r.u8()?;
        let sl = usize::from(r.u16()?);
        let (subject, rest) = r.0.split_at_checked(sl)?;
        let mut r = Rd(rest);
        let pl = r.u32()? as usize;
        let (payload, rest) = r.0.split_at_checked(pl)?;
        super::push_record(&mut out, qos, 0, subject, payload);
        b = rest;
    }
    Some(out)
}

/// `account ‖ 0 ‖ name`.
pub(crate) fn key(account: &str, name: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(account.len() + 1 + name.len());
    k.extend_from_slice(account.as_bytes());
    k.push(0);
    k.extend_from_slice(name);
    k
}

/// Splits a [`key`].
pub(crate) fn split_key(k: &[u8]) -> Option<(&str, &[u8])> {
    let i = k.iter().position(|&b| b == 0)?;
    Some((std::str::from_utf8(&k[..i]).ok()?, &k[i + 1..]))
}

/// One write of a commit: a session or retained row put or deleted.
pub(crate) enum Write {
    /// Session row: key, snapshot bytes (`None`: delete).
    Session(Vec<u8>, Option<Vec<u8>>),
    /// Retained row: key, message (`None`: delete).
    Retained(Vec<u8>, Option<RetainedMsg>),
}

/// How the database is (re)opened.
type Opener = Box<dyn Fn() -> Result<Database, redb::DatabaseError> + Send + Sync>;

/// The first wait before the database is reopened after a second failure
/// in a row; doubled for each further one, up to 64 times (6.4 s).
pub(crate) const REOPEN_BACKOFF: Duration = Duration::from_millis(100);

/// The database, reopened after a failed write.
///
/// redb latches the first I/O error of its storage: every later
/// transaction fails with `StorageError::PreviousIo` until the
/// `Database` is dropped and opened again (which repairs the file from
/// its last committed state, reading all of it: about 1.7 s for 50 MB in
/// a debug build). So a failed [`FileStore::commit`] drops it, and the
/// next commit reopens it first: a transient failure (a full disk, then
/// space freed) heals without a restart. A failure after that (the reopen
/// or the write after it) delays the next reopen by [`REOPEN_BACKOFF`],
/// doubling per failure in a row up to 64 times; meanwhile commits fail at
/// once ([`StoreError::Down`]), without touching the disk, and nothing is
/// acknowledged for them.
pub(crate) struct FileStore {
    open: Opener,
    /// The first backoff ([`REOPEN_BACKOFF`]).
    backoff: Duration,
    state: Mutex<Db>,
    /// The database is open (`Db::db` is set), readable without the lock.
    is_open: AtomicBool,
}

/// The database and its failures.
struct Db {
    /// `None` after a failed write, until reopened.
    db: Option<Database>,
    /// Failed writes or reopens in a row.
    failures: u32,
    /// No reopen before then (`None`: the next commit may).
    reopen_at: Option<Instant>,
}

impl Db {
    /// After a failed write or reopen: the first one in a row may reopen
    /// at once, later ones wait `base` × 2^(n - 2), at most 64 × `base`.
    fn failed(&mut self, base: Duration) {
        self.db = None;
        self.failures = self.failures.saturating_add(1);
        self.reopen_at = (self.failures > 1)
            .then(|| Instant::now() + base * (1u32 << (self.failures - 2).min(6)));
    }

    /// How long until a reopen may be tried (zero: now).
    fn wait(&self) -> Duration {
        self.reopen_at.map_or(Duration::ZERO, |at| {
            at.saturating_duration_since(Instant::now())
        })
    }
}

impl FileStore {
    /// Opens (or creates) `<dir>/mqtt/state.redb`.
    pub(crate) fn open(dir: &Path) -> Result<FileStore, StoreError> {
        let dir = dir.join("mqtt");
        std::fs::create_dir_all(&dir).map_err(StoreError::Dir)?;
        let path = dir.join("state.redb");
        FileStore::open_with(Box::new(move || Database::create(&path)), REOPEN_BACKOFF)
    }

    /// Opens the database with `open` (also used to reopen it) and
    /// creates the tables; `backoff`: see [`REOPEN_BACKOFF`].
    fn open_with(open: Opener, backoff: Duration) -> Result<FileStore, StoreError> {
        let db = open().map_err(StoreError::Open)?;
        let w = db.begin_write().map_err(txn)?;
        w.open_table(SESSIONS).map_err(txn)?;
        w.open_table(RETAINED).map_err(txn)?;
        w.commit().map_err(txn)?;
        Ok(FileStore {
            open,
            backoff,
            state: Mutex::new(Db {
                db: Some(db),
                failures: 0,
                reopen_at: None,
            }),
            is_open: AtomicBool::new(true),
        })
    }

    /// Whether the database is open (no failure dropped it, or it was
    /// reopened since).
    pub(crate) fn is_open(&self) -> bool {
        self.is_open.load(Ordering::Acquire)
    }

    /// Whether a commit would try to write now: the database is open, or
    /// its reopen is no longer delayed.
    pub(crate) fn ready(&self) -> bool {
        let st = self.state.lock().expect("mqtt store");
        st.db.is_some() || st.wait().is_zero()
    }

    /// Applies `writes` in one transaction (one fsync), reopening the
    /// database first when a failure dropped it (see the type's docs;
    /// `now`: without waiting for the backoff, the last try at shutdown).
    /// On failure the caller keeps the changes for a later commit.
    pub(crate) fn commit(&self, writes: &[Write], now: bool) -> Result<(), StoreError> {
        let mut st = self.state.lock().expect("mqtt store");
        if st.db.is_none() {
            let retry_in = st.wait();
            if !retry_in.is_zero() && !now {
                let failures = st.failures;
                return Err(StoreError::Down { failures, retry_in });
            }
            match (self.open)() {
                Ok(db) => {
                    st.db = Some(db);
                    self.is_open.store(true, Ordering::Release);
                    crate::info!("MQTT store reopened after a failed write");
                }
                Err(e) => {
                    st.failed(self.backoff);
                    self.is_open.store(false, Ordering::Release);
                    return Err(StoreError::Open(e));
                }
            }
        }
        let res = write_all(st.db.as_ref().expect("open"), writes);
        match res {
            Ok(()) => {
                st.failures = 0;
                st.reopen_at = None;
            }
            Err(_) => {
                st.failed(self.backoff);
                self.is_open.store(false, Ordering::Release);
            }
        }
        res
    }

    /// A read transaction (start-up), the database reopened when needed.
    fn read(&self) -> Result<redb::ReadTransaction, StoreError> {
        let mut st = self.state.lock().expect("mqtt store");
        if st.db.is_none() {
            st.db = Some((self.open)().map_err(StoreError::Open)?);
            self.is_open.store(true, Ordering::Release);
        }
        st.db.as_ref().expect("open").begin_read().map_err(txn)
    }

    /// Every stored session: (account, client id, snapshot); damaged rows
    /// are skipped.
    pub(crate) fn sessions(&self) -> Result<Vec<(String, String, Snapshot)>, StoreError> {
        let r = self.read()?;
        let t = r.open_table(SESSIONS).map_err(txn)?;
        let mut out = Vec::new();
        for row in t.iter().map_err(txn)? {
            let (k, v) = row.map_err(txn)?;
            let Some((acc, id)) = split_key(k.value()) else {
                continue;
            };
            let (Ok(id), Some(s)) = (std::str::from_utf8(id), Snapshot::decode(v.value())) else {
                continue;
            };
            out.push((acc.to_string(), id.to_string(), s));
        }
        Ok(out)
    }

    /// Every retained message: (account, subject, message).
    pub(crate) fn retained(&self) -> Result<Vec<(String, Vec<u8>, RetainedMsg)>, StoreError> {
        let r = self.read()?;
        let t = r.open_table(RETAINED).map_err(txn)?;
        let mut out = Vec::new();
        for row in t.iter().map_err(txn)? {
            let (k, v) = row.map_err(txn)?;
            let Some((acc, subject)) = split_key(k.value()) else {
                continue;
            };
            let mut rd = Rd(v.value());
            let (Some(qos), Some(msg)) = (rd.u8(), rd.msg()) else {
                continue;
            };
            out.push((acc.to_string(), subject.to_vec(), RetainedMsg { msg, qos }));
        }
        Ok(out)
    }
}

/// One transaction with every write of a commit.
fn write_all(db: &Database, writes: &[Write]) -> Result<(), StoreError> {
    let w = db.begin_write().map_err(txn)?;
    {
        let mut sessions = w.open_table(SESSIONS).map_err(txn)?;
        let mut retained = w.open_table(RETAINED).map_err(txn)?;
        for op in writes {
            match op {
                Write::Session(k, Some(v)) => {
                    sessions.insert(k.as_slice(), v.as_slice()).map_err(txn)?;
                }
                Write::Session(k, None) => {
                    sessions.remove(k.as_slice()).map_err(txn)?;
                }
                Write::Retained(k, Some(m)) => {
                    let mut v = vec![m.qos];
                    put_msg(&mut v, &m.msg);
                    retained.insert(k.as_slice(), v.as_slice()).map_err(txn)?;
                }
                Write::Retained(k, None) => {
                    retained.remove(k.as_slice()).map_err(txn)?;
                }
            }
        }
    }
    w.commit().map_err(txn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_round_trip_and_damage() {
        let s = Snapshot {
            subs: vec![(b"a/#".as_slice().into(), 1)],
            inflight: vec![(7, 2, true, OutMsg::new(b"t", b"p").with_slot(9))],
            pending: vec![(1, OutMsg::new(b"u", b""))],
            records: vec![1, 0, 0, 0, 5, 0, 1, b'x', 0, 0, 0, 0],
            qos2_in: vec![(
                3,
                Staged {
                    subject: b"s".as_slice().into(),
                    msg: OutMsg::new(b"s", b"q"),
                    retain: true,
                },
            )],
        };
        let b = s.encode();
        let d = Snapshot::decode(&b).expect("decodes");
        assert_eq!(d.encode(), b);
        assert_eq!(d.inflight[0].3.payload(), b"p");
        assert_eq!(d.inflight[0].3.slot, 9);
        for n in 0..b.len() {
            assert!(Snapshot::decode(&b[..n]).is_none() || n == b.len());
        }
        assert_eq!(split_key(&key("A", b"id")), Some(("A", &b"id"[..])));
    }

    #[test]
    fn version_1_rows_are_read_with_their_deliveries_in_no_window() {
        // subs: ["a", qos 1]; inflight: id 7 qos 1 (t, p); pending: none;
        // records: one (qos 1, subject "s", payload "q"); qos2_in: none.
        let mut v = vec![1];
        v.extend_from_slice(&1u32.to_be_bytes());
        put_bytes(&mut v, b"a");
        v.push(1);
        v.extend_from_slice(&1u32.to_be_bytes());
        v.extend_from_slice(&7u16.to_be_bytes());
        v.extend_from_slice(&[1, 0]);
        put_msg(&mut v, &OutMsg::new(b"t", b"p"));
        v.extend_from_slice(&0u32.to_be_bytes());
        put_bytes(&mut v, &[1, 0, 1, b's', 0, 0, 0, 1, b'q']);
        v.extend_from_slice(&0u32.to_be_bytes());
        let s = Snapshot::decode(&v).expect("a version 1 row");
        assert_eq!(s.inflight[0].3.slot, 0);
        let recs: Vec<_> = super::super::records(&s.records).collect();
        assert_eq!(recs, [(1, 0, &b"s"[..], &b"q"[..])]);
        // Damaged version 1 records: the row is skipped.
        let n = v.len();
        v[n - 8] = 9;
        assert!(Snapshot::decode(&v).is_none());
    }
}

/// A store whose writes fail on demand (a full disk), for the unit tests
/// of the commit path.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use redb::backends::FileBackend;
    use redb::{BackendError, StorageBackend};
    use std::ops::Bound;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;

    /// A file whose writes fail while `fail` is set.
    #[derive(Debug)]
    struct Flaky {
        file: FileBackend,
        fail: Arc<AtomicBool>,
    }

    impl Flaky {
        fn check(&self) -> Result<(), BackendError> {
            if self.fail.load(Ordering::SeqCst) {
                // ENOSPC.
                return Err(BackendError::Io(std::io::Error::from_raw_os_error(28)));
            }
            Ok(())
        }
    }

    impl StorageBackend for Flaky {
        fn len(&self) -> Result<u64, BackendError> {
            self.file.len()
        }
        fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), BackendError> {
            self.file.read(offset, out)
        }
        fn set_len(&self, len: u64) -> Result<(), BackendError> {
            self.check()?;
            self.file.set_len(len)
        }
        fn sync_data(&self) -> Result<(), BackendError> {
            self.check()?;
            self.file.sync_data()
        }
        fn write(&self, offset: u64, data: &[u8]) -> Result<(), BackendError> {
            self.check()?;
            self.file.write(offset, data)
        }
        fn close(&self) -> Result<(), BackendError> {
            self.file.close()
        }
        fn try_lock_range(&self, s: Bound<u64>, e: Bound<u64>) -> Result<bool, BackendError> {
            self.file.try_lock_range(s, e)
        }
        fn try_lock_shared_range(
            &self,
            s: Bound<u64>,
            e: Bound<u64>,
        ) -> Result<bool, BackendError> {
            self.file.try_lock_shared_range(s, e)
        }
        fn lock_range(&self, s: Bound<u64>, e: Bound<u64>) -> Result<(), BackendError> {
            self.file.lock_range(s, e)
        }
        fn lock_shared_range(&self, s: Bound<u64>, e: Bound<u64>) -> Result<(), BackendError> {
            self.file.lock_shared_range(s, e)
        }
        fn unlock_range(&self, s: Bound<u64>, e: Bound<u64>) -> Result<(), BackendError> {
            self.file.unlock_range(s, e)
        }
        fn query_lock_range(&self, s: Bound<u64>, e: Bound<u64>) -> Result<bool, BackendError> {
            self.file.query_lock_range(s, e)
        }
    }

    /// The switches of a [`flaky`] store; its directory is removed on drop.
    pub(crate) struct Flags {
        /// Writes fail while set.
        pub fail: Arc<AtomicBool>,
        /// How many times the database was opened.
        pub opens: Arc<AtomicUsize>,
        dir: std::path::PathBuf,
    }

    impl Drop for Flags {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// A store in a fresh directory named after `name` (unique per test)
    /// whose writes fail while [`Flags::fail`] is set; `backoff`: the
    /// first delay of a reopen ([`super::REOPEN_BACKOFF`]).
    pub(crate) fn flaky(name: &str, backoff: std::time::Duration) -> (FileStore, Flags) {
        let dir = std::env::temp_dir().join(format!("natsws-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("state.redb");
        let fail = Arc::new(AtomicBool::new(false));
        let opens = Arc::new(AtomicUsize::new(0));
        let (f, n) = (fail.clone(), opens.clone());
        let store = FileStore::open_with(
            Box::new(move || {
                n.fetch_add(1, Ordering::SeqCst);
                let file = std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .open(&path)
                    .map_err(|e| redb::DatabaseError::Storage(redb::StorageError::Io(e)))?;
                redb::Builder::new().create_with_backend(Flaky {
                    file: FileBackend::new(file),
                    fail: f.clone(),
                })
            }),
            backoff,
        )
        .expect("open");
        (store, Flags { fail, opens, dir })
    }
}

#[cfg(test)]
mod heal_tests {
    use super::*;
    use std::sync::atomic::Ordering;

    fn row(id: &str, filter: &[u8]) -> Write {
        let snap = Snapshot {
            subs: vec![(filter.into(), 1)],
            ..Snapshot::default()
        };
        Write::Session(key("A", id.as_bytes()), Some(snap.encode()))
    }

    fn ids(fs: &FileStore) -> Vec<String> {
        let mut v: Vec<String> = fs
            .sessions()
            .expect("read")
            .into_iter()
            .map(|(_, id, _)| id)
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_failed_write_heals_once_the_disk_takes_writes_again() {
        let (fs, t) = testing::flaky("store-heal", std::time::Duration::ZERO);
        let fs = &fs;
        fs.commit(&[row("kept", b"a")], false)
            .expect("first commit");

        t.fail.store(true, Ordering::SeqCst);
        let big_row = Write::Session(key("A", b"lost"), Some(vec![7u8; 256 * 1024]));
        assert!(fs.commit(&[big_row], false).is_err(), "the disk is full");
        // Still failing: every commit fails, none panics.
        for _ in 0..3 {
            assert!(fs.commit(&[row("later", b"b")], false).is_err());
        }

        t.fail.store(false, Ordering::SeqCst);
        fs.commit(&[row("later", b"b")], false)
            .expect("heals once writes succeed");
        assert!(t.opens.load(Ordering::SeqCst) >= 2, "reopened");
        // The committed row survived, the failed one is not there.
        assert_eq!(ids(fs), ["kept", "later"]);
    }

    #[test]
    fn after_a_second_failure_in_a_row_the_reopen_waits() {
        let (fs, t) = testing::flaky("store-backoff", std::time::Duration::from_secs(3600));
        t.fail.store(true, Ordering::SeqCst);
        assert!(matches!(
            fs.commit(&[row("a", b"a")], false),
            Err(StoreError::Txn(_))
        ));
        // The first failure: the next commit reopens at once (and fails).
        let opens = t.opens.load(Ordering::SeqCst);
        assert!(fs.ready());
        assert!(fs.commit(&[row("a", b"a")], false).is_err());
        assert_eq!(t.opens.load(Ordering::SeqCst), opens + 1, "reopened");
        // The second: no reopen within the backoff, even once the disk is
        // back; commits fail at once.
        t.fail.store(false, Ordering::SeqCst);
        assert!(!fs.ready());
        match fs.commit(&[row("a", b"a")], false) {
            Err(StoreError::Down { failures, retry_in }) => {
                assert_eq!(failures, 2);
                assert!(retry_in > std::time::Duration::from_secs(3000));
            }
            other => panic!("expected Down: {other:?}"),
        }
        assert_eq!(t.opens.load(Ordering::SeqCst), opens + 1, "not reopened");
        // The last try at shutdown does not wait.
        fs.commit(&[row("a", b"a")], true).expect("written");
        assert_eq!(ids(&fs), ["a"]);
        assert!(fs.ready());
    }
}
