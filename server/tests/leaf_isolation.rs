//! Leafnode interest isolation (spec `leafnode.md` §4.7; nats-server
//! `TestLeafNodeIsolatedLeafSubjectPropagation{Global,RequestIsolation,
//! LocalIsolation}`): a server in the middle of two leaf links, the
//! peers always nats-server 2.15.1. On an isolated link the middle
//! server does not advertise the interest of its other leaf links
//! (neither in the interest dump nor in later `LS+`), while its own
//! clients' interest still crosses and its own clients still see the
//! interest of every link. `/leafz` shows `is_isolated: true` on isolated
//! links only. Every test also passes with nats-server as the server under
//! test (`NATSWS_TEST_SERVER_BIN`).
//!
//! Whether a message crosses from one leaf to the other is decided
//! without sleeping: the middle server's client subscribes a marker after
//! the receiver's interest has reached the middle, so the marker's `LS+`
//! follows the receiver's (if that is sent at all) on the link to the
//! publisher's server; once the marker crosses, the publisher sends the
//! message and the marker, and the middle then publishes on a subject the
//! receiver holds, behind the message on the receiver's link.

mod common;

use std::io::Read;
use std::time::Instant;

use common::leaf::{await_interest, leafz_with};
use common::{find, Raw, Server, DEADLINE};

/// A raw client that has said CONNECT.
fn client(port: u16) -> Raw {
    let mut c = Raw::connect(port);
    c.expect("\r\n");
    c.send(b"CONNECT {\"verbose\":false,\"headers\":true,\"protocol\":1}\r\nPING\r\n");
    c.expect("PONG\r\n");
    c
}

/// The server under test with a leafnode listener (`extra`: more
/// `leafnodes` keys) and monitoring.
fn middle(extra: &str) -> Server {
    Server::start(&format!(
        "server_name: MID\nhost: 127.0.0.1\nport: -1\nhttp_port: -1\nleafnodes {{ host: 127.0.0.1, port: -1 {extra} }}\n"
    ))
}

/// A nats-server named `name` soliciting the leafnode port `port` with
/// extra remote keys.
fn spoke_of(name: &str, port: u16, extra: &str) -> Server {
    let s = Server::start_reference(&format!(
        "server_name: {name}\nhost: 127.0.0.1\nport: -1\nleafnodes {{ reconnect: \"250ms\", remotes [ {{ url: \"nats-leaf://127.0.0.1:{port}\" {extra} }} ] }}\n"
    ));
    s.expect_log("Leafnode connection created for account: $G");
    s
}

/// A nats-server named `name` accepting leafs.
fn acceptor(name: &str) -> Server {
    Server::start_reference(&format!(
        "server_name: {name}\nhost: 127.0.0.1\nport: -1\nleafnodes {{ host: 127.0.0.1, port: -1 }}\n"
    ))
}

/// `is_isolated` of the `/leafz` link to the server named `name`
/// (`None`: the key is absent, as nats-server omits it when false).
fn isolated_of(leafz: &serde_json::Value, name: &str) -> Option<serde_json::Value> {
    let link = leafz["leafs"]
        .as_array()
        .and_then(|l| l.iter().find(|l| l["name"] == name))
        .unwrap_or_else(|| panic!("no link to {name}: {leafz}"));
    link.get("is_isolated").cloned()
}

/// Reads `c` until `needle`; returns what came before it.
fn read_until(c: &mut Raw, needle: &str) -> Vec<u8> {
    let until = Instant::now() + DEADLINE;
    loop {
        if let Some(pos) = find(&c.buf, needle.as_bytes()) {
            let before = c.buf[..pos].to_vec();
            c.buf.drain(..pos + needle.len());
            return before;
        }
        assert!(
            Instant::now() < until,
            "no {needle:?} in {:?}",
            String::from_utf8_lossy(&c.buf)
        );
        let mut chunk = [0u8; 65536];
        match c.sock.read(&mut chunk) {
            Ok(0) => panic!("closed before {needle:?}"),
            Ok(n) => c.buf.extend_from_slice(&chunk[..n]),
            Err(_) => {}
        }
    }
}

