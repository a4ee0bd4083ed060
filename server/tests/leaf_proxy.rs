//! A remote's `proxy { url, username, password, timeout }` (nats-server
//! 2.15.1 `establishHTTPProxyTunnel`, `validateLeafNodeProxyOptions`): the
//! server under test, as the leaf, dials its hub through an HTTP CONNECT
//! proxy written here (std threads). `ws://` and `nats://` remotes both
//! go through it (nats-server tunnels every URL of the remote), to a
//! nats-server hub and to a hub run by the server under test; `Basic`
//! proxy credentials; a refused CONNECT and an unreachable proxy give
//! nats-server's log lines and the leaf dials again; the configuration
//! errors carry nats-server's texts and positions. Passes with
//! nats-server as the leaf.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::mpsc;

use base64::Engine as _;
use common::leaf::await_interest;
use common::{Raw, Server, DEADLINE};

fn client(port: u16) -> Raw {
    let mut c = Raw::connect(port);
    c.expect("\r\n");
    c.send(b"CONNECT {\"verbose\":false,\"headers\":true,\"protocol\":1}\r\nPING\r\n");
    c.expect("PONG\r\n");
    c
}

/// A minimal HTTP CONNECT proxy on 127.0.0.1: each request head it reads
/// is sent on `heads`; with `auth`, a request without that exact
/// `Proxy-Authorization` value gets a 407.
struct Proxy {
    port: u16,
    heads: mpsc::Receiver<String>,
}

impl Proxy {
    fn start(auth: Option<(&str, &str)>) -> Proxy {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let want = auth.map(|(u, p)| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            )
        });
        let (tx, heads) = mpsc::channel();
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(s) = s else { return };
                let tx = tx.clone();
                let want = want.clone();
                std::thread::spawn(move || serve(s, &tx, want.as_deref()));
            }
        });
        Proxy { port, heads }
    }

    /// The next request head, within the suite's deadline.
    fn next_head(&self) -> String {
        self.heads
            .recv_timeout(DEADLINE)
            .expect("a CONNECT request reached the proxy")
    }
}

fn serve(mut s: TcpStream, tx: &mpsc::Sender<String>, want: Option<&str>) {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match s.read(&mut b) {
            Ok(1) => head.push(b[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let _ = tx.send(head.clone());
    let auth = head.lines().find_map(|l| {
        l.split_once(':')
            .filter(|(k, _)| k.eq_ignore_ascii_case("proxy-authorization"))
            .map(|(_, v)| v.trim().to_string())
    });
    if want.is_some() && auth.as_deref() != want {
        let _ = s.write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"t\"\r\nContent-Length: 0\r\n\r\n");
        return;
    }
    let target = head.split(' ').nth(1).unwrap_or_default().to_string();
    let Ok(up) = TcpStream::connect(&target) else {
        let _ = s.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
        return;
    };
    s.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .unwrap();
    let (mut s2, mut up2) = (s.try_clone().unwrap(), up.try_clone().unwrap());
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut up2, &mut s2);
        let _ = s2.shutdown(Shutdown::Write);
    });
    let mut up = up;
    let _ = std::io::copy(&mut s, &mut up);
    let _ = up.shutdown(Shutdown::Write);
}

/// A hub (nats-server when `reference`) with a websocket port and a
/// leafnode port.
fn hub(reference: bool) -> Server {
    let conf = "server_name: HUB\nhost: 127.0.0.1\nport: -1\nwebsocket { host: 127.0.0.1, port: -1, no_tls: true }\nleafnodes { host: 127.0.0.1, port: -1 }\n";
    if reference {
        Server::start_reference(conf)
    } else {
        Server::start(conf)
    }
}

/// The leaf under test with one remote `url` and `proxy { <proxy> }`.
fn leaf(url: &str, proxy: &str) -> Server {
    Server::start(&format!(
        "server_name: LEAF\nhost: 127.0.0.1\nport: -1\nleafnodes {{ reconnect: \"250ms\", remotes [ {{ url: \"{url}\", proxy {{ {proxy} }} }} ] }}\n"
    ))
}

/// The link is up and messages cross both ways.
fn crosses(h: &Server, l: &Server) {
    l.expect_log("Leafnode connection created for account: $G");
    let mut on_hub = client(h.client_port);
    let mut on_leaf = client(l.client_port);
    on_hub.send(b"SUB up 1\r\nPING\r\n");
    on_hub.expect("PONG\r\n");
    await_interest(&mut on_leaf, &mut on_hub, "up");
    on_leaf.send(b"PUB up 3\r\nabc\r\n");
    on_hub.expect("MSG up 1 3\r\nabc\r\n");
    on_leaf.send(b"SUB down 2\r\nPING\r\n");
    on_leaf.expect("PONG\r\n");
    await_interest(&mut on_hub, &mut on_leaf, "down");
    on_hub.send(b"PUB down r 2\r\nok\r\n");
    on_leaf.expect("MSG down 2 r 2\r\nok\r\n");
}

