//! The chunking property (STYLE §4 item 12): for any byte stream, feeding it
//! whole, one byte at a time, or split at any points gives the same ops and
//! the same error, for both decoders. Checked exhaustively on short inputs
//! and sample streams, and with proptest on generated op mixes.
#![allow(missing_docs)]

use natsws_core::proto::{
    encode_err, encode_hmsg, encode_hpub, encode_msg, encode_pub, encode_sub, encode_unsub,
    ClientDecoder, Error, Limits, ServerDecoder, OK, PING, PONG,
};
use proptest::prelude::*;

#[derive(Debug, PartialEq)]
struct Outcome {
    ops: Vec<String>,
    err: Option<Error>,
    /// Bytes left unconsumed (only compared when there was no error).
    left: usize,
}

#[derive(Clone, Copy)]
enum Side {
    Client,
    Server,
}

/// Feeds `chunks` in order to a fresh decoder, the caller's way: append,
/// decode until `None`, discard what was used.
fn feed(side: Side, limits: Limits, chunks: &[&[u8]]) -> Outcome {
    let mut client = ClientDecoder::new(limits);
    let mut server = ServerDecoder::new(limits);
    let mut buf: Vec<u8> = Vec::new();
    let mut ops = Vec::new();
    for c in chunks {
        buf.extend_from_slice(c);
        loop {
            let r = match side {
                Side::Client => client
                    .decode(&buf)
                    .map(|o| o.map(|(op, n)| (format!("{op:?}"), n))),
                Side::Server => server
                    .decode(&buf)
                    .map(|o| o.map(|(op, n)| (format!("{op:?}"), n))),
            };
            match r {
                Ok(Some((op, n))) => {
                    assert!(n > 0 && n <= buf.len(), "consumed {n} of {}", buf.len());
                    ops.push(op);
                    buf.drain(..n);
                }
                Ok(None) => break,
                Err(e) => {
                    return Outcome {
                        ops,
                        err: Some(e),
                        left: 0,
                    };
                }
            }
        }
    }
    Outcome {
        ops,
        err: None,
        left: buf.len(),
    }
}

/// Asserts the property for `input`: whole = byte by byte = every 2-split.
fn check(side: Side, limits: Limits, input: &[u8]) {
    let whole = feed(side, limits, &[input]);
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(
        feed(side, limits, &bytes),
        whole,
        "byte by byte: {:?}",
        String::from_utf8_lossy(input)
    );
    for i in 1..input.len() {
        let (a, b) = input.split_at(i);
        assert_eq!(
            feed(side, limits, &[a, b]),
            whole,
            "split at {i}: {:?}",
            String::from_utf8_lossy(input)
        );
    }
}

fn small() -> Limits {
    Limits {
        max_control_line: 12,
        max_payload: 6,
    }
}

/// Every string up to `max_len` over `alphabet`.
fn all_strings(alphabet: &[u8], max_len: usize, mut f: impl FnMut(&[u8])) {
    let mut cur = Vec::new();
    fn rec(alphabet: &[u8], max_len: usize, cur: &mut Vec<u8>, f: &mut dyn FnMut(&[u8])) {
        f(cur);
        if cur.len() == max_len {
            return;
        }
        for &b in alphabet {
            cur.push(b);
            rec(alphabet, max_len, cur, f);
            cur.pop();
        }
    }
    rec(alphabet, max_len, &mut cur, &mut f);
}

#[test]
fn exhaustive_short_client_inputs() {
    let limits = Limits {
        max_control_line: 3,
        max_payload: 2,
    };
    let mut n = 0;
    all_strings(b"PUB \r\n1i", 5, |s| {
        check(Side::Client, limits, s);
        n += 1;
    });
    assert_eq!(n, (0..=5).map(|k| 8usize.pow(k)).sum::<usize>());
}

#[test]
fn exhaustive_short_server_inputs() {
    let limits = Limits {
        max_control_line: 3,
        max_payload: 2,
    };
    all_strings(b"MSG \r\n1p", 5, |s| check(Side::Server, limits, s));
}

