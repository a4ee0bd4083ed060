//! The benchmark scenarios. Each one connects everything first, then times
//! only the traffic, counts every message at the receiver, ends with a
//! PING/PONG flush on every connection, and fails on any loss.

use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use core::time::Duration;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::conn::{Batch, Conn, Error, Target};
use crate::hist::Histogram;
use crate::proto::{push_pub, Op};

/// Distinct JSON-like bodies a publisher cycles through.
const JSON_BODIES: usize = 1024;

/// Distinct prepared batches per publisher when bodies vary.
const BATCH_VARIANTS: usize = 16;

/// Shared progress counter (delivered messages or finished operations),
/// read when a run times out.
pub(crate) type Progress = Arc<AtomicU64>;

/// Publish/subscribe parameters.
#[derive(Debug, Clone)]
pub(crate) struct PubSubCfg {
    /// Publishing connections.
    pub(crate) pubs: usize,
    /// Subscribing connections.
    pub(crate) subs: usize,
    /// Messages published in total (split evenly over publishers).
    pub(crate) msgs: u64,
    /// Payload size in bytes.
    pub(crate) size: usize,
    /// Queue group shared by all subscribers (each message then reaches
    /// exactly one of them).
    pub(crate) queue: Option<String>,
    /// Target size of one publisher write, in bytes (at least one message).
    pub(crate) batch_bytes: usize,
    /// Subject published to.
    pub(crate) subject: String,
    /// JSON-like text payloads (compressible like real application data)
    /// instead of a repeating alphabet.
    pub(crate) json: bool,
}

/// Outcome of a publish/subscribe run.
#[derive(Debug, Clone)]
pub(crate) struct PubSubResult {
    /// Messages received over all subscribers.
    pub(crate) delivered: u64,
    /// Messages the subscribers had to receive.
    pub(crate) expected: u64,
    /// Per subscriber received counts.
    pub(crate) per_sub: Vec<u64>,
    /// From the first publish to the last message received.
    pub(crate) elapsed: Duration,
    /// From the first publish to the last publisher's PONG.
    pub(crate) pub_elapsed: Duration,
    /// Bytes the subscribers read from their sockets during the run.
    pub(crate) sub_wire_bytes: u64,
    /// Bytes the publishers wrote to their sockets during the run.
    pub(crate) pub_wire_bytes: u64,
    /// permessage-deflate was negotiated (WebSocket with `--compress`).
    pub(crate) compressed: bool,
}

/// What a subscriber task ends with: messages received, when the last one
/// arrived, and the bytes read from the socket meanwhile.
type SubOutcome = Result<(u64, Option<Instant>, u64), Error>;

/// Payload of `size` bytes (printable, so a capture stays readable).
fn payload(size: usize) -> Vec<u8> {
    (0..size).map(|i| b'a' + (i % 26) as u8).collect()
}

/// A JSON-like payload of exactly `size` bytes: an array of small records
/// such as an application would publish, cut to size.
pub(crate) fn json_payload(size: usize) -> Vec<u8> {
    let mut v = b"[".to_vec();
    let mut i = 0u32;
    while v.len() < size {
        let rec = format!(
            "{{\"seq\":{i},\"sensor\":\"temp-{:02}\",\"value\":{}.{},\"unit\":\"C\",\"ok\":{},\"tags\":[\"site-{}\",\"rack-{}\"]}},",
            i % 17,
            18 + (i * 7) % 9,
            (i * 3) % 10,
            !i.is_multiple_of(5),
            i % 3,
            i % 11
        );
        v.extend_from_slice(rec.as_bytes());
        i += 1;
    }
    v.truncate(size);
    v
}

/// Splits `total` over `n` parts as evenly as possible.
pub(crate) fn share(total: u64, n: usize, i: usize) -> u64 {
    let n = n as u64;
    let i = i as u64;
    total / n + u64::from(i < total % n)
}

