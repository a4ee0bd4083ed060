//! Must-pass and must-fail NATS operation lists (spec §1.1–§1.3, §1.9),
//! modelled on nats-server's `parser_test.go` (`TestShouldFail` and the
//! per-op parse tests). One test per rule; every failure asserts the exact
//! `-ERR` text (or its absence) and the close.
#![allow(missing_docs)]

use natsws_core::proto::{ClientDecoder, ClientOp, Error, Limits, ServerDecoder, ServerOp};

/// Decodes exactly one op from `input`, which must use every byte.
fn one(input: &[u8]) -> ClientOp<'_> {
    let mut d = ClientDecoder::default();
    match d.decode(input) {
        Ok(Some((op, n))) => {
            assert_eq!(n, input.len(), "op used {n} of {} bytes", input.len());
            op
        }
        other => panic!(
            "{:?}: expected one op, got {other:?}",
            String::from_utf8_lossy(input)
        ),
    }
}

fn one_server(input: &[u8]) -> ServerOp<'_> {
    let mut d = ServerDecoder::default();
    match d.decode(input) {
        Ok(Some((op, n))) => {
            assert_eq!(n, input.len());
            op
        }
        other => panic!(
            "{:?}: expected one op, got {other:?}",
            String::from_utf8_lossy(input)
        ),
    }
}

/// Decodes ops until an error; the input must produce one (without more
/// bytes). Returns the error after checking that it is sticky.
fn fail_with(limits: Limits, input: &[u8]) -> Error {
    let mut d = ClientDecoder::new(limits);
    let mut rest = input;
    loop {
        match d.decode(rest) {
            Ok(Some((_, n))) => rest = &rest[n..],
            Ok(None) => panic!("{:?}: no error, needs more", String::from_utf8_lossy(input)),
            Err(e) => {
                assert!(d.is_poisoned());
                assert_eq!(d.decode(b"PING\r\n"), Err(e.clone()), "error is sticky");
                assert!(e.closes());
                return e;
            }
        }
    }
}

fn fail(input: &[u8]) -> Error {
    fail_with(Limits::default(), input)
}

fn fail_server(input: &[u8]) -> Error {
    let mut d = ServerDecoder::default();
    let mut rest = input;
    loop {
        match d.decode(rest) {
            Ok(Some((_, n))) => rest = &rest[n..],
            Ok(None) => panic!("{:?}: needs more", String::from_utf8_lossy(input)),
            Err(e) => {
                assert!(d.is_poisoned());
                assert_eq!(d.decode(b"PING\r\n"), Err(e.clone()));
                return e;
            }
        }
    }
}

const UNKNOWN: Option<&str> = Some("Unknown Protocol Operation");

fn assert_unknown(input: &[u8]) {
    let e = fail(input);
    assert_eq!(e, Error::UnknownOp, "{:?}", String::from_utf8_lossy(input));
    assert_eq!(e.err_text(), UNKNOWN);
    assert_eq!(e.closed_reason(), "Protocol Violation");
}

fn assert_silent_close(input: &[u8], want: Error) {
    let e = fail(input);
    assert_eq!(e, want, "{:?}", String::from_utf8_lossy(input));
    assert_eq!(e.err_text(), None);
    assert_eq!(e.closed_reason(), "Protocol Violation");
}

// ---- must pass -------------------------------------------------------------

#[test]
fn op_names_are_case_insensitive() {
    for ping in [&b"PING\r\n"[..], b"ping\r\n", b"PiNg\r\n", b"pInG\r\n"] {
        assert_eq!(one(ping), ClientOp::Ping);
    }
    assert_eq!(one(b"pong\r\n"), ClientOp::Pong);
    assert_eq!(one(b"+ok\r\n"), ClientOp::Ok);
    assert!(matches!(one(b"pub foo 0\r\n\r\n"), ClientOp::Pub { .. }));
    assert!(matches!(
        one(b"HpUb foo 12 12\r\nNATS/1.0\r\n\r\n\r\n"),
        ClientOp::Hpub { .. }
    ));
    assert!(matches!(one(b"sUb foo 1\r\n"), ClientOp::Sub { .. }));
    assert!(matches!(one(b"unsub 1\r\n"), ClientOp::Unsub { .. }));
    assert!(matches!(one(b"connect {}\r\n"), ClientOp::Connect(_)));
    assert!(matches!(one(b"info {}\r\n"), ClientOp::Info(_)));
    assert!(matches!(one(b"-err x\r\n"), ClientOp::Err(_)));
}

