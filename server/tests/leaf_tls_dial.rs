//! Leafnodes over TLS, soliciting side (spec `leafnode.md` §3.10, §5.2):
//! the server under test dials a TLS hub: `tls { ca_file }` on a
//! `nats://` or `tls://` URL (INFO in plaintext, then the handshake), a
//! client certificate the hub verifies, no `tls {}` block at all when the
//! hub's INFO says `tls_required` (the system trust store, here
//! `SSL_CERT_FILE`), `handshake_first` on both sides, and `wss://` to a
//! TLS websocket port. Each hub runs as nats-server and as the server
//! under test; messages cross both ways. A hub whose certificate does not
//! verify gives nats-server's log lines and the leaf dials again. The same
//! suite passes with nats-server as the leaf.

mod common;

use std::sync::OnceLock;

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

/// The PKI whose CA is the "system" trust store of every server this
/// binary starts (`SSL_CERT_FILE`, read by Go and by rustls-native-certs).
fn system_pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let p = Pki::new();
        std::env::set_var("SSL_CERT_FILE", p.path("ca.pem"));
        p
    })
}

#[derive(Clone, Copy, PartialEq)]
enum Hub {
    /// nats-server 2.15.1.
    Reference,
    /// The server under test.
    UnderTest,
}

fn start_hub(hub: Hub, conf: &str) -> Server {
    match hub {
        Hub::Reference => Server::start_reference(conf),
        Hub::UnderTest => Server::start(conf),
    }
}

/// A hub whose leafnode port runs TLS with `extra` in its block.
fn tls_hub(hub: Hub, pki: &Pki, extra: &str) -> Server {
    start_hub(
        hub,
        &format!(
            "server_name: HUB\nhost: 127.0.0.1\nport: -1\nleafnodes {{ host: 127.0.0.1, port: -1, tls {{ {} }} }}\n",
            pki.block(extra)
        ),
    )
}

/// The leaf under test with one remote: `url`, and `tls` as the body of
/// its `tls {}` block (none when empty).
fn leaf(url: &str, tls: &str) -> Server {
    let block = if tls.is_empty() {
        String::new()
    } else {
        format!(", tls {{ {tls} }}")
    };
    Server::start(&format!(
        "server_name: LEAF\nhost: 127.0.0.1\nport: -1\nleafnodes {{ reconnect: \"250ms\", remotes [ {{ url: \"{url}\"{block} }} ] }}\n"
    ))
}

/// The link is up and messages cross both ways.
fn crosses(h: &Server, l: &Server) {
    l.expect_log("Leafnode connection created for account: $G");
    traffic(h, l);
}

/// Waits for log lines containing each of `needles`, in any order.
fn expect_logs(s: &Server, needles: &[&str]) {
    let until = std::time::Instant::now() + common::DEADLINE;
    let mut left: Vec<&str> = needles.to_vec();
    while !left.is_empty() {
        let wait = until.saturating_duration_since(std::time::Instant::now());
        let line = s
            .log
            .recv_timeout(wait)
            .unwrap_or_else(|_| panic!("no log lines containing {left:?}"));
        left.retain(|n| !line.contains(n));
    }
}

/// Messages cross both ways over an established link.
fn traffic(h: &Server, l: &Server) {
    let mut on_hub = client(h.client_port);
    let mut on_leaf = client(l.client_port);
    on_hub.send(b"SUB up 1\r\nPING\r\n");
    on_hub.expect("PONG\r\n");
    await_interest(&mut on_leaf, &mut on_hub, "up");
    on_leaf.send(b"PUB up 5\r\nhello\r\n");
    on_hub.expect("MSG up 1 5\r\nhello\r\n");
    on_leaf.send(b"SUB down 2\r\nPING\r\n");
    on_leaf.expect("PONG\r\n");
    await_interest(&mut on_hub, &mut on_leaf, "down");
    on_hub.send(b"PUB down 5\r\nworld\r\n");
    on_leaf.expect("MSG down 2 5\r\nworld\r\n");
}

fn ca(pki: &Pki) -> String {
    format!("ca_file: \"{}\"", pki.path("ca.pem").display())
}

fn ca_file_on(scheme: &str, hub: Hub) {
    let pki = Pki::new();
    let h = tls_hub(hub, &pki, "");
    let l = leaf(
        &format!("{scheme}://127.0.0.1:{}", h.leaf_port.unwrap()),
        &ca(&pki),
    );
    crosses(&h, &l);
}

