//! The WebSocket upgrade request's HTTP edge cases (issue 13 part 4), byte
//! for byte as nats-server 2.15.1 answers them: Go's net/http rejects some
//! requests before nats-server's `wsUpgrade` runs (`readRequest`: more than
//! one Host line; `conn.serve`: HTTP/1.1 without Host, a Host that
//! `httpguts.ValidHostHeader` refuses), always in `HTTP/1.1`; the handler's
//! own errors (`wsReturnHTTPError`) answer in the request's version; bytes
//! buffered after the request head drop the connection without a response.
//!
//! Runs against natsws, and against nats-server with
//! `NATSWS_TEST_SERVER_BIN`; every expectation holds for both.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{find, Server, DEADLINE};

const CONF: &str = common::WS_CONF;

/// The upgrade headers besides the request line and Host.
const UPGRADE: &str = "Upgrade: websocket\r\nConnection: Upgrade\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";

/// net/http's own rejection (`conn.serve`): `HTTP/1.1 <e>` + two headers +
/// `<e>` as the body, then the connection is closed.
fn net_http(e: &str) -> String {
    format!(
        "HTTP/1.1 {e}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n{e}"
    )
}

/// What the server sent back, and whether it then ended the connection.
struct Reply {
    bytes: Vec<u8>,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    fn status_line(&self) -> String {
        let t = self.text();
        t.split("\r\n").next().unwrap_or("").to_string()
    }

    /// The body after the head (with Content-Length: that many bytes).
    fn body(&self) -> String {
        let t = self.text();
        t.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default()
    }

    fn header(&self, name: &str) -> Option<String> {
        let t = self.text();
        let head = t.split_once("\r\n\r\n")?.0.to_string();
        head.split("\r\n").skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

/// Sends `parts` (each with one write) and reads the reply: through a
/// complete response head plus its Content-Length body, or to the end of
/// the connection when the response has no length (net/http's form) or
/// nothing came at all.
fn exchange(s: &Server, parts: &[&[u8]]) -> Reply {
    let mut sock = TcpStream::connect(("127.0.0.1", s.ws_port.expect("ws port"))).expect("connect");
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    for p in parts {
        // A write may fail if the server already dropped the connection.
        let _ = sock.write_all(p);
    }
    let until = Instant::now() + DEADLINE;
    let mut bytes = Vec::new();
    loop {
        if let Some(end) = find(&bytes, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&bytes[..end]).to_ascii_lowercase();
            if head.starts_with("http/1.1 101") {
                break;
            }
            let len = head
                .split("\r\n")
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            if len.is_some_and(|n| bytes.len() >= end + 4 + n) {
                break;
            }
        }
        assert!(
            Instant::now() < until,
            "no complete reply; have {:?}",
            String::from_utf8_lossy(&bytes)
        );
        let mut chunk = [0u8; 4096];
        match sock.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            Err(e) if common::is_timeout(&e) => {}
            // Reset: the server dropped the connection.
            Err(_) => break,
        }
    }
    Reply { bytes }
}

fn request(version: &str, target: &str, hosts: &[&str]) -> Vec<u8> {
    let mut r = format!("GET {target} HTTP/{version}\r\n");
    for h in hosts {
        r.push_str(&format!("Host: {h}\r\n"));
    }
    r.push_str(UPGRADE);
    r.push_str("\r\n");
    r.into_bytes()
}

fn assert_upgraded(r: &Reply, what: &str) {
    assert_eq!(
        r.status_line(),
        "HTTP/1.1 101 Switching Protocols",
        "{what}: {:?}",
        r.text()
    );
}

/// nats-server's handler error (`wsReturnHTTPError` through `http.Error`):
/// status line in `version`, body `<StatusText>\n`, the WebSocket headers.
fn assert_handler_error(r: &Reply, version: &str, status: &str, what: &str) {
    assert_eq!(
        r.status_line(),
        format!("HTTP/{version} {status}"),
        "{what}: {:?}",
        r.text()
    );
    let phrase = status.split_once(' ').unwrap().1;
    assert_eq!(r.body(), format!("{phrase}\n"), "{what}");
    assert_eq!(
        r.header("Sec-Websocket-Version").as_deref(),
        Some("13"),
        "{what}"
    );
    assert_eq!(
        r.header("Content-Type").as_deref(),
        Some("text/plain; charset=utf-8"),
        "{what}"
    );
    assert_eq!(
        r.header("X-Content-Type-Options").as_deref(),
        Some("nosniff"),
        "{what}"
    );
}

/// `Host` values with a byte net/http's `ValidHostHeader` refuses: 400
/// `malformed Host header` from net/http, in any HTTP version, even when
/// an absolute-form target names the host.
#[test]
fn malformed_host_header() {
    let s = Server::start(CONF);
    let want = net_http("400 Bad Request: malformed Host header");
    for host in [
        "exa mple", "a/b", "a@b", "a\"b", "a{b", "a|b", "a\\b", "a?b", "a#b", "a<b", "a^b", "a`b",
        "a\tb", "é",
    ] {
        for version in ["1.1", "1.0"] {
            let r = exchange(&s, &[&request(version, "/", &[host])]);
            assert_eq!(r.text(), want, "Host {host:?} HTTP/{version}");
        }
    }
    let r = exchange(&s, &[&request("1.1", "http://example.com/", &["exa mple"])]);
    assert_eq!(r.text(), want, "absolute-form target");
}

