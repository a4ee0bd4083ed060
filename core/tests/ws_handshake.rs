//! Upgrade handshake: spec §8 group B (unit cases), §2 rules, the client
//! role, and the chunking property of the push parser.
#![allow(missing_docs)]

use natsws_core::ws::handshake::{
    accept_key, validate_request, write_accept_response, write_client_request,
    write_reject_response, write_reject_response_in, AllowedOrigin, ClientRequest, CookieNames,
    PathKind, RequestParser, ResponseParser, Status, Upgrade, UpgradeConfig,
};
use natsws_core::ws::{Error, Reaction};
use proptest::prelude::*;

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// A valid request (like Go's testWSCreateValidReq) with header overrides:
/// `None` removes the header.
fn req_with(path: &str, method: &str, overrides: &[(&str, Option<&str>)]) -> Vec<u8> {
    let mut hs: Vec<(String, String)> = vec![
        ("Host".into(), "localhost".into()),
        ("Upgrade".into(), "websocket".into()),
        ("Connection".into(), "Upgrade".into()),
        ("Sec-WebSocket-Key".into(), KEY.into()),
        ("Sec-WebSocket-Version".into(), "13".into()),
    ];
    for (k, v) in overrides {
        let pos = hs.iter().position(|(n, _)| n.eq_ignore_ascii_case(k));
        match (pos, v) {
            (Some(i), Some(v)) => hs[i].1 = v.to_string(),
            (Some(i), None) => {
                hs.remove(i);
            }
            (None, Some(v)) => hs.push((k.to_string(), v.to_string())),
            (None, None) => {}
        }
    }
    let mut s = format!("{method} {path} HTTP/1.1\r\n");
    for (k, v) in hs {
        s.push_str(&format!("{k}: {v}\r\n"));
    }
    s.push_str("\r\n");
    s.into_bytes()
}

fn req(overrides: &[(&str, Option<&str>)]) -> Vec<u8> {
    req_with("/", "GET", overrides)
}

fn check(cfg: &UpgradeConfig, r: &[u8]) -> Result<Upgrade, Error> {
    validate_request(r, cfg, false)
}

fn parse_response(bytes: &[u8]) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut hs = [httparse::EMPTY_HEADER; 32];
    let mut resp = httparse::Response::new(&mut hs);
    let n = match resp.parse(bytes).unwrap() {
        httparse::Status::Complete(n) => n,
        httparse::Status::Partial => panic!("partial response"),
    };
    let headers = resp
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_string(),
                String::from_utf8(h.value.to_vec()).unwrap(),
            )
        })
        .collect();
    (resp.code.unwrap(), headers, bytes[n..].to_vec())
}

// ---- exact 101 (spec §2.8, RFC 6455 §4.2.2)
#[test]
fn accept_response_exact_bytes() {
    let cfg = UpgradeConfig::default();
    let up = check(&cfg, &req(&[])).unwrap();
    let mut out = Vec::new();
    write_accept_response(&mut out, &up, &cfg);
    assert_eq!(
        out,
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
    );
}

#[test]
fn accept_response_with_all_options_in_order() {
    let mut cfg = UpgradeConfig::default();
    cfg.compression = true;
    cfg.mqtt_enabled = true;
    cfg.headers = vec![("X-Custom".into(), "yes".into())];
    let up = check(
        &cfg,
        &req_with(
            "/mqtt",
            "GET",
            &[
                (
                    "Sec-WebSocket-Extensions",
                    Some("permessage-deflate; client_max_window_bits"),
                ),
                ("Nats-No-Masking", Some("true")),
                ("Sec-WebSocket-Protocol", Some("mqtt")),
            ],
        ),
    )
    .unwrap();
    let mut out = Vec::new();
    write_accept_response(&mut out, &up, &cfg);
    let text = String::from_utf8(out).unwrap();
    assert_eq!(
        text,
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n\
Nats-No-Masking: true\r\nSec-Websocket-Protocol: mqtt\r\nX-Custom: yes\r\n\r\n"
    );
}

