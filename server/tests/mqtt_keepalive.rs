//! MQTT keep-alive whose deadline moves with every packet (mqtt spec §4.4,
//! [MQTT-3.1.2-24]): a client that keeps sending stays connected past its
//! first deadline, and one that falls silent is closed 1.5 × keep-alive
//! after its last packet. natsws re-arms such a deadline lazily (its timer
//! entry fires early and is armed again), so this checks the deadline
//! that moved, not only the first. Runs against nats-server too.

mod common;

use std::time::{Duration, Instant};

use common::is_reference;
use common::mqtt::{start, Mqtt};

#[test]
fn keep_alive_deadline_follows_the_last_packet() {
    let (_s, _d, port) = start("", "");
    let (mut m, _) = Mqtt::connect_with(port, "ka-moves", true, 1, None, None, None);
    let begin = Instant::now();
    // Every 600 ms a PINGREQ, answered, for 2.4 s: well past the first
    // deadline (1.5 s after CONNECT; nats-server: 1 s).
    let mut last = Instant::now();
    for _ in 0..4 {
        std::thread::sleep(Duration::from_millis(600));
        m.send(&[0xC0, 0]);
        let p = m.read();
        assert_eq!(p.b0, 0xD0, "PINGRESP expected: {p:?}");
        last = Instant::now();
    }
    assert!(begin.elapsed() >= Duration::from_millis(2400));
    // Silent now: closed one deadline after the last packet.
    let (_, _) = m.read_to_close();
    let took = last.elapsed();
    let want = if is_reference() { 900 } else { 1400 };
    assert!(
        took >= Duration::from_millis(want) && took < Duration::from_secs(4),
        "closed {took:?} after the last packet"
    );
}
