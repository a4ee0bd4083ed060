//! permessage-deflate: RFC 7692 §7.2.3 examples, the compression bomb, and
//! the compressed outbound framing of spec §8 group F.
#![cfg(feature = "deflate")]
#![allow(missing_docs)]

#[path = "ws_common/mod.rs"]
mod common;
use common::*;

use natsws_core::ws::codec::Framing;
use natsws_core::ws::deflate::{Deflater, Inflater, INFLATE_CHUNK};
use natsws_core::ws::{CloseCode, DecoderConfig, Error};

fn comp_server() -> DecoderConfig {
    let mut c = DecoderConfig::server();
    c.compression = true;
    c
}

fn comp_client() -> DecoderConfig {
    let mut c = DecoderConfig::client();
    c.compression = true;
    c
}

/// Decodes frames and inflates every compressed message piece by piece.
fn messages(cfg: DecoderConfig, bytes: &[u8]) -> Vec<Vec<u8>> {
    let (evs, err) = decode_all(cfg, bytes);
    assert_eq!(err, None);
    let mut inf = Inflater::new();
    let mut out = Vec::new();
    let mut cur = Vec::new();
    for e in evs {
        if let Ev::Data {
            payload,
            fin,
            compressed,
            ..
        } = e
        {
            if compressed {
                inf.feed(&payload, fin, 1 << 20, &mut |c| cur.extend_from_slice(c))
                    .unwrap();
            } else {
                cur.extend_from_slice(&payload);
            }
            if fin {
                out.push(core::mem::take(&mut cur));
            }
        }
    }
    out
}

// ---- RFC 7692 §7.2.3.1: a message compressed without context takeover
#[test]
fn rfc7692_hello_single_frame() {
    let f = [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    let (evs, err) = decode_all(comp_client(), &f);
    assert_eq!(err, None);
    assert_eq!(
        evs,
        vec![Ev::Data {
            payload: f[2..].to_vec(),
            fin: true,
            compressed: true,
            text: true
        }]
    );
    assert_eq!(messages(comp_client(), &f), vec![b"Hello".to_vec()]);
    // Masked by a client, decoded by the server.
    let masked = cframe(0xc1, &f[2..]);
    assert_eq!(messages(comp_server(), &masked), vec![b"Hello".to_vec()]);
}

// ---- §7.2.3.1: the same message split into two fragments
#[test]
fn rfc7692_hello_two_fragments() {
    let f = [
        0x41, 0x03, 0xf2, 0x48, 0xcd, 0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00,
    ];
    assert_eq!(messages(comp_client(), &f), vec![b"Hello".to_vec()]);
}

// ---- §7.2.3.2: without context takeover, the second "Hello" is compressed
// exactly like the first; the context-takeover form (a back-reference into
// the previous message) is rejected by our per-message inflater.
#[test]
fn rfc7692_context_takeover() {
    let first = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    let mut d = Deflater::new();
    let a = d.compress(b"Hello").to_vec();
    let b = d.compress(b"Hello").to_vec();
    assert_eq!(a, b, "no context takeover: same input, same output");
    let mut inf = Inflater::new();
    let mut out = Vec::new();
    inf.inflate(&first, 100, &mut out).unwrap();
    out.clear();
    inf.inflate(&first, 100, &mut out).unwrap();
    assert_eq!(out, b"Hello");
    // The context-takeover form refers back into "Hello": without the
    // previous message's window it cannot produce "Hello" again.
    let with_takeover = [0xf2, 0x00, 0x11, 0x00, 0x00];
    out.clear();
    let r = inf.inflate(&with_takeover, 100, &mut out);
    assert!(r.is_err() || out != b"Hello", "{r:?} {out:?}");
    // The inflater is reusable afterwards.
    out.clear();
    inf.inflate(&first, 100, &mut out).unwrap();
    assert_eq!(out, b"Hello");
}

/// A message compressed *with* context takeover back-references the previous
/// message; our inflater must not be able to read the previous window (one
/// inflater may be shared by all connections of a thread).
#[test]
fn no_data_leaks_through_the_window() {
    let mut seed = 7u32;
    let secret: Vec<u8> = (0..20_000)
        .map(|_| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            b'a' + (seed >> 24) as u8 % 26
        })
        .collect();
    let mut c = flate2::Compress::new(flate2::Compression::best(), false);
    let mut m1 = Vec::with_capacity(64 * 1024);
    c.compress_vec(&secret, &mut m1, flate2::FlushCompress::Sync)
        .unwrap();
    let mut m2 = Vec::with_capacity(64 * 1024);
    c.compress_vec(&secret, &mut m2, flate2::FlushCompress::Sync)
        .unwrap();
    assert!(m2.len() < m1.len() / 4, "second copy is back-references");
    let mut inf = Inflater::new();
    let mut out = Vec::new();
    inf.inflate(&m1[..m1.len() - 4], 1 << 20, &mut out).unwrap();
    assert_eq!(out, secret);
    out.clear();
    let r = inf.inflate(&m2[..m2.len() - 4], 1 << 20, &mut out);
    let windows: std::collections::HashSet<&[u8]> = secret.windows(32).collect();
    assert!(
        r.is_err() || !out.windows(32).any(|w| windows.contains(w)),
        "{r:?}"
    );
}

