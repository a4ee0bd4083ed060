//! Black-box tests: the real `natsws` binary on ephemeral loopback ports,
//! spoken to with raw bytes (TCP and WebSocket) and with async-nats.

mod common;

use std::time::Duration;

use common::{Raw, Server, WsRaw};
use futures_util::StreamExt;

const BASE: &str = r#"
host: 127.0.0.1
port: -1
http: "127.0.0.1:-1"
websocket {
  host: 127.0.0.1
  port: -1
  no_tls: true
}
"#;

fn server() -> Server {
    Server::start(BASE)
}

/// A WebSocket client after `CONNECT` (named `name`), the protocol lines in
/// `then` (e.g. a `SUB`), and a PING answered.
fn ws_client(s: &Server, name: &str, then: &str) -> WsRaw {
    let mut w = WsRaw::connect(s.ws_port.unwrap());
    w.expect(" \r\n");
    w.send(
        format!("CONNECT {{\"verbose\":false,\"name\":\"{name}\"}}\r\n{then}PING\r\n").as_bytes(),
    );
    w.expect("PONG\r\n");
    w
}

/// The same over TCP.
fn tcp_client(s: &Server, name: &str, then: &str) -> Raw {
    let mut t = Raw::connect(s.client_port);
    t.expect(" \r\n");
    t.send(
        format!("CONNECT {{\"verbose\":false,\"name\":\"{name}\"}}\r\n{then}PING\r\n").as_bytes(),
    );
    t.expect("PONG\r\n");
    t
}

/// Sends `batch` from `p` (with a PING/PONG after each, so the server has
/// routed it) until `/varz` counts a slow consumer; at most 4000 times.
fn publish_until_slow_consumer(s: &Server, p: &mut Raw, batch: &[u8]) {
    publish_until_slow_consumer_paced(s, p, batch, &|_| {});
}

/// [`publish_until_slow_consumer`], calling `before(n)` ahead of the
/// `n`-th batch (0-based), so a test can hold the publisher back.
fn publish_until_slow_consumer_paced(
    s: &Server,
    p: &mut Raw,
    batch: &[u8],
    before: &dyn Fn(usize),
) {
    for n in 0..4000 {
        before(n);
        p.send(batch);
        p.send(b"PING\r\n");
        p.expect("PONG\r\n");
        let (_, body) = s.http_get("/varz");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        if v["slow_consumers"].as_u64().unwrap() >= 1 {
            return;
        }
    }
    panic!("no slow consumer detected");
}

fn info_json(line: &str) -> serde_json::Value {
    let json = line
        .strip_prefix("INFO ")
        .and_then(|s| s.strip_suffix(" \r\n"))
        .expect("INFO <json> \\r\\n");
    serde_json::from_str(json).expect("INFO json")
}

#[test]
fn tcp_client_gets_info_with_spec_fields() {
    let s = server();
    let mut c = Raw::connect(s.client_port);
    let info = info_json(&c.expect(" \r\n"));
    assert!(info["server_id"].as_str().unwrap().starts_with('N'));
    assert_eq!(info["server_id"].as_str().unwrap().len(), 56);
    assert_eq!(info["proto"], 1);
    assert_eq!(info["headers"], true);
    assert_eq!(info["max_payload"], 1_048_576);
    assert_eq!(info["port"], s.client_port);
    assert_eq!(info["client_ip"], "127.0.0.1");
    assert!(info["client_id"].as_u64().unwrap() >= 1);
    assert!(info.get("auth_required").is_none());
}

/// INFO `version` is what clients gate features on (nats.ws refuses KV below
/// 2.6.2): natsws sends the nats-server release it matches, and names itself
/// in `go`; `/varz` agrees.
#[test]
fn info_and_varz_version_is_the_matched_nats_server_release() {
    let s = server();
    let mut c = Raw::connect(s.client_port);
    let info = info_json(&c.expect(" \r\n"));
    assert_eq!(info["version"], "2.15.1");
    let varz: serde_json::Value = serde_json::from_str(&s.http_get("/varz").1).unwrap();
    assert_eq!(varz["version"], "2.15.1");
    if !common::is_reference() {
        let own = format!("natsws {}", env!("CARGO_PKG_VERSION"));
        assert_eq!(info["go"], own.as_str());
        assert_eq!(varz["go"], own.as_str());
    }
}