// ---- B21 TestWSCheckOrigin
#[test]
fn b21_check_origin() {
    let list = ["http://host1.com", "http://host2.com:1234"];
    // (name, same_origin, list?, req host, tls, origin, expected error substring)
    let cases: &[(&str, bool, bool, &str, bool, &str, &str)] = &[
        (
            "any",
            false,
            false,
            "localhost",
            false,
            "http://any.host.com",
            "",
        ),
        (
            "same origin ok",
            true,
            false,
            "host.com",
            false,
            "http://host.com:80",
            "",
        ),
        (
            "same origin default port",
            true,
            false,
            "host.com:80",
            false,
            "http://host.com",
            "",
        ),
        (
            "same origin tls ok",
            true,
            false,
            "host.com",
            true,
            "https://host.com:443",
            "",
        ),
        (
            "same origin bad host",
            true,
            false,
            "host.com",
            false,
            "http://other.host.com",
            "not same origin",
        ),
        (
            "same origin bad port",
            true,
            false,
            "host.com",
            false,
            "http://host.com:81",
            "not same origin",
        ),
        (
            "same origin bad scheme",
            true,
            false,
            "host.com",
            true,
            "http://host.com",
            "not same origin",
        ),
        (
            "same origin bad scheme 443",
            true,
            false,
            "host.com:443",
            true,
            "http://host.com:443",
            "not same origin",
        ),
        (
            "same origin case-insensitive host",
            true,
            false,
            "HOST.com",
            false,
            "http://host.COM",
            "",
        ),
        (
            "same origin bad uri",
            true,
            false,
            "host.com",
            false,
            "@@@://invalid:url:1234",
            "invalid URI",
        ),
        (
            "same origin bad url",
            true,
            false,
            "host.com",
            false,
            "http://invalid:url:1234",
            "too many colons",
        ),
        (
            "same origin bad req host",
            true,
            false,
            "invalid:url:1234",
            false,
            "http://host.com",
            "too many colons",
        ),
        (
            "same origin null origin",
            true,
            false,
            "host.com",
            false,
            "null",
            "invalid URI",
        ),
        ("no origin", true, false, "host.com", false, "", ""),
        (
            "allowed from list",
            false,
            true,
            "localhost",
            false,
            "http://host2.com:1234",
            "",
        ),
        (
            "allowed with different path",
            false,
            true,
            "localhost",
            false,
            "http://host1.com/some/path",
            "",
        ),
        (
            "list bad port",
            false,
            true,
            "localhost",
            false,
            "http://host1.com:1234",
            "not in the allowed list",
        ),
        (
            "list bad scheme",
            false,
            true,
            "localhost",
            false,
            "https://host2.com:1234",
            "not in the allowed list",
        ),
        (
            "list unknown host",
            false,
            true,
            "localhost",
            false,
            "http://host3.com",
            "not in the allowed list",
        ),
        (
            "list default port explicit",
            false,
            true,
            "localhost",
            false,
            "http://host1.com:80",
            "",
        ),
    ];
    for &(name, same, use_list, host, tls, origin, want) in cases {
        let mut cfg = UpgradeConfig::default();
        cfg.same_origin = same;
        if use_list {
            cfg.set_allowed_origins(&list).unwrap();
        }
        let origin_hdr = if origin.is_empty() {
            None
        } else {
            Some(origin)
        };
        let r = req(&[("Host", Some(host)), ("Origin", origin_hdr)]);
        let res = validate_request(&r, &cfg, tls);
        if want.is_empty() {
            assert!(res.is_ok(), "{name}: {res:?}");
        } else {
            let err = res.expect_err(name);
            assert!(matches!(err, Error::OriginNotAllowed(_)), "{name}: {err:?}");
            let text = err.to_string();
            assert!(text.starts_with("origin not allowed: "), "{name}: {text}");
            assert!(text.contains(want), "{name}: {text}");
            assert_eq!(err.http_status(), Some(403));
        }
    }
}

#[test]
fn origin_falls_back_to_sec_websocket_origin() {
    let mut cfg = UpgradeConfig::default();
    cfg.same_origin = true;
    let r = req(&[
        ("Host", Some("host.com")),
        ("Sec-WebSocket-Origin", Some("http://evil.com")),
    ]);
    assert!(matches!(check(&cfg, &r), Err(Error::OriginNotAllowed(_))));
    let r = req(&[
        ("Host", Some("host.com")),
        ("Sec-WebSocket-Origin", Some("http://host.com")),
    ]);
    assert_eq!(
        check(&cfg, &r).unwrap().origin.as_deref(),
        Some("http://host.com")
    );
}

#[test]
fn allowed_origin_parse_errors() {
    let a = AllowedOrigin::parse("https://Host.com").unwrap();
    assert_eq!(
        (a.scheme.as_str(), a.host.as_str(), a.port.as_str()),
        ("https", "host.com", "443")
    );
    let a = AllowedOrigin::parse("http://host.com:8080/path").unwrap();
    assert_eq!((a.host.as_str(), a.port.as_str()), ("host.com", "8080"));
    assert_eq!(
        AllowedOrigin::parse("foo").unwrap_err().to_string(),
        "unable to parse allowed origin: parse \"foo\": invalid URI for request"
    );
    assert_eq!(
        AllowedOrigin::parse("http://this:is:bad:url").unwrap_err().to_string(),
        "unable to parse allowed origin: parse \"http://this:is:bad:url\": invalid port \":url\" after host"
    );
    assert_eq!(
        AllowedOrigin::parse("ftp://host.com").unwrap_err().to_string(),
        "unable to parse allowed origin \"ftp://host.com\": allowed origins must be absolute URLs with http or https scheme"
    );
    assert_eq!(
        AllowedOrigin::parse("http:///path")
            .unwrap_err()
            .to_string(),
        "unable to parse allowed origin \"http:///path\": host is required"
    );
}

