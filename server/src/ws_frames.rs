//! Vectored WebSocket writes: a batch cut into plain binary frames whose
//! headers are encoded here and whose bytes are never copied.

use std::io;

/// WebSocket batches of at least this many bytes that go out as one plain
/// frame are written with `writev` (frame header + the batch) instead of
/// being copied behind the header first.
pub(crate) const VECTORED_MIN: usize = 2048;
/// IoSlices per vectored write (frame headers and their bytes).
pub(crate) const VECTORED_SLICES: usize = 64;

/// A batch of NATS bytes (the connection's `spare`) on its way out as plain
/// binary WebSocket frames of `size` bytes (the last may be shorter), by
/// vectored writes: the headers are encoded here, the bytes are never
/// copied. The wire bytes are, in order, for each frame its header and its
/// piece of the batch; `sent` of them are written.
pub(crate) struct Frames {
    pub(crate) size: usize,
    /// Header of a frame of `size` bytes.
    pub(crate) full: [u8; natsws_core::ws::MAX_FRAME_HEADER],
    pub(crate) full_len: u8,
    /// Header of the last frame.
    pub(crate) last: [u8; natsws_core::ws::MAX_FRAME_HEADER],
    pub(crate) last_len: u8,
    pub(crate) sent: usize,
}

impl Frames {
    pub(crate) fn new(len: usize, size: usize) -> Frames {
        let header = |n: usize| {
            let mut h = [0u8; natsws_core::ws::MAX_FRAME_HEADER];
            let k = natsws_core::ws::frame::FrameHeader {
                fin: true,
                rsv1: false,
                opcode: natsws_core::ws::OpCode::BINARY,
                len: n as u64,
                mask: None,
            }
            .encode(&mut h);
            (h, k as u8)
        };
        let (full, full_len) = header(size);
        let rest = len % size;
        let (last, last_len) = header(if rest == 0 { size } else { rest });
        Frames {
            size,
            full,
            full_len,
            last,
            last_len,
            sent: 0,
        }
    }

    pub(crate) fn count(&self, len: usize) -> usize {
        len.div_ceil(self.size)
    }

    /// Wire bytes of the whole batch of `len` bytes.
    pub(crate) fn total(&self, len: usize) -> usize {
        let n = self.count(len);
        len + (n - 1) * usize::from(self.full_len) + usize::from(self.last_len)
    }

    /// Fills `out` with the unsent rest of the wire bytes (as many slices
    /// as fit), the batch being `data`; returns how many were filled.
    pub(crate) fn slices<'a>(&'a self, data: &'a [u8], out: &mut [io::IoSlice<'a>]) -> usize {
        let n = self.count(data.len());
        let stride = self.size + usize::from(self.full_len);
        // Whole frames already written (never past the last).
        let first = (self.sent / stride).min(n - 1);
        let mut skip = self.sent - first * stride;
        let mut k = 0;
        for i in first..n {
            let header = if i + 1 == n {
                &self.last[..usize::from(self.last_len)]
            } else {
                &self.full[..usize::from(self.full_len)]
            };
            let piece = &data[i * self.size..((i + 1) * self.size).min(data.len())];
            for part in [header, piece] {
                if skip >= part.len() {
                    skip -= part.len();
                    continue;
                }
                out[k] = io::IoSlice::new(&part[skip..]);
                skip = 0;
                k += 1;
                if k == out.len() {
                    return k;
                }
            }
        }
        k
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The wire bytes [`Frames`] would send from `sent` on, through as many
    /// vectored writes as it takes.
    fn rest_of(frames: &mut Frames, data: &[u8]) -> Vec<u8> {
        let mut wire = Vec::new();
        while frames.sent < frames.total(data.len()) {
            let mut slices = [io::IoSlice::new(&[]); VECTORED_SLICES];
            let k = frames.slices(data, &mut slices);
            assert!(k > 0);
            let before = wire.len();
            for sl in &slices[..k] {
                wire.extend_from_slice(sl);
            }
            frames.sent += wire.len() - before;
        }
        wire
    }

    #[test]
    fn vectored_frames_equal_the_copying_framer_from_any_offset() {
        use natsws_core::ws::codec::{frame_batch, Framing};
        for (len, framing) in [
            (2048, Framing::SINGLE),
            (70_000, Framing::SINGLE),
            (4096, Framing::BROWSER),
            (10_000, Framing::BROWSER),
            (8192, Framing::BROWSER),
            // 75 frames, 150 slices: more than one write's worth.
            (300 * 1024, Framing::BROWSER),
        ] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let mut want = Vec::new();
            frame_batch(&data, &mut want, framing, None);
            let size = framing.max_frame.map_or(len, |m| m.min(len));
            let mut frames = Frames::new(len, size);
            assert_eq!(frames.total(len), want.len(), "len {len}");
            assert_eq!(rest_of(&mut frames, &data), want, "len {len}");
            // Resuming after any partial write (every header byte, every
            // frame boundary, some payload bytes).
            let step = if len > 20_000 { 997 } else { 1 };
            for sent in (0..want.len()).step_by(step) {
                let mut frames = Frames::new(len, size);
                frames.sent = sent;
                assert_eq!(
                    rest_of(&mut frames, &data),
                    &want[sent..],
                    "len {len} sent {sent}"
                );
            }
        }
    }
}
