//! The MQTT connection's timer (natsws; `MqttConn::deadline`): before
//! CONNECT it is `connect_timeout` (a natsws key, default 10 s), and a
//! connection that sent nothing is closed when it passes; once a CONNECT
//! was accepted the same timer only wakes the loop to write a lazily
//! marked store change (a PUBACK received) and never closes anything.
#![allow(missing_docs)]

mod common;

use std::time::{Duration, Instant};

use common::mqtt::{start, Mqtt};

#[test]
fn connect_timeout_closes_a_silent_connection_and_no_connected_one() {
    if common::is_reference() {
        return; // `connect_timeout` is natsws's key.
    }
    let (_s, _d, port) = start("connect_timeout: \"300ms\"", "");
    let opened = Instant::now();
    let mut silent = Mqtt::open(port);
    // A persistent QoS 1 subscriber (the file store is on) receives a
    // message and acknowledges it: a lazy store change, which arms the
    // subscriber's timer.
    let (mut sub, ack) = Mqtt::connect(port, "timers-sub", false);
    assert_eq!(ack.1, 0);
    assert_eq!(sub.subscribe(1, &[("t/#", 1)]), [1]);
    let (mut publ, ack) = Mqtt::connect(port, "timers-pub", true);
    assert_eq!(ack.1, 0);
    publ.publish(1, false, "t/1", 1, b"x");
    assert_eq!(publ.read().b0, 0x40, "PUBACK");
    let (_, qos, _, topic, id, _) = sub.read().publish();
    assert_eq!((qos, topic.as_str()), (1, "t/1"));
    sub.ack(4, id);
    // The silent one: closed with nothing sent, at the timeout.
    let (got, _) = silent.read_to_close();
    assert!(got.is_empty(), "{got:x?}");
    let took = opened.elapsed();
    assert!(
        took >= Duration::from_millis(250),
        "closed at the timeout, not at once: {took:?}"
    );
    // Past the timeout and the lazy write (100 ms): both clients are
    // still served and nothing else came.
    assert!(sub.try_read(Duration::from_millis(400)).is_none());
    for m in [&mut sub, &mut publ] {
        m.send(&[0xc0, 0]);
        assert_eq!(m.read().b0, 0xd0, "PINGRESP");
    }
}
