//! Leafnodes over WebSocket (spec `leafnode.md` §5): a nats-server leaf
//! solicits `ws://` into the server under test's websocket port (path
//! `/leafnode`, masked frames, and `Nats-No-Masking`); interest and
//! messages cross both ways. Also passes with nats-server as the hub.

mod common;

use std::time::{Duration, Instant};

use common::leaf::{await_interest, wait_for};
use common::{Raw, Server, DEADLINE};

fn client(port: u16) -> Raw {
    let mut c = Raw::connect(port);
    c.expect("\r\n");
    c.send(b"CONNECT {\"verbose\":false,\"headers\":true,\"protocol\":1}\r\nPING\r\n");
    c.expect("PONG\r\n");
    c
}

fn ws_hub() -> Server {
    Server::start(
        "server_name: WSHUB\nhost: 127.0.0.1\nport: -1\nwebsocket { host: 127.0.0.1, port: -1, no_tls: true }\nleafnodes { host: 127.0.0.1, port: -1 }\n",
    )
}

fn run(extra: &str, path: &str) {
    let h = ws_hub();
    let l = Server::start_reference(&format!(
        "server_name: WSLEAF\nhost: 127.0.0.1\nport: -1\nleafnodes {{ reconnect: \"250ms\", remotes [ {{ url: \"ws://127.0.0.1:{}{path}\" {extra} }} ] }}\n",
        h.ws_port.unwrap()
    ));
    l.expect_log("Leafnode connection created for account: $G");
    let mut on_hub = client(h.client_port);
    let mut on_leaf = client(l.client_port);
    on_hub.send(b"SUB up 1\r\nPING\r\n");
    on_hub.expect("PONG\r\n");
    await_interest(&mut on_leaf, &mut on_hub, "up");
    on_leaf.send(b"PUB up r 3\r\nabc\r\n");
    on_hub.expect("MSG up 1 r 3\r\nabc\r\n");
    on_leaf.send(b"SUB down.> 2\r\nPING\r\n");
    on_leaf.expect("PONG\r\n");
    await_interest(&mut on_hub, &mut on_leaf, "down.x");
    // A large message split across frames and reads arrives intact.
    let payload = vec![b'z'; 200_000];
    let mut m = format!("PUB down.big {}\r\n", payload.len()).into_bytes();
    m.extend_from_slice(&payload);
    m.extend_from_slice(b"\r\n");
    on_hub.send(&m);
    on_leaf.expect(&format!("MSG down.big 2 {}\r\n", payload.len()));
    let until = Instant::now() + DEADLINE;
    while on_leaf.buf.len() < payload.len() + 2 {
        assert!(Instant::now() < until);
        wait_for(&mut on_leaf, "\u{0}", Duration::from_millis(100));
    }
    assert!(on_leaf.buf[..payload.len()].iter().all(|&b| b == b'z'));
}

#[test]
fn nats_server_leaf_over_ws_masked() {
    run("", "");
}

#[test]
fn nats_server_leaf_over_ws_unmasked_with_a_sub_path() {
    run(", ws_no_masking: true", "/some/path");
}

#[test]
fn ws_leaf_path_without_leafnodes_is_refused_with_404() {
    if common::is_reference() {
        // nats-server answers 101 then closes silently (spec §5.1).
        return;
    }
    let s = Server::start(common::WS_CONF);
    let mut r = Raw::connect(s.ws_port.unwrap());
    r.send(b"GET /leafnode HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    assert!(r.read_to_close().starts_with("HTTP/1.1 404"));
}

/// The server under test solicits a nats-server hub's websocket port
/// (`ws://` remote, spec §5.2).
fn solicit_ws(extra: &str) {
    let hub = Server::start_reference(
        "server_name: HUB\nhost: 127.0.0.1\nport: -1\nwebsocket { host: 127.0.0.1, port: -1, no_tls: true }\nleafnodes { host: 127.0.0.1, port: -1 }\n",
    );
    let l = Server::start(&format!(
        "server_name: WSL\nhost: 127.0.0.1\nport: -1\nleafnodes {{ reconnect: \"250ms\", remotes [ {{ url: \"ws://127.0.0.1:{}\" {extra} }} ] }}\n",
        hub.ws_port.unwrap()
    ));
    l.expect_log("Leafnode connection created for account: $G");
    let mut on_hub = client(hub.client_port);
    let mut on_leaf = client(l.client_port);
    on_hub.send(b"SUB up 1\r\nPING\r\n");
    on_hub.expect("PONG\r\n");
    await_interest(&mut on_leaf, &mut on_hub, "up");
    let payload = vec![b'u'; 100_000];
    let mut m = format!("PUB up {}\r\n", payload.len()).into_bytes();
    m.extend_from_slice(&payload);
    m.extend_from_slice(b"\r\n");
    on_leaf.send(&m);
    on_hub.expect(&format!("MSG up 1 {}\r\n", payload.len()));
    on_leaf.send(b"SUB down 2\r\nPING\r\n");
    on_leaf.expect("PONG\r\n");
    await_interest(&mut on_hub, &mut on_leaf, "down");
    on_hub.send(b"PUB down r 2\r\nok\r\n");
    on_leaf.expect("MSG down 2 r 2\r\nok\r\n");
}

#[test]
fn ws_remote_to_a_nats_server_hub_masked() {
    solicit_ws("");
}

#[test]
fn ws_remote_to_a_nats_server_hub_unmasked() {
    solicit_ws(", ws_no_masking: true");
}

#[test]
fn ws_link_between_two_servers_under_test() {
    let h = ws_hub();
    let l = Server::start(&format!(
        "server_name: WSL2\nhost: 127.0.0.1\nport: -1\nleafnodes {{ reconnect: \"250ms\", remotes [ {{ url: \"ws://127.0.0.1:{}/edge\" }} ] }}\n",
        h.ws_port.unwrap()
    ));
    l.expect_log("Leafnode connection created for account: $G");
    let mut on_hub = client(h.client_port);
    let mut on_leaf = client(l.client_port);
    on_hub.send(b"SUB svc 1\r\nPING\r\n");
    on_hub.expect("PONG\r\n");
    await_interest(&mut on_leaf, &mut on_hub, "svc");
    on_leaf.send(b"SUB _INBOX.w 2\r\nPUB svc _INBOX.w 1\r\nq\r\n");
    on_hub.expect("MSG svc 1 _INBOX.w 1\r\nq\r\n");
    on_hub.send(b"PUB _INBOX.w 1\r\na\r\n");
    on_leaf.expect("MSG _INBOX.w 2 1\r\na\r\n");
}
