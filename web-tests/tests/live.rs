//! Live: headless Chromium opens a real `WebSocket` to a running natsws and
//! speaks NATS through natsws-core compiled to wasm (core's ServerDecoder
//! reads, core's encoders write). The server URL is fixed at compile time
//! from `NATSWS_WS_URL` (scripts/test-wasm.sh starts natsws on ephemeral
//! ports and sets it); without it these tests fail with a message saying so.
#![cfg(target_arch = "wasm32")]
#![allow(missing_docs)]

use natsws_core::proto::{
    self, encode_connect, encode_hpub, encode_pub, encode_sub, encode_unsub, headers, Connect, Info,
};
use natsws_web_tests::{NatsConn, Op};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

fn url() -> &'static str {
    match option_env!("NATSWS_WS_URL") {
        Some(url) => url,
        None => panic!("NATSWS_WS_URL was not set at compile time: run scripts/test-wasm.sh"),
    }
}

async fn next(c: &mut NatsConn) -> Op {
    match c.next_op().await {
        Ok(op) => op,
        Err(e) => panic!("{e}"),
    }
}

/// Opens a connection, reads the INFO a browser sees and does the client
/// handshake: CONNECT (protocol 1, verbose off, headers on) and PING, then
/// the PONG and the `connect_info` INFO that nats-server sends after the
/// first PONG to a protocol-1 client.
async fn connect() -> (NatsConn, Info) {
    let mut c = NatsConn::open(url()).await.expect("open");
    let Op::Info(json) = next(&mut c).await else {
        panic!("first op is not INFO")
    };
    let info = Info::from_json(&json).expect("INFO JSON");
    let connect = Connect {
        verbose: false,
        pedantic: false,
        headers: true,
        no_responders: true,
        protocol: 1,
        lang: "rust-wasm".into(),
        name: "natsws-web-tests".into(),
        ..Connect::default()
    };
    let mut out = Vec::new();
    encode_connect(&mut out, &connect);
    out.extend_from_slice(proto::PING);
    c.send(&out).expect("send CONNECT");
    assert_eq!(next(&mut c).await, Op::Pong);
    let Op::Info(json) = next(&mut c).await else {
        panic!("no connect_info INFO after the first PONG")
    };
    let again = Info::from_json(&json).expect("INFO JSON");
    assert!(again.connect_info);
    assert_eq!(again.server_id, info.server_id);
    (c, info)
}

#[wasm_bindgen_test]
async fn info_connect_sub_pub_own_msg_ping_pong() {
    let (mut c, info) = connect().await;
    assert!(!info.server_id.is_empty(), "INFO has a server_id");
    assert!(info.headers, "INFO announces header support");
    assert_eq!(
        info.max_payload as usize,
        proto::Limits::DEFAULT_MAX_PAYLOAD
    );

    let every_byte: Vec<u8> = (0..=255u8).collect();
    let mut out = Vec::new();
    encode_sub(&mut out, b"web.live.>", None, b"1");
    encode_pub(&mut out, b"web.live.text", None, b"hello from wasm");
    encode_pub(&mut out, b"web.live.bin", Some(b"web.reply.1"), &every_byte);
    out.extend_from_slice(proto::PING);
    c.send(&out).unwrap();

    assert_eq!(
        next(&mut c).await,
        Op::Msg {
            subject: "web.live.text".into(),
            sid: "1".into(),
            reply: None,
            headers: None,
            payload: b"hello from wasm".to_vec(),
        }
    );
    assert_eq!(
        next(&mut c).await,
        Op::Msg {
            subject: "web.live.bin".into(),
            sid: "1".into(),
            reply: Some("web.reply.1".into()),
            headers: None,
            payload: every_byte,
        }
    );
    assert_eq!(next(&mut c).await, Op::Pong);

    // An unsolicited PONG is accepted silently; the next PING is answered.
    c.send(proto::PONG).unwrap();
    c.send(proto::PING).unwrap();
    assert_eq!(next(&mut c).await, Op::Pong);
}

#[wasm_bindgen_test]
async fn headers_large_payload_split_across_frames_and_unsub() {
    let (mut c, _) = connect().await;
    let mut hdr = Vec::new();
    let mut w = headers::HeaderWriter::new(&mut hdr);
    w.insert(b"X-Key", b"one").unwrap();
    w.insert(b"X-Key", b"two").unwrap();
    w.finish();
    // 200 KiB: the server's WebSocket frames use the 64-bit length form or
    // browser-sized frames; either way the op spans many reads here.
    let big: Vec<u8> = (0..200 * 1024).map(|i| (i % 251) as u8).collect();

    let mut out = Vec::new();
    encode_sub(&mut out, b"web.hdr", None, b"7");
    encode_hpub(&mut out, b"web.hdr", None, &hdr, b"payload");
    encode_pub(&mut out, b"web.hdr", None, &big);
    out.extend_from_slice(proto::PING);
    // Send the ops cut at odd places: NATS ops may span WebSocket messages.
    for piece in out.chunks(1000) {
        c.send(piece).unwrap();
    }

    let Op::Msg {
        subject,
        sid,
        headers: Some(h),
        payload,
        ..
    } = next(&mut c).await
    else {
        panic!("expected HMSG")
    };
    assert_eq!((subject.as_str(), sid.as_str()), ("web.hdr", "7"));
    assert_eq!(payload, b"payload");
    let parsed = headers::parse(&h).expect("valid header block");
    let keys: Vec<&[u8]> = parsed.get_all(b"X-Key").collect();
    assert_eq!(keys, [&b"one"[..], &b"two"[..]]);

    let Op::Msg { payload, .. } = next(&mut c).await else {
        panic!("expected MSG")
    };
    assert_eq!(payload.len(), big.len());
    assert!(payload == big, "200 KiB payload arrives intact");
    assert_eq!(next(&mut c).await, Op::Pong);

    // After UNSUB nothing more is delivered: the PONG comes first.
    let mut out = Vec::new();
    encode_unsub(&mut out, b"7", None);
    encode_pub(&mut out, b"web.hdr", None, b"after unsub");
    out.extend_from_slice(proto::PING);
    c.send(&out).unwrap();
    assert_eq!(next(&mut c).await, Op::Pong);
}

#[wasm_bindgen_test]
async fn bad_subject_is_an_err_and_over_max_payload_closes() {
    let (mut c, info) = connect().await;
    let mut out = Vec::new();
    encode_sub(&mut out, b"web..bad", None, b"1");
    out.extend_from_slice(proto::PING);
    c.send(&out).unwrap();
    assert_eq!(next(&mut c).await, Op::Err("'Invalid Subject'".into()));
    assert_eq!(next(&mut c).await, Op::Pong, "the connection stays open");

    let too_big = vec![b'x'; info.max_payload as usize + 1];
    let mut out = Vec::new();
    encode_pub(&mut out, b"web.big", None, &too_big);
    c.send(&out).unwrap();
    assert_eq!(
        next(&mut c).await,
        Op::Err("'Maximum Payload Violation'".into())
    );
    match c.next_op().await {
        Err(natsws_web_tests::NextError::Closed(_)) => {}
        other => panic!("expected the connection to close, got {other:?}"),
    }
}
