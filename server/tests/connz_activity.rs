//! `/connz` `last_activity` and `idle` as nats-server 2.15.1 reports them
//! (nats-server `client.last`): set at the accept, at a NATS client's
//! CONNECT, by a read that brought a message or a SUB/UNSUB, and by a
//! delivery flushed to the connection; a PING is not activity. `idle` is
//! the time since, in `myUptime` text (`0s`, `1s`, `1m2s`); a closed
//! connection keeps its last activity and its `idle` runs to the close.
//! `sort=last` puts the most recent activity first, `sort=idle` the
//! longest idle first.
//!
//! Every test runs against nats-server too
//! (`NATSWS_TEST_SERVER_BIN=…/nats-server`). Time is let pass (at most
//! 1.1 s at a time) only where `idle` must grow; everything else waits on
//! replies or polls `/connz` with a deadline.

mod common;

use std::time::{Duration, Instant};

use common::{Conn, Server};
use serde_json::Value;

const CONF: &str = r#"
host: 127.0.0.1
port: -1
http: "127.0.0.1:-1"
websocket {
  host: 127.0.0.1
  port: -1
  no_tls: true
}
"#;

/// How long to let pass so that `idle` shows at least `1s`.
const IDLE_STEP: Duration = Duration::from_millis(1100);

fn http_json(s: &Server, path: &str) -> Value {
    let (status, body) = s.http_get(path);
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
}

/// Connection `cid`'s `/connz` object (`extra`: more query), waiting for
/// it to be listed (nats-server writes INFO before it lists a connection).
fn conn_of(s: &Server, cid: u64, extra: &str) -> Value {
    let until = Instant::now() + common::DEADLINE;
    loop {
        let v = http_json(s, &format!("/connz?cid={cid}{extra}"));
        if let Some(c) = v["connections"].as_array().and_then(|a| a.first()) {
            return c.clone();
        }
        assert!(Instant::now() < until, "cid {cid} not listed: {v}");
    }
}

/// Polls connection `cid` until `pred` holds; returns that object.
fn conn_until(
    s: &Server,
    cid: u64,
    extra: &str,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let until = Instant::now() + common::DEADLINE;
    loop {
        let c = conn_of(s, cid, extra);
        if pred(&c) {
            return c;
        }
        assert!(Instant::now() < until, "cid {cid}: {what}: {c}");
    }
}

/// An RFC 3339 time of a `/connz` object.
fn time_of(c: &Value, key: &str) -> jiff::Timestamp {
    let s = c[key].as_str().unwrap_or_else(|| panic!("no {key}: {c}"));
    s.parse().unwrap_or_else(|e| panic!("{key} {s:?}: {e}"))
}

/// Parses nats-server's `myUptime` text (`[Nd][Nh][Nm]Ns`) to seconds;
/// panics on anything else (so a Go `time.Duration` text like `1.5s`
/// fails).
fn uptime_secs(s: &str) -> u64 {
    let mut total = 0;
    let mut num = String::new();
    for ch in s.chars() {
        if ch.is_ascii_digit() {
            num.push(ch);
            continue;
        }
        let n: u64 = num.parse().unwrap_or_else(|_| panic!("bad uptime {s:?}"));
        num.clear();
        total += n * match ch {
            'y' => 365 * 86_400,
            'd' => 86_400,
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => panic!("bad uptime {s:?}"),
        };
    }
    assert!(num.is_empty() && s.ends_with('s'), "bad uptime {s:?}");
    total
}

/// Nanoseconds from `a` to `b`.
fn nanos_between(a: jiff::Timestamp, b: jiff::Timestamp) -> i128 {
    b.as_nanosecond() - a.as_nanosecond()
}

fn idle_of(c: &Value) -> u64 {
    uptime_secs(c["idle"].as_str().unwrap_or_else(|| panic!("no idle: {c}")))
}

