//! `/varz` (nats-server `Server.Varz`): the server's configuration, its
//! counters and the process's memory and CPU use.

use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use serde_json::{json, Value};

use super::uptime_string;
use crate::log::rfc3339;
use crate::shared::Shared;

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// Clock ticks per second in `/proc/<pid>/stat` (Linux `USER_HZ`, 100 on
/// every architecture Linux supports).
const USER_HZ: f64 = 100.0;

/// User + system CPU time of the process in clock ticks, from the text of
/// `/proc/self/stat` (fields 14 and 15; the command name in field 2 may
/// hold spaces and parentheses, so fields are counted after its last `)`).
fn cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut f = rest.split_whitespace().skip(11);
    let utime: u64 = f.next()?.parse().ok()?;
    let stime: u64 = f.next()?.parse().ok()?;
    Some(utime + stime)
}

/// The last CPU sample: when, total ticks, and the percentage it gave.
static CPU_SAMPLE: std::sync::Mutex<Option<(std::time::Instant, u64, f64)>> =
    std::sync::Mutex::new(None);

/// `/varz` `cpu`: the process's CPU use in percent of one core (can exceed
/// 100 with several threads busy), as nats-server reports it: over the
/// interval since the previous sample, sampled at most once a second (a
/// request within a second of the last sample gets the same figure). The
/// first request gives the average since the server started. One decimal.
fn cpu_percent(uptime: Duration) -> f64 {
    let Some(total) = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| cpu_ticks(&s))
    else {
        return 0.0;
    };
    let now = std::time::Instant::now();
    let mut last = CPU_SAMPLE.lock().unwrap_or_else(|e| e.into_inner());
    let (ticks, secs) = match *last {
        Some((at, _, pcpu)) if now.duration_since(at) < Duration::from_secs(1) => return pcpu,
        Some((at, prev, _)) => (total.saturating_sub(prev), now.duration_since(at)),
        None => (total, uptime),
    };
    let pcpu = percent(ticks, secs);
    *last = Some((now, total, pcpu));
    pcpu
}

/// `ticks` of CPU time over `over` wall time, in percent, one decimal.
fn percent(ticks: u64, over: Duration) -> f64 {
    let secs = over.as_secs_f64();
    if secs <= 0.0 {
        return 0.0;
    }
    (ticks as f64 / USER_HZ / secs * 1000.0).round() / 10.0
}

/// The `mqtt` object (mqtt spec §5): `{}` without an MQTT listener, else
/// the bound listener and the omitempty options nats-server shows.
fn mqtt(shared: &Shared) -> Value {
    let mut m = serde_json::Map::new();
    if let (Some(o), Some(a)) = (&shared.settings().mqtt, shared.mqtt_addr) {
        m.insert("host".into(), json!(a.ip().to_string()));
        m.insert("port".into(), json!(a.port()));
        if !o.no_auth_user.is_empty() {
            m.insert("no_auth_user".into(), json!(o.no_auth_user));
        }
        if let Some(t) = o.auth_timeout {
            m.insert("auth_timeout".into(), json!(t));
        }
        if o.tls.as_ref().is_some_and(|t| t.verify_and_map) {
            m.insert("tls_map".into(), json!(true));
        }
        let tls_timeout = o.tls.as_ref().map_or(2.0, |t| t.timeout.as_secs_f64());
        // Go prints a whole float64 without a fraction.
        let tls_timeout = if tls_timeout.fract() == 0.0 {
            json!(tls_timeout as u64)
        } else {
            json!(tls_timeout)
        };
        m.insert("tls_timeout".into(), tls_timeout);
        if let Some(w) = o.ack_wait_set {
            m.insert("ack_wait".into(), json!(w.as_nanos() as u64));
        }
        if let Some(n) = o.max_ack_pending_set.filter(|&n| n > 0) {
            m.insert("max_ack_pending".into(), json!(n));
        }
    }
    Value::Object(m)
}

