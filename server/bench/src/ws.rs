//! WebSocket client side (RFC 6455; websocket.md §2.8 and §3): the upgrade
//! request and 101 check, masked client frames, and a streaming decoder of
//! server frames. No extension is offered, so compressed frames are errors.

use core::fmt;

use base64::Engine as _;
use sha1::{Digest as _, Sha1};

/// Continuation frame opcode (RFC 6455 §5.2).
pub(crate) const OP_CONT: u8 = 0x0;
/// Text frame opcode.
pub(crate) const OP_TEXT: u8 = 0x1;
/// Binary frame opcode (the only one the bench sends for data).
pub(crate) const OP_BINARY: u8 = 0x2;
/// Close frame opcode.
pub(crate) const OP_CLOSE: u8 = 0x8;
/// Ping frame opcode.
pub(crate) const OP_PING: u8 = 0x9;
/// Pong frame opcode.
pub(crate) const OP_PONG: u8 = 0xA;

/// RSV1 bit of the first header byte: set on the first frame of a
/// permessage-deflate compressed message (RFC 7692 §6).
pub(crate) const RSV1: u8 = 0x40;

/// The extension offer (and the server's fixed answer, websocket.md §2.6).
const DEFLATE_OFFER: &str =
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover";

/// Compressed payload of one message is capped here before inflating, and
/// so is its inflated size, in bytes.
const MAX_INFLATED: usize = 64 * 1024 * 1024;

/// Largest frame header: 2 bytes + 8-byte length + 4-byte masking key.
pub(crate) const MAX_HEADER: usize = 14;

const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// A bad frame or handshake from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WsError(pub(crate) String);

impl fmt::Display for WsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "websocket: {}", self.0)
    }
}

impl core::error::Error for WsError {}

/// XORs `buf` with the 4-byte masking `key` (RFC 6455 §5.3), starting at key
/// position 0. Works 8 bytes at a time; applying it twice restores the input.
pub(crate) fn mask(buf: &mut [u8], key: [u8; 4]) {
    let k = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut chunks = buf.chunks_exact_mut(8);
    for c in &mut chunks {
        let v = u64::from_ne_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) ^ k;
        c.copy_from_slice(&v.to_ne_bytes());
    }
    // Whole 8-byte chunks keep the key phase at 0 for the tail.
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= key[i & 3];
    }
}

/// XORs `buf` with `key` where `buf[0]` is at key position `phase` (0..4).
fn mask_from(buf: &mut [u8], key: [u8; 4], phase: usize) {
    let rotated = [
        key[phase & 3],
        key[(phase + 1) & 3],
        key[(phase + 2) & 3],
        key[(phase + 3) & 3],
    ];
    mask(buf, rotated);
}

