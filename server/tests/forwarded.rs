//! `X-Forwarded-For` on the WebSocket port (websocket spec §2.9, §4.6;
//! user-needs §4).
//!
//! - As nats-server: the first header line, when it is a bare IP, shows in
//!   log prefixes (`<xff>/<ip:port> - wid:<cid>`) and nowhere else. The
//!   tests without `trusted_proxies` pass against the reference nats-server
//!   too (`NATSWS_TEST_SERVER_BIN`).
//! - natsws `trusted_proxies`: from a trusted peer the header is walked from
//!   the right and names the client in INFO, `/connz` (`client_ip`), JWT
//!   `src` checks and logs; from any other peer it is ignored entirely.

mod common;

use common::{is_reference, Conn, Server};

fn conf(ws_extra: &str) -> String {
    format!(
        r#"listen: "127.0.0.1:-1"
http: "127.0.0.1:-1"
authorization {{ user: a, password: b }}
websocket {{
  listen: "127.0.0.1:-1"
  no_tls: true
  {ws_extra}
}}
"#
    )
}

/// Upgrades with `X-Forwarded-For` lines, fails authentication, and
/// returns the INFO and the server's log line for the failure.
fn refused_with(s: &Server, xff: &[&str]) -> (serde_json::Value, String) {
    let headers: Vec<(&str, &str)> = xff.iter().map(|v| ("X-Forwarded-For", *v)).collect();
    let (mut c, info) = Conn::ws(s.ws_port.unwrap(), &headers);
    c.send(b"CONNECT {\"verbose\":false,\"user\":\"a\",\"pass\":\"wrong\"}\r\nPING\r\n");
    c.expect("-ERR 'Authorization Violation'\r\n");
    let line = s.expect_log("authentication error - User");
    (info, line)
}

#[test]
fn forwarded_for_shows_in_logs_only() {
    let s = Server::start(&conf(""));
    let (info, line) = refused_with(&s, &["203.0.113.9"]);
    assert_eq!(info["client_ip"], "127.0.0.1");
    assert!(line.contains("] 203.0.113.9/127.0.0.1:"), "{line}");
    assert!(line.contains(" - wid:"), "{line}");
    // IPv6 in brackets.
    let (_, line) = refused_with(&s, &["2001:db8::7"]);
    assert!(line.contains("] [2001:db8::7]/127.0.0.1:"), "{line}");
    // Not a bare IP on the first line: not shown.
    let (_, line) = refused_with(&s, &["203.0.113.9, 10.0.0.1"]);
    assert!(line.contains("] 127.0.0.1:"), "{line}");
}

#[test]
fn trusted_proxies_name_the_client() {
    if is_reference() {
        return; // natsws extension
    }
    let s = Server::start(&conf(r#"trusted_proxies: ["127.0.0.1/32", "10.0.0.0/8"]"#));
    // The client forged the leftmost entry; the proxies appended the rest.
    let (info, line) = refused_with(&s, &["6.6.6.6, 203.0.113.9, 10.1.1.1"]);
    assert_eq!(info["client_ip"], "203.0.113.9");
    assert!(line.contains("] 203.0.113.9/127.0.0.1:"), "{line}");

    let (mut c, info) = Conn::ws(s.ws_port.unwrap(), &[("X-Forwarded-For", "198.51.100.4")]);
    assert_eq!(info["client_ip"], "198.51.100.4");
    c.send(b"CONNECT {\"verbose\":false,\"user\":\"a\",\"pass\":\"b\",\"name\":\"behind\"}\r\n");
    c.ping();
    let (_, body) = s.http_get("/connz");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let conn = v["connections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "behind")
        .unwrap_or_else(|| panic!("{body}"));
    assert_eq!(conn["ip"], "127.0.0.1");
    assert_eq!(conn["client_ip"], "198.51.100.4");
}

#[test]
fn untrusted_peers_cannot_forge_their_address() {
    if is_reference() {
        return; // natsws extension
    }
    let s = Server::start(&conf(r#"trusted_proxies: "10.0.0.0/8""#));
    let (info, line) = refused_with(&s, &["203.0.113.9"]);
    assert_eq!(info["client_ip"], "127.0.0.1");
    assert!(line.contains("] 127.0.0.1:"), "{line}");
    assert!(!line.contains("203.0.113.9"), "{line}");
}

#[test]
fn bad_trusted_proxies_refuse_to_start() {
    if is_reference() {
        return; // natsws extension
    }
    let err = Server::try_start(&conf(r#"trusted_proxies: ["10.0.0.0/33"]"#))
        .err()
        .expect("must not start");
    assert!(
        err.contains("trusted_proxies: \"10.0.0.0/33\" is not an IP address or CIDR range"),
        "{err}"
    );
}
