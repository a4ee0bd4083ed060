//! Shared helpers for the ws_* tests (included with `#[path]`).
#![allow(dead_code, missing_docs, unreachable_pub)]

use natsws_core::ws::{CloseCode, Decoder, DecoderConfig, Error, Event};

/// An owned [`Event`], for comparing event sequences.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ev {
    Data {
        payload: Vec<u8>,
        fin: bool,
        compressed: bool,
        text: bool,
    },
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close {
        code: Option<CloseCode>,
        reason: String,
    },
}

impl From<Event<'_>> for Ev {
    fn from(e: Event<'_>) -> Ev {
        match e {
            Event::Data {
                payload,
                fin,
                compressed,
                text,
            } => Ev::Data {
                payload: payload.to_vec(),
                fin,
                compressed,
                text,
            },
            Event::Ping(p) => Ev::Ping(p.to_vec()),
            Event::Pong(p) => Ev::Pong(p.to_vec()),
            Event::Close { code, reason } => Ev::Close {
                code,
                reason: reason.to_string(),
            },
        }
    }
}

/// Feeds `chunks` in order; returns the events and the error that ended
/// decoding, if any. Checks `consumed ≤ given` on every call.
pub fn decode_chunks(cfg: DecoderConfig, chunks: &[&[u8]]) -> (Vec<Ev>, Option<Error>) {
    let mut dec = Decoder::new(cfg);
    let mut evs = Vec::new();
    for c in chunks {
        let mut buf = c.to_vec();
        let mut pos = 0;
        while pos < buf.len() {
            let given = buf.len() - pos;
            match dec.decode(&mut buf[pos..]) {
                Ok((n, ev)) => {
                    assert!(n <= given, "consumed {n} > given {given}");
                    match ev {
                        Some(e) => evs.push(e.into()),
                        None => assert_eq!(n, given, "None must consume everything"),
                    }
                    pos += n;
                }
                Err(e) => return (evs, Some(e)),
            }
        }
    }
    (evs, None)
}

/// [`decode_chunks`] through [`Decoder::decode_into`]: also checks that the
/// input is left untouched, that each data event's payload is the tail just
/// appended to the output buffer, and that the buffer holds exactly the data
/// payloads in order.
pub fn decode_chunks_into(cfg: DecoderConfig, chunks: &[&[u8]]) -> (Vec<Ev>, Option<Error>) {
    let mut dec = Decoder::new(cfg);
    let mut evs = Vec::new();
    let mut out = b"earlier bytes".to_vec();
    let mut expect = out.clone();
    for c in chunks {
        let mut pos = 0;
        while pos < c.len() {
            let given = c.len() - pos;
            let before = out.len();
            match dec.decode_into(&c[pos..], &mut out) {
                Ok((n, ev)) => {
                    assert!(n <= given, "consumed {n} > given {given}");
                    match ev {
                        Some(e) => {
                            let e: Ev = e.into();
                            if let Ev::Data { payload, .. } = &e {
                                assert_eq!(
                                    &out[before..],
                                    &payload[..],
                                    "payload is the appended tail"
                                );
                                expect.extend_from_slice(payload);
                            } else {
                                assert_eq!(out.len(), before, "only data goes to the buffer");
                            }
                            evs.push(e);
                        }
                        None => assert_eq!(n, given, "None must consume everything"),
                    }
                    pos += n;
                }
                Err(e) => {
                    assert_eq!(out.len(), before, "a failing piece leaves nothing behind");
                    assert_eq!(out, expect);
                    return (evs, Some(e));
                }
            }
        }
    }
    assert_eq!(out, expect);
    (evs, None)
}

pub fn decode_all(cfg: DecoderConfig, bytes: &[u8]) -> (Vec<Ev>, Option<Error>) {
    decode_chunks(cfg, &[bytes])
}

/// Merges adjacent data pieces of the same message so that event lists from
/// different chunkings compare equal.
pub fn normalize(evs: &[Ev]) -> Vec<Ev> {
    let mut out: Vec<Ev> = Vec::new();
    let mut open = false; // the last pushed Data (possibly not last in `out`) is unfinished
    let mut open_idx = 0;
    for e in evs {
        match e {
            Ev::Data {
                payload,
                fin,
                compressed,
                text,
            } => {
                if open {
                    if let Ev::Data {
                        payload: p, fin: f, ..
                    } = &mut out[open_idx]
                    {
                        p.extend_from_slice(payload);
                        *f = *fin;
                    }
                } else {
                    out.push(Ev::Data {
                        payload: payload.clone(),
                        fin: *fin,
                        compressed: *compressed,
                        text: *text,
                    });
                    open_idx = out.len() - 1;
                }
                open = !fin;
            }
            other => out.push(other.clone()),
        }
    }
    out
}

pub fn server() -> DecoderConfig {
    DecoderConfig::server()
}

pub fn client() -> DecoderConfig {
    DecoderConfig::client()
}

/// Builds one frame: header + (masked) payload.
pub fn frame(b0: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut v = vec![b0];
    let m = if mask.is_some() { 0x80 } else { 0 };
    let n = payload.len();
    if n <= 125 {
        v.push(m | n as u8);
    } else if n < 65536 {
        v.push(m | 126);
        v.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        v.push(m | 127);
        v.extend_from_slice(&(n as u64).to_be_bytes());
    }
    let start = v.len() + if mask.is_some() { 4 } else { 0 };
    if let Some(k) = mask {
        v.extend_from_slice(&k);
    }
    v.extend_from_slice(payload);
    if let Some(k) = mask {
        for (i, b) in v[start..].iter_mut().enumerate() {
            *b ^= k[i % 4];
        }
    }
    v
}

pub const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A masked client frame.
pub fn cframe(b0: u8, payload: &[u8]) -> Vec<u8> {
    frame(b0, payload, Some(KEY))
}
