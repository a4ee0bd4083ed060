//! MQTT 3.1.1 scenarios: a minimal client written here (OASIS MQTT 3.1.1
//! §2–§3 packet layouts), over TCP or WebSocket (subprotocol `mqtt`,
//! binary frames, MQTT-over-WebSocket §6). Every connection is ready only
//! after its CONNACK (return code 0) and SUBACK (granted QoS, not 0x80);
//! nothing waits on time. Every message is counted at the subscriber and any
//! loss fails the run (through `--timeout`).

use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;
use std::sync::Arc;
use std::time::Instant;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::Notify;

use crate::conn::{Error, Target};
use crate::scenario::Progress;
use crate::ws::{self, Control, Decoder, WsError, OP_BINARY};

/// Packet types (first byte, high nibble) used here (§2.2.1).
const CONNACK: u8 = 2;
const PUBLISH: u8 = 3;
const PUBACK: u8 = 4;
const SUBACK: u8 = 9;
const PINGRESP: u8 = 13;

/// Largest packet body the bench accepts, in bytes.
const MAX_BODY: usize = 1 << 20;

/// Appends the remaining-length varint (§2.2.3).
fn push_len(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let mut b = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            b |= 0x80;
        }
        out.push(b);
        if n == 0 {
            break;
        }
    }
}

fn push_str(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s);
}

/// CONNECT (§3.1) with protocol level 4, keep-alive 0 (off), `client_id`,
/// and the clean-session flag `clean` (false: a persistent session, kept in
/// the server's store).
fn connect_packet(client_id: &str, clean: bool) -> Vec<u8> {
    let mut body = Vec::with_capacity(12 + client_id.len());
    push_str(&mut body, b"MQTT");
    body.push(4);
    body.push(if clean { 0x02 } else { 0 });
    body.extend_from_slice(&0u16.to_be_bytes());
    push_str(&mut body, client_id.as_bytes());
    let mut p = vec![0x10];
    push_len(&mut p, body.len());
    p.extend_from_slice(&body);
    p
}

/// SUBSCRIBE (§3.8) of one topic filter at `qos`, packet id 1.
fn subscribe_packet(topic: &str, qos: u8) -> Vec<u8> {
    let mut body = vec![0, 1];
    push_str(&mut body, topic.as_bytes());
    body.push(qos);
    let mut p = vec![0x82];
    push_len(&mut p, body.len());
    p.extend_from_slice(&body);
    p
}

/// Appends one PUBLISH (§3.3): QoS 0, or QoS 1 with packet id `pid`.
fn push_publish(out: &mut Vec<u8>, topic: &str, qos: u8, pid: u16, payload: &[u8]) {
    out.push(0x30 | (qos << 1));
    let id_len = if qos > 0 { 2 } else { 0 };
    push_len(out, 2 + topic.len() + id_len + payload.len());
    push_str(out, topic.as_bytes());
    if qos > 0 {
        out.extend_from_slice(&pid.to_be_bytes());
    }
    out.extend_from_slice(payload);
}

/// One complete packet: its first byte and body.
struct Packet<'a> {
    first: u8,
    body: &'a [u8],
}

/// Splits a byte stream into MQTT packets (fixed header §2.2).
#[derive(Default)]
struct Framer {
    pend: Vec<u8>,
}

impl Framer {
    /// Adds `data` and calls `f` with every complete packet.
    fn feed<F: FnMut(Packet<'_>) -> Result<(), Error>>(
        &mut self,
        data: &[u8],
        mut f: F,
    ) -> Result<(), Error> {
        self.pend.extend_from_slice(data);
        let mut at = 0;
        loop {
            let buf = &self.pend[at..];
            if buf.len() < 2 {
                break;
            }
            let (mut len, mut mult, mut i) = (0usize, 1usize, 1);
            let mut complete = false;
            while i < buf.len() && i <= 4 {
                let b = buf[i];
                len += (b & 0x7f) as usize * mult;
                mult *= 128;
                i += 1;
                if b & 0x80 == 0 {
                    complete = true;
                    break;
                }
            }
            if !complete {
                if i > 4 {
                    return Err(Error::Other("MQTT remaining length over 4 bytes".into()));
                }
                break;
            }
            if len > MAX_BODY {
                return Err(Error::Other(format!("MQTT packet of {len} B")));
            }
            if buf.len() < i + len {
                break;
            }
            f(Packet {
                first: buf[0],
                body: &buf[i..i + len],
            })?;
            at += i + len;
        }
        self.pend.drain(..at);
        Ok(())
    }
}