#[test]
fn ca_file_nats_url_nats_server_hub() {
    ca_file_on("nats", Hub::Reference);
}

#[test]
fn ca_file_nats_url_own_hub() {
    ca_file_on("nats", Hub::UnderTest);
}

#[test]
fn ca_file_tls_url_nats_server_hub() {
    ca_file_on("tls", Hub::Reference);
}

#[test]
fn ca_file_tls_url_own_hub() {
    ca_file_on("tls", Hub::UnderTest);
}

fn client_certificate(hub: Hub) {
    let pki = Pki::new();
    let h = tls_hub(hub, &pki, "verify: true");
    let l = leaf(
        &format!("nats-leaf://127.0.0.1:{}", h.leaf_port.unwrap()),
        &format!(
            "{}, cert_file: \"{}\", key_file: \"{}\"",
            ca(&pki),
            pki.path("client-cert.pem").display(),
            pki.path("client-key.pem").display()
        ),
    );
    crosses(&h, &l);
}

#[test]
fn client_certificate_verified_by_nats_server_hub() {
    client_certificate(Hub::Reference);
}

#[test]
fn client_certificate_verified_by_own_hub() {
    client_certificate(Hub::UnderTest);
}

fn upgrade_from_info(hub: Hub) {
    let pki = system_pki();
    let h = tls_hub(hub, pki, "");
    let l = leaf(&format!("nats://127.0.0.1:{}", h.leaf_port.unwrap()), "");
    crosses(&h, &l);
}

#[test]
fn no_tls_block_upgrades_when_nats_server_hub_requires_tls() {
    upgrade_from_info(Hub::Reference);
}

#[test]
fn no_tls_block_upgrades_when_own_hub_requires_tls() {
    upgrade_from_info(Hub::UnderTest);
}

fn handshake_first(hub: Hub) {
    let pki = Pki::new();
    let h = tls_hub(hub, &pki, "handshake_first: true");
    let l = leaf(
        &format!("nats://127.0.0.1:{}", h.leaf_port.unwrap()),
        &format!("{}, handshake_first: true", ca(&pki)),
    );
    crosses(&h, &l);
}

#[test]
fn handshake_first_with_nats_server_hub() {
    handshake_first(Hub::Reference);
}

#[test]
fn handshake_first_with_own_hub() {
    handshake_first(Hub::UnderTest);
}

fn wss(hub: Hub) {
    let pki = Pki::new();
    let h = start_hub(
        hub,
        &format!(
            "server_name: HUB\nhost: 127.0.0.1\nport: -1\nwebsocket {{ host: 127.0.0.1, port: -1, tls {{ {} }} }}\nleafnodes {{ host: 127.0.0.1, port: -1 }}\n",
            pki.block("")
        ),
    );
    let l = leaf(
        &format!("wss://127.0.0.1:{}", h.ws_port.unwrap()),
        &ca(&pki),
    );
    crosses(&h, &l);
}

#[test]
fn wss_to_nats_server_hub() {
    wss(Hub::Reference);
}

#[test]
fn wss_to_own_hub() {
    wss(Hub::UnderTest);
}

#[test]
fn hub_certificate_from_another_ca_is_logged_and_retried() {
    let pki = Pki::new();
    let other = Pki::with_ca_name("another CA");
    let h = tls_hub(Hub::Reference, &pki, "");
    let l = leaf(
        &format!("nats://127.0.0.1:{}", h.leaf_port.unwrap()),
        &ca(&other),
    );
    let text = "TLS leafnode handshake error: tls: failed to verify certificate: x509: certificate signed by unknown authority (CN=natsws SHA-256: ";
    let first = l.expect_log(text);
    assert!(first.contains(" - lid:"), "{first}");
    l.expect_log("Leafnode connection closed: TLS Handshake Failure");
    // The leaf dials again.
    l.expect_log(text);
    // The hub saw the leaf's alert.
    h.expect_log("TLS leafnode handshake error: remote error: tls: bad certificate");
}

#[test]
fn a_bad_remote_ca_file_stops_the_start() {
    let err = Server::try_start(
        "host: 127.0.0.1\nport: -1\nleafnodes { remotes [ { url: \"nats://127.0.0.1:1\", tls { ca_file: \"/nonexistent/ca.pem\" } } ] }\n",
    )
    .err()
    .expect("refused");
    assert!(
        err.contains("open /nonexistent/ca.pem: no such file or directory"),
        "{err}"
    );
}

