//! CONNECT / INFO JSON with Go `encoding/json` semantics (spec §1.4, §1.5)
//! and the `NATS/1.0` header block (spec §1.6).
#![allow(missing_docs)]

use natsws_core::proto::headers::{self, HeaderError, HeaderWriter};
use natsws_core::proto::{Connect, Error, Info};

fn connect(json: &str) -> Connect {
    Connect::from_json(json.as_bytes()).unwrap_or_else(|e| panic!("{json}: {e}"))
}

fn connect_err(json: &[u8]) {
    let e = Connect::from_json(json).unwrap_err();
    assert_eq!(e, Error::InvalidJson, "{:?}", String::from_utf8_lossy(json));
    assert_eq!(e.err_text(), None);
    assert!(e.closes());
    assert_eq!(e.closed_reason(), "Protocol Violation");
}

#[test]
fn defaults_are_verbose_pedantic_echo() {
    let c = connect("{}");
    assert!(c.verbose && c.pedantic && c.echo);
    assert!(!c.headers && !c.no_responders && !c.tls_required && !c.new_account);
    assert_eq!(c.protocol, 0);
    assert!(c.name.is_empty() && c.user.is_empty() && c.jwt.is_empty());
    assert_eq!(c, Connect::default());
}

#[test]
fn all_fields_parse() {
    let c = connect(
        r#"{"verbose":false,"pedantic":false,"tls_required":true,"auth_token":"t","user":"u","pass":"p",
            "nkey":"UABC","sig":"s","jwt":"j","name":"n","lang":"go","version":"1.51.0","protocol":1,
            "echo":false,"headers":true,"no_responders":true,"account":"a","new_account":true,
            "proxy_sig":"ps","remote_account":"ra"}"#,
    );
    assert!(!c.verbose && !c.pedantic && c.tls_required && !c.echo && c.headers && c.no_responders);
    assert_eq!(
        (c.auth_token.as_str(), c.user.as_str(), c.pass.as_str()),
        ("t", "u", "p")
    );
    assert_eq!(
        (c.nkey.as_str(), c.sig.as_str(), c.jwt.as_str()),
        ("UABC", "s", "j")
    );
    assert_eq!(
        (c.name.as_str(), c.lang.as_str(), c.version.as_str()),
        ("n", "go", "1.51.0")
    );
    assert_eq!(c.protocol, 1);
    assert_eq!(c.account, "a");
    assert!(c.new_account);
    assert_eq!(c.proxy_sig, "ps");
    assert_eq!(c.remote_account, "ra");
}

#[test]
fn nats_go_connect_line() {
    let c = connect(
        r#"{"verbose":false,"pedantic":false,"tls_required":false,"name":"","lang":"go","version":"1.51.0","protocol":1,"echo":true,"headers":true,"no_responders":true}"#,
    );
    assert!(!c.verbose && !c.pedantic && c.echo && c.headers && c.no_responders);
    assert_eq!(c.protocol, 1);
}

