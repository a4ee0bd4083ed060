//! The interop scenarios (`interop/scenarios.json`) for async-nats, over TCP or WebSocket.
//!
//! Run by `interop/matrix.mjs` (`cargo build -p natsws-server --example interop_client`)
//! with `INTEROP_CFG` in the environment: JSON with `transport`, `urls`
//! (`default`, `restart`, `users`, `token`, `tls`, `compression`), `creds`
//! (`user`, `pass`, `token`), `control` (the harness's HTTP base URL; `POST /restart`
//! restarts the `restart` server), `caFile` (the test CA, PEM), `prefix` and `ids`.
//! Prints one JSON line per scenario: `{"id", "status": "pass"|"fail", "detail", "ms"}`.

use std::future::Future;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::{Client, ConnectErrorKind, ConnectOptions, Event, HeaderMap, RequestErrorKind};
use futures_util::StreamExt;
use serde_json::{json, Value};

/// A failed expectation: the cell's detail.
#[derive(Debug)]
struct Fail(String);

impl<E: std::fmt::Display> From<E> for Fail {
    fn from(e: E) -> Self {
        Fail(e.to_string())
    }
}

type Outcome = Result<(), Fail>;

fn check(cond: bool, what: impl Into<String>) -> Outcome {
    if cond {
        Ok(())
    } else {
        Err(Fail(what.into()))
    }
}

/// Awaits `f` for at most `secs` seconds.
async fn within<T>(secs: u64, what: &str, f: impl Future<Output = T>) -> Result<T, Fail> {
    tokio::time::timeout(Duration::from_secs(secs), f)
        .await
        .map_err(|_| Fail(format!("timeout after {secs} s: {what}")))
}

/// Deterministic pseudo-random bytes (xorshift32), the same as `interop/scenarios.mjs`.
fn prng(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x & 0xff) as u8
        })
        .collect()
}

struct Ctx {
    cfg: Value,
}

impl Ctx {
    fn s(&self, path: &[&str]) -> String {
        let mut v = &self.cfg;
        for p in path {
            v = &v[*p];
        }
        v.as_str().unwrap_or_default().to_string()
    }

    fn url(&self, name: &str) -> String {
        self.s(&["urls", name])
    }

    fn subj(&self, tag: &str) -> String {
        format!("{}.{tag}", self.s(&["prefix"]))
    }

    fn options(&self) -> ConnectOptions {
        ConnectOptions::new()
            .name("interop-async-nats")
            .connection_timeout(Duration::from_secs(10))
            .add_root_certificates(PathBuf::from(self.s(&["caFile"])))
    }

    async fn connect(&self, name: &str) -> Result<Client, Fail> {
        self.connect_with(name, self.options()).await
    }

    async fn connect_with(&self, name: &str, opts: ConnectOptions) -> Result<Client, Fail> {
        let url = self.url(name);
        let client = within(10, "connect", opts.connect(url.as_str())).await??;
        Ok(client)
    }

    /// `POST <control>/restart` over a plain HTTP/1.1 connection; expects 204.
    async fn restart(&self) -> Outcome {
        let control = self.s(&["control"]);
        let addr = control.trim_start_matches("http://").to_string();
        let status = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
            let mut s = std::net::TcpStream::connect(&addr)?;
            s.set_read_timeout(Some(Duration::from_secs(60)))?;
            write!(
                s,
                "POST /restart HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )?;
            let mut resp = String::new();
            s.read_to_string(&mut resp)?;
            Ok(resp.lines().next().unwrap_or_default().to_string())
        })
        .await??;
        check(status.contains(" 204"), format!("restart: {status}"))
    }
}

async fn round_trip(ctx: &Ctx, client: &Client, tag: &str) -> Outcome {
    let subj = ctx.subj(tag);
    let mut sub = client.subscribe(subj.clone()).await?;
    client.flush().await?;
    client
        .publish(subj, format!("hello {tag}").into_bytes().into())
        .await?;
    let m = within(5, "round trip", sub.next()).await?;
    let m = m.ok_or_else(|| Fail("subscription ended".into()))?;
    check(
        m.payload.as_ref() == format!("hello {tag}").as_bytes(),
        format!("{tag}: payload {:?}", m.payload),
    )
}

/// Proves the server has processed everything `client` sent before: a message to itself
/// comes back. (async-nats `flush` only writes the buffer out; it is not a PING/PONG.)
async fn barrier(ctx: &Ctx, client: &Client, tag: &str) -> Outcome {
    round_trip(ctx, client, tag).await
}

