//! Acknowledgements held for the durable store's commit while the event
//! loop serves other connections (issue #17, `net::mqtt_hold`): several
//! persistent publishers pipeline QoS 1 messages at once (so a commit is
//! asked of the committer thread while other connections wait to be
//! read), every PUBACK comes back in publish order, and after a SIGKILL
//! every acknowledged message reaches the offline subscriber, in order per
//! publisher. Runs against natsws and, with `NATSWS_TEST_SERVER_BIN`,
//! nats-server 2.15.1.
#![allow(missing_docs)]

mod common;

use std::time::Duration;

use common::mqtt::{conf, Mqtt};
use common::{Server, TempDir};

const PUBLISHERS: usize = 4;
const EACH: u16 = 300;

#[test]
fn pipelined_publishers_get_every_puback_in_order_and_nothing_acknowledged_is_lost() {
    run(false);
}

/// The same while NATS clients flood the loops (more input than one turn
/// reads, so a loop has connections left to read when its MQTT publishers
/// need a commit: natsws hands the commit to its committer thread then).
#[test]
fn the_same_while_nats_clients_flood_the_loops() {
    run(true);
}

/// Megabytes each flooding NATS client publishes.
const FLOOD_MIB: usize = 32;

fn flood(port: u16) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut nats = common::Raw::connect(port);
        nats.expect("INFO");
        nats.send(b"CONNECT {\"verbose\":false}\r\n");
        let payload = vec![b'x'; 65536];
        let mut msg = b"PUB flood 65536\r\n".to_vec();
        msg.extend_from_slice(&payload);
        msg.extend_from_slice(b"\r\n");
        for _ in 0..FLOOD_MIB * 16 {
            nats.send(&msg);
        }
        nats.send(b"PING\r\n");
        nats.expect("PONG");
    })
}

fn run(with_flood: bool) {
    let dir = TempDir::new();
    let c = conf(&dir, "max_ack_pending: 2000", "");
    let mut s = Server::start(&c);
    let port = s.mqtt_port.unwrap();
    // One flooder per event loop (connections are spread over the loops).
    let floods: Vec<_> = if with_flood {
        (0..4).map(|_| flood(s.client_port)).collect()
    } else {
        Vec::new()
    };
    let (mut sub, ack) = Mqtt::connect(port, "commit-sub", false);
    assert_eq!(ack, (0, 0));
    assert_eq!(sub.subscribe(1, &[("commit/#", 1)]), [1]);
    drop(sub);
    let threads: Vec<_> = (0..PUBLISHERS)
        .map(|p| {
            std::thread::spawn(move || {
                let (mut publ, _) = Mqtt::connect(port, &format!("commit-pub-{p}"), false);
                let mut wire = Vec::new();
                for i in 1..=EACH {
                    let payload = format!("{p}:{i}");
                    let topic = format!("commit/{p}");
                    // PUBLISH QoS 1: fixed header, topic, packet id, payload.
                    let len = 2 + topic.len() + 2 + payload.len();
                    assert!(len < 128, "one length byte");
                    wire.push(0x32);
                    wire.push(len as u8);
                    wire.extend_from_slice(&(topic.len() as u16).to_be_bytes());
                    wire.extend_from_slice(topic.as_bytes());
                    wire.extend_from_slice(&i.to_be_bytes());
                    wire.extend_from_slice(payload.as_bytes());
                }
                publ.send(&wire);
                for i in 1..=EACH {
                    let a = publ.read();
                    assert_eq!(a.b0, 0x40, "PUBACK");
                    assert_eq!(a.id(), i, "PUBACKs in publish order");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("publisher");
    }
    for f in floods {
        f.join().expect("NATS flood answered PONG");
    }
    s.kill();
    let s = Server::start(&c);
    let (mut sub, ack) = Mqtt::connect(s.mqtt_port.unwrap(), "commit-sub", false);
    assert_eq!(ack, (1, 0), "the session survived");
    let mut next = [1u16; PUBLISHERS];
    let mut got = 0;
    while got < PUBLISHERS * EACH as usize {
        let p = sub
            .try_read(Duration::from_secs(10))
            .unwrap_or_else(|| panic!("only {got} messages came back: {next:?}"));
        let (_, qos, _, _, id, payload) = p.publish();
        assert_eq!(qos, 1);
        sub.ack(4, id);
        let text = String::from_utf8(payload).expect("utf-8");
        let (p, i) = text.split_once(':').expect("p:i");
        let (p, i): (usize, u16) = (p.parse().unwrap(), i.parse().unwrap());
        if i < next[p] {
            continue; // a redelivery of one already counted (QoS 1 allows)
        }
        assert_eq!(i, next[p], "publisher {p}: order");
        next[p] += 1;
        got += 1;
    }
}