/// A client on TCP or WebSocket that sent CONNECT and had its PONG; its cid.
fn client(s: &Server, ws: bool) -> (Conn, u64) {
    let (mut c, info) = Conn::on(s, ws);
    c.send(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\n");
    c.ping();
    let cid = info["client_id"].as_u64().expect("client_id");
    (c, cid)
}

/// A client silent since CONNECT keeps its `last_activity` (its CONNECT,
/// not the request's time) while `idle` grows; a PING is not activity; a
/// PUB moves `last_activity` and `idle` drops to `0s`.
fn silent_then_publish(ws: bool) {
    let s = Server::start(CONF);
    let (mut c, cid) = client(&s, ws);
    let first = conn_of(&s, cid, "");
    let l0 = time_of(&first, "last_activity");
    let start = time_of(&first, "start");
    assert!(l0 >= start, "last_activity before start: {first}");
    std::thread::sleep(IDLE_STEP);
    // A PING (answered) is not activity.
    c.ping();
    let idle = conn_of(&s, cid, "");
    assert_eq!(time_of(&idle, "last_activity"), l0, "{idle}");
    assert!(idle_of(&idle) >= 1, "idle did not grow: {idle}");
    let age = nanos_between(time_of(&idle, "last_activity"), jiff::Timestamp::now());
    assert!(age >= 1_000_000_000, "{idle}");
    c.send(b"PUB nobody 2\r\nhi\r\n");
    c.ping();
    let moved = conn_of(&s, cid, "");
    assert!(time_of(&moved, "last_activity") > l0, "{moved}");
    assert_eq!(moved["idle"], "0s", "{moved}");
}

#[test]
fn silent_client_idles_until_it_publishes() {
    silent_then_publish(false);
}

#[test]
fn silent_websocket_client_idles_until_it_publishes() {
    silent_then_publish(true);
}

/// A user who may not subscribe to `secret`.
const CONF_DENY: &str = r#"
host: 127.0.0.1
port: -1
http: "127.0.0.1:-1"
authorization {
  users = [ { user: a, password: b, permissions: { subscribe: { deny: "secret" } } } ]
}
"#;

/// Every SUB and UNSUB is activity, whatever it changed (nats-server
/// counts each in `c.in.subs` before looking at it): a new subscription,
/// its removal, an UNSUB of an unknown sid, a SUB and its UNSUB in one
/// write, a SUB the permissions refuse.
#[test]
fn every_sub_and_unsub_is_activity() {
    let s = Server::start(CONF_DENY);
    let (mut c, info) = Conn::tcp(s.client_port);
    let cid = info["client_id"].as_u64().expect("client_id");
    c.send(b"CONNECT {\"verbose\":false,\"user\":\"a\",\"pass\":\"b\"}\r\n");
    c.ping();
    for op in [
        "SUB foo 1\r\n",
        "UNSUB 1\r\n",
        "UNSUB 99\r\n",
        "SUB bar 2\r\nUNSUB 2\r\n",
        "UNSUB 3 5\r\n",
        "SUB secret 4\r\n",
    ] {
        let before = time_of(&conn_of(&s, cid, ""), "last_activity");
        // Let a few milliseconds pass so that a move shows.
        while nanos_between(before, jiff::Timestamp::now()) < 5_000_000 {
            std::thread::yield_now();
        }
        c.send(op.as_bytes());
        let got = c.ping();
        if op.contains("secret") {
            assert!(
                got.contains("-ERR 'Permissions Violation for Subscription to \"secret\"'"),
                "{got}"
            );
        }
        let after = conn_of(&s, cid, "");
        assert!(time_of(&after, "last_activity") > before, "{op:?}: {after}");
        assert_eq!(after["idle"], "0s", "{op:?}: {after}");
    }
    // A PING alone is not.
    let before = conn_of(&s, cid, "");
    let l0 = time_of(&before, "last_activity");
    while nanos_between(l0, jiff::Timestamp::now()) < 5_000_000 {
        std::thread::yield_now();
    }
    c.ping();
    assert_eq!(
        conn_of(&s, cid, "")["last_activity"],
        before["last_activity"]
    );
}

/// A subscriber that only receives: each delivery flushed to it is
/// activity (nats-server `flushClients`), on TCP and WebSocket.
fn receiving_is_activity(sub_ws: bool) {
    let s = Server::start(CONF);
    let (mut sub, sub_cid) = client(&s, sub_ws);
    sub.send(b"SUB news 1\r\n");
    sub.ping();
    let (mut publ, _) = client(&s, !sub_ws);
    let before = conn_of(&s, sub_cid, "");
    let l0 = time_of(&before, "last_activity");
    std::thread::sleep(IDLE_STEP);
    assert!(idle_of(&conn_of(&s, sub_cid, "")) >= 1);
    publ.send(b"PUB news 5\r\nhello\r\n");
    publ.ping();
    sub.expect("MSG news 1 5\r\nhello\r\n");
    // nats-server sets `last` when it flushes: poll for it.
    let after = conn_until(&s, sub_cid, "", "last_activity moved", |c| {
        time_of(c, "last_activity") > l0
    });
    assert_eq!(after["idle"], "0s", "{after}");
    assert_eq!(after["out_msgs"], 1, "{after}");
}

#[test]
fn receiving_a_message_is_activity() {
    receiving_is_activity(false);
}

#[test]
fn websocket_receiving_a_message_is_activity() {
    receiving_is_activity(true);
}

/// The cids of a `/connz` listing, in order.
fn cids(v: &Value) -> Vec<u64> {
    v["connections"]
        .as_array()
        .expect("connections")
        .iter()
        .map(|c| c["cid"].as_u64().expect("cid"))
        .collect()
}

/// `sort=last`: most recent activity first; `sort=idle`: longest idle
/// first (nats-server `SortByLast`, `SortByIdle`, both reversed).
#[test]
fn sort_by_last_and_idle() {
    let s = Server::start(CONF);
    let (_quiet, a) = client(&s, false);
    let (mut early, b) = client(&s, true);
    let (mut late, c) = client(&s, false);
    std::thread::sleep(IDLE_STEP);
    early.send(b"PUB x 0\r\n\r\n");
    early.ping();
    // Distinct milliseconds for the two publishes.
    let seen = time_of(&conn_of(&s, b, ""), "last_activity");
    while nanos_between(seen, jiff::Timestamp::now()) < 20_000_000 {
        std::thread::yield_now();
    }
    late.send(b"PUB x 0\r\n\r\n");
    late.ping();
    let by_last = http_json(&s, "/connz?sort=last");
    assert_eq!(cids(&by_last), vec![c, b, a], "{by_last}");
    let by_idle = http_json(&s, "/connz?sort=idle");
    assert_eq!(cids(&by_idle), vec![a, b, c], "{by_idle}");
    let conns = by_idle["connections"].as_array().expect("connections");
    assert!(idle_of(&conns[0]) >= 1, "{by_idle}");
    assert_eq!(conns[2]["idle"], "0s", "{by_idle}");
}

/// A closed connection keeps its last activity (not the close) and its
/// `idle` is from that to `stop`.
#[test]
fn closed_connection_keeps_its_last_activity() {
    let s = Server::start(CONF);
    let (mut c, cid) = client(&s, false);
    c.send(b"PUB x 1\r\na\r\n");
    c.ping();
    let open = conn_of(&s, cid, "");
    let last = time_of(&open, "last_activity");
    std::thread::sleep(IDLE_STEP);
    drop(c);
    let closed = conn_of(&s, cid, "&state=closed");
    assert_eq!(time_of(&closed, "last_activity"), last, "{closed}");
    let stop = time_of(&closed, "stop");
    let gap = nanos_between(last, stop);
    assert!(gap >= 1_000_000_000, "{closed}");
    // Its idle does not grow after the close: it is to `stop` (a server
    // may take its idle from another clock: allow a millisecond or two).
    let idle = idle_of(&closed) as i128;
    let secs = [gap - 2_000_000, gap + 2_000_000].map(|g| g / 1_000_000_000);
    assert!(secs.contains(&idle), "{closed}");
    // Sorted among the closed ones by that last activity.
    let (mut d, dcid) = client(&s, false);
    d.send(b"PUB x 1\r\na\r\n");
    d.ping();
    drop(d);
    conn_of(&s, dcid, "&state=closed");
    let by_last = http_json(&s, "/connz?state=closed&sort=last");
    assert_eq!(cids(&by_last), vec![dcid, cid], "{by_last}");
    let by_idle = http_json(&s, "/connz?state=closed&sort=idle");
    assert_eq!(cids(&by_idle), vec![cid, dcid], "{by_idle}");
}

/// An MQTT client's `/connz` object, by its client id.
fn mqtt_conn(s: &Server, id: &str) -> Value {
    let until = Instant::now() + common::DEADLINE;
    loop {
        let v = http_json(s, &format!("/connz?mqtt_client={id}"));
        if let Some(c) = v["connections"].as_array().and_then(|a| a.first()) {
            return c.clone();
        }
        assert!(Instant::now() < until, "{id} not listed: {v}");
    }
}

/// Sends PINGREQ and reads the PINGRESP.
fn mqtt_ping(m: &mut common::mqtt::Mqtt) {
    m.send(&[0xC0, 0]);
    let p = m.read();
    assert_eq!(p.kind(), 13, "PINGRESP expected: {p:?}");
}

/// MQTT: the CONNECT is not activity (`last_activity` stays `start`),
/// nor is PINGREQ; PUBLISH and SUBSCRIBE are, and so is a delivery.
#[test]
fn mqtt_activity() {
    let (s, _dir, port) = common::mqtt::start("", "http: \"127.0.0.1:-1\"");
    let (mut publ, _) = common::mqtt::Mqtt::connect(port, "act-pub", true);
    let (mut sub, _) = common::mqtt::Mqtt::connect(port, "act-sub", true);
    mqtt_ping(&mut publ);
    let first = mqtt_conn(&s, "act-pub");
    assert_eq!(first["last_activity"], first["start"], "{first}");
    std::thread::sleep(IDLE_STEP);
    mqtt_ping(&mut publ);
    let idle = mqtt_conn(&s, "act-pub");
    assert_eq!(idle["last_activity"], first["start"], "{idle}");
    assert!(idle_of(&idle) >= 1, "{idle}");
    publ.publish(0, false, "act/x", 0, b"hi");
    mqtt_ping(&mut publ);
    let moved = mqtt_conn(&s, "act-pub");
    assert!(time_of(&moved, "last_activity") > time_of(&first, "start"));
    assert_eq!(moved["idle"], "0s", "{moved}");

    // SUBSCRIBE after an idle second.
    let s0 = mqtt_conn(&s, "act-sub");
    assert!(idle_of(&s0) >= 1, "{s0}");
    assert_eq!(sub.subscribe(1, &[("act/r", 0)]), vec![0]);
    let subbed = mqtt_conn(&s, "act-sub");
    let l1 = time_of(&subbed, "last_activity");
    assert!(l1 > time_of(&s0, "last_activity"), "{subbed}");
    assert_eq!(subbed["idle"], "0s", "{subbed}");
    // A delivery after another idle second.
    std::thread::sleep(IDLE_STEP);
    assert!(idle_of(&mqtt_conn(&s, "act-sub")) >= 1);
    publ.publish(0, false, "act/r", 0, b"yo");
    let (_, qos, _, topic, _, payload) = sub.read().publish();
    assert_eq!(
        (qos, topic.as_str(), &payload[..]),
        (0, "act/r", &b"yo"[..])
    );
    let got = {
        let until = Instant::now() + common::DEADLINE;
        loop {
            let c = mqtt_conn(&s, "act-sub");
            if time_of(&c, "last_activity") > l1 {
                break c;
            }
            assert!(Instant::now() < until, "delivery not activity: {c}");
        }
    };
    assert_eq!(got["idle"], "0s", "{got}");
}

/// The hub's leafnode connection in its `/connz` (kind `Leafnode`).
fn leaf_conn(hub: &Server) -> Value {
    let until = Instant::now() + common::DEADLINE;
    loop {
        let v = http_json(hub, "/connz");
        let found = v["connections"]
            .as_array()
            .and_then(|a| a.iter().find(|c| c["kind"] == "Leafnode"));
        if let Some(c) = found {
            return c.clone();
        }
        assert!(Instant::now() < until, "no leafnode connection: {v}");
    }
}

/// Polls the hub's leafnode connection until its `last_activity` is
/// after `than`; returns it.
fn leaf_moved(hub: &Server, than: jiff::Timestamp, what: &str) -> jiff::Timestamp {
    let until = Instant::now() + common::DEADLINE;
    loop {
        let c = leaf_conn(hub);
        let t = time_of(&c, "last_activity");
        if t > than {
            return t;
        }
        assert!(Instant::now() < until, "{what} not activity: {c}");
    }
}

/// A raw client that sent CONNECT and had its PONG.
fn raw_client(port: u16) -> common::Raw {
    let mut c = common::Raw::connect(port);
    c.expect("\r\n");
    c.send(b"CONNECT {\"verbose\":false}\r\nPING\r\n");
    c.expect("PONG\r\n");
    c
}

/// On a hub, its leafnode connection: silence lets `idle` grow; an `LS+`
/// from the leaf, a message delivered to the leaf and an `LMSG` from it
/// are each activity (nats-server `processLeafSub`, `flushClients`,
/// `processInboundLeafMsg`).
#[test]
fn leafnode_link_activity() {
    let hub = Server::start(
        "server_name: HUB\nhost: 127.0.0.1\nport: -1\nhttp: \"127.0.0.1:-1\"\nleafnodes { host: 127.0.0.1, port: -1 }\n",
    );
    let leaf = Server::start(&format!(
        "server_name: LEAF\nhost: 127.0.0.1\nport: -1\nleafnodes {{ remotes [ {{ url: \"nats-leaf://127.0.0.1:{}\" }} ] }}\n",
        hub.leaf_port.expect("leaf port")
    ));
    let mut on_hub = raw_client(hub.client_port);
    on_hub.send(b"SUB hub.y 1\r\nPING\r\n");
    on_hub.expect("PONG\r\n");
    let mut on_leaf = raw_client(leaf.client_port);
    common::leaf::await_interest(&mut on_leaf, &mut on_hub, "hub.y");
    let l0 = time_of(&leaf_conn(&hub), "last_activity");
    std::thread::sleep(IDLE_STEP);
    let idle = leaf_conn(&hub);
    assert_eq!(time_of(&idle, "last_activity"), l0, "{idle}");
    assert!(idle_of(&idle) >= 1, "{idle}");
    // LS+ from the leaf.
    on_leaf.send(b"SUB la.x 1\r\nPING\r\n");
    on_leaf.expect("PONG\r\n");
    let l1 = leaf_moved(&hub, l0, "LS+");
    // A delivery to the leaf.
    while nanos_between(l1, jiff::Timestamp::now()) < 5_000_000 {
        std::thread::yield_now();
    }
    on_hub.send(b"PUB la.x 2\r\nhi\r\nPING\r\n");
    on_hub.expect("PONG\r\n");
    on_leaf.expect("MSG la.x 1 2\r\nhi\r\n");
    let l2 = leaf_moved(&hub, l1, "a delivery to the leaf");
    // An LMSG from the leaf.
    while nanos_between(l2, jiff::Timestamp::now()) < 5_000_000 {
        std::thread::yield_now();
    }
    on_leaf.send(b"PUB hub.y 2\r\nyo\r\n");
    on_hub.expect("MSG hub.y 1 2\r\nyo\r\n");
    let mut last = leaf_moved(&hub, l2, "LMSG");
    // A queue group's LS+, then the LS+ that only changes its weight
    // (a second member: the hub's subscription count stays).
    for sid in [2, 3] {
        while nanos_between(last, jiff::Timestamp::now()) < 5_000_000 {
            std::thread::yield_now();
        }
        on_leaf.send(format!("SUB q.x grp {sid}\r\nPING\r\n").as_bytes());
        on_leaf.expect("PONG\r\n");
        last = leaf_moved(&hub, last, &format!("LS+ q.x grp (member {sid})"));
    }
}
