//! A configuration reload re-checks MQTT clients as nats-server's
//! `reloadAuthorization` does: a client whose user was removed is closed
//! with nothing sent; one whose password no longer matches gets a CONNACK
//! with return code 5 and is closed; the others stay connected. Runs
//! against natsws and, with `NATSWS_TEST_SERVER_BIN`, nats-server 2.15.1.
#![allow(missing_docs)]

mod common;

use common::mqtt::{conf, Mqtt};
use common::{Server, TempDir};

fn users(list: &[(&str, &str)]) -> String {
    let u: Vec<String> = list
        .iter()
        .map(|(n, p)| format!("{{user: {n}, password: {p}}}"))
        .collect();
    format!("authorization {{ users: [{}] }}\n", u.join(", "))
}

fn login(port: u16, id: &str, user: &str, pass: &str) -> Mqtt {
    let (m, ack) = Mqtt::connect_with(port, id, true, 0, None, Some(user), Some(pass));
    assert_eq!(ack, (0, 0), "{user} accepted");
    m
}

/// PINGREQ → PINGRESP: the connection is still served.
fn alive(m: &mut Mqtt) {
    m.send(&[0xc0, 0]);
    assert_eq!(m.read().b0, 0xd0, "PINGRESP");
}

#[test]
fn a_removed_user_is_closed_and_a_changed_password_gets_connack_5() {
    let dir = TempDir::new();
    let before = users(&[("a", "a"), ("b", "b"), ("c", "c")]);
    let s = Server::start(&conf(&dir, "", &before));
    let port = s.mqtt_port.expect("MQTT port");
    let mut a = login(port, "ca", "a", "a");
    let mut b = login(port, "cb", "b", "b");
    let mut c = login(port, "cc", "c", "c");
    // b removed, c's password changed, a unchanged.
    let after = users(&[("a", "a"), ("c", "new")]);
    std::fs::write(s.conf_path(), conf(&dir, "", &after)).unwrap();
    s.hangup();
    s.expect_log("Reloaded server configuration");
    let (got, _) = b.read_to_close();
    assert!(
        got.is_empty(),
        "removed user: closed with nothing sent: {got:x?}"
    );
    let (got, _) = c.read_to_close();
    assert_eq!(
        got,
        [0x20, 2, 0, 5],
        "CONNACK not authorized, then the close"
    );
    alive(&mut a);
    // The new configuration applies to new connections too.
    let (_n, ack) = Mqtt::connect_with(port, "cc2", true, 0, None, Some("c"), Some("new"));
    assert_eq!(ack, (0, 0));
}

#[test]
fn a_reload_that_keeps_the_user_keeps_the_client() {
    let dir = TempDir::new();
    let s = Server::start(&conf(&dir, "", &users(&[("a", "a")])));
    let port = s.mqtt_port.expect("MQTT port");
    let mut a = login(port, "keep", "a", "a");
    let sub = a.subscribe(1, &[("k/+", 0)]);
    assert_eq!(sub, [0]);
    // Another user added: a stays, with its subscription.
    std::fs::write(
        s.conf_path(),
        conf(&dir, "", &users(&[("a", "a"), ("z", "z")])),
    )
    .unwrap();
    s.hangup();
    s.expect_log("Reloaded server configuration");
    alive(&mut a);
    let mut z = login(port, "pub", "z", "z");
    z.publish(0, false, "k/1", 0, b"after");
    let p = a.read();
    let (_, _, _, topic, _, payload) = p.publish();
    assert_eq!((topic.as_str(), payload.as_slice()), ("k/1", &b"after"[..]));
}

/// The users of [`new_permissions_apply_to_an_open_client`]: `m` may
/// publish and subscribe under `ok`, `n` (the NATS observer) anything.
fn perms(ok: &str) -> String {
    format!(
        "authorization {{ users: [ {{user: m, password: m, permissions: {{ publish: \"{ok}.>\", subscribe: \"{ok}.>\" }} }}, {{user: n, password: n}} ] }}\n"
    )
}

/// What the NATS observer `n` received up to a PING/PONG round trip.
fn seen(n: &mut common::Raw) -> String {
    n.send(b"PING\r\n");
    n.expect("PONG\r\n")
}

#[test]
fn new_permissions_apply_to_an_open_client() {
    let dir = TempDir::new();
    let s = Server::start(&conf(&dir, "", &perms("x")));
    let port = s.mqtt_port.expect("MQTT port");
    let mut n = common::Raw::connect(s.client_port);
    n.expect("\r\n");
    n.send(b"CONNECT {\"verbose\":false,\"headers\":true,\"user\":\"n\",\"pass\":\"n\"}\r\nSUB x.> 1\r\nSUB y.> 2\r\n");
    let mut m = login(port, "perm", "m", "m");
    assert_eq!(m.subscribe(1, &[("x/1", 0), ("y/1", 0)]), [0, 0x80]);
    // QoS 1: the PUBACK comes after the publish was routed (or dropped).
    m.publish(1, false, "x/a", 1, b"before-x");
    assert_eq!(m.read().id(), 1);
    m.publish(1, false, "y/a", 2, b"before-y");
    assert_eq!(m.read().id(), 2);
    let got = seen(&mut n);
    assert!(got.contains("before-x"), "{got:?}");
    assert!(!got.contains("before-y"), "{got:?}");
    // The same user, other permissions: the client stays and the new
    // ones apply to its later PUBLISH and SUBSCRIBE packets.
    std::fs::write(s.conf_path(), conf(&dir, "", &perms("y"))).unwrap();
    s.hangup();
    s.expect_log("Reloaded server configuration");
    alive(&mut m);
    assert_eq!(m.subscribe(2, &[("x/2", 0), ("y/2", 0)]), [0x80, 0]);
    m.publish(1, false, "x/a", 3, b"after-x");
    assert_eq!(m.read().id(), 3);
    m.publish(1, false, "y/a", 4, b"after-y");
    assert_eq!(m.read().id(), 4);
    let got = seen(&mut n);
    assert!(!got.contains("after-x"), "{got:?}");
    assert!(got.contains("after-y"), "{got:?}");
}
