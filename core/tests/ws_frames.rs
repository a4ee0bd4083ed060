//! Frame codec: spec §8 group A (codec-level cases, same inputs and
//! outcomes), masking, UTF-8, limits, and the chunking property.
#![allow(missing_docs)]

#[path = "ws_common/mod.rs"]
mod common;
use common::*;

use natsws_core::ws::codec::{
    write_close, write_close_for_error, write_close_reply, write_pong, CloseState,
};
use natsws_core::ws::frame::{ClosePayload, FrameHeader};
use natsws_core::ws::mask::{apply_mask, apply_mask_scalar, unmask_into};
use natsws_core::ws::utf8::Utf8Validator;
use natsws_core::ws::{CloseCode, Decoder, DecoderConfig, Error, OpCode, Reaction, SendCloseCode};
use proptest::prelude::*;

const BIN: u8 = 0x82; // FIN | binary
const BIN_NOFIN: u8 = 0x02;
const CONT_FIN: u8 = 0x80;
const CONT: u8 = 0x00;

fn d(p: &[u8], fin: bool) -> Ev {
    Ev::Data {
        payload: p.to_vec(),
        fin,
        compressed: false,
        text: false,
    }
}

fn payloads(evs: &[Ev]) -> Vec<Vec<u8>> {
    evs.iter()
        .filter_map(|e| match e {
            Ev::Data { payload, .. } => Some(payload.clone()),
            _ => None,
        })
        .collect()
}

// ---- A3 TestWSUnmask
#[test]
fn a3_unmask_whole_and_in_parts() {
    let key = [1u8, 2, 3, 4];
    let clear = b"this is a clear text that is going to be masked".to_vec();
    let mut masked = clear.clone();
    apply_mask_scalar(&mut masked, key, 0);
    assert_ne!(masked, clear);
    let mut whole = masked.clone();
    assert_eq!(apply_mask(&mut whole, key, 0), clear.len() % 4);
    assert_eq!(whole, clear);
    // Several partial calls, carrying the key position.
    let mut parts = masked.clone();
    let mut pos = 0;
    let mut at = 0;
    for n in [1usize, 2, 3, 5, 7, 11, 13] {
        let end = (at + n).min(parts.len());
        pos = apply_mask(&mut parts[at..end], key, pos);
        at = end;
    }
    apply_mask(&mut parts[at..], key, pos);
    assert_eq!(parts, clear);
}

#[test]
fn fast_unmask_equals_scalar_all_lengths_and_offsets() {
    let key = [0x37, 0xfa, 0x21, 0x3d];
    for len in 0..=64usize {
        let data: Vec<u8> = (0..len).map(|i| (i * 31 + 7) as u8).collect();
        for off in 0..4 {
            let mut a = data.clone();
            let mut b = data.clone();
            let ra = apply_mask(&mut a, key, off);
            let rb = apply_mask_scalar(&mut b, key, off);
            assert_eq!(a, b, "len {len} offset {off}");
            assert_eq!(ra, rb);
        }
    }
}

#[test]
fn unmask_into_equals_copy_then_scalar_across_blocks() {
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let data: Vec<u8> = (0..5000usize).map(|i| (i * 131 + 7) as u8).collect();
    for len in (0..=70).chain([2047, 2048, 2049, 4095, 4096, 4097, 5000]) {
        for off in 0..6 {
            let mut out = vec![0xaa; 3];
            let r = unmask_into(&mut out, &data[..len], key, off);
            let mut want = data[..len].to_vec();
            let rw = apply_mask_scalar(&mut want, key, off);
            assert_eq!(&out[..3], &[0xaa; 3], "prefix kept");
            assert_eq!(&out[3..], &want[..], "len {len} offset {off}");
            assert_eq!(r, rw);
        }
    }
}

proptest! {
    #[test]
    fn fast_unmask_equals_scalar_random(
        data in proptest::collection::vec(any::<u8>(), 0..2048),
        key in any::<[u8; 4]>(),
        off in 0usize..16,
    ) {
        let mut a = data.clone();
        let mut b = data;
        prop_assert_eq!(apply_mask(&mut a, key, off), apply_mask_scalar(&mut b, key, off));
        prop_assert_eq!(a, b);
    }
}

