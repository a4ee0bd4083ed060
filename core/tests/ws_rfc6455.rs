//! RFC 6455 vectors: §1.3 accept key, every §5.7 example, close codes §7.4.
#![allow(missing_docs)]

#[path = "ws_common/mod.rs"]
mod common;
use common::*;

use natsws_core::ws::codec::{write_frame, write_ping, write_pong};
use natsws_core::ws::handshake::accept_key;
use natsws_core::ws::{CloseCode, OpCode};

#[test]
fn accept_key_rfc6455_1_3() {
    assert_eq!(
        accept_key(b"dGhlIHNhbXBsZSBub25jZQ==").as_str(),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
}

fn data(p: &[u8], fin: bool, text: bool) -> Ev {
    Ev::Data {
        payload: p.to_vec(),
        fin,
        compressed: false,
        text,
    }
}

#[test]
fn single_frame_unmasked_text_5_7() {
    let bytes = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    // Unmasked frames are what a client receives.
    let (evs, err) = decode_all(client(), &bytes);
    assert_eq!(err, None);
    assert_eq!(evs, vec![data(b"Hello", true, true)]);
    // And what a server writes.
    let mut out = Vec::new();
    write_frame(&mut out, OpCode::TEXT, true, false, b"Hello", None).unwrap();
    assert_eq!(out, bytes);
}

#[test]
fn single_frame_masked_text_5_7() {
    let bytes = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    let (evs, err) = decode_all(server(), &bytes);
    assert_eq!(err, None);
    assert_eq!(evs, vec![data(b"Hello", true, true)]);
    let mut out = Vec::new();
    write_frame(
        &mut out,
        OpCode::TEXT,
        true,
        false,
        b"Hello",
        Some([0x37, 0xfa, 0x21, 0x3d]),
    )
    .unwrap();
    assert_eq!(out, bytes);
}

#[test]
fn fragmented_unmasked_text_5_7() {
    let bytes = [0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f];
    let (evs, err) = decode_all(client(), &bytes);
    assert_eq!(err, None);
    assert_eq!(
        evs,
        vec![data(b"Hel", false, true), data(b"lo", true, true)]
    );
    let mut out = Vec::new();
    write_frame(&mut out, OpCode::TEXT, false, false, b"Hel", None).unwrap();
    write_frame(&mut out, OpCode::CONTINUATION, true, false, b"lo", None).unwrap();
    assert_eq!(out, bytes);
}

#[test]
fn ping_and_masked_pong_5_7() {
    let ping = [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    let (evs, err) = decode_all(client(), &ping);
    assert_eq!((evs, err), (vec![Ev::Ping(b"Hello".to_vec())], None));
    let pong = [
        0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    let (evs, err) = decode_all(server(), &pong);
    assert_eq!((evs, err), (vec![Ev::Pong(b"Hello".to_vec())], None));
    let mut out = Vec::new();
    write_ping(&mut out, b"Hello", None).unwrap();
    assert_eq!(out, ping);
    out.clear();
    write_pong(&mut out, b"Hello", Some([0x37, 0xfa, 0x21, 0x3d])).unwrap();
    assert_eq!(out, pong);
}

#[test]
fn binary_256_bytes_16bit_length_5_7() {
    let payload: Vec<u8> = (0..256u32).map(|i| (i * 7) as u8).collect();
    let mut bytes = vec![0x82, 0x7e, 0x01, 0x00];
    bytes.extend_from_slice(&payload);
    let (evs, err) = decode_all(client(), &bytes);
    assert_eq!(err, None);
    assert_eq!(evs, vec![data(&payload, true, false)]);
    let mut out = Vec::new();
    write_frame(&mut out, OpCode::BINARY, true, false, &payload, None).unwrap();
    assert_eq!(out, bytes);
}

#[test]
fn binary_64k_64bit_length_5_7() {
    let payload: Vec<u8> = (0..65536u32).map(|i| (i % 251) as u8).collect();
    let mut bytes = vec![0x82, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00];
    bytes.extend_from_slice(&payload);
    let (evs, err) = decode_all(client(), &bytes);
    assert_eq!(err, None);
    assert_eq!(evs, vec![data(&payload, true, false)]);
    let mut out = Vec::new();
    write_frame(&mut out, OpCode::BINARY, true, false, &payload, None).unwrap();
    assert_eq!(out, bytes);
}

#[test]
fn close_codes_7_4() {
    for c in 0..=u16::MAX {
        let valid = matches!(c, 1000..=1003 | 1007..=1014 | 3000..=4999);
        assert_eq!(CloseCode(c).is_valid_received(), valid, "{c}");
        assert_eq!(CloseCode(c).is_sendable(), valid, "{c}");
        assert_eq!(CloseCode(c).to_sendable().is_some(), valid, "{c}");
    }
    for never in [1005, 1006, 1015] {
        assert!(!CloseCode(never).is_sendable());
    }
}

#[test]
fn opcode_classes() {
    for op in [OpCode::CLOSE, OpCode::PING, OpCode::PONG] {
        assert!(op.is_control() && !op.is_data());
    }
    for op in [OpCode::CONTINUATION, OpCode::TEXT, OpCode::BINARY] {
        assert!(!op.is_control() && op.is_data());
    }
    for n in [3u8, 4, 5, 6, 7, 11, 12, 13, 14, 15] {
        assert!(!OpCode(n).is_known());
    }
}