/// Read side of an MQTT connection.
pub(crate) struct Reader {
    rd: OwnedReadHalf,
    dec: Option<Decoder>,
    rbuf: Vec<u8>,
    framer: Framer,
    wire_in: u64,
}

impl Reader {
    /// One socket read; `f` gets each complete packet. EOF, a WebSocket
    /// close and a bad frame are errors.
    async fn read<F: FnMut(Packet<'_>) -> Result<(), Error>>(
        &mut self,
        mut f: F,
    ) -> Result<(), Error> {
        let n = self.rd.read(&mut self.rbuf).await?;
        if n == 0 {
            return Err(Error::Closed("EOF".into()));
        }
        self.wire_in += n as u64;
        let framer = &mut self.framer;
        match &mut self.dec {
            None => framer.feed(&self.rbuf[..n], f),
            Some(dec) => dec.feed::<Error, _, _>(
                &mut self.rbuf[..n],
                |d| framer.feed(d, &mut f),
                |c| match c {
                    Control::Close(code, _) => Err(Error::Closed(format!("close frame {code:?}"))),
                    _ => Ok(()),
                },
            ),
        }
    }

    /// Reads until a packet of `kind` arrives and returns its body.
    async fn expect(&mut self, kind: u8, what: &str) -> Result<Vec<u8>, Error> {
        let mut got = None;
        while got.is_none() {
            self.read(|p| {
                if p.first >> 4 == kind && got.is_none() {
                    got = Some(p.body.to_vec());
                }
                Ok(())
            })
            .await?;
        }
        got.ok_or_else(|| Error::Other(format!("no {what}")))
    }
}

/// Write side of an MQTT connection.
pub(crate) struct Writer {
    wr: OwnedWriteHalf,
    ws: bool,
    rng: fastrand::Rng,
    wbuf: Vec<u8>,
    wire_out: u64,
}

impl Writer {
    /// Writes `data` in one write; on WebSocket as one masked binary frame.
    async fn send(&mut self, data: &[u8]) -> Result<(), Error> {
        if self.ws {
            self.wbuf.clear();
            let key = self.rng.u32(..).to_ne_bytes();
            ws::push_masked_frame(&mut self.wbuf, OP_BINARY, data, key);
            self.wr.write_all(&self.wbuf).await?;
            self.wire_out += self.wbuf.len() as u64;
        } else {
            self.wr.write_all(data).await?;
            self.wire_out += data.len() as u64;
        }
        Ok(())
    }
}