// ---- A4 TestWSCreateCloseMessage
#[test]
fn a4_close_payload_status_and_truncation() {
    let p = ClosePayload::new(SendCloseCode::PROTOCOL_ERROR, "some reason");
    assert_eq!(&p.as_bytes()[..2], &1002u16.to_be_bytes());
    assert_eq!(&p.as_bytes()[2..], b"some reason");
    let long = "x".repeat(200);
    let p = ClosePayload::new(SendCloseCode::PROTOCOL_ERROR, &long);
    assert_eq!(p.as_bytes().len(), 125);
    let reason = &p.as_bytes()[2..];
    assert_eq!(reason.len(), 123);
    assert!(reason.ends_with(b"..."));
    assert_eq!(&reason[..120], &long.as_bytes()[..120]);
    // Exactly 123 bytes is kept whole.
    let r123 = "y".repeat(123);
    assert_eq!(
        &ClosePayload::new(SendCloseCode::NORMAL, &r123).as_bytes()[2..],
        r123.as_bytes()
    );
    // Multi-byte chars are not split.
    let wide = "é".repeat(100);
    let p = ClosePayload::new(SendCloseCode::NORMAL, &wide);
    assert!(core::str::from_utf8(&p.as_bytes()[2..]).is_ok());
    assert!(p.as_bytes().len() <= 125);
}

// ---- A5 TestWSCreateFrameHeader
#[test]
fn a5_frame_header_forms() {
    for (len, hlen, b1) in [
        (0u64, 2usize, 0u8),
        (10, 2, 10),
        (125, 2, 125),
        (126, 4, 126),
        (65535, 4, 126),
        (65536, 10, 127),
        (1 << 40, 10, 127),
    ] {
        for (fin, rsv1, op) in [(true, false, OpCode::BINARY), (false, true, OpCode::TEXT)] {
            let h = FrameHeader {
                fin,
                rsv1,
                opcode: op,
                len,
                mask: None,
            };
            let mut buf = [0u8; 14];
            let n = h.encode(&mut buf);
            assert_eq!(n, hlen, "len {len}");
            let mut b0 = op.0;
            if fin {
                b0 |= 0x80;
            }
            if rsv1 {
                b0 |= 0x40;
            }
            assert_eq!(buf[0], b0);
            assert_eq!(buf[1], b1);
            match hlen {
                4 => assert_eq!(u16::from_be_bytes([buf[2], buf[3]]) as u64, len),
                10 => assert_eq!(u64::from_be_bytes(buf[2..10].try_into().unwrap()), len),
                _ => {}
            }
        }
        let h = FrameHeader {
            fin: true,
            rsv1: false,
            opcode: OpCode::BINARY,
            len,
            mask: Some([1, 2, 3, 4]),
        };
        let mut buf = [0u8; 14];
        assert_eq!(h.encode(&mut buf), hlen + 4);
        assert_eq!(buf[1] & 0x80, 0x80);
        assert_eq!(&buf[hlen..hlen + 4], &[1, 2, 3, 4]);
    }
}

// ---- A6 TestWSReadUncompressedFrames
#[test]
fn a6_two_frames_in_one_buffer_and_split_frame() {
    let mut rb = cframe(BIN, b"first message");
    rb.extend(cframe(BIN, b"second message"));
    let (evs, err) = decode_all(server(), &rb);
    assert_eq!(err, None);
    assert_eq!(
        evs,
        vec![d(b"first message", true), d(b"second message", true)]
    );

    // A frame split across reads yields partial payloads in order.
    let f = cframe(BIN, b"a message split in two reads");
    let (evs, err) = decode_chunks(server(), &[&f[..12], &f[12..]]);
    assert_eq!(err, None);
    assert_eq!(
        evs,
        vec![d(b"a mess", false), d(b"age split in two reads", true)]
    );
}

// ---- A7 TestWSReadVariousFrameSizes
#[test]
fn a7_various_frame_sizes() {
    for size in [100usize, 1000, 70000] {
        let p: Vec<u8> = (0..size).map(|i| (i % 253) as u8).collect();
        let (evs, err) = decode_all(server(), &cframe(BIN, &p));
        assert_eq!(err, None);
        assert_eq!(evs, vec![d(&p, true)], "size {size}");
    }
}

