//! Login exchanges shared by the authentication suites: a config with
//! client and WebSocket listeners, a CONNECT line, and the expected
//! success or `Authorization Violation` over either transport.

use super::{Conn, Server};
use serde_json::{json, Value};

/// The reply to refused credentials.
pub const AV: &str = "Authorization Violation";

/// A server config: client and WebSocket listeners on ephemeral loopback
/// ports, `top` at the top level, `ws` inside `websocket {}`.
pub fn conf(top: &str, ws: &str) -> String {
    format!(
        "listen: \"127.0.0.1:-1\"\n{top}\nwebsocket {{\n  listen: \"127.0.0.1:-1\"\n  no_tls: true\n  {ws}\n}}\n"
    )
}

/// `CONNECT {…}\r\nPING\r\n` with `verbose:false`, `protocol:1` and `fields`.
pub fn connect(fields: Value) -> Vec<u8> {
    let mut c = json!({"verbose": false, "pedantic": false, "protocol": 1});
    for (k, v) in fields.as_object().unwrap() {
        c[k] = v.clone();
    }
    format!("CONNECT {c}\r\nPING\r\n").into_bytes()
}

/// Connects (TCP or ws), sends CONNECT+PING with `fields`, expects PONG and
/// returns the connection.
pub fn login_ok(s: &Server, ws: bool, fields: Value) -> Conn {
    let (mut c, _) = Conn::on(s, ws);
    c.send(&connect(fields));
    c.expect("PONG\r\n");
    c
}

/// Connects, sends CONNECT+PING with `fields`, expects the auth violation
/// and the close (ws: 1008 `Authentication Failure`).
pub fn login_refused(s: &Server, ws: bool, fields: Value) {
    let (mut c, _) = Conn::on(s, ws);
    c.send(&connect(fields));
    c.expect_err_close(AV, 1008, "Authentication Failure");
}
