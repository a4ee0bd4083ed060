//! Monitoring and close-path details that must match nats-server 2.15.1:
//! `/connz` `rtt` (measured with server PINGs, and the PING a `/connz`
//! request sends), the key sets of the monitoring endpoints, and how fast
//! a connection closed after an `-ERR` reaches EOF.
//!
//! Every test runs against nats-server too
//! (`NATSWS_TEST_SERVER_BIN=…/nats-server`); the key-set comparison
//! starts the reference itself next to the binary under test.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{Conn, Server};
use serde_json::Value;

const CONF: &str = r#"
host: 127.0.0.1
port: -1
http: "127.0.0.1:-1"
websocket {
  host: 127.0.0.1
  port: -1
  no_tls: true
}
"#;

fn http_json(s: &Server, path: &str) -> Value {
    let (status, head, body) = s.http_get_head(path);
    assert_eq!(status, 200, "{path}: {body}");
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(&body)
    } else {
        body
    };
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
}

/// The body of a chunked HTTP/1.1 response.
fn dechunk(mut raw: &str) -> String {
    let mut out = String::new();
    loop {
        let (size, rest) = raw.split_once("\r\n").expect("chunk size line");
        let n = usize::from_str_radix(size.trim(), 16).expect("chunk size");
        if n == 0 {
            return out;
        }
        out.push_str(&rest[..n]);
        raw = &rest[n + 2..];
    }
}

/// The one open connection's `/connz` object. nats-server writes INFO
/// before it lists the connection, so an empty list is asked again.
fn only_conn(s: &Server) -> Value {
    let until = Instant::now() + common::DEADLINE;
    loop {
        let v = http_json(s, "/connz");
        let conns = v["connections"].as_array().expect("connections");
        if conns.is_empty() && Instant::now() < until {
            continue;
        }
        assert_eq!(conns.len(), 1, "{v}");
        return conns[0].clone();
    }
}

/// Parses Go's `time.Duration.String()` for values under a minute
/// (`"0s"`, `"850ns"`, `"12.5µs"`, `"1.25ms"`, `"1.5s"`).
fn go_duration(s: &str) -> Duration {
    if s == "0s" {
        return Duration::ZERO;
    }
    let (num, scale) = [("ns", 1.0), ("µs", 1e3), ("ms", 1e6), ("s", 1e9)]
        .iter()
        .find_map(|(u, f)| s.strip_suffix(u).map(|n| (n, *f)))
        .unwrap_or_else(|| panic!("not a Go duration: {s:?}"));
    let n: f64 = num
        .parse()
        .unwrap_or_else(|_| panic!("not a Go duration: {s:?}"));
    assert!(
        !num.ends_with('0') || !num.contains('.'),
        "trailing zero: {s:?}"
    );
    Duration::from_nanos((n * scale) as u64)
}

/// The reference sends its first PING about 2 s after CONNECT: a PING
/// seen before then came from a `/connz` request.
const FIRST_PING: Duration = Duration::from_secs(2);

/// A client's CONNECT gives the first RTT estimate, the time since the
/// connection started (nats-server `processConnect`): `/connz` shows a
/// non-zero `rtt` at once, and the request sends no PING (nats-server's
/// `getRTT` only PINGs while the RTT is zero), with or without `lang`,
/// over TCP and WebSocket.
#[test]
fn connz_rtt_is_estimated_at_connect_and_the_request_sends_no_ping() {
    for ws in [false, true] {
        for connect in [
            "CONNECT {\"verbose\":true}\r\n",
            "CONNECT {\"verbose\":true,\"lang\":\"rust\",\"protocol\":1}\r\n",
        ] {
            let s = Server::start(CONF);
            let t0 = Instant::now();
            let (mut c, _) = Conn::on(&s, ws);
            c.send(connect.as_bytes());
            c.expect("+OK\r\n");
            let conn = only_conn(&s);
            let rtt = go_duration(conn["rtt"].as_str().expect("rtt"));
            assert!(
                rtt > Duration::ZERO && rtt < Duration::from_secs(1),
                "ws={ws} {connect}: {conn}"
            );
            // After the client's first PING was answered too.
            c.ping();
            only_conn(&s);
            let before = c.ping();
            assert!(
                !before.contains("PING") || t0.elapsed() >= FIRST_PING,
                "ws={ws} {connect}: the request sent a PING: {before:?}"
            );
        }
    }
}