// ---- A8 TestWSReadFragmentedFrames
#[test]
fn a8_fragmented_frames() {
    let mut rb = cframe(BIN_NOFIN, b"first");
    rb.extend(cframe(CONT, b"second"));
    rb.extend(cframe(CONT_FIN, b"third"));
    let (evs, err) = decode_all(server(), &rb);
    assert_eq!(err, None);
    assert_eq!(
        evs,
        vec![d(b"first", false), d(b"second", false), d(b"third", true)]
    );
}

// ---- A9 TestWSReadPartialFrameHeaderAtEndOfReadBuffer
#[test]
fn a9_partial_header_at_end_of_buffer() {
    let msg1 = cframe(BIN, b"msg1");
    let msg2 = cframe(BIN, b"msg2");
    let mut dec = Decoder::new(server());
    let mut rb = msg1.clone();
    rb.push(msg2[0]);
    let (n, ev) = dec.decode(&mut rb).unwrap();
    assert_eq!(n, msg1.len());
    assert_eq!(
        ev,
        Some(natsws_core::ws::Event::Data {
            payload: b"msg1",
            fin: true,
            compressed: false,
            text: false
        })
    );
    // Byte 0 of the next header is kept by the decoder...
    let (n, ev) = dec.decode(&mut rb[msg1.len()..]).unwrap();
    assert_eq!((n, ev), (1, None));
    // ...and exactly 5 more bytes (length + key) complete the header.
    let mut rest = msg2[1..].to_vec();
    let mut hdr = rest[..5].to_vec();
    let (n, ev) = dec.decode(&mut hdr).unwrap();
    assert_eq!((n, ev), (5, None));
    let (n, ev) = dec.decode(&mut rest[5..]).unwrap();
    assert_eq!(n, 4);
    assert_eq!(
        ev,
        Some(natsws_core::ws::Event::Data {
            payload: b"msg2",
            fin: true,
            compressed: false,
            text: false
        })
    );
}

// ---- A10 TestWSReadPingFrame
#[test]
fn a10_ping_yields_no_data_and_pong_echoes() {
    for payload in [&b""[..], b"optional payload"] {
        let (evs, err) = decode_all(server(), &cframe(0x89, payload));
        assert_eq!(err, None);
        assert_eq!(evs, vec![Ev::Ping(payload.to_vec())]);
        let mut out = Vec::new();
        write_pong(&mut out, payload, None).unwrap();
        assert_eq!(out.len(), 2 + payload.len());
        assert_eq!(out[0], 0x80 | 0x0a);
        assert_eq!(&out[2..], payload);
    }
}

// ---- A11 TestWSReadPongFrame
#[test]
fn a11_pong_yields_no_data() {
    for payload in [&b""[..], b"optional payload"] {
        let (evs, err) = decode_all(server(), &cframe(0x8a, payload));
        assert_eq!(err, None);
        assert_eq!(evs, vec![Ev::Pong(payload.to_vec())]);
        assert!(payloads(&evs).is_empty());
    }
}

// ---- A12 TestWSReadCloseFrame
#[test]
fn a12_close_after_data_is_echoed_and_ends_reading() {
    for body in [&b""[..], b"optional payload"] {
        let mut cp = 1000u16.to_be_bytes().to_vec();
        cp.extend_from_slice(body);
        let mut rb = cframe(BIN, b"msg");
        rb.extend(cframe(0x88, &cp));
        rb.extend(cframe(BIN, b"after close: ignored"));
        let (evs, err) = decode_all(server(), &rb);
        assert_eq!(err, None);
        let reason = String::from_utf8(body.to_vec()).unwrap();
        assert_eq!(
            evs,
            vec![
                d(b"msg", true),
                Ev::Close {
                    code: Some(CloseCode::NORMAL),
                    reason: reason.clone()
                }
            ]
        );
        let mut out = Vec::new();
        write_close_reply(&mut out, Some(CloseCode::NORMAL), &reason, None);
        assert_eq!(out.len(), 2 + 2 + body.len());
        assert_eq!(out[0], 0x88);
        assert_eq!(u16::from_be_bytes([out[2], out[3]]), 1000);
        assert_eq!(&out[4..], body);
    }
    // A close without status is answered with an empty close.
    let (evs, _) = decode_all(server(), &cframe(0x88, b""));
    assert_eq!(
        evs,
        vec![Ev::Close {
            code: None,
            reason: String::new()
        }]
    );
    let mut out = Vec::new();
    write_close_reply(&mut out, None, "", None);
    assert_eq!(out, [0x88, 0x00]);
}

