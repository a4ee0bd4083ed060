//! `natsws-bench`: a load generator for any NATS server, over TCP
//! (`nats://host:port`) or WebSocket (`ws://host:port[/path]`).
//!
//! It speaks the raw protocol with its own minimal client (no natsws-core):
//! big buffered PUB batches, a hand-written MSG/PONG parser, its own
//! WebSocket upgrade and masked framing. Every message is counted at the
//! receiver and each run ends with a PING/PONG flush; any loss fails the
//! run. Only loopback targets are accepted. Every run is bounded by
//! `--timeout`. See docs/benchmarks.md and scripts/bench-compare.
//!
//! The package is deliberately independent of `natsws-core` and
//! `natsws-server`: its parser and WebSocket codec are a second,
//! separately written implementation, so the bench is an oracle that cannot
//! share a bug with the server it measures. Keep it that way; do not replace
//! its codec with the core's to remove the duplication. It lives in
//! `server/bench/` as its own package (not published), outside the
//! workspace's default members.

mod conn;
mod hist;
mod mqtt;
mod mqtt_cmd;
mod proto;
mod scenario;
mod sys;
mod ws;

use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use clap::{Args, Parser, Subcommand};
use serde_json::{json, Map, Value};

use crate::conn::{Error, Target};
use crate::hist::Summary;
use crate::scenario::{PubSubCfg, ReqRepCfg};
use crate::sys::CpuTimes;

/// Load generator for NATS servers (nats:// and ws:// on loopback).
#[derive(Debug, Parser)]
#[command(name = "natsws-bench", version)]
pub(crate) struct Cli {
    /// Server URL: nats://127.0.0.1:4222 or ws://127.0.0.1:8080[/path].
    #[arg(long, global = true, default_value = "nats://127.0.0.1:4222")]
    pub(crate) url: String,
    /// Also print one JSON line with every figure (for scripts).
    #[arg(long, global = true)]
    json: bool,
    /// Give up (and fail) after this many seconds.
    #[arg(long, global = true, default_value_t = 60.0)]
    timeout: f64,
    /// Server process id: its CPU use is reported, and `idle` reads its RSS.
    #[arg(long, global = true)]
    pub(crate) server_pid: Option<u32>,
    /// WebSocket only: offer permessage-deflate, fail if the server does not
    /// accept it, send publisher batches compressed and inflate deliveries.
    #[arg(long, global = true)]
    compress: bool,
    /// Tokio worker threads of the bench.
    #[arg(long, global = true, default_value_t = 2)]
    threads: usize,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// N publishers → M subscribers (defaults 1 → 1, 1,000,000 msgs of 128 B).
    Pubsub(PubSubArgs),
    /// 1 publisher → 32 subscribers; counts delivered msgs (defaults 100,000 msgs of 128 B).
    Fanout(PubSubArgs),
    /// 1 publisher → M subscribers in one queue group (defaults 4 subs, 1,000,000 msgs).
    Queue(PubSubArgs),
    /// Request-reply latency: one requester in a loop, one responder.
    Reqrep(ReqRepArgs),
    /// Open many idle connections; with --server-pid, report server RSS per connection.
    Idle(IdleArgs),
    /// Full connects per second (TCP + upgrade + INFO + CONNECT + PING/PONG + close).
    Connects(ConnectsArgs),
    /// MQTT 3.1.1: 1 publisher → M subscribers on one topic, QoS 0 or 1 (defaults 1 sub, 1,000,000 msgs of 128 B, QoS 0).
    MqttPubsub(mqtt_cmd::MqttPubSubArgs),
    /// MQTT 3.1.1: open many connections with one subscription each; with --server-pid, report server RSS per connection.
    MqttIdle(IdleArgs),
}