async fn expect_auth_failure(ctx: &Ctx, name: &str, opts: ConnectOptions) -> Outcome {
    match within(
        10,
        "connect with bad credentials",
        opts.connect(ctx.url(name)),
    )
    .await?
    {
        Ok(_) => Err(Fail("bad credentials: connect succeeded".into())),
        Err(e) => check(
            e.kind() == ConnectErrorKind::AuthorizationViolation,
            format!(
                "bad credentials: expected Authorization Violation, got {e} ({:?})",
                e.kind()
            ),
        ),
    }
}

async fn s_connect(ctx: &Ctx) -> Outcome {
    let client = ctx.connect("default").await?;
    let info = client.server_info();
    check(!info.server_id.is_empty(), "INFO without server_id")?;
    check(
        info.max_payload > 0,
        format!("max_payload {}", info.max_payload),
    )?;
    within(5, "PING/PONG", client.flush()).await??;
    drop(client);
    Ok(())
}

async fn s_pubsub(ctx: &Ctx) -> Outcome {
    let client = ctx.connect("default").await?;
    let mut sub = client.subscribe(ctx.subj("ps")).await?;
    client.flush().await?;
    for i in 0..100 {
        client
            .publish(ctx.subj("ps"), i.to_string().into_bytes().into())
            .await?;
    }
    for i in 0..100 {
        let m = within(5, "pub/sub", sub.next()).await?;
        let m = m.ok_or_else(|| Fail("subscription ended".into()))?;
        check(
            m.payload.as_ref() == i.to_string().as_bytes(),
            format!("message {i} is {:?}", m.payload),
        )?;
    }
    Ok(())
}

async fn s_request(ctx: &Ctx) -> Outcome {
    let client = ctx.connect("default").await?;
    let mut svc = client.subscribe(ctx.subj("svc")).await?;
    let responder = client.clone();
    tokio::spawn(async move {
        while let Some(m) = svc.next().await {
            if let Some(reply) = m.reply {
                let mut data = m.payload.to_vec();
                data.reverse();
                let _ = responder.publish(reply, data.into()).await;
            }
        }
    });
    client.flush().await?;
    let r = within(
        5,
        "request",
        client.request(ctx.subj("svc"), "interop".into()),
    )
    .await??;
    check(
        r.payload.as_ref() == b"poretni",
        format!("reply {:?}", r.payload),
    )
}

async fn s_headers(ctx: &Ctx) -> Outcome {
    let client = ctx.connect("default").await?;
    let mut sub = client.subscribe(ctx.subj("hdr")).await?;
    client.flush().await?;
    let mut h = HeaderMap::new();
    h.insert("X-Interop", "1");
    h.append("X-Multi", "a");
    h.append("X-Multi", "b");
    client
        .publish_with_headers(ctx.subj("hdr"), h, "with headers".into())
        .await?;
    let m = within(5, "headers", sub.next()).await?;
    let m = m.ok_or_else(|| Fail("subscription ended".into()))?;
    let h = m
        .headers
        .ok_or_else(|| Fail("message without headers".into()))?;
    check(
        h.get("X-Interop").map(|v| v.as_str()) == Some("1"),
        "X-Interop",
    )?;
    let multi: Vec<&str> = h.get_all("X-Multi").map(|v| v.as_str()).collect();
    check(multi == ["a", "b"], format!("X-Multi {multi:?}"))?;
    check(m.payload.as_ref() == b"with headers", "payload")
}

async fn s_no_responders(ctx: &Ctx) -> Outcome {
    let client = ctx.connect("default").await?;
    let t0 = Instant::now();
    match within(5, "request", client.request(ctx.subj("nobody"), "x".into())).await? {
        Ok(_) => Err(Fail("request to nobody got a reply".into())),
        Err(e) => {
            check(
                e.kind() == RequestErrorKind::NoResponders,
                format!("expected no responders, got {e}"),
            )?;
            check(
                t0.elapsed() < Duration::from_millis(2500),
                "no responders only after a timeout",
            )
        }
    }
}

