//! [`Inbound`]: the whole read side of one WebSocket connection on top of the
//! frame [`Decoder`]: data payloads (inflated when compressed) are appended to
//! the NATS byte stream, pings are answered, a close is reported with its
//! reply (spec §3.1–§3.5, §4.1).
//!
//! ```
//! use natsws_core::ws::inbound::{Inbound, ReadStatus};
//! use natsws_core::ws::DecoderConfig;
//! let mut ws = Inbound::new(DecoderConfig::server(), 1 << 20);
//! // A masked ping, then a masked binary frame holding "PING\r\n".
//! let mut input = vec![0x89, 0x80, 1, 2, 3, 4];
//! input.extend([0x82, 0x86, 0, 0, 0, 0]);
//! input.extend(b"PING\r\n");
//! let (mut nats, mut control) = (Vec::new(), Vec::new());
//! let st = ws.read(&mut input, &mut nats, &mut control, None, None).unwrap();
//! assert_eq!(st, ReadStatus::Open);
//! assert_eq!(nats, b"PING\r\n");      // feed to the NATS decoder
//! assert_eq!(control, [0x8a, 0x00]);   // the pong, sent ahead of data
//! ```

use alloc::vec::Vec;

use super::codec::{write_close_reply, write_pong, Decoder, DecoderConfig, Event};
use super::error::Error;
use super::frame::CloseCode;

/// Inflates one whole compressed message (implemented by
/// `deflate::Inflater`; a trait so this module does not need the `deflate`
/// feature). The implementation may be shared by all connections of a thread:
/// [`Inbound`] only calls it with complete messages.
pub trait InflateMessage {
    /// Inflates `msg` (without the RFC 7692 tail) appending at most `limit`
    /// bytes to `out`.
    ///
    /// # Errors
    /// [`Error::MaxPayloadExceeded`] past `limit`, [`Error::CorruptDeflate`].
    fn inflate_message(&mut self, msg: &[u8], limit: usize, out: &mut Vec<u8>)
        -> Result<(), Error>;
}

/// The peer's close frame, to be answered after any pending data (spec
/// §3.3, §3.8: the close is always the last frame).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseReply {
    /// The peer's status (`None`: it sent no payload; the reply is empty).
    pub code: Option<CloseCode>,
    /// The peer's reason.
    pub reason: alloc::string::String,
}

impl CloseReply {
    /// Appends the echo of the peer's close (spec §3.3).
    pub fn write(&self, out: &mut Vec<u8>, mask: Option<[u8; 4]>) {
        write_close_reply(out, self.code, &self.reason, mask);
    }
}

/// Outcome of [`Inbound::read`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadStatus {
    /// All input was used; read more from the socket.
    Open,
    /// The peer sent a close: flush pending output, then write the reply,
    /// then close the connection (reason ClientClosed). Later input is
    /// ignored.
    Closed(CloseReply),
}

/// Read side of one connection: a [`Decoder`] plus the buffer for
/// compressed messages that span fragments or reads.
#[derive(Debug, Clone)]
pub struct Inbound {
    dec: Decoder,
    /// Compressed bytes of an unfinished compressed message; bounded by
    /// [`DecoderConfig::max_compressed_message`].
    pending: Vec<u8>,
    max_payload: usize,
    /// Refuse text messages ([`Inbound::set_binary_only`]).
    binary_only: bool,
}

/// Above this many bytes the compressed-message buffer is released after use.
const KEEP_PENDING: usize = 64 * 1024;

impl Inbound {
    /// `max_payload`: cap on one compressed message's decompressed size in
    /// bytes (the connection's max payload; 0 = 1 MiB, spec §3.5).
    pub fn new(cfg: DecoderConfig, max_payload: usize) -> Self {
        Inbound {
            dec: Decoder::new(cfg),
            pending: Vec::new(),
            max_payload: if max_payload == 0 {
                super::DEFAULT_MAX_PAYLOAD
            } else {
                max_payload
            },
            binary_only: false,
        }
    }

    /// Takes binary messages only: a text message is
    /// [`Error::TextNotAllowed`] (close 1003) and none of its bytes reach
    /// the application. Default off (NATS takes both, as nats-server).
    pub fn set_binary_only(&mut self, on: bool) {
        self.binary_only = on;
    }

    /// The frame decoder.
    pub fn decoder(&self) -> &Decoder {
        &self.dec
    }

    /// Changes the decoder settings between messages.
    pub fn set_config(&mut self, cfg: DecoderConfig) {
        self.dec.set_config(cfg);
    }

    /// Changes the decompressed-size cap (e.g. after CONNECT).
    pub fn set_max_payload(&mut self, max_payload: usize) {
        self.max_payload = max_payload.max(1);
    }

    /// Unframes all of `input` (left untouched: payload is unmasked while it
    /// is copied, [`Decoder::decode_into`]): uncompressed payload bytes and
    /// inflated messages are appended to `nats`, pongs answering pings to
    /// `control` (masked with keys from `mask` in the client role).
    /// Compressed messages need `inflater`; their pieces are collected and
    /// inflated at the message's last frame.
    ///
    /// # Errors
    /// Every frame error of the decoder (answer with
    /// [`write_close_for_error`](super::codec::write_close_for_error)),
    /// [`Error::MaxPayloadExceeded`] / [`Error::CorruptDeflate`] from
    /// inflating (the bytes inflated before the cap are already in `nats`,
    /// as nats-server parses them), [`Error::ApiMisuse`] for a compressed
    /// message without `inflater`.
    pub fn read(
        &mut self,
        input: &[u8],
        nats: &mut Vec<u8>,
        control: &mut Vec<u8>,
        mut mask: super::codec::MaskSource<'_>,
        mut inflater: Option<&mut dyn InflateMessage>,
    ) -> Result<ReadStatus, Error> {
        let mut pos = 0;
        while pos < input.len() {
            let before = nats.len();
            let (n, ev) = self.dec.decode_into(&input[pos..], nats)?;
            pos += n;
            let Some(ev) = ev else { break };
            if self.binary_only && matches!(ev, Event::Data { text: true, .. }) {
                nats.truncate(before);
                return Err(Error::TextNotAllowed);
            }
            match ev {
                Event::Data {
                    compressed: false, ..
                } => {}
                Event::Data {
                    fin,
                    compressed: true,
                    text,
                    ..
                } => {
                    // The compressed piece went to `nats`; it belongs in
                    // `pending` until the message is complete.
                    self.pending.extend_from_slice(&nats[before..]);
                    nats.truncate(before);
                    if !fin {
                        continue;
                    }
                    let Some(inf) = inflater.as_deref_mut() else {
                        return Err(Error::ApiMisuse("compressed message without an inflater"));
                    };
                    let r = inf.inflate_message(&self.pending, self.max_payload, nats);
                    self.pending.clear();
                    if self.pending.capacity() > KEEP_PENDING {
                        self.pending = Vec::new();
                    }
                    r?;
                    if text
                        && self.dec.config().validate_utf8
                        && core::str::from_utf8(&nats[before..]).is_err()
                    {
                        return Err(Error::InvalidUtf8Text);
                    }
                }
                Event::Ping(p) => {
                    let key = mask.as_mut().map(|f| f());
                    write_pong(control, p, key)?;
                }
                Event::Pong(_) => {}
                Event::Close { code, reason } => {
                    return Ok(ReadStatus::Closed(CloseReply {
                        code,
                        reason: reason.into(),
                    }));
                }
            }
        }
        Ok(ReadStatus::Open)
    }
}
