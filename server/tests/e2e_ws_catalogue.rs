//! Server-level cases of the websocket spec's §8 catalogue (groups C and D)
//! against the real binary: raw WebSocket clients, exact bytes.

mod common;

use common::{Server, WsRaw};

fn ws_server(extra_ws: &str, top: &str) -> Server {
    Server::start(&format!(
        "host: 127.0.0.1\nport: -1\n{top}\nwebsocket {{\n  host: 127.0.0.1\n  port: -1\n  no_tls: true\n  {extra_ws}\n}}\n"
    ))
}

fn quiet(w: &mut WsRaw) {
    w.expect(" \r\n");
    w.send(b"CONNECT {\"verbose\":false,\"protocol\":1}\r\nPING\r\n");
    w.expect("PONG\r\n");
}

/// D39: WebSocket and TCP clients exchange messages both ways, with and
/// without compression.
#[test]
fn d39_pub_sub_both_directions_with_and_without_compression() {
    for compression in [false, true] {
        let s = ws_server(&format!("compression: {compression}"), "");
        let mut w = WsRaw::connect_with(s.ws_port.unwrap(), compression, &[]).unwrap();
        assert_eq!(w.compression, compression);
        quiet(&mut w);
        let mut t = common::Raw::connect(s.client_port);
        t.expect(" \r\n");
        t.send(b"CONNECT {\"verbose\":false}\r\nSUB from.ws 1\r\nPING\r\n");
        t.expect("PONG\r\n");
        w.send(b"SUB from.tcp 1\r\nPING\r\n");
        w.expect("PONG\r\n");
        let big = "b".repeat(300);
        t.send(format!("PUB from.tcp {}\r\n{big}\r\n", big.len()).as_bytes());
        w.expect(&format!("MSG from.tcp 1 {}\r\n{big}\r\n", big.len()));
        w.send(format!("PUB from.ws {}\r\n{big}\r\n", big.len()).as_bytes());
        t.expect(&format!("MSG from.ws 1 {}\r\n{big}\r\n", big.len()));
    }
}

/// D40: one uncompressed frame larger than max_payload carrying two PUBs
/// and a PING is accepted (limits apply per PUB, not per frame).
#[test]
fn d40_batched_pubs_in_one_frame_above_max_payload() {
    let s = ws_server("", "max_payload: 100");
    let mut w = WsRaw::connect(s.ws_port.unwrap());
    quiet(&mut w);
    let p = "p".repeat(90);
    w.send(format!("SUB a 1\r\nPUB a 90\r\n{p}\r\nPUB a 90\r\n{p}\r\nPING\r\n").as_bytes());
    let got = w.expect("PONG\r\n");
    assert_eq!(got.matches("MSG a 1 90").count(), 2, "{got}");
}

/// D42: 64 compressed messages in a row are all delivered and PING is still
/// answered.
#[test]
fn d42_sequential_compressed_messages_stay_responsive() {
    let s = ws_server("compression: true", "");
    let mut w = WsRaw::connect_with(s.ws_port.unwrap(), true, &[]).unwrap();
    quiet(&mut w);
    w.send(b"SUB c 1\r\nPING\r\n");
    w.expect("PONG\r\n");
    let body = "compress me ".repeat(20);
    for _ in 0..64 {
        w.send_compressed(format!("PUB c {}\r\n{body}\r\n", body.len()).as_bytes());
    }
    w.send_compressed(b"PING\r\n");
    let got = w.expect("PONG\r\n");
    assert_eq!(got.matches("MSG c 1 ").count(), 64);
}

/// D45: a valid PUB followed by an unmasked frame in one write: the PUB is
/// still delivered before the protocol close (1002).
#[test]
fn d45_buffered_delivery_flushed_before_protocol_close() {
    if common::is_reference() {
        return; // natsws-only: nats-server closes without flushing its close frame (docs/compat.md)
    }
    let s = ws_server("", "");
    let mut sub = WsRaw::connect(s.ws_port.unwrap());
    quiet(&mut sub);
    sub.send(b"SUB d 1\r\nPING\r\n");
    sub.expect("PONG\r\n");
    let mut w = WsRaw::connect(s.ws_port.unwrap());
    quiet(&mut w);
    let mut bytes = Vec::new();
    natsws_core::ws::codec::write_frame(
        &mut bytes,
        natsws_core::ws::OpCode::BINARY,
        true,
        false,
        b"PUB d 2\r\nok\r\n",
        Some([3, 3, 3, 3]),
    )
    .unwrap();
    bytes.extend_from_slice(b"\x82\x06PING\r\n"); // not masked
    w.send_raw(&bytes);
    assert_eq!(w.expect_close().0, Some(1002));
    sub.expect("MSG d 1 2\r\nok\r\n");
}

/// D46: a compressed PUB above max_payload gets `-ERR 'Maximum Payload
/// Violation'`.
#[test]
fn d46_compressed_pub_above_max_payload_is_refused() {
    let s = ws_server("compression: true", "max_payload: 4096");
    let mut w = WsRaw::connect_with(s.ws_port.unwrap(), true, &[]).unwrap();
    quiet(&mut w);
    let body = "z".repeat(4097);
    w.send_compressed(format!("PUB big {}\r\n{body}\r\n", body.len()).as_bytes());
    w.expect("-ERR 'Maximum Payload Violation'\r\n");
}

/// D47: a server-side protocol close sends close 1002 `Protocol Violation`.
#[test]
fn d47_close_frame_on_protocol_violation() {
    if common::is_reference() {
        return; // natsws-only: nats-server closes without flushing its close frame (docs/compat.md)
    }
    let s = ws_server("", "");
    let mut w = WsRaw::connect(s.ws_port.unwrap());
    quiet(&mut w);
    w.send(b"PUB a b c d\r\n");
    assert_eq!(
        w.expect_close(),
        (Some(1002), "Protocol Violation".to_string())
    );
}

/// C37: the websocket `ping_interval` override makes the server send NATS
/// PINGs to WebSocket clients at that period.
#[test]
fn c37_websocket_ping_interval_override() {
    let s = ws_server("ping_interval: \"200ms\"", "");
    let mut w = WsRaw::connect(s.ws_port.unwrap());
    quiet(&mut w);
    // The first PING comes ~2 s after CONNECT, then every 200 ms; answer
    // each so the connection is not stale.
    for _ in 0..3 {
        w.expect("PING\r\n");
        w.send(b"PONG\r\n");
    }
}

/// C38: a configured extra header is present in the 101 response.
#[test]
fn c38_custom_header_in_101() {
    let s = ws_server("headers { X-Custom: \"natsws\" }", "");
    let port = s.ws_port.unwrap();
    let mut c = common::Raw::connect(port);
    c.send(
        format!(
            "GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: MDEyMzQ1Njc4OWFiY2RlZg==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        .as_bytes(),
    );
    let head = c.expect("\r\n\r\n");
    assert!(
        head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{head}"
    );
    assert!(head.contains("X-Custom: natsws\r\n"), "{head}");
}

/// B-level check end to end: the handshake timeout closes a connection that
/// never sends its upgrade request.
#[test]
fn handshake_timeout_closes_silent_connections() {
    let s = ws_server("handshake_timeout: \"300ms\"", "");
    let mut c = common::Raw::connect(s.ws_port.unwrap());
    assert_eq!(c.read_to_close(), "");
}
