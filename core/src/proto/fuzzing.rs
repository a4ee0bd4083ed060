//! Fuzz entry points for `core/fuzz` (targets `nats_client_decoder`,
//! `nats_server_decoder`, `connect_json`), also run over the committed seed
//! corpus by `core/tests/proto_fuzz.rs`. Not a stable API.
//!
//! Each asserts invariants and panics when one breaks:
//! - decoders: never more bytes consumed than given and never 0; errors are
//!   sticky; the same ops and error whether the input comes whole, in three
//!   chunks, or one byte at a time (small limits, taken from the first bytes);
//! - CONNECT JSON: errors are [`Error::InvalidJson`]; a parsed value
//!   re-serialises to JSON that parses back to the same value.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::{ClientDecoder, Connect, Error, Info, Limits, ServerDecoder};

#[derive(Debug, PartialEq)]
struct Outcome {
    ops: Vec<String>,
    err: Option<Error>,
}

fn feed(server_side: bool, limits: Limits, chunks: &[&[u8]]) -> Outcome {
    let mut client = ClientDecoder::new(limits);
    let mut server = ServerDecoder::new(limits);
    let mut buf: Vec<u8> = Vec::new();
    let mut ops = Vec::new();
    for c in chunks {
        buf.extend_from_slice(c);
        loop {
            let r = if server_side {
                server
                    .decode(&buf)
                    .map(|o| o.map(|(op, n)| (format!("{op:?}"), n)))
            } else {
                client
                    .decode(&buf)
                    .map(|o| o.map(|(op, n)| (format!("{op:?}"), n)))
            };
            match r {
                Ok(Some((op, n))) => {
                    assert!(n > 0 && n <= buf.len(), "consumed {n} of {}", buf.len());
                    ops.push(op);
                    buf.drain(..n);
                }
                Ok(None) => break,
                Err(e) => {
                    let again = if server_side {
                        server.decode(&buf).map(|_| ())
                    } else {
                        client.decode(&buf).map(|_| ())
                    };
                    assert_eq!(again, Err(e.clone()), "errors are sticky");
                    assert!(e.closes());
                    return Outcome { ops, err: Some(e) };
                }
            }
        }
    }
    Outcome { ops, err: None }
}

fn decoder(server_side: bool, data: &[u8]) {
    let [a, b, c, rest @ ..] = data else {
        return;
    };
    let limits = Limits {
        max_control_line: 1 + usize::from(*a % 64),
        max_payload: usize::from(*b) * 2,
    };
    let whole = feed(server_side, limits, &[rest]);
    let i = usize::from(*c) % (rest.len() + 1);
    let j = i + (rest.len() - i) / 2;
    let three = feed(server_side, limits, &[&rest[..i], &rest[i..j], &rest[j..]]);
    assert_eq!(three, whole, "split at {i} and {j}");
    if rest.len() <= 512 {
        let bytes: Vec<&[u8]> = rest.chunks(1).collect();
        assert_eq!(feed(server_side, limits, &bytes), whole, "byte by byte");
    }
}

/// Fuzz body for the server-side decoder ([`ClientDecoder`]). Bytes 0–2
/// choose `max_control_line` (1–64), `max_payload` (0–510) and a split point.
pub fn client_decoder(data: &[u8]) {
    decoder(false, data);
}

/// Fuzz body for the client-side decoder ([`ServerDecoder`]); same layout.
pub fn server_decoder(data: &[u8]) {
    decoder(true, data);
}

/// Fuzz body for [`Connect::from_json`] and [`Info::from_json`].
pub fn connect_json(data: &[u8]) {
    match Connect::from_json(data) {
        Ok(c) => {
            let again = Connect::from_json(&c.to_json());
            assert_eq!(again.as_ref(), Ok(&c), "own JSON parses back");
        }
        Err(e) => assert_eq!(e, Error::InvalidJson),
    }
    if let Ok(i) = Info::from_json(data) {
        assert_eq!(Info::from_json(&i.to_json()).as_ref(), Ok(&i));
    }
}
