//! Interop with real MQTT clients: rumqttc (Rust) and mosquitto's
//! `mosquitto_pub`/`mosquitto_sub` (the Debian package, the anchor client
//! most MQTT users have), plus a NATS client on the same subjects. Runs
//! against natsws and nats-server 2.15.1; the mosquitto cases are skipped
//! when the tools are not installed (`bash scripts/apt-install.sh
//! mosquitto-clients`).
#![allow(missing_docs)]

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::mqtt::start;
use common::{Raw, DEADLINE};
use rumqttc::{Client, Event, MqttOptions, Packet, QoS};

fn rumqttc(port: u16, id: &str) -> (Client, rumqttc::Connection) {
    let mut o = MqttOptions::new(id, "127.0.0.1", port);
    o.set_keep_alive(Duration::from_secs(30));
    Client::new(o, 16)
}

/// The next incoming packet matching `pick`, within the deadline.
fn next<T>(conn: &mut rumqttc::Connection, mut pick: impl FnMut(&Packet) -> Option<T>) -> T {
    let until = Instant::now() + DEADLINE;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "timed out");
        match conn.recv_timeout(left) {
            Ok(Ok(Event::Incoming(p))) => {
                if let Some(t) = pick(&p) {
                    return t;
                }
            }
            Ok(Ok(Event::Outgoing(_))) => {}
            Ok(Err(e)) => panic!("rumqttc: {e}"),
            Err(_) => panic!("timed out"),
        }
    }
}

fn have(tool: &str) -> bool {
    Command::new(tool).arg("--help").output().is_ok()
}

#[test]
fn rumqttc_publishes_and_subscribes_with_nats_on_the_same_subjects() {
    let (s, _d, port) = start("", "");
    let mut n = Raw::connect(s.client_port);
    n.expect("\r\n");
    n.send(b"CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB rc.> 1\r\nPING\r\n");
    n.expect("PONG\r\n");
    let (c, mut conn) = rumqttc(port, "rc-1");
    c.subscribe("rc/#", QoS::AtLeastOnce).unwrap();
    next(&mut conn, |p| matches!(p, Packet::SubAck(_)).then_some(()));
    c.publish("rc/x", QoS::AtLeastOnce, false, b"from-rumqttc".to_vec())
        .unwrap();
    let p = next(&mut conn, |p| match p {
        Packet::Publish(p) => Some(p.clone()),
        _ => None,
    });
    assert_eq!(
        (p.topic.as_str(), &p.payload[..], p.qos),
        ("rc/x", &b"from-rumqttc"[..], QoS::AtLeastOnce)
    );
    let got = n.expect("from-rumqttc\r\n");
    assert!(
        got.contains("HMSG rc.x 1 25 37\r\nNATS/1.0\r\nNmqtt-Pub:1"),
        "{got:?}"
    );
    n.send(b"PUB rc.from.nats 4\r\nnats\r\n");
    let p = next(&mut conn, |p| match p {
        Packet::Publish(p) => Some(p.clone()),
        _ => None,
    });
    assert_eq!(
        (p.topic.as_str(), &p.payload[..], p.qos),
        ("rc/from/nats", &b"nats"[..], QoS::AtMostOnce)
    );
}

#[test]
fn mosquitto_clients_interoperate_with_rumqttc() {
    if !have("mosquitto_pub") || !have("mosquitto_sub") {
        eprintln!("skipped: mosquitto clients not installed");
        return;
    }
    let (_s, _d, port) = start("", "");
    let p = port.to_string();
    // rumqttc subscribes; mosquitto_pub publishes QoS 1 (exits after PUBACK).
    let (c, mut conn) = rumqttc(port, "rc-sub");
    c.subscribe("mq/#", QoS::ExactlyOnce).unwrap();
    next(&mut conn, |p| matches!(p, Packet::SubAck(_)).then_some(()));
    let st = Command::new("mosquitto_pub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &p,
            "-i",
            "mpub",
            "-q",
            "2",
            "-t",
            "mq/a.b",
            "-m",
            "hello",
        ])
        .status()
        .unwrap();
    assert!(st.success());
    let got = next(&mut conn, |p| match p {
        Packet::Publish(p) => Some(p.clone()),
        _ => None,
    });
    assert_eq!(
        (got.topic.as_str(), &got.payload[..], got.qos),
        ("mq/a.b", &b"hello"[..], QoS::ExactlyOnce)
    );
    // rumqttc sets a retained message; mosquitto_sub gets it on subscribe.
    c.publish("mq/kept", QoS::AtLeastOnce, true, b"retained".to_vec())
        .unwrap();
    next(&mut conn, |p| matches!(p, Packet::PubAck(_)).then_some(()));
    let out = Command::new("mosquitto_sub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &p,
            "-i",
            "msub",
            "-q",
            "1",
            "-t",
            "mq/kept",
            "-C",
            "1",
            "-W",
            "10",
            "-v",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "mq/kept retained\n");
}

#[test]
fn mosquitto_over_tls() {
    if !have("mosquitto_pub") || !have("mosquitto_sub") {
        eprintln!("skipped: mosquitto clients not installed");
        return;
    }
    let pki = common::pki::Pki::new();
    let (s, _d, port) = start(&format!("tls {{ {} }}", pki.block("")), "");
    let mut n = Raw::connect(s.client_port);
    n.expect("\r\n");
    n.send(b"CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB tls.> 1\r\nPING\r\n");
    n.expect("PONG\r\n");
    let ca = pki.path("ca.pem");
    let ca = ca.to_str().unwrap();
    let p = port.to_string();
    let st = Command::new("mosquitto_pub")
        .args([
            "--cafile",
            ca,
            "-h",
            "127.0.0.1",
            "-p",
            &p,
            "-i",
            "tpub",
            "-q",
            "1",
            "-r",
            "-t",
            "tls/a",
            "-m",
            "secure",
        ])
        .status()
        .unwrap();
    assert!(st.success());
    let got = n.expect("secure\r\n");
    assert!(
        got.contains("HMSG tls.a 1 25 31\r\nNATS/1.0\r\nNmqtt-Pub:1"),
        "{got:?}"
    );
    let out = Command::new("mosquitto_sub")
        .args([
            "--cafile",
            ca,
            "-h",
            "127.0.0.1",
            "-p",
            &p,
            "-i",
            "tsub",
            "-t",
            "tls/#",
            "-C",
            "1",
            "-W",
            "10",
            "-v",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "tls/a secure\n");
    // A plaintext CONNECT on the TLS port gets no CONNACK.
    let mut m = common::mqtt::Mqtt::open(port);
    let mut v = Vec::new();
    natsws_core::mqtt::codec::client::connect(&mut v, b"plain", true, 0, None, None, None);
    m.send(&v);
    let (bytes, _) = m.read_to_close();
    assert!(!bytes.starts_with(&[0x20, 2]), "{bytes:x?}");
}