#[derive(Debug, Args)]
struct PubSubArgs {
    /// Publishing connections.
    #[arg(long)]
    pubs: Option<usize>,
    /// Subscribing connections.
    #[arg(long)]
    subs: Option<usize>,
    /// Messages published in total.
    #[arg(long)]
    msgs: Option<u64>,
    /// Payload size in bytes.
    #[arg(long)]
    size: Option<usize>,
    /// Queue group name for the subscribers.
    #[arg(long)]
    queue: Option<String>,
    /// Bytes per publisher write (PUBs are batched up to this size).
    #[arg(long, default_value_t = 64 * 1024)]
    batch: usize,
    /// Subject.
    #[arg(long, default_value = "bench.subject")]
    subject: String,
    /// Payload content: `alpha` (repeating a-z) or `json` (JSON-like records).
    #[arg(long, default_value = "alpha", value_parser = ["alpha", "json"])]
    payload: String,
}

#[derive(Debug, Args)]
struct ReqRepArgs {
    /// Timed requests.
    #[arg(long, default_value_t = 20_000)]
    msgs: u64,
    /// Untimed warm-up requests.
    #[arg(long, default_value_t = 1_000)]
    warmup: u64,
    /// Request and reply payload size in bytes.
    #[arg(long, default_value_t = 128)]
    size: usize,
}

#[derive(Debug, Args)]
pub(crate) struct IdleArgs {
    /// Connections to open and hold.
    #[arg(long, default_value_t = 1_000)]
    pub(crate) conns: usize,
    /// Handshakes in flight at once.
    #[arg(long, default_value_t = 64)]
    pub(crate) concurrency: usize,
}

#[derive(Debug, Args)]
struct ConnectsArgs {
    /// Connections to make.
    #[arg(long, default_value_t = 5_000)]
    count: usize,
    /// Concurrent connect loops.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
}

/// What a scenario produced, printed as text and as a JSON object.
pub(crate) struct Report {
    fields: Map<String, Value>,
    lines: Vec<String>,
}

impl Report {
    /// The server's RSS before and after opening `conns` idle connections
    /// (KiB, from /proc): the per-connection figure is the primary result.
    fn rss_per_conn(&mut self, before: Option<u64>, after: Option<u64>, conns: usize) {
        match (before, after) {
            (Some(b), Some(af)) => {
                let per = (af as f64 - b as f64) / conns.max(1) as f64;
                self.set("server_rss_before_kib", json!(b));
                self.set("server_rss_after_kib", json!(af));
                self.set("rss_kib_per_conn", json!(per));
                self.primary("rss_kib_per_conn", per, "KiB", false);
                self.line(format!(
                    "  server RSS {b} KiB → {af} KiB: {per:.2} KiB per connection"
                ));
            }
            _ => self.line("  (no --server-pid or /proc unreadable: RSS not measured)".into()),
        }
    }

    pub(crate) fn new(scenario: &str, target: &Target, url: &str) -> Report {
        let mut fields = Map::new();
        fields.insert("scenario".into(), json!(scenario));
        fields.insert("transport".into(), json!(target.transport()));
        fields.insert("url".into(), json!(url));
        Report {
            fields,
            lines: Vec::new(),
        }
    }

    pub(crate) fn set(&mut self, k: &str, v: Value) {
        self.fields.insert(k.into(), v);
    }

    /// The figure scripts compare: name, value, unit, and which way is better.
    pub(crate) fn primary(&mut self, name: &str, value: f64, unit: &str, higher_is_better: bool) {
        self.set(
            "primary",
            json!({"name": name, "value": value, "unit": unit,
                   "better": if higher_is_better { "higher" } else { "lower" }}),
        );
    }

    pub(crate) fn line(&mut self, s: String) {
        self.lines.push(s);
    }
}

pub(crate) fn fmt_rate(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.3} M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.2} k", v / 1e3)
    } else {
        format!("{v:.1} ")
    }
}

fn latency_json(s: &Summary) -> Value {
    json!({"count": s.count, "min_us": s.min_us, "mean_us": s.mean_us, "p50_us": s.p50_us,
           "p90_us": s.p90_us, "p99_us": s.p99_us, "p99_9_us": s.p999_us, "max_us": s.max_us})
}