// ---- A13 TestWSReadControlFrameBetweebFragmentedFrames
#[test]
fn a13_control_frame_between_fragments() {
    let mut rb = cframe(BIN_NOFIN, b"first");
    rb.extend(cframe(0x8a, b""));
    rb.extend(cframe(CONT_FIN, b"second"));
    let (evs, err) = decode_all(server(), &rb);
    assert_eq!(err, None);
    assert_eq!(
        evs,
        vec![d(b"first", false), Ev::Pong(vec![]), d(b"second", true)]
    );
}

// ---- A14 TestWSCloseFrameWithPartialOrInvalid
#[test]
fn a14_close_partial_one_byte_and_invalid_status() {
    let mut cp = 1000u16.to_be_bytes().to_vec();
    cp.extend_from_slice(b"this is a close message");
    let f = cframe(0x88, &cp);
    let (evs, err) = decode_chunks(server(), &[&f[..f.len() - 6], &f[f.len() - 6..]]);
    assert_eq!(err, None);
    assert_eq!(
        evs,
        vec![Ev::Close {
            code: Some(CloseCode(1000)),
            reason: "this is a close message".into()
        }]
    );

    let (evs, err) = decode_all(server(), &cframe(0x88, &[0x03]));
    assert!(evs.is_empty());
    let err = err.unwrap();
    assert_eq!(err.to_string(), "close frame payload cannot be 1 byte");
    assert_eq!(err.close_code(), Some(CloseCode::PROTOCOL_ERROR));

    let (_, err) = decode_all(server(), &cframe(0x88, &1005u16.to_be_bytes()));
    let err = err.unwrap();
    assert_eq!(err.to_string(), "invalid close status code 1005");
    assert_eq!(err.close_code(), Some(CloseCode::PROTOCOL_ERROR));
    let mut out = Vec::new();
    assert!(write_close_for_error(&mut out, &err, None));
    assert_eq!(u16::from_be_bytes([out[2], out[3]]), 1002);
    assert_eq!(&out[4..], b"invalid close status code 1005");
}

#[test]
fn close_codes_invalid_on_receive() {
    for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
        let (_, err) = decode_all(server(), &cframe(0x88, &code.to_be_bytes()));
        assert_eq!(err, Some(Error::InvalidCloseCode(code)), "{code}");
    }
    for code in [1000u16, 1001, 1002, 1003, 1007, 1011, 1014, 3000, 4999] {
        let (evs, err) = decode_all(server(), &cframe(0x88, &code.to_be_bytes()));
        assert_eq!(err, None);
        assert_eq!(
            evs,
            vec![Ev::Close {
                code: Some(CloseCode(code)),
                reason: String::new()
            }]
        );
    }
}

// ---- A15 TestWSReadGetErrors: earlier complete frames are delivered while a
// later header is incomplete.
#[test]
fn a15_incomplete_header_after_good_frame() {
    for (len, extra) in [
        (10usize, 1usize),
        (10, 3),
        (200, 1),
        (200, 2),
        (200, 5),
        (70000, 1),
        (70000, 5),
        (70000, 13),
    ] {
        let msg = cframe(BIN, b"msg");
        let mut rb = msg.clone();
        rb.extend(cframe(BIN, &vec![0u8; len]));
        let (evs, err) = decode_all(server(), &rb[..msg.len() + extra]);
        assert_eq!(err, None);
        assert_eq!(
            payloads(&evs),
            vec![b"msg".to_vec()],
            "len {len} extra {extra}"
        );
    }
}