/// The bytes `ValidHostHeader` accepts (RFC 3986 host and port characters)
/// go through, as do blanks around the value.
#[test]
fn unusual_but_valid_hosts_upgrade() {
    let s = Server::start(CONF);
    for host in ["[::1]:8080", "a!$&'()*+,;=_~%b", "A-Z.0:9", "  localhost  "] {
        let r = exchange(&s, &[&request("1.1", "/", &[host])]);
        assert_upgraded(&r, host);
    }
}

/// HTTP/1.1 without Host: net/http's 400 with the reason in the status
/// line, also with an absolute-form target (the Host header is what
/// counts).
#[test]
fn http11_without_host() {
    let s = Server::start(CONF);
    let want = net_http("400 Bad Request: missing required Host header");
    for target in ["/", "http://example.com/"] {
        let r = exchange(&s, &[&request("1.1", target, &[])]);
        assert_eq!(r.text(), want, "{target}");
    }
}

/// Two Host lines (equal or not, any version): net/http's `readRequest`
/// refuses them with a bare 400.
#[test]
fn two_host_headers() {
    let s = Server::start(CONF);
    let want = net_http("400 Bad Request");
    for version in ["1.1", "1.0"] {
        for hosts in [["a", "b"], ["a", "a"]] {
            let r = exchange(&s, &[&request(version, "/", &hosts)]);
            assert_eq!(r.text(), want, "HTTP/{version} {hosts:?}");
        }
    }
}

/// HTTP/1.0: nats-server's handler answers in the request's version
/// (`HTTP/1.0 400 Bad Request` for a missing Host, `HTTP/1.0 405` for a
/// POST); a request with Host, or with an absolute-form target instead,
/// is upgraded (the 101 is always `HTTP/1.1`).
#[test]
fn http10_requests() {
    let s = Server::start(CONF);
    let r = exchange(&s, &[&request("1.0", "/", &[])]);
    assert_handler_error(&r, "1.0", "400 Bad Request", "HTTP/1.0 without Host");
    let r = exchange(&s, &[&request("1.0", "/", &[""])]);
    assert_handler_error(&r, "1.0", "400 Bad Request", "HTTP/1.0 empty Host");
    let post = String::from_utf8(request("1.0", "/", &["localhost"]))
        .unwrap()
        .replacen("GET", "POST", 1);
    let r = exchange(&s, &[post.as_bytes()]);
    assert_handler_error(&r, "1.0", "405 Method Not Allowed", "HTTP/1.0 POST");
    let r = exchange(&s, &[b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n"]);
    assert_handler_error(&r, "1.0", "400 Bad Request", "HTTP/1.0 without Upgrade");
    assert_upgraded(
        &exchange(&s, &[&request("1.0", "/", &["localhost"])]),
        "HTTP/1.0 with Host",
    );
    assert_upgraded(
        &exchange(&s, &[&request("1.0", "http://example.com/", &[])]),
        "HTTP/1.0 absolute-form without Host",
    );
}

/// HTTP/1.1 neighbours: an absolute-form target with a Host header is
/// upgraded; an empty Host is the handler's 400 (`'Host' missing in
/// request`) in HTTP/1.1.
#[test]
fn http11_neighbours() {
    let s = Server::start(CONF);
    for target in [
        "http://example.com/",
        "https://example.com/x?y",
        "ws://example.com/",
    ] {
        assert_upgraded(
            &exchange(&s, &[&request("1.1", target, &["localhost"])]),
            target,
        );
    }
    let r = exchange(&s, &[&request("1.1", "/", &[""])]);
    assert_handler_error(&r, "1.1", "400 Bad Request", "HTTP/1.1 empty Host");
}

/// Bytes after the request head, before the client has seen the 101
/// (nats-server's `wsUpgrade`: the HTTP reader has `Buffered() > 0` after
/// the hijack): the connection is dropped without any response, whether
/// the bytes are a frame, a stray CRLF, or follow a head sent in two
/// writes.
#[test]
fn data_before_the_101_drops_the_connection() {
    let s = Server::start(CONF);
    let head = request("1.1", "/", &["localhost"]);
    let frame: &[u8] = b"\x82\x86\x01\x02\x03\x04QRFL!\x0e";
    let mut with_frame = head.clone();
    with_frame.extend_from_slice(frame);
    let mut with_crlf = head.clone();
    with_crlf.extend_from_slice(b"\r\n");
    let mut head10 = request("1.0", "/", &["localhost"]);
    head10.extend_from_slice(b"X");
    let (first, rest) = head.split_at(20);
    let mut rest = rest.to_vec();
    rest.extend_from_slice(frame);
    let cases: [(&str, Vec<&[u8]>); 4] = [
        ("frame in the same write", vec![&with_frame]),
        ("CRLF after the head", vec![&with_crlf]),
        ("HTTP/1.0", vec![&head10]),
        ("head in two writes", vec![first, &rest]),
    ];
    for (what, parts) in cases {
        let r = exchange(&s, &parts);
        assert_eq!(r.text(), "", "{what}");
    }
    // The same head alone is upgraded.
    assert_upgraded(&exchange(&s, &[&head]), "head alone");
}
