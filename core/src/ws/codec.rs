//! The frame codec: a resumable, in-place-unmasking [`Decoder`] (RFC 6455
//! §5, spec §3.1–§3.5) and the frame encoders (spec §3.7–§3.8).
//!
//! # Decoding
//!
//! The caller owns the input buffer and passes it as `&mut [u8]`; payloads
//! are unmasked in place and come out as borrowed slices. The decoder
//! consumes every byte it is given (frame headers and control payloads that
//! straddle reads are kept inside it, at most 14 + 125 bytes), so after each
//! call the caller drops the consumed prefix and continues with the rest:
//!
//! ```
//! use natsws_core::ws::{Decoder, DecoderConfig, Event};
//! let mut dec = Decoder::new(DecoderConfig::server());
//! // Masked "Hello" from RFC 6455 §5.7.
//! let mut buf = *b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";
//! let mut pos = 0;
//! let mut stream = Vec::new();
//! while pos < buf.len() {
//!     let (n, ev) = dec.decode(&mut buf[pos..]).unwrap();
//!     pos += n;
//!     if let Some(Event::Data { payload, .. }) = ev {
//!         stream.extend_from_slice(payload); // the NATS byte stream
//!     }
//! }
//! assert_eq!(stream, b"Hello");
//! ```
//!
//! Data payload pieces are handed out as they arrive (a frame may span many
//! reads, one read may hold many frames); their concatenation is the NATS
//! byte stream (spec §4.1). Control frames are complete when reported.
//! Errors are sticky: after one, every call returns it again.

use alloc::string::ToString;
use alloc::vec::Vec;

use super::error::Error;
use super::frame::{
    CloseCode, ClosePayload, FrameHeader, OpCode, SendCloseCode, FIN, MASK, RSV1, RSV2, RSV3,
};
use super::mask::{apply_mask, unmask_into};
use super::utf8::Utf8Validator;
use super::{MAX_CONTROL_PAYLOAD, MAX_FRAME_HEADER};

/// Which end of the connection we are (RFC 6455 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// We accepted the connection: peers must mask (unless no-masking was
    /// agreed, spec §2.7) and we never mask.
    Server,
    /// We opened the connection: the server must not mask, we mask every
    /// frame (unless the server accepted no-masking).
    Client,
}

/// Settings of one connection's [`Decoder`].
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecoderConfig {
    /// Our role. Default [`Role::Server`].
    pub role: Role,
    /// Server role: `Nats-No-Masking: true` was accepted (spec §2.7), so
    /// unmasked frames are allowed. A frame that has the MASK bit anyway is
    /// still unmasked with its key (the spec's IMPL note: a compatible superset
    /// of Go, which would misparse it). Default false.
    pub no_masking: bool,
    /// permessage-deflate was negotiated, so RSV1 may be set on the first
    /// frame of a data message (RFC 7692 §6). Default false.
    pub compression: bool,
    /// Limit on one uncompressed message (sum of its frames), in bytes,
    /// checked against each frame header before any payload is taken.
    /// Default `u64::MAX`: nats-server has no such limit (spec §3.5; the NATS
    /// decoder enforces max_payload per PUB).
    pub max_message: u64,
    /// Limit on the compressed bytes of one compressed message plus the
    /// 9-byte inflate tail, in bytes (spec §3.5). Default
    /// [`compressed_limit(1 MiB)`](super::compressed_limit) = 8 MiB.
    pub max_compressed_message: u64,
    /// Validate text messages as UTF-8 across fragments and fail with 1007
    /// (RFC 6455 §8.1). Only applies to uncompressed text; compressed text is
    /// checked by the caller after inflating. Default false: nats-server treats
    /// text like binary (spec §3.1, §9.28).
    pub validate_utf8: bool,
}

impl DecoderConfig {
    /// Server-role defaults (documented on each field).
    pub fn server() -> Self {
        DecoderConfig {
            role: Role::Server,
            no_masking: false,
            compression: false,
            max_message: u64::MAX,
            max_compressed_message: super::compressed_limit(super::DEFAULT_MAX_PAYLOAD),
            validate_utf8: false,
        }
    }

    /// Client-role defaults: like [`server`](Self::server) with
    /// [`Role::Client`].
    pub fn client() -> Self {
        DecoderConfig {
            role: Role::Client,
            ..Self::server()
        }
    }
}

