//! Leafnodes over TLS, accepting side (spec `leafnode.md` §3.10): a
//! nats-server leaf with a remote `tls { ca_file }` solicits the server
//! under test's TLS leafnode listener, INFO first or `handshake_first`.
//! Also passes with nats-server as the hub.

mod common;

use common::leaf::await_interest;
use common::pki::Pki;
use common::{Raw, Server};

fn client(port: u16) -> Raw {
    let mut c = Raw::connect(port);
    c.expect("\r\n");
    c.send(b"CONNECT {\"verbose\":false,\"headers\":true,\"protocol\":1}\r\nPING\r\n");
    c.expect("PONG\r\n");
    c
}

fn run(first: bool) {
    let pki = Pki::new();
    let hs = if first { "handshake_first: true" } else { "" };
    let h = Server::start(&format!(
        "server_name: TLSHUB\nhost: 127.0.0.1\nport: -1\nleafnodes {{ host: 127.0.0.1, port: -1, tls {{ {} }} }}\n",
        pki.block(hs)
    ));
    let port = h.leaf_port.unwrap();
    if !first {
        // INFO in plaintext says TLS is required.
        let mut raw = Raw::connect(port);
        let info = common::parse_info(&raw.expect("\r\n"));
        assert_eq!(info["tls_required"], true);
    }
    let l = Server::start_reference(&format!(
        "server_name: TLSLEAF\nhost: 127.0.0.1\nport: -1\nleafnodes {{ reconnect: \"250ms\", remotes [ {{ url: \"nats-leaf://127.0.0.1:{port}\", tls {{ ca_file: \"{}\", {hs} }} }} ] }}\n",
        pki.path("ca.pem").display()
    ));
    l.expect_log("Leafnode connection created for account: $G");
    let mut on_hub = client(h.client_port);
    let mut on_leaf = client(l.client_port);
    on_hub.send(b"SUB s 1\r\nPING\r\n");
    on_hub.expect("PONG\r\n");
    await_interest(&mut on_leaf, &mut on_hub, "s");
    on_leaf.send(b"SUB t 2\r\nPING\r\n");
    on_leaf.expect("PONG\r\n");
    await_interest(&mut on_hub, &mut on_leaf, "t");
}

#[test]
fn nats_server_leaf_over_tls_info_first() {
    run(false);
}

#[test]
fn nats_server_leaf_over_tls_handshake_first() {
    run(true);
}