#[test]
fn arguments_keep_their_case() {
    assert_eq!(
        one(b"SUB Foo.BAR Q1 SiD\r\n"),
        ClientOp::Sub {
            subject: b"Foo.BAR",
            queue: Some(b"Q1"),
            sid: b"SiD"
        }
    );
}

#[test]
fn ping_pong_ok_ignore_trailing_text() {
    assert_eq!(one(b"PING foo\r\n"), ClientOp::Ping);
    assert_eq!(one(b"PINGfoo\r\n"), ClientOp::Ping);
    assert_eq!(one(b"PONG \t x y\r\n"), ClientOp::Pong);
    assert_eq!(one(b"+OK whatever\r\n"), ClientOp::Ok);
}

#[test]
fn bare_lf_ends_a_line() {
    assert_eq!(one(b"PING\n"), ClientOp::Ping);
    assert_eq!(
        one(b"SUB foo 1\n"),
        ClientOp::Sub {
            subject: b"foo",
            queue: None,
            sid: b"1"
        }
    );
    assert_eq!(
        one(b"PUB foo 2\nhi\r\n"),
        ClientOp::Pub {
            subject: b"foo",
            reply: None,
            payload: b"hi"
        }
    );
    assert_eq!(one(b"CONNECT {}\n"), ClientOp::Connect(b"{}"));
}

#[test]
fn cr_before_lf_is_dropped() {
    assert_eq!(
        one(b"UNSUB 1\r\n"),
        ClientOp::Unsub {
            sid: b"1",
            max_msgs: None
        }
    );
    assert_eq!(
        one(b"CONNECT {\"a\":1}\r\n"),
        ClientOp::Connect(b"{\"a\":1}")
    );
    assert_eq!(one(b"-ERR 'x'\r\n"), ClientOp::Err(b"'x'"));
}

#[test]
fn pub_with_and_without_reply() {
    assert_eq!(
        one(b"PUB foo 5\r\nhello\r\n"),
        ClientOp::Pub {
            subject: b"foo",
            reply: None,
            payload: b"hello"
        }
    );
    assert_eq!(
        one(b"PUB foo.bar _INBOX.x 5\r\nhello\r\n"),
        ClientOp::Pub {
            subject: b"foo.bar",
            reply: Some(b"_INBOX.x"),
            payload: b"hello"
        }
    );
}

#[test]
fn runs_of_blanks_separate_arguments() {
    let want = ClientOp::Pub {
        subject: b"foo",
        reply: Some(b"bar"),
        payload: b"hello",
    };
    assert_eq!(one(b"PUB\tfoo\tbar\t5\r\nhello\r\n"), want);
    assert_eq!(one(b"PUB   foo \t bar    5   \r\nhello\r\n"), want);
    assert_eq!(one(b"PUB foo bar 5\t\t\r\nhello\r\n"), want);
    assert_eq!(
        one(b"SUB  foo\t\tq   7 \r\n"),
        ClientOp::Sub {
            subject: b"foo",
            queue: Some(b"q"),
            sid: b"7"
        }
    );
}

#[test]
fn payload_is_opaque() {
    assert_eq!(
        one(b"PUB foo 6\r\n\r\nPI\n\r\r\n"),
        ClientOp::Pub {
            subject: b"foo",
            reply: None,
            payload: b"\r\nPI\n\r"
        }
    );
    assert_eq!(
        one(b"PUB foo 0\r\n\r\n"),
        ClientOp::Pub {
            subject: b"foo",
            reply: None,
            payload: b""
        }
    );
}

