//! TLS input much larger than one socket read: a publisher on a TLS client
//! port writes megabytes of PUBs in one write, then PING; every message
//! reaches the subscriber, in order and intact, and the PONG comes after
//! them. Also with a subscriber that reads nothing until the publisher has
//! its PONG (the publisher is stalled while its input waits in the TLS
//! layer). Runs against nats-server too (`NATSWS_TEST_SERVER_BIN`).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::pki::Pki;
use common::{find, is_timeout, Server, DEADLINE};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};

type Tls = StreamOwned<ClientConnection, TcpStream>;

/// Payload bytes per message.
const SIZE: usize = 128;

/// Reads into `buf` until it holds `needle`; returns the bytes before it
/// and drains them and the needle.
fn read_until(t: &mut Tls, buf: &mut Vec<u8>, needle: &[u8], within: Duration) -> Vec<u8> {
    let until = Instant::now() + within;
    let mut chunk = vec![0u8; 64 * 1024];
    let mut from = 0;
    loop {
        if let Some(p) = find(&buf[from..], needle) {
            let p = from + p;
            let before = buf[..p].to_vec();
            buf.drain(..p + needle.len());
            return before;
        }
        from = buf.len().saturating_sub(needle.len());
        assert!(
            Instant::now() < until,
            "timed out waiting for {:?} after {} bytes",
            String::from_utf8_lossy(needle),
            buf.len()
        );
        match t.read(&mut chunk) {
            Ok(0) => panic!(
                "closed waiting for {:?}; tail {:?}",
                String::from_utf8_lossy(needle),
                String::from_utf8_lossy(&buf[buf.len().saturating_sub(200)..])
            ),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if is_timeout(&e) => {}
            Err(e) => panic!("read error {e}"),
        }
    }
}

/// A TLS client of `s` (plaintext INFO, then TLS), connected and PONGed.
fn connect(s: &Server, cfg: Arc<ClientConfig>) -> Tls {
    let sock = TcpStream::connect(("127.0.0.1", s.client_port)).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut info = Vec::new();
    let mut byte = [0u8; 1];
    let until = Instant::now() + DEADLINE;
    while !info.ends_with(b"\r\n") {
        assert!(Instant::now() < until, "no INFO");
        match (&sock).read(&mut byte) {
            Ok(1) => info.push(byte[0]),
            Ok(_) => panic!("closed before INFO"),
            Err(e) if is_timeout(&e) => {}
            Err(e) => panic!("{e}"),
        }
    }
    let name = ServerName::try_from("127.0.0.1").unwrap().to_owned();
    let mut t = StreamOwned::new(ClientConnection::new(cfg, name).unwrap(), sock);
    while t.conn.is_handshaking() {
        match t.conn.complete_io(&mut t.sock) {
            Ok(_) => {}
            Err(e) if is_timeout(&e) && Instant::now() < until => {}
            Err(e) => panic!("TLS handshake: {e}"),
        }
    }
    t.write_all(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\nPING\r\n")
        .unwrap();
    read_until(&mut t, &mut Vec::new(), b"PONG\r\n", DEADLINE);
    t
}

/// Message `i`'s payload: its number, then filler.
fn payload(i: usize) -> Vec<u8> {
    let mut p = format!("{i:08}").into_bytes();
    p.resize(SIZE, b'x');
    p
}

/// Publishes `n` messages on `burst` in one write (plus PING) and checks
/// that the subscriber, reading only after the publisher's PONG, gets
/// exactly them in order.
fn burst(conf: &str, pki: &Pki, n: usize) {
    let s = Server::start(conf);
    let cfg = pki.client_config(None);
    let mut sub = connect(&s, cfg.clone());
    sub.write_all(b"SUB burst 1\r\nPING\r\n").unwrap();
    read_until(&mut sub, &mut Vec::new(), b"PONG\r\n", DEADLINE);
    let mut publ = connect(&s, cfg);
    let mut pubs = Vec::with_capacity(n * (SIZE + 20) + 6);
    let mut want = Vec::with_capacity(n * (SIZE + 20));
    for i in 0..n {
        pubs.extend_from_slice(format!("PUB burst {SIZE}\r\n").as_bytes());
        pubs.extend_from_slice(&payload(i));
        pubs.extend_from_slice(b"\r\n");
        want.extend_from_slice(format!("MSG burst 1 {SIZE}\r\n").as_bytes());
        want.extend_from_slice(&payload(i));
        want.extend_from_slice(b"\r\n");
    }
    pubs.extend_from_slice(b"PING\r\n");
    assert!(pubs.len() > 2_000_000, "a burst of {} bytes", pubs.len());
    publ.write_all(&pubs).unwrap();
    publ.flush().unwrap();
    // The PONG says every PUB before it was read and delivered.
    let before = read_until(&mut publ, &mut Vec::new(), b"PONG\r\n", DEADLINE * 3);
    assert!(
        before.is_empty(),
        "nothing but PONG to the publisher: {:?}",
        String::from_utf8_lossy(&before[..before.len().min(200)])
    );
    // The subscriber's PONG follows every message queued before it.
    sub.write_all(b"PING\r\n").unwrap();
    let got = read_until(&mut sub, &mut Vec::new(), b"PONG\r\n", DEADLINE * 3);
    assert_eq!(got.len(), want.len(), "every message delivered");
    assert!(got == want, "messages intact and in order");
}

fn conf(pki: &Pki, extra: &str) -> String {
    format!(
        "host: 127.0.0.1\nport: -1\n{extra}\ntls {{\n  {}\n}}\n",
        pki.block("")
    )
}

#[test]
fn megabytes_of_pubs_in_one_write_then_ping() {
    let pki = Pki::new();
    // ~2.1 MB of PUBs: many 64 KiB socket reads, hundreds of TLS records.
    burst(&conf(&pki, ""), &pki, 14_500);
}

#[test]
fn stalled_publisher_with_a_subscriber_that_reads_late() {
    // max_pending 3 MiB: the subscriber's queue passes the stall mark (3/4
    // of it) while it reads nothing, so the publisher's reads pause with
    // its ciphertext waiting in the TLS layer and the socket; the queue
    // never reaches max_pending (no slow consumer).
    let pki = Pki::new();
    burst(&conf(&pki, "max_pending: 3145728"), &pki, 18_000);
}