/// `to` (a client of one leaf peer) subscribes `subject` and
/// `<subject>.ns`; both reach the middle server, whose own client `mid`
/// then sees them (a local client sees every link's interest).
fn subscribe(mid: &mut Raw, to: &mut Raw, subject: &str) {
    let sid = sid(subject);
    to.send(format!("SUB {subject} {sid}1\r\nSUB {subject}.ns {sid}2\r\nPING\r\n").as_bytes());
    to.expect("PONG\r\n");
    await_interest(mid, to, subject);
    await_interest(mid, to, &format!("{subject}.ns"));
}

/// Whether a message `from` (a client of the other leaf peer) publishes on
/// `subject` reaches `to`'s subscription through the middle (see the
/// module docs); [`subscribe`] first.
fn crosses(mid: &mut Raw, from: &mut Raw, to: &mut Raw, subject: &str) -> bool {
    let sid = sid(subject);
    let marker = format!("{subject}.marker");
    mid.send(format!("SUB {marker} {sid}3\r\nPING\r\n").as_bytes());
    mid.expect("PONG\r\n");
    // The middle's own interest always crosses, isolated or not.
    await_interest(from, mid, &marker);
    from.send(format!("PUB {subject} 4\r\ndata\r\nPUB {marker} 4\r\ndone\r\n").as_bytes());
    mid.expect(&format!("MSG {marker} {sid}3 4\r\ndone\r\n"));
    mid.send(format!("PUB {subject}.ns 4\r\nlast\r\n").as_bytes());
    let before = read_until(to, &format!("MSG {subject}.ns {sid}2 4\r\nlast\r\n"));
    find(
        &before,
        format!("MSG {subject} {sid}1 4\r\ndata\r\n").as_bytes(),
    )
    .is_some()
}

/// A subscription id prefix unique to `subject`.
fn sid(subject: &str) -> String {
    subject.replace('.', "_")
}

/// The middle with two nats-server spokes `A` (remote keys `a_extra`) and
/// `B`, and a client on each server.
struct Star {
    mid: Server,
    _a: Server,
    _b: Server,
    m: Raw,
    ca: Raw,
    cb: Raw,
}

fn star(mid_extra: &str, a_extra: &str) -> Star {
    let mid = middle(mid_extra);
    let port = mid.leaf_port.expect("leaf port");
    let a = spoke_of("A", port, a_extra);
    let b = spoke_of("B", port, "");
    leafz_with(&mid, 2);
    Star {
        m: client(mid.client_port),
        ca: client(a.client_port),
        cb: client(b.client_port),
        mid,
        _a: a,
        _b: b,
    }
}

#[test]
fn without_isolation_interest_crosses_between_spokes() {
    let mut s = star("", "");
    subscribe(&mut s.m, &mut s.ca, "ew.a");
    assert!(crosses(&mut s.m, &mut s.cb, &mut s.ca, "ew.a"), "B → A");
    subscribe(&mut s.m, &mut s.cb, "ew.b");
    assert!(crosses(&mut s.m, &mut s.ca, &mut s.cb, "ew.b"), "A → B");
    let v = leafz_with(&s.mid, 2);
    assert_eq!(isolated_of(&v, "A"), None, "{v}");
    assert_eq!(isolated_of(&v, "B"), None, "{v}");
}

#[test]
fn global_isolation_hides_east_west_interest_both_ways() {
    for key in ["isolate_leafnode_interest", "isolate"] {
        let mut s = star(&format!(", {key}: true"), "");
        // The middle's clients see both spokes' interest (`subscribe`), and
        // both spokes see the middle's (`crosses`' marker): north-south
        // works; east-west does not.
        subscribe(&mut s.m, &mut s.ca, "ew.a");
        assert!(
            !crosses(&mut s.m, &mut s.cb, &mut s.ca, "ew.a"),
            "{key}: B → A"
        );
        subscribe(&mut s.m, &mut s.cb, "ew.b");
        assert!(
            !crosses(&mut s.m, &mut s.ca, &mut s.cb, "ew.b"),
            "{key}: A → B"
        );
        // The middle's own subscriber still gets what a spoke publishes.
        s.m.send(b"SUB ns.up 9\r\nPING\r\n");
        s.m.expect("PONG\r\n");
        await_interest(&mut s.ca, &mut s.m, "ns.up");
        s.ca.send(b"PUB ns.up 2\r\nhi\r\n");
        s.m.expect("MSG ns.up 9 2\r\nhi\r\n");
        let v = leafz_with(&s.mid, 2);
        assert_eq!(isolated_of(&v, "A"), Some(true.into()), "{key}: {v}");
        assert_eq!(isolated_of(&v, "B"), Some(true.into()), "{key}: {v}");
    }
}