impl Default for DecoderConfig {
    fn default() -> Self {
        Self::server()
    }
}

/// One thing the decoder found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// A piece of a data message's payload, unmasked. `fin` is true on the
    /// last piece of the message (FIN frame, last byte). A zero-length frame
    /// yields one empty piece; otherwise pieces are never empty.
    Data {
        /// The payload bytes (still compressed if `compressed`).
        payload: &'a [u8],
        /// This piece ends the message.
        fin: bool,
        /// The message has RSV1 (permessage-deflate): collect the pieces and
        /// inflate at `fin` (spec §3.5).
        compressed: bool,
        /// The message is text (opcode 1); natsws treats it like binary.
        text: bool,
    },
    /// A ping: answer with [`write_pong`] echoing the payload (§5.5.2).
    Ping(&'a [u8]),
    /// A pong: nothing to do (spec §3.3).
    Pong(&'a [u8]),
    /// A close frame. `code` is `None` when the frame had no payload. Answer
    /// with [`write_close_reply`] (spec §3.3: echo), flush, close. The decoder
    /// ignores everything after it.
    Close {
        /// The status, validated (RFC 6455 §7.4).
        code: Option<CloseCode>,
        /// The reason, validated UTF-8.
        reason: &'a str,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Collecting a frame header into `hdr`.
    Header,
    /// Inside a data frame's payload.
    Data {
        remaining: u64,
        mask: Option<[u8; 4]>,
        pos: u8,
        fin: bool,
    },
    /// Collecting a control frame's payload into `ctrl`.
    Control {
        opcode: OpCode,
        len: u8,
        mask: Option<[u8; 4]>,
    },
    /// A close frame was received; input is ignored.
    Closed,
    /// A fatal error; returned again on every call.
    Failed(Error),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Message {
    compressed: bool,
    text: bool,
    size: u64,
}

/// A data piece's masking key and the key position its first byte has.
type PieceMask = ([u8; 4], u8);

enum Ready {
    NeedMore,
    /// `input[start..start + len]` is payload, still masked with `mask`
    /// (key, key position) when that is set; the caller unmasks it (in place
    /// or while copying) and then runs [`Decoder::check_text`] on it.
    Data {
        start: usize,
        len: usize,
        fin: bool,
        mask: Option<PieceMask>,
    },
    Control(OpCode, usize),
}

impl Ready {
    /// A data piece's `(start, len, fin, mask)`.
    fn data(&self) -> Option<(usize, usize, bool, Option<PieceMask>)> {
        match *self {
            Ready::Data {
                start,
                len,
                fin,
                mask,
            } => Some((start, len, fin, mask)),
            _ => None,
        }
    }
}

/// Resumable frame decoder for one connection (RFC 6455 §5.2, spec §3.1).
///
/// Header checks run in the spec's order (§3.1): RSV2/RSV3, RSV1 without
/// negotiation, MASK, then per opcode (control ≤ 125 bytes, FIN, no RSV1;
/// data while a message is open; continuation without one; unknown opcodes),
/// then the 64-bit length's top bit and the message limits — all before any
/// payload byte is taken. Control frames may sit between fragments (§5.4).
#[derive(Debug, Clone)]
pub struct Decoder {
    cfg: DecoderConfig,
    state: State,
    hdr: [u8; MAX_FRAME_HEADER],
    hdr_len: u8,
    /// A control frame's payload (at most [`MAX_CONTROL_PAYLOAD`] bytes),
    /// unmasked once complete. Allocated for a control frame and given
    /// back at the next data frame, so an idle connection holds none (it
    /// was a 125-byte array in every connection's decoder).
    ctrl: Vec<u8>,
    msg: Option<Message>,
    utf8: Utf8Validator,
}

impl Decoder {
    /// A decoder at the start of a connection's frame stream.
    pub fn new(cfg: DecoderConfig) -> Self {
        Decoder {
            cfg,
            state: State::Header,
            hdr: [0; MAX_FRAME_HEADER],
            hdr_len: 0,
            ctrl: Vec::new(),
            msg: None,
            utf8: Utf8Validator::new(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &DecoderConfig {
        &self.cfg
    }

    /// Changes the settings between messages (e.g. a new max payload).
    pub fn set_config(&mut self, cfg: DecoderConfig) {
        self.cfg = cfg;
    }

    /// A close frame has been received; all later input is ignored.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// The sticky error, if decoding failed.
    pub fn error(&self) -> Option<&Error> {
        match &self.state {
            State::Failed(e) => Some(e),
            _ => None,
        }
    }

    /// Decodes from `input` (every byte not yet consumed), unmasking payload
    /// in place. Returns `(consumed, event)`: the first `consumed` bytes are
    /// done with (headers and control payloads are buffered inside the
    /// decoder). With `None` the whole input was consumed and more is needed;
    /// with `Some` call again with `&mut input[consumed..]` while it is
    /// non-empty. `consumed ≤ input.len()` always.
    ///
    /// # Errors
    /// Any frame error of [`Error`] (close 1002/1007/1009); sticky.
    pub fn decode<'a>(
        &'a mut self,
        input: &'a mut [u8],
    ) -> Result<(usize, Option<Event<'a>>), Error> {
        let (consumed, ready) = self.step_checked(input)?;
        if let Some((start, len, fin, mask)) = ready.data() {
            let chunk = &mut input[start..start + len];
            if let Some((key, pos)) = mask {
                apply_mask(chunk, key, pos as usize);
            }
            self.text_checked(chunk, fin)?;
        }
        Ok((consumed, self.event(input, ready)))
    }

    /// Like [`decode`](Self::decode), but `input` stays untouched: a data
    /// piece is unmasked while it is appended to `out` (one pass over the
    /// payload instead of an in-place unmask followed by a copy), and the
    /// event's `payload` is that appended tail of `out`. Control frames are
    /// buffered inside the decoder as with `decode`. This is the server's
    /// read path: socket bytes → NATS bytes in the session's buffer.
    ///
    /// # Errors
    /// As [`decode`](Self::decode); on error nothing of the failing piece
    /// is left in `out` past what was there before the call.
    pub fn decode_into<'a>(
        &'a mut self,
        input: &'a [u8],
        out: &'a mut Vec<u8>,
    ) -> Result<(usize, Option<Event<'a>>), Error> {
        let (consumed, ready) = self.step_checked(input)?;
        if let Some((start, len, fin, mask)) = ready.data() {
            let before = out.len();
            let src = &input[start..start + len];
            match mask {
                Some((key, pos)) => {
                    unmask_into(out, src, key, pos as usize);
                }
                None => out.extend_from_slice(src),
            }
            if let Err(e) = self.text_checked(&out[before..], fin) {
                out.truncate(before);
                return Err(e);
            }
            let ready = Ready::Data {
                start: before,
                len,
                fin,
                mask: None,
            };
            return Ok((consumed, self.event(out, ready)));
        }
        Ok((consumed, self.event(input, ready)))
    }

    /// [`step`](Self::step), making an error sticky.
    fn step_checked(&mut self, input: &[u8]) -> Result<(usize, Ready), Error> {
        self.step(input)
            .inspect_err(|e| self.state = State::Failed(e.clone()))
    }

    /// [`check_text`](Self::check_text) on an unmasked data piece, making
    /// an error sticky.
    fn text_checked(&mut self, chunk: &[u8], fin: bool) -> Result<(), Error> {
        self.check_text(chunk, fin)
            .inspect_err(|e| self.state = State::Failed(e.clone()))
    }

    /// The event for `ready`; a data piece's bytes are
    /// `data[start..start + len]`, already unmasked and checked.
    fn event<'a>(&'a mut self, data: &'a [u8], ready: Ready) -> Option<Event<'a>> {
        match ready {
            Ready::NeedMore => None,
            Ready::Data {
                start, len, fin, ..
            } => {
                let msg = self.msg.unwrap_or(Message {
                    compressed: false,
                    text: false,
                    size: 0,
                });
                if fin {
                    self.msg = None;
                }
                Some(Event::Data {
                    payload: &data[start..start + len],
                    fin,
                    compressed: msg.compressed,
                    text: msg.text,
                })
            }
            Ready::Control(op, len) => {
                let this: &'a Decoder = self;
                let p = &this.ctrl[..len];
                Some(match op {
                    OpCode::PING => Event::Ping(p),
                    OpCode::PONG => Event::Pong(p),
                    _ => {
                        // Validated in `finish_control`.
                        let reason =
                            core::str::from_utf8(p.get(2..).unwrap_or(&[])).unwrap_or_default();
                        let code = (len >= 2).then(|| CloseCode(u16::from_be_bytes([p[0], p[1]])));
                        Event::Close { code, reason }
                    }
                })
            }
        }
    }

    fn step(&mut self, input: &[u8]) -> Result<(usize, Ready), Error> {
        let mut pos = 0;
        loop {
            match &mut self.state {
                State::Failed(e) => return Err(e.clone()),
                State::Closed => return Ok((input.len(), Ready::NeedMore)),
                State::Header => {
                    if pos == input.len() {
                        return Ok((pos, Ready::NeedMore));
                    }
                    // Fast path: a whole header at the start of `input`
                    // (the common case) is taken in one go; the checks run
                    // in the same order as byte by byte.
                    if self.hdr_len == 0 {
                        if let Some(n) = full_header_len(&input[pos..]) {
                            let h = &input[pos..pos + n];
                            self.check_first_byte(h[0])?;
                            self.check_second_byte(h[0], h[1])?;
                            let (len, mask) = parse_len_mask(h)?;
                            let b0 = h[0];
                            pos += n;
                            let avail = input.len() - pos;
                            if let Some(mut r) = self.start_frame(b0, len, mask, avail)? {
                                if let Ready::Data { start, len, .. } = &mut r {
                                    *start = pos;
                                    pos += *len;
                                }
                                return Ok((pos, r));
                            }
                            continue;
                        }
                    }
                    pos += self.header_byte(input[pos])?;
                    if let Some(r) = self.after_header()? {
                        return Ok((pos, r));
                    }
                }
                State::Data {
                    remaining,
                    mask,
                    pos: mpos,
                    fin,
                } => {
                    let avail = input.len() - pos;
                    if avail == 0 {
                        return Ok((pos, Ready::NeedMore));
                    }
                    let n = (*remaining).min(avail as u64) as usize;
                    // The caller unmasks (in place or while copying); the
                    // key position moves on here.
                    let piece_mask = mask.map(|key| (key, *mpos));
                    *mpos = ((*mpos as usize + n) & 3) as u8;
                    *remaining -= n as u64;
                    let last = *remaining == 0;
                    let msg_fin = last && *fin;
                    if last {
                        self.state = State::Header;
                    }
                    return Ok((
                        pos + n,
                        Ready::Data {
                            start: pos,
                            len: n,
                            fin: msg_fin,
                            mask: piece_mask,
                        },
                    ));
                }
                State::Control { opcode, len, mask } => {
                    let (op, len, mask) = (*opcode, *len as usize, *mask);
                    let have = self.ctrl.len();
                    let n = (len - have).min(input.len() - pos);
                    self.ctrl.extend_from_slice(&input[pos..pos + n]);
                    pos += n;
                    if self.ctrl.len() < len {
                        return Ok((pos, Ready::NeedMore));
                    }
                    if let Some(key) = mask {
                        apply_mask(&mut self.ctrl[..len], key, 0);
                    }
                    self.finish_control(op, len)?;
                    return Ok((pos, Ready::Control(op, len)));
                }
            }
        }
    }

    /// Takes one header byte; runs the checks that this byte completes.
    /// Returns 1 (bytes used).
    fn header_byte(&mut self, b: u8) -> Result<usize, Error> {
        let i = self.hdr_len as usize;
        self.hdr[i] = b;
        self.hdr_len += 1;
        match i {
            0 => self.check_first_byte(b)?,
            1 => self.check_second_byte(self.hdr[0], b)?,
            _ => {}
        }
        Ok(1)
    }

    #[inline(always)]
    fn check_first_byte(&self, b: u8) -> Result<(), Error> {
        // RFC 6455 §5.2: "RSV1, RSV2, RSV3: MUST be 0 unless an
        // extension is negotiated that defines meanings".
        if b & (RSV2 | RSV3) != 0 {
            return Err(Error::ReservedBits);
        }
        if b & RSV1 != 0 && !self.cfg.compression {
            return Err(Error::CompressedWithoutNegotiation);
        }
        Ok(())
    }

    fn masked(&self) -> bool {
        self.hdr[1] & MASK != 0
    }

    fn header_len(&self) -> usize {
        let ext = match self.hdr[1] & 0x7f {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        2 + ext + if self.masked() { 4 } else { 0 }
    }

    #[inline(always)]
    fn check_second_byte(&self, b0: u8, b1: u8) -> Result<(), Error> {
        let masked = b1 & MASK != 0;
        match self.cfg.role {
            // §5.1: "The server MUST close the connection upon receiving a
            // frame that is not masked."
            Role::Server if !masked && !self.cfg.no_masking => return Err(Error::MaskBitMissing),
            // §5.1: "A client MUST close a connection if it detects a masked
            // frame."
            Role::Client if masked => return Err(Error::MaskedFrameFromServer),
            _ => {}
        }
        let op = OpCode(b0 & 0x0f);
        let fin = b0 & FIN != 0;
        let rsv1 = b0 & RSV1 != 0;
        match op {
            OpCode::CLOSE | OpCode::PING | OpCode::PONG => {
                // §5.5: "All control frames MUST have a payload length of 125
                // bytes or less and MUST NOT be fragmented."
                if b1 & 0x7f > 125 {
                    return Err(Error::ControlFrameTooLong);
                }
                if !fin {
                    return Err(Error::ControlFrameNotFinal);
                }
                if rsv1 {
                    return Err(Error::ControlFrameCompressed);
                }
            }
            OpCode::TEXT | OpCode::BINARY => {
                if self.msg.is_some() {
                    return Err(Error::NewMessageBeforeFinal);
                }
            }
            OpCode::CONTINUATION => {
                if self.msg.is_none() || rsv1 {
                    return Err(Error::InvalidContinuation);
                }
            }
            OpCode(n) => return Err(Error::UnknownOpcode(n)),
        }
        Ok(())
    }

    /// When the header is complete: length checks, limits, next state.
    fn after_header(&mut self) -> Result<Option<Ready>, Error> {
        let have = self.hdr_len as usize;
        if have < 2 || have < self.header_len() {
            // The 64-bit length's top bit is checked as soon as it arrives.
            if have == 3 && self.hdr[1] & 0x7f == 127 && self.hdr[2] & 0x80 != 0 {
                return Err(Error::Invalid64BitLength);
            }
            return Ok(None);
        }
        let h = self.hdr;
        self.hdr_len = 0;
        let (len, mask) = parse_len_mask(&h[..have])?;
        self.start_frame(h[0], len, mask, 0)
    }

    /// A complete, checked header: limits, next state. `avail` is how many
    /// payload bytes follow the header in the caller's input: when the
    /// whole payload of a data frame is there (the common case), the frame
    /// is returned at once as [`Ready::Data`] (the caller consumes header
    /// and payload) without passing through [`State::Data`].
    #[inline(always)]
    fn start_frame(
        &mut self,
        b0: u8,
        len: u64,
        mask: Option<[u8; 4]>,
        avail: usize,
    ) -> Result<Option<Ready>, Error> {
        let fin = b0 & FIN != 0;
        let rsv1 = b0 & RSV1 != 0;
        let op = OpCode(b0 & 0x0f);
        if op.is_control() {
            self.ctrl.clear();
            self.ctrl.reserve_exact(len as usize);
            self.state = State::Control {
                opcode: op,
                len: len as u8,
                mask,
            };
            if len == 0 {
                self.finish_control(op, 0)?;
                return Ok(Some(Ready::Control(op, 0)));
            }
            return Ok(None);
        }
        if self.ctrl.capacity() != 0 {
            self.ctrl = Vec::new();
        }
        let msg = self.msg.get_or_insert(Message {
            compressed: rsv1,
            text: op == OpCode::TEXT,
            size: 0,
        });
        msg.size = msg.size.saturating_add(len);
        if msg.compressed {
            let total = msg.size.saturating_add(super::INFLATE_TAIL.len() as u64);
            if total > self.cfg.max_compressed_message {
                return Err(Error::MaxPayloadExceeded);
            }
        } else if msg.size > self.cfg.max_message {
            return Err(Error::MessageTooBig {
                size: msg.size,
                max: self.cfg.max_message,
            });
        }
        if len == 0 {
            self.state = State::Header;
            return Ok(Some(Ready::Data {
                start: 0,
                len: 0,
                fin,
                mask: None,
            }));
        }
        if len <= avail as u64 {
            // Still State::Header: the next byte after the payload is the
            // next frame's header.
            return Ok(Some(Ready::Data {
                start: 0, // set by the caller
                len: len as usize,
                fin,
                mask: mask.map(|k| (k, 0)),
            }));
        }
        self.state = State::Data {
            remaining: len,
            mask,
            pos: 0,
            fin,
        };
        Ok(None)
    }

    fn check_text(&mut self, chunk: &[u8], msg_fin: bool) -> Result<(), Error> {
        let Some(m) = self.msg else { return Ok(()) };
        if !(self.cfg.validate_utf8 && m.text && !m.compressed) {
            return Ok(());
        }
        self.utf8.feed(chunk).map_err(|_| Error::InvalidUtf8Text)?;
        if msg_fin {
            self.utf8.finish().map_err(|_| Error::InvalidUtf8Text)?;
        }
        Ok(())
    }

    /// Validates a complete control payload (RFC 6455 §5.5.1, §7.4).
    fn finish_control(&mut self, op: OpCode, len: usize) -> Result<(), Error> {
        self.state = State::Header;
        if op == OpCode::CLOSE {
            // §5.5.1: "If there is a body, the first two bytes of the body
            // MUST be a 2-byte unsigned integer ... representing a status code".
            if len == 1 {
                return Err(Error::CloseFramePayloadOneByte);
            }
            if len >= 2 {
                let code = u16::from_be_bytes([self.ctrl[0], self.ctrl[1]]);
                if !CloseCode(code).is_valid_received() {
                    return Err(Error::InvalidCloseCode(code));
                }
                if core::str::from_utf8(&self.ctrl[2..len]).is_err() {
                    return Err(Error::InvalidCloseReasonUtf8);
                }
            }
            self.state = State::Closed;
        }
        Ok(())
    }
}

/// Payload length and masking key of a complete header `h` (RFC 6455
/// §5.2). The 64-bit length's top bit must be 0.
#[inline(always)]
fn parse_len_mask(h: &[u8]) -> Result<(u64, Option<[u8; 4]>), Error> {
    let (len, at) = match h[1] & 0x7f {
        126 => (u64::from(u16::from_be_bytes([h[2], h[3]])), 4),
        127 => {
            let l = u64::from_be_bytes([h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9]]);
            if l >> 63 != 0 {
                return Err(Error::Invalid64BitLength);
            }
            (l, 10)
        }
        l => (u64::from(l), 2),
    };
    let mask = if h[1] & MASK != 0 {
        let k = &h[at..at + 4];
        Some([k[0], k[1], k[2], k[3]])
    } else {
        None
    };
    Ok((len, mask))
}

/// Length of the frame header at the start of `b` if all of it is there
/// (2 + 0/2/8 length bytes + 0/4 mask bytes, RFC 6455 §5.2).
#[inline(always)]
fn full_header_len(b: &[u8]) -> Option<usize> {
    let b1 = *b.get(1)?;
    let ext = match b1 & 0x7f {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    let n = 2 + ext + if b1 & MASK != 0 { 4 } else { 0 };
    (b.len() >= n).then_some(n)
}

/// The close handshake (RFC 6455 §7.1.2–§7.1.4), named after what each state
/// waits for. Only one close frame is ever sent per connection (spec §3.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CloseState {
    /// Neither side has sent a close frame.
    #[default]
    Open,
    /// We sent a close frame and wait for the peer's.
    ClosingByUs,
    /// The peer sent a close frame; we must answer it.
    ClosingByPeer,
    /// Both close frames have been exchanged.
    Closed,
}

impl CloseState {
    /// We may still send a close frame.
    pub fn can_send_close(self) -> bool {
        matches!(self, CloseState::Open | CloseState::ClosingByPeer)
    }

    /// The peer may still send frames we should read.
    pub fn can_read(self) -> bool {
        matches!(self, CloseState::Open | CloseState::ClosingByUs)
    }

    /// After we sent a close frame.
    pub fn close_sent(self) -> Self {
        match self {
            CloseState::Open => CloseState::ClosingByUs,
            CloseState::ClosingByPeer | CloseState::Closed => CloseState::Closed,
            s => s,
        }
    }

    /// After the peer's close frame arrived.
    pub fn close_received(self) -> Self {
        match self {
            CloseState::Open => CloseState::ClosingByPeer,
            CloseState::ClosingByUs | CloseState::Closed => CloseState::Closed,
            s => s,
        }
    }
}

// ---------------------------------------------------------------- encoding

fn write_frame_inner(
    out: &mut Vec<u8>,
    opcode: OpCode,
    fin: bool,
    rsv1: bool,
    payload: &[u8],
    mask: Option<[u8; 4]>,
) {
    let h = FrameHeader {
        fin,
        rsv1,
        opcode,
        len: payload.len() as u64,
        mask,
    };
    out.reserve(MAX_FRAME_HEADER + payload.len());
    h.write(out);
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = mask {
        apply_mask(&mut out[start..], key, 0);
    }
}

/// Appends one data frame (opcode text, binary or continuation) holding
/// `payload`. `mask`: `None` in the server role, a fresh random key per frame
/// in the client role (RFC 6455 §5.3; core has no randomness, the caller
/// provides it).
///
/// # Errors
/// [`Error::ApiMisuse`] for a control opcode (use the control writers).
pub fn write_frame(
    out: &mut Vec<u8>,
    opcode: OpCode,
    fin: bool,
    rsv1: bool,
    payload: &[u8],
    mask: Option<[u8; 4]>,
) -> Result<(), Error> {
    if !opcode.is_data() {
        return Err(Error::ApiMisuse("write_frame needs a data opcode"));
    }
    write_frame_inner(out, opcode, fin, rsv1, payload, mask);
    Ok(())
}

fn write_control(
    out: &mut Vec<u8>,
    op: OpCode,
    payload: &[u8],
    mask: Option<[u8; 4]>,
) -> Result<(), Error> {
    if payload.len() > MAX_CONTROL_PAYLOAD {
        return Err(Error::ApiMisuse("control frame payload above 125 bytes"));
    }
    write_frame_inner(out, op, true, false, payload, mask);
    Ok(())
}

/// Appends a ping frame (§5.5.2).
///
/// # Errors
/// [`Error::ApiMisuse`] if `payload` is above 125 bytes.
pub fn write_ping(out: &mut Vec<u8>, payload: &[u8], mask: Option<[u8; 4]>) -> Result<(), Error> {
    write_control(out, OpCode::PING, payload, mask)
}

/// Appends a pong frame (§5.5.3), e.g. echoing a ping's payload (spec §3.3).
///
/// # Errors
/// [`Error::ApiMisuse`] if `payload` is above 125 bytes (never for an echo
/// of a decoded ping).
pub fn write_pong(out: &mut Vec<u8>, payload: &[u8], mask: Option<[u8; 4]>) -> Result<(), Error> {
    write_control(out, OpCode::PONG, payload, mask)
}

/// Appends a close frame with `code` and `reason` (reason truncated as in
/// [`ClosePayload::new`], spec §3.7).
pub fn write_close(out: &mut Vec<u8>, code: SendCloseCode, reason: &str, mask: Option<[u8; 4]>) {
    let p = ClosePayload::new(code, reason);
    write_frame_inner(out, OpCode::CLOSE, true, false, p.as_bytes(), mask);
}

/// Appends a close frame without payload (the reply to a close without
/// status, spec §3.3).
pub fn write_close_empty(out: &mut Vec<u8>, mask: Option<[u8; 4]>) {
    write_frame_inner(out, OpCode::CLOSE, true, false, &[], mask);
}

/// Appends the reply to a received [`Event::Close`]: the same status and
/// reason, or an empty close if it had no status (spec §3.3). A code that is
/// not sendable (impossible after decoding) is answered with 1002.
pub fn write_close_reply(
    out: &mut Vec<u8>,
    code: Option<CloseCode>,
    reason: &str,
    mask: Option<[u8; 4]>,
) {
    match code {
        None => write_close_empty(out, mask),
        Some(c) => match c.to_sendable() {
            Some(s) => write_close(out, s, reason, mask),
            None => write_close(out, SendCloseCode::PROTOCOL_ERROR, reason, mask),
        },
    }
}

/// Appends the close frame that answers a frame-level [`Error`]: its close
/// code and its text as reason (spec §3.6; for invalid close reasons the
/// 1007 `invalid utf8 body in close frame` of §3.3). Writes nothing and
/// returns false for errors whose reaction is not a close frame.
pub fn write_close_for_error(out: &mut Vec<u8>, err: &Error, mask: Option<[u8; 4]>) -> bool {
    let Some(code) = err.close_code().and_then(CloseCode::to_sendable) else {
        return false;
    };
    write_close(out, code, &err.to_string(), mask);
    true
}

/// How outbound data is cut into frames (spec §3.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framing {
    /// `None`: one frame per batch, however large (non-browser peers).
    /// `Some(n)`: independent FIN frames of at most `n` bytes (browsers,
    /// `n` = [`BROWSER_FRAME_SIZE`](super::BROWSER_FRAME_SIZE)).
    pub max_frame: Option<usize>,
}

impl Framing {
    /// One frame per batch.
    pub const SINGLE: Framing = Framing { max_frame: None };
    /// Frames of at most 4096 bytes (spec §3.8 mode 2).
    pub const BROWSER: Framing = Framing {
        max_frame: Some(super::BROWSER_FRAME_SIZE),
    };

    /// [`BROWSER`](Self::BROWSER) if the peer is a browser (spec §2.9: the
    /// User-Agent starts with `Mozilla/`), else [`SINGLE`](Self::SINGLE).
    pub fn for_peer(browser: bool) -> Self {
        if browser {
            Self::BROWSER
        } else {
            Self::SINGLE
        }
    }
}

/// Source of masking keys for frames we send in the client role: called once
/// per frame. `None` in the server role.
pub type MaskSource<'m> = Option<&'m mut dyn FnMut() -> [u8; 4]>;

/// Frames a whole outbound batch (all NATS output since the last flush) as
/// binary data frames appended to `out` (spec §3.8 modes 1 and 2). An empty
/// batch writes nothing.
pub fn frame_batch(payload: &[u8], out: &mut Vec<u8>, framing: Framing, mask: MaskSource<'_>) {
    let fits = framing
        .max_frame
        .filter(|&m| m > 0)
        .is_none_or(|m| payload.len() <= m);
    if fits && mask.is_none() && !payload.is_empty() {
        // Fast path (the server role's usual case): one unmasked frame.
        out.reserve(MAX_FRAME_HEADER + payload.len());
        FrameHeader {
            fin: true,
            rsv1: false,
            opcode: OpCode::BINARY,
            len: payload.len() as u64,
            mask: None,
        }
        .write(out);
        out.extend_from_slice(payload);
        return;
    }
    frame_buffers(&[payload], out, framing, mask);
}

/// Like [`frame_batch`] for a batch held in several buffers, cut exactly as
/// nats-server does (spec §3.8 mode 2, TestWSFrameOutbound): buffers are
/// packed into the current frame while they fit; a buffer that does not fit
/// ends the current frame and is split into `max_frame` pieces whose last
/// partial piece stays open for the following buffers. Every frame is an
/// independent FIN binary frame (not a continuation).
pub fn frame_buffers(
    bufs: &[&[u8]],
    out: &mut Vec<u8>,
    framing: Framing,
    mut mask: MaskSource<'_>,
) {
    let total: usize = bufs.iter().map(|b| b.len()).sum();
    if total == 0 {
        return;
    }
    let mut cursor = Cursor {
        bufs,
        idx: 0,
        off: 0,
    };
    let Some(mfs) = framing.max_frame.filter(|&m| m > 0) else {
        emit_frame(out, &mut cursor, total, &mut mask);
        return;
    };
    let mut cur = 0usize; // bytes in the open frame
    for b in bufs {
        let mut rem = b.len();
        if cur + rem <= mfs {
            cur += rem;
            continue;
        }
        while rem > 0 {
            if cur != 0 {
                emit_frame(out, &mut cursor, cur, &mut mask);
            }
            cur = rem.min(mfs);
            rem -= cur;
        }
    }
    if cur > 0 {
        emit_frame(out, &mut cursor, cur, &mut mask);
    }
}

struct Cursor<'b> {
    bufs: &'b [&'b [u8]],
    idx: usize,
    off: usize,
}

fn emit_frame(out: &mut Vec<u8>, cur: &mut Cursor<'_>, len: usize, mask: &mut MaskSource<'_>) {
    let key = mask.as_mut().map(|f| f());
    FrameHeader {
        fin: true,
        rsv1: false,
        opcode: OpCode::BINARY,
        len: len as u64,
        mask: key,
    }
    .write(out);
    out.reserve(len);
    let start = out.len();
    let mut need = len;
    while need > 0 {
        let b = cur.bufs[cur.idx];
        let n = (b.len() - cur.off).min(need);
        out.extend_from_slice(&b[cur.off..cur.off + n]);
        cur.off += n;
        need -= n;
        if cur.off == b.len() {
            cur.idx += 1;
            cur.off = 0;
        }
    }
    if let Some(k) = key {
        apply_mask(&mut out[start..], k, 0);
    }
}