/// Writes a FIN frame header for `len` payload bytes into the end of `out`
/// and returns how many bytes it used (2 to 14); the header occupies
/// `out[MAX_HEADER - n..]`, so a payload placed right after `out` follows it.
/// `opcode` may carry [`RSV1`]. With `key`, the MASK bit is set and the key
/// is written.
pub(crate) fn header_into(
    out: &mut [u8; MAX_HEADER],
    opcode: u8,
    len: usize,
    key: Option<[u8; 4]>,
) -> usize {
    let mut h = [0u8; MAX_HEADER];
    h[0] = 0x80 | opcode;
    let mask_bit = if key.is_some() { 0x80 } else { 0 };
    let mut n = if len < 126 {
        h[1] = mask_bit | len as u8;
        2
    } else if len <= 0xFFFF {
        h[1] = mask_bit | 126;
        h[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        4
    } else {
        h[1] = mask_bit | 127;
        h[2..10].copy_from_slice(&(len as u64).to_be_bytes());
        10
    };
    if let Some(k) = key {
        h[n..n + 4].copy_from_slice(&k);
        n += 4;
    }
    out[MAX_HEADER - n..].copy_from_slice(&h[..n]);
    n
}

/// Appends one complete masked FIN frame carrying `payload` to `out`.
pub(crate) fn push_masked_frame(out: &mut Vec<u8>, opcode: u8, payload: &[u8], key: [u8; 4]) {
    let mut h = [0u8; MAX_HEADER];
    let n = header_into(&mut h, opcode, payload.len(), Some(key));
    out.extend_from_slice(&h[MAX_HEADER - n..]);
    let start = out.len();
    out.extend_from_slice(payload);
    mask(&mut out[start..], key);
}

/// The `Sec-WebSocket-Accept` value for a request key (RFC 6455 §4.2.2).
pub(crate) fn accept_key(key_b64: &str) -> String {
    let mut h = Sha1::new();
    h.update(key_b64.as_bytes());
    h.update(GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}

/// A fresh random `Sec-WebSocket-Key` (16 random bytes, base64).
pub(crate) fn new_key(rng: &mut fastrand::Rng) -> String {
    let mut k = [0u8; 16];
    rng.fill(&mut k);
    base64::engine::general_purpose::STANDARD.encode(k)
}

/// The HTTP/1.1 upgrade request (websocket.md §2.3 checks it passes);
/// with `compress`, permessage-deflate is offered.
pub(crate) fn upgrade_request(host: &str, path: &str, key_b64: &str, compress: bool) -> String {
    let ext = if compress {
        format!("Sec-WebSocket-Extensions: {DEFLATE_OFFER}\r\n")
    } else {
        String::new()
    };
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key_b64}\r\nSec-WebSocket-Version: 13\r\n{ext}\r\n"
    )
}

/// Length of the HTTP response head including the blank line, if complete.
pub(crate) fn head_len(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// Checks a complete response head: status 101, `Upgrade: websocket`, and
/// the right `Sec-WebSocket-Accept`. An extension is accepted only if
/// `offered_deflate` and it is permessage-deflate; returns whether
/// compression was negotiated.
pub(crate) fn check_response(
    head: &[u8],
    key_b64: &str,
    offered_deflate: bool,
) -> Result<bool, WsError> {
    let text = core::str::from_utf8(head).map_err(|_| WsError("non-UTF-8 response".into()))?;
    let mut lines = text.split("\r\n");
    let status = lines.next().unwrap_or("");
    let mut parts = status.split(' ');
    let version = parts.next().unwrap_or("");
    let code = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") || code != "101" {
        return Err(WsError(format!("upgrade refused: {status:?}")));
    }
    let want = accept_key(key_b64);
    let (mut upgrade, mut accept, mut deflate) = (false, false, false);
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("upgrade") {
            upgrade = value.eq_ignore_ascii_case("websocket");
        } else if name.eq_ignore_ascii_case("sec-websocket-accept") {
            accept = value == want;
            if !accept {
                return Err(WsError(format!("bad Sec-WebSocket-Accept {value:?}")));
            }
        } else if name.eq_ignore_ascii_case("sec-websocket-extensions") {
            let is_deflate = value
                .split(';')
                .next()
                .is_some_and(|e| e.trim().eq_ignore_ascii_case("permessage-deflate"));
            if !offered_deflate || !is_deflate {
                return Err(WsError(format!("unrequested extension {value:?}")));
            }
            deflate = true;
        }
    }
    if !upgrade {
        return Err(WsError("missing Upgrade: websocket".into()));
    }
    if !accept {
        return Err(WsError("missing Sec-WebSocket-Accept".into()));
    }
    Ok(deflate)
}

/// Compresses one message for permessage-deflate without context takeover:
/// raw deflate, sync flush, the trailing `00 00 ff ff` removed (RFC 7692
/// §7.2.1).
pub(crate) fn deflate_message(data: &[u8]) -> Vec<u8> {
    let mut z = flate2::Compress::new(flate2::Compression::fast(), false);
    let mut out = Vec::with_capacity(data.len() / 2 + 64);
    let mut pos = 0;
    loop {
        if out.capacity() - out.len() < 1024 {
            out.reserve(out.capacity().max(4096));
        }
        let before = z.total_in();
        // Only a buffer error is possible here, and the loop grows the
        // buffer, so the status is not needed.
        let _ = z.compress_vec(&data[pos..], &mut out, flate2::FlushCompress::Sync);
        pos += (z.total_in() - before) as usize;
        if pos == data.len() && out.capacity() - out.len() >= 1024 {
            break;
        }
    }
    if out.ends_with(&[0, 0, 0xff, 0xff]) {
        out.truncate(out.len() - 4);
    }
    out
}

