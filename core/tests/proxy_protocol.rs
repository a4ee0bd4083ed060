//! natsws_core::proxy_protocol: PROXY v1 and v2 headers as nats-server
//! 2.15.1 reads them (`client_proxyproto.go`), error texts included, and
//! resumability over any split.

use natsws_core::proxy_protocol::{parse, Error, Header, Parsed, V2_SIGNATURE};
use proptest::prelude::*;
use std::net::SocketAddr;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn proxied(src: &str, dst: &str, len: usize) -> Parsed {
    Parsed::Header {
        header: Header::Proxied {
            src: addr(src),
            dst: addr(dst),
        },
        len,
    }
}

fn v2(ver_cmd: u8, fam_proto: u8, addrs: &[u8]) -> Vec<u8> {
    let mut h = V2_SIGNATURE.to_vec();
    h.push(ver_cmd);
    h.push(fam_proto);
    h.extend_from_slice(&(addrs.len() as u16).to_be_bytes());
    h.extend_from_slice(addrs);
    h
}

#[test]
fn v1_tcp4_tcp6_and_unknown() {
    let line = b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 4222\r\nCONNECT {}\r\n";
    assert_eq!(
        parse(line),
        Ok(proxied("192.0.2.1:56324", "198.51.100.2:4222", 46))
    );
    let line = b"PROXY TCP6 2001:db8::1 ::ffff:192.0.2.9 1 65535\r\n";
    assert_eq!(
        parse(line),
        Ok(proxied(
            "[2001:db8::1]:1",
            "[::ffff:192.0.2.9]:65535",
            line.len()
        ))
    );
    assert_eq!(
        parse(b"PROXY UNKNOWN ffff::1 whatever\r\nPING\r\n"),
        Ok(Parsed::Header {
            header: Header::Local,
            len: 32
        })
    );
}

