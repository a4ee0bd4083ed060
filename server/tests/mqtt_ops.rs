//! MQTT next to the operations features (issue #17 merged with main): the
//! system account's client events for MQTT clients (`client_type`
//! `mqtt`), and what a configuration reload does with the `mqtt {}`
//! block (nats-server `diffOptions`, case `mqtt`). Runs against natsws
//! and, with `NATSWS_TEST_SERVER_BIN`, against nats-server 2.15.1.
#![allow(missing_docs)]

mod common;

use common::mqtt::{conf, Mqtt};
use common::{Raw, Server, TempDir};
use serde_json::Value;

const ACCOUNTS: &str = r#"
accounts {
  SYS { users: [{user: sys, password: sys}] }
  APP { jetstream: enabled, users: [{user: app, password: app}] }
}
system_account: SYS
"#;

/// A NATS client of the system account subscribed to `subjects` (sids
/// 1, 2, …), past its PONG.
fn sys_sub(s: &Server, subjects: &[&str]) -> Raw {
    let mut n = Raw::connect(s.client_port);
    n.expect("\r\n");
    let mut cmd = String::from("CONNECT {\"user\":\"sys\",\"pass\":\"sys\",\"verbose\":false}\r\n");
    for (i, sub) in subjects.iter().enumerate() {
        cmd.push_str(&format!("SUB {sub} {}\r\n", i + 1));
    }
    cmd.push_str("PING\r\n");
    n.send(cmd.as_bytes());
    n.expect("PONG\r\n");
    n
}

