//! Outbound framing: spec §8 group F (F53 TestWSFrameOutbound, F54
//! TestWSWebrowserClient) and the encoder API.
#![allow(missing_docs)]

#[path = "ws_common/mod.rs"]
mod common;
use common::*;

use natsws_core::ws::codec::{frame_batch, frame_buffers, write_close, Framing, MaskSource};
use natsws_core::ws::{Error, SendCloseCode, BROWSER_FRAME_SIZE};

/// Splits framed output into (header length, payload) per frame, unmasking.
fn frames(out: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut v = Vec::new();
    let mut pos = 0;
    while pos < out.len() {
        let b0 = out[pos];
        let b1 = out[pos + 1];
        let (len, mut h) = match b1 & 0x7f {
            126 => (u16::from_be_bytes([out[pos + 2], out[pos + 3]]) as usize, 4),
            127 => (
                u64::from_be_bytes(out[pos + 2..pos + 10].try_into().unwrap()) as usize,
                10,
            ),
            l => (l as usize, 2),
        };
        let key = (b1 & 0x80 != 0).then(|| {
            let k: [u8; 4] = out[pos + h..pos + h + 4].try_into().unwrap();
            h += 4;
            k
        });
        let mut p = out[pos + h..pos + h + len].to_vec();
        if let Some(k) = key {
            for (i, b) in p.iter_mut().enumerate() {
                *b ^= k[i % 4];
            }
        }
        assert_eq!(b0, 0x82, "independent FIN binary frames");
        v.push((h as u8, p));
        pos += h + len;
    }
    v
}

fn sizes(out: &[u8]) -> Vec<usize> {
    frames(out).iter().map(|(_, p)| p.len()).collect()
}

// ---- F53 TestWSFrameOutbound
#[test]
fn f53_single_frame_for_non_browsers() {
    let bufs: [&[u8]; 6] = [b"this ", b"is ", b"a ", b"set ", b"of ", b"buffers"];
    let mut out = Vec::new();
    frame_buffers(&bufs, &mut out, Framing::SINGLE, None);
    assert_eq!(out.len(), 2 + 24);
    assert_eq!(
        frames(&out),
        vec![(2, b"this is a set of buffers".to_vec())]
    );
}

#[test]
fn f53_browser_packing_and_splitting() {
    let big = vec![0u8; BROWSER_FRAME_SIZE + 10];
    let bufs: [&[u8]; 4] = [b"some smaller ", b"buffers", &big, b"then some more"];
    let mut out = Vec::new();
    frame_buffers(&bufs, &mut out, Framing::BROWSER, None);
    assert_eq!(sizes(&out), vec![20, 4096, 24]);
    let f = frames(&out);
    assert_eq!(f[0].1, b"some smaller buffers");
    assert_eq!(&f[2].1[..10], &[0u8; 10]);
    assert_eq!(&f[2].1[10..], b"then some more");
    // Total bytes as in the Go test: 2 + 20, 4 + 4096, 2 + 24.
    assert_eq!(out.len(), 2 + 20 + 4 + 4096 + 2 + 24);

    let exact = vec![0u8; BROWSER_FRAME_SIZE];
    let mut out = Vec::new();
    frame_buffers(
        &[b"some smaller ", b"buffers", &exact, b"then some more"],
        &mut out,
        Framing::BROWSER,
        None,
    );
    assert_eq!(sizes(&out), vec![20, 4096, 14]);
    assert_eq!(frames(&out)[2].1, b"then some more");

    let mut out = Vec::new();
    frame_buffers(
        &[b"some smaller ", b"buffers", &exact],
        &mut out,
        Framing::BROWSER,
        None,
    );
    assert_eq!(sizes(&out), vec![20, 4096]);

    let almost = vec![0u8; BROWSER_FRAME_SIZE - 5];
    let mut out = Vec::new();
    frame_buffers(
        &[b"some smaller buffer", &almost, b"then some more"],
        &mut out,
        Framing::BROWSER,
        None,
    );
    assert_eq!(sizes(&out), vec![19, 4091, 14]);
}