/// Streams that reach every decoder state.
const CLIENT_SAMPLES: &[&[u8]] = &[
    b"CONNECT {\"verbose\":false}\r\nPING\r\nSUB foo 1\r\nSUB foo q 2\r\nPUB foo 5\r\nhello\r\nPUB foo r 0\r\n\r\n",
    b"HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\nUNSUB 1 5\r\nunsub 2\npong\r\n+OK\r\nINFO {}\r\n-ERR 'x'\r\n",
    b"pub\tfoo\t\tbar  2 \r\nab\r\nPING foo\r\nPUB foo 2\r\nabX",
    b"SUB foo.bar.baz.quux.long 1\r\n",
    b"PUB foo 7\r\n",
    b"PING\r\n\r\n",
    b"PUB                 foo 1\r\n",
    b"PING xxxxxxxxxxxxxxxxxxxx\r\n",
    b"HPUB foo 3 2\r\n",
    b"PUB foo 1\r\nxy",
];

const SERVER_SAMPLES: &[&[u8]] = &[
    b"INFO {\"server_id\":\"x\"} \r\n+OK\r\nMSG foo 1 5\r\nhello\r\nHMSG foo 1 r 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPING\r\nPONG\r\n",
    b"-ERR 'Unknown Protocol Operation'\r\nMSG foo 1 2\r\nhiX",
    b"MSG foo 1 99\r\n",
    b"PUB foo 1\r\n",
];

#[test]
fn every_split_of_sample_streams() {
    for &s in CLIENT_SAMPLES {
        check(Side::Client, small(), s);
        check(Side::Client, Limits::default(), s);
    }
    for &s in SERVER_SAMPLES {
        check(Side::Server, small(), s);
        check(Side::Server, Limits::default(), s);
    }
}

#[test]
fn every_three_way_split_of_a_mixed_stream() {
    let s: &[u8] = b"SUB a 1\r\nPUB a 3\r\nxyz\r\nHPUB a r 12 13\r\nNATS/1.0\r\n\r\nz\r\nPING\r\n";
    let whole = feed(Side::Client, Limits::default(), &[s]);
    assert_eq!(whole.ops.len(), 4);
    for i in 1..s.len() {
        for j in i..s.len() {
            let got = feed(
                Side::Client,
                Limits::default(),
                &[&s[..i], &s[i..j], &s[j..]],
            );
            assert_eq!(got, whole, "splits {i} {j}");
        }
    }
}

// ---- proptest over generated op mixes ------------------------------------------------

fn token() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![
            Just(b'a'),
            Just(b'b'),
            Just(b'.'),
            Just(b'*'),
            Just(b'>'),
            Just(b'_')
        ],
        1..8,
    )
}

fn payload() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(prop_oneof![any::<u8>(), Just(b'\r'), Just(b'\n')], 0..10)
}

fn client_segment() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (token(), proptest::option::of(token()), payload()).prop_map(|(s, r, p)| {
            let mut v = Vec::new();
            encode_pub(&mut v, &s, r.as_deref(), &p);
            v
        }),
        (token(), proptest::option::of(token()), payload()).prop_map(|(s, r, p)| {
            let mut v = Vec::new();
            encode_hpub(&mut v, &s, r.as_deref(), b"NATS/1.0\r\n\r\n", &p);
            v
        }),
        (token(), proptest::option::of(token()), token()).prop_map(|(s, q, sid)| {
            let mut v = Vec::new();
            encode_sub(&mut v, &s, q.as_deref(), &sid);
            v
        }),
        (token(), proptest::option::of(0u64..20)).prop_map(|(sid, m)| {
            let mut v = Vec::new();
            encode_unsub(&mut v, &sid, m);
            v
        }),
        Just(PING.to_vec()),
        Just(PONG.to_vec()),
        Just(OK.to_vec()),
        Just(b"connect {\"verbose\":false}\n".to_vec()),
        Just(b"pub\tx  2 \nab\r\n".to_vec()),
        // Occasional garbage so errors are covered too.
        proptest::collection::vec(
            prop_oneof![Just(b' '), Just(b'\r'), Just(b'\n'), Just(b'P'), Just(b'1')],
            1..4
        ),
    ]
}

