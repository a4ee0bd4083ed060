//! The read side of a connection ([`Inbound`]): NATS stream out, pongs,
//! close reply, compressed messages (spec §3.3–§3.5, §4.1; codec-level
//! versions of D40, D42, D43, D46).
#![cfg(feature = "deflate")]
#![allow(missing_docs)]

#[path = "ws_common/mod.rs"]
mod common;
use common::*;

use natsws_core::ws::codec::Framing;
use natsws_core::ws::deflate::{Deflater, Inflater};
use natsws_core::ws::inbound::{CloseReply, Inbound, ReadStatus};
use natsws_core::ws::{CloseCode, DecoderConfig, Error};

fn comp() -> DecoderConfig {
    let mut c = DecoderConfig::server();
    c.compression = true;
    c
}

/// Compressed client message frames (masked), fragmented into `parts`.
fn compressed_frames(msg: &[u8], parts: usize) -> Vec<u8> {
    let mut d = Deflater::new();
    let c = d.compress(msg).to_vec();
    let step = c.len().div_ceil(parts).max(1);
    let chunks: Vec<&[u8]> = c.chunks(step).collect();
    let mut out = Vec::new();
    for (i, ch) in chunks.iter().enumerate() {
        let first = i == 0;
        let last = i == chunks.len() - 1;
        let mut b0 = if first { 0x42 } else { 0x00 };
        if last {
            b0 |= 0x80;
        }
        out.extend(cframe(b0, ch));
    }
    out
}

fn run(
    cfg: DecoderConfig,
    max_payload: usize,
    chunks: &[&[u8]],
    inf: &mut Inflater,
) -> (Vec<u8>, Vec<u8>, Result<ReadStatus, Error>) {
    let mut ws = Inbound::new(cfg, max_payload);
    let (mut nats, mut control) = (Vec::new(), Vec::new());
    let mut st = Ok(ReadStatus::Open);
    for c in chunks {
        let buf = c.to_vec();
        st = ws.read(&buf, &mut nats, &mut control, None, Some(inf));
        if !matches!(st, Ok(ReadStatus::Open)) {
            break;
        }
    }
    (nats, control, st)
}

fn stream() -> (Vec<u8>, Vec<u8>) {
    let mut s = cframe(0x82, b"SUB foo 1\r\n");
    s.extend(cframe(0x89, b"p1"));
    s.extend(cframe(0x02, b"PUB foo 5\r\nhe"));
    s.extend(cframe(0x8a, b"ignored"));
    s.extend(cframe(0x80, b"llo\r\n"));
    let big: Vec<u8> = b"PUB foo 11\r\nhello world\r\n".repeat(40);
    s.extend(compressed_frames(&big, 1));
    s.extend(compressed_frames(&big, 3));
    s.extend(cframe(0x89, b"p2"));
    s.extend(cframe(0x82, b"PING\r\n"));
    s.extend(cframe(0x88, &[0x03, 0xe8, b'o', b'k']));
    s.extend(cframe(0x82, b"after close"));
    let nats = [
        &b"SUB foo 1\r\nPUB foo 5\r\nhello\r\n"[..],
        &big,
        &big,
        b"PING\r\n",
    ]
    .concat();
    (s, nats)
}

#[test]
fn mixed_stream_whole_and_every_split() {
    let (s, want) = stream();
    let mut inf = Inflater::new();
    let (nats, control, st) = run(comp(), 1 << 20, &[&s], &mut inf);
    assert_eq!(nats, want);
    assert_eq!(control, [&[0x8a, 2][..], b"p1", &[0x8a, 2], b"p2"].concat());
    let reply = CloseReply {
        code: Some(CloseCode::NORMAL),
        reason: "ok".into(),
    };
    assert_eq!(st, Ok(ReadStatus::Closed(reply.clone())));
    let mut out = Vec::new();
    reply.write(&mut out, None);
    assert_eq!(out, [0x88, 0x04, 0x03, 0xe8, b'o', b'k']);
    for i in 0..=s.len() {
        let (n, c, st2) = run(comp(), 1 << 20, &[&s[..i], &s[i..]], &mut inf);
        assert_eq!((n, c), (want.clone(), control.clone()), "split {i}");
        assert_eq!(st2, st);
    }
}

