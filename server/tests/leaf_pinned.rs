//! A soliciting leaf checks its hub's certificate against its own
//! leafnode listener's `pinned_certs` (`leafnodes { tls { pinned_certs }
//! }`: nats-server 2.15.1 passes `opts.LeafNode.TLSPinnedCerts` to
//! `doTLSClientHandshake`). A listed key links; an unlisted one gives
//! `TLS leafnode handshake error: certificate not pinned`, the closed
//! line, and another dial. Hubs run as nats-server and as the server
//! under test; passes with nats-server as the leaf.

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

/// The hex SHA-256 of the SPKI of the PKI's server certificate.
fn server_key(pki: &Pki) -> String {
    let pem = std::fs::read(pki.path("server-cert.pem")).unwrap();
    let (_, p) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
    natsws_server::tls::spki_sha256(&p.contents).unwrap()
}

fn tls_hub(reference: bool, pki: &Pki) -> Server {
    let conf = format!(
        "server_name: HUB\nhost: 127.0.0.1\nport: -1\nleafnodes {{ host: 127.0.0.1, port: -1, tls {{ {} }} }}\n",
        pki.block("")
    );
    if reference {
        Server::start_reference(&conf)
    } else {
        Server::start(&conf)
    }
}

/// The leaf under test: its leafnodes block pins `pinned` (no listener)
/// and its remote trusts the PKI's CA.
fn leaf(h: &Server, pki: &Pki, pinned: &str) -> Server {
    Server::start(&format!(
        "server_name: LEAF\nhost: 127.0.0.1\nport: -1\nleafnodes {{ reconnect: \"250ms\", tls {{ {} }}, remotes [ {{ url: \"nats://127.0.0.1:{}\", tls {{ ca_file: \"{}\" }} }} ] }}\n",
        pki.block(&format!("pinned_certs: [\"{pinned}\"]")),
        h.leaf_port.unwrap(),
        pki.path("ca.pem").display()
    ))
}

fn pinned_links(reference: bool) {
    let pki = Pki::new();
    let h = tls_hub(reference, &pki);
    // Listed in upper case: the check ignores case, as nats-server's.
    let l = leaf(&h, &pki, &server_key(&pki).to_uppercase());
    l.expect_log("Leafnode connection created for account: $G");
    let mut on_hub = client(h.client_port);
    let mut on_leaf = client(l.client_port);
    on_hub.send(b"SUB up 1\r\nPING\r\n");
    on_hub.expect("PONG\r\n");
    await_interest(&mut on_leaf, &mut on_hub, "up");
    on_leaf.send(b"PUB up 2\r\nok\r\n");
    on_hub.expect("MSG up 1 2\r\nok\r\n");
}

fn unpinned_fails_and_dials_again(reference: bool) {
    let pki = Pki::new();
    let h = tls_hub(reference, &pki);
    let l = leaf(&h, &pki, &"0".repeat(64));
    let first = l.expect_log("TLS leafnode handshake error: certificate not pinned");
    assert!(first.contains(" - lid:"), "{first}");
    l.expect_log("Leafnode connection closed: TLS Handshake Failure");
    l.expect_log("TLS leafnode handshake error: certificate not pinned");
}

#[test]
fn a_pinned_nats_server_hub_links() {
    pinned_links(true);
}

#[test]
fn a_pinned_hub_under_test_links() {
    pinned_links(false);
}

#[test]
fn an_unpinned_nats_server_hub_is_refused_and_dialed_again() {
    unpinned_fails_and_dials_again(true);
}

#[test]
fn an_unpinned_hub_under_test_is_refused_and_dialed_again() {
    unpinned_fails_and_dials_again(false);
}