/// Before CONNECT there is no RTT: `"0s"`.
#[test]
fn connz_rtt_is_zero_before_connect() {
    let s = Server::start(CONF);
    let (_c, _) = Conn::on(&s, false);
    assert_eq!(only_conn(&s)["rtt"], "0s");
}

/// Every PONG to a server PING sets the RTT to the time since that PING
/// (nats-server `processPong`): answered after a gap longer than the
/// CONNECT estimate, the RTT grows to at least that gap.
#[test]
fn a_pong_to_the_keepalive_ping_measures_rtt() {
    for ws in [false, true] {
        let s = Server::start(CONF);
        let (mut c, _) = Conn::on(&s, ws);
        c.send(b"CONNECT {\"verbose\":false}\r\n");
        c.ping();
        let estimate = go_duration(only_conn(&s)["rtt"].as_str().expect("rtt"));
        // The first server PING comes about 2 s after CONNECT.
        c.expect("PING\r\n");
        let got = Instant::now();
        // Monitoring round trips until the gap exceeds the estimate.
        while got.elapsed() <= estimate * 2 {
            http_json(&s, "/varz");
        }
        let gap = got.elapsed();
        c.send(b"PONG\r\n");
        c.ping();
        let conn = only_conn(&s);
        let rtt = go_duration(conn["rtt"].as_str().expect("rtt"));
        assert!(
            rtt >= gap && rtt < Duration::from_secs(5),
            "ws={ws}: gap {gap:?}, {conn}"
        );
    }
}

/// A PONG the server did not ask for sets the RTT to the time since
/// nats-server's zero `rttStart`: Go's largest duration.
#[test]
fn an_unsolicited_pong_gives_gos_largest_duration() {
    for ws in [false, true] {
        let s = Server::start(CONF);
        let (mut c, _) = Conn::on(&s, ws);
        c.send(b"CONNECT {\"verbose\":false}\r\nPONG\r\n");
        c.ping();
        assert_eq!(only_conn(&s)["rtt"], "2562047h47m16.854775807s", "ws={ws}");
    }
}

/// Every key path of `v`: `a.b` for nested objects, `a[].b` for the
/// objects in arrays (merged over all elements).
fn key_paths(v: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                out.insert(p.clone());
                key_paths(x, &p, out);
            }
        }
        Value::Array(a) => {
            for x in a {
                key_paths(x, &format!("{prefix}[]"), out);
            }
        }
        _ => {}
    }
}

/// The same traffic on `s`: a TCP client with a name, lang, a plain, a
/// queue and an auto-unsubscribing subscription, a WebSocket client, and
/// a client that came and went. Returns the open clients.
fn traffic(s: &Server) -> Vec<Conn> {
    let (mut t, _) = Conn::on(s, false);
    t.send(b"CONNECT {\"verbose\":false,\"name\":\"n\",\"lang\":\"rust\",\"version\":\"1.0\"}\r\nSUB a.b 1\r\nSUB q.* grp 2\r\nSUB m 3\r\nUNSUB 3 5\r\nPUB a.b 2\r\nhi\r\n");
    t.expect("MSG a.b 1 2\r\nhi\r\n");
    let (mut w, _) = Conn::on(s, true);
    w.send(b"CONNECT {\"verbose\":false,\"name\":\"w\",\"lang\":\"js\"}\r\nSUB w.>  9\r\n");
    w.ping();
    let (mut gone, _) = Conn::on(s, false);
    gone.send(b"CONNECT {\"verbose\":false,\"name\":\"gone\"}\r\n");
    gone.ping();
    drop(gone);
    vec![t, w]
}

/// A raw leaf link on `s` with interest in `l.>`, answered PING included.
fn raw_leaf(s: &Server) -> common::Raw {
    let mut r = common::Raw::connect(s.leaf_port.expect("leaf port"));
    r.expect("\r\n");
    r.send(b"CONNECT {\"name\":\"RAW\"}\r\nLS+ l.>\r\nPING\r\n");
    r.expect("PONG\r\n");
    r
}

/// Endpoints whose key sets are compared.
const ENDPOINTS: &[&str] = &[
    "/varz",
    "/connz",
    "/connz?subs=1",
    "/connz?subs=detail",
    "/connz?auth=1",
    "/connz?state=closed",
    "/subsz",
    "/subsz?subs=1",
    "/routez",
    "/leafz",
    "/leafz?subs=1",
    "/accountz",
    "/accountz?acc=$G",
    "/healthz",
];