// ---- B22 TestWSUpgradeValidationErrors
#[test]
fn b22_upgrade_validation_errors() {
    let mut same = UpgradeConfig::default();
    same.same_origin = true;
    let def = UpgradeConfig::default();
    let cases: Vec<(&str, Vec<u8>, &UpgradeConfig, &str, u16)> = vec![
        (
            "bad method",
            req_with("/", "POST", &[]),
            &def,
            "request method must be GET",
            405,
        ),
        (
            "no upgrade",
            req(&[("Upgrade", None)]),
            &def,
            "invalid value for header 'Upgrade'",
            400,
        ),
        (
            "bad upgrade",
            req(&[("Upgrade", Some("h2c"))]),
            &def,
            "invalid value for header 'Upgrade'",
            400,
        ),
        (
            "no connection",
            req(&[("Connection", None)]),
            &def,
            "invalid value for header 'Connection'",
            400,
        ),
        (
            "no key",
            req(&[("Sec-WebSocket-Key", None)]),
            &def,
            "key missing",
            400,
        ),
        (
            "empty key",
            req(&[("Sec-WebSocket-Key", Some(""))]),
            &def,
            "key missing",
            400,
        ),
        (
            "bad base64 key",
            req(&[("Sec-WebSocket-Key", Some("!!!notbase64!!!!!!!!!!!="))]),
            &def,
            "invalid websocket key",
            400,
        ),
        (
            "short key",
            req(&[("Sec-WebSocket-Key", Some("c2hvcnQ="))]),
            &def,
            "invalid websocket key",
            400,
        ),
        (
            "missing version",
            req(&[("Sec-WebSocket-Version", None)]),
            &def,
            "invalid version",
            400,
        ),
        (
            "wrong version",
            req(&[("Sec-WebSocket-Version", Some("99"))]),
            &def,
            "invalid version",
            400,
        ),
        (
            "origin",
            req(&[("Origin", Some("http://bad.host.com"))]),
            &same,
            "origin not allowed",
            403,
        ),
    ];
    for (name, r, cfg, text, status) in cases {
        let err = check(cfg, &r).expect_err(name);
        assert!(err.to_string().contains(text), "{name}: {err}");
        assert_eq!(err.reaction(), Reaction::Http { status }, "{name}");
        let mut out = Vec::new();
        assert!(write_reject_response(&mut out, &err));
        let (code, headers, body) = parse_response(&out);
        assert_eq!(code, status, "{name}");
        let phrase = natsws_core::ws::handshake::status_text(status);
        assert_eq!(
            format!("{code}{}", String::from_utf8(body).unwrap()),
            format!("{status}{phrase}\n")
        );
        assert!(
            headers
                .iter()
                .any(|(k, v)| k == "Sec-Websocket-Version" && v == "13"),
            "{name}"
        );
        assert!(out.starts_with(format!("HTTP/1.1 {status} {phrase}\r\n").as_bytes()));
    }
}

#[test]
fn b22_buffered_data_before_handshake_is_left_over() {
    // The parser reports the bytes after the head; the server then drops
    // the client as nats-server does (Error::DataBeforeHandshake, no
    // response; server/tests/ws_upgrade_compat.rs).
    let cfg = UpgradeConfig::default();
    let mut bytes = req(&[]);
    let head = bytes.len();
    bytes.extend_from_slice(b"some data");
    let mut p = RequestParser::new(false);
    match p.feed(&cfg, &bytes).unwrap() {
        Status::Complete { consumed, .. } => assert_eq!(&bytes[consumed..], b"some data"),
        Status::Partial => panic!("partial"),
    }
    assert_eq!(p.buffered(), head);
    let e = Error::DataBeforeHandshake;
    assert_eq!(
        e.to_string(),
        "client sent data before handshake is complete"
    );
    assert_eq!(e.reaction(), Reaction::Drop);
    assert!(!write_reject_response(&mut Vec::new(), &e));
}

#[test]
fn host_checks() {
    let def = UpgradeConfig::default();
    // HTTP/1.0 with no Host: handler check 3.
    let r = b"GET / HTTP/1.0\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let err = check(&def, r).unwrap_err();
    assert_eq!(err.to_string(), "'Host' missing in request");
    assert_eq!(err.http_status(), Some(400));
    // HTTP/1.1 with no Host: net/http rejects first.
    let err = check(&def, &req(&[("Host", None)])).unwrap_err();
    assert_eq!(err, Error::MissingHostHeader);
    let mut out = Vec::new();
    write_reject_response(&mut out, &err);
    let (code, _, body) = parse_response(&out);
    assert_eq!(
        (code, body),
        (
            400,
            b"400 Bad Request: missing required Host header".to_vec()
        )
    );
    // Empty Host on HTTP/1.1.
    assert_eq!(
        check(&def, &req(&[("Host", Some(""))])).unwrap_err(),
        Error::HostMissing
    );
}

#[test]
fn malformed_and_version_errors() {
    let def = UpgradeConfig::default();
    assert_eq!(
        check(&def, b"GARBAGE\r\n\r\n").unwrap_err().http_status(),
        Some(400)
    );
    assert_eq!(
        check(&def, b"GET / HTTP/2.0\r\nHost: x\r\n\r\n").unwrap_err(),
        Error::HttpVersionNotSupported
    );
    assert_eq!(Error::HttpVersionNotSupported.http_status(), Some(505));
}

#[test]
fn token_lists_firefox_and_versions() {
    let def = UpgradeConfig::default();
    assert!(check(&def, &req(&[("Connection", Some("keep-alive, Upgrade"))])).is_ok());
    assert!(check(&def, &req(&[("Connection", Some("keep-alive,\tupgrade "))])).is_ok());
    assert!(check(&def, &req(&[("Upgrade", Some("WebSocket"))])).is_ok());
    assert!(check(&def, &req(&[("Sec-WebSocket-Version", Some("13, 8"))])).is_ok());
    assert!(check(&def, &req(&[("Connection", Some("keep-alive, Upgraded"))])).is_err());
    // Header names are case-insensitive.
    let r = b"GET / HTTP/1.1\r\nhost: a\r\nUPGRADE: websocket\r\nconnection: upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n";
    assert!(check(&def, r).is_ok());
}