fn latency_line(label: &str, s: &Summary) -> String {
    format!(
        "{label}: p50 {:.1} µs, p90 {:.1} µs, p99 {:.1} µs, p99.9 {:.1} µs (min {:.1}, mean {:.1}, max {:.1}; n={})",
        s.p50_us, s.p90_us, s.p99_us, s.p999_us, s.min_us, s.mean_us, s.max_us, s.count
    )
}

fn pubsub_cfg(
    a: &PubSubArgs,
    pubs: usize,
    subs: usize,
    msgs: u64,
    queue: Option<&str>,
) -> PubSubCfg {
    PubSubCfg {
        pubs: a.pubs.unwrap_or(pubs),
        subs: a.subs.unwrap_or(subs),
        msgs: a.msgs.unwrap_or(msgs),
        size: a.size.unwrap_or(128),
        queue: a.queue.clone().or(queue.map(str::to_string)),
        batch_bytes: a.batch,
        subject: a.subject.clone(),
        json: a.payload == "json",
    }
}

async fn run(cli: &Cli, target: &Target, progress: scenario::Progress) -> Result<Report, Error> {
    match &cli.cmd {
        Cmd::Pubsub(a) | Cmd::Fanout(a) | Cmd::Queue(a) => {
            let (name, cfg) = match &cli.cmd {
                Cmd::Pubsub(_) => ("pubsub", pubsub_cfg(a, 1, 1, 1_000_000, None)),
                Cmd::Fanout(_) => ("fanout", pubsub_cfg(a, 1, 32, 100_000, None)),
                _ => ("queue", pubsub_cfg(a, 1, 4, 1_000_000, Some("bench-q"))),
            };
            let r = scenario::pubsub(target, &cfg, progress).await?;
            let mut rep = Report::new(name, target, &cli.url);
            let secs = r.elapsed.as_secs_f64().max(1e-9);
            let delivered_rate = r.delivered as f64 / secs;
            let pub_rate = cfg.msgs as f64 / r.pub_elapsed.as_secs_f64().max(1e-9);
            let mb = r.delivered as f64 * cfg.size as f64 / secs / 1e6;
            rep.set("pubs", json!(cfg.pubs));
            rep.set("subs", json!(cfg.subs));
            rep.set("queue", json!(cfg.queue));
            rep.set("size", json!(cfg.size));
            rep.set("msgs", json!(cfg.msgs));
            rep.set("delivered", json!(r.delivered));
            rep.set("elapsed_s", json!(secs));
            rep.set("delivered_msgs_per_s", json!(delivered_rate));
            rep.set("published_msgs_per_s", json!(pub_rate));
            rep.set("payload_mb_per_s", json!(mb));
            rep.set("per_sub", json!(r.per_sub));
            rep.set("payload", json!(a.payload));
            rep.set("compression", json!(r.compressed));
            rep.set("sub_wire_bytes", json!(r.sub_wire_bytes));
            rep.set("pub_wire_bytes", json!(r.pub_wire_bytes));
            let per_delivered = r.sub_wire_bytes as f64 / r.delivered.max(1) as f64;
            let per_published = r.pub_wire_bytes as f64 / cfg.msgs.max(1) as f64;
            rep.set("sub_wire_bytes_per_msg", json!(per_delivered));
            rep.set("pub_wire_bytes_per_msg", json!(per_published));
            rep.primary("delivered_msgs_per_s", delivered_rate, "msg/s", true);
            rep.line(format!(
                "{} {} pubs={} subs={}{} size={} B msgs={}",
                name,
                cli.url,
                cfg.pubs,
                cfg.subs,
                cfg.queue
                    .as_deref()
                    .map(|q| format!(" queue={q}"))
                    .unwrap_or_default(),
                cfg.size,
                cfg.msgs
            ));
            rep.line(format!(
                "  delivered {} of {} msgs in {:.3} s: {}msg/s, {:.1} MB/s payload",
                r.delivered,
                r.expected,
                secs,
                fmt_rate(delivered_rate),
                mb
            ));
            rep.line(format!(
                "  published {}msg/s ({:.3} s to the last publisher PONG)",
                fmt_rate(pub_rate),
                r.pub_elapsed.as_secs_f64()
            ));
            rep.line(format!(
                "  on the wire ({} payload, compression {}): subscribers read {:.1} MB ({per_delivered:.1} B/msg), publishers wrote {:.1} MB ({per_published:.1} B/msg)",
                a.payload,
                if r.compressed { "on" } else { "off" },
                r.sub_wire_bytes as f64 / 1e6,
                r.pub_wire_bytes as f64 / 1e6,
            ));
            Ok(rep)
        }
        Cmd::Reqrep(a) => {
            let cfg = ReqRepCfg {
                msgs: a.msgs,
                warmup: a.warmup,
                size: a.size,
            };
            let t0 = Instant::now();
            let mut h = scenario::reqrep(target, &cfg, progress).await?;
            let s = h
                .summary()
                .ok_or_else(|| Error::Other("no requests timed (--msgs 0)".into()))?;
            let mut rep = Report::new("reqrep", target, &cli.url);
            rep.set("size", json!(a.size));
            rep.set("msgs", json!(a.msgs));
            rep.set("warmup", json!(a.warmup));
            rep.set("latency", latency_json(&s));
            rep.set(
                "requests_per_s",
                json!((a.msgs + a.warmup) as f64 / t0.elapsed().as_secs_f64()),
            );
            rep.primary("p99_us", s.p99_us, "µs", false);
            rep.line(format!(
                "reqrep {} size={} B requests={}",
                cli.url, a.size, a.msgs
            ));
            rep.line(latency_line("  round trip", &s));
            Ok(rep)
        }
        Cmd::Idle(a) => {
            let before = cli.server_pid.and_then(sys::rss_kib);
            let t0 = Instant::now();
            let mut socks = scenario::open_idle(target, a.conns, a.concurrency, progress).await?;
            let open_s = t0.elapsed().as_secs_f64();
            let after = cli.server_pid.and_then(sys::rss_kib);
            let alive = scenario::ping_all(target, &mut socks).await;
            drop(socks);
            if alive != a.conns {
                return Err(Error::Other(format!(
                    "only {alive} of {} idle connections still answer PING",
                    a.conns
                )));
            }
            let mut rep = Report::new("idle", target, &cli.url);
            rep.set("conns", json!(a.conns));
            rep.set("open_s", json!(open_s));
            rep.line(format!(
                "idle {} conns={} opened in {:.2} s, all answered PING",
                cli.url, a.conns, open_s
            ));
            rep.rss_per_conn(before, after, a.conns);
            Ok(rep)
        }
        Cmd::MqttPubsub(a) => mqtt_cmd::pubsub(cli, target, a, progress).await,
        Cmd::MqttIdle(a) => mqtt_cmd::idle(cli, target, a, progress).await,
        Cmd::Connects(a) => {
            let t0 = Instant::now();
            let mut h = scenario::connects(target, a.count, a.concurrency, progress).await?;
            let secs = t0.elapsed().as_secs_f64();
            let rate = a.count as f64 / secs;
            let mut rep = Report::new("connects", target, &cli.url);
            rep.set("count", json!(a.count));
            rep.set("concurrency", json!(a.concurrency));
            rep.set("elapsed_s", json!(secs));
            rep.set("connects_per_s", json!(rate));
            rep.primary("connects_per_s", rate, "conn/s", true);
            rep.line(format!(
                "connects {} count={} concurrency={}",
                cli.url, a.count, a.concurrency
            ));
            rep.line(format!(
                "  {} connects in {secs:.3} s: {}conn/s",
                a.count,
                fmt_rate(rate)
            ));
            if let Some(s) = h.summary() {
                rep.set("connect_latency", latency_json(&s));
                rep.line(latency_line("  connect time", &s));
            }
            Ok(rep)
        }
    }
}

