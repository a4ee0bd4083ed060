//! MQTT over WebSocket (mqtt spec §1.3): an upgrade on a path ending in
//! `/mqtt` on the websocket port is an `MQTT_WS` client that shares
//! subjects with MQTT over TCP and NATS; `/mqtt` without an MQTT listener
//! is a 404 with nats-server's text. Against natsws and nats-server 2.15.1.
#![allow(missing_docs)]

mod common;

use common::mqtt::{conf, ws_packet, Mqtt};
use common::{Server, TempDir, WsRaw};
use natsws_core::mqtt::codec::client;

const WS: &str = "websocket { host: 127.0.0.1, port: -1, no_tls: true }\nhttp_port: -1";

#[test]
fn mqtt_over_websocket_shares_subjects_with_tcp_and_nats() {
    let dir = TempDir::new();
    let s = Server::start(&conf(&dir, "", WS));
    let ws_port = s.ws_port.expect("ws port");
    let mqtt_port = s.mqtt_port.expect("mqtt port");
    let mut w = WsRaw::connect_at(
        ws_port,
        "/mqtt",
        false,
        &[("Sec-WebSocket-Protocol", "mqtt")],
        b"",
    )
    .expect("upgrade");
    let mut v = Vec::new();
    client::connect(&mut v, b"browser", true, 30, None, None, None);
    // Byte by byte frames are reassembled (spec §1.3: packets across frames).
    for b in &v {
        w.send(&[*b]);
    }
    assert_eq!(ws_packet(&mut w), [0x20, 2, 0, 0]);
    let mut v = Vec::new();
    client::subscribe(&mut v, 1, &[(b"ws/+", 1)]);
    w.send(&v);
    assert_eq!(ws_packet(&mut w), [0x90, 3, 0, 1, 1]);
    let (mut tcp, _) = Mqtt::connect(mqtt_port, "tcp", true);
    tcp.publish(1, false, "ws/a", 1, b"to-browser");
    assert_eq!(tcp.read().b0, 0x40);
    let p = ws_packet(&mut w);
    assert_eq!(p[0], 0x32, "QoS 1 PUBLISH: {p:x?}");
    assert!(p.ends_with(b"to-browser"));
    // /connz: type mqtt for the WebSocket client too.
    let (code, body) = s.http_get("/connz");
    assert_eq!(code, 200);
    let flat: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    assert!(flat.contains("\"type\":\"mqtt\""), "{body}");
    assert!(flat.contains("\"mqtt_client\":\"browser\""), "{body}");
}

#[test]
fn mqtt_path_without_mqtt_listener_is_404() {
    let s = Server::start(
        "host: 127.0.0.1\nport: -1\nwebsocket { host: 127.0.0.1, port: -1, no_tls: true }\n",
    );
    let r = WsRaw::connect_at(s.ws_port.unwrap(), "/mqtt", false, &[], b"");
    let Err(common::Refused(resp)) = r else {
        panic!("upgraded")
    };
    assert!(resp.starts_with("HTTP/1.1 404"), "{resp}");
    // Observed on nats-server 2.15.1: a plain 404 "Not Found" (the
    // "mqtt websocket endpoint not enabled" text is only logged).
    assert!(resp.ends_with("\r\n\r\nNot Found\n"), "{resp}");
}

/// The 101 response head to an upgrade on `/mqtt` offering `protocol`.
fn upgrade_head(port: u16, protocol: Option<&str>) -> String {
    use std::io::{Read, Write};
    let mut t = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    t.set_read_timeout(Some(common::DEADLINE)).unwrap();
    let offer = protocol.map_or(String::new(), |p| {
        format!("Sec-WebSocket-Protocol: {p}\r\n")
    });
    write!(
        t,
        "GET /mqtt HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{offer}\r\n"
    )
    .unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(t.read(&mut b).unwrap(), 1, "response head");
        head.push(b[0]);
    }
    String::from_utf8(head).unwrap()
}

#[test]
fn subprotocol_is_answered_only_when_offered() {
    let dir = TempDir::new();
    let s = Server::start(&conf(&dir, "", WS));
    let port = s.ws_port.unwrap();
    let h = upgrade_head(port, Some("mqtt"));
    assert!(h.starts_with("HTTP/1.1 101"), "{h}");
    assert!(h.contains("Sec-Websocket-Protocol: mqtt\r\n"), "{h}");
    let h = upgrade_head(port, None);
    // nats-server answers `mqtt` even when nothing was offered (a browser
    // that offered nothing then fails the connection); natsws answers
    // nothing (docs/compat.md).
    assert_eq!(
        h.contains("Sec-Websocket-Protocol"),
        common::is_reference(),
        "{h}"
    );
}

/// natsws closes an MQTT-over-WebSocket connection that sends a text
/// message with close code 1003 ([MQTT-6.0.0-1], mqtt spec §1.3 IMPL);
/// nats-server accepts it like a binary one (docs/compat.md).
#[test]
fn a_text_frame_on_mqtt_closes_with_1003() {
    use std::io::Write;
    if common::is_reference() {
        return;
    }
    let dir = TempDir::new();
    let s = Server::start(&conf(&dir, "", WS));
    let mut w =
        WsRaw::connect_at(s.ws_port.expect("ws port"), "/mqtt", false, &[], b"").expect("upgrade");
    let mut v = Vec::new();
    client::connect(&mut v, b"texter", true, 30, None, None, None);
    let mut out = Vec::new();
    natsws_core::ws::codec::write_frame(
        &mut out,
        natsws_core::ws::frame::OpCode::TEXT,
        true,
        false,
        &v,
        Some([1, 2, 3, 4]),
    )
    .unwrap();
    w.sock.write_all(&out).unwrap();
    let (code, _) = w.expect_close();
    assert_eq!(code, Some(1003));
    assert!(
        w.buf.is_empty(),
        "no CONNACK before the close: {:x?}",
        w.buf
    );
}
