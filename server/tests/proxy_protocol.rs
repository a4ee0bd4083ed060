//! `proxy_protocol: true` on the client port (operations spec §5.1,
//! nats-server 2.14+ `client_proxyproto.go`): INFO without `client_ip`; a
//! PROXY v1/v2 header names the client, whose address then shows in
//! `/connz`; clients without a header still work; a malformed header is
//! logged and the connection closed without `-ERR`.
//!
//! Every test here passes against nats-server 2.15.1
//! (`NATSWS_TEST_SERVER_BIN=<nats-server> cargo test -p natsws-server --test proxy_protocol`).

mod common;

use common::{parse_info, Raw, Server};

const CONF: &str = "host: 127.0.0.1\nport: -1\nhttp_port: -1\nproxy_protocol: true\n";

/// Connects, reads INFO, returns it with the connection.
fn connect(s: &Server) -> (Raw, serde_json::Value) {
    let mut c = Raw::connect(s.client_port);
    let info = parse_info(&c.expect("\r\n"));
    (c, info)
}

/// The `/connz` entry of the only open connection: (ip, port).
fn connz_addr(s: &Server) -> (String, u64) {
    let (status, body) = s.http_get("/connz");
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let c = &v["connections"][0];
    (
        c["ip"].as_str().unwrap().to_string(),
        c["port"].as_u64().unwrap(),
    )
}

fn v2_inet(src: [u8; 4], sport: u16) -> Vec<u8> {
    let mut h = natsws_core::proxy_protocol::V2_SIGNATURE.to_vec();
    h.extend_from_slice(&[0x21, 0x11, 0, 12]);
    h.extend_from_slice(&src);
    h.extend_from_slice(&[127, 0, 0, 1]);
    h.extend_from_slice(&sport.to_be_bytes());
    h.extend_from_slice(&4222u16.to_be_bytes());
    h
}

#[test]
fn startup_log_and_info_without_client_ip() {
    let s = Server::start(CONF);
    assert!(
        s.startup_log
            .iter()
            .any(|l| l.contains("PROXY protocol enabled for client connections")),
        "{:?}",
        s.startup_log
    );
    let (_, info) = connect(&s);
    assert!(info.get("client_ip").is_none(), "{info}");
    assert!(info.get("client_id").is_some(), "{info}");
}