// ---- A16 TestWSHandleControlFrameErrors
#[test]
fn a16_close_missing_bytes_and_invalid_utf8_body() {
    let text = b"this is a close message";
    let mut payload = 1000u16.to_be_bytes().to_vec();
    payload.extend_from_slice(text);
    let ctrl = cframe(0x88, &payload);
    let (evs, err) = decode_all(server(), &ctrl[..ctrl.len() - 4]);
    assert_eq!((evs, err), (vec![], None)); // needs more

    let mut cp = payload.clone();
    cp[10] = 0xF1;
    let (evs, err) = decode_all(server(), &cframe(0x88, &cp));
    assert!(evs.is_empty());
    let err = err.unwrap();
    assert_eq!(err, Error::InvalidCloseReasonUtf8);
    assert_eq!(err.close_code(), Some(CloseCode::INVALID_PAYLOAD_DATA));
    let mut out = Vec::new();
    assert!(write_close_for_error(&mut out, &err, None));
    assert_eq!(out[0], 0x88);
    assert_eq!(u16::from_be_bytes([out[2], out[3]]), 1007);
    assert!(out[4..].windows(4).any(|w| w == b"utf8"));
}

// ---- A17 TestWSReadErrors (each after a good frame, which is kept)
#[test]
fn a17_read_errors_keep_earlier_payloads() {
    let unmasked = frame(BIN, b"hello", None);
    let two = |a: Vec<u8>, b: Vec<u8>| [a, b].concat();
    let mut top_bit = vec![0x82, 0xff];
    top_bit.extend_from_slice(&(1u64 << 63).to_be_bytes());
    top_bit.extend_from_slice(&KEY);
    let cases: Vec<(Vec<u8>, DecoderConfig, &str, usize)> = vec![
        (unmasked, server(), "mask bit missing", 1),
        (
            cframe(0x89, &[0u8; 200]),
            server(),
            "control frame length bigger than maximum allowed of 125 bytes",
            1,
        ),
        (
            cframe(0x09, b"hello"),
            server(),
            "control frame does not have final bit set",
            1,
        ),
        (
            two(cframe(BIN_NOFIN, b"frag1"), cframe(BIN, b"new message")),
            server(),
            "new message started before final frame for previous message was received",
            2,
        ),
        (
            two(cframe(0x42, b"frag1"), cframe(0x40, b"frag2")),
            {
                let mut c = server();
                c.compression = true;
                c
            },
            "invalid continuation frame",
            2, // the (compressed) first fragment is reported too, as in Go
        ),
        (
            cframe(CONT_FIN, b"no start"),
            server(),
            "invalid continuation frame",
            1,
        ),
        (
            cframe(CONT, b"no start"),
            server(),
            "invalid continuation frame",
            1,
        ),
        (cframe(0x8b, b"hello"), server(), "unknown opcode 11", 1),
        (cframe(0x03, b"hello"), server(), "unknown opcode 3", 1),
        (top_bit, server(), "invalid 64-bit payload length", 1),
        (
            cframe(0xc2, b"hello"),
            server(),
            "compressed frame received without negotiated permessage-deflate",
            1,
        ),
        (
            cframe(0xa2, b"hello"),
            server(),
            "RSV2 and RSV3 must be clear",
            1,
        ),
        (
            cframe(0x92, b"hello"),
            server(),
            "RSV2 and RSV3 must be clear",
            1,
        ),
    ];
    for (bad, cfg, text, nbufs) in cases {
        let mut rb = cframe(BIN, b"hello");
        rb.extend(bad);
        let (evs, err) = decode_all(cfg, &rb);
        let err = err.unwrap_or_else(|| panic!("expected error {text:?}"));
        assert_eq!(err.to_string(), text);
        assert_eq!(
            err.reaction(),
            Reaction::Close {
                code: CloseCode::PROTOCOL_ERROR
            }
        );
        let p = payloads(&evs);
        assert_eq!(p.len(), nbufs, "{text}");
        assert_eq!(p[0], b"hello");
    }
}

#[test]
fn control_frame_with_rsv1_under_compression() {
    let mut c = server();
    c.compression = true;
    let (_, err) = decode_all(c, &cframe(0xc9, b"x"));
    assert_eq!(err, Some(Error::ControlFrameCompressed));
    assert_eq!(
        Error::ControlFrameCompressed.to_string(),
        "control frame must not be compressed"
    );
}

// ---- A18 TestWSReadHugePayloadLenDoesNotPanic
#[test]
fn a18_huge_payload_length() {
    let mut f = vec![0x82, 0xff];
    f.extend_from_slice(&[0xff; 8]);
    f.extend_from_slice(&KEY);
    let (evs, err) = decode_all(server(), &f);
    assert!(evs.is_empty());
    assert_eq!(err.unwrap().to_string(), "invalid 64-bit payload length");
}