/// Inflater state for compressed server messages (no context takeover:
/// reset for every message).
struct Inflate {
    z: flate2::Decompress,
    input: Vec<u8>,
    output: Vec<u8>,
}

impl fmt::Debug for Inflate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inflate")
            .field("buffered", &self.input.len())
            .finish()
    }
}

impl Inflate {
    /// Inflates the buffered compressed message into `output`.
    fn finish(&mut self) -> Result<&[u8], WsError> {
        self.input.extend_from_slice(&[0, 0, 0xff, 0xff]);
        self.z.reset(false);
        self.output.clear();
        let mut pos = 0;
        loop {
            if self.output.capacity() - self.output.len() < 16 * 1024 {
                self.output.reserve(self.output.capacity().max(64 * 1024));
            }
            let (in0, out0) = (self.z.total_in(), self.z.total_out());
            let st = self
                .z
                .decompress_vec(
                    &self.input[pos..],
                    &mut self.output,
                    flate2::FlushDecompress::Sync,
                )
                .map_err(|e| WsError(format!("inflate: {e}")))?;
            pos += (self.z.total_in() - in0) as usize;
            if self.output.len() > MAX_INFLATED {
                return Err(WsError("inflated message too large".into()));
            }
            let full = self.output.capacity() - self.output.len() < 16 * 1024;
            if st == flate2::Status::StreamEnd || (pos == self.input.len() && !full) {
                break;
            }
            if self.z.total_in() == in0 && self.z.total_out() == out0 && !full {
                return Err(WsError("inflate made no progress".into()));
            }
        }
        self.input.clear();
        Ok(&self.output)
    }
}

/// A control frame received from the server.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Control<'a> {
    /// Ping with its payload (to be echoed in a Pong).
    Ping(&'a [u8]),
    /// Pong (ignored by the bench).
    Pong,
    /// Close with its status code (if any) and reason bytes.
    Close(Option<u16>, &'a [u8]),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Header,
    Data,
    Control,
}

/// Streaming decoder of server frames. Data payload bytes are handed on as
/// they arrive (a frame may span reads); headers and control payloads are
/// assembled across reads.
#[derive(Debug)]
pub(crate) struct Decoder {
    state: State,
    hdr: [u8; MAX_HEADER],
    have: usize,
    opcode: u8,
    remaining: u64,
    key: Option<[u8; 4]>,
    phase: usize,
    ctrl: Vec<u8>,
    in_message: bool,
    /// FIN bit of the current frame.
    fin: bool,
    /// The current message is compressed (RSV1 on its first frame).
    compressed: bool,
    /// Present when permessage-deflate was negotiated.
    inflate: Option<Inflate>,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder {
            state: State::Header,
            hdr: [0; MAX_HEADER],
            have: 0,
            opcode: 0,
            remaining: 0,
            key: None,
            phase: 0,
            ctrl: Vec::new(),
            in_message: false,
            fin: false,
            compressed: false,
            inflate: None,
        }
    }
}

impl Decoder {
    /// A decoder for a connection that negotiated permessage-deflate.
    pub(crate) fn with_deflate() -> Decoder {
        Decoder {
            inflate: Some(Inflate {
                z: flate2::Decompress::new(false),
                input: Vec::new(),
                output: Vec::new(),
            }),
            ..Decoder::default()
        }
    }

