//! A failed write of the durable MQTT store (mqtt spec §7.5, issue #17):
//! the server runs with `RLIMIT_FSIZE` so that a store write past it fails
//! for real (`EFBIG`, as on a full disk). The PUBACK, PUBREC, SUBACK,
//! UNSUBACK or CONNACK that depend on the failed commit are never sent: their
//! connections are closed instead. Everything that does not need the store
//! (NATS clients, QoS 0, clean sessions) keeps working, and the store heals
//! once the state it must write fits again (redb is reopened after its
//! failure). natsws-only: nats-server keeps MQTT state in JetStream.
#![allow(missing_docs)]

mod common;

use common::mqtt::{conf, ws_packet, Mqtt};
use common::{is_reference, Raw, Server, TempDir, WsRaw};
use natsws_core::mqtt::codec::client;

/// The largest file the server may write (the store starts at 72 KiB).
const LIMIT: u64 = 512 * 1024;
/// A payload the store cannot take under [`LIMIT`] (below `max_payload`).
const BIG: usize = 800 * 1024;

fn start(dir: &TempDir) -> (Server, u16) {
    let s = Server::start_fsize_limited(&conf(dir, "", ""), LIMIT);
    let port = s.mqtt_port.expect("MQTT port logged");
    (s, port)
}

/// A NATS client, subscribed to `n.>` (sid 1).
fn nats(s: &Server) -> Raw {
    let mut n = Raw::connect(s.client_port);
    n.send(b"CONNECT {\"verbose\":false}\r\nSUB n.> 1\r\nPING\r\n");
    n.expect("PONG\r\n");
    n
}

/// The NATS client still routes: its own message, and one to MQTT.
fn nats_works(n: &mut Raw, zero: &mut Mqtt) {
    n.send(b"PUB n.x 2\r\nhi\r\nPUB zero.b 4\r\nnats\r\n");
    n.expect("MSG n.x 1 2\r\nhi\r\n");
    let (_, qos, _, topic, _, payload) = zero.read().publish();
    assert_eq!(
        (qos, topic.as_str(), &payload[..]),
        (0, "zero/b", &b"nats"[..])
    );
}

/// QoS 0 between clean sessions still flows.
fn qos0_works(port: u16, zero: &mut Mqtt) {
    let (mut p, ack) = Mqtt::connect(port, "z0", true);
    assert_eq!(ack, (0, 0));
    p.publish(0, false, "zero/a", 0, b"q0");
    let (_, qos, _, topic, _, payload) = zero.read().publish();
    assert_eq!(
        (qos, topic.as_str(), &payload[..]),
        (0, "zero/a", &b"q0"[..])
    );
}

/// Connects `id` with a clean session; returns whether the CONNACK came
/// (else the server closed the connection without it).
fn connack_or_close(port: u16, id: &str) -> bool {
    let mut m = Mqtt::open(port);
    let mut v = Vec::new();
    client::connect(&mut v, id.as_bytes(), true, 0, None, None, None);
    m.send(&v);
    let until = std::time::Instant::now() + common::DEADLINE;
    let mut got = Vec::new();
    while got.len() < 4 {
        assert!(
            std::time::Instant::now() < until,
            "neither CONNACK nor close"
        );
        let mut chunk = [0u8; 64];
        match std::io::Read::read(&mut m.sock, &mut chunk) {
            Ok(0) => return false,
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e) if common::is_timeout(&e) => {}
            Err(_) => return false,
        }
    }
    assert_eq!(got, [0x20, 2, 0, 0], "CONNACK");
    true
}

/// A PINGREQ round trip: what was sent before it was processed.
fn ping(m: &mut Mqtt) {
    m.send(&[0xc0, 0]);
    assert_eq!(m.read().b0, 0xd0, "PINGRESP");
}

/// The server closes `m` and sends nothing before (no acknowledgement).
fn closed_silently(m: &mut Mqtt, what: &str) {
    let (got, _) = m.read_to_close();
    assert!(
        got.is_empty(),
        "{what} must not be sent: {:x?}",
        &got[..got.len().min(16)]
    );
}

