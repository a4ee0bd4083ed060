//! Monitoring and close-path details that must match nats-server 2.15.1:
//! `/connz` `rtt` (measured with server PINGs, and the PING a `/connz`
//! request sends), the key sets of the monitoring endpoints, and how fast
//! a connection closed after an `-ERR` reaches EOF.
//!
//! Every test runs against nats-server too
//! (`NATSWS_TEST_SERVER_BIN=…/nats-server`); the key-set comparison
//! starts the reference itself next to the binary under test.

mod common;

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
    let (status, body) = s.http_get(path);
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
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
