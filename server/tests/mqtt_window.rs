//! `max_ack_pending` as nats-server applies it (mqtt spec §4.4): at most
//! that many QoS 1/2 deliveries unacknowledged per session (`sess.maxp`,
//! changed for existing sessions by a reload), a window per QoS 1/2
//! subscription fixed when it was made (its JetStream consumer's
//! `MaxAckPending`), and `mqttMaxAckTotalLimit` 65535 for a session's
//! subscriptions together. Runs against natsws and, with
//! `NATSWS_TEST_SERVER_BIN`, nats-server 2.15.1.
#![allow(missing_docs)]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::mqtt::{conf, Mqtt};
use common::{Server, TempDir};

/// What a QoS 1 PUBLISH says: (topic, payload, packet id).
fn next(m: &mut Mqtt) -> (String, String, u16) {
    let (_, qos, _, topic, id, payload) = m.read().publish();
    assert_eq!(qos, 1);
    (topic, String::from_utf8(payload).unwrap(), id)
}

/// Publishes `payload` at QoS 1 and waits for its PUBACK.
fn publish(p: &mut Mqtt, topic: &str, id: u16, payload: &str) {
    p.publish(1, false, topic, id, payload.as_bytes());
    let ack = p.read();
    assert_eq!((ack.b0, ack.id()), (0x40, id), "PUBACK");
}

#[test]
fn the_session_holds_at_most_max_ack_pending_unacknowledged() {
    let (_s, _dir, port) = common::mqtt::start("max_ack_pending: 2", "");
    let (mut sub, _) = Mqtt::connect(port, "win-sub", true);
    assert_eq!(sub.subscribe(1, &[("w/a", 1), ("w/b", 1)]), [1, 1]);
    let (mut p, _) = Mqtt::connect(port, "win-pub", true);
    publish(&mut p, "w/a", 1, "a1");
    publish(&mut p, "w/a", 2, "a2");
    publish(&mut p, "w/a", 3, "a3");
    publish(&mut p, "w/b", 4, "b1");
    // Two in flight for the whole session, whatever the subscription.
    let got: Vec<_> = (0..2).map(|_| next(&mut sub)).collect();
    let seen: Vec<&str> = got.iter().map(|g| g.1.as_str()).collect();
    assert_eq!(seen, ["a1", "a2"], "{got:?}");
    assert!(
        sub.try_read(Duration::from_millis(300)).is_none(),
        "nothing more before a PUBACK"
    );
    // One PUBACK: one more (nats-server sends a3, whose consumer has room
    // again, and b1 only after ack_wait; natsws sends what waited first).
    sub.ack(4, got[0].2);
    let (_, third, _) = next(&mut sub);
    assert!(third == "a3" || third == "b1", "{third}");
    assert!(sub.try_read(Duration::from_millis(300)).is_none());
}

#[test]
fn after_a_reload_older_subscriptions_keep_their_window() {
    let dir = TempDir::new();
    let s = Server::start(&conf(&dir, "max_ack_pending: 2", ""));
    let port = s.mqtt_port.expect("MQTT port");
    let (mut sub, _) = Mqtt::connect(port, "old-win", true);
    assert_eq!(sub.subscribe(1, &[("o/old", 1)]), [1]);
    std::fs::write(s.conf_path(), conf(&dir, "max_ack_pending: 10", "")).unwrap();
    s.hangup();
    s.expect_log("Reloaded: MQTT max_ack_pending = 10");
    // A subscription made after the reload gets the new window.
    assert_eq!(sub.subscribe(2, &[("o/new", 1)]), [1]);
    let (mut p, _) = Mqtt::connect(port, "old-win-pub", true);
    for i in 1..=4u16 {
        publish(&mut p, "o/old", i, &format!("old{i}"));
    }
    for i in 1..=4u16 {
        publish(&mut p, "o/new", 10 + i, &format!("new{i}"));
    }
    // o/old: 2 (its window from before the reload); o/new: all 4 (the
    // session's cap is 10 now).
    let got: BTreeSet<String> = (0..6).map(|_| next(&mut sub).1).collect();
    let want: BTreeSet<String> = ["old1", "old2", "new1", "new2", "new3", "new4"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(got, want);
    assert!(
        sub.try_read(Duration::from_millis(300)).is_none(),
        "old3 waits for room in o/old's window"
    );
}

#[test]
fn subscriptions_over_the_session_total_are_refused() {
    // 30,000 each: two QoS 1 subscriptions fit in 65,535, a third does
    // not; QoS 0 ones have no window and always fit.
    let (_s, _dir, port) = common::mqtt::start("max_ack_pending: 30000", "");
    let (mut m, _) = Mqtt::connect(port, "total", true);
    assert_eq!(m.subscribe(1, &[("t/1", 1)]), [1]);
    assert_eq!(m.subscribe(2, &[("t/2", 1)]), [1]);
    assert_eq!(m.subscribe(3, &[("t/3", 1), ("t/4", 0)]), [0x80, 0]);
    // The connection stays and the refused filter has no subscription.
    let (mut p, _) = Mqtt::connect(port, "total-pub", true);
    publish(&mut p, "t/3", 1, "x");
    publish(&mut p, "t/2", 2, "y");
    let (topic, payload, _) = next(&mut m);
    assert_eq!((topic.as_str(), payload.as_str()), ("t/2", "y"));
}
