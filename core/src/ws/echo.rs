//! Test-only WebSocket echo logic for the Autobahn testsuite (feature
//! `echo`): every complete data message is echoed with its opcode (text or
//! binary), fragments reassembled, text validated as UTF-8 (RFC 6455 §8.1:
//! the decoder for plain text, [`Utf8Validator`] over the inflated bytes for
//! compressed text), pings answered with pongs and the close handshake done
//! per RFC 6455 §7. With permessage-deflate negotiated (feature `deflate`)
//! echoes are compressed (RFC 7692, no context takeover).
//!
//! Used by `core/examples/autobahn_echo.rs` (std::net, one thread per
//! connection) and by the natsws server's `autobahn` feature (the server's
//! own transport and event loop). Never part of the natsws server's normal
//! paths: nothing in a default build refers to it.

use alloc::vec::Vec;

use super::codec::{write_close_for_error, write_close_reply, write_frame, write_pong};
use super::handshake::Upgrade;
use super::utf8::Utf8Validator;
use super::{Decoder, DecoderConfig, Error, Event, OpCode};

/// Cap on one echoed message (compressed or not), in bytes. The largest
/// Autobahn message (case 9.1.6) is 16 MiB.
pub const MAX_MESSAGE: usize = 64 * 1024 * 1024;

/// Per-connection echo state, after the upgrade.
pub struct EchoConn {
    dec: Decoder,
    /// The current message's (inflated) payload.
    msg: Vec<u8>,
    /// The current message is text.
    text: bool,
    /// permessage-deflate was negotiated: echoes are compressed.
    compress: bool,
    #[cfg(feature = "deflate")]
    inflater: super::deflate::Inflater,
    #[cfg(feature = "deflate")]
    deflater: super::deflate::Deflater,
    /// UTF-8 check of inflated text (the decoder checks plain text itself).
    utf8: Utf8Validator,
}

impl EchoConn {
    /// Echo state for an accepted upgrade (masking and compression as
    /// negotiated).
    pub fn new(upgrade: &Upgrade) -> Self {
        Self::for_peer(upgrade.compression, upgrade.no_masking)
    }

    /// Echo state for a peer that negotiated permessage-deflate
    /// (`compression`) and `Nats-No-Masking` (`no_masking`).
    pub fn for_peer(compression: bool, no_masking: bool) -> Self {
        let mut dcfg = DecoderConfig::server();
        dcfg.compression = compression;
        dcfg.no_masking = no_masking;
        dcfg.validate_utf8 = true;
        dcfg.max_message = MAX_MESSAGE as u64;
        dcfg.max_compressed_message = MAX_MESSAGE as u64;
        EchoConn {
            dec: Decoder::new(dcfg),
            msg: Vec::new(),
            text: false,
            compress: compression,
            #[cfg(feature = "deflate")]
            inflater: super::deflate::Inflater::new(),
            #[cfg(feature = "deflate")]
            deflater: super::deflate::Deflater::new(),
            utf8: Utf8Validator::new(),
        }
    }

    /// Decodes everything in `input` (unmasked in place), appending echoes,
    /// pongs and close frames to `out`. Returns true when the connection
    /// must be closed (close handshake done, or failed with a close frame).
    pub fn process(&mut self, input: &mut [u8], out: &mut Vec<u8>) -> bool {
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
    inflater: &mut super::deflate::Inflater,
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
