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
    /// The database could not be opened or created.
    Open(String),
    /// A transaction failed.
    Txn(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Open(e) => write!(f, "mqtt store: cannot open: {e}"),
            StoreError::Txn(e) => write!(f, "mqtt store: {e}"),
        }
    }
}

impl std::error::Error for StoreError {}

fn txn<E: std::fmt::Display>(e: E) -> StoreError {
    StoreError::Txn(e.to_string())
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

/// The open database.
pub(crate) struct FileStore {
    db: Database,
}

impl FileStore {
    /// Opens (or creates) `<dir>/mqtt/state.redb`.
    pub(crate) fn open(dir: &Path) -> Result<FileStore, StoreError> {
        let dir = dir.join("mqtt");
        std::fs::create_dir_all(&dir).map_err(|e| StoreError::Open(e.to_string()))?;
        let db = Database::create(dir.join("state.redb"))
            .map_err(|e| StoreError::Open(e.to_string()))?;
        let w = db.begin_write().map_err(txn)?;
        w.open_table(SESSIONS).map_err(txn)?;
        w.open_table(RETAINED).map_err(txn)?;
        w.commit().map_err(txn)?;
        Ok(FileStore { db })
    }

    /// Applies `writes` in one transaction (one fsync).
    pub(crate) fn commit(&self, writes: &[Write]) -> Result<(), StoreError> {
        let w = self.db.begin_write().map_err(txn)?;
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

    /// Every stored session: (account, client id, snapshot); damaged rows
    /// are skipped.
    pub(crate) fn sessions(&self) -> Result<Vec<(String, String, Snapshot)>, StoreError> {
        let r = self.db.begin_read().map_err(txn)?;
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
        let r = self.db.begin_read().map_err(txn)?;
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