#[test]
fn isolation_applies_to_the_interest_dump() {
    // A subscribes before B connects: B's dump is where A's interest
    // would be, or not.
    for (extra, expect) in [("", true), (", isolate_leafnode_interest: true", false)] {
        let mid = middle(extra);
        let port = mid.leaf_port.expect("leaf port");
        let a = spoke_of("A", port, "");
        leafz_with(&mid, 1);
        let mut m = client(mid.client_port);
        let mut ca = client(a.client_port);
        subscribe(&mut m, &mut ca, "dump");
        let b = spoke_of("B", port, "");
        leafz_with(&mid, 2);
        let mut cb = client(b.client_port);
        assert_eq!(
            crosses(&mut m, &mut cb, &mut ca, "dump"),
            expect,
            "{extra:?}"
        );
    }
}

#[test]
fn request_isolation_isolates_the_requesting_link_only() {
    let mut s = star("", ", request_isolation: true");
    // A asked: the middle does not tell A about B's interest...
    subscribe(&mut s.m, &mut s.cb, "ew.b");
    assert!(!crosses(&mut s.m, &mut s.ca, &mut s.cb, "ew.b"), "A → B");
    // ... but tells B about A's.
    subscribe(&mut s.m, &mut s.ca, "ew.a");
    assert!(crosses(&mut s.m, &mut s.cb, &mut s.ca, "ew.a"), "B → A");
    let v = leafz_with(&s.mid, 2);
    assert_eq!(isolated_of(&v, "A"), Some(true.into()), "{v}");
    assert_eq!(isolated_of(&v, "B"), None, "{v}");
}

#[test]
fn request_isolation_is_sent_in_the_connect() {
    // The server under test is the spoke that asks; nats-server is the
    // hub and the other spoke.
    let hub = Server::start_reference(
        "server_name: HUB\nhost: 127.0.0.1\nport: -1\nleafnodes { host: 127.0.0.1, port: -1 }\n",
    );
    let port = hub.leaf_port.expect("leaf port");
    let a = Server::start(&format!(
        "server_name: A\nhost: 127.0.0.1\nport: -1\nhttp_port: -1\nleafnodes {{ reconnect: \"250ms\", remotes [ {{ url: \"nats-leaf://127.0.0.1:{port}\", request_isolation: true }} ] }}\n"
    ));
    a.expect_log("Leafnode connection created for account: $G");
    let b = spoke_of("B", port, "");
    let (mut m, mut ca, mut cb) = (
        client(hub.client_port),
        client(a.client_port),
        client(b.client_port),
    );
    subscribe(&mut m, &mut cb, "ew.b");
    assert!(!crosses(&mut m, &mut ca, &mut cb, "ew.b"), "A → B");
    subscribe(&mut m, &mut ca, "ew.a");
    assert!(crosses(&mut m, &mut cb, &mut ca, "ew.a"), "B → A");
    // Asking isolates the hub's side only.
    let v = leafz_with(&a, 1);
    assert_eq!(isolated_of(&v, "HUB"), None, "{v}");
}