/// The `websocket` object: the bound listener and its omitempty options
/// (empty when there is no WebSocket listener).
fn websocket(shared: &Shared) -> Value {
    let mut ws = serde_json::Map::new();
    if let (Some(w), Some(a)) = (&shared.settings().websocket, shared.ws_addr) {
        ws.insert("host".into(), json!(a.ip().to_string()));
        ws.insert("port".into(), json!(a.port()));
        // Only when configured, as nats-server (omitempty of the option;
        // natsws's own default is not an option value).
        let configured = shared
            .reload
            .source
            .lock()
            .ok()
            .and_then(|s| s.as_ref().map(|s| s.options.websocket.handshake_timeout))
            .filter(|d| !d.is_zero());
        if let Some(d) = configured {
            ws.insert("handshake_timeout".into(), json!(d.as_nanos() as u64));
        }
        if w.no_tls {
            ws.insert("no_tls".into(), json!(true));
        }
        if let Some(t) = &w.tls {
            if t.verify_and_map {
                ws.insert("tls_map".into(), json!(true));
            }
            if !t.pinned_certs.is_empty() {
                ws.insert("tls_pinned_certs".into(), json!(t.pinned_certs));
            }
        }
        if w.compression {
            ws.insert("compression".into(), json!(true));
        }
        if w.same_origin {
            ws.insert("same_origin".into(), json!(true));
        }
        if !w.allowed_origins.is_empty() {
            ws.insert("allowed_origins".into(), json!(w.allowed_origins));
        }
    }
    Value::Object(ws)
}

/// Client-port TLS (omitempty fields, §6.2), added to `v`.
fn client_tls(shared: &Shared, v: &mut Value) {
    if let (Some(t), Value::Object(m)) = (&shared.settings().tls, v) {
        m.insert("tls_required".into(), json!(true));
        if t.verify {
            m.insert("tls_verify".into(), json!(true));
        }
        m.insert("tls_timeout".into(), json!(t.timeout.as_secs_f64()));
    }
}

