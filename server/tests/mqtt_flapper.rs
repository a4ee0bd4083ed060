//! The takeover "flapper" rule (mqtt spec §4.5.4, nats-server
//! `mqttProcessConnect`): after a takeover the client id is jailed for 1 s;
//! a further CONNECT with it inside that second is held about 1 s and then
//! closed without a CONNACK, while the current holder stays connected.
//! Runs against natsws and, with `NATSWS_TEST_SERVER_BIN`, nats-server
//! 2.15.1.
#![allow(missing_docs)]

mod common;

use std::time::{Duration, Instant};

use common::mqtt::Mqtt;
use natsws_core::mqtt::codec::client;

/// A CONNECT for `id` (clean session, no keep-alive).
fn connect_bytes(id: &str) -> Vec<u8> {
    let mut v = Vec::new();
    client::connect(&mut v, id.as_bytes(), true, 0, None, None, None);
    v
}

#[test]
fn a_connect_within_the_jail_is_held_then_closed_without_connack() {
    let (_s, _dir, port) = common::mqtt::start("", "");
    let (mut a, (_, rc)) = Mqtt::connect(port, "flap", true);
    assert_eq!(rc, 0);
    // B takes the id over: A is closed, B accepted, the jail starts.
    let (mut b, (_, rc)) = Mqtt::connect(port, "flap", true);
    assert_eq!(rc, 0);
    a.read_to_close();
    // C comes within the jail.
    let mut c = Mqtt::open(port);
    let sent = Instant::now();
    c.send(&connect_bytes("flap"));
    // Whatever C sends while held is not answered.
    c.send(&[0xc0, 0]);
    let (got, _) = c.read_to_close();
    let held = sent.elapsed();
    assert!(got.is_empty(), "no CONNACK, nothing at all: {got:x?}");
    assert!(
        held >= Duration::from_millis(800),
        "held about the jail time before the close, not closed at once: {held:?}"
    );
    // B, the holder, was not disturbed.
    b.send(&[0xc0, 0]);
    assert_eq!(b.read().b0, 0xd0, "PINGRESP to the holder");
    // C's close came a jail time after the takeover: the id is free again
    // and a new CONNECT takes it over at once.
    let (_d, (_, rc)) = Mqtt::connect(port, "flap", true);
    assert_eq!(rc, 0);
    b.read_to_close();
}

#[test]
fn a_connect_without_a_takeover_before_it_is_not_held() {
    let (_s, _dir, port) = common::mqtt::start("", "");
    // Reconnects of one client that closed its connection first are no
    // takeovers: each is accepted at once.
    for _ in 0..3 {
        let started = Instant::now();
        let (mut m, (_, rc)) = Mqtt::connect(port, "steady", true);
        assert_eq!(rc, 0);
        assert!(started.elapsed() < Duration::from_millis(800));
        m.send(&[0xe0, 0]);
        m.read_to_close();
    }
}
