//! Durable MQTT state (mqtt spec §7.5, issue #17's crash test): with a
//! store directory (here the `jetstream { store_dir }` a nats-server MQTT
//! config has), the server is killed with SIGKILL while a persistent-session
//! subscriber is offline; after the restart every QoS 1 message the
//! publisher got a PUBACK for reaches the subscriber, in order, and the
//! retained message is still there. Runs against natsws and nats-server
//! 2.15.1; `store: memory` (natsws-only) forgets everything.
#![allow(missing_docs)]

mod common;

use std::time::Duration;

use common::mqtt::{conf, Mqtt};
use common::{is_reference, Server, TempDir};

const N: usize = 40;

/// Subscribes a persistent session, goes offline, then publishes a
/// retained message and `N` QoS 1 messages, waiting for every PUBACK.
fn fill(port: u16) {
    let (mut sub, ack) = Mqtt::connect(port, "durable", false);
    assert_eq!(ack.1, 0);
    assert_eq!(sub.subscribe(1, &[("dur/#", 1)]), [1]);
    sub.send(&[0xe0, 0]);
    sub.read_to_close();
    let (mut publ, _) = Mqtt::connect(port, "pub", true);
    publ.publish(1, true, "kept/x", 1, b"retained");
    for i in 0..N {
        publ.publish(
            1,
            false,
            &format!("dur/{i}"),
            (i + 2) as u16,
            format!("m{i}").as_bytes(),
        );
    }
    for _ in 0..=N {
        assert_eq!(publ.read().b0, 0x40, "PUBACK");
    }
}

#[test]
fn sigkill_loses_no_acknowledged_qos1_message_and_keeps_retained() {
    let dir = TempDir::new();
    let c = conf(&dir, "", "");
    let mut s = Server::start(&c);
    fill(s.mqtt_port.unwrap());
    s.kill();
    let s = Server::start(&c);
    let port = s.mqtt_port.unwrap();
    let (mut sub, ack) = Mqtt::connect(port, "durable", false);
    assert_eq!(ack, (1, 0), "the session survived");
    let mut got = Vec::new();
    while got.len() < N {
        let (_, qos, _, topic, id, payload) = sub.read().publish();
        assert_eq!(qos, 1);
        sub.ack(4, id);
        got.push((topic, String::from_utf8(payload).unwrap()));
    }
    for (i, (t, p)) in got.iter().enumerate() {
        assert_eq!(
            (t.as_str(), p.as_str()),
            (format!("dur/{i}").as_str(), format!("m{i}").as_str())
        );
    }
    let (mut late, _) = Mqtt::connect(port, "late", true);
    assert_eq!(late.subscribe(1, &[("kept/+", 1)]), [1]);
    let (_, _, retain, topic, _, payload) = late.read().publish();
    assert!(retain);
    assert_eq!(
        (topic.as_str(), payload.as_slice()),
        ("kept/x", &b"retained"[..])
    );
}

#[test]
fn memory_store_forgets_sessions_on_restart() {
    if is_reference() {
        return; // `store` is a natsws key.
    }
    let dir = TempDir::new();
    let c = conf(&dir, "store: memory", "");
    let mut s = Server::start(&c);
    fill(s.mqtt_port.unwrap());
    s.kill();
    let s = Server::start(&c);
    let port = s.mqtt_port.unwrap();
    let (mut sub, ack) = Mqtt::connect(port, "durable", false);
    assert_eq!(ack, (0, 0), "no session after a restart");
    assert!(sub.try_read(Duration::from_millis(300)).is_none());
}
