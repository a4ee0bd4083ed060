//! `/metrics` against the real binary: Prometheus text format 0.0.4 with
//! prometheus-nats-exporter's names and labels (spec `operations.md` §4).
//!
//! natsws-only: nats-server has no `/metrics` (docs/compat.md), so every
//! test returns early when `NATSWS_TEST_SERVER_BIN` names the reference.
//! The output is checked by a real parser, `promtool check metrics`
//! (Debian's `prometheus` package, installed by scripts/setup.sh): the
//! test is skipped without promtool, except under `CI=true` where it fails.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{is_reference, Conn, Server};

/// A client port, a WebSocket port and the monitor, all ephemeral.
const CONF: &str = "port: -1\nhttp_port: -1\nwebsocket { port: -1, no_tls: true }\n";

/// GETs `/metrics`, expects 200; returns (response head, body).
fn scrape(s: &Server) -> (String, String) {
    let (status, head, body) = s.http_get_head("/metrics");
    assert_eq!(status, 200, "{head}\n{body}");
    (head, body)
}

/// The server's id, as `/varz` gives it.
fn server_id(s: &Server) -> String {
    let (status, body) = s.http_get("/varz");
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("varz json");
    v["server_id"].as_str().expect("server_id").to_string()
}

/// The value of the sample `series` (name and labels exactly as written).
fn sample<'a>(body: &'a str, series: &str) -> Option<&'a str> {
    body.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
}

#[test]
fn metrics_is_prometheus_text_0_0_4() {
    if is_reference() {
        return;
    }
    let s = Server::start(CONF);
    let (head, body) = scrape(&s);
    let ctype = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Type: "))
        .expect("Content-Type header");
    assert!(ctype.starts_with("text/plain; version=0.0.4"), "{ctype}");
    assert!(body.ends_with('\n'), "{body}");
    // Every family: HELP, then TYPE, then its samples, each name once.
    let mut seen = std::collections::HashSet::new();
    let mut lines = body.lines().peekable();
    while let Some(help) = lines.next() {
        let name = help.strip_prefix("# HELP ").expect("HELP first");
        let name = name.split(' ').next().unwrap();
        assert!(seen.insert(name.to_string()), "{name} twice");
        let ty = lines.next().expect("TYPE");
        assert!(ty.starts_with(&format!("# TYPE {name} ")), "{ty}");
        let mut samples = 0;
        while lines.peek().is_some_and(|l| !l.starts_with('#')) {
            let l = lines.next().unwrap();
            assert!(l.starts_with(&format!("{name}{{server_id=\"")), "{l}");
            samples += 1;
        }
        assert!(samples > 0, "{name} has no sample");
    }
}

#[test]
fn metrics_names_and_labels_follow_the_exporter() {
    if is_reference() {
        return;
    }
    let s = Server::start(CONF);
    let id = server_id(&s);
    let (_, body) = scrape(&s);
    // The exporter's walkthrough dashboard (spec §4.3), and a sample of
    // §4.2's varz, connz and subsz names.
    for name in [
        "connections",
        "cpu",
        "mem",
        "in_bytes",
        "in_msgs",
        "out_bytes",
        "out_msgs",
        "slow_consumers",
        "subscriptions",
        "total_connections",
        "slow_consumer_stats_clients",
        "ping_interval",
        "websocket_port",
    ] {
        let series = format!("gnatsd_varz_{name}{{server_id=\"{id}\"}}");
        assert!(sample(&body, &series).is_some(), "no {series}:\n{body}");
        assert!(body.contains(&format!("# TYPE gnatsd_varz_{name} gauge\n")));
        assert!(body.contains(&format!("# HELP gnatsd_varz_{name} {name}\n")));
    }
    for series in [
        format!("gnatsd_varz_version{{server_id=\"{id}\",value=\"2.15.1\"}}"),
        format!("gnatsd_varz_server_id{{server_id=\"{id}\",value=\"{id}\"}}"),
        format!("gnatsd_connz_num_connections{{server_id=\"{id}\"}}"),
        format!("gnatsd_subsz_num_subscriptions{{server_id=\"{id}\"}}"),
        format!("gnatsd_healthz_status{{server_id=\"{id}\"}}"),
    ] {
        assert!(sample(&body, &series).is_some(), "no {series}:\n{body}");
    }
    assert_eq!(
        sample(
            &body,
            &format!("gnatsd_healthz_status{{server_id=\"{id}\"}}")
        ),
        Some("0")
    );
    // `start` is epoch milliseconds (an RFC 3339 string in /varz).
    let start = sample(&body, &format!("gnatsd_varz_start{{server_id=\"{id}\"}}"));
    assert!(start.is_some_and(|v| v.parse::<u64>().unwrap() > 1_600_000_000_000));
}