#[test]
fn size_fields_allow_leading_zeros_and_nine_digits() {
    assert_eq!(
        one(b"PUB foo 005\r\nhello\r\n"),
        ClientOp::Pub {
            subject: b"foo",
            reply: None,
            payload: b"hello"
        }
    );
    let mut d = ClientDecoder::new(Limits {
        max_payload: usize::MAX,
        ..Limits::default()
    });
    assert_eq!(d.decode(b"PUB foo 999999999\r\n"), Ok(None));
}

#[test]
fn hpub_splits_headers_and_payload() {
    assert_eq!(
        one(b"HPUB foo.bar 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nhello\r\n"),
        ClientOp::Hpub {
            subject: b"foo.bar",
            reply: None,
            headers: b"NATS/1.0\r\nA: b\r\n\r\n",
            payload: b"hello"
        }
    );
    assert_eq!(
        one(b"HPUB foo r 12 12\r\nNATS/1.0\r\n\r\n\r\n"),
        ClientOp::Hpub {
            subject: b"foo",
            reply: Some(b"r"),
            headers: b"NATS/1.0\r\n\r\n",
            payload: b""
        }
    );
}

#[test]
fn sub_with_and_without_queue() {
    assert_eq!(
        one(b"SUB foo 1\r\n"),
        ClientOp::Sub {
            subject: b"foo",
            queue: None,
            sid: b"1"
        }
    );
    assert_eq!(
        one(b"SUB foo.* q1 1\r\n"),
        ClientOp::Sub {
            subject: b"foo.*",
            queue: Some(b"q1"),
            sid: b"1"
        }
    );
}

#[test]
fn unsub_max_msgs() {
    assert_eq!(
        one(b"UNSUB 1\r\n"),
        ClientOp::Unsub {
            sid: b"1",
            max_msgs: None
        }
    );
    assert_eq!(
        one(b"UNSUB 1 5\r\n"),
        ClientOp::Unsub {
            sid: b"1",
            max_msgs: Some(5)
        }
    );
    // 0, non-numeric and over-long counts mean "unsubscribe now" (not an error).
    assert_eq!(
        one(b"UNSUB 1 0\r\n"),
        ClientOp::Unsub {
            sid: b"1",
            max_msgs: None
        }
    );
    assert_eq!(
        one(b"UNSUB 1 x\r\n"),
        ClientOp::Unsub {
            sid: b"1",
            max_msgs: None
        }
    );
    assert_eq!(
        one(b"UNSUB 1 -3\r\n"),
        ClientOp::Unsub {
            sid: b"1",
            max_msgs: None
        }
    );
    assert_eq!(
        one(b"UNSUB 1 1234567890\r\n"),
        ClientOp::Unsub {
            sid: b"1",
            max_msgs: None
        }
    );
}

#[test]
fn connect_and_info_json_after_optional_blanks() {
    assert_eq!(
        one(b"CONNECT {\"verbose\":false}\r\n"),
        ClientOp::Connect(b"{\"verbose\":false}")
    );
    assert_eq!(
        one(b"CONNECT{\"verbose\":false}\r\n"),
        ClientOp::Connect(b"{\"verbose\":false}")
    );
    assert_eq!(one(b"CONNECT \t  {}\r\n"), ClientOp::Connect(b"{}"));
    // Empty JSON is returned as empty; Connect::from_json rejects it.
    assert_eq!(one(b"CONNECT \r\n"), ClientOp::Connect(b""));
    assert_eq!(one(b"INFO {\"a\":1} \r\n"), ClientOp::Info(b"{\"a\":1} "));
}

#[test]
fn minus_err_from_client_is_an_op() {
    let op = one(b"-ERR 'Stale Connection'\r\n");
    assert_eq!(op, ClientOp::Err(b"'Stale Connection'"));
    assert_eq!(Error::ErrReceived.err_text(), None);
    assert_eq!(Error::ErrReceived.closed_reason(), "Parse Error");
}

