//! The `mqtt-pubsub` and `mqtt-idle` subcommands: arguments and reports
//! around the scenarios in [`crate::mqtt`].

use std::time::Instant;

use clap::Args;
use serde_json::json;

use crate::conn::{Error, Target};
use crate::mqtt::{self, MqttCfg};
use crate::scenario::Progress;
use crate::{fmt_rate, sys, Cli, IdleArgs, Report};

/// Arguments of `mqtt-pubsub`.
#[derive(Debug, Args)]
pub(crate) struct MqttPubSubArgs {
    /// Subscribing connections.
    #[arg(long, default_value_t = 1)]
    subs: usize,
    /// Messages published.
    #[arg(long, default_value_t = 1_000_000)]
    msgs: u64,
    /// Payload size in bytes.
    #[arg(long, default_value_t = 128)]
    size: usize,
    /// QoS of publishes and subscriptions: 0 or 1.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=1))]
    qos: u8,
    /// Messages the publisher may run ahead of the average subscriber (so no
    /// server has to drop for a slow consumer); at QoS 1 also the most
    /// PUBLISHes without PUBACK [default: 10,000 at QoS 0, 500 at QoS 1].
    #[arg(long)]
    window: Option<u64>,
    /// Subscriber connections opened at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Persistent sessions (clean session 0) instead of clean ones: the
    /// server keeps subscriptions and in-flight QoS 1 messages in its store.
    #[arg(long)]
    persistent: bool,
}

/// Runs `mqtt-pubsub`; the primary figure is deliveries per second.
pub(crate) async fn pubsub(
    cli: &Cli,
    target: &Target,
    a: &MqttPubSubArgs,
    progress: Progress,
) -> Result<Report, Error> {
    let cfg = MqttCfg {
        subs: a.subs.max(1),
        msgs: a.msgs,
        size: a.size,
        qos: a.qos,
        window: a
            .window
            .unwrap_or(if a.qos == 1 { 500 } else { 10_000 })
            .max(1),
        concurrency: a.concurrency,
        persistent: a.persistent,
    };
    let r = mqtt::pubsub(target, &cfg, progress).await?;
    let secs = r.elapsed.as_secs_f64().max(1e-9);
    let rate = r.delivered as f64 / secs;
    let mut rep = Report::new("mqtt-pubsub", target, &cli.url);
    rep.set("subs", json!(cfg.subs));
    rep.set("size", json!(cfg.size));
    rep.set("msgs", json!(cfg.msgs));
    rep.set("qos", json!(cfg.qos));
    rep.set("window", json!(cfg.window));
    rep.set("persistent", json!(cfg.persistent));
    rep.set("delivered", json!(r.delivered));
    rep.set("elapsed_s", json!(secs));
    rep.set("delivered_msgs_per_s", json!(rate));
    rep.set("published_msgs_per_s", json!(cfg.msgs as f64 / secs));
    rep.set(
        "payload_mb_per_s",
        json!(r.delivered as f64 * cfg.size as f64 / secs / 1e6),
    );
    rep.set("sub_wire_bytes", json!(r.sub_wire_bytes));
    rep.set("pub_wire_bytes", json!(r.pub_wire_bytes));
    rep.primary("delivered_msgs_per_s", rate, "msg/s", true);
    rep.line(format!(
        "mqtt-pubsub {} qos={} subs={} size={} B msgs={} window={} session={}",
        cli.url,
        cfg.qos,
        cfg.subs,
        cfg.size,
        cfg.msgs,
        cfg.window,
        if cfg.persistent {
            "persistent"
        } else {
            "clean"
        }
    ));
    rep.line(format!(
        "  delivered {} of {} msgs in {secs:.3} s: {}msg/s",
        r.delivered,
        cfg.msgs * cfg.subs as u64,
        fmt_rate(rate)
    ));
    Ok(rep)
}

/// Runs `mqtt-idle`: RSS per connection holding one subscription.
pub(crate) async fn idle(
    cli: &Cli,
    target: &Target,
    a: &IdleArgs,
    progress: Progress,
) -> Result<Report, Error> {
    // Warm-up: one batch of `concurrency` connections, opened and kept
    // before the baseline, so that what a server does once for its first
    // connections (lazy initialisation, each thread's first buffers)
    // is not counted per connection. Every server gets the same.
    let warm_n = a.concurrency.clamp(1, a.conns.max(1));
    let warm = mqtt::open_idle(target, warm_n, a.concurrency, "w", Progress::default()).await?;
    let before = cli.server_pid.and_then(sys::rss_kib);
    let t0 = Instant::now();
    let conns = mqtt::open_idle(target, a.conns, a.concurrency, "", progress).await?;
    let open_s = t0.elapsed().as_secs_f64();
    let after = cli.server_pid.and_then(sys::rss_kib);
    let alive = mqtt::ping_all(conns).await;
    drop(warm);
    if alive != a.conns {
        return Err(Error::Other(format!(
            "only {alive} of {} idle MQTT connections answered PINGREQ",
            a.conns
        )));
    }
    let mut rep = Report::new("mqtt-idle", target, &cli.url);
    rep.set("conns", json!(a.conns));
    rep.set("open_s", json!(open_s));
    rep.line(format!(
        "mqtt-idle {} conns={} (one subscription each, after {warm_n} warm-up connections) opened in {open_s:.2} s, all answered PINGREQ",
        cli.url, a.conns
    ));
    rep.rss_per_conn(before, after, a.conns);
    Ok(rep)
}