#[test]
fn f53_browser_framing_with_masking() {
    let big = vec![9u8; 3 * BROWSER_FRAME_SIZE + 1];
    let bufs: [&[u8]; 3] = [b"head ", &big, b" tail"];
    let mut k = 0u8;
    let mut next = || {
        k = k.wrapping_add(1);
        [k, 2, 3, 4]
    };
    let mask: MaskSource<'_> = Some(&mut next);
    let mut out = Vec::new();
    frame_buffers(&bufs, &mut out, Framing::BROWSER, mask);
    let f = frames(&out);
    assert!(f.iter().all(|(_, p)| p.len() <= BROWSER_FRAME_SIZE));
    let all: Vec<u8> = f.iter().flat_map(|(_, p)| p.clone()).collect();
    assert_eq!(all, [&b"head "[..], &big, b" tail"].concat());
    // Each frame has its own key.
    let keys: Vec<u8> = {
        let mut v = Vec::new();
        let mut pos = 0;
        while pos < out.len() {
            let b1 = out[pos + 1];
            let (len, h) = match b1 & 0x7f {
                126 => (u16::from_be_bytes([out[pos + 2], out[pos + 3]]) as usize, 4),
                l => (l as usize, 2),
            };
            v.push(out[pos + h]);
            pos += h + 4 + len;
        }
        v
    };
    assert_eq!(keys, (1..=keys.len() as u8).collect::<Vec<_>>());
    // A server decodes it.
    let (evs, err) = decode_all(server(), &out);
    assert_eq!(err, None);
    assert_eq!(evs.len(), f.len());
}

// ---- F54 TestWSWebrowserClient: a 204813-byte message arrives in at least
// size/4096 frames.
#[test]
fn f54_browser_big_message() {
    let psize = 204_813;
    let msg = [
        format!("MSG foo {psize}\r\n").into_bytes(),
        vec![0u8; psize],
        b"\r\n".to_vec(),
    ]
    .concat();
    let mut out = Vec::new();
    frame_batch(&msg, &mut out, Framing::for_peer(true), None);
    let s = sizes(&out);
    assert!(s.len() >= psize / BROWSER_FRAME_SIZE);
    assert!(s.iter().all(|&n| n <= BROWSER_FRAME_SIZE));
    let (evs, err) = decode_all(client(), &out);
    assert_eq!(err, None);
    let all: Vec<u8> = evs
        .into_iter()
        .flat_map(|e| match e {
            Ev::Data { payload, .. } => payload,
            _ => vec![],
        })
        .collect();
    assert_eq!(all, msg);
    // Non-browser: a single frame, however large (spec §9.11).
    let mut out = Vec::new();
    frame_batch(&msg, &mut out, Framing::for_peer(false), None);
    assert_eq!(sizes(&out), vec![msg.len()]);
}

#[test]
fn empty_batch_writes_nothing() {
    let mut out = Vec::new();
    frame_batch(b"", &mut out, Framing::BROWSER, None);
    frame_buffers(&[b"", b""], &mut out, Framing::SINGLE, None);
    assert!(out.is_empty());
}

#[test]
fn control_writers_reject_long_payloads() {
    let mut out = Vec::new();
    let err = natsws_core::ws::codec::write_ping(&mut out, &[0u8; 126], None).unwrap_err();
    assert!(matches!(err, Error::ApiMisuse(_)));
    assert!(out.is_empty());
    assert!(natsws_core::ws::codec::write_pong(&mut out, &[0u8; 125], None).is_ok());
    let err = natsws_core::ws::codec::write_frame(
        &mut out,
        natsws_core::ws::OpCode::PING,
        true,
        false,
        b"",
        None,
    )
    .unwrap_err();
    assert!(matches!(err, Error::ApiMisuse(_)));
}

#[test]
fn close_frame_reason_truncated_on_the_wire() {
    let mut out = Vec::new();
    write_close(
        &mut out,
        SendCloseCode::POLICY_VIOLATION,
        &"z".repeat(300),
        Some([1, 2, 3, 4]),
    );
    assert_eq!(out[0], 0x88);
    assert_eq!(out[1], 0x80 | 125);
    let (evs, err) = decode_all(server(), &out);
    assert_eq!(err, None);
    match &evs[0] {
        Ev::Close { code, reason } => {
            assert_eq!(code.unwrap().0, 1008);
            assert_eq!(reason.len(), 123);
            assert!(reason.ends_with("..."));
        }
        e => panic!("{e:?}"),
    }
}