/// Key paths whose absence on one side is a recorded difference
/// (docs/compat.md, "Monitoring keys"), by endpoint prefix.
const KNOWN: &[(&str, &str)] = &[
    // JetStream's and the Go build's: natsws has neither.
    ("/varz", "feature_flags"),
    ("/varz", "disk_io_wait_stats"),
    ("/varz", "git_commit"),
    // Needs Go's JSON encoding of the config tree (see the reload row).
    ("/varz", "config_digest"),
    // natsws extension: the WebSocket upgrade details.
    ("/connz", "connections[].websocket"),
];

/// The key sets of natsws's monitoring answers match nats-server's
/// under the same traffic, path by path, but for the differences
/// docs/compat.md records ([`KNOWN`]).
#[test]
fn monitoring_key_sets_match_nats_server() {
    let conf = format!("{CONF}leafnodes {{ host: 127.0.0.1, port: -1 }}\n");
    let ours = Server::start(&conf);
    let reference = Server::try_start_bin(&common::reference_bin(), &conf, &[])
        .unwrap_or_else(|e| panic!("nats-server did not start: {e}"));
    let _a = traffic(&ours);
    let _b = traffic(&reference);
    let _la = raw_leaf(&ours);
    let _lb = raw_leaf(&reference);
    let mut report = Vec::new();
    for path in ENDPOINTS {
        let mut k_ours = BTreeSet::new();
        let mut k_ref = BTreeSet::new();
        let closed = *path == "/connz?state=closed";
        // The closed client reaches both lists asynchronously.
        let until = Instant::now() + common::DEADLINE;
        loop {
            let a = http_json(&ours, path);
            let b = http_json(&reference, path);
            if closed
                && (a["connections"].as_array().is_none_or(|x| x.is_empty())
                    || b["connections"].as_array().is_none_or(|x| x.is_empty()))
                && Instant::now() < until
            {
                continue;
            }
            key_paths(&a, "", &mut k_ours);
            key_paths(&b, "", &mut k_ref);
            break;
        }
        if path.starts_with("/leafz") {
            // The link is compared, not only the envelope.
            assert!(k_ref.contains("leafs[].rtt"), "{path}: {k_ref:?}");
        }
        if *path == "/leafz?subs=1" {
            assert!(k_ref.contains("leafs[].subscriptions_list"), "{k_ref:?}");
        }
        let known = |k: &String| {
            KNOWN.iter().any(|(p, key)| {
                path.starts_with(p) && (k == key || k.starts_with(&format!("{key}.")))
            })
        };
        let missing: Vec<_> = k_ref.difference(&k_ours).filter(|k| !known(k)).collect();
        let extra: Vec<_> = k_ours.difference(&k_ref).filter(|k| !known(k)).collect();
        if !missing.is_empty() || !extra.is_empty() {
            report.push(format!("{path}: missing {missing:?}, extra {extra:?}"));
        }
    }
    assert!(report.is_empty(), "{}", report.join("\n"));
}

/// A leaf link's `rtt` in `/leafz` is `"0s"` until the peer answers the
/// hub's first PING (about 1 s after the CONNECT), then that round trip,
/// at nanosecond resolution (a raw leaf on the hub's leafnode port).
#[test]
fn leafz_rtt_is_the_link_ping_round_trip() {
    let h = Server::start(
        "host: 127.0.0.1\nport: -1\nhttp: \"127.0.0.1:-1\"\nleafnodes { host: 127.0.0.1, port: -1 }\n",
    );
    let mut r = common::Raw::connect(h.leaf_port.expect("leaf port"));
    r.expect("\r\n");
    r.send(b"CONNECT {\"name\":\"RAW\"}\r\n");
    let line = r.expect("\r\n");
    assert!(line.starts_with("INFO "), "{line}");
    let leaf = |h: &Server| {
        let until = Instant::now() + common::DEADLINE;
        loop {
            let v = http_json(h, "/leafz");
            if v["leafs"][0].is_object() {
                return v["leafs"][0].clone();
            }
            assert!(Instant::now() < until, "no link in {v}");
        }
    };
    assert_eq!(leaf(&h)["rtt"], "0s");
    r.expect("PING\r\n");
    r.send(b"PONG\r\nPING\r\n");
    r.expect("PONG\r\n");
    let l = leaf(&h);
    let rtt = go_duration(l["rtt"].as_str().expect("rtt"));
    assert!(rtt > Duration::ZERO && rtt < Duration::from_secs(1), "{l}");
}