fn through_proxy(reference_hub: bool, ws: bool) {
    let h = hub(reference_hub);
    let p = Proxy::start(None);
    let port = if ws {
        h.ws_port.unwrap()
    } else {
        h.leaf_port.unwrap()
    };
    let scheme = if ws { "ws" } else { "nats" };
    let l = leaf(
        &format!("{scheme}://127.0.0.1:{port}"),
        &format!("url: \"http://127.0.0.1:{}\"", p.port),
    );
    let head = p.next_head();
    assert!(
        head.starts_with(&format!("CONNECT 127.0.0.1:{port} HTTP/1.1\r\n")),
        "{head}"
    );
    assert!(
        head.contains(&format!("\r\nHost: 127.0.0.1:{port}\r\n")),
        "{head}"
    );
    assert!(!head.contains("Proxy-Authorization"), "{head}");
    crosses(&h, &l);
}

#[test]
fn ws_remote_through_a_proxy_to_a_nats_server_hub() {
    through_proxy(true, true);
}

#[test]
fn ws_remote_through_a_proxy_to_a_hub_under_test() {
    through_proxy(false, true);
}

#[test]
fn nats_remote_is_tunnelled_too() {
    // nats-server warns the proxy applies to WebSocket URLs only, but its
    // dialer tunnels every URL of the remote.
    through_proxy(true, false);
}

#[test]
fn nats_remote_through_a_proxy_to_a_hub_under_test() {
    through_proxy(false, false);
}

#[test]
fn proxy_credentials_go_as_basic_authorization() {
    let h = hub(true);
    let p = Proxy::start(Some(("pxuser", "s3cret")));
    let l = leaf(
        &format!("ws://127.0.0.1:{}", h.ws_port.unwrap()),
        &format!(
            "url: \"http://127.0.0.1:{}\", username: \"pxuser\", password: \"s3cret\", timeout: \"2s\"",
            p.port
        ),
    );
    let head = p.next_head();
    assert!(
        head.contains("\r\nProxy-Authorization: Basic cHh1c2VyOnMzY3JldA==\r\n"),
        "{head}"
    );
    crosses(&h, &l);
}

#[test]
fn a_refused_connect_is_logged_with_the_status_and_dialed_again() {
    let h = hub(true);
    let p = Proxy::start(Some(("pxuser", "right")));
    let ws = h.ws_port.unwrap();
    let l = leaf(
        &format!("ws://127.0.0.1:{ws}"),
        &format!(
            "url: \"http://127.0.0.1:{}\", username: \"pxuser\", password: \"wrong\"",
            p.port
        ),
    );
    l.expect_log(&format!("Error trying to connect as leafnode to remote server \"127.0.0.1:{ws}\" (attempt 1): proxy CONNECT failed: 407 Proxy Authentication Required"));
    p.next_head();
    // The leaf tries again.
    p.next_head();
}

#[test]
fn an_unreachable_proxy_is_logged() {
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let pport = closed.local_addr().unwrap().port();
    drop(closed);
    let l = leaf(
        "ws://127.0.0.1:1",
        &format!("url: \"http://127.0.0.1:{pport}\""),
    );
    l.expect_log(&format!("Error trying to connect as leafnode to remote server \"127.0.0.1:1\" (attempt 1): failed to connect to proxy: dial tcp 127.0.0.1:{pport}: connect: connection refused"));
}

