//! The MQTT codec against spec `mqtt.md` §2: every check's reaction, the
//! server packets' bytes, and the chunking property (any split of a stream
//! gives the same packets and the same error).
#![allow(missing_docs)]

use natsws_core::mqtt::codec::{
    client, encode_ack, encode_connack, encode_pingresp, encode_publish, encode_suback, kind,
    Decoder, Error, Limits, Packet, Reaction,
};
use proptest::prelude::*;

fn connect_bytes() -> Vec<u8> {
    let mut v = Vec::new();
    client::connect(&mut v, b"c1", true, 30, None, None, None);
    v
}

/// Decodes `bytes` after a valid CONNECT; the first packet or error.
fn after_connect(bytes: &[u8]) -> Result<Option<String>, Error> {
    after_connect_with(Limits::default(), bytes)
}

fn after_connect_with(limits: Limits, bytes: &[u8]) -> Result<Option<String>, Error> {
    let mut d = Decoder::new(limits);
    let c = connect_bytes();
    let (_, n) = d.decode(&c).unwrap().unwrap();
    assert_eq!(n, c.len());
    d.decode(bytes).map(|o| o.map(|(p, _)| format!("{p:?}")))
}

fn first(bytes: &[u8]) -> Result<Option<(Packet<'_>, usize)>, Error> {
    Decoder::new(Limits::default()).decode(bytes)
}

/// A CONNECT with raw variable header fields.
fn raw_connect(name: &[u8], level: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&(name.len() as u16).to_be_bytes());
    body.extend_from_slice(name);
    body.push(level);
    body.push(flags);
    body.extend_from_slice(&[0, 30]);
    body.extend_from_slice(payload);
    let mut v = vec![0x10, body.len() as u8];
    v.extend_from_slice(&body);
    v
}