fn scenario_name(cmd: &Cmd) -> &'static str {
    match cmd {
        Cmd::Pubsub(_) => "pubsub",
        Cmd::Fanout(_) => "fanout",
        Cmd::Queue(_) => "queue",
        Cmd::Reqrep(_) => "reqrep",
        Cmd::Idle(_) => "idle",
        Cmd::Connects(_) => "connects",
        Cmd::MqttPubsub(_) => "mqtt-pubsub",
        Cmd::MqttIdle(_) => "mqtt-idle",
    }
}

fn fail(cli: &Cli, msg: &str) -> ExitCode {
    eprintln!("natsws-bench {}: FAILED: {msg}", scenario_name(&cli.cmd));
    if cli.json {
        println!(
            "{}",
            json!({"scenario": scenario_name(&cli.cmd), "url": cli.url, "ok": false, "error": msg})
        );
    }
    ExitCode::FAILURE
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.threads.max(1))
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&cli, &format!("tokio runtime: {e}")),
    };
    let mut target = match rt.block_on(Target::parse(&cli.url)) {
        Ok(t) => t,
        Err(e) => return fail(&cli, &e.to_string()),
    };
    if cli.compress {
        match &mut target.ws {
            Some(w) => w.compress = true,
            None => return fail(&cli, "--compress needs a ws:// URL"),
        }
    }
    let server_pid = cli.server_pid.map(|p| p.to_string());
    let cpu0 = sys::cpu_times("self");
    let srv0 = server_pid.as_deref().and_then(sys::cpu_times);
    let progress = Arc::new(AtomicU64::new(0));
    let t0 = Instant::now();
    let limit = Duration::from_secs_f64(cli.timeout.max(0.001));
    let outcome = rt.block_on(async {
        tokio::time::timeout(limit, run(&cli, &target, progress.clone())).await
    });
    let wall = t0.elapsed();
    let cpu = sys::cpu_times("self").zip(cpu0).map(|(b, a)| b.since(a));
    let srv = server_pid
        .as_deref()
        .and_then(sys::cpu_times)
        .zip(srv0)
        .map(|(b, a)| b.since(a));
    // Do not wait for tasks still blocked on sockets after a failure.
    rt.shutdown_background();
    let mut rep = match outcome {
        Err(_) => {
            return fail(
                &cli,
                &format!(
                    "timed out after {:.1} s (progress: {} messages/operations done)",
                    cli.timeout,
                    progress.load(Ordering::Relaxed)
                ),
            )
        }
        Ok(Err(e)) => return fail(&cli, &e.to_string()),
        Ok(Ok(rep)) => rep,
    };
    rep.set("ok", json!(true));
    rep.set("wall_s", json!(wall.as_secs_f64()));
    let cpu_json = |c: Option<CpuTimes>| match c {
        Some(c) => json!({"user_s": c.user_s, "sys_s": c.sys_s, "pct_of_core": c.percent_of(wall)}),
        None => Value::Null,
    };
    rep.set("bench_cpu", cpu_json(cpu));
    rep.set("server_cpu", cpu_json(srv));
    let mut cpu_line = match cpu {
        Some(c) => format!(
            "  bench CPU {:.0}% of one core (user {:.2} s, sys {:.2} s over {:.2} s wall, {} threads)",
            c.percent_of(wall),
            c.user_s,
            c.sys_s,
            wall.as_secs_f64(),
            cli.threads
        ),
        None => "  bench CPU: /proc/self/stat unreadable".into(),
    };
    if let Some(s) = srv {
        cpu_line.push_str(&format!("; server CPU {:.0}%", s.percent_of(wall)));
    }
    rep.line(cpu_line);
    for l in &rep.lines {
        println!("{l}");
    }
    if cli.json {
        println!("{}", Value::Object(rep.fields));
    }
    ExitCode::SUCCESS
}
