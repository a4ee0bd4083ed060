//! A client that sends its last request and closes its write side at once
//! (data and FIN in one go) gets the answer and then the server's close,
//! on plain TCP and on TLS, without waiting for a ping timeout. Runs
//! against nats-server too (`NATSWS_TEST_SERVER_BIN`).

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use common::pki::Pki;
use common::{is_timeout, Server, DEADLINE};
use rustls::pki_types::ServerName;
use rustls::ClientConnection;

/// Rounds per test: the data and the FIN must reach the server before it
/// polls, which a round does not always arrange.
const ROUNDS: usize = 20;

/// Reads `sock` to EOF within [`DEADLINE`]; panics on a timeout.
fn read_to_eof(mut r: impl Read) -> Vec<u8> {
    let until = Instant::now() + DEADLINE;
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        assert!(Instant::now() < until, "no EOF from the server: {got:?}");
        match r.read(&mut chunk) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e) if is_timeout(&e) => {}
            // A reset after the answer is a close too.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return got,
            Err(e) => panic!("{e}"),
        }
    }
}

fn tcp(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// Reads the INFO line byte by byte (nothing after it is consumed).
fn read_info(mut s: &TcpStream) {
    let until = Instant::now() + DEADLINE;
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    while !line.ends_with(b"\r\n") {
        assert!(Instant::now() < until, "no INFO");
        match s.read(&mut b) {
            Ok(1) => line.push(b[0]),
            Ok(_) => panic!("closed before INFO"),
            Err(e) if is_timeout(&e) => {}
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn plain_ping_then_half_close_gets_pong_and_close() {
    let s = Server::start("host: 127.0.0.1\nport: -1\n");
    for _ in 0..ROUNDS {
        let mut c = tcp(s.client_port);
        read_info(&c);
        c.write_all(b"CONNECT {\"verbose\":false}\r\nPING\r\n")
            .unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        let got = read_to_eof(&c);
        assert!(
            String::from_utf8_lossy(&got).contains("PONG\r\n"),
            "{got:?}"
        );
    }
}

#[test]
fn tls_ping_then_half_close_gets_pong_and_close() {
    let pki = Pki::new();
    let s = Server::start(&format!(
        "host: 127.0.0.1\nport: -1\ntls {{\n  {}\n}}\n",
        pki.block("")
    ));
    let cfg = pki.client_config(None);
    for _ in 0..ROUNDS {
        let mut c = tcp(s.client_port);
        read_info(&c);
        let name = ServerName::try_from("127.0.0.1").unwrap().to_owned();
        let mut tls = ClientConnection::new(cfg.clone(), name).unwrap();
        let until = Instant::now() + DEADLINE;
        while tls.is_handshaking() {
            match tls.complete_io(&mut c) {
                Ok(_) => {}
                Err(e) if is_timeout(&e) && Instant::now() < until => {}
                Err(e) => panic!("TLS handshake: {e}"),
            }
        }
        tls.writer()
            .write_all(b"CONNECT {\"verbose\":false}\r\nPING\r\n")
            .unwrap();
        while tls.wants_write() {
            tls.write_tls(&mut c).unwrap();
        }
        c.shutdown(Shutdown::Write).unwrap();
        let cipher = read_to_eof(&c);
        let mut rd = &cipher[..];
        let mut plain = Vec::new();
        while !rd.is_empty() {
            if tls.read_tls(&mut rd).unwrap() == 0 {
                break;
            }
            tls.process_new_packets().unwrap();
            let _ = tls.reader().read_to_end(&mut plain);
        }
        assert!(
            String::from_utf8_lossy(&plain).contains("PONG\r\n"),
            "{plain:?}"
        );
    }
}