#[test]
fn compressed_without_inflater_is_misuse() {
    let mut ws = Inbound::new(comp(), 0);
    let buf = compressed_frames(&[b'a'; 100], 1);
    let err = ws
        .read(&buf, &mut Vec::new(), &mut Vec::new(), None, None)
        .unwrap_err();
    assert!(matches!(err, Error::ApiMisuse(_)));
}

// D40 TestWSBatchedPubInSingleFrame: an uncompressed frame above max_payload
// holding two PUBs and a PING is accepted (no ws-level limit).
#[test]
fn d40_uncompressed_frame_above_max_payload() {
    let body = vec![b'x'; 600];
    let msg = [
        format!("PUB foo {}\r\n", body.len()).into_bytes(),
        body.clone(),
        b"\r\n".to_vec(),
        format!("PUB bar {}\r\n", body.len()).into_bytes(),
        body,
        b"\r\nPING\r\n".to_vec(),
    ]
    .concat();
    let (nats, _, st) = run(
        DecoderConfig::server(),
        1024,
        &[&cframe(0x82, &msg)],
        &mut Inflater::new(),
    );
    assert_eq!(st, Ok(ReadStatus::Open));
    assert_eq!(nats, msg);
}

// D42 TestWSCompressedSequentialFramesRemainResponsive
#[test]
fn d42_many_compressed_messages_in_a_row() {
    let mut s = Vec::new();
    let mut want = Vec::new();
    for i in 0..64 {
        let m = format!("PUB foo {}\r\n{:070}\r\n", 70, i).into_bytes();
        s.extend(compressed_frames(&m, 1));
        want.extend(m);
    }
    s.extend(cframe(0x82, b"PING\r\n"));
    want.extend(b"PING\r\n");
    let (nats, _, st) = run(comp(), 1 << 20, &[&s], &mut Inflater::new());
    assert_eq!(st, Ok(ReadStatus::Open));
    assert_eq!(nats, want);
}

// D43 TestWSCompressedFragmentedFrame
#[test]
fn d43_compressed_message_in_two_fragments() {
    let m = b"PUB foo 12\r\nfragmented!!\r\n".repeat(10);
    let frames = compressed_frames(&m, 2);
    let (nats, _, st) = run(comp(), 1 << 20, &[&frames], &mut Inflater::new());
    assert_eq!(st, Ok(ReadStatus::Open));
    assert_eq!(nats, m);
}

// D44 TestWSCorruptedCompressedFrameIsRejected
#[test]
fn d44_corrupt_compressed_frame() {
    let f = cframe(0xc2, &[0xff, 0xff, 0xff, 0xff, 0x12, 0x34]);
    let (_, _, st) = run(comp(), 1 << 20, &[&f], &mut Inflater::new());
    let err = st.unwrap_err();
    assert!(err.to_string().contains("corrupt"));
}

// D46 TestWSDecompressLimit: a compressed PUB of max_payload+1 bytes fails
// with `maximum payload exceeded` after the first max_payload bytes.
#[test]
fn d46_decompress_limit() {
    for max in [4096usize, 1 << 20] {
        let m = vec![b'z'; max + 1];
        let f = compressed_frames(&m, 1);
        let (nats, _, st) = run(comp(), max, &[&f], &mut Inflater::new());
        assert_eq!(st, Err(Error::MaxPayloadExceeded));
        assert_eq!(nats.len(), max);
        let m = vec![b'z'; max];
        let (nats, _, st) = run(
            comp(),
            max,
            &[&compressed_frames(&m, 1)],
            &mut Inflater::new(),
        );
        assert_eq!(st, Ok(ReadStatus::Open));
        assert_eq!(nats.len(), max);
    }
}