#[test]
fn after_failed_handshakes_the_leaf_links_once_the_hub_is_fixed() {
    let pki = Pki::new();
    let other = Pki::with_ca_name("another CA");
    // The hub first serves a certificate from a CA the leaf does not trust.
    let mut bad = tls_hub(Hub::Reference, &other, "");
    let port = bad.leaf_port.unwrap();
    let l = leaf(&format!("nats://127.0.0.1:{port}"), &ca(&pki));
    l.expect_log("TLS leafnode handshake error: tls: failed to verify certificate");
    bad.kill();
    // The same port, now with the trusted certificate.
    let h = start_hub(
        Hub::Reference,
        &format!(
            "server_name: HUB\nhost: 127.0.0.1\nport: -1\nleafnodes {{ host: 127.0.0.1, port: {port}, tls {{ {} }} }}\n",
            pki.block("")
        ),
    );
    crosses(&h, &l);
}

#[test]
fn insecure_links_to_a_hub_it_cannot_verify() {
    let pki = Pki::new();
    let other = Pki::with_ca_name("another CA");
    let h = tls_hub(Hub::Reference, &pki, "");
    // With a leafnode listener: nats-server warns when it starts.
    let l = Server::start(&format!(
        "server_name: LEAF\nhost: 127.0.0.1\nport: -1\nleafnodes {{ host: 127.0.0.1, port: -1, reconnect: \"250ms\", remotes [ {{ url: \"nats://127.0.0.1:{}\", tls {{ {}, insecure: true }} }} ] }}\n",
        h.leaf_port.unwrap(),
        ca(&other)
    ));
    let warn = "TLS certificate chain and hostname of solicited leafnodes will not be verified. DO NOT USE IN PRODUCTION!";
    assert!(
        l.startup_log.iter().any(|line| line.contains(warn)),
        "{:?}",
        l.startup_log
    );
    crosses(&h, &l);
}

#[test]
fn a_hub_that_never_answers_the_handshake_times_out_and_is_dialed_again() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let pki = Pki::new();
    let l = leaf(
        &format!("nats://127.0.0.1:{port}"),
        &format!("{}, handshake_first: true, timeout: 0.3", ca(&pki)),
    );
    silent.set_nonblocking(true).unwrap();
    let _first = accept_within(&silent);
    // nats-server: the timer's `TLS handshake timeout` is a debug line.
    l.expect_log("Leafnode connection closed: TLS Handshake Failure");
    let _second = accept_within(&silent);
}

/// Accepts on the non-blocking `l` within the suite's deadline (polled:
/// the dial is the event awaited, no fixed sleep).
fn accept_within(l: &std::net::TcpListener) -> std::net::TcpStream {
    let until = std::time::Instant::now() + common::DEADLINE;
    loop {
        match l.accept() {
            Ok((s, _)) => return s,
            Err(_) => {
                assert!(std::time::Instant::now() < until, "no dial");
                std::thread::yield_now();
            }
        }
    }
}

#[test]
fn a_hub_that_requires_a_client_certificate_refuses_a_remote_without_one() {
    let pki = Pki::new();
    let h = tls_hub(Hub::Reference, &pki, "verify: true");
    let _l = leaf(
        &format!("nats://127.0.0.1:{}", h.leaf_port.unwrap()),
        &ca(&pki),
    );
    let refused = "TLS leafnode handshake error: tls: client didn't provide a certificate";
    h.expect_log(refused);
    // The leaf dials again.
    h.expect_log(refused);
}

/// A 100 000-byte message crosses each way (compressed when agreed).
fn big_crosses(h: &Server, l: &Server) {
    let mut on_hub = client(h.client_port);
    let mut on_leaf = client(l.client_port);
    on_hub.send(b"SUB bigup 1\r\nPING\r\n");
    on_hub.expect("PONG\r\n");
    await_interest(&mut on_leaf, &mut on_hub, "bigup");
    on_leaf.send(b"SUB bigdown 2\r\nPING\r\n");
    on_leaf.expect("PONG\r\n");
    await_interest(&mut on_hub, &mut on_leaf, "bigdown");
    big_message(&mut on_leaf, &mut on_hub, "bigup", 1);
    big_message(&mut on_hub, &mut on_leaf, "bigdown", 2);
}

