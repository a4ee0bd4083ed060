//! How fast a connection the server closes after an `-ERR` is gone
//! (nats-server `closeConnection`: flush, then close at once). The peer
//! keeps its own socket open and unread-from after the error, as a client
//! that has not noticed yet would: the `-ERR` (and over WebSocket the
//! close frame) must still come first, then EOF, and the server must
//! count the connection as closed (`/connz?state=closed`) at once, not
//! after waiting for the peer.
//!
//! The bounds are behaviour bounds (nats-server takes a few ms; 500 ms is
//! far below natsws's old 2 s lingering close), not benchmarks. Every
//! test passes against nats-server (`NATSWS_TEST_SERVER_BIN`).

mod common;

use std::time::{Duration, Instant};

use common::{Conn, Raw, Server, DEADLINE};
use serde_json::Value;

/// The bound for the EOF and the server-side close after the error.
const PROMPT: Duration = Duration::from_millis(500);

const AUTH_CONF: &str = r#"
host: 127.0.0.1
port: -1
http: "127.0.0.1:-1"
websocket { host: 127.0.0.1, port: -1, no_tls: true }
authorization { user: a, password: b }
"#;

/// Polls `/connz?state=closed` until connection `cid` is listed; returns
/// the time it took from `since` and its object.
fn await_closed(s: &Server, cid: u64, since: Instant) -> (Duration, Value) {
    let until = Instant::now() + DEADLINE;
    loop {
        let (status, body) = s.http_get("/connz?state=closed");
        assert_eq!(status, 200, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        if let Some(c) = v["connections"]
            .as_array()
            .and_then(|a| a.iter().find(|c| c["cid"] == cid))
        {
            return (since.elapsed(), c.clone());
        }
        assert!(Instant::now() < until, "cid {cid} never closed: {v}");
    }
}

/// A client whose CONNECT fails authentication gets the `-ERR`, then EOF
/// (a close frame 1008 first over WebSocket), and the server has closed
/// it, all well within [`PROMPT`], while the client keeps its socket.
#[test]
fn an_authorization_violation_closes_at_once() {
    for ws in [false, true] {
        let s = Server::start(AUTH_CONF);
        let (mut c, info) = Conn::on(&s, ws);
        let cid = info["client_id"].as_u64().expect("client_id");
        let t0 = Instant::now();
        c.send(b"CONNECT {\"user\":\"a\",\"pass\":\"wrong\"}\r\nPING\r\n");
        c.expect_err_close("Authorization Violation", 1008, "Authentication Failure");
        let eof = t0.elapsed();
        let (closed, conn) = await_closed(&s, cid, t0);
        assert_eq!(conn["reason"], "Authentication Failure", "{conn}");
        assert!(eof < PROMPT, "ws={ws}: EOF after {eof:?}");
        assert!(closed < PROMPT, "ws={ws}: closed after {closed:?}");
        // The client's socket is still open here.
        drop(c);
    }
}

/// The same with input the server never read: a publish before CONNECT
/// on a server that requires auth (`Authorization Violation`), followed
/// by more bytes in the same write.
#[test]
fn a_violation_with_unread_input_behind_it_closes_at_once() {
    let s = Server::start(AUTH_CONF);
    let mut r = Raw::connect(s.client_port);
    let info = common::parse_info(&r.expect("\r\n"));
    let cid = info["client_id"].as_u64().expect("client_id");
    let t0 = Instant::now();
    let mut burst = b"PUB x 5\r\nhello\r\n".to_vec();
    burst.extend(std::iter::repeat_n(b'z', 32 * 1024));
    r.send(&burst);
    let rest = r.read_to_close();
    let eof = t0.elapsed();
    assert!(
        rest.starts_with("-ERR 'Authorization Violation'\r\n"),
        "{rest:?}"
    );
    let (closed, _) = await_closed(&s, cid, t0);
    assert!(eof < PROMPT, "EOF after {eof:?}");
    assert!(closed < PROMPT, "closed after {closed:?}");
}

/// A hub with a leaf user allowed to publish only `ok.>`.
const HUB_CONF: &str = r#"
host: 127.0.0.1
port: -1
http: "127.0.0.1:-1"
accounts { A: { users: [ { user: lu, password: lp, permissions: { publish: "ok.>" } } ] } }
leafnodes { host: 127.0.0.1, port: -1 }
"#;

/// A raw leaf whose LMSG the hub's permissions deny gets the `-ERR`, then
/// EOF, and the link is gone from `/leafz` and closed in `/connz`, all
/// well within [`PROMPT`].
#[test]
fn a_leaf_permissions_violation_closes_the_link_at_once() {
    let h = Server::start(HUB_CONF);
    let mut r = Raw::connect(h.leaf_port.expect("leaf port"));
    r.expect("\r\n");
    r.send(b"CONNECT {\"name\":\"RAW\",\"user\":\"lu\",\"pass\":\"lp\"}\r\n");
    let line = r.expect("\r\n");
    assert!(line.starts_with("INFO "), "{line}");
    // The link is up once /leafz lists it.
    let until = Instant::now() + DEADLINE;
    let cid = loop {
        let (_, body) = h.http_get("/leafz");
        let v: Value = serde_json::from_str(&body).unwrap();
        if let Some(id) = v["leafs"][0]["id"].as_u64() {
            break id;
        }
        assert!(Instant::now() < until, "no link in {v}");
    };
    let t0 = Instant::now();
    r.send(b"LMSG nope.x 2\r\nno\r\n");
    let rest = r.read_to_close();
    let eof = t0.elapsed();
    assert!(
        rest.contains("-ERR 'Permissions Violation for Publish to \"nope.x\"'\r\n"),
        "{rest:?}"
    );
    let (closed, conn) = await_closed(&h, cid, t0);
    assert_eq!(conn["kind"], "Leafnode", "{conn}");
    let (_, body) = h.http_get("/leafz");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["leafnodes"], 0, "{v}");
    assert!(eof < PROMPT, "EOF after {eof:?}");
    assert!(closed < PROMPT, "closed after {closed:?}");
}