#[test]
fn proxy_block_errors_have_nats_server_texts_and_positions() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "ws://127.0.0.1:1",
            "url: \"socks5://h:1\"",
            "natsws.conf:2:50: proxy URL scheme must be http or https, got: socks5",
        ),
        (
            "nats://127.0.0.1:1",
            "url: \"http://\"",
            "natsws.conf:2:52: proxy URL must specify a host",
        ),
        (
            "ws://127.0.0.1:1",
            "url: \"::bad\"",
            "natsws.conf:2:50: invalid proxy URL: parse \"::bad\": missing protocol scheme",
        ),
        (
            "ws://127.0.0.1:1",
            "url: \"http://h:1\", username: \"u\"",
            "natsws.conf:2:50: proxy username and password must both be specified or both be empty",
        ),
        (
            "ws://127.0.0.1:1",
            "url: \"http://h:1\", password: \"p\"",
            "natsws.conf:2:50: proxy username and password must both be specified or both be empty",
        ),
        (
            "ws://127.0.0.1:1",
            "url: \"http://h:1\", timeout: \"-1s\"",
            "natsws.conf:2:50: proxy timeout must be >= 0",
        ),
        (
            "ws://127.0.0.1:1",
            "url: \"http://h:1\", foo: 1",
            "natsws.conf:2:77: unknown field \"foo\"",
        ),
        (
            "wss://127.0.0.1:1",
            "url: \"http://h:1\"",
            "natsws.conf:2:51: proxy is configured but remote URL wss://127.0.0.1:1 requires TLS and no TLS configuration is provided. When using proxy with TLS endpoints, ensure TLS is properly configured for the leafnode remote",
        ),
    ];
    for (url, proxy, want) in cases {
        let err = Server::try_start(&format!(
            "port: -1\nleafnodes {{ remotes [ {{ url: \"{url}\", proxy {{ {proxy} }} }} ] }}\n"
        ))
        .err()
        .unwrap_or_else(|| panic!("{url} {proxy}: started"));
        assert!(err.contains(want), "{url} {proxy}: {err}");
    }
    let err = Server::try_start(
        "port: -1\nleafnodes { remotes [ { url: \"ws://127.0.0.1:1\", proxy: \"http://h:1\" } ] }\n",
    )
    .err()
    .expect("refused");
    assert!(
        err.contains("natsws.conf:2:50: Expected proxy to be a map, got string"),
        "{err}"
    );
}

#[test]
fn a_valid_proxy_block_starts() {
    // Valid for every scheme; `wss://` with its own `tls { … }` block.
    for (url, extra) in [
        ("nats://127.0.0.1:1", ""),
        ("ws://127.0.0.1:1", ""),
        ("wss://127.0.0.1:1", ", tls { insecure: true }"),
    ] {
        let s = Server::try_start(&format!(
            "port: -1\nleafnodes {{ remotes [ {{ url: \"{url}\", proxy {{ url: \"http://127.0.0.1:1\", timeout: \"100ms\" }}{extra} }} ] }}\n"
        ));
        assert!(s.is_ok(), "{url}: {:?}", s.err());
    }
}

fn tls_hub(pki: &common::pki::Pki) -> Server {
    Server::start_reference(&format!(
        "server_name: HUB\nhost: 127.0.0.1\nport: -1\nleafnodes {{ host: 127.0.0.1, port: -1, tls {{ {} }} }}\n",
        pki.block("")
    ))
}

#[test]
fn a_hub_requiring_tls_through_a_proxy_needs_the_remotes_tls_block() {
    let pki = common::pki::Pki::new();
    let h = tls_hub(&pki);
    let p = Proxy::start(None);
    let l = leaf(
        &format!("nats://127.0.0.1:{}", h.leaf_port.unwrap()),
        &format!("url: \"http://127.0.0.1:{}\"", p.port),
    );
    l.expect_log("TLS configuration mismatch: Hub requires TLS but leafnode remote is not configured for TLS. When using a proxy, ensure TLS leafnode configuration matches the Hub requirements.");
    p.next_head();
    // Dialed again.
    p.next_head();
}

#[test]
fn tls_through_a_proxy_links() {
    let pki = common::pki::Pki::new();
    let h = tls_hub(&pki);
    let p = Proxy::start(None);
    let l = Server::start(&format!(
        "server_name: LEAF\nhost: 127.0.0.1\nport: -1\nleafnodes {{ reconnect: \"250ms\", remotes [ {{ url: \"nats://127.0.0.1:{}\", proxy {{ url: \"http://127.0.0.1:{}\" }}, tls {{ ca_file: \"{}\" }} }} ] }}\n",
        h.leaf_port.unwrap(),
        p.port,
        pki.path("ca.pem").display()
    ));
    p.next_head();
    crosses(&h, &l);
}

#[test]
fn wss_through_a_proxy_links() {
    let pki = common::pki::Pki::new();
    let h = Server::start_reference(&format!(
        "server_name: HUB\nhost: 127.0.0.1\nport: -1\nwebsocket {{ host: 127.0.0.1, port: -1, tls {{ {} }} }}\nleafnodes {{ host: 127.0.0.1, port: -1 }}\n",
        pki.block("")
    ));
    let p = Proxy::start(None);
    let ws = h.ws_port.unwrap();
    let l = Server::start(&format!(
        "server_name: LEAF\nhost: 127.0.0.1\nport: -1\nleafnodes {{ reconnect: \"250ms\", remotes [ {{ url: \"wss://127.0.0.1:{ws}\", proxy {{ url: \"http://127.0.0.1:{}\" }}, tls {{ ca_file: \"{}\" }} }} ] }}\n",
        p.port,
        pki.path("ca.pem").display()
    ));
    assert!(p
        .next_head()
        .starts_with(&format!("CONNECT 127.0.0.1:{ws} HTTP/1.1\r\n")));
    crosses(&h, &l);
}