#[test]
fn several_ops_in_one_buffer() {
    let input = b"CONNECT {}\r\nSUB foo 1\r\nPUB foo 2\r\nhi\r\nPING\r\n";
    let mut d = ClientDecoder::default();
    let mut rest = &input[..];
    let mut got = Vec::new();
    while let Some((op, n)) = d.decode(rest).unwrap() {
        got.push(format!("{op:?}"));
        rest = &rest[n..];
    }
    assert!(rest.is_empty());
    assert_eq!(got.len(), 4);
    assert!(got[2].starts_with("Pub"));
}

#[test]
fn needs_more_until_complete() {
    let full = b"PUB foo 5\r\nhello\r\n";
    let mut d = ClientDecoder::default();
    for k in 0..full.len() {
        assert_eq!(d.decode(&full[..k]), Ok(None), "prefix of {k} bytes");
    }
    assert!(d.decode(full).unwrap().is_some());
}

#[test]
fn limits_defaults() {
    let l = Limits::default();
    assert_eq!(l.max_control_line, 4096);
    assert_eq!(l.max_payload, 1_048_576);
}

// ---- must fail: unknown op --------------------------------------------------

#[test]
fn leading_whitespace_is_unknown_op() {
    assert_unknown(b" PING\r\n");
    assert_unknown(b"\tPING\r\n");
    // Detected at the first byte, without waiting for the line end.
    assert_unknown(b" PING");
}

#[test]
fn empty_line_is_unknown_op() {
    assert_unknown(b"\r\n");
    assert_unknown(b"\n");
    assert_unknown(b"PING\r\n\r\n");
}

#[test]
fn unknown_names_fail_at_first_bad_byte() {
    assert_unknown(b"POO");
    assert_unknown(b"X");
    assert_unknown(b"PINX");
    assert_unknown(b"CONNEXT {}");
    assert_unknown(b"+OX\r\n");
    assert_unknown(b"-ERX");
}

#[test]
fn server_only_and_route_ops_from_a_client_are_unknown() {
    for op in [
        &b"MSG foo 1 2\r\nhi\r\n"[..],
        b"HMSG foo 1 12 12\r\n",
        b"RS+ foo\r\n",
        b"RS- foo\r\n",
        b"RMSG $G foo 2\r\n",
        b"LS+ foo\r\n",
        b"LMSG foo 2\r\n",
        b"A+ foo\r\n",
        b"A- foo\r\n",
    ] {
        assert_unknown(op);
    }
}

#[test]
fn missing_blank_after_name_is_unknown_op() {
    assert_unknown(b"PUBS foo 2\r\n");
    assert_unknown(b"PUB\r\n");
    assert_unknown(b"HPUB\r\n");
    assert_unknown(b"SUB\r\n");
    assert_unknown(b"SUBfoo 1\r\n");
    assert_unknown(b"UNSUB\r\n");
    assert_unknown(b"-ERR\r\n");
    assert_unknown(b"-ERR'x'\r\n");
}

#[test]
fn payload_not_followed_by_crlf_is_unknown_op() {
    assert_unknown(b"PUB foo 2\r\nok \r\n");
    assert_unknown(b"PUB foo 2\r\nok\r \n");
    assert_unknown(b"PUB foo 2\r\nok\n");
    assert_unknown(b"PUB foo 2\r\nokk\r\n");
    assert_unknown(b"HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\rX");
    // Detected as soon as the wrong byte arrives.
    assert_unknown(b"PUB foo 2\r\nokX");
}

// ---- must fail: silent close --------------------------------------------------