/// Runs publishers and subscribers: N publishers → M subscribers (fan-out
/// when M > 1, one delivery per message when `queue` is set).
pub(crate) async fn pubsub(
    target: &Target,
    cfg: &PubSubCfg,
    progress: Progress,
) -> Result<PubSubResult, Error> {
    if cfg.pubs == 0 || cfg.subs == 0 {
        return Err(Error::Other(
            "need at least one publisher and one subscriber".into(),
        ));
    }
    let mut sub_line = format!("SUB {} ", cfg.subject).into_bytes();
    if let Some(q) = &cfg.queue {
        sub_line.extend_from_slice(q.as_bytes());
        sub_line.push(b' ');
    }
    sub_line.extend_from_slice(b"1\r\n");

    let mut subs = Vec::with_capacity(cfg.subs);
    for _ in 0..cfg.subs {
        let mut c = Conn::connect(target).await?;
        c.send(&sub_line).await?;
        c.flush().await?;
        subs.push(c);
    }
    let mut pubs = Vec::with_capacity(cfg.pubs);
    for _ in 0..cfg.pubs {
        pubs.push(Conn::connect(target).await?);
    }

    let (flush_tx, flush_rx) = watch::channel(false);
    let mut sub_tasks: Vec<JoinHandle<SubOutcome>> = Vec::new();
    for mut c in subs {
        let mut rx = flush_rx.clone();
        let progress = progress.clone();
        sub_tasks.push(tokio::spawn(async move {
            let wire0 = c.wire_in();
            let mut count = 0u64;
            let mut last = None;
            let mut ping_sent = false;
            loop {
                let mut n = 0u64;
                let mut pong = false;
                let mut want_ping = false;
                tokio::select! {
                    biased;
                    r = c.read_ops(|op| match op {
                        Op::Msg { .. } => n += 1,
                        Op::Pong => pong = true,
                        _ => {}
                    }) => {
                        r?;
                    }
                    _ = async { rx.wait_for(|v| *v).await.map(|_| ()) }, if !ping_sent => {
                        want_ping = true;
                    }
                }
                if want_ping && !ping_sent {
                    c.send(b"PING\r\n").await?;
                    ping_sent = true;
                }
                if n > 0 {
                    count += n;
                    last = Some(Instant::now());
                    progress.fetch_add(n, Ordering::Relaxed);
                }
                if pong && ping_sent {
                    return Ok((count, last, c.wire_in() - wire0));
                }
            }
        }));
    }

    let compressed = pubs.first().is_some_and(Conn::deflate);
    // PUB ops, one per distinct body. JSON-like bodies differ from message
    // to message (slices of one long record stream), so compression sees
    // realistic data rather than one message repeated.
    let ops: Vec<Vec<u8>> = if cfg.json {
        let stream = json_payload(cfg.size.max(1) * JSON_BODIES);
        (0..JSON_BODIES)
            .map(|k| {
                let body = &stream[k * cfg.size..(k + 1) * cfg.size];
                let mut v = Vec::new();
                push_pub(&mut v, cfg.subject.as_bytes(), None, body);
                v
            })
            .collect()
    } else {
        let mut v = Vec::new();
        push_pub(&mut v, cfg.subject.as_bytes(), None, &payload(cfg.size));
        vec![v]
    };
    let per_batch = (cfg.batch_bytes / ops[0].len()).max(1);
    // Batches cycle through the bodies; each is built (and compressed) once,
    // before the clock starts.
    let nbatches = if ops.len() > 1 { BATCH_VARIANTS } else { 1 };
    let batch_bytes = |j: usize, count: usize| -> Vec<u8> {
        let mut v = Vec::with_capacity(count * ops[0].len());
        for m in 0..count {
            v.extend_from_slice(&ops[(j * per_batch + m) % ops.len()]);
        }
        v
    };
    let mut prepared = Vec::with_capacity(pubs.len());
    for (i, c) in pubs.into_iter().enumerate() {
        let n = share(cfg.msgs, cfg.pubs, i);
        let full = (n / per_batch as u64) as usize;
        let rest = (n % per_batch as u64) as usize;
        let batches: Vec<Batch> = if full > 0 {
            (0..nbatches.min(full))
                .map(|j| c.batch(&batch_bytes(j, per_batch)))
                .collect()
        } else {
            Vec::new()
        };
        let tail = batch_bytes(full, rest);
        prepared.push((c, batches, full, tail));
    }
    let start = Instant::now();
    let mut pub_tasks: Vec<JoinHandle<Result<(Instant, u64), Error>>> = Vec::new();
    for (mut c, mut batches, full, tail) in prepared {
        pub_tasks.push(tokio::spawn(async move {
            let wire0 = c.wire_out();
            let nb = batches.len();
            for k in 0..full {
                c.send_batch(&mut batches[k % nb]).await?;
            }
            if !tail.is_empty() {
                c.send(&tail).await?;
            }
            c.flush().await?;
            Ok((Instant::now(), c.wire_out() - wire0))
        }));
    }
    let mut pub_end = start;
    let mut pub_wire_bytes = 0;
    for t in pub_tasks {
        let (end, wire) = t
            .await
            .map_err(|e| Error::Other(format!("publisher task: {e}")))??;
        pub_end = pub_end.max(end);
        pub_wire_bytes += wire;
    }
    // Every publisher has its PONG, so the server has routed every message;
    // a PING/PONG on each subscriber now proves what reached it.
    let _ = flush_tx.send(true);
    let mut per_sub = Vec::new();
    let mut last_msg = start;
    let mut sub_wire_bytes = 0;
    for t in sub_tasks {
        let (count, last, wire) = t
            .await
            .map_err(|e| Error::Other(format!("subscriber task: {e}")))??;
        per_sub.push(count);
        sub_wire_bytes += wire;
        if let Some(l) = last {
            last_msg = last_msg.max(l);
        }
    }
    let delivered: u64 = per_sub.iter().sum();
    let expected = if cfg.queue.is_some() {
        cfg.msgs
    } else {
        cfg.msgs * cfg.subs as u64
    };
    let res = PubSubResult {
        delivered,
        expected,
        per_sub,
        elapsed: last_msg - start,
        pub_elapsed: pub_end - start,
        sub_wire_bytes,
        pub_wire_bytes,
        compressed,
    };
    if delivered != expected || (cfg.queue.is_none() && res.per_sub.iter().any(|&c| c != cfg.msgs))
    {
        return Err(Error::Other(format!(
            "MESSAGE LOSS: delivered {delivered} of {expected} (per subscriber {:?})",
            res.per_sub
        )));
    }
    Ok(res)
}