#[test]
fn v1_header_names_the_client_in_connz() {
    let s = Server::start(CONF);
    let (mut c, _) = connect(&s);
    c.send(b"PROXY TCP4 192.0.2.7 127.0.0.1 56324 4222\r\nCONNECT {\"verbose\":false}\r\nPING\r\n");
    c.expect("PONG\r\n");
    assert_eq!(connz_addr(&s), ("192.0.2.7".to_string(), 56324));
    if !common::is_reference() {
        // natsws extension: the proxy's own address.
        let (_, body) = s.http_get("/connz");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let proxy = v["connections"][0]["proxy_ip"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(proxy.starts_with("127.0.0.1:"), "{proxy}");
    }
}

#[test]
fn v2_header_in_pieces_names_the_client() {
    let s = Server::start(CONF);
    let (mut c, _) = connect(&s);
    let h = v2_inet([198, 51, 100, 9], 40000);
    // The header split over two writes, the client's bytes after it.
    c.send(&h[..7]);
    let mut rest = h[7..].to_vec();
    rest.extend_from_slice(b"CONNECT {\"verbose\":false}\r\nPING\r\n");
    c.send(&rest);
    c.expect("PONG\r\n");
    assert_eq!(connz_addr(&s), ("198.51.100.9".to_string(), 40000));
}

#[test]
fn clients_without_a_header_and_local_headers_keep_the_socket_address() {
    let s = Server::start(CONF);
    let (mut c, _) = connect(&s);
    c.send(b"CONNECT {\"verbose\":false}\r\nPING\r\n");
    c.expect("PONG\r\n");
    assert_eq!(connz_addr(&s).0, "127.0.0.1");
    drop(c);
    let s = Server::start(CONF);
    let (mut c, _) = connect(&s);
    c.send(b"PROXY UNKNOWN\r\nCONNECT {\"verbose\":false}\r\nPING\r\n");
    c.expect("PONG\r\n");
    assert_eq!(connz_addr(&s).0, "127.0.0.1");
}

#[test]
fn a_malformed_header_closes_without_err() {
    let s = Server::start(CONF);
    for bad in [
        &b"PROXY TCP4 192.0.2.7 127.0.0.1 70000 4222\r\n"[..],
        b"PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n",
    ] {
        let (mut c, _) = connect(&s);
        c.send(bad);
        let rest = c.read_to_close();
        assert!(!rest.contains("-ERR"), "{rest:?}");
    }
    s.expect_log("Error reading PROXY protocol header from 127.0.0.1:");
}

/// natsws `trusted_proxies` (operations spec §5.4, natsws only): a PROXY
/// header is taken only from listed peers; from any other peer it closes
/// the connection (the HAProxy spec's rule: never trust an unknown sender).
#[test]
fn trusted_proxies_limit_who_may_send_a_header() {
    if common::is_reference() {
        return;
    }
    let s = Server::start(&format!("{CONF}trusted_proxies: [\"10.0.0.0/8\"]\n"));
    let (mut c, _) = connect(&s);
    c.send(b"PROXY TCP4 192.0.2.7 127.0.0.1 56324 4222\r\nPING\r\n");
    let rest = c.read_to_close();
    assert!(!rest.contains("PONG"), "{rest:?}");
    s.expect_log("PROXY header from a peer not in trusted_proxies");
    // Direct clients from anywhere are still served.
    let (mut c, _) = connect(&s);
    c.send(b"CONNECT {\"verbose\":false}\r\nPING\r\n");
    c.expect("PONG\r\n");
    drop(c);
    let s = Server::start(&format!("{CONF}trusted_proxies: [\"127.0.0.1\"]\n"));
    let (mut c, _) = connect(&s);
    c.send(b"PROXY TCP4 192.0.2.7 127.0.0.1 56324 4222\r\nCONNECT {\"verbose\":false}\r\nPING\r\n");
    c.expect("PONG\r\n");
    assert_eq!(connz_addr(&s), ("192.0.2.7".to_string(), 56324));
}

/// natsws `websocket { proxy_protocol: true }` (operations spec §5.4,
/// nats-server issue #7924; natsws only): the header precedes the HTTP
/// request, and the client's address is the one INFO and /connz show.
#[test]
fn websocket_port_takes_a_header_before_the_upgrade() {
    if common::is_reference() {
        return;
    }
    let s = Server::start(
        "host: 127.0.0.1\nport: -1\nhttp_port: -1\n\
         websocket { host: 127.0.0.1, port: -1, no_tls: true, proxy_protocol: true }\n",
    );
    let ws = s.ws_port.unwrap();
    let mut c = common::WsRaw::connect_after(
        ws,
        false,
        &[],
        b"PROXY TCP4 203.0.113.5 127.0.0.1 51000 8080\r\n",
    )
    .expect("upgrade");
    let info = parse_info(&c.expect("\r\n"));
    assert_eq!(info["client_ip"], "203.0.113.5", "{info}");
    c.send(b"CONNECT {\"verbose\":false}\r\nPING\r\n");
    c.expect("PONG\r\n");
    assert_eq!(connz_addr(&s), ("203.0.113.5".to_string(), 51000));
    // Without a header the upgrade works as before.
    let mut d = common::WsRaw::connect(ws);
    let info = parse_info(&d.expect("\r\n"));
    assert_eq!(info["client_ip"], "127.0.0.1", "{info}");
}

#[test]
fn mqtt_port_takes_a_header_before_connect() {
    // natsws extension `mqtt { proxy_protocol }` (operations spec §5.4).
    if common::is_reference() {
        return;
    }
    use std::io::{Read, Write};
    let s = Server::start(
        "host: 127.0.0.1\nport: -1\nhttp_port: -1\n\
         mqtt { host: 127.0.0.1, port: -1, proxy_protocol: true }\n",
    );
    let port = s.mqtt_port.expect("mqtt port");
    // CONNECT: protocol "MQTT" level 4, clean session, keep-alive 60 s,
    // client id "pp1".
    let connect: &[u8] = &[
        0x10, 15, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 60, 0, 3, b'p', b'p', b'1',
    ];
    let mut t = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    t.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    t.write_all(b"PROXY TCP4 203.0.113.9 127.0.0.1 52000 1883\r\n")
        .unwrap();
    t.write_all(connect).unwrap();
    let mut connack = [0u8; 4];
    t.read_exact(&mut connack).unwrap();
    assert_eq!(connack, [0x20, 2, 0, 0], "CONNACK accepted");
    assert_eq!(connz_addr(&s), ("203.0.113.9".to_string(), 52000));
    // A malformed header closes the connection without a CONNACK.
    let mut bad = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    bad.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    bad.write_all(b"PROXY TCP4 nonsense\r\n").unwrap();
    let mut buf = [0u8; 8];
    let n = bad.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "closed without a reply: {:?}", &buf[..n]);
}

#[test]
fn leafnode_port_takes_a_header_before_connect() {
    // natsws extension `leafnodes { proxy_protocol }` (operations spec §5.4).
    if common::is_reference() {
        return;
    }
    use std::io::Write;
    let s = Server::start(
        "host: 127.0.0.1\nport: -1\nhttp_port: -1\n\
         leafnodes { host: 127.0.0.1, port: -1, proxy_protocol: true }\n",
    );
    let port = s.leaf_port.expect("leaf port");
    let mut t = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    t.write_all(
        b"PROXY TCP4 198.51.100.7 127.0.0.1 53000 7422\r\nCONNECT {\"name\":\"EDGE\"}\r\nPING\r\n",
    )
    .unwrap();
    let mut r = Raw {
        sock: t,
        buf: Vec::new(),
    };
    r.expect("PONG\r\n");
    let (status, body) = s.http_get("/leafz");
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let leaf = &v["leafs"][0];
    assert_eq!(leaf["ip"], "198.51.100.7", "{v}");
    assert_eq!(leaf["port"], 53000, "{v}");
}