/// Opens a connection: TCP (+ WebSocket upgrade with subprotocol `mqtt`),
/// CONNECT (clean session when `clean`), CONNACK with return code 0.
pub(crate) async fn connect(
    target: &Target,
    client_id: &str,
    clean: bool,
) -> Result<(Reader, Writer), Error> {
    let mut stream = TcpStream::connect(target.addr).await?;
    stream.set_nodelay(true)?;
    let mut rng = fastrand::Rng::new();
    let mut rbuf = vec![0u8; 64 * 1024];
    let mut leftover = Vec::new();
    let mut dec = None;
    if let Some(w) = &target.ws {
        let key = ws::new_key(&mut rng);
        let req = ws::upgrade_request(&w.host, &w.path, &key, false);
        let req = req.replacen(
            "Sec-WebSocket-Version: 13\r\n",
            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n",
            1,
        );
        stream.write_all(req.as_bytes()).await?;
        let mut head = Vec::new();
        let end = loop {
            let n = stream.read(&mut rbuf).await?;
            if n == 0 {
                return Err(Error::Closed("EOF during WebSocket upgrade".into()));
            }
            head.extend_from_slice(&rbuf[..n]);
            if let Some(end) = ws::head_len(&head) {
                break end;
            }
            if head.len() > 16 * 1024 {
                return Err(Error::Ws(WsError("response head too long".into())));
            }
        };
        ws::check_response(&head[..end], &key, false)?;
        leftover = head.split_off(end);
        dec = Some(Decoder::default());
    }
    let (rd, wr) = stream.into_split();
    let mut r = Reader {
        rd,
        dec,
        rbuf,
        framer: Framer::default(),
        wire_in: 0,
    };
    let mut w = Writer {
        wr,
        ws: target.ws.is_some(),
        rng,
        wbuf: Vec::new(),
        wire_out: 0,
    };
    w.send(&connect_packet(client_id, clean)).await?;
    if !leftover.is_empty() {
        // The server speaks only after CONNECT (§3.1).
        return Err(Error::Other("server data before CONNECT".into()));
    }
    let body = r.expect(CONNACK, "CONNACK").await?;
    if body.len() != 2 || body[1] != 0 {
        return Err(Error::Other(format!("CONNACK refused: {body:?}")));
    }
    Ok((r, w))
}

/// Subscribes to `topic` at `qos` and waits for a SUBACK granting it.
async fn subscribe(r: &mut Reader, w: &mut Writer, topic: &str, qos: u8) -> Result<(), Error> {
    w.send(&subscribe_packet(topic, qos)).await?;
    let body = r.expect(SUBACK, "SUBACK").await?;
    match body.get(2) {
        Some(&g) if g == qos => Ok(()),
        g => Err(Error::Other(format!(
            "SUBACK granted {g:?}, wanted QoS {qos}"
        ))),
    }
}

/// Publish/subscribe parameters.
#[derive(Debug, Clone)]
pub(crate) struct MqttCfg {
    /// Subscribing connections (each subscribes to the topic).
    pub(crate) subs: usize,
    /// Messages published.
    pub(crate) msgs: u64,
    /// Payload size in bytes.
    pub(crate) size: usize,
    /// QoS of the publishes and subscriptions (0 or 1).
    pub(crate) qos: u8,
    /// Messages the publisher may be ahead of the average subscriber and, at
    /// QoS 1, of its own PUBACKs.
    pub(crate) window: u64,
    /// Subscriber connections opened at once.
    pub(crate) concurrency: usize,
    /// Persistent sessions (clean session 0) for every connection, so a
    /// server keeps their state in its store (unique client ids per run).
    pub(crate) persistent: bool,
}

/// Outcome of a publish/subscribe run.
#[derive(Debug, Clone)]
pub(crate) struct MqttResult {
    /// Deliveries counted over all subscribers.
    pub(crate) delivered: u64,
    /// From the first publish to the last delivery (and last PUBACK).
    pub(crate) elapsed: Duration,
    /// Bytes read by subscribers / written by the publisher.
    pub(crate) sub_wire_bytes: u64,
    pub(crate) pub_wire_bytes: u64,
}

/// Topic of the throughput scenarios.
const TOPIC: &str = "bench/mqtt";