fn big_message(from: &mut Raw, to: &mut Raw, subject: &str, sid: u32) {
    let payload = vec![b'z'; 100_000];
    let mut m = format!("PUB {subject} {}\r\n", payload.len()).into_bytes();
    m.extend_from_slice(&payload);
    m.extend_from_slice(b"\r\n");
    from.send(&m);
    to.expect(&format!("MSG {subject} {sid} {}\r\n", payload.len()));
    let until = std::time::Instant::now() + common::DEADLINE;
    while to.buf.len() < payload.len() + 2 {
        assert!(std::time::Instant::now() < until, "message cut short");
        common::leaf::wait_for(to, "\u{0}", std::time::Duration::from_millis(100));
    }
    assert!(to.buf[..payload.len()].iter().all(|&b| b == b'z'));
    assert_eq!(&to.buf[payload.len()..payload.len() + 2], b"\r\n");
}

/// A websocket hub (`tls`: over TLS) with `compression`; the leaf under
/// test (debug on) asks for compression over `ws://` or `wss://`.
fn ws_compression(hub: Hub, tls: bool, hub_compresses: bool) {
    let pki = Pki::new();
    let ws_tls = if tls {
        format!("tls {{ {} }}", pki.block(""))
    } else {
        "no_tls: true".to_string()
    };
    let h = start_hub(
        hub,
        &format!(
            "server_name: HUB\nhost: 127.0.0.1\nport: -1\nwebsocket {{ host: 127.0.0.1, port: -1, compression: {hub_compresses}, {ws_tls} }}\nleafnodes {{ host: 127.0.0.1, port: -1 }}\n"
        ),
    );
    let scheme = if tls { "wss" } else { "ws" };
    let block = if tls {
        format!(", tls {{ {} }}", ca(&pki))
    } else {
        String::new()
    };
    let l = Server::start(&format!(
        "server_name: LEAF\nhost: 127.0.0.1\nport: -1\ndebug: true\nleafnodes {{ reconnect: \"250ms\", remotes [ {{ url: \"{scheme}://127.0.0.1:{}\", ws_compression: true{block} }} ] }}\n",
        h.ws_port.unwrap()
    ));
    // nats-server logs the link before the upgrade's debug line, natsws
    // after it.
    let compression = format!("Leafnode compression={hub_compresses} masking=true");
    expect_logs(
        &l,
        &["Leafnode connection created for account: $G", &compression],
    );
    traffic(&h, &l);
    big_crosses(&h, &l);
}

#[test]
fn wss_compression_with_nats_server_hub() {
    ws_compression(Hub::Reference, true, true);
}

#[test]
fn wss_compression_with_own_hub() {
    ws_compression(Hub::UnderTest, true, true);
}

#[test]
fn ws_compression_with_nats_server_hub() {
    ws_compression(Hub::Reference, false, true);
}

#[test]
fn ws_compression_with_own_hub() {
    ws_compression(Hub::UnderTest, false, true);
}

#[test]
fn ws_compression_asked_of_a_hub_without_it_stays_off() {
    ws_compression(Hub::Reference, false, false);
}

#[test]
fn wss_without_compression_carries_large_messages() {
    let pki = Pki::new();
    let h = start_hub(
        Hub::Reference,
        &format!(
            "server_name: HUB\nhost: 127.0.0.1\nport: -1\nwebsocket {{ host: 127.0.0.1, port: -1, tls {{ {} }} }}\nleafnodes {{ host: 127.0.0.1, port: -1 }}\n",
            pki.block("")
        ),
    );
    let l = leaf(
        &format!("wss://127.0.0.1:{}", h.ws_port.unwrap()),
        &ca(&pki),
    );
    crosses(&h, &l);
    big_crosses(&h, &l);
}

