//! Encoder → decoder round trips for every op in both directions.
#![allow(missing_docs)]

use natsws_core::proto::{
    encode_connect, encode_err, encode_hmsg, encode_hpub, encode_info, encode_msg, encode_pub,
    encode_sub, encode_unsub, ClientDecoder, ClientOp, Connect, Info, Limits, ServerDecoder,
    ServerOp, OK, PING, PONG,
};
use natsws_core::proto::{encode_no_responders, headers};
use proptest::prelude::*;

fn client_one(bytes: &[u8]) -> ClientOp<'_> {
    let (op, n) = ClientDecoder::default().decode(bytes).unwrap().unwrap();
    assert_eq!(n, bytes.len());
    op
}

fn server_one(bytes: &[u8]) -> ServerOp<'_> {
    let (op, n) = ServerDecoder::default().decode(bytes).unwrap().unwrap();
    assert_eq!(n, bytes.len());
    op
}

#[test]
fn constants_round_trip() {
    assert_eq!(client_one(PING), ClientOp::Ping);
    assert_eq!(client_one(PONG), ClientOp::Pong);
    assert_eq!(client_one(OK), ClientOp::Ok);
    assert_eq!(server_one(PING), ServerOp::Ping);
    assert_eq!(server_one(PONG), ServerOp::Pong);
    assert_eq!(server_one(OK), ServerOp::Ok);
}

#[test]
fn err_round_trips_with_quotes() {
    let mut v = Vec::new();
    encode_err(&mut v, "Maximum Payload Violation");
    assert_eq!(v, b"-ERR 'Maximum Payload Violation'\r\n");
    assert_eq!(
        server_one(&v),
        ServerOp::Err(b"'Maximum Payload Violation'")
    );
    assert_eq!(
        client_one(&v),
        ClientOp::Err(b"'Maximum Payload Violation'")
    );
}

#[test]
fn no_responders_round_trips() {
    let mut v = Vec::new();
    encode_no_responders(&mut v, b"_INBOX.abc.1", b"42", b"service.echo");
    let ServerOp::Hmsg {
        subject,
        sid,
        reply,
        headers: h,
        payload,
    } = server_one(&v)
    else {
        panic!()
    };
    assert_eq!(
        (subject, sid, reply, payload),
        (&b"_INBOX.abc.1"[..], &b"42"[..], None, &b""[..])
    );
    assert_eq!(h.len(), 32 + b"service.echo".len());
    let parsed = headers::parse(h).unwrap();
    assert_eq!(parsed.status(), Some(503));
    assert_eq!(parsed.get(b"Nats-Subject"), Some(&b"service.echo"[..]));
}

#[test]
fn connect_round_trips() {
    let c = Connect {
        verbose: false,
        pedantic: false,
        name: "demo".into(),
        lang: "rust".into(),
        version: "0.1.0".into(),
        protocol: 1,
        headers: true,
        no_responders: true,
        user: "u".into(),
        pass: "p".into(),
        ..Connect::default()
    };
    let mut v = Vec::new();
    encode_connect(&mut v, &c);
    assert!(v.starts_with(b"CONNECT {\"echo\":true,\"verbose\":false,"));
    assert!(v.ends_with(b"}\r\n"));
    let ClientOp::Connect(json) = client_one(&v) else {
        panic!()
    };
    assert_eq!(Connect::from_json(json).unwrap(), c);
}