#[test]
fn a_qos1_message_the_store_cannot_write_gets_no_puback_and_the_store_heals() {
    if is_reference() {
        return; // RLIMIT_FSIZE on nats-server hits its JetStream store.
    }
    let dir = TempDir::new();
    let (s, port) = start(&dir);
    let (mut sub, ack) = Mqtt::connect(port, "sub", false);
    assert_eq!(ack, (0, 0));
    assert_eq!(sub.subscribe(1, &[("big/#", 1)]), [1]);
    let (mut zero, _) = Mqtt::connect(port, "zero", true);
    assert_eq!(zero.subscribe(1, &[("zero/#", 0)]), [0]);
    let mut n = nats(&s);

    // A message that fits is written and acknowledged.
    let (mut publ, _) = Mqtt::connect(port, "pub", false);
    publ.publish(1, false, "big/small", 1, b"fits");
    let a = publ.read();
    assert_eq!((a.b0, a.id()), (0x40, 1), "PUBACK");
    let (_, _, _, topic, id, payload) = sub.read().publish();
    assert_eq!((topic.as_str(), &payload[..]), ("big/small", &b"fits"[..]));
    sub.ack(4, id);

    // One the store cannot write: no PUBACK, the publisher is closed.
    publ.publish(1, false, "big/x", 2, &vec![b'x'; BIG]);
    closed_silently(&mut publ, "the PUBACK");
    s.expect_log("MQTT store: commit of epoch");
    s.expect_log("MQTT acknowledgements not sent");

    // Routed before the commit, as any delivery: the subscriber gets it
    // and acknowledges it, so its session fits in the store again.
    let (_, qos, _, topic, id, payload) = sub.read().publish();
    assert_eq!((qos, topic.as_str(), payload.len()), (1, "big/x", BIG));
    sub.ack(4, id);
    ping(&mut sub);

    // Nothing else was hurt.
    qos0_works(port, &mut zero);
    nats_works(&mut n, &mut zero);

    // What the failed commit left marked is written again with nobody
    // waiting (the committer's retry): the store reopens and heals.
    s.expect_log("MQTT store reopened after a failed write");
    s.expect_log("MQTT store: writes succeed again");
    let (mut p2, _) = Mqtt::connect(port, "pub2", true);
    p2.publish(1, false, "big/y", 7, b"after");
    let a = p2.read();
    assert_eq!((a.b0, a.id()), (0x40, 7), "PUBACK once the store heals");
    let (_, _, _, topic, _, payload) = sub.read().publish();
    assert_eq!((topic.as_str(), &payload[..]), ("big/y", &b"after"[..]));
    // Not acknowledged by the subscriber: it must survive a restart.

    // The publisher's session survived its close.
    let (_, ack) = Mqtt::connect(port, "pub", false);
    assert_eq!(ack, (1, 0), "session present");

    // What the healed store acknowledged is on disk: after SIGKILL and a
    // restart without the limit, the subscriber gets big/y again.
    let mut s = s;
    s.kill();
    let s = Server::start(&conf(&dir, "", ""));
    let (mut sub, ack) = Mqtt::connect(s.mqtt_port.unwrap(), "sub", false);
    assert_eq!(ack, (1, 0), "session present");
    let (_, _, _, topic, _, payload) = sub.read().publish();
    assert_eq!((topic.as_str(), &payload[..]), ("big/y", &b"after"[..]));
}