fn s(x: &[u8]) -> Vec<u8> {
    let mut v = (x.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(x);
    v
}

#[test]
fn connect_rows_of_spec_2_3_in_order() {
    let id = s(b"c1");
    let close = Reaction::Close;
    let cases: Vec<(Vec<u8>, Error, Reaction)> = vec![
        // row 1: first packet not CONNECT
        (vec![0xc0, 0], Error::NotConnect(12), close),
        // row 2: flags
        (
            {
                let mut c = connect_bytes();
                c[0] = 0x11;
                c
            },
            Error::BadFlags(1),
            close,
        ),
        // row 4: protocol name
        (
            raw_connect(b"MQIsdp", 3, 2, &id),
            Error::ProtocolName,
            close,
        ),
        // row 5: level
        (
            raw_connect(b"MQTT", 3, 2, &id),
            Error::ProtocolLevel,
            Reaction::Connack(1),
        ),
        (
            raw_connect(b"MQTT", 5, 2, &id),
            Error::ProtocolLevel,
            Reaction::Connack(1),
        ),
        // row 6: reserved flag
        (raw_connect(b"MQTT", 4, 3, &id), Error::ReservedFlag, close),
        // rows 7-9: will flags
        (
            raw_connect(b"MQTT", 4, 2 | 0x08, &id),
            Error::WillFlags,
            close,
        ),
        (
            raw_connect(b"MQTT", 4, 2 | 0x20, &id),
            Error::WillFlags,
            close,
        ),
        (
            raw_connect(b"MQTT", 4, 2 | 0x04 | 0x18, &id),
            Error::WillFlags,
            close,
        ),
        // row 11: password without user
        (
            raw_connect(b"MQTT", 4, 2 | 0x40, &id),
            Error::PasswordWithoutUser,
            close,
        ),
        // row 13: empty id, clean 0
        (
            raw_connect(b"MQTT", 4, 0, &s(b"")),
            Error::EmptyClientId,
            Reaction::Connack(2),
        ),
        // rows 15-16: id UTF-8, NUL, NATS characters
        (
            raw_connect(b"MQTT", 4, 2, &s(b"a\xffb")),
            Error::BadClientId,
            Reaction::Connack(2),
        ),
        (
            raw_connect(b"MQTT", 4, 2, &s(b"a\0b")),
            Error::BadClientId,
            Reaction::Connack(2),
        ),
        (
            raw_connect(b"MQTT", 4, 2, &s(b"a.b")),
            Error::BadClientId,
            Reaction::Connack(2),
        ),
        (
            raw_connect(b"MQTT", 4, 2, &s(b"a*")),
            Error::BadClientId,
            Reaction::Connack(2),
        ),
        (
            raw_connect(b"MQTT", 4, 2, &s(b">")),
            Error::BadClientId,
            Reaction::Connack(2),
        ),
        (
            raw_connect(b"MQTT", 4, 2, &s(b"a b")),
            Error::BadClientId,
            Reaction::Connack(2),
        ),
        // rows 17-18: will topic
        (
            raw_connect(b"MQTT", 4, 2 | 4, &[id.clone(), s(b""), s(b"m")].concat()),
            Error::BadWillTopic,
            close,
        ),
        (
            raw_connect(
                b"MQTT",
                4,
                2 | 4,
                &[id.clone(), s(b"a/#"), s(b"m")].concat(),
            ),
            Error::BadWillTopic,
            close,
        ),
        (
            raw_connect(
                b"MQTT",
                4,
                2 | 4,
                &[id.clone(), s(b"a b"), s(b"m")].concat(),
            ),
            Error::BadWillTopic,
            close,
        ),
        // rows 19-20: user name
        (
            raw_connect(b"MQTT", 4, 2 | 0x80, &[id.clone(), s(b"")].concat()),
            Error::BadUserName,
            Reaction::Connack(4),
        ),
        (
            raw_connect(b"MQTT", 4, 2 | 0x80, &[id.clone(), s(b"\xc3")].concat()),
            Error::BadUserName,
            Reaction::Connack(4),
        ),
        // a field past the end
        (
            raw_connect(b"MQTT", 4, 2 | 0x80, &id),
            Error::Truncated,
            close,
        ),
    ];
    for (bytes, err, reaction) in cases {
        let got = first(&bytes);
        assert_eq!(got, Err(err), "{bytes:x?}");
        assert_eq!(err.reaction(), reaction, "{err:?}");
    }
    // row 10: QoS 2 will with reject_qos2_publish
    let b = raw_connect(
        b"MQTT",
        4,
        2 | 4 | 0x10,
        &[id.clone(), s(b"w"), s(b"m")].concat(),
    );
    assert!(first(&b).is_ok());
    let limits = Limits {
        reject_qos2_publish: true,
        ..Limits::default()
    };
    assert_eq!(
        Decoder::new(limits).decode(&b),
        Err(Error::Qos2WillRejected)
    );
    assert_eq!(Error::Qos2WillRejected.reaction(), Reaction::Connack(0x10));
    // The first failing check decides: level 3 with a bad client id is 0x01.
    assert_eq!(
        first(&raw_connect(b"MQTT", 3, 0, &s(b""))),
        Err(Error::ProtocolLevel)
    );
}

#[test]
fn connect_accepted_fields() {
    let mut v = Vec::new();
    client::connect(
        &mut v,
        b"dev-1",
        false,
        60,
        Some((b"w/t", b"bye", 1, true)),
        Some(b"u"),
        Some(b"p\0w"),
    );
    let (p, n) = first(&v).unwrap().unwrap();
    assert_eq!(n, v.len());
    let Packet::Connect(c) = p else {
        panic!("{p:?}")
    };
    assert!(!c.clean);
    assert_eq!(c.keep_alive, 60);
    assert_eq!(c.client_id, "dev-1");
    let w = c.will.unwrap();
    assert_eq!(
        (w.topic, w.message, w.qos, w.retain),
        ("w/t", &b"bye"[..], 1, true)
    );
    assert_eq!(c.user, Some("u"));
    assert_eq!(c.password, Some(&b"p\0w"[..]));
    // Empty id with clean 1 is accepted (the server assigns one).
    let mut v = Vec::new();
    client::connect(&mut v, b"", true, 0, None, None, None);
    assert!(matches!(first(&v), Ok(Some((Packet::Connect(c), _))) if c.client_id.is_empty()));
    // A BOM is data.
    let mut v = Vec::new();
    client::connect(&mut v, "\u{feff}id".as_bytes(), true, 0, None, None, None);
    assert!(first(&v).is_ok());
}

#[test]
fn http_on_mqtt_port_and_second_connect() {
    assert_eq!(first(b"GE"), Ok(None));
    assert_eq!(first(b"GET / HTTP/1.1\r\n"), Err(Error::HttpOnMqttPort));
    assert_eq!(after_connect(&connect_bytes()), Err(Error::SecondConnect));
}

#[test]
fn fixed_header_flags_and_lengths_of_spec_2_1() {
    let cases: &[(&[u8], Error)] = &[
        (&[0x00, 0], Error::UnknownType(0)),
        (&[0xf0, 0], Error::UnknownType(15)),
        (&[0x20, 2, 0, 0], Error::UnknownType(2)),
        (&[0x90, 3, 0, 1, 0], Error::UnknownType(9)),
        (&[0xb0, 2, 0, 1], Error::UnknownType(11)),
        (&[0xd0, 0], Error::UnknownType(13)),
        (&[0xc1, 0], Error::BadFlags(12)),
        (&[0x41, 2, 0, 1], Error::BadFlags(4)),
        (&[0x51, 2, 0, 1], Error::BadFlags(5)),
        (&[0x63, 2, 0, 1], Error::BadFlags(6)),
        (&[0x60, 2, 0, 1], Error::BadFlags(6)),
        (&[0x71, 2, 0, 1], Error::BadFlags(7)),
        (&[0x80, 5, 0, 1, 0, 1, b'a'], Error::BadFlags(8)),
        (&[0xa0, 5, 0, 1, 0, 1, b'a'], Error::BadFlags(10)),
        (&[0xe1, 0], Error::BadFlags(14)),
        (&[0xc0, 1, 0], Error::Truncated),
        (&[0xe0, 1, 0], Error::Truncated),
        (&[0x40, 3, 0, 1, 0], Error::Truncated),
        (&[0x50, 3, 0, 1, 0], Error::Truncated),
        (&[0x62, 3, 0, 1, 0], Error::Truncated),
        (&[0x70, 3, 0, 1, 0], Error::Truncated),
        (&[0x40, 1, 0], Error::Truncated),
        (&[0x40, 2, 0, 0], Error::ZeroPacketId),
        (
            &[0x30, 0xff, 0xff, 0xff, 0xff, 0x01],
            Error::BadRemainingLength,
        ),
        // PUBLISH shorter than its topic.
        (&[0x30, 3, 0, 5, b'a'], Error::Truncated),
        (&[0x36, 5, 0, 1, b'a', 0, 1], Error::Qos3),
        (&[0x32, 5, 0, 1, b'a', 0, 0], Error::ZeroPacketId),
        (&[0x30, 2, 0, 0], Error::BadTopic),
        (&[0x30, 3, 0, 1, b'+'], Error::BadTopic),
        (&[0x30, 3, 0, 1, b'#'], Error::BadTopic),
        (&[0x30, 3, 0, 1, b' '], Error::BadTopic),
        (&[0x30, 3, 0, 1, 0x7f], Error::BadTopic),
        (&[0x30, 3, 0, 1, 0], Error::BadTopic),
        (&[0x30, 3, 0, 1, 0xff], Error::BadTopic),
        // SUBSCRIBE / UNSUBSCRIBE
        (&[0x82, 2, 0, 1], Error::NoFilter),
        (&[0x82, 5, 0, 0, 0, 1, b'a'], Error::ZeroPacketId),
        (&[0x82, 5, 0, 1, 0, 0, 0], Error::BadFilter),
        (&[0x82, 6, 0, 1, 0, 1, b'a', 3], Error::BadRequestedQos),
        (&[0x82, 6, 0, 1, 0, 1, b'a', 0x40], Error::BadRequestedQos),
        (&[0x82, 6, 0, 1, 0, 1, 0, 1], Error::BadFilter),
        (&[0x82, 5, 0, 1, 0, 1, b'a'], Error::Truncated),
        (&[0xa2, 2, 0, 1], Error::NoFilter),
        (&[0xa2, 4, 0, 1, 0, 0], Error::BadFilter),
    ];
    for (bytes, err) in cases {
        assert_eq!(after_connect(bytes), Err(*err), "{bytes:x?}");
        assert_eq!(err.reaction(), Reaction::Close);
    }
}

#[test]
fn valid_packets_after_connect() {
    assert_eq!(after_connect(&[0xc0, 0]).unwrap().unwrap(), "Pingreq");
    assert_eq!(after_connect(&[0xe0, 0]).unwrap().unwrap(), "Disconnect");
    assert_eq!(
        after_connect(&[0x40, 2, 1, 2]).unwrap().unwrap(),
        "Puback(258)"
    );
    assert_eq!(
        after_connect(&[0x50, 2, 0, 7]).unwrap().unwrap(),
        "Pubrec(7)"
    );
    assert_eq!(
        after_connect(&[0x62, 2, 0, 7]).unwrap().unwrap(),
        "Pubrel(7)"
    );
    assert_eq!(
        after_connect(&[0x70, 2, 0, 7]).unwrap().unwrap(),
        "Pubcomp(7)"
    );
    let mut v = Vec::new();
    client::subscribe(&mut v, 9, &[(b"a/+", 1), (b"#", 2)]);
    let mut d = Decoder::new(Limits::default());
    d.decode(&connect_bytes()).unwrap();
    let (p, _) = d.decode(&v).unwrap().unwrap();
    let Packet::Subscribe { id, filters } = p else {
        panic!()
    };
    assert_eq!(id, 9);
    assert_eq!(filters.iter().collect::<Vec<_>>(), [("a/+", 1), ("#", 2)]);
    let mut v = Vec::new();
    client::unsubscribe(&mut v, 3, &[b"x", b"y/z"]);
    let (p, _) = d.decode(&v).unwrap().unwrap();
    let Packet::Unsubscribe { id, filters } = p else {
        panic!()
    };
    assert_eq!(id, 3);
    assert_eq!(filters.iter().collect::<Vec<_>>(), [("x", 0), ("y/z", 0)]);
    let mut v = Vec::new();
    encode_publish(&mut v, true, 2, true, b"t/x", 5, b"pay");
    let (p, _) = d.decode(&v).unwrap().unwrap();
    let Packet::Publish(p) = p else { panic!() };
    assert_eq!(
        (p.dup, p.qos, p.retain, p.topic, p.id, p.payload),
        (true, 2, true, "t/x", 5, &b"pay"[..])
    );
    // QoS 2 PUBLISH with reject_qos2_publish.
    let limits = Limits {
        reject_qos2_publish: true,
        ..Limits::default()
    };
    assert_eq!(after_connect_with(limits, &v), Err(Error::Qos2Rejected));
}

#[test]
fn max_payload_on_announced_length_and_nats_message_size() {
    let limits = Limits {
        max_payload: 1024,
        ..Limits::default()
    };
    // Announced 1500 bytes, only the header present: refused at once.
    let mut v = Vec::new();
    client::publish(&mut v, 0, false, b"t", 0, &[0; 1500]);
    let head = &v[..4];
    assert!(
        matches!(after_connect_with(limits, head), Err(Error::MaxPayload(n, 1024)) if n as usize == v.len())
    );
    // A packet under the limit whose NATS message (payload + 25) is over.
    let mut v = Vec::new();
    client::publish(&mut v, 0, false, b"t", 0, &[0; 1000]);
    assert!(v.len() <= 1024);
    assert_eq!(
        after_connect_with(limits, &v),
        Err(Error::MaxPayload(1025, 1024))
    );
    let mut v = Vec::new();
    client::publish(&mut v, 0, false, b"t", 0, &[0; 999]);
    assert!(after_connect_with(limits, &v).unwrap().is_some());
    // Default limits: 1,048,551 payload bytes pass, 1 MiB does not.
    let mut v = Vec::new();
    client::publish(&mut v, 1, false, b"t", 1, &vec![0; 1_048_551 - 8]);
    assert!(after_connect(&v).is_ok());
    let mut v = Vec::new();
    client::publish(&mut v, 1, false, b"t", 1, &vec![0; 1024 * 1024]);
    assert!(matches!(after_connect(&v), Err(Error::MaxPayload(..))));
    // CONNECT over the limit.
    let mut c = Vec::new();
    client::connect(&mut c, &[b'a'; 2000], true, 0, None, None, None);
    assert!(matches!(
        Decoder::new(limits).decode(&c),
        Err(Error::MaxPayload(..))
    ));
}

/// The decoder keeps `max_payload` in 32 bits (it is held by every MQTT
/// connection): a larger setting saturates, so the largest packet MQTT can
/// announce (256 MiB) is still only waited for, never refused.
#[test]
fn max_payload_over_32_bits_saturates_and_decoder_is_small() {
    assert!(core::mem::size_of::<Decoder>() <= 20);
    let limits = Limits {
        max_payload: usize::MAX,
        ..Limits::default()
    };
    // PUBLISH announcing 268,435,455 bytes (0xff 0xff 0xff 0x7f).
    let head = [0x30, 0xff, 0xff, 0xff, 0x7f, 0x00, 0x01, b't'];
    assert_eq!(after_connect_with(limits, &head), Ok(None));
    let limits = Limits {
        max_payload: 1 << 20,
        ..Limits::default()
    };
    assert_eq!(
        after_connect_with(limits, &head),
        Err(Error::MaxPayload(268_435_460, 1 << 20))
    );
}

#[test]
fn errors_are_sticky() {
    let mut d = Decoder::new(Limits::default());
    assert_eq!(d.decode(&[0xc0, 0]), Err(Error::NotConnect(12)));
    assert_eq!(d.decode(&connect_bytes()), Err(Error::NotConnect(12)));
}

#[test]
fn server_packets_bytes() {
    let mut v = Vec::new();
    encode_connack(&mut v, true, 0);
    encode_connack(&mut v, true, 5);
    assert_eq!(v, [0x20, 2, 1, 0, 0x20, 2, 0, 5]);
    let mut v = Vec::new();
    encode_ack(&mut v, kind::PUBACK, 1);
    encode_ack(&mut v, kind::PUBREC, 2);
    encode_ack(&mut v, kind::PUBREL, 3);
    encode_ack(&mut v, kind::PUBCOMP, 4);
    encode_ack(&mut v, kind::UNSUBACK, 5);
    encode_pingresp(&mut v);
    assert_eq!(
        v,
        [0x40, 2, 0, 1, 0x50, 2, 0, 2, 0x62, 2, 0, 3, 0x70, 2, 0, 4, 0xb0, 2, 0, 5, 0xd0, 0]
    );
    let mut v = Vec::new();
    encode_suback(&mut v, 0x102, &[0, 1, 0x80]);
    assert_eq!(v, [0x90, 5, 1, 2, 0, 1, 0x80]);
    let mut v = Vec::new();
    encode_publish(&mut v, true, 0, false, b"a", 9, b"x");
    assert_eq!(
        v,
        [0x30, 4, 0, 1, b'a', b'x'],
        "no DUP and no id with QoS 0"
    );
    let mut v = Vec::new();
    encode_publish(&mut v, true, 1, true, b"a", 9, &[7; 200]);
    assert_eq!(&v[..7], [0x3b, 0xcd, 0x01, 0, 1, b'a', 0]);
    assert_eq!(v.len(), 3 + 205);
}

/// Feeds `chunks` the caller's way; the packets (Debug) and the error.
fn feed(chunks: &[&[u8]]) -> (Vec<String>, Option<Error>) {
    let mut d = Decoder::new(Limits {
        max_payload: 4096,
        reject_qos2_publish: false,
    });
    let mut buf = Vec::new();
    let mut out = Vec::new();
    for c in chunks {
        buf.extend_from_slice(c);
        loop {
            match d.decode(&buf) {
                Ok(Some((p, n))) => {
                    out.push(format!("{p:?}"));
                    buf.drain(..n);
                }
                Ok(None) => break,
                Err(e) => return (out, Some(e)),
            }
        }
    }
    (out, None)
}

fn packet() -> impl Strategy<Value = Vec<u8>> {
    let topic = "[a-z/.]{1,12}";
    prop_oneof![
        (
            topic,
            0u8..3,
            any::<bool>(),
            1u16..,
            proptest::collection::vec(any::<u8>(), 0..300)
        )
            .prop_map(|(t, q, r, id, p)| {
                let mut v = Vec::new();
                client::publish(&mut v, q, r, t.as_bytes(), id, &p);
                v
            }),
        (topic, 0u8..3, 1u16..).prop_map(|(t, q, id)| {
            let mut v = Vec::new();
            client::subscribe(&mut v, id, &[(t.as_bytes(), q)]);
            v
        }),
        (1u16..).prop_map(|id| vec![0x40, 2, (id >> 8) as u8, id as u8]),
        Just(vec![0xc0, 0]),
        proptest::collection::vec(any::<u8>(), 1..8),
    ]
}

proptest! {
    #[test]
    fn any_split_gives_the_same_packets_and_error(
        packets in proptest::collection::vec(packet(), 0..8),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let mut stream = connect_bytes();
        for p in &packets { stream.extend_from_slice(p); }
        let whole = feed(&[&stream]);
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        prop_assert_eq!(&feed(&bytes), &whole);
        let mut at: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
        at.sort_unstable();
        let mut chunks = Vec::new();
        let mut prev = 0;
        for a in at { chunks.push(&stream[prev..a]); prev = a; }
        chunks.push(&stream[prev..]);
        prop_assert_eq!(&feed(&chunks), &whole);
    }
}