/// A CA and a hub certificate for the DNS name `hub.example` only, in a
/// temporary directory: (dir, hub `tls {}` body, CA file).
fn dns_only_pki() -> (common::TempDir, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let dir = common::TempDir::new();
    let ca_key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = p.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let srv = CertificateParams::new(vec!["hub.example".to_string()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    let path = |n: &str| dir.0.join(n).display().to_string();
    std::fs::write(path("ca.pem"), ca.pem()).unwrap();
    std::fs::write(path("srv.pem"), srv.pem()).unwrap();
    std::fs::write(path("srv.key"), key.serialize_pem()).unwrap();
    let hub = format!(
        "cert_file: \"{}\", key_file: \"{}\"",
        path("srv.pem"),
        path("srv.key")
    );
    let ca = format!("ca_file: \"{}\"", path("ca.pem"));
    (dir, hub, ca)
}

#[test]
fn a_hub_certificate_without_the_address_gives_go_hostname_error() {
    let (_dir, hub_tls, ca_file) = dns_only_pki();
    let h = start_hub(
        Hub::Reference,
        &format!(
            "server_name: HUB\nhost: 127.0.0.1\nport: -1\nleafnodes {{ host: 127.0.0.1, port: -1, tls {{ {hub_tls} }} }}\n"
        ),
    );
    let l = leaf(
        &format!("nats://127.0.0.1:{}", h.leaf_port.unwrap()),
        &ca_file,
    );
    l.expect_log("TLS leafnode handshake error: tls: failed to verify certificate: x509: cannot validate certificate for 127.0.0.1 because it doesn't contain any IP SANs");
}

#[test]
fn an_address_url_verifies_the_host_name_of_another_url() {
    // nats-server `saveTLSHostname`: the hub's certificate is for
    // hub.example; the address URL is dialed first and verified as
    // hub.example (the name URL is never dialed).
    let (_dir, hub_tls, ca_file) = dns_only_pki();
    for hub in [Hub::Reference, Hub::UnderTest] {
        let h = start_hub(
            hub,
            &format!(
                "server_name: HUB\nhost: 127.0.0.1\nport: -1\nleafnodes {{ host: 127.0.0.1, port: -1, tls {{ {hub_tls} }} }}\n"
            ),
        );
        let port = h.leaf_port.unwrap();
        let l = Server::start(&format!(
            "server_name: LEAF\nhost: 127.0.0.1\nport: -1\nleafnodes {{ reconnect: \"250ms\", remotes [ {{ urls: [\"nats://127.0.0.1:{port}\", \"nats://hub.example:{port}\"], no_randomize: true, tls {{ {ca_file} }} }} ] }}\n"
        ));
        crosses(&h, &l);
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A nats-server cluster member with a TLS websocket port and leafnodes.
fn wss_member(pki: &Pki, name: &str, cluster_port: u16, routes: &str) -> Server {
    Server::start_reference(&format!(
        "server_name: {name}\nhost: 127.0.0.1\nport: -1\ncluster {{ name: C, listen: \"127.0.0.1:{cluster_port}\"{routes} }}\nwebsocket {{ host: 127.0.0.1, port: -1, tls {{ {} }} }}\nleafnodes {{ host: 127.0.0.1, port: -1 }}\n",
        pki.block("")
    ))
}

#[test]
fn a_wss_leaf_fails_over_to_a_member_it_learned_from_ws_connect_urls() {
    // natsws's failover: observed, a nats-server 2.15.1 leaf in this setup
    // never reaches B (as in the TCP case, docs/compat.md).
    if common::is_reference() {
        return;
    }
    let pki = Pki::new();
    let (pa, pb) = (free_port(), free_port());
    let mut a = wss_member(&pki, "A", pa, "");
    let b = wss_member(
        &pki,
        "B",
        pb,
        &format!(", routes: [\"nats-route://127.0.0.1:{pa}\"]"),
    );
    // A's leafnode INFO names B's websocket port once the cluster formed.
    let b_ws = format!("127.0.0.1:{}", b.ws_port.unwrap());
    let until = std::time::Instant::now() + common::DEADLINE;
    loop {
        let mut raw = Raw::connect(a.leaf_port.unwrap());
        let info = common::parse_info(raw.expect("\r\n").trim_end());
        let urls = info["ws_connect_urls"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if urls.iter().any(|u| u.as_str() == Some(b_ws.as_str())) {
            break;
        }
        assert!(std::time::Instant::now() < until, "{info}");
        let _ = a.log.recv_timeout(std::time::Duration::from_millis(100));
    }
    let l = leaf(
        &format!("wss://127.0.0.1:{}", a.ws_port.unwrap()),
        &ca(&pki),
    );
    l.expect_log("Leafnode connection created for account: $G");
    a.kill();
    // The leaf reaches B over wss, which it was never configured with.
    b.expect_log("Leafnode connection created");
    l.expect_log("Leafnode connection created for account: $G");
    traffic(&b, &l);
}
