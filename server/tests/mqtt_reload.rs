//! A configuration reload re-checks MQTT clients as nats-server's
//! `reloadAuthorization` does: a client whose user was removed is closed
//! with nothing sent; one whose password no longer matches gets a CONNACK
//! with return code 5 and is closed; the others stay connected. Runs
//! against natsws and, with `NATSWS_TEST_SERVER_BIN`, nats-server 2.15.1.
#![allow(missing_docs)]

mod common;

use std::process::Command;

use common::mqtt::{conf, Mqtt};
use common::{Server, TempDir};

fn users(list: &[(&str, &str)]) -> String {
    let u: Vec<String> = list
        .iter()
        .map(|(n, p)| format!("{{user: {n}, password: {p}}}"))
        .collect();
    format!("authorization {{ users: [{}] }}\n", u.join(", "))
}

fn hangup(s: &Server) {
    let ok = Command::new("kill")
        .args(["-HUP", &s.pid().to_string()])
        .status()
        .expect("kill")
        .success();
    assert!(ok, "kill -HUP");
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
    hangup(&s);
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
    hangup(&s);
    s.expect_log("Reloaded server configuration");
    alive(&mut a);
    let mut z = login(port, "pub", "z", "z");
    z.publish(0, false, "k/1", 0, b"after");
    let p = a.read();
    let (_, _, _, topic, _, payload) = p.publish();
    assert_eq!((topic.as_str(), payload.as_slice()), ("k/1", &b"after"[..]));
}
