//! Group commit of the durable MQTT store (issue #17): acknowledgements a
//! subscriber sent (PUBACK) need no commit of their own before anything
//! goes out, but they reach the store with a later commit and at the
//! latest at shutdown, so a graceful restart does not send acknowledged
//! messages again. Runs against natsws and, with `NATSWS_TEST_SERVER_BIN`,
//! nats-server 2.15.1.
#![allow(missing_docs)]

mod common;

use std::time::Duration;

use common::mqtt::{conf, Mqtt};
use common::{Server, TempDir};

const N: u16 = 5;

fn stop(s: &mut Server) {
    let ok = std::process::Command::new("kill")
        .args(["-TERM", &s.pid().to_string()])
        .status()
        .expect("kill")
        .success();
    assert!(ok, "kill -TERM");
    s.wait();
}

#[test]
fn acknowledged_deliveries_are_not_sent_again_after_a_graceful_restart() {
    let dir = TempDir::new();
    let c = conf(&dir, "", "");
    let mut s = Server::start(&c);
    let port = s.mqtt_port.unwrap();
    let (mut sub, ack) = Mqtt::connect(port, "acked", false);
    assert_eq!(ack, (0, 0));
    assert_eq!(sub.subscribe(1, &[("ack/#", 1)]), [1]);
    let (mut publ, _) = Mqtt::connect(port, "acked-pub", true);
    for i in 1..=N {
        publ.publish(1, false, &format!("ack/{i}"), i, b"x");
        assert_eq!(publ.read().b0, 0x40, "PUBACK");
    }
    // Two acknowledged, the rest left in flight.
    let mut ids = Vec::new();
    for _ in 0..N {
        let (_, qos, _, _, id, _) = sub.read().publish();
        assert_eq!(qos, 1);
        ids.push(id);
    }
    sub.ack(4, ids[0]);
    sub.ack(4, ids[1]);
    // PINGRESP: the PUBACKs before it were handled.
    sub.send(&[0xc0, 0]);
    assert_eq!(sub.read().b0, 0xd0);
    stop(&mut s);
    let _s = Server::start(&c);
    let (mut sub, ack) = Mqtt::connect(port_of(&_s), "acked", false);
    assert_eq!(ack, (1, 0), "the session survived");
    // Whatever the server resends (natsws at once after the CONNACK,
    // nats-server after ack_wait), never the acknowledged ones: collect
    // for a while and check.
    let mut again = Vec::new();
    while let Some(p) = sub.try_read(Duration::from_millis(500)) {
        let (_, _, _, topic, id, _) = p.publish();
        again.push((topic, id));
        sub.ack(4, id);
    }
    assert!(
        again.iter().all(|(t, _)| t != "ack/1" && t != "ack/2"),
        "acknowledged messages sent again: {again:?}"
    );
}

fn port_of(s: &Server) -> u16 {
    s.mqtt_port.unwrap()
}

/// The store file's modification time.
fn mtime(dir: &TempDir) -> std::time::SystemTime {
    std::fs::metadata(dir.0.join("mqtt").join("state.redb"))
        .and_then(|m| m.modified())
        .expect("state.redb")
}

#[test]
fn acknowledgements_reach_the_store_of_an_idle_server_without_other_traffic() {
    if common::is_reference() {
        return; // natsws's store file and its lazy commit.
    }
    let dir = TempDir::new();
    let c = conf(&dir, "", "");
    let mut s = Server::start(&c);
    let port = s.mqtt_port.unwrap();
    let (mut sub, _) = Mqtt::connect(port, "idle-acked", false);
    assert_eq!(sub.subscribe(1, &[("idle/#", 1)]), [1]);
    let (mut publ, _) = Mqtt::connect(port, "idle-pub", true);
    publ.publish(1, false, "idle/1", 1, b"x");
    assert_eq!(publ.read().b0, 0x40, "PUBACK");
    let (_, _, _, _, id, _) = sub.read().publish();
    sub.send(&[0xc0, 0]);
    assert_eq!(sub.read().b0, 0xd0);
    // The delivery is written (its PUBACK to the publisher waited for
    // that); now the subscriber's PUBACK, and then nothing else happens.
    let before = mtime(&dir);
    sub.ack(4, id);
    let until = std::time::Instant::now() + common::DEADLINE;
    while mtime(&dir) == before {
        assert!(
            std::time::Instant::now() < until,
            "the PUBACK was never written"
        );
        std::thread::yield_now();
    }
    s.kill();
    let s = Server::start(&c);
    let (mut sub, ack) = Mqtt::connect(s.mqtt_port.unwrap(), "idle-acked", false);
    assert_eq!(ack, (1, 0));
    assert!(
        sub.try_read(Duration::from_millis(500)).is_none(),
        "the acknowledged message came back"
    );
}