fn server_segment() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (token(), token(), proptest::option::of(token()), payload()).prop_map(|(s, sid, r, p)| {
            let mut v = Vec::new();
            encode_msg(&mut v, &s, &sid, r.as_deref(), &p);
            v
        }),
        (token(), token(), proptest::option::of(token()), payload()).prop_map(|(s, sid, r, p)| {
            let mut v = Vec::new();
            encode_hmsg(&mut v, &s, &sid, r.as_deref(), b"NATS/1.0 503\r\n\r\n", &p);
            v
        }),
        Just(PING.to_vec()),
        Just(PONG.to_vec()),
        Just(OK.to_vec()),
        Just(b"INFO {\"max_payload\":5} \r\n".to_vec()),
        Just({
            let mut v = Vec::new();
            encode_err(&mut v, "Stale Connection");
            v
        }),
        proptest::collection::vec(
            prop_oneof![Just(b' '), Just(b'\r'), Just(b'\n'), Just(b'M'), Just(b'1')],
            1..4
        ),
    ]
}

fn cut(input: &[u8], mut points: Vec<usize>) -> Vec<&[u8]> {
    points.iter_mut().for_each(|p| *p %= input.len() + 1);
    points.sort_unstable();
    let mut out = Vec::new();
    let mut last = 0;
    for p in points {
        out.push(&input[last..p]);
        last = p;
    }
    out.push(&input[last..]);
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn client_stream_chunking(segs in proptest::collection::vec(client_segment(), 1..8),
                              points in proptest::collection::vec(any::<usize>(), 0..6)) {
        let input = segs.concat();
        for limits in [Limits::default(), small()] {
            let whole = feed(Side::Client, limits, &[&input]);
            let chunked = feed(Side::Client, limits, &cut(&input, points.clone()));
            prop_assert_eq!(&chunked, &whole);
            let bytes: Vec<&[u8]> = input.chunks(1).collect();
            prop_assert_eq!(&feed(Side::Client, limits, &bytes), &whole);
        }
    }

    #[test]
    fn server_stream_chunking(segs in proptest::collection::vec(server_segment(), 1..8),
                              points in proptest::collection::vec(any::<usize>(), 0..6)) {
        let input = segs.concat();
        for limits in [Limits::default(), small()] {
            let whole = feed(Side::Server, limits, &[&input]);
            let chunked = feed(Side::Server, limits, &cut(&input, points.clone()));
            prop_assert_eq!(&chunked, &whole);
            let bytes: Vec<&[u8]> = input.chunks(1).collect();
            prop_assert_eq!(&feed(Side::Server, limits, &bytes), &whole);
        }
    }

    #[test]
    fn arbitrary_bytes_chunking(input in proptest::collection::vec(any::<u8>(), 0..40),
                                points in proptest::collection::vec(any::<usize>(), 0..4)) {
        for side in [Side::Client, Side::Server] {
            let whole = feed(side, small(), &[&input]);
            prop_assert_eq!(&feed(side, small(), &cut(&input, points.clone())), &whole);
        }
    }
}

/// Fuzz finding: a partial line whose blank run after the op name exceeds
/// `max_control_line` must fail the same way whole and byte by byte (the
/// whole-input path used to measure only the argument part).
#[test]
fn long_blank_run_after_op_name_fails_the_same_however_split() {
    let mut input = vec![0x10, 0x80, 0x05];
    input.extend_from_slice(b"INFO");
    input.extend(std::iter::repeat_n(b'\t', 30));
    input.push(b'G');
    natsws_core::proto::fuzzing::server_decoder(&input);
    natsws_core::proto::fuzzing::client_decoder(&input);
}