#[test]
fn metrics_count_a_known_traffic_pattern() {
    if is_reference() {
        return;
    }
    const N: usize = 5;
    // Without a system account: its internal subscriptions would count.
    let s = Server::start(&format!("{CONF}\nno_system_account: true\n"));
    let id = server_id(&s);
    let (mut sub, _) = Conn::tcp(s.client_port);
    sub.send(b"CONNECT {\"verbose\":false}\r\nSUB m.x 1\r\n");
    sub.ping();
    let (mut publ, _) = Conn::on(&s, true);
    publ.send(b"CONNECT {\"verbose\":false}\r\n");
    for _ in 0..N {
        publ.send(b"PUB m.x 2\r\nhi\r\n");
    }
    publ.ping();
    for _ in 0..N {
        sub.expect("MSG m.x 1 2\r\nhi\r\n");
    }
    let (_, body) = scrape(&s);
    let n = N.to_string();
    let two_n = (2 * N).to_string();
    for (series, want) in [
        ("gnatsd_varz_in_msgs", n.as_str()),
        ("gnatsd_varz_out_msgs", &n),
        ("gnatsd_varz_in_bytes", &two_n),
        ("gnatsd_varz_out_bytes", &two_n),
        ("gnatsd_varz_connections", "2"),
        ("gnatsd_varz_subscriptions", "1"),
        ("gnatsd_connz_in_msgs", &n),
        ("gnatsd_connz_out_msgs", &n),
        ("gnatsd_connz_num_connections", "2"),
        ("gnatsd_connz_subscriptions", "1"),
        ("gnatsd_subsz_num_subscriptions", "1"),
        ("natsws_slow_consumers_total", "0"),
        ("natsws_pre_auth_rejected_total", "0"),
    ] {
        let got = sample(&body, &format!("{series}{{server_id=\"{id}\"}}"));
        assert_eq!(got, Some(want), "{series}:\n{body}");
    }
    assert!(body.contains("# TYPE gnatsd_connz_in_msgs counter\n"));
    for ty in ["nats", "websocket"] {
        let series = format!("natsws_connections{{server_id=\"{id}\",type=\"{ty}\"}}");
        assert_eq!(sample(&body, &series), Some("1"), "{series}:\n{body}");
    }
}

#[test]
fn metrics_prefix_and_server_name_label() {
    if is_reference() {
        return;
    }
    let s = Server::start(&format!(
        "{CONF}server_name: edge1\nmetrics {{ prefix: nats, use_internal_server_name: true }}\n"
    ));
    let (mut c, _) = Conn::tcp(s.client_port);
    c.send(b"CONNECT {\"verbose\":false}\r\nPUB a 1\r\nx\r\n");
    c.ping();
    let (_, body) = scrape(&s);
    // The official Helm chart's names (`-prefix=nats`), labelled by name.
    for (series, want) in [
        ("nats_varz_in_msgs{server_id=\"edge1\"}", "1"),
        ("nats_varz_connections{server_id=\"edge1\"}", "1"),
        ("nats_connz_in_msgs{server_id=\"edge1\"}", "1"),
        ("nats_healthz_status{server_id=\"edge1\"}", "0"),
        ("natsws_connections{server_id=\"edge1\",type=\"nats\"}", "1"),
    ] {
        assert_eq!(sample(&body, series), Some(want), "{series}:\n{body}");
    }
    assert!(!body.contains("gnatsd_"), "{body}");
}