#[test]
fn wrong_arg_counts_close_without_err() {
    let pub_ = Error::InvalidArgCount { op: "PUB" };
    assert_silent_close(b"PUB foo\r\n", pub_.clone());
    assert_silent_close(b"PUB \r\n", pub_.clone());
    assert_silent_close(b"PUB a b c d\r\n", pub_);
    let hpub = Error::InvalidArgCount { op: "HPUB" };
    assert_silent_close(b"HPUB foo 5\r\n", hpub.clone());
    assert_silent_close(b"HPUB a b c d e\r\n", hpub);
    let sub = Error::InvalidArgCount { op: "SUB" };
    assert_silent_close(b"SUB \r\n", sub.clone());
    assert_silent_close(b"SUB foo\r\n", sub.clone());
    assert_silent_close(b"SUB foo bar baz 22\r\n", sub);
    let unsub = Error::InvalidArgCount { op: "UNSUB" };
    assert_silent_close(b"UNSUB \r\n", unsub.clone());
    assert_silent_close(b"UNSUB 1 2 3\r\n", unsub);
}

#[test]
fn bad_size_fields_close_without_err() {
    let e = Error::InvalidSize { op: "PUB" };
    assert_silent_close(b"PUB foo bar       \r\n", e.clone());
    assert_silent_close(b"PUB foo -1\r\n", e.clone());
    assert_silent_close(b"PUB foo +1\r\n", e.clone());
    assert_silent_close(b"PUB foo 1a\r\n", e.clone());
    assert_silent_close(b"PUB foo 1234567890\r\n", e.clone());
    assert_silent_close(b"PUB foo 0x10\r\n", e);
    let h = Error::InvalidSize { op: "HPUB" };
    assert_silent_close(b"HPUB foo x 5\r\n", h.clone());
    assert_silent_close(b"HPUB foo 5 y\r\n", h);
}

#[test]
fn hpub_header_size_above_total_closes_without_err() {
    assert_silent_close(b"HPUB foo 10 5\r\n", Error::HeaderSizeTooLarge);
}

#[test]
fn hpub_without_headers_closes_without_err() {
    let mut d = ClientDecoder::default();
    d.set_headers(false);
    let e = d
        .decode(b"HPUB foo 12 12\r\nNATS/1.0\r\n\r\n\r\n")
        .unwrap_err();
    assert_eq!(e, Error::HeadersNotSupported);
    assert_eq!(e.err_text(), None);
    assert_eq!(e.closed_reason(), "Protocol Violation");
    // Checked before the arguments (nats-server order): even a payload
    // violation gives the same error.
    let mut d = ClientDecoder::default();
    d.set_headers(false);
    assert_eq!(
        d.decode(b"HPUB foo 1 99999999\r\n"),
        Err(Error::HeadersNotSupported)
    );
    // PUB is unaffected.
    let mut d = ClientDecoder::default();
    d.set_headers(false);
    assert!(d.decode(b"PUB foo 0\r\n\r\n").unwrap().is_some());
}

// ---- must fail: limits ----------------------------------------------------------

#[test]
fn max_payload_checked_on_declared_size() {
    let l = Limits {
        max_payload: 10,
        ..Limits::default()
    };
    let mut d = ClientDecoder::new(l);
    let (op, _) = d.decode(b"PUB foo 10\r\n0123456789\r\n").unwrap().unwrap();
    assert!(matches!(op, ClientOp::Pub { .. }));
    // No payload byte present: the declared size alone fails.
    let e = fail_with(l, b"PUB foo 11\r\n");
    assert_eq!(e, Error::MaxPayloadExceeded { size: 11, max: 10 });
    assert_eq!(e.err_text(), Some("Maximum Payload Violation"));
    assert_eq!(e.closed_reason(), "Maximum Message Payload Exceeded");
    assert_eq!(e.to_string(), "maximum payload exceeded: 11 vs 10");
}

#[test]
fn max_payload_on_hpub_is_the_total() {
    let l = Limits {
        max_payload: 20,
        ..Limits::default()
    };
    assert_eq!(
        fail_with(l, b"HPUB foo 12 21\r\n"),
        Error::MaxPayloadExceeded { size: 21, max: 20 }
    );
    let mut d = ClientDecoder::new(l);
    assert_eq!(d.decode(b"HPUB foo 12 20\r\n"), Ok(None));
}