// ---- A20 TestWSEnqueueCloseMsg: the close frames of spec §3.9 (except
// TLSHandshakeError's 1015, which can never be sent and whose close frame is
// dead in Go too).
#[test]
fn a20_close_frames_for_reasons() {
    let table: &[(u16, &str)] = &[
        (1000, "Client Closed"),
        (1008, "Authentication Timeout"),
        (1008, "Authentication Failure"),
        (1008, "Slow Consumer (Pending Bytes)"),
        (1008, "Maximum Connections Exceeded"),
        (1002, "Parse Error"),
        (1002, "Protocol Violation"),
        (1009, "Maximum Message Payload Exceeded"),
        (1001, "Server Shutdown"),
        (1001, "Stale Connection"),
        (1011, "Kicked"),
    ];
    for &(code, text) in table {
        let mut out = Vec::new();
        let sc = CloseCode(code).to_sendable().unwrap();
        write_close(&mut out, sc, text, None);
        assert_eq!(out[0], 0x88, "FIN | close");
        assert_eq!(out[1] as usize, 2 + text.len());
        assert_eq!(u16::from_be_bytes([out[2], out[3]]), code);
        assert_eq!(&out[4..], text.as_bytes());
        // And it decodes back on the client side.
        let (evs, err) = decode_all(client(), &out);
        assert_eq!(err, None);
        assert_eq!(
            evs,
            vec![Ev::Close {
                code: Some(CloseCode(code)),
                reason: text.into()
            }]
        );
    }
    assert_eq!(CloseCode::TLS_HANDSHAKE.to_sendable(), None);
}

// ---- masking rules
#[test]
fn no_masking_accepts_unmasked_and_still_honours_mask_bit() {
    let mut c = server();
    c.no_masking = true;
    let mut rb = frame(BIN, b"plain", None);
    rb.extend(cframe(BIN, b"masked"));
    let (evs, err) = decode_all(c, &rb);
    assert_eq!(err, None);
    assert_eq!(payloads(&evs), vec![b"plain".to_vec(), b"masked".to_vec()]);
}

#[test]
fn client_role_rejects_masked_frames() {
    let (_, err) = decode_all(client(), &cframe(BIN, b"x"));
    assert_eq!(err, Some(Error::MaskedFrameFromServer));
    assert_eq!(err.unwrap().close_code(), Some(CloseCode::PROTOCOL_ERROR));
}

#[test]
fn errors_are_sticky() {
    let mut dec = Decoder::new(server());
    let mut bad = cframe(0xa2, b"x");
    assert_eq!(dec.decode(&mut bad).unwrap_err(), Error::ReservedBits);
    let mut good = cframe(BIN, b"x");
    assert_eq!(dec.decode(&mut good).unwrap_err(), Error::ReservedBits);
    assert_eq!(dec.error(), Some(&Error::ReservedBits));
}

// ---- limits
#[test]
fn message_limit_checked_at_header_before_payload() {
    let mut c = server();
    c.max_message = 10;
    // Only the header is given: the error comes before any payload.
    let f = cframe(BIN, &[0u8; 11]);
    let (evs, err) = decode_all(c, &f[..6]);
    assert!(evs.is_empty());
    assert_eq!(err, Some(Error::MessageTooBig { size: 11, max: 10 }));
    assert_eq!(err.unwrap().close_code(), Some(CloseCode::MESSAGE_TOO_BIG));
    // Fragments add up.
    let mut rb = cframe(BIN_NOFIN, &[0u8; 6]);
    rb.extend(cframe(CONT_FIN, &[0u8; 5]));
    let (evs, err) = decode_all(c, &rb);
    assert_eq!(payloads(&evs).len(), 1);
    assert_eq!(err, Some(Error::MessageTooBig { size: 11, max: 10 }));
    // At the limit is fine.
    let (_, err) = decode_all(c, &cframe(BIN, &[0u8; 10]));
    assert_eq!(err, None);
}

