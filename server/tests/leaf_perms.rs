//! The bound user's permissions on a leafnode link (spec `leafnode.md`
//! §4.6): a nats-server hub swaps its leaf user's permissions and sends
//! them in the `connect_info` INFO as `export` (what the leaf may send in)
//! and `import` (what the hub sends out); the leaf must not send what
//! `export` forbids, or the hub closes the link. Also passes with
//! nats-server as the leaf.

mod common;

use std::time::Instant;

use common::{Raw, Server, DEADLINE};

fn client(port: u16) -> Raw {
    let mut c = Raw::connect(port);
    c.expect("\r\n");
    c.send(b"CONNECT {\"verbose\":false}\r\nPING\r\n");
    c.expect("PONG\r\n");
    c
}

/// Publishes `subject` from `from` until `to` (subscribed to it) gets it.
fn await_crossing(from: &mut Raw, to: &mut Raw, subject: &str) {
    let until = Instant::now() + DEADLINE;
    loop {
        from.send(format!("PUB {subject} 5\r\nprobe\r\nPING\r\n").as_bytes());
        from.expect("PONG\r\n");
        to.send(b"PING\r\n");
        if to.expect("PONG\r\n").contains(&format!("MSG {subject} ")) {
            return;
        }
        assert!(Instant::now() < until, "{subject} never crossed");
    }
}

#[test]
fn a_leaf_keeps_to_the_export_the_hub_sent_and_the_link_stays_up() {
    let hub = Server::start_reference(
        "server_name: HUB\nhost: 127.0.0.1\nport: -1\naccounts { A: { users: [ { user: lu, password: lp, permissions: { publish: { deny: [\"billing.>\"] }, subscribe: { deny: [\"audit.>\"] } } }, { user: app, password: p } ] } }\nleafnodes { host: 127.0.0.1, port: -1 }\n",
    );
    let leaf = Server::start(&format!(
        "server_name: LEAF\nhost: 127.0.0.1\nport: -1\nleafnodes {{ reconnect: \"250ms\", remotes [ {{ url: \"nats-leaf://lu:lp@127.0.0.1:{}\" }} ] }}\n",
        hub.leaf_port.unwrap()
    ));
    // The hub's log (started earlier, so its lines follow its own ready
    // line): a nats-server leaf may log its link before `Server is ready`.
    hub.expect_log("Leafnode connection created");
    let mut on_hub = Raw::connect(hub.client_port);
    on_hub.expect("\r\n");
    on_hub.send(b"CONNECT {\"verbose\":false,\"user\":\"app\",\"pass\":\"p\"}\r\nSUB *.x 1\r\nSUB ok.* 2\r\nPING\r\n");
    on_hub.expect("PONG\r\n");
    let mut on_leaf = client(leaf.client_port);
    await_crossing(&mut on_leaf, &mut on_hub, "ok.a");
    // leaf → hub: billing.x is not sent (the hub would close the link);
    // ok.x, sent after it on the same link, arrives.
    on_leaf.send(b"PUB billing.x 6\r\nsecret\r\nPUB ok.x 4\r\nopen\r\nPING\r\n");
    on_leaf.expect("PONG\r\n");
    let got = on_hub.expect("MSG ok.x 2 4\r\nopen\r\n");
    // (A wildcard interest of the hub covers billing.x: the hub did send
    // LS+ *.x, so only the leaf's own check keeps billing.x home.)
    assert!(!got.contains("secret"), "{got}");
    // Still the same link: nothing closed on the leaf.
    on_leaf.send(b"PUB ok.y 2\r\nhi\r\n");
    on_hub.expect("MSG ok.y 2 2\r\nhi\r\n");
    while let Ok(line) = leaf.log.try_recv() {
        assert!(!line.contains("Leafnode connection closed"), "{line}");
    }
}

#[test]
fn a_leaf_keeps_to_the_export_allow_list_of_the_hub() {
    let hub = Server::start_reference(
        "server_name: HUB\nhost: 127.0.0.1\nport: -1\naccounts { A: { users: [ { user: lu, password: lp, permissions: { publish: { allow: [\"ok.>\"] } } }, { user: app, password: p } ] } }\nleafnodes { host: 127.0.0.1, port: -1 }\n",
    );
    let leaf = Server::start(&format!(
        "server_name: LEAF\nhost: 127.0.0.1\nport: -1\nleafnodes {{ reconnect: \"250ms\", remotes [ {{ url: \"nats-leaf://lu:lp@127.0.0.1:{}\" }} ] }}\n",
        hub.leaf_port.unwrap()
    ));
    hub.expect_log("Leafnode connection created");
    let mut on_hub = Raw::connect(hub.client_port);
    on_hub.expect("\r\n");
    on_hub.send(
        b"CONNECT {\"verbose\":false,\"user\":\"app\",\"pass\":\"p\"}\r\nSUB > 1\r\nPING\r\n",
    );
    on_hub.expect("PONG\r\n");
    let mut on_leaf = client(leaf.client_port);
    await_crossing(&mut on_leaf, &mut on_hub, "ok.a");
    // other.x is outside the allow list: the hub advertised `>` (it covers
    // ok.>), so only the leaf's own check keeps it home.
    on_leaf.send(b"PUB other.x 6\r\nsecret\r\nPUB ok.x 4\r\nopen\r\nPING\r\n");
    on_leaf.expect("PONG\r\n");
    let got = on_hub.expect("MSG ok.x 1 4\r\nopen\r\n");
    assert!(!got.contains("secret"), "{got}");
    on_leaf.send(b"PUB ok.y 2\r\nhi\r\n");
    on_hub.expect("MSG ok.y 1 2\r\nhi\r\n");
    while let Ok(line) = leaf.log.try_recv() {
        assert!(!line.contains("Leafnode connection closed"), "{line}");
    }
}