#[test]
fn tcp_pub_sub_verbose_and_errors() {
    let s = server();
    let mut c = Raw::connect(s.client_port);
    c.expect(" \r\n");
    c.send(b"CONNECT {\"verbose\":true}\r\nSUB foo 1\r\nPUB foo 5\r\nhello\r\nPING\r\n");
    let got = c.expect("PONG\r\n");
    assert_eq!(got, "+OK\r\n+OK\r\n+OK\r\nMSG foo 1 5\r\nhello\r\nPONG\r\n");
    c.send(b"SUB foo..bar 2\r\nPING\r\n");
    assert_eq!(c.expect("PONG\r\n"), "-ERR 'Invalid Subject'\r\nPONG\r\n");
    c.send(b"FOO\r\n");
    assert_eq!(c.read_to_close(), "-ERR 'Unknown Protocol Operation'\r\n");
}

#[test]
fn tcp_max_payload_violation_closes() {
    let s = Server::start(&format!("max_payload: 100\n{BASE}"));
    let mut c = Raw::connect(s.client_port);
    let info = info_json(&c.expect(" \r\n"));
    assert_eq!(info["max_payload"], 100);
    c.send(b"CONNECT {\"verbose\":false}\r\nPUB foo 101\r\n");
    assert_eq!(c.read_to_close(), "-ERR 'Maximum Payload Violation'\r\n");
}

#[test]
fn websocket_client_gets_info_of_the_websocket_listener() {
    let s = server();
    let mut w = WsRaw::connect(s.ws_port.unwrap());
    let info = info_json(&w.expect(" \r\n"));
    assert_eq!(info["port"], s.ws_port.unwrap());
    w.send(
        b"CONNECT {\"verbose\":false,\"protocol\":1}\r\nSUB a.> 1\r\nPUB a.b 2\r\nhi\r\nPING\r\n",
    );
    assert_eq!(w.expect("PONG\r\n"), "MSG a.b 1 2\r\nhi\r\nPONG\r\n");
}

#[test]
fn tcp_and_websocket_share_one_subject_space() {
    share_one_subject_space(&server());
}

/// The same exchange with the event loops' spin off (`loop_spin: 0s`):
/// every wait is then a blocking poll.
#[test]
fn tcp_and_websocket_share_one_subject_space_without_loop_spin() {
    if common::is_reference() {
        return; // natsws-only: `loop_spin` is a natsws key
    }
    share_one_subject_space(&Server::start(&format!("{BASE}loop_spin: \"0s\"\n")));
}

fn share_one_subject_space(s: &Server) {
    let mut w = WsRaw::connect(s.ws_port.unwrap());
    w.expect(" \r\n");
    w.send(b"CONNECT {\"verbose\":false}\r\nSUB chat 1\r\nPING\r\n");
    w.expect("PONG\r\n");
    let mut t = Raw::connect(s.client_port);
    t.expect(" \r\n");
    t.send(b"CONNECT {\"verbose\":false}\r\nSUB chat 7\r\nPING\r\n");
    t.expect("PONG\r\n");
    t.send(b"PUB chat 9\r\nfrom tcp!\r\n");
    assert_eq!(w.expect("from tcp!\r\n"), "MSG chat 1 9\r\nfrom tcp!\r\n");
    w.send(b"PUB chat 8\r\nfrom ws!\r\n");
    t.expect("MSG chat 7 9\r\nfrom tcp!\r\n");
    assert_eq!(t.expect("from ws!\r\n"), "MSG chat 7 8\r\nfrom ws!\r\n");
}

#[test]
fn websocket_ping_gets_pong_and_close_is_echoed() {
    let s = server();
    let mut w = WsRaw::connect(s.ws_port.unwrap());
    w.expect(" \r\n");
    // A masked ping frame with payload "hey".
    let mut f = Vec::new();
    natsws_core::ws::codec::write_ping(&mut f, b"hey", Some([9, 8, 7, 6])).unwrap();
    w.send_raw(&f);
    w.read_until("pong", |w| !w.pongs.is_empty());
    assert_eq!(w.pongs[0], b"hey");
    let mut f = Vec::new();
    natsws_core::ws::codec::write_close(
        &mut f,
        natsws_core::ws::SendCloseCode::NORMAL,
        "bye",
        Some([1, 1, 1, 1]),
    );
    w.send_raw(&f);
    assert_eq!(w.expect_close(), (Some(1000), "bye".to_string()));
}