#[test]
fn max_payload_default_is_one_mebibyte() {
    let e = fail(b"PUB foo 1048577\r\n");
    assert_eq!(
        e,
        Error::MaxPayloadExceeded {
            size: 1_048_577,
            max: 1_048_576
        }
    );
    let mut d = ClientDecoder::default();
    assert_eq!(d.decode(b"PUB foo 1048576\r\n"), Ok(None));
}

#[test]
fn max_control_line_on_complete_lines() {
    let l = Limits {
        max_control_line: 16,
        ..Limits::default()
    };
    // "foo.bar.baz.q 12" is 16 argument bytes: allowed; 17 is not.
    let mut d = ClientDecoder::new(l);
    assert!(d.decode(b"SUB foo.bar.baz.q 12\r\n").unwrap().is_some());
    let e = fail_with(l, b"SUB foo.bar.baz.q 123\r\n");
    assert_eq!(e, Error::MaxControlLineExceeded);
    assert_eq!(e.err_text(), Some("maximum control line exceeded"));
    assert_eq!(e.closed_reason(), "Maximum Control Line Exceeded");
    // CONNECT counts too (large JWTs).
    let mut long = b"CONNECT {\"jwt\":\"".to_vec();
    long.extend(core::iter::repeat_n(b'x', 20));
    long.extend_from_slice(b"\"}\r\n");
    assert_eq!(fail_with(l, &long), Error::MaxControlLineExceeded);
}

#[test]
fn max_control_line_while_a_line_accumulates() {
    let l = Limits {
        max_control_line: 16,
        ..Limits::default()
    };
    // No LF at all: fails as soon as the partial argument passes the limit.
    let mut line = b"PUB ".to_vec();
    line.extend(core::iter::repeat_n(b'a', 16));
    let mut d = ClientDecoder::new(l);
    assert_eq!(d.decode(&line), Ok(None));
    line.push(b'a');
    assert_eq!(d.decode(&line), Err(Error::MaxControlLineExceeded));
    // A CR at the end may be the one before LF: it does not count yet.
    let mut d = ClientDecoder::new(l);
    let mut ok = b"PUB ".to_vec();
    ok.extend(core::iter::repeat_n(b'a', 14));
    ok.extend_from_slice(b" 0\r");
    assert_eq!(d.decode(&ok), Ok(None));
    ok.extend_from_slice(b"\n\r\n");
    assert!(d.decode(&ok).unwrap().is_some());
}

#[test]
fn max_control_line_excludes_the_op_name_and_leading_blanks() {
    let l = Limits {
        max_control_line: 8,
        ..Limits::default()
    };
    let mut d = ClientDecoder::new(l);
    // Argument part "foo 1234" is 8 bytes; the name and three blanks are not counted.
    assert_eq!(d.decode(b"PUB   foo 1234\r\n"), Ok(None));
}

#[test]
fn endless_blanks_and_ping_text_are_bounded() {
    let l = Limits {
        max_control_line: 8,
        ..Limits::default()
    };
    let mut d = ClientDecoder::new(l);
    assert_eq!(
        d.decode(b"PUB         "),
        Err(Error::MaxControlLineExceeded)
    );
    let mut d = ClientDecoder::new(l);
    assert_eq!(
        d.decode(b"PING 123456789"),
        Err(Error::MaxControlLineExceeded)
    );
}

#[test]
fn set_limits_applies_to_later_ops() {
    let mut d = ClientDecoder::default();
    d.set_limits(Limits {
        max_payload: 1,
        ..Limits::default()
    });
    assert_eq!(d.limits().max_payload, 1);
    assert_eq!(
        d.decode(b"PUB foo 2\r\n"),
        Err(Error::MaxPayloadExceeded { size: 2, max: 1 })
    );
}

// ---- server decoder (client side) --------------------------------------------------