#[test]
fn while_a_session_cannot_be_written_no_pubrec_suback_unsuback_or_connack_is_sent() {
    if is_reference() {
        return; // RLIMIT_FSIZE on nats-server hits its JetStream store.
    }
    let dir = TempDir::new();
    let (s, port) = start(&dir);
    let (mut ps, ack) = Mqtt::connect(port, "ps", false);
    assert_eq!(ack, (0, 0));
    let (mut us, _) = Mqtt::connect(port, "us", false);
    assert_eq!(us.subscribe(1, &[("u/#", 1)]), [1]);
    let (mut zero, _) = Mqtt::connect(port, "zero", true);
    assert_eq!(zero.subscribe(1, &[("zero/#", 0)]), [0]);
    let mut n = nats(&s);

    // A QoS 2 message staged in a persistent session the store cannot
    // write: no PUBREC, the publisher is closed; the message stays staged
    // in its offline session, which every later commit fails to write.
    let (mut q2, _) = Mqtt::connect(port, "q2", false);
    q2.publish(2, false, "two/x", 1, &vec![b'y'; BIG]);
    closed_silently(&mut q2, "the PUBREC");
    s.expect_log("MQTT store: commit of epoch");

    // A persistent session's SUBSCRIBE needs a commit: no SUBACK.
    let mut v = Vec::new();
    client::subscribe(&mut v, 3, &[(b"two/#".as_slice(), 1)]);
    ps.send(&v);
    closed_silently(&mut ps, "the SUBACK");
    // Nor an UNSUBACK.
    let mut v = Vec::new();
    client::unsubscribe(&mut v, 2, &[b"u/#".as_slice()]);
    us.send(&v);
    closed_silently(&mut us, "the UNSUBACK");
    // Nor a CONNACK for a persistent session (created or resumed).
    for id in ["ps", "fresh"] {
        let mut m = Mqtt::open(port);
        let mut v = Vec::new();
        client::connect(&mut v, id.as_bytes(), false, 0, None, None, None);
        m.send(&v);
        closed_silently(&mut m, "the CONNACK");
    }

    // A burst of QoS 1 messages for ps's offline session (its filter was
    // taken, only the SUBACK was not sent) from several publishers at
    // once, whichever thread commits them: none is acknowledged.
    let mut burst: Vec<Mqtt> = (0..6)
        .map(|i| Mqtt::connect(port, &format!("b{i}"), true).0)
        .collect();
    for (i, b) in burst.iter_mut().enumerate() {
        b.publish(1, false, &format!("two/p{i}"), 1, b"burst");
    }
    for b in &mut burst {
        closed_silently(b, "the PUBACK");
    }

    // What needs no store still works: QoS 0, NATS, and a QoS 1 message
    // with no persistent session to keep it (acknowledged at once).
    qos0_works(port, &mut zero);
    nats_works(&mut n, &mut zero);
    let (mut c1, _) = Mqtt::connect(port, "c1", true);
    assert_eq!(c1.subscribe(1, &[("one/#", 1)]), [1]);
    c1.publish(1, false, "one/x", 2, b"mem");
    let mut got = [c1.read(), c1.read()];
    got.sort_by_key(|p| p.b0);
    assert_eq!(got[0].b0 >> 4, 3, "the delivery: {:?}", got[0]);
    assert_eq!((got[1].b0, got[1].id()), (0x40, 2), "PUBACK");

    // The staged message leaves with q2's session (a clean start drops
    // it): the store heals with the next commit that may reopen it (this
    // CONNECT's, acknowledged, or, within the reopen backoff, the retry
    // after it, the CONNECT then closed).
    connack_or_close(port, "q2");
    s.expect_log("MQTT store: writes succeed again");
    let (mut ps, ack) = Mqtt::connect(port, "ps", false);
    assert_eq!(ack, (1, 0), "session present");
    // Not acknowledged, not lost: the burst reached the session.
    let mut got: Vec<String> = (0..6)
        .map(|_| {
            let (_, qos, _, topic, id, _) = ps.read().publish();
            assert_eq!(qos, 1);
            ps.ack(4, id);
            topic
        })
        .collect();
    got.sort();
    let want: Vec<String> = (0..6).map(|i| format!("two/p{i}")).collect();
    assert_eq!(got, want);
    assert_eq!(ps.subscribe(4, &[("two/#", 1)]), [1]);
}

#[test]
fn a_retained_message_the_store_cannot_write_over_websocket_gets_no_puback_until_cleared() {
    if is_reference() {
        return; // RLIMIT_FSIZE on nats-server hits its JetStream store.
    }
    let dir = TempDir::new();
    let ws = "websocket { host: 127.0.0.1, port: -1, no_tls: true }";
    let s = Server::start_fsize_limited(&conf(&dir, "", ws), LIMIT);
    let port = s.mqtt_port.expect("MQTT port");
    let mut w = WsRaw::connect_at(
        s.ws_port.expect("ws port"),
        "/mqtt",
        false,
        &[("Sec-WebSocket-Protocol", "mqtt")],
        b"",
    )
    .expect("upgrade");
    let mut v = Vec::new();
    client::connect(&mut v, b"browser", true, 0, None, None, None);
    w.send(&v);
    assert_eq!(ws_packet(&mut w), [0x20, 2, 0, 0], "CONNACK");

    // A clean session, but a retained message is stored: no PUBACK, and
    // a close frame 1002 (ProtocolViolation) is all the browser gets.
    let mut v = Vec::new();
    client::publish(&mut v, 1, true, b"kept/x", 1, &vec![b'r'; BIG]);
    w.send(&v);
    let close = w.read_to_close_or_eof();
    assert!(
        w.buf.is_empty(),
        "no PUBACK: {:x?}",
        &w.buf[..w.buf.len().min(16)]
    );
    assert_eq!(close.map(|c| c.0), Some(Some(1002)), "close frame");
    s.expect_log("MQTT store: commit of epoch");

    // While it stays in memory every commit fails: another retained
    // message gets no PUBACK either.
    let (mut m, _) = Mqtt::connect(port, "tcp", true);
    m.publish(1, true, "kept/y", 2, b"small");
    closed_silently(&mut m, "the PUBACK");

    // Clearing it (an empty retained message) makes the next commit fit
    // (the clear's own, or the retry after it within the reopen backoff):
    // the store heals and retained messages are acknowledged again.
    let (mut m, _) = Mqtt::connect(port, "clear", true);
    m.publish(0, true, "kept/x", 0, b"");
    s.expect_log("MQTT store: writes succeed again");
    let (mut m, _) = Mqtt::connect(port, "after", true);
    m.publish(1, true, "kept/z", 4, b"small");
    let a = m.read();
    assert_eq!((a.b0, a.id()), (0x40, 4), "PUBACK");
}