#[test]
fn local_isolation_on_solicited_hub_links() {
    // nats-server's LocalIsolation topology: the middle solicits both
    // peers with `hub: true`, each remote isolated or not.
    for (isolate, expect) in [(false, true), (true, false)] {
        let (sa, sb) = (acceptor("A"), acceptor("B"));
        let remote = |s: &Server| {
            format!(
                "{{ url: \"nats-leaf://127.0.0.1:{}\", hub: true, isolate: {isolate} }}",
                s.leaf_port.expect("leaf port")
            )
        };
        let mid = Server::start(&format!(
            "server_name: MID\nhost: 127.0.0.1\nport: -1\nhttp_port: -1\nleafnodes {{ reconnect: \"250ms\", remotes [ {}, {} ] }}\n",
            remote(&sa),
            remote(&sb)
        ));
        let v = leafz_with(&mid, 2);
        let want = isolate.then_some(serde_json::Value::from(true));
        assert_eq!(isolated_of(&v, "A"), want, "{v}");
        assert_eq!(isolated_of(&v, "B"), want, "{v}");
        let (mut m, mut ca, mut cb) = (
            client(mid.client_port),
            client(sa.client_port),
            client(sb.client_port),
        );
        subscribe(&mut m, &mut ca, "ew.a");
        assert_eq!(crosses(&mut m, &mut cb, &mut ca, "ew.a"), expect, "B → A");
        subscribe(&mut m, &mut cb, "ew.b");
        assert_eq!(crosses(&mut m, &mut ca, &mut cb, "ew.b"), expect, "A → B");
    }
}

#[test]
fn local_isolation_of_a_spokes_remote_hides_its_own_leafs() {
    // A daisy chain C → MID → H: MID accepts C and solicits H with its
    // remote isolated. MID does not tell H about C's interest, but tells
    // C (the link it plays the hub on, not isolated) about H's.
    for (isolate, expect) in [(false, true), (true, false)] {
        let h = acceptor("H");
        let mid = middle(&format!(
            ", reconnect: \"250ms\", remotes [ {{ url: \"nats-leaf://127.0.0.1:{}\", isolate_leafnode_interest: {isolate} }} ]",
            h.leaf_port.expect("leaf port")
        ));
        leafz_with(&mid, 1);
        let c = spoke_of("C", mid.leaf_port.expect("leaf port"), "");
        let v = leafz_with(&mid, 2);
        let want = isolate.then_some(serde_json::Value::from(true));
        assert_eq!(isolated_of(&v, "H"), want, "{v}");
        assert_eq!(isolated_of(&v, "C"), None, "{v}");
        let (mut m, mut ch, mut cc) = (
            client(mid.client_port),
            client(h.client_port),
            client(c.client_port),
        );
        subscribe(&mut m, &mut cc, "ew.c");
        assert_eq!(crosses(&mut m, &mut ch, &mut cc, "ew.c"), expect, "H → C");
        subscribe(&mut m, &mut ch, "ew.h");
        assert!(crosses(&mut m, &mut cc, &mut ch, "ew.h"), "C → H");
    }
}

#[test]
fn request_isolation_over_a_websocket_leaf() {
    // Spoke A comes in on the middle's websocket port, spoke B over TCP;
    // isolation does not depend on the transport.
    let mid = Server::start(
        "server_name: MID\nhost: 127.0.0.1\nport: -1\nhttp_port: -1\nwebsocket { host: 127.0.0.1, port: -1, no_tls: true }\nleafnodes { host: 127.0.0.1, port: -1 }\n",
    );
    let a = Server::start_reference(&format!(
        "server_name: A\nhost: 127.0.0.1\nport: -1\nleafnodes {{ reconnect: \"250ms\", remotes [ {{ url: \"ws://127.0.0.1:{}\", request_isolation: true }} ] }}\n",
        mid.ws_port.expect("websocket port")
    ));
    a.expect_log("Leafnode connection created for account: $G");
    let b = spoke_of("B", mid.leaf_port.expect("leaf port"), "");
    let v = leafz_with(&mid, 2);
    assert_eq!(isolated_of(&v, "A"), Some(true.into()), "{v}");
    assert_eq!(isolated_of(&v, "B"), None, "{v}");
    let (mut m, mut ca, mut cb) = (
        client(mid.client_port),
        client(a.client_port),
        client(b.client_port),
    );
    subscribe(&mut m, &mut cb, "ew.b");
    assert!(!crosses(&mut m, &mut ca, &mut cb, "ew.b"), "A → B");
    subscribe(&mut m, &mut ca, "ew.a");
    assert!(crosses(&mut m, &mut cb, &mut ca, "ew.a"), "B → A");
}