/// Request-reply parameters.
#[derive(Debug, Clone)]
pub(crate) struct ReqRepCfg {
    /// Timed requests.
    pub(crate) msgs: u64,
    /// Untimed requests first.
    pub(crate) warmup: u64,
    /// Request and reply payload size, bytes.
    pub(crate) size: usize,
}

/// One requester in a loop against one responder; returns the round-trip
/// latencies of the timed requests.
pub(crate) async fn reqrep(
    target: &Target,
    cfg: &ReqRepCfg,
    progress: Progress,
) -> Result<Histogram, Error> {
    let mut responder = Conn::connect(target).await?;
    responder.send(b"SUB bench.req 1\r\n").await?;
    responder.flush().await?;
    let inbox = format!("_INBOX.bench.{}", fastrand::u64(..));
    let mut requester = Conn::connect(target).await?;
    requester
        .send(format!("SUB {inbox} 1\r\n").as_bytes())
        .await?;
    requester.flush().await?;

    let body = payload(cfg.size);
    let reply_body = body.clone();
    let answered = Arc::new(AtomicU64::new(0));
    let answered2 = answered.clone();
    let resp_task: JoinHandle<Result<(), Error>> = tokio::spawn(async move {
        let mut out = Vec::new();
        loop {
            out.clear();
            let mut n = 0;
            responder
                .read_ops(|op| {
                    if let Op::Msg { reply: Some(r), .. } = op {
                        push_pub(&mut out, r, None, &reply_body);
                        n += 1;
                    }
                })
                .await?;
            if !out.is_empty() {
                responder.send(&out).await?;
                answered2.fetch_add(n, Ordering::Relaxed);
            }
        }
    });

    let mut req = Vec::new();
    push_pub(&mut req, b"bench.req", Some(inbox.as_bytes()), &body);
    let mut req = Batch::new(&req);
    let mut hist = Histogram::with_capacity(cfg.msgs as usize);
    let total = cfg.warmup + cfg.msgs;
    let r: Result<(), Error> = async {
        for i in 0..total {
            let t0 = Instant::now();
            requester.send_batch(&mut req).await?;
            let mut got = 0u32;
            while got == 0 {
                requester
                    .read_ops(|op| {
                        if matches!(op, Op::Msg { .. }) {
                            got += 1;
                        }
                    })
                    .await?;
            }
            if got != 1 {
                return Err(Error::Other(format!(
                    "request {i}: {got} replies, expected 1"
                )));
            }
            if i >= cfg.warmup {
                hist.record(t0.elapsed());
                progress.fetch_add(1, Ordering::Relaxed);
            }
        }
        requester.flush().await
    }
    .await;
    if resp_task.is_finished() {
        // The responder only ends on error.
        if let Ok(Err(e)) = resp_task.await {
            return Err(Error::Other(format!("responder: {e}")));
        }
        return Err(Error::Other("responder ended early".into()));
    }
    resp_task.abort();
    r?;
    let n = answered.load(Ordering::Relaxed);
    if n != total {
        return Err(Error::Other(format!(
            "responder answered {n} requests, expected {total}"
        )));
    }
    Ok(hist)
}

