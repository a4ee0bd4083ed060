//! Test-only WebSocket echo server over natsws-core's `ws` codec, for the
//! Autobahn testsuite (`wstest -m fuzzingclient`, see `scripts/autobahn.sh`).
//! It is never part of the natsws server.
//!
//! Usage: `autobahn_echo <port> [--compress]` (or `AUTOBAHN_COMPRESS=1`).
//! Listens on 127.0.0.1, one thread per connection: server handshake with
//! [`handshake::RequestParser`], then [`EchoConn`] (feature `echo`) echoes
//! every message. With `--compress` (needs the `deflate` feature)
//! permessage-deflate is accepted when offered and echoes are compressed.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::Duration;

use natsws_core::ws::echo::EchoConn;
use natsws_core::ws::handshake::{self, RequestParser, Status, UpgradeConfig};

/// Size of the socket read buffer, in bytes.
const READ_BUF: usize = 64 * 1024;

fn main() -> io::Result<()> {
    let mut port = None;
    let mut compress = std::env::var("AUTOBAHN_COMPRESS").is_ok_and(|v| v == "1");
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--compress" => compress = true,
            p => {
                port = Some(p.parse::<u16>().map_err(|e| {
                    io::Error::new(io::ErrorKind::InvalidInput, format!("bad port {p:?}: {e}"))
                })?)
            }
        }
    }
    if compress && !cfg!(feature = "deflate") {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "--compress needs the `deflate` feature",
        ));
    }
    let listener = TcpListener::bind(("127.0.0.1", port.unwrap_or(9001)))?;
    eprintln!(
        "autobahn_echo listening on {} (compression {})",
        listener.local_addr()?,
        if compress { "on" } else { "off" }
    );
    for stream in listener.incoming() {
        let stream = stream?;
        std::thread::spawn(move || {
            if let Err(e) = serve(stream, compress) {
                eprintln!("connection: {e}");
            }
        });
    }
    Ok(())
}

/// One connection: handshake, then the frame loop.
fn serve(mut stream: TcpStream, compress: bool) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut cfg = UpgradeConfig::default();
    cfg.compression = compress;
    let mut buf = vec![0u8; READ_BUF];
    let mut out = Vec::new();
    let mut parser = RequestParser::new(false);
    let (upgrade, rest) = loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        match parser.feed(&cfg, &buf[..n]) {
            Ok(Status::Partial) => {}
            Ok(Status::Complete { value, consumed }) => break (value, buf[consumed..n].to_vec()),
            Err(e) => {
                handshake::write_reject_response(&mut out, &e);
                stream.write_all(&out)?;
                return Ok(());
            }
        }
    };
    handshake::write_accept_response(&mut out, &upgrade, &cfg);
    stream.write_all(&out)?;
    out.clear();

    let mut conn = EchoConn::new(&upgrade);

    let mut pending = rest;
    loop {
        let done = if pending.is_empty() {
            let n = stream.read(&mut buf)?;
            if n == 0 {
                return Ok(()); // peer closed without a close frame
            }
            conn.process(&mut buf[..n], &mut out)
        } else {
            let r = conn.process(&mut pending, &mut out);
            pending = Vec::new();
            r
        };
        if !out.is_empty() {
            stream.write_all(&out)?;
            out.clear();
        }
        if done {
            // RFC 6455 §7.1.1: the server closes the TCP connection first.
            // Half-close, then drain what the peer still sends so the close
            // does not turn into a reset.
            let _ = stream.shutdown(Shutdown::Write);
            stream.set_read_timeout(Some(Duration::from_secs(2)))?;
            while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
            return Ok(());
        }
    }
}