async fn s_queue(ctx: &Ctx) -> Outcome {
    let a = ctx.connect("default").await?;
    let b = ctx.connect("default").await?;
    let seen = Arc::new(Mutex::new(Vec::<(usize, Vec<u8>)>::new()));
    let (tx, mut rx) = tokio::sync::mpsc::channel::<()>(256);
    for (k, c) in [&a, &b].into_iter().enumerate() {
        let mut sub = c
            .queue_subscribe(ctx.subj("q"), "workers".to_string())
            .await?;
        let (seen, tx) = (seen.clone(), tx.clone());
        tokio::spawn(async move {
            while let Some(m) = sub.next().await {
                if let Ok(mut s) = seen.lock() {
                    s.push((k, m.payload.to_vec()));
                }
                let _ = tx.send(()).await;
            }
        });
    }
    barrier(ctx, &a, "qa").await?;
    barrier(ctx, &b, "qb").await?;
    for i in 0..100 {
        a.publish(ctx.subj("q"), i.to_string().into_bytes().into())
            .await?;
    }
    for n in 0..100 {
        within(10, &format!("queue group: {n}/100"), rx.recv()).await?;
    }
    barrier(ctx, &a, "qa2").await?;
    barrier(ctx, &b, "qb2").await?;
    let seen = seen.lock().map_err(|_| Fail("poisoned".into()))?.clone();
    let mut distinct: Vec<&Vec<u8>> = seen.iter().map(|(_, p)| p).collect();
    distinct.sort();
    distinct.dedup();
    check(
        seen.len() == 100 && distinct.len() == 100,
        format!(
            "queue group delivered {} ({} distinct)",
            seen.len(),
            distinct.len()
        ),
    )?;
    let first = seen.iter().filter(|(k, _)| *k == 0).count();
    check(
        first > 0 && first < 100,
        format!("queue group split {first}/100"),
    )
}

async fn s_unsub_max(ctx: &Ctx) -> Outcome {
    let client = ctx.connect("default").await?;
    let mut sub = client.subscribe(ctx.subj("max")).await?;
    sub.unsubscribe_after(3).await?;
    client.flush().await?;
    for i in 0..5 {
        client
            .publish(ctx.subj("max"), i.to_string().into_bytes().into())
            .await?;
    }
    let mut got = Vec::new();
    // The stream ends after the third message.
    within(5, "subscription end after max", async {
        while let Some(m) = sub.next().await {
            got.push(String::from_utf8_lossy(&m.payload).into_owned());
        }
    })
    .await?;
    check(got == ["0", "1", "2"], format!("got {got:?}"))
}

async fn s_drain(ctx: &Ctx) -> Outcome {
    let client = ctx.connect("default").await?;
    let mut sub = client.subscribe(ctx.subj("drain")).await?;
    client.flush().await?;
    for i in 0..50 {
        client
            .publish(ctx.subj("drain"), i.to_string().into_bytes().into())
            .await?;
    }
    // async-nats drains by unsubscribing at once and ending each stream after what it holds:
    // messages still on the wire are dropped. The barrier puts all 50 in the stream first.
    barrier(ctx, &client, "drain-fence").await?;
    within(10, "drain", client.drain()).await??;
    let mut n = 0;
    within(5, "subscription end after drain", async {
        while sub.next().await.is_some() {
            n += 1;
        }
    })
    .await?;
    check(n == 50, format!("drained {n}/50"))
}

async fn s_reconnect(ctx: &Ctx) -> Outcome {
    let disconnected = Arc::new(AtomicBool::new(false));
    let (tx, mut rx) = tokio::sync::mpsc::channel::<()>(8);
    let d = disconnected.clone();
    let opts = ctx
        .options()
        .reconnect_delay_callback(|_| Duration::from_millis(100))
        .event_callback(move |ev| {
            let (d, tx) = (d.clone(), tx.clone());
            async move {
                match ev {
                    Event::Disconnected => d.store(true, Ordering::SeqCst),
                    Event::Connected => {
                        let _ = tx.send(()).await;
                    }
                    _ => {}
                }
            }
        });
    let client = ctx.connect_with("restart", opts).await?;
    let mut sub = client.subscribe(ctx.subj("rc")).await?;
    client.flush().await?;
    // The first Connected event may be the initial connect: drain what is there now.
    while rx.try_recv().is_ok() {}
    ctx.restart().await?;
    within(20, "reconnect event", rx.recv()).await?;
    check(disconnected.load(Ordering::SeqCst), "no disconnect event")?;
    client.publish(ctx.subj("rc"), "after".into()).await?;
    let m = within(5, "message after reconnect", sub.next()).await?;
    let m = m.ok_or_else(|| Fail("subscription ended".into()))?;
    check(m.payload.as_ref() == b"after", "payload after reconnect")
}

