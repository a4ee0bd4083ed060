//! Test-only WebSocket echo server over natsws-core's `ws` codec, for the
//! Autobahn testsuite (`wstest -m fuzzingclient`, see `scripts/autobahn.sh`).
//! It is never part of the natsws server.
//!
//! Usage: `autobahn_echo <port> [--compress]` (or `AUTOBAHN_COMPRESS=1`).
//! Listens on 127.0.0.1, one thread per connection: server handshake with
//! [`handshake::RequestParser`], then every complete data message is echoed
//! with its opcode (text or binary), fragments reassembled, text validated as
//! UTF-8 (RFC 6455 §8.1: the decoder for plain text, [`Utf8Validator`] over
//! the inflated bytes for compressed text), pings answered with pongs and the
//! close handshake done per RFC 6455 §7. With `--compress` (needs the
//! `deflate` feature) permessage-deflate is accepted when offered and echoes
//! are compressed (RFC 7692, no context takeover).

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::Duration;

use natsws_core::ws::codec::{write_close_for_error, write_close_reply, write_frame, write_pong};
use natsws_core::ws::handshake::{self, RequestParser, Status, UpgradeConfig};
use natsws_core::ws::utf8::Utf8Validator;
use natsws_core::ws::{Decoder, DecoderConfig, Error, Event, OpCode};

/// Size of the socket read buffer, in bytes.
const READ_BUF: usize = 64 * 1024;
/// Cap on one echoed message (compressed or not), in bytes. The largest
/// Autobahn message (case 9.1.6) is 16 MiB.
const MAX_MESSAGE: usize = 64 * 1024 * 1024;

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

    let mut dcfg = DecoderConfig::server();
    dcfg.compression = upgrade.compression;
    dcfg.no_masking = upgrade.no_masking;
    dcfg.validate_utf8 = true;
    dcfg.max_message = MAX_MESSAGE as u64;
    dcfg.max_compressed_message = MAX_MESSAGE as u64;
    let mut conn = Conn {
        dec: Decoder::new(dcfg),
        msg: Vec::new(),
        text: false,
        compress: upgrade.compression,
        #[cfg(feature = "deflate")]
        inflater: natsws_core::ws::deflate::Inflater::new(),
        #[cfg(feature = "deflate")]
        deflater: natsws_core::ws::deflate::Deflater::new(),
        utf8: Utf8Validator::new(),
    };

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

/// Per-connection echo state.
struct Conn {
    dec: Decoder,
    /// The current message's (inflated) payload.
    msg: Vec<u8>,
    /// The current message is text.
    text: bool,
    /// permessage-deflate was negotiated: echoes are compressed.
    compress: bool,
    #[cfg(feature = "deflate")]
    inflater: natsws_core::ws::deflate::Inflater,
    #[cfg(feature = "deflate")]
    deflater: natsws_core::ws::deflate::Deflater,
    /// UTF-8 check of inflated text (the decoder checks plain text itself).
    utf8: Utf8Validator,
}

impl Conn {
    /// Decodes everything in `input`, appending replies to `out`. Returns
    /// true when the connection must be closed (close handshake done or
    /// failed with a close frame).
    fn process(&mut self, input: &mut [u8], out: &mut Vec<u8>) -> bool {
        let mut pos = 0;
        while pos < input.len() {
            let (n, ev) = match self.dec.decode(&mut input[pos..]) {
                Ok(r) => r,
                Err(e) => return fail(out, &e),
            };
            pos += n;
            match ev {
                None => {}
                Some(Event::Data {
                    payload,
                    fin,
                    compressed,
                    text,
                }) => {
                    self.text = text;
                    let r = if compressed {
                        inflate(
                            #[cfg(feature = "deflate")]
                            &mut self.inflater,
                            &mut self.msg,
                            &mut self.utf8,
                            self.text,
                            payload,
                            fin,
                        )
                    } else {
                        self.msg.extend_from_slice(payload);
                        Ok(())
                    };
                    if let Err(e) = r {
                        return fail(out, &e);
                    }
                    if fin {
                        self.echo(out);
                    }
                }
                Some(Event::Ping(p)) => {
                    // A decoded ping is at most 125 bytes: cannot fail.
                    let _ = write_pong(out, p, None);
                }
                Some(Event::Pong(_)) => {}
                Some(Event::Close { code, reason }) => {
                    write_close_reply(out, code, reason, None);
                    return true;
                }
            }
        }
        false
    }

    /// Echoes the complete message in `self.msg` with its opcode.
    fn echo(&mut self, out: &mut Vec<u8>) {
        let op = if self.text {
            OpCode::TEXT
        } else {
            OpCode::BINARY
        };
        #[cfg(feature = "deflate")]
        if self.compress {
            let c = self.deflater.compress(&self.msg);
            // A data opcode: cannot fail.
            let _ = write_frame(out, op, true, true, c, None);
            self.msg.clear();
            return;
        }
        #[cfg(not(feature = "deflate"))]
        let _ = self.compress; // never true without the feature
        let _ = write_frame(out, op, true, false, &self.msg, None);
        self.msg.clear();
    }
}

/// Inflates one piece of a compressed message into `msg`, validating text
/// as it comes out (fail fast, RFC 6455 §8.1).
#[cfg(feature = "deflate")]
fn inflate(
    inflater: &mut natsws_core::ws::deflate::Inflater,
    msg: &mut Vec<u8>,
    utf8: &mut Utf8Validator,
    text: bool,
    piece: &[u8],
    fin: bool,
) -> Result<(), Error> {
    let mut bad = false;
    inflater.feed(piece, fin, MAX_MESSAGE, &mut |chunk| {
        if text && !bad {
            bad = utf8.feed(chunk).is_err();
        }
        msg.extend_from_slice(chunk);
    })?;
    if text && !bad && fin {
        bad = utf8.finish().is_err();
    }
    if fin || bad {
        *utf8 = Utf8Validator::new();
    }
    if bad {
        Err(Error::InvalidUtf8Text)
    } else {
        Ok(())
    }
}

/// Without the `deflate` feature compression is never negotiated, so the
/// decoder never reports a compressed piece.
#[cfg(not(feature = "deflate"))]
fn inflate(
    _msg: &mut Vec<u8>,
    _utf8: &mut Utf8Validator,
    _text: bool,
    _piece: &[u8],
    _fin: bool,
) -> Result<(), Error> {
    Err(Error::CompressedWithoutNegotiation)
}

/// Writes the close frame for a codec error. Returns true (close).
fn fail(out: &mut Vec<u8>, err: &Error) -> bool {
    write_close_for_error(out, err, None);
    true
}