/// The JSON payload of the next message on `subject` (an event body is
/// one JSON object, so it ends with `}` and CRLF).
fn event(n: &mut Raw, subject: &str) -> Value {
    n.expect(&format!("MSG {subject} "));
    n.expect("\r\n");
    let body = n.expect("}\r\n");
    serde_json::from_str(body.trim_end()).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[test]
fn mqtt_clients_get_connect_and_disconnect_events() {
    let dir = TempDir::new();
    let s = Server::start(&conf(&dir, "", ACCOUNTS));
    let port = s.mqtt_port.expect("MQTT port");
    let mut sys = sys_sub(
        &s,
        &["$SYS.ACCOUNT.APP.CONNECT", "$SYS.ACCOUNT.APP.DISCONNECT"],
    );
    let (mut m, ack) = Mqtt::connect_with(port, "ev1", true, 0, None, Some("app"), Some("app"));
    assert_eq!(ack, (0, 0));
    let v = event(&mut sys, "$SYS.ACCOUNT.APP.CONNECT");
    assert_eq!(v["type"], "io.nats.server.advisory.v1.client_connect");
    let c = &v["client"];
    assert_eq!(c["client_type"], "mqtt", "{v}");
    assert_eq!(c["kind"], "Client", "{v}");
    assert_eq!(c["acc"], "APP", "{v}");
    assert_eq!(c["user"], "app", "{v}");
    // DISCONNECT packet: a client-closed disconnect event.
    m.send(&[0xe0, 0]);
    let _ = m.read_to_close();
    let v = event(&mut sys, "$SYS.ACCOUNT.APP.DISCONNECT");
    assert_eq!(v["type"], "io.nats.server.advisory.v1.client_disconnect");
    assert_eq!(v["client"]["client_type"], "mqtt", "{v}");
    assert_eq!(v["client"]["acc"], "APP", "{v}");
    assert_eq!(v["reason"], "Client Closed", "{v}");
}

/// A port nothing listens on now (bound and released).
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn reload_refuses_a_new_mqtt_listener_and_reloads_ack_settings() {
    let dir = TempDir::new();
    let s = Server::start(&conf(&dir, "", ""));
    let port = s.mqtt_port.expect("MQTT port");
    // ack_wait and max_ack_pending reload, one line each.
    std::fs::write(
        s.conf_path(),
        conf(&dir, "ack_wait: \"1m\"\nmax_ack_pending: 10", ""),
    )
    .unwrap();
    s.hangup();
    s.expect_log("Reloaded: MQTT ack_wait = 1m0s");
    s.expect_log("Reloaded: MQTT max_ack_pending = 10");
    s.expect_log("Reloaded server configuration");
    // Another port: refused, the listener stays.
    let other = free_port();
    let moved = conf(&dir, "", "").replace("port: -1\n  \n}", &format!("port: {other}\n  \n}}"));
    assert!(moved.contains(&format!("port: {other}")), "{moved}");
    std::fs::write(s.conf_path(), moved).unwrap();
    s.hangup();
    let line = s.expect_log("Failed to reload server configuration: ");
    assert!(
        line.contains("config reload not supported for MQTT: old="),
        "{line}"
    );
    let (_m, ack) = Mqtt::connect(port, "still", true);
    assert_eq!(ack, (0, 0));
}

/// An MQTT subscription on a server that is a leaf of a nats-server hub
/// reaches across the link (its interest goes out as LS+ like a NATS
/// client's): a publish on the hub arrives as an MQTT PUBLISH; after the
/// UNSUBSCRIBE the interest is withdrawn (LS-), so later hub publishes no
/// longer arrive.
#[test]
fn mqtt_subscription_on_a_leaf_gets_messages_published_on_the_hub() {
    let hub = Server::start_reference(
        "server_name: HUB\nhost: 127.0.0.1\nport: -1\nhttp_port: -1\nleafnodes { host: 127.0.0.1, port: -1 }\n",
    );
    let hub_leaf = hub.leaf_port.expect("hub leaf port");
    let dir = TempDir::new();
    let leaf = Server::start(&conf(
        &dir,
        "",
        &format!(
            "leafnodes {{ reconnect: \"250ms\", remotes [ {{ url: \"nats-leaf://127.0.0.1:{hub_leaf}\" }} ] }}"
        ),
    ));
    leaf.expect_log("Leafnode connection created");
    let port = leaf.mqtt_port.expect("MQTT port");
    let (mut m, (_, rc)) = Mqtt::connect(port, "edge-sensor", true);
    assert_eq!(rc, 0);
    m.subscribe(1, &[("alerts/#", 0)]);
    let mut on_hub = Raw::connect(hub.client_port);
    on_hub.expect("\r\n");
    on_hub.send(b"CONNECT {\"verbose\":false}\r\nPING\r\n");
    on_hub.expect("PONG\r\n");
    // Publish until the interest has crossed the link.
    let until = std::time::Instant::now() + common::DEADLINE;
    let got = loop {
        on_hub.send(b"PUB alerts.fire 3\r\nhot\r\n");
        if let Some(p) = m.try_read(std::time::Duration::from_millis(200)) {
            break p;
        }
        assert!(std::time::Instant::now() < until, "interest never crossed");
    };
    let (_, qos, _, topic, _, payload) = got.publish();
    assert_eq!(
        (qos, topic.as_str(), payload.as_slice()),
        (0, "alerts/fire", &b"hot"[..])
    );
    // Drain the probes, then withdraw the interest.
    while m.try_read(std::time::Duration::from_millis(300)).is_some() {}
    m.send(&[
        0xa2, 12, 0, 2, 0, 8, b'a', b'l', b'e', b'r', b't', b's', b'/', b'#',
    ]);
    let unsuback = m.read();
    assert_eq!(unsuback.kind(), 11, "{unsuback:?}");
    // The hub's view: no interest in alerts.> from the leaf any more.
    let until = std::time::Instant::now() + common::DEADLINE;
    loop {
        let (status, body) = hub.http_get("/leafz?subs=1");
        if status == 200 && !body.contains("alerts.>") {
            break;
        }
        assert!(
            std::time::Instant::now() < until,
            "LS- never arrived: {body}"
        );
        on_hub.send(b"PING\r\n");
        on_hub.expect("PONG\r\n");
    }
}

/// natsws bounds what an offline persistent session queues: at most
/// `max_pending` bytes (here 4 KiB), later messages dropped with one
/// warning; on reconnect the queued ones arrive, in order, and the session
/// works again. (nats-server keeps them in a JetStream stream.)
#[test]
fn an_offline_session_queues_at_most_max_pending_bytes() {
    if common::is_reference() {
        return;
    }
    let (s, _dir, port) = common::mqtt::start("", "max_pending: 4096\nmax_payload: 1024\n");
    let (mut sub, _) = Mqtt::connect(port, "sleeper", false);
    sub.subscribe(1, &[("q/t", 1)]);
    sub.send(&[0xe0, 0]); // DISCONNECT: the session stays, offline
    let (mut publ, _) = Mqtt::connect(port, "pub", true);
    let payload = [b'x'; 100];
    for id in 1..=100u16 {
        publ.publish(1, false, "q/t", id, &payload);
        let ack = publ.read();
        assert_eq!((ack.kind(), ack.id()), (4, id), "PUBACK");
    }
    s.expect_log("later messages are dropped until it reconnects");
    let (mut back, (present, rc)) = Mqtt::connect(port, "sleeper", false);
    assert_eq!((present, rc), (1, 0));
    let mut got = 0usize;
    while let Some(p) = back.try_read(std::time::Duration::from_millis(500)) {
        let (_, qos, _, topic, id, body) = p.publish();
        assert_eq!((qos, topic.as_str(), body.len()), (1, "q/t", 100));
        back.ack(4, id);
        got += 1;
    }
    assert!(got > 0 && got < 100, "{got} of 100 kept");
    // Still subscribed: a new message arrives.
    publ.publish(1, false, "q/t", 200, b"fresh");
    let p = back.read();
    assert_eq!(p.publish().5, b"fresh".to_vec());
}