#[test]
fn order_of_checks() {
    let def = UpgradeConfig::default();
    // MQTT-disabled 404 precedes the method check (spec §9.2).
    let err = check(&def, &req_with("/mqtt", "POST", &[])).unwrap_err();
    assert_eq!(err, Error::MqttNotEnabled);
    assert_eq!(err.http_status(), Some(404));
    assert_eq!(err.to_string(), "mqtt websocket endpoint not enabled");
    // Method before Upgrade.
    assert_eq!(
        check(&def, &req_with("/", "POST", &[("Upgrade", None)])).unwrap_err(),
        Error::MethodNotGet
    );
    // Upgrade before Connection before key before version.
    let all_bad = req(&[
        ("Upgrade", None),
        ("Connection", None),
        ("Sec-WebSocket-Key", None),
        ("Sec-WebSocket-Version", None),
    ]);
    assert_eq!(
        check(&def, &all_bad).unwrap_err(),
        Error::InvalidUpgradeHeader
    );
    let r = req(&[
        ("Connection", None),
        ("Sec-WebSocket-Key", None),
        ("Sec-WebSocket-Version", None),
    ]);
    assert_eq!(check(&def, &r).unwrap_err(), Error::InvalidConnectionHeader);
    let r = req(&[("Sec-WebSocket-Key", None), ("Sec-WebSocket-Version", None)]);
    assert_eq!(check(&def, &r).unwrap_err(), Error::KeyMissing);
    let r = req(&[
        ("Sec-WebSocket-Key", Some("c2hvcnQ=")),
        ("Sec-WebSocket-Version", None),
    ]);
    assert_eq!(check(&def, &r).unwrap_err(), Error::InvalidKey);
    // Version before origin.
    let mut same = UpgradeConfig::default();
    same.same_origin = true;
    let r = req(&[
        ("Sec-WebSocket-Version", None),
        ("Origin", Some("http://bad.com")),
    ]);
    assert_eq!(check(&same, &r).unwrap_err(), Error::InvalidVersion);
}

// ---- §2.2 path kinds
#[test]
fn path_kinds() {
    let mut cfg = UpgradeConfig::default();
    cfg.mqtt_enabled = true;
    for (path, kind) in [
        ("/", PathKind::Client),
        ("/anything", PathKind::Client),
        ("/mqtt/", PathKind::Client),
        ("/leafnode", PathKind::Leafnode),
        ("/some/path/leafnode", PathKind::Leafnode),
        ("/leafnode?x=1", PathKind::Leafnode),
        ("/mqtt", PathKind::Mqtt),
        ("/x/mqtt?y", PathKind::Mqtt),
        ("/mqtt/leafnode", PathKind::Leafnode),
    ] {
        let up = check(&cfg, &req_with(path, "GET", &[])).unwrap();
        assert_eq!(up.kind, kind, "{path}");
    }
}

// ---- B26 TestWSUpgradeWithEmptyXForwardedForSliceDoesNotPanic, H73
#[test]
fn b26_x_forwarded_for() {
    let def = UpgradeConfig::default();
    let xff = |v: Option<&str>| {
        check(&def, &req(&[("X-Forwarded-For", v)]))
            .unwrap()
            .forwarded_for
    };
    assert_eq!(xff(None), None);
    assert_eq!(xff(Some("")), None);
    assert_eq!(xff(Some("1.2.3.4")), Some("1.2.3.4".parse().unwrap()));
    assert_eq!(xff(Some("::1")), Some("::1".parse().unwrap()));
    assert_eq!(xff(Some("1.2.3.4, 5.6.7.8")), None);
    assert_eq!(xff(Some("1.2.3.4:80")), None);
    assert_eq!(xff(Some("not an ip")), None);
    // Two header lines: the first wins.
    let mut r = req(&[("X-Forwarded-For", Some("1.2.3.4"))]);
    r.truncate(r.len() - 2);
    r.extend_from_slice(b"X-Forwarded-For: 5.6.7.8\r\n\r\n");
    assert_eq!(
        check(&def, &r).unwrap().forwarded_for,
        Some("1.2.3.4".parse().unwrap())
    );
}

// ---- B27 TestWSCompressNegotiation
#[test]
fn b27_compress_negotiation() {
    let with_ext = req(&[("Sec-WebSocket-Extensions", Some("permessage-deflate"))]);
    let mut out = Vec::new();
    // Server off, client asks: not echoed.
    let off = UpgradeConfig::default();
    let up = check(&off, &with_ext).unwrap();
    assert!(!up.compression);
    write_accept_response(&mut out, &up, &off);
    assert!(!String::from_utf8_lossy(&out).contains("permessage-deflate"));
    // Both: echoed.
    let mut on = UpgradeConfig::default();
    on.compression = true;
    let up = check(&on, &with_ext).unwrap();
    assert!(up.compression);
    out.clear();
    write_accept_response(&mut out, &up, &on);
    assert!(String::from_utf8_lossy(&out).contains(
        "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n"
    ));
    // Server on, client does not ask: not echoed.
    let up = check(&on, &req(&[])).unwrap();
    assert!(!up.compression);
    // Offer among others, with parameters, case-insensitive.
    let r = req(&[(
        "Sec-WebSocket-Extensions",
        Some("x-webkit; a=1, PerMessage-Deflate; client_max_window_bits"),
    )]);
    assert!(check(&on, &r).unwrap().compression);
}

// ---- B28 TestWSSetHeader
#[test]
fn b28_configured_headers_only_in_101() {
    let mut cfg = UpgradeConfig::default();
    cfg.headers = vec![
        ("X-Header".into(), "some-value".into()),
        ("Other".into(), "v2".into()),
    ];
    let up = check(&cfg, &req(&[])).unwrap();
    let mut out = Vec::new();
    write_accept_response(&mut out, &up, &cfg);
    let (code, headers, _) = parse_response(&out);
    assert_eq!(code, 101);
    let mut names: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "Connection",
            "Other",
            "Sec-WebSocket-Accept",
            "Upgrade",
            "X-Header"
        ]
    );
    assert!(headers.contains(&("X-Header".into(), "some-value".into())));
    // Not on error responses.
    let mut out = Vec::new();
    write_reject_response(&mut out, &Error::InvalidVersion);
    assert!(!String::from_utf8_lossy(&out).contains("X-Header"));
}