async fn s_auth_user(ctx: &Ctx) -> Outcome {
    let (user, pass) = (ctx.s(&["creds", "user"]), ctx.s(&["creds", "pass"]));
    let opts = ctx.options().user_and_password(user.clone(), pass.clone());
    let client = ctx.connect_with("users", opts).await?;
    round_trip(ctx, &client, "user").await?;
    let bad = ctx
        .options()
        .user_and_password(user, format!("{pass}-wrong"));
    expect_auth_failure(ctx, "users", bad).await
}

async fn s_auth_token(ctx: &Ctx) -> Outcome {
    let token = ctx.s(&["creds", "token"]);
    let client = ctx
        .connect_with("token", ctx.options().token(token.clone()))
        .await?;
    round_trip(ctx, &client, "token").await?;
    let bad = ctx.options().token(format!("{token}-wrong"));
    expect_auth_failure(ctx, "token", bad).await
}

async fn s_tls(ctx: &Ctx) -> Outcome {
    let client = ctx
        .connect_with("tls", ctx.options().require_tls(true))
        .await?;
    round_trip(ctx, &client, "tls").await
}

async fn s_large(ctx: &Ctx) -> Outcome {
    let client = ctx.connect("default").await?;
    let mut sub = client.subscribe(ctx.subj("big")).await?;
    client.flush().await?;
    let data = prng(200 * 1024, 7);
    client.publish(ctx.subj("big"), data.clone().into()).await?;
    let m = within(10, "200 KiB message", sub.next()).await?;
    let m = m.ok_or_else(|| Fail("subscription ended".into()))?;
    check(
        m.payload.as_ref() == data.as_slice(),
        format!("200 KiB payload differs (got {} bytes)", m.payload.len()),
    )
}

async fn s_compression(ctx: &Ctx) -> Outcome {
    let client = ctx.connect("compression").await?;
    let mut sub = client.subscribe(ctx.subj("z")).await?;
    client.flush().await?;
    let mut payloads: Vec<Vec<u8>> = [10usize, 4096, 200 * 1024]
        .iter()
        .zip(11u32..)
        .map(|(n, seed)| prng(*n, seed))
        .collect();
    payloads.push("natsws compression ".repeat(64 * 1024 / 19).into_bytes());
    for p in &payloads {
        client.publish(ctx.subj("z"), p.clone().into()).await?;
    }
    for (i, p) in payloads.iter().enumerate() {
        let m = within(10, "compressed messages", sub.next()).await?;
        let m = m.ok_or_else(|| Fail("subscription ended".into()))?;
        check(
            m.payload.as_ref() == p.as_slice(),
            format!("compressed message {i} ({} B) differs", p.len()),
        )?;
    }
    Ok(())
}

async fn run(ctx: &Ctx, id: &str) -> Outcome {
    match id {
        "connect" => s_connect(ctx).await,
        "pubsub" => s_pubsub(ctx).await,
        "request" => s_request(ctx).await,
        "headers" => s_headers(ctx).await,
        "no_responders" => s_no_responders(ctx).await,
        "queue" => s_queue(ctx).await,
        "unsub_max" => s_unsub_max(ctx).await,
        "drain" => s_drain(ctx).await,
        "reconnect" => s_reconnect(ctx).await,
        "auth_user" => s_auth_user(ctx).await,
        "auth_token" => s_auth_token(ctx).await,
        "tls" => s_tls(ctx).await,
        "large" => s_large(ctx).await,
        "compression" => s_compression(ctx).await,
        other => Err(Fail(format!("no body for scenario {other}"))),
    }
}

#[tokio::main]
async fn main() {
    let raw = std::env::var("INTEROP_CFG").unwrap_or_default();
    let cfg: Value = match serde_json::from_str(&raw) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("INTEROP_CFG: {e} (run through interop/matrix.mjs)");
            std::process::exit(2);
        }
    };
    let ids: Vec<String> = cfg["ids"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let ctx = Ctx { cfg };
    for id in ids {
        let t0 = Instant::now();
        let r = match within(45, &id, run(&ctx, &id)).await {
            Ok(r) => r,
            Err(e) => Err(e),
        };
        let line = match r {
            Ok(()) => json!({ "id": id, "status": "pass", "ms": t0.elapsed().as_millis() as u64 }),
            Err(Fail(detail)) => {
                json!({ "id": id, "status": "fail", "detail": detail, "ms": t0.elapsed().as_millis() as u64 })
            }
        };
        println!("{line}");
    }
}
