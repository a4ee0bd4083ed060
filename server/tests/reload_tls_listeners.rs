//! Config reload rotates the TLS certificate of the MQTT and leafnode
//! listeners too (nats-server `reload.go`: the `mqtt` and `leafnode` options
//! reload their `TLSConfig`): new handshakes get the new certificate, the
//! old one is refused, and connections opened before stay up. The client,
//! websocket and https listeners are covered in `reload.rs`.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::pki::Pki;
use common::{is_timeout, Server, TempDir, DEADLINE};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};

type Tls = StreamOwned<ClientConnection, TcpStream>;

/// A TLS handshake straight away on `port` (MQTT TLS and the leafnode
/// listener with `handshake_first` start with the ClientHello).
fn handshake(port: u16, cfg: Arc<ClientConfig>) -> std::io::Result<Tls> {
    let sock = TcpStream::connect(("127.0.0.1", port))?;
    sock.set_read_timeout(Some(Duration::from_millis(200)))?;
    let name = ServerName::try_from("127.0.0.1").unwrap().to_owned();
    let mut s = StreamOwned::new(ClientConnection::new(cfg, name).unwrap(), sock);
    let until = Instant::now() + DEADLINE;
    while s.conn.is_handshaking() {
        match s.conn.complete_io(&mut s.sock) {
            Ok(_) => {}
            Err(e) if is_timeout(&e) && Instant::now() < until => {}
            Err(e) => return Err(e),
        }
    }
    Ok(s)
}

/// Reads from `t` until `want` bytes arrived; returns them.
fn read_exact(t: &mut Tls, want: usize) -> Vec<u8> {
    let until = Instant::now() + DEADLINE;
    let mut got = Vec::new();
    let mut chunk = [0u8; 512];
    while got.len() < want {
        assert!(Instant::now() < until, "only {got:?}");
        match t.read(&mut chunk) {
            Ok(0) => panic!("closed after {got:?}"),
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e) if is_timeout(&e) => {}
            Err(e) => panic!("read: {e}"),
        }
    }
    got
}

/// MQTT 3.1.1 CONNECT: clean session, keep alive 60 s, client id `id`.
fn mqtt_connect(id: &str) -> Vec<u8> {
    let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 60];
    body.extend_from_slice(&(id.len() as u16).to_be_bytes());
    body.extend_from_slice(id.as_bytes());
    let mut pkt = vec![0x10, body.len() as u8];
    pkt.extend_from_slice(&body);
    pkt
}

#[test]
fn mqtt_and_leafnode_listeners_rotate_their_certificates_on_reload() {
    let (old, new) = (Pki::new(), Pki::new());
    let block = old.block("");
    let dir = TempDir::new();
    let conf = common::mqtt::conf(
        &dir,
        &format!("tls {{\n  {block}\n}}"),
        &format!(
            "leafnodes {{\n  listen: 127.0.0.1:-1\n  tls {{\n  {block}\n  handshake_first: true\n  }}\n}}"
        ),
    );
    let s = Server::start(&conf);
    let mqtt = s.mqtt_port.expect("mqtt port");
    let leaf = s.leaf_port.expect("leafnode port");
    // An MQTT client over TLS before the rotation: CONNECT, CONNACK accepted.
    let mut open = handshake(mqtt, old.client_config(None)).expect("old cert before reload");
    open.write_all(&mqtt_connect("before")).unwrap();
    assert_eq!(read_exact(&mut open, 4), [0x20, 2, 0, 0]);
    // The certificate and key are replaced at the same paths, then SIGHUP.
    for f in ["server-cert.pem", "server-key.pem"] {
        std::fs::copy(new.path(f), old.path(f)).unwrap();
    }
    s.hangup();
    s.expect_log("Reloaded server configuration");
    for (what, port) in [("mqtt", mqtt), ("leafnode", leaf)] {
        assert!(
            handshake(port, new.client_config(None)).is_ok(),
            "{what}: the new certificate serves new handshakes"
        );
        assert!(
            handshake(port, old.client_config(None)).is_err(),
            "{what}: the old certificate is gone"
        );
    }
    // The MQTT connection opened before the rotation is still up: PINGREQ
    // gets PINGRESP.
    open.write_all(&[0xC0, 0]).unwrap();
    assert_eq!(read_exact(&mut open, 2), [0xD0, 0]);
}