#[test]
fn compressed_limit_counts_tail() {
    let mut c = server();
    c.compression = true;
    c.max_compressed_message = 20;
    let (_, err) = decode_all(c, &cframe(0xc2, &[0u8; 11]));
    assert_eq!(err, None); // 11 + 9 = 20
    let (_, err) = decode_all(c, &cframe(0xc2, &[0u8; 12]));
    assert_eq!(err, Some(Error::MaxPayloadExceeded));
    assert_eq!(
        Error::MaxPayloadExceeded.to_string(),
        "maximum payload exceeded"
    );
    assert_eq!(natsws_core::ws::compressed_limit(0), 8 * 1024 * 1024);
    assert_eq!(natsws_core::ws::compressed_limit(1 << 30), 64 * 1024 * 1024);
}

// ---- UTF-8
#[test]
fn text_utf8_validated_across_fragments_when_enabled() {
    let mut c = server();
    c.validate_utf8 = true;
    let s = "κόσμε".as_bytes();
    // Split inside a code point.
    let mut rb = cframe(0x01, &s[..3]);
    rb.extend(cframe(CONT_FIN, &s[3..]));
    let (evs, err) = decode_all(c, &rb);
    assert_eq!(err, None);
    assert_eq!(evs.len(), 2);
    // Invalid byte fails fast, before the message ends.
    let (_, err) = decode_all(c, &cframe(0x01, &[b'a', 0xff]));
    assert_eq!(err, Some(Error::InvalidUtf8Text));
    assert_eq!(
        err.unwrap().close_code(),
        Some(CloseCode::INVALID_PAYLOAD_DATA)
    );
    // Truncated code point at the end of the message.
    let (_, err) = decode_all(c, &cframe(0x81, &s[..3]));
    assert_eq!(err, Some(Error::InvalidUtf8Text));
    // Binary is never checked; text is not checked by default (spec §9.28).
    let (_, err) = decode_all(c, &cframe(BIN, &[0xff]));
    assert_eq!(err, None);
    let (_, err) = decode_all(server(), &cframe(0x81, &[0xff]));
    assert_eq!(err, None);
}

#[test]
fn utf8_validator_matches_std_for_every_split() {
    let samples: [&[u8]; 6] = [
        "hello κόσμε 😀 ✓".as_bytes(),
        b"\xed\xa0\x80",     // surrogate
        b"\xf4\x90\x80\x80", // above U+10FFFF
        b"\xc0\xaf",         // overlong
        b"abc\xe2\x82",
        b"\xf0\x9f\x98\x80\xf0",
    ];
    for s in samples {
        let expect = core::str::from_utf8(s).is_ok();
        for i in 0..=s.len() {
            for j in i..=s.len() {
                let mut v = Utf8Validator::new();
                let ok = v.feed(&s[..i]).is_ok()
                    && v.feed(&s[i..j]).is_ok()
                    && v.feed(&s[j..]).is_ok()
                    && v.finish().is_ok();
                assert_eq!(ok, expect, "{s:?} split {i} {j}");
            }
        }
    }
}

// ---- close handshake state
#[test]
fn close_state_transitions() {
    let s = CloseState::Open;
    assert!(s.can_send_close() && s.can_read());
    let us = s.close_sent();
    assert_eq!(us, CloseState::ClosingByUs);
    assert!(!us.can_send_close() && us.can_read());
    assert_eq!(us.close_received(), CloseState::Closed);
    let peer = s.close_received();
    assert_eq!(peer, CloseState::ClosingByPeer);
    assert!(peer.can_send_close() && !peer.can_read());
    assert_eq!(peer.close_sent(), CloseState::Closed);
}

#[test]
fn decoder_ignores_input_after_close() {
    let mut dec = Decoder::new(server());
    let mut rb = cframe(0x88, &1000u16.to_be_bytes());
    let n0 = rb.len();
    rb.extend(cframe(0xa2, b"garbage that would fail"));
    let (n, ev) = dec.decode(&mut rb).unwrap();
    assert_eq!(n, n0);
    assert!(matches!(ev, Some(natsws_core::ws::Event::Close { .. })));
    assert!(dec.is_closed());
    let rest = rb.len() - n0;
    let (n, ev) = dec.decode(&mut rb[n0..]).unwrap();
    assert_eq!((n, ev), (rest, None));
}

