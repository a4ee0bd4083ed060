//! permessage-deflate (RFC 7692) without context takeover, with flate2's
//! pure-Rust backend (feature `deflate`).
//!
//! - [`Inflater`]: inflates one message at a time as its fragments arrive,
//!   appending [`INFLATE_TAIL`] at the end (RFC 7692 §7.2.2; spec §3.5), with
//!   a hard cap on decompressed bytes enforced *while* inflating: output is
//!   produced in bounded chunks and inflation stops at cap + 1, so a
//!   compression bomb never makes anything grow past the cap.
//! - [`Deflater`]: compresses one outbound batch at level 1 with a reset
//!   compressor (no context takeover), sync-flushes and strips the trailing
//!   `00 00 ff ff` (RFC 7692 §7.2.1); [`Deflater::frame_batch`] frames it
//!   (spec §3.8 mode 3).
//!
//! Both are reset per message, so a server can keep one of each per thread.

use alloc::vec;
use alloc::vec::Vec;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::codec::{frame_batch, Framing, MaskSource};
use super::error::Error;
use super::frame::{FrameHeader, OpCode};
use super::mask::apply_mask;
use super::{COMPRESS_THRESHOLD, INFLATE_TAIL};

/// Size of the inflater's output chunks, in bytes (32 KiB, as nats-server).
pub const INFLATE_CHUNK: usize = 32 * 1024;

/// Reusable raw-deflate decompressor for inbound compressed messages.
pub struct Inflater {
    d: Decompress,
    scratch: Vec<u8>,
    /// Decompressed bytes of the current message so far.
    total: u64,
    /// The current message's stream ended (final block seen).
    ended: bool,
    /// The current message had at least one compressed byte.
    fed: bool,
    /// The backend was used since the last [`reset`](Self::reset).
    dirty: bool,
}

impl core::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Inflater")
            .field("total", &self.total)
            .finish()
    }
}

impl Default for Inflater {
    fn default() -> Self {
        Self::new()
    }
}

impl Inflater {
    /// A decompressor with a 32 KiB output chunk (allocated once).
    pub fn new() -> Self {
        Inflater {
            d: Decompress::new(false),
            scratch: vec![0; INFLATE_CHUNK],
            total: 0,
            ended: false,
            fed: false,
            dirty: false,
        }
    }

    /// Forgets the current message (no context takeover: called
    /// automatically after each final fragment and after errors). The
    /// backend's full reset zeroes the 32 KiB window, so a back-reference in
    /// a later message (even from another connection sharing this inflater)
    /// can never read earlier data.
    pub fn reset(&mut self) {
        self.d.reset(false);
        self.total = 0;
        self.ended = false;
        self.fed = false;
        self.dirty = false;
    }

    /// Inflates the next piece of a compressed message (e.g. the payload of
    /// an [`Event::Data`](super::Event::Data) with `compressed`). `fin`
    /// marks the message's last piece: [`INFLATE_TAIL`] is appended and the
    /// inflater is reset afterwards. Decompressed bytes go to `sink` in
    /// chunks of at most [`INFLATE_CHUNK`] bytes. A message with no
    /// compressed bytes at all (a zero-length frame with RSV1) inflates to
    /// nothing.
    ///
    /// `limit` is the cap on the message's decompressed size in bytes (the
    /// connection's max payload, spec §3.5): `sink` receives at most `limit`
    /// bytes in total, then the call fails.
    ///
    /// # Errors
    /// [`Error::MaxPayloadExceeded`] past `limit`; [`Error::CorruptDeflate`]
    /// for invalid deflate data. The inflater is reset on error.
    pub fn feed(
        &mut self,
        piece: &[u8],
        fin: bool,
        limit: usize,
        sink: &mut dyn FnMut(&[u8]),
    ) -> Result<(), Error> {
        self.fed |= !piece.is_empty();
        let r = self.feed_inner(piece, limit, sink).and_then(|()| {
            if fin && self.fed {
                self.feed_inner(&INFLATE_TAIL, limit, sink)
            } else {
                Ok(())
            }
        });
        if fin || r.is_err() {
            self.reset();
        }
        r
    }

    fn feed_inner(
        &mut self,
        mut input: &[u8],
        limit: usize,
        sink: &mut dyn FnMut(&[u8]),
    ) -> Result<(), Error> {
        let limit = limit as u64;
        self.dirty = true;
        while !self.ended {
            // Never ask for more than one byte past the cap.
            let room = (limit - self.total.min(limit))
                .saturating_add(1)
                .min(self.scratch.len() as u64) as usize;
            let (in0, out0) = (self.d.total_in(), self.d.total_out());
            let st = self
                .d
                .decompress(input, &mut self.scratch[..room], FlushDecompress::None)
                .map_err(|_| Error::CorruptDeflate)?;
            let used = (self.d.total_in() - in0) as usize;
            let produced = (self.d.total_out() - out0) as usize;
            input = &input[used..];
            if produced > 0 {
                let allowed = (limit - self.total).min(produced as u64) as usize;
                if allowed > 0 {
                    sink(&self.scratch[..allowed]);
                }
                self.total += produced as u64;
                if self.total > limit {
                    return Err(Error::MaxPayloadExceeded);
                }
            }
            match st {
                Status::StreamEnd => self.ended = true,
                _ if produced == room => {} // output full: more may be pending
                _ if input.is_empty() || (used == 0 && produced == 0) => break,
                _ => {}
            }
        }
        Ok(())
    }