/// The `/varz` object.
pub(crate) fn varz(shared: &Shared) -> Value {
    let settings = shared.settings();
    let s = &*settings;
    let st = &shared.stats;
    // (total, of which leafs): the part first, so the total covers it.
    let split = |part: &std::sync::atomic::AtomicU64, total: &std::sync::atomic::AtomicU64| {
        let p = part.load(Ordering::Relaxed);
        (total.load(Ordering::Relaxed).max(p), p)
    };
    let slow_leafs = split(&st.slow_consumer_leafs, &st.slow_consumers);
    let stale_leafs = split(&st.stale_leafs, &st.stale_connections);
    let now = SystemTime::now();
    let uptime = now.duration_since(shared.start).unwrap_or_default();
    let connections = shared.conns.lock().map_or(0, |c| c.len());
    let subscriptions: usize = shared
        .accounts
        .all()
        .iter()
        .map(|a| a.router.lock().map_or(0, |r| r.len()))
        .sum();
    let https = s.https_tls.is_some();
    let monitor_port = shared.http_addr.map_or(0, |a| a.port());
    let mut v = json!({
        "server_id": shared.server_id,
        "server_name": shared.server_name,
        "version": natsws_core::proto::SERVER_VERSION,
        "proto": 1,
        "go": concat!("natsws ", env!("CARGO_PKG_VERSION")),
        "host": shared.client_addr.ip().to_string(),
        "port": shared.client_addr.port(),
        "max_connections": s.max_connections,
        "ping_interval": s.ping_interval.as_nanos() as u64,
        "ping_max": s.ping_max,
        "http_host": shared.http_addr.map(|a| a.ip().to_string()).unwrap_or_default(),
        "http_port": if https { 0 } else { monitor_port },
        "http_base_path": "",
        "https_port": if https { monitor_port } else { 0 },
        "auth_timeout": 2.0,
        "max_control_line": s.max_control_line,
        "max_payload": s.max_payload,
        "max_pending": s.max_pending,
        "cluster": {},
        "gateway": {},
        "leaf": super::leafz::varz_leaf(shared),
        "mqtt": mqtt(shared),
        "websocket": websocket(shared),
        "jetstream": {},
        "tls_timeout": 2.0,
        "write_deadline": s.write_deadline.as_nanos() as u64,
        "start": rfc3339(shared.start),
        "now": rfc3339(now),
        "uptime": uptime_string(uptime),
        "mem": rss_bytes(),
        "cores": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "gomaxprocs": s.threads,
        "cpu": cpu_percent(uptime),
        "connections": connections,
        "total_connections": st.total_connections.load(Ordering::Relaxed),
        "routes": 0,
        "remotes": 0,
        "leafnodes": super::leafz::count(shared),
        "in_msgs": st.in_msgs.load(Ordering::Relaxed),
        "out_msgs": st.out_msgs.load(Ordering::Relaxed),
        "in_bytes": st.in_bytes.load(Ordering::Relaxed),
        "out_bytes": st.out_bytes.load(Ordering::Relaxed),
        "in_client_msgs": st.in_msgs.load(Ordering::Relaxed),
        "out_client_msgs": st.out_msgs.load(Ordering::Relaxed),
        "in_client_bytes": st.in_bytes.load(Ordering::Relaxed),
        "out_client_bytes": st.out_bytes.load(Ordering::Relaxed),
        "slow_consumers": st.slow_consumers.load(Ordering::Relaxed),
        "stale_connections": st.stale_connections.load(Ordering::Relaxed),
        "stalled_clients": 0,
        "subscriptions": subscriptions,
        "http_req_stats": shared.http_req_stats.lock().map(|m| json!(*m)).unwrap_or_else(|_| json!({})),
        "slow_consumer_stats": {
            "clients": slow_leafs.0 - slow_leafs.1,
            "routes": 0, "gateways": 0, "leafs": slow_leafs.1
        },
        "stale_connection_stats": {
            "clients": stale_leafs.0 - stale_leafs.1,
            "routes": 0, "gateways": 0, "leafs": stale_leafs.1
        },
    });
    client_tls(shared, &mut v);
    if let Some(sys) = &s.system_account {
        // nats-server `Varz.SystemAccount` (omitempty).
        v["system_account"] = json!(sys);
    }
    if !s.write_timeout.go_name().is_empty() {
        // nats-server `Varz.WriteTimeout` (omitempty: absent for `default`).
        v["write_timeout"] = json!(s.write_timeout.go_name());
    }
    v["config_load_time"] = json!(rfc3339(shared.reload.load_time()));
    if let Some(e) = shared.reload.last_error() {
        // natsws: why the last reload was refused (absent after a good one).
        v["natsws_last_reload_error"] = json!(e);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_from_proc_stat() {
        // A command name with spaces and parentheses; utime 250, stime 70.
        let stat = "4242 (nat sws) (x)) S 1 4242 4242 0 -1 4194560 1500 0 0 0 250 70 0 0 20 0 \
                    3 0 123456 1000000 500 18446744073709551615";
        assert_eq!(cpu_ticks(stat), Some(320));
        assert_eq!(cpu_ticks("4242 (natsws) S 1 2"), None);
        assert_eq!(cpu_ticks("no parenthesis"), None);
        let own = std::fs::read_to_string("/proc/self/stat").unwrap();
        assert!(cpu_ticks(&own).is_some(), "{own}");
    }

    #[test]
    fn cpu_percent_of_one_core() {
        assert_eq!(percent(50, Duration::from_secs(1)), 50.0);
        assert_eq!(percent(300, Duration::from_secs(2)), 150.0);
        assert_eq!(percent(1, Duration::from_secs(3)), 0.3);
        assert_eq!(percent(7, Duration::ZERO), 0.0);
    }
}