/// promtool's lint findings the exporter's own names cause (kept so that
/// dashboards match): counters without `_total`, gauges ending in it.
/// Checked with the default namespace.
const EXPORTER_LINT: [&str; 7] = [
    "gnatsd_connz_in_bytes counter metrics should have \"_total\" suffix",
    "gnatsd_connz_in_msgs counter metrics should have \"_total\" suffix",
    "gnatsd_connz_out_bytes counter metrics should have \"_total\" suffix",
    "gnatsd_connz_out_msgs counter metrics should have \"_total\" suffix",
    "gnatsd_connz_total non-counter metrics should not have \"_total\" suffix",
    "gnatsd_leafz_conn_nodes_total non-counter metrics should not have \"_total\" suffix",
    "gnatsd_subsz_total non-counter metrics should not have \"_total\" suffix",
];

/// Whether `promtool` runs; under `CI=true` its absence fails the test.
fn have_promtool() -> bool {
    let ok = Command::new("promtool")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        assert!(
            !ci,
            "promtool is not on PATH (scripts/setup.sh installs it)"
        );
        eprintln!("skipped: promtool is not on PATH");
    }
    ok
}

#[test]
fn metrics_pass_promtool_check() {
    if is_reference() || !have_promtool() {
        return;
    }
    let s = Server::start(CONF);
    let (mut c, _) = Conn::tcp(s.client_port);
    c.send(b"CONNECT {\"verbose\":false}\r\nSUB a 1\r\nPUB a 1\r\nx\r\n");
    c.ping();
    let (_, body) = scrape(&s);
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn promtool");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().expect("promtool");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    // Exit 0: clean; 3: lint findings only; anything else: a parse error.
    let code = out.status.code();
    assert!(
        matches!(code, Some(0 | 3)),
        "promtool {code:?}: {text}\n{body}"
    );
    for finding in text.lines().filter(|l| !l.trim().is_empty()) {
        assert!(
            EXPORTER_LINT.contains(&finding.trim()),
            "promtool: {finding}\n{body}"
        );
    }
}

/// Scrapes until `series` has the value `want` (closes are counted when the
/// owning loop finishes them, after the client saw the close).
fn await_sample(s: &Server, series: &str, want: &str) {
    let until = std::time::Instant::now() + common::DEADLINE;
    loop {
        let (_, body) = scrape(s);
        if sample(&body, series) == Some(want) {
            return;
        }
        assert!(
            std::time::Instant::now() < until,
            "{series} never reached {want}:\n{body}"
        );
    }
}

#[test]
fn metrics_count_closes_by_reason_handshake_failures_and_keepalive_pings() {
    if is_reference() {
        return;
    }
    let s = Server::start(
        "port: -1\nhttp_port: -1\nauthorization { user: a, password: b }\n\
         websocket { port: -1, no_tls: true, keepalive: \"1s\" }\n",
    );
    let id = server_id(&s);
    let closed = |reason: &str| {
        format!("natsws_closed_connections_total{{server_id=\"{id}\",reason=\"{reason}\"}}")
    };
    let (_, body) = scrape(&s);
    assert_eq!(sample(&body, &closed("Authentication Failure")), Some("0"));
    // A refused login.
    let (mut c, _) = Conn::tcp(s.client_port);
    c.send(b"CONNECT {\"user\":\"a\",\"pass\":\"x\"}\r\n");
    c.expect_err_close("Authorization Violation", 1008, "Authentication Failure");
    await_sample(&s, &closed("Authentication Failure"), "1");
    // A refused upgrade (no Upgrade header).
    let mut raw = common::Raw::connect(s.ws_port.unwrap());
    raw.send(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    assert!(raw.read_to_close().starts_with("HTTP/1.1 400"));
    await_sample(
        &s,
        &format!("natsws_ws_handshake_failures_total{{server_id=\"{id}\"}}"),
        "1",
    );
    // A keepalive ping frame to an idle WebSocket client.
    let mut ws = common::WsRaw::connect(s.ws_port.unwrap());
    ws.expect("\r\n");
    ws.send(b"CONNECT {\"user\":\"a\",\"pass\":\"b\",\"verbose\":false}\r\nPING\r\n");
    ws.expect("PONG\r\n");
    ws.read_until("a ping frame", |w| w.pings >= 1);
    let (_, body) = scrape(&s);
    let pings = sample(
        &body,
        &format!("natsws_ws_pings_total{{server_id=\"{id}\"}}"),
    );
    assert!(
        pings.is_some_and(|n| n.parse::<u64>().unwrap() >= 1),
        "{body}"
    );
}