    /// Decodes `data` (unmasking in place if the server masked), calling
    /// `on_data` with data payload bytes and `on_control` with each complete
    /// control frame. Errors on reserved bits, unknown opcodes, bad control
    /// frames and bad fragmentation; a callback error stops decoding.
    pub(crate) fn feed<E, D, C>(
        &mut self,
        mut data: &mut [u8],
        mut on_data: D,
        mut on_control: C,
    ) -> Result<(), E>
    where
        E: From<WsError>,
        D: FnMut(&[u8]) -> Result<(), E>,
        C: FnMut(Control<'_>) -> Result<(), E>,
    {
        while !data.is_empty() {
            match self.state {
                State::Header => {
                    let need = self.header_need();
                    let take = (need - self.have).min(data.len());
                    self.hdr[self.have..self.have + take].copy_from_slice(&data[..take]);
                    self.have += take;
                    data = &mut data[take..];
                    if self.have < 2 || self.have < self.header_need() {
                        continue;
                    }
                    self.start_frame()?;
                    if self.remaining == 0 {
                        if self.compressed && self.fin {
                            self.compressed = false;
                            if let Some(inf) = self.inflate.as_mut() {
                                on_data(inf.finish()?)?;
                            }
                        }
                        self.finish_frame(&mut on_control)?;
                    }
                }
                State::Data => {
                    let n = usize::try_from(self.remaining)
                        .unwrap_or(usize::MAX)
                        .min(data.len());
                    let (chunk, rest) = core::mem::take(&mut data).split_at_mut(n);
                    if let Some(k) = self.key {
                        mask_from(chunk, k, self.phase);
                        self.phase = (self.phase + n) & 3;
                    }
                    self.remaining -= n as u64;
                    data = rest;
                    if self.compressed {
                        let inf = self.inflate.as_mut().ok_or_else(|| {
                            WsError("compressed frame without negotiation".into())
                        })?;
                        if inf.input.len() + n > MAX_INFLATED {
                            return Err(WsError("compressed message too large".into()).into());
                        }
                        inf.input.extend_from_slice(chunk);
                        if self.remaining == 0 && self.fin {
                            self.compressed = false;
                            on_data(inf.finish()?)?;
                        }
                    } else {
                        on_data(chunk)?;
                    }
                    if self.remaining == 0 {
                        self.state = State::Header;
                    }
                }
                State::Control => {
                    let n = (self.remaining as usize).min(data.len());
                    self.ctrl.extend_from_slice(&data[..n]);
                    self.remaining -= n as u64;
                    data = &mut data[n..];
                    if self.remaining == 0 {
                        self.finish_frame(&mut on_control)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Header bytes needed given what has been read so far.
    fn header_need(&self) -> usize {
        if self.have < 2 {
            return 2;
        }
        let ext = match self.hdr[1] & 0x7F {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let key = if self.hdr[1] & 0x80 != 0 { 4 } else { 0 };
        2 + ext + key
    }

    fn start_frame(&mut self) -> Result<(), WsError> {
        let b0 = self.hdr[0];
        let b1 = self.hdr[1];
        let fin = b0 & 0x80 != 0;
        if b0 & 0x30 != 0 {
            return Err(WsError("RSV2 or RSV3 set".into()));
        }
        let rsv1 = b0 & RSV1 != 0;
        if rsv1 && self.inflate.is_none() {
            return Err(WsError(
                "RSV1 set but permessage-deflate not negotiated".into(),
            ));
        }
        self.fin = fin;
        let opcode = b0 & 0x0F;
        let (len, mut off) = match b1 & 0x7F {
            126 => (u64::from(u16::from_be_bytes([self.hdr[2], self.hdr[3]])), 4),
            127 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&self.hdr[2..10]);
                let l = u64::from_be_bytes(b);
                if l >> 63 != 0 {
                    return Err(WsError("invalid 64-bit payload length".into()));
                }
                (l, 10)
            }
            l => (u64::from(l), 2),
        };
        self.key = if b1 & 0x80 != 0 {
            let k = [
                self.hdr[off],
                self.hdr[off + 1],
                self.hdr[off + 2],
                self.hdr[off + 3],
            ];
            off += 4;
            Some(k)
        } else {
            None
        };
        debug_assert_eq!(off, self.have);
        self.have = 0;
        self.phase = 0;
        self.opcode = opcode;
        self.remaining = len;
        match opcode {
            OP_CLOSE | OP_PING | OP_PONG => {
                if len > 125 {
                    return Err(WsError("control frame longer than 125 bytes".into()));
                }
                if !fin {
                    return Err(WsError("fragmented control frame".into()));
                }
                if rsv1 {
                    return Err(WsError("compressed control frame".into()));
                }
                self.ctrl.clear();
                self.state = State::Control;
            }
            OP_TEXT | OP_BINARY => {
                if self.in_message {
                    return Err(WsError("new message before final fragment".into()));
                }
                self.in_message = !fin;
                self.compressed = rsv1;
                self.state = State::Data;
            }
            OP_CONT => {
                if !self.in_message || rsv1 {
                    return Err(WsError("invalid continuation frame".into()));
                }
                self.in_message = !fin;
                self.state = State::Data;
            }
            o => return Err(WsError(format!("unknown opcode {o}"))),
        }
        Ok(())
    }

    /// Completes a frame whose payload is fully read (control frames are
    /// delivered here; empty data frames need nothing).
    fn finish_frame<E, C>(&mut self, on_control: &mut C) -> Result<(), E>
    where
        E: From<WsError>,
        C: FnMut(Control<'_>) -> Result<(), E>,
    {
        self.state = State::Header;
        if !matches!(self.opcode, OP_CLOSE | OP_PING | OP_PONG) {
            return Ok(());
        }
        if let Some(k) = self.key {
            mask(&mut self.ctrl, k);
        }
        let ctrl = core::mem::take(&mut self.ctrl);
        let r = match self.opcode {
            OP_PING => on_control(Control::Ping(&ctrl)),
            OP_PONG => on_control(Control::Pong),
            _ => match ctrl.len() {
                0 => on_control(Control::Close(None, &[])),
                1 => Err(WsError("close payload of 1 byte".into()).into()),
                _ => on_control(Control::Close(
                    Some(u16::from_be_bytes([ctrl[0], ctrl[1]])),
                    &ctrl[2..],
                )),
            },
        };
        self.ctrl = ctrl;
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Eq)]
    enum Ev {
        Data(Vec<u8>),
        Ping(Vec<u8>),
        Pong,
        Close(Option<u16>, Vec<u8>),
    }

    fn decode_chunks(d: &mut Decoder, stream: &[u8], chunk: usize) -> Result<Vec<Ev>, WsError> {
        let mut evs = Vec::new();
        let mut buf = stream.to_vec();
        for c in buf.chunks_mut(chunk) {
            let mut data = Vec::new();
            let mut ctl = Vec::new();
            d.feed::<WsError, _, _>(
                c,
                |b| {
                    data.extend_from_slice(b);
                    Ok(())
                },
                |c| {
                    ctl.push(match c {
                        Control::Ping(p) => Ev::Ping(p.to_vec()),
                        Control::Pong => Ev::Pong,
                        Control::Close(s, r) => Ev::Close(s, r.to_vec()),
                    });
                    Ok(())
                },
            )?;
            // Data arriving in one chunk is merged; order against control
            // frames is kept by flushing data first per chunk (fine for the
            // streams below, where control frames follow data).
            if !data.is_empty() {
                evs.push(Ev::Data(data));
            }
            evs.extend(ctl);
        }
        // Merge adjacent data events so any chunking compares equal.
        let mut merged: Vec<Ev> = Vec::new();
        for e in evs {
            match (merged.last_mut(), e) {
                (Some(Ev::Data(a)), Ev::Data(b)) => a.extend(b),
                (_, e) => merged.push(e),
            }
        }
        Ok(merged)
    }

    fn server_frame(opcode: u8, fin: bool, payload: &[u8]) -> Vec<u8> {
        let mut h = [0u8; MAX_HEADER];
        let n = header_into(&mut h, opcode, payload.len(), None);
        let mut v = h[MAX_HEADER - n..].to_vec();
        if !fin {
            v[0] &= 0x7F;
        }
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn mask_matches_bytewise_xor_and_is_an_involution() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        for len in 0..40 {
            let orig: Vec<u8> = (0..len as u8).collect();
            let mut a = orig.clone();
            mask(&mut a, key);
            let want: Vec<u8> = orig
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ key[i % 4])
                .collect();
            assert_eq!(a, want, "len {len}");
            mask(&mut a, key);
            assert_eq!(a, orig);
        }
        // RFC 6455 §5.7 example: masked "Hello".
        let mut hello = b"Hello".to_vec();
        mask(&mut hello, key);
        assert_eq!(hello, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    }

    #[test]
    fn masked_frame_headers_for_each_length_form() {
        let key = [1, 2, 3, 4];
        for (len, hdr_len, b1) in [(5usize, 6usize, 0x85u8), (200, 8, 0xFE), (70000, 14, 0xFF)] {
            let mut out = Vec::new();
            push_masked_frame(&mut out, OP_BINARY, &vec![0u8; len], key);
            assert_eq!(out.len(), hdr_len + len);
            assert_eq!(out[0], 0x82);
            assert_eq!(out[1], b1);
            assert_eq!(&out[hdr_len - 4..hdr_len], &key);
            // Masked zeros are the key repeated.
            assert_eq!(&out[hdr_len..hdr_len + 4], &key);
        }
        let mut out = Vec::new();
        push_masked_frame(&mut out, OP_BINARY, &[0u8; 200], key);
        assert_eq!(&out[2..4], &200u16.to_be_bytes());
    }

    #[test]
    fn decodes_frames_under_any_chunking() {
        let mut stream = server_frame(OP_BINARY, true, b"INFO {} \r\n");
        stream.extend(server_frame(OP_BINARY, false, b"MSG a 1 2\r\n"));
        stream.extend(server_frame(OP_PING, true, b"pp"));
        stream.extend(server_frame(OP_CONT, true, b"hi\r\n"));
        stream.extend(server_frame(OP_BINARY, true, &[b'z'; 300]));
        stream.extend(server_frame(OP_BINARY, true, &[b'y'; 70000]));
        stream.extend(server_frame(OP_BINARY, true, b""));
        stream.extend(server_frame(OP_PONG, true, b""));
        stream.extend(server_frame(OP_CLOSE, true, b"\x03\xe8bye"));
        let mut all = b"INFO {} \r\nMSG a 1 2\r\nhi\r\n".to_vec();
        all.extend([b'z'; 300]);
        all.extend([b'y'; 70000]);
        for chunk in [1, 2, 3, 7, 13, 4096, stream.len()] {
            let mut d = Decoder::default();
            let evs = decode_chunks(&mut d, &stream, chunk).unwrap();
            let mut data = Vec::new();
            let mut ctl = Vec::new();
            for e in evs {
                match e {
                    Ev::Data(b) => data.extend(b),
                    e => ctl.push(e),
                }
            }
            assert_eq!(data, all, "chunk {chunk}");
            assert_eq!(
                ctl,
                vec![
                    Ev::Ping(b"pp".to_vec()),
                    Ev::Pong,
                    Ev::Close(Some(1000), b"bye".to_vec())
                ],
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn masked_server_frames_are_unmasked_across_chunks() {
        let mut stream = Vec::new();
        push_masked_frame(&mut stream, OP_BINARY, b"PONG\r\nPING\r\n", [9, 8, 7, 6]);
        for chunk in 1..stream.len() {
            let mut d = Decoder::default();
            let evs = decode_chunks(&mut d, &stream, chunk).unwrap();
            assert_eq!(
                evs,
                vec![Ev::Data(b"PONG\r\nPING\r\n".to_vec())],
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn bad_frames_are_errors() {
        let cases: Vec<Vec<u8>> = vec![
            vec![0xC2, 0x00],                              // RSV1 without negotiation
            vec![0x83, 0x00],                              // unknown opcode 3
            vec![0x80, 0x00],                              // continuation without message
            vec![0x09, 0x00],                              // fragmented ping
            vec![0x89, 126, 0x00, 0x7E],                   // control frame > 125
            vec![0x88, 0x01, 0x03],                        // 1-byte close payload
            [vec![0x02, 0x00], vec![0x82, 0x00]].concat(), // new message mid-fragment
            vec![0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0],    // 64-bit length top bit
        ];
        for c in cases {
            let mut d = Decoder::default();
            assert!(decode_chunks(&mut d, &c, c.len()).is_err(), "{c:02x?}");
        }
    }

    #[test]
    fn handshake_accept_and_response_checks() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let ok = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
        assert_eq!(head_len(ok), Some(ok.len()));
        assert_eq!(head_len(&ok[..ok.len() - 1]), None);
        assert!(!check_response(ok, key, false).unwrap());
        assert!(!check_response(ok, key, true).unwrap());
        let bad_accept = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: xxxx\r\n\r\n";
        assert!(check_response(bad_accept, key, false).is_err());
        let refused = b"HTTP/1.1 400 Bad Request\r\n\r\n";
        assert!(check_response(refused, key, false).is_err());
        let ext = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n";
        assert!(check_response(ext, key, false).is_err());
        assert!(check_response(ext, key, true).unwrap());
        let req = upgrade_request("127.0.0.1:8080", "/", key, false);
        assert!(!req.contains("Extensions"));
        let req2 = upgrade_request("127.0.0.1:8080", "/", key, true);
        assert!(req2.contains("Sec-WebSocket-Extensions: permessage-deflate;"));
        assert!(req.starts_with("GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"));
        assert!(req.ends_with("Sec-WebSocket-Version: 13\r\n\r\n"));
    }

    #[test]
    fn compressed_messages_inflate_across_fragments_and_chunks() {
        let msg1 = b"MSG a 1 5\r\nhello\r\n".repeat(50);
        let msg2 = b"PONG\r\n".to_vec();
        let z1 = deflate_message(&msg1);
        assert!(z1.len() < msg1.len() / 4, "{} bytes", z1.len());
        let z2 = deflate_message(&msg2);
        // msg1 in three fragments (RSV1 on the first only) with a ping in
        // between, then msg2 whole, then an uncompressed message.
        let (a, rest) = z1.split_at(z1.len() / 3);
        let (b, c) = rest.split_at(rest.len() / 2);
        let mut stream = server_frame(OP_BINARY | RSV1, false, a);
        stream.extend(server_frame(OP_CONT, false, b));
        stream.extend(server_frame(OP_PING, true, b"x"));
        stream.extend(server_frame(OP_CONT, true, c));
        stream.extend(server_frame(OP_BINARY | RSV1, true, &z2));
        stream.extend(server_frame(OP_BINARY, true, b"+OK\r\n"));
        let mut want = msg1.clone();
        want.extend(&msg2);
        want.extend(b"+OK\r\n");
        for chunk in [1, 5, 64, stream.len()] {
            let mut d = Decoder::with_deflate();
            let evs = decode_chunks(&mut d, &stream, chunk).unwrap();
            let data: Vec<u8> = evs
                .iter()
                .filter_map(|e| match e {
                    Ev::Data(b) => Some(b.clone()),
                    _ => None,
                })
                .flatten()
                .collect();
            assert_eq!(data, want, "chunk {chunk}");
        }
    }

    #[test]
    fn compression_bits_are_checked() {
        // RSV1 without negotiation, RSV1 on a continuation, on a control frame.
        let mut d = Decoder::default();
        assert!(decode_chunks(&mut d, &[0xC2, 0x00], 2).is_err());
        let mut d = Decoder::with_deflate();
        let s = [
            server_frame(OP_BINARY | RSV1, false, b"\x00"),
            vec![0xC0, 0x00],
        ]
        .concat();
        assert!(decode_chunks(&mut d, &s, s.len()).is_err());
        let mut d = Decoder::with_deflate();
        assert!(decode_chunks(&mut d, &[0xC9, 0x00], 2).is_err());
        // Corrupt deflate data is an error, not a panic.
        let mut d = Decoder::with_deflate();
        let s = server_frame(OP_BINARY | RSV1, true, &[0xff; 16]);
        assert!(decode_chunks(&mut d, &s, s.len()).is_err());
    }
}