// ---- B29 TestWSUpgradeMQTTOnlyWhenEnabled
#[test]
fn b29_mqtt_only_when_enabled() {
    let mut cfg = UpgradeConfig::default();
    assert_eq!(
        check(&cfg, &req_with("/mqtt", "GET", &[])).unwrap_err(),
        Error::MqttNotEnabled
    );
    cfg.mqtt_enabled = true;
    let up = check(&cfg, &req_with("/mqtt", "GET", &[])).unwrap();
    assert_eq!(up.kind, PathKind::Mqtt);
    let mut out = Vec::new();
    write_accept_response(&mut out, &up, &cfg);
    // natsws (mqtt spec §1.3 IMPL, docs/compat.md): nothing offered,
    // nothing answered (nats-server always answers `mqtt`).
    assert!(!String::from_utf8_lossy(&out).contains("Sec-Websocket-Protocol"));
    for (offer, answer) in [
        ("mqtt", "mqtt"),
        ("mqttv3.1", "mqttv3.1"),
        ("x, mqtt", "mqtt"),
    ] {
        let up = check(
            &cfg,
            &req_with("/mqtt", "GET", &[("Sec-WebSocket-Protocol", Some(offer))]),
        )
        .unwrap();
        let mut out = Vec::new();
        write_accept_response(&mut out, &up, &cfg);
        let want = format!("Sec-Websocket-Protocol: {answer}\r\n");
        assert!(String::from_utf8_lossy(&out).contains(&want), "{offer}");
    }
    assert_eq!(check(&cfg, &req(&[])).unwrap().kind, PathKind::Client);
}

// ---- §2.7 no-masking, §2.9 browser / Safari / cookies
#[test]
fn no_masking_exact_value() {
    let def = UpgradeConfig::default();
    assert!(
        check(&def, &req(&[("Nats-No-Masking", Some("true"))]))
            .unwrap()
            .no_masking
    );
    assert!(
        !check(&def, &req(&[("Nats-No-Masking", Some("TRUE"))]))
            .unwrap()
            .no_masking
    );
    assert!(!check(&def, &req(&[])).unwrap().no_masking);
    let mut off = UpgradeConfig::default();
    off.no_masking = false;
    assert!(
        !check(&off, &req(&[("Nats-No-Masking", Some("true"))]))
            .unwrap()
            .no_masking
    );
}

#[test]
fn browser_and_safari_detection() {
    let mut cfg = UpgradeConfig::default();
    cfg.compression = true;
    let ext = ("Sec-WebSocket-Extensions", Some("permessage-deflate"));
    let chrome_mac = "Mozilla/5.0 (Macintosh) AppleWebKit/537.36 Chrome/120.0 Safari/537.36";
    let safari = "Mozilla/5.0 (Macintosh) AppleWebKit/605.1.15 Version/17.0 Safari/605.1.15";
    let up = check(&cfg, &req(&[("User-Agent", Some(chrome_mac)), ext])).unwrap();
    assert!(up.browser && !up.safari);
    let up = check(&cfg, &req(&[("User-Agent", Some(safari)), ext])).unwrap();
    assert!(up.browser && up.safari);
    // Safari without compression is just a browser.
    let up = check(&cfg, &req(&[("User-Agent", Some(safari))])).unwrap();
    assert!(up.browser && !up.safari);
    let up = check(&cfg, &req(&[("User-Agent", Some("nats.go"))])).unwrap();
    assert!(!up.browser);
    // Leafnodes are never browsers.
    let up = check(
        &cfg,
        &req_with("/leafnode", "GET", &[("User-Agent", Some(safari))]),
    )
    .unwrap();
    assert!(!up.browser);
}

#[test]
fn cookies_mapped_by_name_with_priority() {
    let mut cfg = UpgradeConfig::default();
    cfg.cookies = CookieNames {
        jwt: Some("jwt".into()),
        user: Some("usr".into()),
        pass: Some("pwd".into()),
        token: Some("usr".into()), // same name as user: user wins (spec §9.32)
    };
    let r = req(&[(
        "Cookie",
        Some("jwt=abc; usr=\"alice\"; other=x; pwd=s3cret; bad cookie=1; JWT=no"),
    )]);
    let up = check(&cfg, &r).unwrap();
    assert_eq!(up.cookies.jwt.as_deref(), Some("abc"));
    assert_eq!(up.cookies.user.as_deref(), Some("alice"));
    assert_eq!(up.cookies.pass.as_deref(), Some("s3cret"));
    assert_eq!(up.cookies.token, None);
    // Last occurrence wins, across header lines.
    let mut r = req(&[("Cookie", Some("jwt=first"))]);
    r.truncate(r.len() - 2);
    r.extend_from_slice(b"Cookie: jwt=second\r\n\r\n");
    assert_eq!(
        check(&cfg, &r).unwrap().cookies.jwt.as_deref(),
        Some("second")
    );
    // Not captured for leafnodes.
    let r = req_with("/leafnode", "GET", &[("Cookie", Some("jwt=abc"))]);
    assert_eq!(check(&cfg, &r).unwrap().cookies.jwt, None);
}