// ---- §7.2.3.3: DEFLATE block with no compression
#[test]
fn rfc7692_stored_block() {
    let f = [
        0xc1, 0x0b, 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
    ];
    assert_eq!(messages(comp_client(), &f), vec![b"Hello".to_vec()]);
}

// ---- §7.2.3.4: DEFLATE block with BFINAL set
#[test]
fn rfc7692_bfinal_set() {
    let f = [0xc1, 0x08, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00];
    assert_eq!(messages(comp_client(), &f), vec![b"Hello".to_vec()]);
}

// ---- §7.2.3.5: two DEFLATE blocks in one message
#[test]
fn rfc7692_two_blocks() {
    let f = [
        0xc1, 0x0d, 0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00,
    ];
    assert_eq!(messages(comp_client(), &f), vec![b"Hello".to_vec()]);
}

// ---- the compression bomb
#[test]
fn compression_bomb_stops_at_cap() {
    let zeros = vec![0u8; 16 * 1024 * 1024];
    let mut d = Deflater::new();
    let bomb = d.compress(&zeros).to_vec();
    assert!(bomb.len() < 200_000, "compressed to {} bytes", bomb.len());
    let cap = 1024 * 1024;
    let mut inf = Inflater::new();
    // Streaming: the sink gets exactly `cap` bytes in bounded chunks.
    let mut got = 0usize;
    let mut biggest = 0usize;
    let err = inf
        .feed(&bomb, true, cap, &mut |c| {
            got += c.len();
            biggest = biggest.max(c.len());
        })
        .unwrap_err();
    assert_eq!(err, Error::MaxPayloadExceeded);
    assert_eq!(err.close_code(), Some(CloseCode::MESSAGE_TOO_BIG));
    assert_eq!(got, cap);
    assert!(biggest <= INFLATE_CHUNK);
    // Into a Vec: never grows past the cap.
    let mut out = Vec::new();
    let err = inf.inflate(&bomb, cap, &mut out).unwrap_err();
    assert_eq!(err, Error::MaxPayloadExceeded);
    assert_eq!(out.len(), cap);
    assert!(out.capacity() <= cap, "capacity {}", out.capacity());
    // Exactly at the cap is fine.
    let mut exact = Vec::new();
    let small = d.compress(&zeros[..cap]).to_vec();
    inf.inflate(&small, cap, &mut exact).unwrap();
    assert_eq!(exact.len(), cap);
}

#[test]
fn corrupt_data_is_1007_and_says_corrupt() {
    let mut inf = Inflater::new();
    let err = inf
        .inflate(&[0xff, 0xff, 0xff, 0xff, 0x12], 1000, &mut Vec::new())
        .unwrap_err();
    assert_eq!(err, Error::CorruptDeflate);
    assert!(err.to_string().contains("corrupt"));
    assert_eq!(err.close_code(), Some(CloseCode::INVALID_PAYLOAD_DATA));
}

// ---- A19: an empty compressed message inflates to nothing, no panic
#[test]
fn a19_empty_compressed_message() {
    let f = [0xc2, 0x00];
    let (evs, err) = decode_all(comp_client(), &f);
    assert_eq!(err, None);
    assert_eq!(
        evs,
        vec![Ev::Data {
            payload: vec![],
            fin: true,
            compressed: true,
            text: false
        }]
    );
    assert_eq!(messages(comp_client(), &f), vec![Vec::<u8>::new()]);
}

#[test]
fn deflate_round_trip_and_tail_removed() {
    let mut d = Deflater::new();
    let mut inf = Inflater::new();
    for len in [0usize, 1, 5, 64, 65, 1000, 100_000] {
        let p: Vec<u8> = (0..len).map(|i| (i * i % 251) as u8).collect();
        let c = d.compress(&p).to_vec();
        assert!(!c.ends_with(&[0, 0, 0xff, 0xff]) || c.len() < 4);
        let mut out = Vec::new();
        inf.inflate(&c, len, &mut out).unwrap();
        assert_eq!(out, p, "len {len}");
    }
}