#[test]
fn one_inflater_shared_by_interleaved_connections() {
    let a_msg = b"connection A says hello, hello, hello, hello".repeat(5);
    let b_msg = b"connection B answers something else entirely".repeat(5);
    let a = compressed_frames(&a_msg, 2);
    let b = compressed_frames(&b_msg, 1);
    let mut inf = Inflater::new();
    let mut ca = Inbound::new(comp(), 0);
    let mut cb = Inbound::new(comp(), 0);
    let (mut na, mut nb, mut ctl) = (Vec::new(), Vec::new(), Vec::new());
    // A's first fragment, then all of B, then the rest of A.
    let split = {
        let len1 = a[1] as usize & 0x7f;
        2 + 4 + len1
    };
    let a1 = a[..split].to_vec();
    let a2 = a[split..].to_vec();
    let b = b.clone();
    ca.read(&a1, &mut na, &mut ctl, None, Some(&mut inf))
        .unwrap();
    cb.read(&b, &mut nb, &mut ctl, None, Some(&mut inf))
        .unwrap();
    ca.read(&a2, &mut na, &mut ctl, None, Some(&mut inf))
        .unwrap();
    assert_eq!(na, a_msg);
    assert_eq!(nb, b_msg);
}

#[test]
fn client_role_masks_its_pongs_and_reads_server_frames() {
    let mut d = Deflater::new();
    let mut s = Vec::new();
    d.frame_batch(
        &b"MSG foo 1 5\r\nhello\r\n".repeat(10),
        &mut s,
        Framing::SINGLE,
        None,
    );
    s.extend([0x89, 0x01, b'x']);
    let mut cfg = DecoderConfig::client();
    cfg.compression = true;
    let mut ws = Inbound::new(cfg, 0);
    let (mut nats, mut control) = (Vec::new(), Vec::new());
    let mut key = || [9u8, 8, 7, 6];
    let st = ws
        .read(
            &s,
            &mut nats,
            &mut control,
            Some(&mut key),
            Some(&mut Inflater::new()),
        )
        .unwrap();
    assert_eq!(st, ReadStatus::Open);
    assert_eq!(nats, b"MSG foo 1 5\r\nhello\r\n".repeat(10));
    assert_eq!(control, [0x8a, 0x81, 9, 8, 7, 6, b'x' ^ 9]);
}

#[test]
fn compressed_text_validated_after_inflate_when_enabled() {
    let mut cfg = comp();
    cfg.validate_utf8 = true;
    let mut d = Deflater::new();
    let bad = d.compress(&[b'a', 0xff, b'b']).to_vec();
    let good = d.compress("κόσμε".as_bytes()).to_vec();
    let mut inf = Inflater::new();
    let (_, _, st) = run(cfg, 0, &[&cframe(0xc1, &good)], &mut inf);
    assert_eq!(st, Ok(ReadStatus::Open));
    let (_, _, st) = run(cfg, 0, &[&cframe(0xc1, &bad)], &mut inf);
    assert_eq!(st, Err(Error::InvalidUtf8Text));
    // Binary is not checked.
    let (_, _, st) = run(cfg, 0, &[&cframe(0xc2, &bad)], &mut inf);
    assert_eq!(st, Ok(ReadStatus::Open));
}

#[test]
fn binary_only_refuses_a_text_message_with_1003_and_keeps_none_of_it() {
    let mut ws = Inbound::new(DecoderConfig::server(), 0);
    ws.set_binary_only(true);
    let (mut nats, mut control) = (Vec::new(), Vec::new());
    // A binary message passes.
    let st = ws.read(&cframe(0x82, b"bin"), &mut nats, &mut control, None, None);
    assert!(matches!(st, Ok(ReadStatus::Open)));
    assert_eq!(nats, b"bin");
    // A text message (here fragmented: its first frame decides) is refused.
    let mut text = cframe(0x01, b"te");
    text.extend(cframe(0x80, b"xt"));
    let st = ws.read(&text, &mut nats, &mut control, None, None);
    assert_eq!(st, Err(Error::TextNotAllowed));
    assert_eq!(
        Error::TextNotAllowed.close_code(),
        Some(CloseCode::UNSUPPORTED_DATA)
    );
    assert_eq!(nats, b"bin", "no byte of the text message");
    // Off (the default, NATS): text is taken like binary.
    let mut ws = Inbound::new(DecoderConfig::server(), 0);
    let mut nats = Vec::new();
    let st = ws.read(&cframe(0x81, b"txt"), &mut nats, &mut control, None, None);
    assert!(matches!(st, Ok(ReadStatus::Open)));
    assert_eq!(nats, b"txt");
}