#[test]
fn keys_match_case_insensitively() {
    let c = connect(r#"{"VERBOSE":false,"Pedantic":false,"NO_RESPONDERS":true,"Auth_Token":"x"}"#);
    assert!(!c.verbose && !c.pedantic && c.no_responders);
    assert_eq!(c.auth_token, "x");
    // Go folds U+017F (long s) to 's' and U+212A (Kelvin sign) to 'k'.
    let c = connect("{\"\u{017F}ig\":\"s1\",\"n\u{212A}ey\":\"U1\"}");
    assert_eq!((c.sig.as_str(), c.nkey.as_str()), ("s1", "U1"));
    // ... and dotless/dotted I to 'i'.
    assert!(!connect("{\"pedant\u{0131}c\":false}").pedantic);
    assert!(!connect("{\"PEDANT\u{0130}C\":false}").pedantic);
}

#[test]
fn unknown_keys_are_ignored() {
    let c = connect(r#"{"foo":1,"bar":{"x":[1,2,{"y":null}]},"verbose":false}"#);
    assert!(!c.verbose);
}

#[test]
fn last_duplicate_wins_across_case() {
    assert!(!connect(r#"{"verbose":true,"verbose":false}"#).verbose);
    assert!(connect(r#"{"verbose":false,"VERBOSE":true}"#).verbose);
    assert!(!connect(r#"{"Verbose":true,"verbose":false}"#).verbose);
    assert_eq!(connect(r#"{"name":"a","NAME":"b","Name":"c"}"#).name, "c");
}

#[test]
fn every_duplicate_is_type_checked() {
    // Go decodes every occurrence and reports the first type error.
    connect_err(br#"{"verbose":"x","verbose":true}"#);
    connect_err(br#"{"verbose":"x","VERBOSE":null}"#);
    connect_err(br#"{"import":5,"import":{}}"#);
    assert!(!connect(r#"{"verbose":true,"verbose":false}"#).verbose);
}

#[test]
fn null_leaves_the_field_unchanged() {
    let c = connect(r#"{"verbose":null,"name":null,"protocol":null,"echo":null}"#);
    assert!(c.verbose && c.echo);
    assert_eq!(c.protocol, 0);
    assert!(c.name.is_empty());
    // Null after a value keeps the value.
    assert!(!connect(r#"{"verbose":false,"verbose":null}"#).verbose);
    // Top-level null is the defaults.
    assert_eq!(connect("null"), Connect::default());
    assert_eq!(connect(" \t\r\n{ } \n"), Connect::default());
}

#[test]
fn merge_keeps_absent_fields() {
    let mut c = connect(
        r#"{"verbose":false,"pedantic":false,"echo":false,"headers":true,"no_responders":true,
            "protocol":1,"name":"n","user":"u","pass":"p","account":"","lang":"go"}"#,
    );
    let first = c.clone();
    // `{}`, whitespace and top-level null change nothing.
    for json in ["{}", " { } ", "null", r#"{"verbose":null,"headers":null}"#] {
        c.merge_json(json.as_bytes()).unwrap();
        assert_eq!(c, first, "{json}");
    }
    // Present keys replace, case-insensitively; the others stay.
    c.merge_json(br#"{"VERBOSE":true,"name":"m","Headers":false,"x":[1]}"#)
        .unwrap();
    assert!(c.verbose && !c.headers);
    assert_eq!(c.name, "m");
    assert!(!c.pedantic && !c.echo && c.no_responders);
    assert_eq!(
        (c.protocol, c.user.as_str(), c.pass.as_str()),
        (1, "u", "p")
    );
    assert_eq!(c.lang, "go");
    // Fields the serialiser omits when empty/false survive too.
    let mut c = connect(r#"{"auth_token":"t","new_account":true,"jwt":"j"}"#);
    c.merge_json(br#"{"name":"z"}"#).unwrap();
    assert_eq!((c.auth_token.as_str(), c.jwt.as_str()), ("t", "j"));
    assert!(c.new_account);
}

#[test]
fn merge_from_default_equals_from_json() {
    for json in [
        "{}",
        r#"{"verbose":false,"echo":false}"#,
        r#"{"Headers":true,"no_responders":true,"protocol":1}"#,
        "null",
    ] {
        let mut c = Connect::default();
        c.merge_json(json.as_bytes()).unwrap();
        assert_eq!(c, connect(json), "{json}");
    }
}

#[test]
fn merge_errors_leave_options_unchanged() {
    let mut c = connect(r#"{"verbose":false,"headers":true}"#);
    let before = c.clone();
    for json in [
        &br#"{"verbose":"yes"}"#[..],
        br#"{"name":"a","name":5}"#,
        br#"{"import":5}"#,
        b"{bad",
        b"[1]",
        b"",
    ] {
        assert_eq!(c.merge_json(json), Err(Error::InvalidJson));
        assert_eq!(c, before);
    }
}

#[test]
fn type_mismatch_is_an_error() {
    connect_err(br#"{"verbose":"false"}"#);
    connect_err(br#"{"verbose":0}"#);
    connect_err(br#"{"name":5}"#);
    connect_err(br#"{"name":true}"#);
    connect_err(br#"{"protocol":"1"}"#);
    connect_err(br#"{"protocol":1.5}"#);
    connect_err(br#"{"protocol":1.0}"#);
    connect_err(br#"{"protocol":1e0}"#);
    connect_err(br#"{"protocol":9223372036854775808}"#);
    connect_err(br#"{"headers":[]}"#);
    connect_err(br#"{"import":5}"#);
    connect_err(br#"{"export":{"allow":"foo"}}"#);
    connect_err(br#"{"export":{"Deny":[1]}}"#);
    // Case-folded keys are type-checked too.
    connect_err(br#"{"ECHO":"yes"}"#);
}

#[test]
fn valid_permissions_objects_are_accepted() {
    connect(r#"{"import":{"allow":["a","b"],"deny":null},"export":null}"#);
    connect(r#"{"import":{"Allow":[null,"x"],"other":5}}"#);
}

#[test]
fn protocol_range_is_not_checked_here() {
    assert_eq!(connect(r#"{"protocol":-1}"#).protocol, -1);
    assert_eq!(connect(r#"{"protocol":2}"#).protocol, 2);
}

#[test]
fn malformed_json_is_an_error() {
    connect_err(b"");
    connect_err(b"   ");
    connect_err(b"{");
    connect_err(b"{\"verbose\":false");
    connect_err(b"{\"verbose\":false,}");
    connect_err(b"{verbose:false}");
    connect_err(b"{} {}");
    connect_err(b"{}x");
    connect_err(b"[]");
    connect_err(b"1");
    connect_err(b"\"x\"");
    connect_err(b"true");
}

#[test]
fn invalid_utf8_in_strings_is_replaced() {
    let c = Connect::from_json(b"{\"name\":\"a\xffb\"}").unwrap();
    assert_eq!(c.name, "a\u{FFFD}b");
}

#[test]
fn lone_surrogate_escapes_are_replaced() {
    // What JSON.stringify sends for a JS string with a lone surrogate.
    assert_eq!(connect(r#"{"name":"a\ud800b"}"#).name, "a\u{FFFD}b");
    assert_eq!(connect(r#"{"name":"\udfff"}"#).name, "\u{FFFD}");
    assert_eq!(connect(r#"{"name":"\ud83d\ude00"}"#).name, "\u{1F600}");
    assert_eq!(connect(r#"{"name":"\\ud800"}"#).name, "\\ud800");
}

#[test]
fn connect_serialises_in_go_order_with_omissions() {
    let json = String::from_utf8(Connect::default().to_json()).unwrap();
    assert_eq!(
        json,
        r#"{"echo":true,"verbose":true,"pedantic":true,"tls_required":false,"name":"","lang":"","version":"","protocol":0}"#
    );
    let c = Connect {
        user: "u".into(),
        pass: "p".into(),
        headers: true,
        ..Connect::default()
    };
    let json = String::from_utf8(c.to_json()).unwrap();
    assert_eq!(
        json,
        r#"{"echo":true,"verbose":true,"pedantic":true,"tls_required":false,"user":"u","pass":"p","name":"","lang":"","version":"","protocol":0,"headers":true}"#
    );
}

#[test]
fn info_omits_empty_fields_and_escapes_like_go() {
    let info = Info {
        server_name: "a<b>&c".into(),
        ..Info::default()
    };
    let json = String::from_utf8(info.to_json()).unwrap();
    assert_eq!(
        json,
        r#"{"server_id":"","server_name":"a\u003cb\u003e\u0026c","version":"","proto":0,"go":"","host":"","port":0,"headers":false,"max_payload":0}"#
    );
    let full = Info {
        git_commit: "1787eee".into(),
        auth_required: true,
        tls_required: true,
        tls_verify: true,
        tls_available: true,
        jetstream: true,
        nonce: "n".into(),
        cluster: "c".into(),
        connect_urls: vec!["h:1".into()],
        ldm: true,
        connect_info: true,
        remote_account: "$G".into(),
        acc_is_sys: true,
        xkey: "X".into(),
        ..Info::default()
    };
    let json = String::from_utf8(full.to_json()).unwrap();
    let keys: Vec<&str> = json
        .split('"')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| s)
        .filter(|s| s.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .collect();
    let order = [
        "server_id",
        "server_name",
        "version",
        "proto",
        "git_commit",
        "go",
        "host",
        "port",
        "headers",
        "auth_required",
        "tls_required",
        "tls_verify",
        "tls_available",
        "max_payload",
        "jetstream",
        "nonce",
        "cluster",
        "connect_urls",
        "ldm",
        "connect_info",
        "remote_account",
        "acc_is_sys",
        "xkey",
    ];
    let found: Vec<&str> = keys.into_iter().filter(|k| order.contains(k)).collect();
    assert_eq!(found, order);
}

#[test]
fn info_from_json_go_rules() {
    let i =
        Info::from_json(br#"{"SERVER_ID":"x","max_payload":5,"nonce":null,"extra":[1]}"#).unwrap();
    assert_eq!(i.server_id, "x");
    assert_eq!(i.max_payload, 5);
    assert_eq!(
        Info::from_json(b"{\"port\":\"x\"}"),
        Err(Error::InvalidJson)
    );
    assert_eq!(
        Info::from_json(b"{\"max_payload\":4294967296}"),
        Err(Error::InvalidJson)
    );
    assert_eq!(Info::from_json(b""), Err(Error::InvalidJson));
}

// ---- header block ---------------------------------------------------------------------

#[test]
fn minimal_block() {
    let h = headers::parse(b"NATS/1.0\r\n\r\n").unwrap();
    assert_eq!(h.status(), None);
    assert!(h.description().is_empty());
    assert!(h.is_empty());
    assert_eq!(h.len(), 0);
}

#[test]
fn status_and_description() {
    let h = headers::parse(b"NATS/1.0 503\r\n\r\n").unwrap();
    assert_eq!(h.status(), Some(503));
    assert!(h.description().is_empty());
    let h = headers::parse(b"NATS/1.0 404 No Messages\r\n\r\n").unwrap();
    assert_eq!(h.status(), Some(404));
    assert_eq!(h.description(), b"No Messages");
    let h =
        headers::parse(b"NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 1\r\n\r\n").unwrap();
    assert_eq!(h.status(), Some(100));
    assert_eq!(h.get(b"Nats-Last-Consumer"), Some(&b"1"[..]));
}

#[test]
fn repeated_keys_in_order() {
    let h = headers::parse(b"NATS/1.0\r\nA: 1\r\nB:2\r\nA:  3 \r\n\r\n").unwrap();
    let all: Vec<(&[u8], &[u8])> = h.iter().collect();
    assert_eq!(
        all,
        vec![(&b"A"[..], &b"1"[..]), (b"B", b"2"), (b"A", b"3")]
    );
    assert_eq!(h.get(b"A"), Some(&b"1"[..]));
    assert_eq!(h.get_all(b"A").collect::<Vec<_>>(), vec![&b"1"[..], b"3"]);
    assert_eq!(h.get(b"a"), None);
    assert_eq!(h.len(), 3);
}

#[test]
fn malformed_blocks() {
    assert_eq!(headers::parse(b""), Err(HeaderError::MissingVersion));
    assert_eq!(
        headers::parse(b"NATS/2.0\r\n\r\n"),
        Err(HeaderError::MissingVersion)
    );
    assert_eq!(
        headers::parse(b"NATS/1.0\r\n"),
        Err(HeaderError::Unterminated)
    );
    assert_eq!(
        headers::parse(b"NATS/1.0\r\nA: b\r\n"),
        Err(HeaderError::Unterminated)
    );
    assert_eq!(
        headers::parse(b"NATS/1.0\nA: b\n\n"),
        Err(HeaderError::Unterminated)
    );
    assert_eq!(
        headers::parse(b"NATS/1.0x\r\n\r\n"),
        Err(HeaderError::InvalidStatus)
    );
    assert_eq!(
        headers::parse(b"NATS/1.0 50\r\n\r\n"),
        Err(HeaderError::InvalidStatus)
    );
    assert_eq!(
        headers::parse(b"NATS/1.0 5034\r\n\r\n"),
        Err(HeaderError::InvalidStatus)
    );
    assert_eq!(
        headers::parse(b"NATS/1.0 abc\r\n\r\n"),
        Err(HeaderError::InvalidStatus)
    );
    assert_eq!(
        headers::parse(b"NATS/1.0\r\nNoColon\r\n\r\n"),
        Err(HeaderError::InvalidName)
    );
    assert_eq!(
        headers::parse(b"NATS/1.0\r\n: v\r\n\r\n"),
        Err(HeaderError::InvalidName)
    );
    assert_eq!(
        headers::parse(b"NATS/1.0\r\nA B: v\r\n\r\n"),
        Err(HeaderError::InvalidName)
    );
    assert_eq!(
        headers::parse(b"NATS/1.0\r\n A: v\r\n\r\n"),
        Err(HeaderError::InvalidName)
    );
    assert_eq!(
        headers::parse(b"NATS/1.0\r\n\r\nX"),
        Err(HeaderError::TrailingBytes)
    );
}

#[test]
fn writer_round_trips() {
    let mut out = b"prefix".to_vec();
    let mut w = HeaderWriter::with_status(&mut out, 404, b"No Messages").unwrap();
    w.insert(b"A", b"1").unwrap().insert(b"A", b"2").unwrap();
    w.insert(b"Nats-Subject", b"foo.bar").unwrap();
    let n = w.finish();
    let block = &out[6..];
    assert_eq!(n, block.len());
    assert_eq!(
        block,
        b"NATS/1.0 404 No Messages\r\nA: 1\r\nA: 2\r\nNats-Subject: foo.bar\r\n\r\n"
    );
    let h = headers::parse(block).unwrap();
    assert_eq!(h.status(), Some(404));
    assert_eq!(h.description(), b"No Messages");
    assert_eq!(h.get_all(b"A").count(), 2);

    let mut out = Vec::new();
    assert_eq!(HeaderWriter::new(&mut out).finish(), 12);
    assert_eq!(out, b"NATS/1.0\r\n\r\n");
}

#[test]
fn writer_rejects_bad_input() {
    let mut out = Vec::new();
    assert_eq!(
        HeaderWriter::with_status(&mut out, 99, b"").unwrap_err(),
        HeaderError::InvalidStatus
    );
    assert_eq!(
        HeaderWriter::with_status(&mut out, 1000, b"").unwrap_err(),
        HeaderError::InvalidStatus
    );
    assert_eq!(
        HeaderWriter::with_status(&mut out, 503, b"a\r\nb").unwrap_err(),
        HeaderError::InvalidValue
    );
    assert!(out.is_empty());
    let mut w = HeaderWriter::new(&mut out);
    assert_eq!(w.insert(b"", b"v").unwrap_err(), HeaderError::InvalidName);
    assert_eq!(
        w.insert(b"A:B", b"v").unwrap_err(),
        HeaderError::InvalidName
    );
    assert_eq!(
        w.insert(b"A B", b"v").unwrap_err(),
        HeaderError::InvalidName
    );
    assert_eq!(
        w.insert(b"A", b"x\ny").unwrap_err(),
        HeaderError::InvalidValue
    );
    assert_eq!(w.finish(), 12);
}

#[test]
fn no_responders_block_is_exact() {
    let mut out = Vec::new();
    let n = headers::write_no_responders(&mut out, b"foo.bar");
    assert_eq!(out, b"NATS/1.0 503\r\nNats-Subject: foo.bar\r\n\r\n");
    // Spec §1.6: L = 32 + len(original subject).
    assert_eq!(n, 32 + 7);
}