/// `/varz` `http_req_stats` counts the requests per monitoring path, the
/// one being answered included (`/subscriptionsz` counts as `/subsz`).
#[test]
fn varz_counts_http_requests_per_path() {
    let s = Server::start(CONF);
    let v = http_json(&s, "/varz");
    assert_eq!(v["http_req_stats"], serde_json::json!({"/varz": 1}), "{v}");
    http_json(&s, "/connz");
    http_json(&s, "/subscriptionsz");
    http_json(&s, "/subsz");
    let v = http_json(&s, "/varz");
    assert_eq!(
        v["http_req_stats"],
        serde_json::json!({"/varz": 2, "/connz": 1, "/subsz": 2}),
        "{v}"
    );
}

/// The `name`s of `/connz<query>`'s connections, in order.
fn names(s: &Server, query: &str) -> Vec<String> {
    let v = http_json(s, &format!("/connz{query}"));
    v["connections"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .iter()
        .map(|c| c["name"].as_str().unwrap_or("").to_string())
        .collect()
}

/// `/connz` `sort`: by cid by default, descending for counts and `rtt`,
/// `stop` and `reason` only with `state=closed`; bad options get
/// nats-server's 400 texts.
#[test]
fn connz_sorts_like_nats_server() {
    let s = Server::start(CONF);
    let (mut a, _) = Conn::on(&s, false);
    a.send(b"CONNECT {\"verbose\":false,\"name\":\"a\"}\r\nSUB x 1\r\n");
    a.ping();
    let (mut b, _) = Conn::on(&s, true);
    // An unsolicited PONG: Go's largest RTT; three subscriptions; two
    // publishes.
    b.send(b"CONNECT {\"verbose\":false,\"name\":\"b\"}\r\nPONG\r\nSUB y 1\r\nSUB z 2\r\nSUB w 3\r\nPUB q 1\r\n1\r\nPUB q 1\r\n2\r\n");
    b.ping();
    let until = Instant::now() + common::DEADLINE;
    while names(&s, "").len() < 2 {
        assert!(Instant::now() < until, "both clients listed");
    }
    assert_eq!(names(&s, ""), ["a", "b"]);
    assert_eq!(names(&s, "?sort=cid"), ["a", "b"]);
    assert_eq!(names(&s, "?sort=rtt"), ["b", "a"]);
    assert_eq!(names(&s, "?sort=subs"), ["b", "a"]);
    assert_eq!(names(&s, "?sort=msgs_from"), ["b", "a"]);
    assert_eq!(names(&s, "?sort=rtt&limit=1"), ["b"]);
    for (q, text) in [
        ("?sort=nope", "invalid sorting option: nope"),
        (
            "?sort=stop",
            "sort by stop only valid on closed connections",
        ),
        (
            "?sort=reason&state=all",
            "sort by reason only valid on closed connections",
        ),
    ] {
        let (status, body) = s.http_get(&format!("/connz{q}"));
        assert_eq!((status, body.trim()), (400, text), "{q}");
    }
    drop(a);
    let until = Instant::now() + common::DEADLINE;
    while names(&s, "?state=closed").is_empty() {
        assert!(Instant::now() < until, "a closed");
    }
    drop(b);
    while names(&s, "?state=closed").len() < 2 {
        assert!(Instant::now() < until, "b closed");
    }
    assert_eq!(names(&s, "?state=closed&sort=stop"), ["b", "a"]);
}

/// `/varz` `websocket.handshake_timeout` (ns) only when configured.
#[test]
fn varz_websocket_handshake_timeout_only_when_configured() {
    let s = Server::start(CONF);
    let v = http_json(&s, "/varz");
    assert!(v["websocket"].get("handshake_timeout").is_none(), "{v}");
    let s =
        Server::start(&CONF.replace("no_tls: true", "no_tls: true\n  handshake_timeout: \"3s\""));
    let v = http_json(&s, "/varz");
    assert_eq!(v["websocket"]["handshake_timeout"], 3_000_000_000u64, "{v}");
}