/// One publisher → `cfg.subs` subscribers on one topic. QoS 1 subscribers
/// answer every delivery with PUBACK; the QoS 1 publisher keeps at most
/// `window` PUBLISHes without PUBACK.
pub(crate) async fn pubsub(
    target: &Target,
    cfg: &MqttCfg,
    progress: Progress,
) -> Result<MqttResult, Error> {
    let run_id = fastrand::u32(..);
    let delivered = Arc::new(AtomicU64::new(0));
    let notify = Arc::new(Notify::new());
    let want = cfg.msgs * cfg.subs as u64;
    let sem = Arc::new(tokio::sync::Semaphore::new(cfg.concurrency.max(1)));
    let mut opening = Vec::with_capacity(cfg.subs);
    for i in 0..cfg.subs {
        let (target, sem, qos, clean) = (target.clone(), sem.clone(), cfg.qos, !cfg.persistent);
        opening.push(tokio::spawn(async move {
            let _permit = sem.acquire_owned().await;
            let (mut r, mut w) = connect(&target, &format!("bsub-{run_id:x}-{i}"), clean).await?;
            subscribe(&mut r, &mut w, TOPIC, qos).await?;
            Ok::<_, Error>((r, w))
        }));
    }
    let mut subs = Vec::with_capacity(cfg.subs);
    for h in opening {
        subs.push(h.await.map_err(|e| Error::Other(format!("task: {e}")))??);
    }
    let (mut pr, mut pw) = connect(target, &format!("bpub-{run_id:x}"), !cfg.persistent).await?;
    let mut readers = Vec::with_capacity(subs.len());
    for (mut r, mut w) in subs {
        let (delivered, notify, progress, n) = (
            delivered.clone(),
            notify.clone(),
            progress.clone(),
            cfg.msgs,
        );
        readers.push(tokio::spawn(async move {
            let mut got = 0u64;
            let mut acks = Vec::new();
            while got < n {
                acks.clear();
                let mut fresh = 0;
                r.read(|p| {
                    if p.first >> 4 == PUBLISH {
                        let qos = (p.first >> 1) & 3;
                        if qos == 1 {
                            let tl = u16::from_be_bytes([p.body[0], p.body[1]]) as usize;
                            let pid = &p.body[2 + tl..4 + tl];
                            acks.extend_from_slice(&[0x40, 2, pid[0], pid[1]]);
                        }
                        // A redelivery (DUP) is not a new message.
                        if p.first & 0x08 == 0 {
                            fresh += 1;
                        }
                    }
                    Ok(())
                })
                .await?;
                if !acks.is_empty() {
                    w.send(&acks).await?;
                }
                if fresh > 0 {
                    got += fresh;
                    delivered.fetch_add(fresh, Ordering::Relaxed);
                    progress.fetch_add(fresh, Ordering::Relaxed);
                    notify.notify_one();
                }
            }
            Ok::<_, Error>((Instant::now(), r.wire_in, w))
        }));
    }
    let body = vec![b'm'; cfg.size];
    let t0 = Instant::now();
    let subs_n = cfg.subs.max(1) as u64;
    let mut batch = Vec::with_capacity(64 * 1024 + cfg.size);
    let mut sent = 0u64;
    let mut acked = 0u64;
    let mut pid: u16 = 0;
    while sent < cfg.msgs || (cfg.qos == 1 && acked < cfg.msgs) {
        // How far ahead the publisher may go.
        // Never ahead of the average subscriber by more than the window (a
        // broker may drop for a slow consumer: mosquitto's
        // max_queued_messages, 1,000 by default, drops QoS 1 too), and at
        // QoS 1 never more PUBLISHes without PUBACK than the window.
        let mut base = delivered.load(Ordering::Relaxed) / subs_n;
        if cfg.qos == 1 {
            base = base.min(acked);
        }
        let limit = (base + cfg.window).min(cfg.msgs);
        batch.clear();
        while sent < limit && batch.len() < 64 * 1024 {
            pid = pid.wrapping_add(1).max(1);
            push_publish(&mut batch, TOPIC, cfg.qos, pid, &body);
            sent += 1;
        }
        if !batch.is_empty() {
            pw.send(&batch).await?;
            continue;
        }
        if cfg.qos == 1 && acked < sent {
            pr.read(|p| {
                if p.first >> 4 == PUBACK {
                    acked += 1;
                }
                Ok(())
            })
            .await?;
        } else if sent < cfg.msgs {
            // Blocked on the subscribers: wait for their next progress.
            let wait = notify.notified();
            if delivered.load(Ordering::Relaxed) / subs_n + cfg.window <= sent {
                wait.await;
            }
        }
    }
    let mut last = Instant::now();
    let mut sub_wire = 0;
    let mut keep = Vec::new();
    for h in readers {
        let (t, wire, w) = h.await.map_err(|e| Error::Other(format!("task: {e}")))??;
        last = last.max(t);
        sub_wire += wire;
        keep.push(w);
    }
    let elapsed = last - t0;
    let got = delivered.load(Ordering::Relaxed);
    if got != want {
        return Err(Error::Other(format!("delivered {got} of {want}")));
    }
    Ok(MqttResult {
        delivered: got,
        elapsed: elapsed.max(Duration::from_nanos(1)),
        sub_wire_bytes: sub_wire,
        pub_wire_bytes: pw.wire_out,
    })
}