/// Opens `conns` connections (each through CONNECT and PING/PONG) with at
/// most `concurrency` handshakes in flight, and returns the open sockets.
pub(crate) async fn open_idle(
    target: &Target,
    conns: usize,
    concurrency: usize,
    progress: Progress,
) -> Result<Vec<tokio::net::TcpStream>, Error> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks: Vec<JoinHandle<Result<Vec<tokio::net::TcpStream>, Error>>> = Vec::new();
    for _ in 0..concurrency.clamp(1, conns.max(1)) {
        let next = next.clone();
        let target = target.clone();
        let progress = progress.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < conns {
                let c = Conn::connect_with_buf(&target, 4096).await?;
                mine.push(c.into_stream());
                progress.fetch_add(1, Ordering::Relaxed);
            }
            Ok(mine)
        }));
    }
    let mut all = Vec::with_capacity(conns);
    for t in tasks {
        all.extend(
            t.await
                .map_err(|e| Error::Other(format!("connect task: {e}")))??,
        );
    }
    Ok(all)
}

/// Full connects: TCP connect + upgrade (ws) + INFO + CONNECT + PING/PONG +
/// close, `count` times with `concurrency` loops. Returns per-connect times.
pub(crate) async fn connects(
    target: &Target,
    count: usize,
    concurrency: usize,
    progress: Progress,
) -> Result<Histogram, Error> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks: Vec<JoinHandle<Result<Histogram, Error>>> = Vec::new();
    for _ in 0..concurrency.clamp(1, count.max(1)) {
        let next = next.clone();
        let target = target.clone();
        let progress = progress.clone();
        tasks.push(tokio::spawn(async move {
            let mut h = Histogram::default();
            while next.fetch_add(1, Ordering::Relaxed) < count {
                let t0 = Instant::now();
                let c = Conn::connect_with_buf(&target, 4096).await?;
                h.record(t0.elapsed());
                c.close().await;
                progress.fetch_add(1, Ordering::Relaxed);
            }
            Ok(h)
        }));
    }
    let mut all = Histogram::with_capacity(count);
    for t in tasks {
        all.merge(
            &t.await
                .map_err(|e| Error::Other(format!("connect task: {e}")))??,
        );
    }
    Ok(all)
}

/// Checks that every idle socket still answers: one PING each, then reads
/// until a PONG arrives on each. Returns how many answered.
pub(crate) async fn ping_all(target: &Target, socks: &mut [tokio::net::TcpStream]) -> usize {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut frame = Vec::new();
    for s in socks.iter_mut() {
        frame.clear();
        if target.ws.is_some() {
            crate::ws::push_masked_frame(
                &mut frame,
                crate::ws::OP_BINARY,
                b"PING\r\n",
                fastrand::u32(..).to_ne_bytes(),
            );
        } else {
            frame.extend_from_slice(b"PING\r\n");
        }
        // A failed write shows up below as a missing PONG.
        let _ = s.write_all(&frame).await;
    }
    // Read answers; a server PONG is a few bytes, inside a frame on ws.
    let mut answered = 0;
    let mut buf = [0u8; 512];
    for s in socks.iter_mut() {
        let mut seen = Vec::new();
        loop {
            match tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => {
                    seen.extend_from_slice(&buf[..n]);
                    if seen.windows(6).any(|w| w == b"PONG\r\n") {
                        answered += 1;
                        break;
                    }
                }
                _ => break,
            }
        }
    }
    answered
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_payload_has_the_exact_size_and_compresses() {
        for size in [0, 1, 100, 1024, 5000] {
            assert_eq!(json_payload(size).len(), size);
        }
        let p = json_payload(1024);
        assert!(p.starts_with(b"[{\"seq\":0,"));
        let z = crate::ws::deflate_message(&p);
        assert!(z.len() < p.len() / 2, "{} of {}", z.len(), p.len());
    }

    #[test]
    fn share_splits_evenly() {
        let parts: Vec<u64> = (0..3).map(|i| share(10, 3, i)).collect();
        assert_eq!(parts, vec![4, 3, 3]);
        assert_eq!((0..4).map(|i| share(2, 4, i)).sum::<u64>(), 2);
    }
}