#[test]
fn the_memory_store_never_writes_so_the_limit_changes_nothing() {
    if is_reference() {
        return; // `store` is a natsws key.
    }
    let dir = TempDir::new();
    let s = Server::start_fsize_limited(&conf(&dir, "store: memory", ""), LIMIT);
    let port = s.mqtt_port.expect("MQTT port");
    let (mut sub, _) = Mqtt::connect(port, "sub", false);
    assert_eq!(sub.subscribe(1, &[("big/#", 1)]), [1]);
    let (mut publ, ack) = Mqtt::connect(port, "pub", false);
    assert_eq!(ack, (0, 0));
    publ.publish(1, true, "big/x", 1, &vec![b'm'; BIG]);
    let a = publ.read();
    assert_eq!((a.b0, a.id()), (0x40, 1), "PUBACK");
    let (_, qos, _, topic, _, payload) = sub.read().publish();
    assert_eq!((qos, topic.as_str(), payload.len()), (1, "big/x", BIG));
}

/// A NATS client publishing `mib` MiB to a subject nobody reads, then a
/// PING round trip (the flood was all processed).
fn flood(port: u16, mib: usize) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut n = Raw::connect(port);
        n.expect("INFO");
        n.send(b"CONNECT {\"verbose\":false}\r\n");
        let mut msg = b"PUB flood 65536\r\n".to_vec();
        msg.extend_from_slice(&[b'f'; 65536]);
        msg.extend_from_slice(b"\r\n");
        for _ in 0..mib * 16 {
            n.send(&msg);
        }
        n.send(b"PING\r\n");
        n.expect("PONG");
    })
}

#[test]
fn pipelined_publishers_on_busy_loops_get_no_puback_from_a_failing_store() {
    if is_reference() {
        return; // RLIMIT_FSIZE on nats-server hits its JetStream store.
    }
    let dir = TempDir::new();
    let (s, port) = start(&dir);
    let (mut off, _) = Mqtt::connect(port, "off", false);
    assert_eq!(off.subscribe(1, &[("b/#", 1)]), [1]);
    drop(off);
    // Poison: a staged QoS 2 message no commit can write.
    let (mut q2, _) = Mqtt::connect(port, "q2", false);
    q2.publish(2, false, "two/x", 1, &vec![b'y'; BIG]);
    closed_silently(&mut q2, "the PUBREC");

    // NATS floods keep the loops busy (a loop with connections left to
    // read may hand its commit to the committer thread: seen in about one
    // run of three), while publishers pipeline QoS 1 messages for the
    // offline session.
    let floods: Vec<_> = (0..2).map(|_| flood(s.client_port, 8)).collect();
    let pubs: Vec<_> = (0..6)
        .map(|p| {
            std::thread::spawn(move || {
                let (mut m, _) = Mqtt::connect(port, &format!("p{p}"), true);
                let mut wire = Vec::new();
                for i in 1..=50u16 {
                    client::publish(&mut wire, 1, false, format!("b/{p}").as_bytes(), i, b"m");
                }
                m.send(&wire);
                closed_silently(&mut m, "a PUBACK");
            })
        })
        .collect();
    for t in pubs {
        t.join().expect("publisher");
    }
    for f in floods {
        f.join().expect("NATS keeps working");
    }
}

#[test]
fn a_graceful_shutdown_with_a_failing_store_ends() {
    if is_reference() {
        return; // RLIMIT_FSIZE on nats-server hits its JetStream store.
    }
    let dir = TempDir::new();
    let (mut s, port) = start(&dir);
    let (mut q2, _) = Mqtt::connect(port, "q2", false);
    q2.publish(2, false, "two/x", 1, &vec![b'y'; BIG]);
    closed_silently(&mut q2, "the PUBREC");
    let (_zero, _) = Mqtt::connect(port, "zero", true);
    let status = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(s.pid().to_string())
        .status()
        .expect("kill");
    assert!(status.success());
    // The last commit fails too; the server still ends.
    s.expect_log("Server Exiting");
    s.wait();
}