// ---- push parser: cap before buffering, partial feeds
#[test]
fn head_cap_checked_before_buffering() {
    let cfg = UpgradeConfig::default();
    let mut p = RequestParser::new(false);
    let mut big = b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ".to_vec();
    big.resize(20_000, b'a');
    let err = p.feed(&cfg, &big).unwrap_err();
    assert_eq!(err, Error::RequestHeadTooLarge);
    assert_eq!(err.http_status(), Some(431));
    assert!(p.buffered() <= cfg.max_head_bytes);
    // Fed in small pieces: fails once the cap is reached, never buffers more.
    let mut p = RequestParser::new(false);
    let mut failed = false;
    for c in big.chunks(100) {
        match p.feed(&cfg, c) {
            Ok(Status::Partial) => assert!(p.buffered() <= cfg.max_head_bytes),
            Err(e) => {
                assert_eq!(e, Error::RequestHeadTooLarge);
                failed = true;
                break;
            }
            Ok(Status::Complete { .. }) => panic!("complete"),
        }
    }
    assert!(failed);
    assert!(p.buffered() <= cfg.max_head_bytes);
    // A head exactly at the cap is fine.
    let mut small = UpgradeConfig::default();
    let r = req(&[]);
    small.max_head_bytes = r.len();
    let mut p = RequestParser::new(false);
    assert!(matches!(p.feed(&small, &r), Ok(Status::Complete { .. })));
    small.max_head_bytes = r.len() - 1;
    let mut p = RequestParser::new(false);
    assert_eq!(p.feed(&small, &r).unwrap_err(), Error::RequestHeadTooLarge);
}