#[test]
fn chunking_64bit_length_frame() {
    let p: Vec<u8> = (0..70000u32).map(|i| (i % 251) as u8).collect();
    let stream = [cframe(BIN, &p), cframe(0x89, b"ping")].concat();
    let (whole, err) = decode_all(server(), &stream);
    assert_eq!(err, None);
    let whole = normalize(&whole);
    assert_eq!(whole, vec![d(&p, true), Ev::Ping(b"ping".to_vec())]);
    let bytes: Vec<&[u8]> = stream.chunks(1).collect();
    assert_eq!(normalize(&decode_chunks(server(), &bytes).0), whole);
    let n = stream.len();
    for i in (0..40).chain(n - 40..=n).chain((0..n).step_by(997)) {
        assert_eq!(
            normalize(&decode_chunks(server(), &[&stream[..i], &stream[i..]]).0),
            whole
        );
    }
}

#[test]
fn zero_length_frames() {
    let mut rb = cframe(BIN_NOFIN, b"");
    rb.extend(cframe(CONT_FIN, b""));
    let (evs, err) = decode_all(server(), &rb);
    assert_eq!(err, None);
    assert_eq!(evs, vec![d(b"", false), d(b"", true)]);
}

// ---- chunking property: whole / one byte at a time / every split index
fn stream_strategy() -> impl Strategy<Value = Vec<u8>> {
    let frame = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(|p| cframe(BIN, &p)),
        proptest::collection::vec(any::<u8>(), 0..130).prop_map(|p| {
            let mut v = cframe(BIN_NOFIN, &p[..p.len() / 2]);
            v.extend(cframe(0x89, &p[..p.len().min(125) / 3]));
            v.extend(cframe(CONT_FIN, &p[p.len() / 2..]));
            v
        }),
        proptest::collection::vec(any::<u8>(), 0..125).prop_map(|p| cframe(0x8a, &p)),
        proptest::collection::vec(any::<u8>(), 126..700).prop_map(|p| cframe(0x81, &p)),
    ];
    proptest::collection::vec(frame, 1..5).prop_map(|fs| {
        let mut v: Vec<u8> = fs.concat();
        v.extend(cframe(0x88, &[0x03, 0xe8, b'b', b'y', b'e']));
        v
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn decoder_chunking_property(stream in stream_strategy()) {
        let (whole, err) = decode_all(server(), &stream);
        prop_assert_eq!(&err, &None);
        let whole = normalize(&whole);
        // One byte at a time.
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        let (evs, err) = decode_chunks(server(), &bytes);
        prop_assert_eq!(&err, &None);
        prop_assert_eq!(&normalize(&evs), &whole);
        // Every split index, in place and copying (`decode_into`).
        for i in 0..=stream.len() {
            let (evs, err) = decode_chunks(server(), &[&stream[..i], &stream[i..]]);
            prop_assert_eq!(&err, &None);
            prop_assert_eq!(&normalize(&evs), &whole);
            let (evs, err) = decode_chunks_into(server(), &[&stream[..i], &stream[i..]]);
            prop_assert_eq!(&err, &None);
            prop_assert_eq!(&normalize(&evs), &whole);
        }
        let (evs, err) = decode_chunks_into(server(), &bytes);
        prop_assert_eq!(&err, &None);
        prop_assert_eq!(&normalize(&evs), &whole);
    }

    /// `decode_into` and `decode` agree on any input, errors included.
    #[test]
    fn decode_into_agrees_with_decode_on_garbage(
        stream in stream_strategy(),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4),
        chunk in 1usize..64,
        validate in any::<bool>(),
    ) {
        // A valid stream with a few bytes changed: errors at any point.
        let mut data = stream;
        for (at, v) in flips {
            let n = data.len();
            data[at % n] ^= v;
        }
        let mut cfg = server();
        cfg.validate_utf8 = validate;
        let chunks: Vec<&[u8]> = data.chunks(chunk).collect();
        prop_assert_eq!(decode_chunks(cfg, &chunks), decode_chunks_into(cfg, &chunks));
    }

    #[test]
    fn decoder_never_panics_on_garbage(data in proptest::collection::vec(any::<u8>(), 0..400), chunk in 1usize..50) {
        natsws_core::ws::fuzzing::frames(&data, chunk, chunk % 2 == 0, chunk % 3 == 0);
    }
}