// ---- F55 TestWSCompressionBasic: above 64 bytes one FIN|RSV1|binary frame
// whose body is the deflate output minus the 4-byte tail; tiny batches are
// sent uncompressed.
#[test]
fn f55_compression_basic() {
    let payload = "This is the content of a message that will be compresseddddddddddddddddddddd.";
    let msg = format!("MSG foo 1 {}\r\n{}\r\n", payload.len(), payload);
    let mut d = Deflater::new();
    let expected_body = d.compress(msg.as_bytes()).to_vec();
    let mut out = Vec::new();
    d.frame_batch(msg.as_bytes(), &mut out, Framing::SINGLE, None);
    assert_eq!(out[0], 0x80 | 0x40 | 0x02);
    assert_eq!(out[1] as usize, expected_body.len());
    assert_eq!(&out[2..], &expected_body[..]);
    assert!(!out.windows(payload.len()).any(|w| w == payload.as_bytes()));
    assert_eq!(messages(comp_client(), &out), vec![msg.as_bytes().to_vec()]);
    // At and below the 64-byte threshold: uncompressed.
    for n in [0usize, 1, 64] {
        let small = vec![b'a'; n];
        out.clear();
        d.frame_batch(&small, &mut out, Framing::SINGLE, None);
        if n == 0 {
            assert!(out.is_empty());
        } else {
            assert_eq!(out[0], 0x82, "no RSV1 at {n} bytes");
            assert_eq!(&out[2..], &small[..]);
        }
    }
    out.clear();
    d.frame_batch(&[b'a'; 65], &mut out, Framing::SINGLE, None);
    assert_eq!(out[0], 0xc2, "RSV1 above 64 bytes");
}

// ---- F57 TestWSCompressionFrameSizeLimit: browser + compression
#[test]
fn f57_compressed_browser_fragments() {
    let mut seed = 12345u32;
    let payload: Vec<u8> = (0..2 * 4096)
        .map(|_| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (seed >> 16) as u8
        })
        .collect();
    for masked in [false, true] {
        let mut d = Deflater::new();
        let mut out = Vec::new();
        let mut k = 0u8;
        let mut next = || {
            k = k.wrapping_add(1);
            [k, 0x5a, k ^ 0xff, 7]
        };
        let mask: natsws_core::ws::codec::MaskSource<'_> =
            if masked { Some(&mut next) } else { None };
        d.frame_batch(&payload, &mut out, Framing::BROWSER, mask);
        let cfg = if masked { comp_server() } else { comp_client() };
        let (evs, err) = decode_all(cfg, &out);
        assert_eq!(err, None);
        let pieces: Vec<_> = evs
            .iter()
            .map(|e| match e {
                Ev::Data {
                    payload,
                    fin,
                    compressed,
                    ..
                } => (payload.len(), *fin, *compressed),
                _ => panic!("unexpected {e:?}"),
            })
            .collect();
        assert!(pieces.len() >= 2, "random data must need several fragments");
        assert!(pieces.iter().all(|p| p.0 <= 4096 && p.2));
        assert!(pieces[..pieces.len() - 1].iter().all(|p| !p.1));
        assert!(pieces.last().unwrap().1);
        // RSV1 and opcode binary only on the first frame, continuations after.
        let mut pos = 0;
        let mut first = true;
        while pos < out.len() {
            let b0 = out[pos];
            assert_eq!(b0 & 0x40 != 0, first);
            assert_eq!(b0 & 0x0f, if first { 2 } else { 0 });
            let b1 = out[pos + 1];
            let (len, mut h) = match b1 & 0x7f {
                126 => (u16::from_be_bytes([out[pos + 2], out[pos + 3]]) as usize, 4),
                l => (l as usize, 2),
            };
            if b1 & 0x80 != 0 {
                h += 4;
            }
            assert_eq!(b1 & 0x80 != 0, masked);
            pos += h + len;
            first = false;
        }
        assert_eq!(messages(cfg, &out), vec![payload.clone()]);
    }
    // Safari (and non-browsers): one frame.
    let mut d = Deflater::new();
    let mut out = Vec::new();
    d.frame_batch(&payload, &mut out, Framing::SINGLE, None);
    let (evs, _) = decode_all(comp_client(), &out);
    assert_eq!(evs.len(), 1);
}