#[test]
fn websocket_unmasked_frame_is_closed_with_1002() {
    if common::is_reference() {
        return; // natsws-only: nats-server closes without flushing its close frame (docs/compat.md)
    }
    let s = server();
    let mut w = WsRaw::connect(s.ws_port.unwrap());
    w.expect(" \r\n");
    // Binary frame "PING\r\n" without the MASK bit.
    w.send_raw(b"\x82\x06PING\r\n");
    let (code, reason) = w.expect_close();
    assert_eq!(code, Some(1002));
    assert!(!reason.is_empty());
}

#[test]
fn websocket_protocol_error_sends_err_then_close_frame() {
    if common::is_reference() {
        return; // natsws-only: nats-server closes before its -ERR and close frame are written (docs/compat.md)
    }
    let s = server();
    let mut w = WsRaw::connect(s.ws_port.unwrap());
    w.expect(" \r\n");
    w.send(b"BOGUS\r\n");
    w.expect("-ERR 'Unknown Protocol Operation'\r\n");
    let (code, reason) = w.expect_close();
    assert_eq!(code, Some(1002));
    assert_eq!(reason, "Protocol Violation");
}

#[test]
fn websocket_bad_version_is_refused_with_400() {
    if common::is_reference() {
        return; // natsws-only: nats-server keeps the connection open after the 400 (docs/compat.md)
    }
    let s = server();
    let port = s.ws_port.unwrap();
    let mut c = Raw::connect(port);
    c.send(
        format!(
            "GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: MDEyMzQ1Njc4OWFiY2RlZg==\r\nSec-WebSocket-Version: 12\r\n\r\n"
        )
        .as_bytes(),
    );
    let resp = c.read_to_close();
    assert!(resp.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{resp}");
}

#[test]
fn websocket_disallowed_origin_is_refused_with_403() {
    let s = Server::start(
        r#"
host: 127.0.0.1
port: -1
websocket {
  host: 127.0.0.1
  port: -1
  no_tls: true
  allowed_origins: ["http://good.example"]
}
"#,
    );
    let port = s.ws_port.unwrap();
    let err = WsRaw::connect_with(port, false, &[("Origin", "http://evil.example")])
        .err()
        .expect("refused");
    assert!(err.0.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{}", err.0);
    let mut ok =
        WsRaw::connect_with(port, false, &[("Origin", "http://good.example")]).expect("allowed");
    ok.expect(" \r\n");
}

#[test]
fn websocket_browsers_get_frames_of_at_most_4k() {
    let s = server();
    let port = s.ws_port.unwrap();
    let mut w = WsRaw::connect_with(
        port,
        false,
        &[("User-Agent", "Mozilla/5.0 (X11; Linux x86_64)")],
    )
    .unwrap();
    w.expect(" \r\n");
    let payload = vec![b'x'; 20_000];
    let mut msg = format!(
        "CONNECT {{\"verbose\":false}}\r\nSUB big 1\r\nPUB big {}\r\n",
        payload.len()
    )
    .into_bytes();
    msg.extend_from_slice(&payload);
    msg.extend_from_slice(b"\r\nPING\r\n");
    w.send(&msg);
    let frames = w.read_until("PONG", |w| common::find(&w.buf, b"PONG\r\n").is_some());
    assert!(frames.len() >= 5, "{frames:?}");
    assert!(
        frames
            .iter()
            .all(|f| f.len <= 4096 && f.fin && f.opcode == 2),
        "{frames:?}"
    );
}

#[test]
fn websocket_compression_is_negotiated_and_used_above_64_bytes() {
    let s = Server::start(
        r#"
host: 127.0.0.1
port: -1
websocket {
  host: 127.0.0.1
  port: -1
  no_tls: true
  compression: true
}
"#,
    );
    let mut w = WsRaw::connect_with(s.ws_port.unwrap(), true, &[]).unwrap();
    assert!(w.compression);
    w.expect(" \r\n");
    let payload = "abc".repeat(1000);
    w.send(
        format!(
            "CONNECT {{\"verbose\":false}}\r\nSUB z 1\r\nPUB z {}\r\n{payload}\r\nPING\r\n",
            payload.len()
        )
        .as_bytes(),
    );
    let frames = w.read_until("PONG", |w| common::find(&w.buf, b"PONG\r\n").is_some());
    let got = String::from_utf8(std::mem::take(&mut w.buf)).unwrap();
    assert!(got.contains(&format!("MSG z 1 {}\r\n{payload}\r\n", payload.len())));
    let big: Vec<_> = frames.iter().filter(|f| f.opcode == 2).collect();
    assert!(big.iter().any(|f| f.rsv1 && f.len < 1000), "{frames:?}");
    // Inbound compressed messages are inflated into the NATS stream.
    let payload = "xyz".repeat(500);
    w.send_compressed(format!("PUB z {}\r\n{payload}\r\nPING\r\n", payload.len()).as_bytes());
    w.read_until("PONG", |w| common::find(&w.buf, b"PONG\r\n").is_some());
    let got = String::from_utf8(std::mem::take(&mut w.buf)).unwrap();
    assert!(
        got.contains(&format!("MSG z 1 {}\r\n{payload}\r\n", payload.len())),
        "{got}"
    );
}

#[test]
fn shutdown_closes_websocket_clients_with_1001() {
    let mut s = server();
    let mut w = WsRaw::connect(s.ws_port.unwrap());
    w.expect(" \r\n");
    // SIGTERM: graceful shutdown.
    let status = std::process::Command::new("kill")
        .args(["-TERM", &s.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let (code, _) = w.expect_close();
    assert_eq!(code, Some(1001));
    assert!(s.wait().success());
}

#[test]
fn monitoring_reports_connections_by_type() {
    let s = server();
    let mut w = WsRaw::connect(s.ws_port.unwrap());
    w.expect(" \r\n");
    w.send(b"CONNECT {\"verbose\":false,\"name\":\"browser\"}\r\nSUB x 1\r\nPING\r\n");
    w.expect("PONG\r\n");
    let mut t = Raw::connect(s.client_port);
    t.expect(" \r\n");
    t.send(b"CONNECT {\"verbose\":false,\"name\":\"native\"}\r\nPING\r\n");
    t.expect("PONG\r\n");
    let (st, body) = s.http_get("/connz?subs=1");
    assert_eq!(st, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["num_connections"], 2);
    let conns = v["connections"].as_array().unwrap();
    let ws = conns.iter().find(|c| c["name"] == "browser").unwrap();
    assert_eq!(ws["type"], "websocket");
    assert_eq!(ws["subscriptions_list"], serde_json::json!(["x"]));
    let tcp = conns.iter().find(|c| c["name"] == "native").unwrap();
    assert_eq!(tcp["type"], "nats");
    let (st, body) = s.http_get("/varz");
    assert_eq!(st, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["connections"], 2);
    assert_eq!(v["websocket"]["port"], s.ws_port.unwrap());
    assert_eq!(
        s.http_get("/healthz"),
        (200, "{\"status\":\"ok\"}".to_string())
    );
    assert_eq!(s.http_get("/nope").0, 404);
}

/// One plain HTTP GET on `port`; returns the whole response.
fn http_get_raw(port: u16, path: &str) -> String {
    use std::io::{Read as _, Write as _};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: lb\r\nUser-Agent: ELB-HealthChecker/2.0\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    resp
}

/// natsws `websocket { health_path }`: load balancers' health checks on the
/// WebSocket port get 200; without it (nats-server's behaviour) a plain GET
/// is a 400, and WebSocket clients on that path are unaffected.
#[test]
fn websocket_port_answers_health_checks() {
    if common::is_reference() {
        return; // natsws-only: health checks on the websocket port are a natsws extension
    }
    let s = server();
    let resp = http_get_raw(s.ws_port.unwrap(), "/healthz");
    assert!(resp.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{resp}");

    let s =
        Server::start(&BASE.replace("no_tls: true", "no_tls: true\n  health_path: \"/healthz\""));
    let resp = http_get_raw(s.ws_port.unwrap(), "/healthz");
    assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"), "{resp}");
    assert!(resp.ends_with("\r\n\r\n{\"status\":\"ok\"}"), "{resp}");
    let resp = http_get_raw(s.ws_port.unwrap(), "/other");
    assert!(resp.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{resp}");
    let mut w = WsRaw::connect(s.ws_port.unwrap());
    w.expect(" \r\n");
    w.send(b"CONNECT {\"verbose\":false}\r\nPING\r\n");
    w.expect("PONG\r\n");
    let err =
        Server::try_start(&BASE.replace("no_tls: true", "no_tls: true\n  health_path: healthz"))
            .err()
            .expect("must not start");
    assert!(
        err.contains("health_path \"healthz\" must start with '/'"),
        "{err}"
    );
}

/// `/varz` `cpu` is the process's CPU percent (nats-server samples it once a
/// second): after the server has parsed and delivered some megabytes it is
/// above zero and below what the machine's cores allow.
#[test]
fn varz_reports_cpu_use() {
    let s = server();
    let mut t = tcp_client(&s, "loader", "SUB load 1\r\n");
    let payload = "x".repeat(4096);
    let batch = format!("PUB load {}\r\n{payload}\r\n", payload.len()).repeat(256);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let cpu = loop {
        // 1 MiB in, 1 MiB delivered back to the same connection.
        t.send(batch.as_bytes());
        t.send(b"PING\r\n");
        t.expect("PONG\r\n");
        let (st, body) = s.http_get("/varz");
        assert_eq!(st, 200);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let cpu = v["cpu"].as_f64().expect("cpu is a number");
        if cpu > 0.0 {
            break (cpu, v["cores"].as_f64().unwrap());
        }
        assert!(std::time::Instant::now() < deadline, "cpu stayed 0: {body}");
    };
    assert!(cpu.0 <= 100.0 * cpu.1 + 1.0, "{cpu:?}");
}

/// natsws `websocket { upgrade_rate_limit }`: upgrades above the rate get
/// 503 with a `Retry-After`, and the clients already connected are
/// unaffected.
#[test]
fn upgrades_above_the_rate_limit_get_503() {
    if common::is_reference() {
        return; // natsws-only: `upgrade_rate_limit` is a natsws key
    }
    use std::io::{Read as _, Write as _};
    let s = Server::start(&BASE.replace("no_tls: true", "no_tls: true\n  upgrade_rate_limit: 1"));
    let mut first = WsRaw::connect(s.ws_port.unwrap());
    first.expect(" \r\n");
    // The bucket holds one upgrade a second: the next one now is refused.
    let mut c = std::net::TcpStream::connect(("127.0.0.1", s.ws_port.unwrap())).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .unwrap();
    let mut resp = String::new();
    c.read_to_string(&mut resp).unwrap();
    assert!(
        resp.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
        "{resp}"
    );
    let after: u64 = resp
        .lines()
        .find_map(|l| l.strip_prefix("Retry-After: "))
        .unwrap_or_else(|| panic!("{resp}"))
        .parse()
        .unwrap();
    assert!((1..=2).contains(&after), "{resp}");
    first.send(b"CONNECT {\"verbose\":false}\r\nPING\r\n");
    first.expect("PONG\r\n");
}

/// natsws `websocket { max_pending }`: WebSocket subscribers have their own
/// slow-consumer limit; a native subscriber of the same subject, under the
/// server's larger `max_pending`, keeps its connection.
#[test]
fn websocket_max_pending_applies_to_websocket_clients_only() {
    if common::is_reference() {
        return; // natsws-only: websocket `max_pending` is a natsws key
    }
    let s = Server::start(&BASE.replace("no_tls: true", "no_tls: true\n  max_pending: 65536"));
    // Neither subscriber reads after its PONG.
    let _w = ws_client(&s, "browser", "SUB flood 1\r\n");
    let _t = tcp_client(&s, "native", "SUB flood 1\r\n");
    let mut p = tcp_client(&s, "publisher", "");
    let payload = "x".repeat(1024);
    let batch = format!("PUB flood 1024\r\n{payload}\r\n").repeat(64);
    publish_until_slow_consumer(&s, &mut p, batch.as_bytes());
    let (_, body) = s.http_get("/connz?state=closed");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let closed = v["connections"].as_array().unwrap();
    assert_eq!(closed.len(), 1, "{body}");
    assert_eq!(closed[0]["name"], "browser");
    assert_eq!(closed[0]["reason"], "Slow Consumer (Pending Bytes)");
    let (_, body) = s.http_get("/connz");
    assert!(body.contains("\"native\""), "{body}");
}

/// `/connz` shows what a WebSocket client's upgrade request said (natsws
/// extension `websocket` object); TCP clients have none.
#[test]
fn connz_shows_websocket_upgrade_details() {
    if common::is_reference() {
        return; // natsws-only: the /connz `websocket` object is a natsws extension
    }
    let s = server();
    let headers = [
        ("Origin", "https://app.example.com"),
        ("User-Agent", "Mozilla/5.0 (X11) natsws-test"),
    ];
    let (mut w, _) = common::Conn::ws(s.ws_port.unwrap(), &headers);
    w.send(b"CONNECT {\"verbose\":false,\"name\":\"page\"}\r\n");
    w.ping();
    let _t = tcp_client(&s, "native", "");
    let (_, body) = s.http_get("/connz");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let conns = v["connections"].as_array().unwrap();
    let page = conns.iter().find(|c| c["name"] == "page").unwrap();
    assert_eq!(
        page["websocket"],
        serde_json::json!({
            "path": "/",
            "compression": false,
            "browser": true,
            "origin": "https://app.example.com",
            "user_agent": "Mozilla/5.0 (X11) natsws-test",
        })
    );
    let native = conns.iter().find(|c| c["name"] == "native").unwrap();
    assert!(native.get("websocket").is_none(), "{native}");
}

#[test]
fn slow_consumer_is_closed_and_others_keep_receiving() {
    let s = Server::start(&format!("max_pending: 1048576\nmax_payload: 65536\n{BASE}"));
    // The slow one subscribes and never reads.
    let mut slow = Raw::connect(s.client_port);
    slow.expect(" \r\n");
    slow.send(b"CONNECT {\"verbose\":false}\r\nSUB flood 1\r\nPING\r\n");
    slow.expect("PONG\r\n");
    // The good one reads everything on its own thread until it sees "last".
    let mut good = Raw::connect(s.client_port);
    good.expect(" \r\n");
    good.send(b"CONNECT {\"verbose\":false}\r\nSUB flood 1\r\nPING\r\n");
    good.expect("PONG\r\n");
    // Payload bytes the good one has read, so that the publisher never runs
    // more than two batches ahead of it: it stays far under max_pending
    // however its reader thread is scheduled (the test once failed on a
    // loaded machine with the good one closed too).
    let progress = std::sync::Arc::new((std::sync::Mutex::new(0usize), std::sync::Condvar::new()));
    let seen = progress.clone();
    let reader = std::thread::spawn(move || {
        let mut tail = Vec::new();
        let mut buf = vec![0u8; 1 << 16];
        let until = std::time::Instant::now() + Duration::from_secs(30);
        good.sock
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        while std::time::Instant::now() < until {
            match good.sock.read(&mut buf) {
                Ok(0) => return (false, good),
                Ok(n) => {
                    *seen.0.lock().unwrap() += buf[..n].iter().filter(|b| **b == b'z').count();
                    seen.1.notify_all();
                    tail.extend_from_slice(&buf[..n]);
                    if common::find(&tail, b"last\r\n").is_some() {
                        return (true, good);
                    }
                    let keep = tail.len().saturating_sub(16);
                    tail.drain(..keep);
                }
                Err(_) => continue,
            }
        }
        (false, good)
    });
    let mut p = Raw::connect(s.client_port);
    p.expect(" \r\n");
    p.send(b"CONNECT {\"verbose\":false}\r\n");
    let payload = vec![b'z'; 8192];
    let mut batch = Vec::new();
    for _ in 0..8 {
        batch.extend_from_slice(format!("PUB flood {}\r\n", payload.len()).as_bytes());
        batch.extend_from_slice(&payload);
        batch.extend_from_slice(b"\r\n");
    }
    let per_batch = 8 * payload.len();
    publish_until_slow_consumer_paced(&s, &mut p, &batch, &|n| {
        // Batch n goes out once the good one has read batches 0..n-2: it
        // is never more than two batches (128 KiB) behind.
        let (lock, cv) = &*progress;
        let read = lock.lock().unwrap();
        let (read, timeout) = cv
            .wait_timeout_while(read, common::DEADLINE, |r| {
                *r < n.saturating_sub(1) * per_batch
            })
            .unwrap();
        assert!(
            !timeout.timed_out(),
            "the good subscriber stalled at {} bytes",
            *read
        );
    });
    p.send(b"PUB flood 4\r\nlast\r\n");
    let (good_ok, _good) = reader.join().unwrap();
    assert!(
        good_ok,
        "the good subscriber kept receiving: {:?}",
        s.http_get("/connz?state=any")
    );
    assert!(!slow.read_to_close().is_empty());
    let (_, body) = s.http_get("/connz?state=closed");
    assert!(body.contains("Slow Consumer (Pending Bytes)"), "{body}");
    let (_, body) = s.http_get("/connz");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v["num_connections"], 2,
        "only the slow consumer was closed: {body}"
    );
}

use std::io::Read;

/// A round trip through the server on `c`: once it returns, every command
/// `c` sent before (SUBs included) has been processed. (async-nats `flush`
/// only empties the client's write buffer.)
async fn sync(c: &async_nats::Client) {
    let inbox = c.new_inbox();
    let mut s = c.subscribe(inbox.clone()).await.unwrap();
    c.publish(inbox, "sync".into()).await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), s.next())
        .await
        .expect("sync round trip")
        .expect("sync message");
}

#[tokio::test]
async fn async_nats_over_tcp_and_websocket() {
    let s = server();
    let tcp = async_nats::connect(s.nats_url())
        .await
        .expect("tcp connect");
    let ws = async_nats::connect(s.ws_url()).await.expect("ws connect");
    let mut sub = ws.subscribe("greet.*").await.unwrap();
    sync(&ws).await;
    tcp.publish("greet.joe", "hello".into()).await.unwrap();
    tcp.flush().await.unwrap();
    let m = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.subject.as_str(), "greet.joe");
    assert_eq!(&m.payload[..], b"hello");

    // Request/reply across transports, with headers.
    let mut svc = tcp.subscribe("svc.echo").await.unwrap();
    sync(&tcp).await;
    let tcp2 = tcp.clone();
    tokio::spawn(async move {
        while let Some(m) = svc.next().await {
            if let Some(r) = m.reply {
                let mut h = async_nats::HeaderMap::new();
                h.append("X-Seen", "1");
                h.append("X-Seen", "2");
                tcp2.publish_with_headers(r, h, m.payload).await.unwrap();
            }
        }
    });
    let resp = tokio::time::timeout(
        Duration::from_secs(5),
        ws.request("svc.echo", "ping".into()),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(&resp.payload[..], b"ping");
    let h = resp.headers.unwrap();
    let vals: Vec<_> = h
        .get_all("X-Seen")
        .map(|v| v.as_str().to_string())
        .collect();
    assert_eq!(vals, vec!["1", "2"]);

    // No responders: 503 surfaces as an error.
    let err = ws.request("nobody.home", "x".into()).await.unwrap_err();
    assert_eq!(err.kind(), async_nats::RequestErrorKind::NoResponders);
}

#[tokio::test]
async fn async_nats_queue_group_spans_transports() {
    let s = server();
    let tcp = async_nats::connect(s.nats_url()).await.unwrap();
    let ws = async_nats::connect(s.ws_url()).await.unwrap();
    let pubc = async_nats::connect(s.nats_url()).await.unwrap();
    let mut a = tcp.queue_subscribe("jobs", "workers".into()).await.unwrap();
    let mut b = ws.queue_subscribe("jobs", "workers".into()).await.unwrap();
    sync(&tcp).await;
    sync(&ws).await;
    for i in 0..200 {
        pubc.publish("jobs", format!("{i}").into()).await.unwrap();
    }
    pubc.flush().await.unwrap();
    let mut got = 0;
    let (mut na, mut nb) = (0, 0);
    while got < 200 {
        tokio::select! {
            Some(_) = a.next() => { na += 1; got += 1; }
            Some(_) = b.next() => { nb += 1; got += 1; }
            _ = tokio::time::sleep(Duration::from_secs(5)) => panic!("only {got} of 200 delivered"),
        }
    }
    assert_eq!(na + nb, 200);
    assert!(na > 0 && nb > 0, "both members got work: {na} {nb}");
}

/// Fast-producer stall (nats-server behaviour): a publisher that outruns a
/// subscriber which does keep reading is slowed down, not the subscriber
/// closed as a slow consumer. 32 MiB go through a 2 MiB `max_pending`.
#[test]
fn fast_producer_is_stalled_not_its_reading_subscriber_closed() {
    let s = Server::start(&format!("max_pending: 2097152\nmax_payload: 65536\n{BASE}"));
    let mut sub = Raw::connect(s.client_port);
    sub.expect(" \r\n");
    sub.send(b"CONNECT {\"verbose\":false}\r\nSUB fast 1\r\nPING\r\n");
    sub.expect("PONG\r\n");
    let n = 1024usize;
    let payload = vec![b'x'; 32 * 1024];
    let reader = std::thread::spawn(move || {
        let mut total = 0usize;
        let mut buf = vec![0u8; 1 << 16];
        let until = std::time::Instant::now() + Duration::from_secs(60);
        let want = n * (32 * 1024 + "MSG fast 1 32768\r\n\r\n".len());
        while total < want && std::time::Instant::now() < until {
            match sub.sock.read(&mut buf) {
                Ok(0) => break,
                Ok(k) => total += k,
                Err(_) => {}
            }
        }
        (total, want)
    });
    let mut publ = Raw::connect(s.client_port);
    publ.expect(" \r\n");
    let mut burst = b"CONNECT {\"verbose\":false}\r\n".to_vec();
    for _ in 0..n {
        burst.extend_from_slice(b"PUB fast 32768\r\n");
        burst.extend_from_slice(&payload);
        burst.extend_from_slice(b"\r\n");
    }
    burst.extend_from_slice(b"PING\r\n");
    publ.send(&burst);
    publ.expect("PONG\r\n");
    let (total, want) = reader.join().unwrap();
    assert_eq!(total, want, "every MSG byte reached the subscriber");
    let (_, body) = s.http_get("/varz");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["slow_consumers"], 0, "{v}");
}

/// Large WebSocket batches go out as vectored writes of frame headers + NATS
/// bytes. A subscriber that reads nothing until 8 MiB are queued for it
/// makes those writes stop part-way (in a header or in the bytes); every
/// message must still arrive whole and in order.
#[test]
fn websocket_large_deliveries_survive_partial_vectored_writes() {
    large_deliveries(false);
}

/// The same for a browser (`Mozilla/` User-Agent): its frames are cut at
/// 4 KiB (spec §3.8), every one of them a header + piece in the writev.
#[test]
fn browser_large_deliveries_survive_partial_vectored_writes_in_4k_frames() {
    large_deliveries(true);
}

fn large_deliveries(browser: bool) {
    let s = Server::start(&format!("max_payload: 65536\n{BASE}"));
    let ua: &[(&str, &str)] = if browser {
        &[("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0")]
    } else {
        &[]
    };
    let mut sub = WsRaw::connect_with(s.ws_port.unwrap(), false, ua).expect("upgrade");
    sub.expect(" \r\n");
    sub.send(b"CONNECT {\"verbose\":false}\r\nSUB big 1\r\nPING\r\n");
    sub.expect("PONG\r\n");
    let n = 256usize;
    let size = 32 * 1024;
    let mut publ = Raw::connect(s.client_port);
    publ.expect(" \r\n");
    let mut burst = b"CONNECT {\"verbose\":false}\r\n".to_vec();
    for i in 0..n {
        burst.extend_from_slice(format!("PUB big {size}\r\n").as_bytes());
        burst.extend(std::iter::repeat_n(b'a' + (i % 26) as u8, size));
        burst.extend_from_slice(b"\r\n");
    }
    burst.extend_from_slice(b"PUB big 4\r\ndone\r\nPING\r\n");
    publ.send(&burst);
    // All of it is routed (and queued for the subscriber) before it reads.
    publ.expect("PONG\r\n");
    let end = b"MSG big 1 4\r\ndone\r\n".to_vec();
    let frames = sub.read_until("done", |w| w.buf.ends_with(&end));
    assert!(frames.iter().all(|f| f.fin && !f.rsv1 && f.opcode == 2));
    let largest = frames.iter().map(|f| f.len).max().unwrap();
    if browser {
        assert!(largest <= 4096, "browser frame of {largest} bytes");
    } else {
        assert!(largest > 4096, "non-browser batches are one frame each");
    }
    let text = std::mem::take(&mut sub.buf);
    let mut rest = &text[..];
    for i in 0..n {
        let head = format!("MSG big 1 {size}\r\n");
        assert!(rest.starts_with(head.as_bytes()), "message {i}: header");
        rest = &rest[head.len()..];
        let want = b'a' + (i % 26) as u8;
        assert!(
            rest[..size].iter().all(|&b| b == want),
            "message {i}: payload"
        );
        assert_eq!(&rest[size..size + 2], b"\r\n", "message {i}: end");
        rest = &rest[size + 2..];
    }
    assert_eq!(rest, &end[..]);
}
