//! After a burst, a PINGREQ lets an idle session give back the delivery
//! state a burst made (natsws: `Inner::shrink_idle`); QoS 1 deliveries
//! after that are numbered, acknowledged and redelivered as before. Runs
//! against natsws and, with `NATSWS_TEST_SERVER_BIN`, nats-server 2.15.1.
#![allow(missing_docs)]

mod common;

use std::time::Duration;

use common::mqtt::{start, Mqtt};

/// Publishes `payload` at QoS 1 on `t/1` and waits for its PUBACK.
fn publish(p: &mut Mqtt, id: u16, payload: &[u8]) {
    p.publish(1, false, "t/1", id, payload);
    let a = p.read();
    assert_eq!((a.b0, a.id()), (0x40, id), "PUBACK");
}

/// The next delivery: (DUP, packet id, payload).
fn delivery(s: &mut Mqtt) -> (bool, u16, Vec<u8>) {
    let (dup, qos, _, topic, id, payload) = s.read().publish();
    assert_eq!((qos, topic.as_str()), (1, "t/1"));
    (dup, id, payload)
}

#[test]
fn qos1_after_an_idle_pingreq_is_numbered_acked_and_redelivered() {
    let (_s, _d, port) = start("ack_wait: \"500ms\"", "");
    let (mut sub, ack) = Mqtt::connect(port, "idle-sub", true);
    assert_eq!(ack.1, 0);
    assert_eq!(sub.subscribe(1, &[("t/#", 1)]), [1]);
    let (mut publ, _) = Mqtt::connect(port, "idle-pub", true);
    // A burst, all acknowledged, then idle.
    for i in 0..20u16 {
        publish(&mut publ, i + 1, b"burst");
        let (_, id, payload) = delivery(&mut sub);
        assert_eq!(payload, b"burst");
        sub.ack(4, id);
    }
    sub.send(&[0xc0, 0]);
    assert_eq!(sub.read().b0, 0xd0, "PINGRESP");
    // After the idle moment: a delivery acknowledged is not sent again.
    publish(&mut publ, 100, b"acked");
    let (dup, id, payload) = delivery(&mut sub);
    assert_eq!((dup, payload.as_slice()), (false, &b"acked"[..]));
    assert_ne!(id, 0);
    sub.ack(4, id);
    // One not acknowledged comes again after ack_wait with DUP and the
    // same identifier, and nothing else does.
    publish(&mut publ, 101, b"unacked");
    let (dup, id2, payload) = delivery(&mut sub);
    assert_eq!((dup, payload.as_slice()), (false, &b"unacked"[..]));
    let again = sub.try_read(Duration::from_secs(5)).expect("redelivery");
    let (dup, _, _, _, id3, payload) = again.publish();
    assert_eq!((dup, id3, payload.as_slice()), (true, id2, &b"unacked"[..]));
    sub.ack(4, id2);
    sub.send(&[0xc0, 0]);
    assert_eq!(sub.read().b0, 0xd0, "PINGRESP, no other redelivery");
}
