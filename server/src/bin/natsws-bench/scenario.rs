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
}

/// What a subscriber task ends with: messages received and when the last one
/// arrived.
type SubOutcome = Result<(u64, Option<Instant>), Error>;

/// Payload of `size` bytes (printable, so a capture stays readable).
fn payload(size: usize) -> Vec<u8> {
    (0..size).map(|i| b'a' + (i % 26) as u8).collect()
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
                    return Ok((count, last));
                }
            }
        }));
    }

    let one = {
        let mut v = Vec::new();
        push_pub(&mut v, cfg.subject.as_bytes(), None, &payload(cfg.size));
        v
    };
    let per_batch = (cfg.batch_bytes / one.len()).max(1);
    let start = Instant::now();
    let mut pub_tasks: Vec<JoinHandle<Result<Instant, Error>>> = Vec::new();
    for (i, mut c) in pubs.into_iter().enumerate() {
        let n = share(cfg.msgs, cfg.pubs, i);
        let one = one.clone();
        pub_tasks.push(tokio::spawn(async move {
            let full = (n / per_batch as u64) as usize;
            let rest = (n % per_batch as u64) as usize;
            if full > 0 {
                let mut b = Batch::new(&one.repeat(per_batch));
                for _ in 0..full {
                    c.send_batch(&mut b).await?;
                }
            }
            if rest > 0 {
                c.send(&one.repeat(rest)).await?;
            }
            c.flush().await?;
            Ok(Instant::now())
        }));
    }
    let mut pub_end = start;
    for t in pub_tasks {
        let end = t
            .await
            .map_err(|e| Error::Other(format!("publisher task: {e}")))??;
        pub_end = pub_end.max(end);
    }
    // Every publisher has its PONG, so the server has routed every message;
    // a PING/PONG on each subscriber now proves what reached it.
    let _ = flush_tx.send(true);
    let mut per_sub = Vec::new();
    let mut last_msg = start;
    for t in sub_tasks {
        let (count, last) = t
            .await
            .map_err(|e| Error::Other(format!("subscriber task: {e}")))??;
        per_sub.push(count);
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