    /// Inflates a whole compressed message (all fragments concatenated)
    /// into `out`, which receives at most `limit` bytes; its capacity grows
    /// geometrically but never beyond `limit` bytes past its initial length.
    ///
    /// # Errors
    /// As [`feed`](Self::feed).
    pub fn inflate(&mut self, msg: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<(), Error> {
        // Every message already ends with a reset (after `fin` or an
        // error); a second one here would zero the 32 KiB window twice.
        if self.dirty {
            self.reset();
        }
        let base = out.len();
        let max_len = base.saturating_add(limit);
        self.feed(msg, true, limit, &mut |chunk| {
            if out.capacity() - out.len() < chunk.len() {
                let grow = (out.len() - base)
                    .max(chunk.len())
                    .min(max_len - out.len())
                    .max(chunk.len());
                out.reserve_exact(grow);
            }
            out.extend_from_slice(chunk);
        })
    }
}

impl super::inbound::InflateMessage for Inflater {
    fn inflate_message(
        &mut self,
        msg: &[u8],
        limit: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        self.inflate(msg, limit, out)
    }
}

/// Reusable raw-deflate compressor for outbound messages (level 1, no
/// context takeover).
pub struct Deflater {
    c: Compress,
    buf: Vec<u8>,
}

impl core::fmt::Debug for Deflater {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Deflater").finish()
    }
}

impl Default for Deflater {
    fn default() -> Self {
        Self::new()
    }
}

impl Deflater {
    /// A level-1 ("best speed", as nats-server) raw-deflate compressor.
    pub fn new() -> Self {
        Deflater {
            c: Compress::new(Compression::fast(), false),
            buf: Vec::new(),
        }
    }

    /// Compresses `payload` as one message: reset compressor, sync flush,
    /// trailing `00 00 ff ff` removed (RFC 7692 §7.2.1). The result borrows
    /// the deflater's buffer, which is reused across calls.
    pub fn compress(&mut self, payload: &[u8]) -> &[u8] {
        self.c.reset();
        self.buf.clear();
        let mut input = payload;
        loop {
            if self.buf.capacity() - self.buf.len() < 64 {
                self.buf.reserve(payload.len() / 2 + 256);
            }
            let in0 = self.c.total_in();
            let spare = self.buf.capacity() - self.buf.len();
            let before = self.buf.len();
            // Sync flush: the compressor emits everything plus an empty
            // stored block (`00 00 ff ff`).
            if self
                .c
                .compress_vec(input, &mut self.buf, FlushCompress::Sync)
                .is_err()
            {
                // Cannot happen for in-memory input; fall back to a stored
                // block so the output stays valid.
                return self.stored(payload);
            }
            let used = (self.c.total_in() - in0) as usize;
            input = &input[used..];
            let produced = self.buf.len() - before;
            if input.is_empty() && produced < spare {
                break;
            }
        }
        if self.buf.ends_with(&[0, 0, 0xff, 0xff]) {
            self.buf.truncate(self.buf.len() - 4);
        }
        &self.buf
    }

    fn stored(&mut self, payload: &[u8]) -> &[u8] {
        self.buf.clear();
        for c in payload.chunks(65535) {
            self.buf.push(0); // BFINAL=0, BTYPE=00 (stored)
            let n = c.len() as u16;
            self.buf.extend_from_slice(&n.to_le_bytes());
            self.buf.extend_from_slice(&(!n).to_le_bytes());
            self.buf.extend_from_slice(c);
        }
        &self.buf
    }

    /// Frames an outbound batch when compression is negotiated (spec §3.8
    /// mode 3): batches of at most [`COMPRESS_THRESHOLD`] (64) bytes are
    /// framed uncompressed as [`frame_batch`] does; larger ones are
    /// compressed into one message with RSV1 on its first frame. With
    /// `framing.max_frame = Some(n)` (non-Safari browsers) a compressed
    /// message above `n` bytes is fragmented: binary + RSV1 first,
    /// continuations after, FIN on the last. Pass [`Framing::SINGLE`] for
    /// Safari (compressed messages never fragmented) and non-browsers.
    pub fn frame_batch(
        &mut self,
        payload: &[u8],
        out: &mut Vec<u8>,
        framing: Framing,
        mut mask: MaskSource<'_>,
    ) {
        if payload.len() <= COMPRESS_THRESHOLD {
            frame_batch(payload, out, framing, mask);
            return;
        }
        let p = self.compress(payload);
        let mfs = framing.max_frame.filter(|&m| m > 0).unwrap_or(usize::MAX);
        let mut first = true;
        let mut rest = p;
        loop {
            let n = rest.len().min(mfs);
            let fin = n == rest.len();
            let key = mask.as_mut().map(|f| f());
            FrameHeader {
                fin,
                rsv1: first,
                opcode: if first {
                    OpCode::BINARY
                } else {
                    OpCode::CONTINUATION
                },
                len: n as u64,
                mask: key,
            }
            .write(out);
            let start = out.len();
            out.extend_from_slice(&rest[..n]);
            if let Some(k) = key {
                apply_mask(&mut out[start..], k, 0);
            }
            rest = &rest[n..];
            first = false;
            if fin {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inflate_after_an_unfinished_feed_starts_clean() {
        let text = b"MSG a.b 1 11\r\nhello world\r\nMSG a.b 1 11\r\nhello world\r\n";
        let msg = Deflater::new().compress(text).to_vec();
        let mut inf = Inflater::new();
        // Half a message, never finished.
        inf.feed(&msg[..msg.len() / 2], false, 1 << 20, &mut |_| {})
            .unwrap();
        let mut out = Vec::new();
        inf.inflate(&msg, 1 << 20, &mut out).unwrap();
        assert_eq!(out, text);
        // And back to back, each starting from the reset at the last fin.
        for _ in 0..3 {
            out.clear();
            inf.inflate(&msg, 1 << 20, &mut out).unwrap();
            assert_eq!(out, text);
        }
    }
}
