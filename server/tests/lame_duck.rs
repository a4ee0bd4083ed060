//! Lame duck mode (nats-protocol.md §5, SIGUSR2 / `--signal ldm`): the
//! listeners close, protocol-1 clients get an INFO with `"ldm":true`, and
//! after the grace period the clients are closed one at a time, then the
//! server exits.
//!
//! Every test here passes against the reference nats-server
//! (`NATSWS_TEST_SERVER_BIN`).

mod common;

use common::{Conn, Server};

const CONF: &str = r#"listen: "127.0.0.1:-1"
http: "127.0.0.1:-1"
lame_duck_duration: "30s"
lame_duck_grace_period: "1s"
websocket {
  listen: "127.0.0.1:-1"
  no_tls: true
}
"#;

fn signal(s: &Server, sig: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{sig}"), &s.pid().to_string()])
        .status()
        .expect("kill");
    assert!(status.success(), "kill -{sig}");
}

/// Connects with CONNECT `protocol` and completes the first PING/PONG.
fn client(s: &Server, ws: bool, protocol: u8) -> Conn {
    let (mut c, _) = Conn::on(s, ws);
    c.send(format!("CONNECT {{\"verbose\":false,\"protocol\":{protocol}}}\r\n").as_bytes());
    c.ping();
    c
}

#[test]
fn lame_duck_informs_then_closes_clients_one_by_one() {
    let mut s = Server::start(CONF);
    let mut tcp1 = client(&s, false, 1);
    let mut ws1 = client(&s, true, 1);
    let mut tcp0 = client(&s, false, 0);
    signal(&s, "USR2");
    s.expect_log("Entering lame duck mode, stop accepting new clients");

    // Protocol-1 clients learn it from an asynchronous INFO.
    for c in [&mut tcp1, &mut ws1] {
        let line = c.expect("\"ldm\":true");
        assert!(line.contains("INFO {"), "{line}");
    }
    // Not ready any more: the listeners are closed.
    let (status, body) = s.http_get("/healthz");
    assert_eq!(status, 500, "{body}");
    assert!(body.starts_with(r#"{"status":"error","error":"#), "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let down = v["error"]
        .as_str()
        .unwrap()
        .strip_prefix("failed to be ready for connections after 1ms: ")
        .unwrap_or_else(|| panic!("{body}"));
    // nats-server lists them in Go map order.
    let mut down: Vec<&str> = down.split(", ").collect();
    down.sort_unstable();
    assert_eq!(down, ["server", "websocket"]);
    s.expect_log("Closing existing clients");
    assert!(std::net::TcpStream::connect(("127.0.0.1", s.client_port)).is_err());
    assert!(std::net::TcpStream::connect(("127.0.0.1", s.ws_port.unwrap())).is_err());

    // Then every client is closed: WebSocket with 1001 Server Shutdown.
    let (_, close) = ws1.expect_end();
    assert_eq!(close, Some((Some(1001), "Server Shutdown".to_string())));
    tcp1.expect_end();
    let (rest, _) = tcp0.expect_end();
    assert!(!rest.contains("ldm"), "protocol 0 got the INFO: {rest}");
    assert!(s.wait().success());
}

#[test]
fn lame_duck_without_clients_exits_at_once() {
    let mut s = Server::start(CONF);
    signal(&s, "USR2");
    assert!(s.wait().success());
    let log = s.kill_and_drain_log();
    assert!(
        log.iter().any(|l| l.contains("Entering lame duck mode")),
        "{log:?}"
    );
    assert!(
        !log.iter().any(|l| l.contains("Closing existing clients")),
        "{log:?}"
    );
}

/// SIGTERM is ignored while lame duck mode runs; SIGINT still stops the
/// server.
#[test]
fn sigterm_is_ignored_in_lame_duck_mode() {
    let mut s = Server::start(&CONF.replace("\"1s\"", "\"20s\""));
    let mut c = client(&s, false, 1);
    signal(&s, "USR2");
    c.expect("\"ldm\":true");
    signal(&s, "TERM");
    s.expect_log("Trapped \"terminated\" signal");
    // Still served.
    c.ping();
    signal(&s, "INT");
    c.expect_end();
    assert!(s.wait().success());
}