#[test]
fn v1_errors_carry_nats_server_texts() {
    let err = |b: &[u8]| parse(b).unwrap_err().to_string();
    assert_eq!(
        err(b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"),
        "invalid PROXY protocol header: invalid v1 format"
    );
    assert_eq!(
        err(b"PROXY \r\n"),
        "invalid PROXY protocol header: invalid v1 format"
    );
    assert_eq!(
        err(b"PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n"),
        "invalid PROXY protocol header: invalid address"
    );
    assert_eq!(
        err(b"PROXY TCP4 1.2.3.4 5.6.7.8 x 2\r\n"),
        "invalid source port: strconv.ParseUint: parsing \"x\": invalid syntax"
    );
    assert_eq!(
        err(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 70000\r\n"),
        "invalid dest port: strconv.ParseUint: parsing \"70000\": value out of range"
    );
    assert_eq!(
        err(b"PROXY TCP4 ::1 5.6.7.8 1 2\r\n"),
        "invalid PROXY protocol header: TCP4 with IPv6 address"
    );
    assert_eq!(
        err(b"PROXY TCP6 ::1 5.6.7.8 1 2\r\n"),
        "invalid PROXY protocol header: TCP6 with IPv4 address"
    );
    assert_eq!(
        err(b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n"),
        "invalid PROXY protocol header: invalid protocol UDP4"
    );
    let long = [b"PROXY ".as_slice(), &[b'a'; 101]].concat();
    assert_eq!(
        err(&long),
        "invalid PROXY protocol header: v1 line too long"
    );
    assert_eq!(parse(&long[..106]), Ok(Parsed::Incomplete));
}

#[test]
fn v2_inet_inet6_local_unspec() {
    let mut a4 = vec![192, 0, 2, 1, 198, 51, 100, 2];
    a4.extend_from_slice(&56324u16.to_be_bytes());
    a4.extend_from_slice(&4222u16.to_be_bytes());
    let mut h = v2(0x21, 0x11, &a4);
    let len = h.len();
    h.extend_from_slice(b"CONNECT {}\r\n");
    assert_eq!(
        parse(&h),
        Ok(proxied("192.0.2.1:56324", "198.51.100.2:4222", len))
    );
    // TLVs after the addresses are inside the length and skipped.
    let mut with_tlv = a4.clone();
    with_tlv.extend_from_slice(&[0x04, 0x00, 0x01, 0xAA]);
    let h = v2(0x21, 0x11, &with_tlv);
    assert_eq!(
        parse(&h),
        Ok(proxied("192.0.2.1:56324", "198.51.100.2:4222", h.len()))
    );
    let mut a6 = Vec::new();
    a6.extend_from_slice(
        &"2001:db8::1"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets(),
    );
    a6.extend_from_slice(
        &"2001:db8::2"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets(),
    );
    a6.extend_from_slice(&[0, 1, 0, 2]);
    let h = v2(0x21, 0x21, &a6);
    assert_eq!(
        parse(&h),
        Ok(proxied("[2001:db8::1]:1", "[2001:db8::2]:2", h.len()))
    );
    for (vc, fp) in [(0x20, 0x00), (0x20, 0x11), (0x21, 0x01)] {
        let h = v2(vc, fp, &[9, 9, 9]);
        assert_eq!(
            parse(&h),
            Ok(Parsed::Header {
                header: Header::Local,
                len: h.len()
            }),
            "{vc:#x} {fp:#x}"
        );
    }
}

#[test]
fn v2_errors_carry_nats_server_texts() {
    let err = |b: &[u8]| parse(b).unwrap_err().to_string();
    let mut bad_sig = V2_SIGNATURE.to_vec();
    bad_sig[8] = b'X';
    bad_sig.extend_from_slice(&[0x21, 0x11, 0, 0]);
    assert_eq!(
        err(&bad_sig),
        "invalid PROXY protocol header: invalid signature"
    );
    assert_eq!(
        err(&v2(0x11, 0x11, &[])),
        "invalid PROXY protocol header: invalid version 0x10"
    );
    assert_eq!(
        err(&v2(0x22, 0x11, &[])),
        "unknown PROXY protocol command: 0x02"
    );
    assert_eq!(
        err(&v2(0x21, 0x12, &[0; 12])),
        "unsupported PROXY protocol feature: only STREAM protocol supported"
    );
    // Go checks the protocol before the family: UNSPEC/UNSPEC is refused.
    assert_eq!(
        err(&v2(0x21, 0x00, &[])),
        "unsupported PROXY protocol feature: only STREAM protocol supported"
    );
    assert_eq!(
        err(&v2(0x21, 0x31, &[0; 216])),
        "unsupported PROXY protocol feature: unsupported address family 0x30"
    );
    assert_eq!(
        err(&v2(0x21, 0x11, &[0; 11])),
        "IPv4 address data too short: 11 bytes"
    );
    assert_eq!(
        err(&v2(0x21, 0x21, &[0; 12])),
        "IPv6 address data too short: 12 bytes"
    );
    assert!(matches!(
        parse(&v2(0x21, 0x11, &[0; 11])),
        Err(Error::Ipv4TooShort(11))
    ));
}

#[test]
fn anything_else_is_not_a_header() {
    for b in [
        &b"CONNECT {}\r\n"[..],
        b"PING\r\n",
        b"PROXYX",
        b"\x16\x03\x01",
        b"\r\n\r\n\x00X",
    ] {
        assert_eq!(parse(b), Ok(Parsed::NotProxy), "{b:?}");
    }
    assert_eq!(parse(b""), Ok(Parsed::Incomplete));
    assert_eq!(parse(b"PRO"), Ok(Parsed::Incomplete));
    assert_eq!(parse(&V2_SIGNATURE[..4]), Ok(Parsed::Incomplete));
}

proptest! {
    /// Any prefix of a complete header is Incomplete, and the answer for
    /// the whole input never changes with what follows the header.
    #[test]
    fn prefixes_are_incomplete_and_trailing_bytes_do_not_matter(
        v4 in any::<[u8; 4]>(), sport in any::<u16>(), dport in any::<u16>(),
        use_v2 in any::<bool>(), tail in proptest::collection::vec(any::<u8>(), 0..40),
    ) {
        let src = std::net::Ipv4Addr::from(v4);
        let header = if use_v2 {
            let mut a = v4.to_vec();
            a.extend_from_slice(&[10, 0, 0, 1]);
            a.extend_from_slice(&sport.to_be_bytes());
            a.extend_from_slice(&dport.to_be_bytes());
            v2(0x21, 0x11, &a)
        } else {
            format!("PROXY TCP4 {src} 10.0.0.1 {sport} {dport}\r\n").into_bytes()
        };
        let want = Parsed::Header {
            header: Header::Proxied {
                src: SocketAddr::new(src.into(), sport),
                dst: SocketAddr::new([10, 0, 0, 1].into(), dport),
            },
            len: header.len(),
        };
        for i in 0..header.len() {
            prop_assert_eq!(parse(&header[..i]), Ok(Parsed::Incomplete));
        }
        let mut all = header.clone();
        all.extend_from_slice(&tail);
        prop_assert_eq!(parse(&all), Ok(want));
    }

    /// Arbitrary bytes: no panic, and a header never claims more bytes
    /// than were given.
    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(Parsed::Header { len, .. }) = parse(&b) {
            prop_assert!(len <= b.len());
        }
    }
}