#[test]
fn info_round_trips_with_space_before_crlf() {
    let info = Info {
        server_id: "NABC".into(),
        server_name: "n1".into(),
        version: "2.15.0-dev".into(),
        proto: 1,
        go: "go1.25.12".into(),
        host: "0.0.0.0".into(),
        port: 4222,
        headers: true,
        max_payload: 1_048_576,
        client_id: 5,
        client_ip: "127.0.0.1".into(),
        api_lvl: 5,
        ..Info::default()
    };
    let mut v = Vec::new();
    encode_info(&mut v, &info);
    assert_eq!(
        v,
        b"INFO {\"server_id\":\"NABC\",\"server_name\":\"n1\",\"version\":\"2.15.0-dev\",\"proto\":1,\
\"go\":\"go1.25.12\",\"host\":\"0.0.0.0\",\"port\":4222,\"headers\":true,\"max_payload\":1048576,\
\"client_id\":5,\"client_ip\":\"127.0.0.1\",\"api_lvl\":5} \r\n"
    );
    let ServerOp::Info(json) = server_one(&v) else {
        panic!()
    };
    assert_eq!(Info::from_json(json).unwrap(), info);
    let ClientOp::Info(json) = client_one(&v) else {
        panic!()
    };
    assert_eq!(Info::from_json(json).unwrap(), info);
}

fn token() -> impl Strategy<Value = Vec<u8>> {
    // Any non-blank bytes (subjects and sids are opaque).
    proptest::collection::vec(
        any::<u8>().prop_filter("non-blank", |b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n')),
        1..12,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn pub_round_trips(s in token(), r in proptest::option::of(token()), p in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut v = Vec::new();
        encode_pub(&mut v, &s, r.as_deref(), &p);
        prop_assert_eq!(client_one(&v), ClientOp::Pub { subject: &s, reply: r.as_deref(), payload: &p });
    }

    #[test]
    fn hpub_round_trips(s in token(), r in proptest::option::of(token()), h in proptest::collection::vec(any::<u8>(), 0..32), p in proptest::collection::vec(any::<u8>(), 0..32)) {
        let mut v = Vec::new();
        encode_hpub(&mut v, &s, r.as_deref(), &h, &p);
        prop_assert_eq!(client_one(&v), ClientOp::Hpub { subject: &s, reply: r.as_deref(), headers: &h, payload: &p });
    }

    #[test]
    fn sub_unsub_round_trip(s in token(), q in proptest::option::of(token()), sid in token(), m in proptest::option::of(1u64..=999_999_999)) {
        let mut v = Vec::new();
        encode_sub(&mut v, &s, q.as_deref(), &sid);
        prop_assert_eq!(client_one(&v), ClientOp::Sub { subject: &s, queue: q.as_deref(), sid: &sid });
        v.clear();
        encode_unsub(&mut v, &sid, m);
        prop_assert_eq!(client_one(&v), ClientOp::Unsub { sid: &sid, max_msgs: m });
    }

    #[test]
    fn msg_round_trips(s in token(), sid in token(), r in proptest::option::of(token()), p in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut v = Vec::new();
        encode_msg(&mut v, &s, &sid, r.as_deref(), &p);
        prop_assert_eq!(server_one(&v), ServerOp::Msg { subject: &s, sid: &sid, reply: r.as_deref(), payload: &p });
    }

    #[test]
    fn hmsg_round_trips(s in token(), sid in token(), r in proptest::option::of(token()), h in proptest::collection::vec(any::<u8>(), 0..32), p in proptest::collection::vec(any::<u8>(), 0..32)) {
        let mut v = Vec::new();
        encode_hmsg(&mut v, &s, &sid, r.as_deref(), &h, &p);
        prop_assert_eq!(server_one(&v), ServerOp::Hmsg { subject: &s, sid: &sid, reply: r.as_deref(), headers: &h, payload: &p });
    }

    #[test]
    fn encoders_append(prefix in proptest::collection::vec(any::<u8>(), 0..8), s in token()) {
        let mut v = prefix.clone();
        encode_pub(&mut v, &s, None, b"x");
        prop_assert!(v.starts_with(&prefix));
        let mut d = ClientDecoder::new(Limits::default());
        let (op, n) = d.decode(&v[prefix.len()..]).unwrap().unwrap();
        prop_assert_eq!(n, v.len() - prefix.len());
        prop_assert_eq!(op, ClientOp::Pub { subject: &s, reply: None, payload: b"x" });
    }
}
