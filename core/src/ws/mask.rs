//! Masking (RFC 6455 §5.3): `payload[i] ^= key[(offset + i) % 4]`.
//!
//! [`apply_mask`] works 8 bytes at a time with safe code (`chunks_exact_mut`
//! and native-endian `u64`s; the compiler vectorises it) and equals
//! [`apply_mask_scalar`] for every length and offset. The offset is the
//! position in the key where `buf` starts, so a frame split across reads is
//! unmasked in pieces (spec §3.2).

/// Byte-at-a-time reference: XORs `buf` with `key` starting at key position
/// `offset % 4`; returns the key position after `buf`.
pub fn apply_mask_scalar(buf: &mut [u8], key: [u8; 4], offset: usize) -> usize {
    for (i, b) in buf.iter_mut().enumerate() {
        *b ^= key[(offset + i) & 3];
    }
    (offset + buf.len()) & 3
}

/// Word-at-a-time XOR of `buf` with `key` starting at key position
/// `offset % 4`; returns the key position after `buf`. Same result as
/// [`apply_mask_scalar`].
#[inline]
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) -> usize {
    let word = key_word(key, offset);
    let rot = (word as u32).to_ne_bytes();
    let mut chunks = buf.chunks_exact_mut(64);
    for c in &mut chunks {
        for w in c.chunks_exact_mut(8) {
            let v = u64::from_ne_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]) ^ word;
            w.copy_from_slice(&v.to_ne_bytes());
        }
    }
    let rest = chunks.into_remainder();
    let mut words = rest.chunks_exact_mut(8);
    for w in &mut words {
        let v = u64::from_ne_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]) ^ word;
        w.copy_from_slice(&v.to_ne_bytes());
    }
    // Whole words keep the key phase (8 is a multiple of 4).
    for (i, b) in words.into_remainder().iter_mut().enumerate() {
        *b ^= rot[i & 3];
    }
    (offset + buf.len()) & 3
}

/// Appends `src` XOR `key` (starting at key position `offset % 4`) to `out`
/// and returns the key position after it: [`apply_mask`] fused with the copy
/// a decoder makes from the read buffer into the message buffer, so the
/// payload is read once and written once, and the input stays untouched.
/// Works on 64-byte pieces (eight 8-byte words XORed into a stack array
/// that is appended; measured fastest of 32/64/128/256 and of copying
/// blocks then unmasking them in L1). Same bytes as copying and then
/// calling [`apply_mask_scalar`].
pub fn unmask_into(
    out: &mut alloc::vec::Vec<u8>,
    src: &[u8],
    key: [u8; 4],
    offset: usize,
) -> usize {
    out.reserve(src.len());
    let word = key_word(key, offset);
    let mut chunks = src.chunks_exact(64);
    for c in &mut chunks {
        let mut piece = [0u8; 64];
        for (d, s) in piece.chunks_exact_mut(8).zip(c.chunks_exact(8)) {
            let v = u64::from_ne_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]]) ^ word;
            d.copy_from_slice(&v.to_ne_bytes());
        }
        out.extend_from_slice(&piece);
    }
    // Whole pieces keep the key phase (64 is a multiple of 4).
    let rest = chunks.remainder();
    let start = out.len();
    out.extend_from_slice(rest);
    apply_mask(&mut out[start..], key, offset)
}

/// The key rotated to start at position `offset % 4`, as a native-endian
/// word (a rotate, not four byte loads), repeated twice in a u64.
#[inline]
fn key_word(key: [u8; 4], offset: usize) -> u64 {
    let sh = 8 * (offset & 3) as u32;
    let k = u32::from_ne_bytes(key);
    let k = if cfg!(target_endian = "little") {
        k.rotate_right(sh)
    } else {
        k.rotate_left(sh)
    };
    (u64::from(k) << 32) | u64::from(k)
}