#[test]
fn too_many_headers_is_431() {
    let mut r = b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec();
    for i in 0..200 {
        r.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    r.extend_from_slice(b"\r\n");
    assert_eq!(
        check(&UpgradeConfig::default(), &r).unwrap_err(),
        Error::RequestHeadTooLarge
    );
}

fn feed_split(r: &[u8], splits: &[usize]) -> (Result<Upgrade, Error>, Vec<u8>) {
    let cfg = UpgradeConfig::default();
    let mut p = RequestParser::new(false);
    let mut last = 0;
    let mut cuts = splits.to_vec();
    cuts.push(r.len());
    for &c in &cuts {
        let part = &r[last..c];
        match p.feed(&cfg, part) {
            Ok(Status::Partial) => {}
            Ok(Status::Complete { value, consumed }) => {
                assert!(consumed <= part.len());
                let mut left = part[consumed..].to_vec();
                left.extend_from_slice(&r[c..]);
                return (Ok(value), left);
            }
            Err(e) => return (Err(e), Vec::new()),
        }
        last = c;
    }
    panic!("never completed");
}

#[test]
fn lf_only_line_endings() {
    let r = b"GET / HTTP/1.1\nHost: x\nUpgrade: websocket\nConnection: Upgrade\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\nSec-WebSocket-Version: 13\n\nrest";
    let (up, left) = feed_split(r, &[]);
    assert!(up.is_ok());
    assert_eq!(left, b"rest");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn handshake_chunking_property(
        tail in proptest::collection::vec(any::<u8>(), 0..40),
        ua in "[ -~]{0,40}",
        splits in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let mut r = req(&[("User-Agent", Some(ua.trim())), ("Cookie", Some("a=b"))]);
        r.extend_from_slice(&tail);
        let (whole, whole_left) = feed_split(&r, &[]);
        prop_assert!(whole.is_ok());
        prop_assert_eq!(&whole_left, &tail);
        // Every split index.
        for i in 0..=r.len() {
            let (up, left) = feed_split(&r, &[i]);
            prop_assert_eq!(&up, &whole);
            prop_assert_eq!(&left, &tail);
        }
        // Random multi-splits.
        let mut cuts: Vec<usize> = splits.iter().map(|ix| ix.index(r.len() + 1)).collect();
        cuts.sort_unstable();
        let (up, left) = feed_split(&r, &cuts);
        prop_assert_eq!(&up, &whole);
        prop_assert_eq!(&left, &tail);
    }

    #[test]
    fn handshake_never_panics(data in proptest::collection::vec(any::<u8>(), 0..600), split in 0usize..600) {
        natsws_core::ws::fuzzing::handshake(&data, split);
    }
}

#[test]
fn byte_at_a_time() {
    let r = req(&[]);
    let cuts: Vec<usize> = (1..r.len()).collect();
    let (up, left) = feed_split(&r, &cuts);
    assert_eq!(up.unwrap().key, KEY);
    assert!(left.is_empty());
}

// ---- client role (spec §6.2)
fn client_req<'a>(compression: bool, no_masking: bool) -> ClientRequest<'a> {
    ClientRequest {
        host: "127.0.0.1:4222",
        path: "/some/path/leafnode",
        key: *b"the sample nonce",
        compression,
        no_masking,
        headers: &[],
    }
}

fn server_answer(request: &[u8], cfg: &UpgradeConfig) -> Vec<u8> {
    let up = validate_request(request, cfg, false).unwrap();
    let mut out = Vec::new();
    write_accept_response(&mut out, &up, cfg);
    out
}

#[test]
fn client_request_round_trip_with_our_server() {
    let mut cfg = UpgradeConfig::default();
    cfg.compression = true;
    for (comp, nm) in [(false, false), (true, false), (false, true), (true, true)] {
        let mut out = Vec::new();
        let mut rp = write_client_request(&client_req(comp, nm), &mut out);
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(text.starts_with("GET /some/path/leafnode HTTP/1.1\r\nHost: 127.0.0.1:4222\r\n"));
        assert!(text.contains("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"));
        let up = validate_request(&out, &cfg, false).unwrap();
        assert_eq!(up.kind, PathKind::Leafnode);
        assert_eq!((up.compression, up.no_masking), (comp, nm));
        let mut resp = server_answer(&out, &cfg);
        resp.extend_from_slice(&[0x82, 0x00]);
        match rp.feed(&resp).unwrap() {
            Status::Complete { value, consumed } => {
                assert_eq!((value.compression, value.no_masking), (comp, nm));
                assert_eq!(&resp[consumed..], &[0x82, 0x00]);
            }
            Status::Partial => panic!("partial"),
        }
    }
}

#[test]
fn client_response_checks() {
    let fresh = || write_client_request(&client_req(true, false), &mut Vec::new());
    let accept = accept_key(KEY.as_bytes());
    let ok = |extra: &str, conn: &str, acc: &str| {
        format!("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: {conn}\r\nSec-WebSocket-Accept: {acc}\r\n{extra}\r\n")
    };
    let feed = |s: String| -> Result<Status<_>, Error> { fresh().feed(s.as_bytes()) };
    assert!(
        matches!(feed(ok("", "Upgrade", accept.as_str())), Ok(Status::Complete { value, .. }) if !value.compression)
    );
    assert_eq!(
        feed(ok("", "upgrade", "wrong")).unwrap_err(),
        Error::InvalidWebsocketConnection
    );
    // `Connection` must equal `upgrade` as a whole value (spec §9.25).
    assert_eq!(
        feed(ok("", "keep-alive, Upgrade", accept.as_str())).unwrap_err(),
        Error::InvalidWebsocketConnection
    );
    assert_eq!(
        fresh()
            .feed(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            .unwrap_err(),
        Error::InvalidWebsocketConnection
    );
    assert_eq!(
        feed(ok(
            "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n",
            "Upgrade",
            accept.as_str()
        ))
        .unwrap_err(),
        Error::CompressionNegotiation
    );
    assert_eq!(Error::CompressionNegotiation.reaction(), Reaction::Drop);
    // Partial, then complete.
    let full = ok("", "Upgrade", accept.as_str());
    let mut p: ResponseParser = fresh();
    assert!(matches!(
        p.feed(&full.as_bytes()[..20]),
        Ok(Status::Partial)
    ));
    assert!(matches!(
        p.feed(&full.as_bytes()[20..]),
        Ok(Status::Complete { .. })
    ));
}

/// natsws `health_path`: a plain GET of that path is a load balancer's
/// health check (200 `{"status":"ok"}`); other paths, other methods and
/// real upgrades on that path are unchanged.
#[test]
fn health_path_answers_plain_gets() {
    let mut cfg = UpgradeConfig::default();
    let plain = [
        ("Upgrade", None),
        ("Connection", None),
        ("Sec-WebSocket-Key", None),
    ];
    // Off by default: the usual 400.
    let e = check(&cfg, &req_with("/healthz", "GET", &plain)).unwrap_err();
    assert_eq!(e, Error::InvalidUpgradeHeader);
    cfg.health_path = Some("/healthz".into());
    let e = check(&cfg, &req_with("/healthz", "GET", &plain)).unwrap_err();
    assert_eq!(e, Error::HealthCheck);
    let mut out = Vec::new();
    assert!(write_reject_response(&mut out, &e));
    let (status, headers, body) = parse_response(&out);
    assert_eq!(status, 200);
    assert_eq!(body, br#"{"status":"ok"}"#);
    assert!(headers.contains(&("Content-Type".into(), "application/json".into())));
    assert!(headers.contains(&("Content-Length".into(), "15".into())));
    // Query strings are not part of the path.
    assert_eq!(
        check(&cfg, &req_with("/healthz?probe=1", "GET", &plain)).unwrap_err(),
        Error::HealthCheck
    );
    // Another path, another method: unchanged.
    assert_eq!(
        check(&cfg, &req_with("/", "GET", &plain)).unwrap_err(),
        Error::InvalidUpgradeHeader
    );
    assert_eq!(
        check(&cfg, &req_with("/healthz", "POST", &plain)).unwrap_err(),
        Error::MethodNotGet
    );
    // A WebSocket upgrade on that path is an upgrade.
    assert_eq!(
        check(&cfg, &req_with("/healthz", "GET", &[])).unwrap().path,
        "/healthz"
    );
}

/// natsws: `allowed_origins` entries written `scheme://*.domain` allow every
/// subdomain of `domain` (not the domain itself), with the same scheme and
/// port rules as exact entries.
#[test]
fn allowed_origins_subdomain_wildcards() {
    let mut cfg = UpgradeConfig::default();
    cfg.set_allowed_origins(&["https://*.example.com", "http://exact.org:8080"])
        .unwrap();
    let try_origin = |o: &str| check(&cfg, &req(&[("Origin", Some(o))]));
    for ok in [
        "https://app.example.com",
        "https://a.b.example.com",
        "https://APP.Example.COM:443",
        "http://exact.org:8080",
    ] {
        assert!(try_origin(ok).is_ok(), "{ok}");
    }
    for bad in [
        "https://example.com",
        "https://badexample.com",
        "https://example.com.evil.net",
        "http://app.example.com",
        "https://app.example.com:8443",
        "http://sub.exact.org:8080",
    ] {
        assert!(
            matches!(try_origin(bad), Err(Error::OriginNotAllowed(_))),
            "{bad}"
        );
    }
    // Only a leading `*.` is a wildcard.
    let a = natsws_core::ws::handshake::AllowedOrigin::parse("https://*.example.com").unwrap();
    assert!(a.subdomains && a.host == "example.com");
    let b = natsws_core::ws::handshake::AllowedOrigin::parse("https://a.*.example.com");
    assert!(b.map_or(true, |b| !b.subdomains));
}

// ---- net/http's Host rules and the response version (issue 13 part 4;
// the bytes were probed from nats-server 2.15.1)

const UPGRADE: &str = "Upgrade: websocket\r\nConnection: Upgrade\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";

fn request(version: &str, target: &str, hosts: &[&str]) -> Vec<u8> {
    let mut r = format!("GET {target} HTTP/{version}\r\n");
    for h in hosts {
        r.push_str(&format!("Host: {h}\r\n"));
    }
    r.push_str(UPGRADE);
    r.push_str("\r\n");
    r.into_bytes()
}

fn reject(err: &Error, http10: bool) -> String {
    let mut out = Vec::new();
    assert!(write_reject_response_in(&mut out, err, http10));
    String::from_utf8(out).unwrap()
}

/// net/http `httpguts.ValidHostHeader`: only RFC 3986 host/port bytes.
#[test]
fn malformed_host_header_is_net_http_400() {
    let def = UpgradeConfig::default();
    for host in [
        "exa mple", "a/b", "a@b", "a\"b", "a{b", "a}b", "a|b", "a\\b", "a?b", "a#b", "a<b", "a>b",
        "a^b", "a`b", "a\tb", "é",
    ] {
        for version in ["1.1", "1.0"] {
            let err = check(&def, &request(version, "/", &[host])).unwrap_err();
            assert_eq!(err, Error::MalformedHostHeader, "{host:?} HTTP/{version}");
        }
    }
    // The Host header is checked even when the target names a host.
    let err = check(&def, &request("1.1", "http://example.com/", &["a b"])).unwrap_err();
    assert_eq!(err, Error::MalformedHostHeader);
    assert_eq!(err.http_status(), Some(400));
    assert_eq!(err.to_string(), "malformed Host header");
    // Always HTTP/1.1, reason in the status line, body = the same text.
    let want = "HTTP/1.1 400 Bad Request: malformed Host header\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request: malformed Host header";
    assert_eq!(reject(&err, false), want);
    assert_eq!(reject(&err, true), want);
    for host in ["[::1]:8080", "a!$&'()*+,;=_~%b", "A-Z.0:9", "  localhost  "] {
        assert!(
            check(&def, &request("1.1", "/", &[host])).is_ok(),
            "{host:?}"
        );
    }
}

#[test]
fn net_http_errors_exact_bytes() {
    let def = UpgradeConfig::default();
    // HTTP/1.1 without Host, also with an absolute-form target; CONNECT is
    // exempt (and then refused by the handler: 405).
    for target in ["/", "http://example.com/"] {
        let err = check(&def, &request("1.1", target, &[])).unwrap_err();
        assert_eq!(err, Error::MissingHostHeader, "{target}");
        assert_eq!(
            reject(&err, false),
            "HTTP/1.1 400 Bad Request: missing required Host header\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request: missing required Host header"
        );
    }
    let connect = format!("CONNECT / HTTP/1.1\r\n{UPGRADE}\r\n");
    assert_eq!(
        check(&def, connect.as_bytes()).unwrap_err(),
        Error::MethodNotGet
    );
    // Two Host lines, any version, equal or not: a bare 400.
    for version in ["1.1", "1.0"] {
        for hosts in [["a", "b"], ["a", "a"]] {
            let err = check(&def, &request(version, "/", &hosts)).unwrap_err();
            assert_eq!(err, Error::MalformedRequest, "HTTP/{version} {hosts:?}");
        }
    }
    assert_eq!(
        reject(&Error::MalformedRequest, true),
        "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request"
    );
    assert_eq!(
        reject(&Error::HttpVersionNotSupported, false),
        "HTTP/1.1 505 HTTP Version Not Supported: unsupported protocol version\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n505 HTTP Version Not Supported: unsupported protocol version"
    );
    assert_eq!(
        reject(&Error::RequestHeadTooLarge, false),
        "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n431 Request Header Fields Too Large"
    );
}

/// The handler's errors answer in the request's version; HTTP/1.0 needs
/// no `Connection: close`.
#[test]
fn handler_errors_answer_in_the_request_version() {
    let def = UpgradeConfig::default();
    let mut p = RequestParser::new(false);
    let err = p.feed(&def, &request("1.0", "/", &[])).unwrap_err();
    assert_eq!(err, Error::HostMissing);
    assert!(p.is_http10());
    assert_eq!(
        reject(&err, p.is_http10()),
        "HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nSec-Websocket-Version: 13\r\nX-Content-Type-Options: nosniff\r\nContent-Length: 12\r\n\r\nBad Request\n"
    );
    assert_eq!(
        reject(&Error::MethodNotGet, false),
        "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain; charset=utf-8\r\nSec-Websocket-Version: 13\r\nX-Content-Type-Options: nosniff\r\nContent-Length: 19\r\nConnection: close\r\n\r\nMethod Not Allowed\n"
    );
    let mut p = RequestParser::new(false);
    assert!(p.feed(&def, &request("1.1", "/", &[""])).is_err());
    assert!(!p.is_http10());
    // HTTP/1.0 with Host, or with an absolute-form target instead.
    assert!(check(&def, &request("1.0", "/", &["localhost"])).is_ok());
    let up = check(&def, &request("1.0", "http://example.com/x", &[])).unwrap();
    assert_eq!((up.host.as_str(), up.path.as_str()), ("example.com", "/x"));
}