#[test]
fn server_ops_pass() {
    assert_eq!(
        one_server(b"MSG foo.bar 1 5\r\nhello\r\n"),
        ServerOp::Msg {
            subject: b"foo.bar",
            sid: b"1",
            reply: None,
            payload: b"hello"
        }
    );
    assert_eq!(
        one_server(b"msg foo.bar 1 _INBOX.x 5\r\nhello\r\n"),
        ServerOp::Msg {
            subject: b"foo.bar",
            sid: b"1",
            reply: Some(b"_INBOX.x"),
            payload: b"hello"
        }
    );
    assert_eq!(
        one_server(b"HMSG foo.bar 1 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nhello\r\n"),
        ServerOp::Hmsg {
            subject: b"foo.bar",
            sid: b"1",
            reply: None,
            headers: b"NATS/1.0\r\nA: b\r\n\r\n",
            payload: b"hello"
        }
    );
    assert_eq!(
        one_server(b"HMSG r 9 r2 12 12\r\nNATS/1.0\r\n\r\n\r\n"),
        ServerOp::Hmsg {
            subject: b"r",
            sid: b"9",
            reply: Some(b"r2"),
            headers: b"NATS/1.0\r\n\r\n",
            payload: b""
        }
    );
    assert_eq!(
        one_server(b"INFO {\"a\":1} \r\n"),
        ServerOp::Info(b"{\"a\":1} ")
    );
    assert_eq!(one_server(b"+OK\r\n"), ServerOp::Ok);
    assert_eq!(one_server(b"PING\r\n"), ServerOp::Ping);
    assert_eq!(one_server(b"PONG\r\n"), ServerOp::Pong);
    assert_eq!(
        one_server(b"-ERR 'Unknown Protocol Operation'\r\n"),
        ServerOp::Err(b"'Unknown Protocol Operation'")
    );
}

#[test]
fn server_decoder_rejects_client_ops() {
    for op in [
        &b"PUB foo 1\r\n"[..],
        b"HPUB foo 1 1\r\n",
        b"SUB foo 1\r\n",
        b"UNSUB 1\r\n",
        b"CONNECT {}\r\n",
    ] {
        assert_eq!(
            fail_server(op),
            Error::UnknownOp,
            "{:?}",
            String::from_utf8_lossy(op)
        );
    }
    assert_eq!(fail_server(b" MSG"), Error::UnknownOp);
    assert_eq!(fail_server(b"MSGX"), Error::UnknownOp);
}

#[test]
fn server_decoder_arg_and_size_rules() {
    assert_eq!(
        fail_server(b"MSG foo 5\r\n"),
        Error::InvalidArgCount { op: "MSG" }
    );
    assert_eq!(
        fail_server(b"MSG a b c d e\r\n"),
        Error::InvalidArgCount { op: "MSG" }
    );
    assert_eq!(
        fail_server(b"HMSG foo 1 2\r\n"),
        Error::InvalidArgCount { op: "HMSG" }
    );
    assert_eq!(
        fail_server(b"HMSG a b c d e f\r\n"),
        Error::InvalidArgCount { op: "HMSG" }
    );
    assert_eq!(
        fail_server(b"MSG foo 1 x\r\n"),
        Error::InvalidSize { op: "MSG" }
    );
    assert_eq!(
        fail_server(b"HMSG foo 1 6 5\r\n"),
        Error::HeaderSizeTooLarge
    );
    assert_eq!(fail_server(b"MSG foo 1 2\r\nhiX"), Error::UnknownOp);
}

#[test]
fn display_is_lower_case() {
    for e in [
        Error::UnknownOp,
        Error::MaxControlLineExceeded,
        Error::MaxPayloadExceeded { size: 2, max: 1 },
        Error::InvalidArgCount { op: "PUB" },
        Error::InvalidSize { op: "PUB" },
        Error::HeaderSizeTooLarge,
        Error::HeadersNotSupported,
        Error::InvalidJson,
        Error::ErrReceived,
    ] {
        let s = e.to_string();
        assert!(
            s.chars().next().unwrap().is_lowercase() || s.starts_with('-'),
            "{s}"
        );
        assert!(!s.ends_with('.'));
    }
}