/// Opens `conns` connections, each with one subscription to its own topic
/// (ready on SUBACK), `concurrency` at a time; returns them held open.
pub(crate) async fn open_idle(
    target: &Target,
    conns: usize,
    concurrency: usize,
    tag: &str,
    progress: Progress,
) -> Result<Vec<(Reader, Writer)>, Error> {
    let run_id = fastrand::u32(..);
    let sem = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let mut hs = Vec::with_capacity(conns);
    for i in 0..conns {
        let (target, sem, progress) = (target.clone(), sem.clone(), progress.clone());
        let tag = tag.to_string();
        hs.push(tokio::spawn(async move {
            let _permit = sem.acquire_owned().await;
            let id = format!("bidle-{run_id:x}-{tag}{i}");
            let (mut r, mut w) = connect(&target, &id, true).await?;
            subscribe(&mut r, &mut w, &format!("idle/{tag}{i}"), 0).await?;
            // Keep only what an idle client needs: a small read buffer.
            r.rbuf = vec![0; 64];
            r.rbuf.shrink_to_fit();
            progress.fetch_add(1, Ordering::Relaxed);
            Ok::<_, Error>((r, w))
        }));
    }
    let mut out = Vec::with_capacity(conns);
    for h in hs {
        out.push(h.await.map_err(|e| Error::Other(format!("task: {e}")))??);
    }
    Ok(out)
}

/// Sends PINGREQ on every connection and counts PINGRESPs.
pub(crate) async fn ping_all(conns: Vec<(Reader, Writer)>) -> usize {
    let mut hs = Vec::with_capacity(conns.len());
    for (mut r, mut w) in conns {
        hs.push(tokio::spawn(async move {
            w.send(&[0xC0, 0]).await.ok()?;
            r.expect(PINGRESP, "PINGRESP").await.ok()?;
            let _ = w.send(&[0xE0, 0]).await;
            Some(())
        }));
    }
    let mut alive = 0;
    for h in hs {
        if matches!(h.await, Ok(Some(()))) {
            alive += 1;
        }
    }
    alive
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framer_splits_packets_across_any_chunking() {
        let mut stream = Vec::new();
        push_publish(&mut stream, "a/b", 1, 7, &[b'x'; 200]);
        push_publish(&mut stream, "a/b", 0, 0, b"hi");
        stream.extend_from_slice(&[0x90, 3, 0, 1, 0]);
        for chunk in [1, 2, 3, 7, 500] {
            let mut f = Framer::default();
            let mut seen = Vec::new();
            for c in stream.chunks(chunk) {
                f.feed(c, |p| {
                    seen.push((p.first, p.body.len()));
                    Ok(())
                })
                .unwrap();
            }
            assert_eq!(
                seen,
                vec![(0x32, 2 + 3 + 2 + 200), (0x30, 2 + 3 + 2), (0x90, 3)]
            );
        }
    }

    #[test]
    fn framer_refuses_five_byte_lengths() {
        let mut f = Framer::default();
        assert!(f
            .feed(&[0x30, 0xff, 0xff, 0xff, 0xff, 0x01], |_| Ok(()))
            .is_err());
    }

    #[test]
    fn connect_packet_layout() {
        assert_eq!(
            connect_packet("c", true),
            vec![0x10, 13, 0, 4, b'M', b'Q', b'T', b'T', 4, 2, 0, 0, 0, 1, b'c']
        );
    }
}
