//! MQTT in monitoring (mqtt spec §5): `/varz` `mqtt`, `/connz` type `mqtt`
//! with `mqtt_client` for open and closed connections and the close
//! reasons; against natsws and nats-server 2.15.1.
#![allow(missing_docs)]

mod common;

use common::mqtt::{start, Mqtt};

fn json(s: &common::Server, path: &str) -> serde_json::Value {
    let (code, head, mut body) = s.http_get_head(path);
    assert_eq!(code, 200, "{path}: {body}");
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body:.300}"))
}

/// The body of a chunked HTTP/1.1 response (nats-server sends large
/// monitoring pages chunked).
fn dechunk(mut b: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = b.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        b = rest[n..].trim_start_matches("\r\n");
    }
    out
}

#[test]
fn varz_mqtt_block() {
    let (s, _d, port) = start("", "http_port: -1");
    let v = json(&s, "/varz");
    assert_eq!(
        v["mqtt"],
        serde_json::json!({"host": "127.0.0.1", "port": port, "tls_timeout": 2})
    );
    let (s, _d, _) = start("ack_wait: \"5s\"\n  max_ack_pending: 7", "http_port: -1");
    let v = json(&s, "/varz");
    assert_eq!(v["mqtt"]["ack_wait"], 5_000_000_000u64);
    assert_eq!(v["mqtt"]["max_ack_pending"], 7);
}

#[test]
fn connz_shows_mqtt_clients_open_and_closed() {
    let (s, _d, port) = start("", "http_port: -1");
    let (mut m, _) = Mqtt::connect(port, "dev-7", true);
    assert_eq!(m.subscribe(1, &[("a/b", 0)]), [0]);
    let v = json(&s, "/connz");
    let c = v["connections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["mqtt_client"] == "dev-7")
        .cloned()
        .expect("the MQTT connection");
    assert_eq!(c["type"], "mqtt");
    let only = json(&s, "/connz?mqtt_client=dev-7");
    assert_eq!(only["connections"].as_array().unwrap().len(), 1);
    assert_eq!(only["connections"][0]["mqtt_client"], "dev-7");
    assert_eq!(c["kind"], "Client");
    assert!(c.get("name").is_none() && c.get("lang").is_none());
    m.send(&[0xe0, 0]);
    m.read_to_close();
    let (mut k, _) = Mqtt::connect(port, "dup", true);
    let (_k2, _) = Mqtt::connect(port, "dup", true);
    k.read_to_close();
    // The closed ring is filled when the loop finishes each close: poll it.
    let until = std::time::Instant::now() + common::DEADLINE;
    loop {
        let v = json(&s, "/connz?state=closed");
        let conns = v["connections"].as_array().unwrap().clone();
        let reason = |id: &str| {
            conns
                .iter()
                .find(|c| c["mqtt_client"] == id)
                .map(|c| c["reason"].as_str().unwrap_or("").to_string())
        };
        if let (Some(a), Some(b)) = (reason("dev-7"), reason("dup")) {
            assert_eq!(a, "Client Closed");
            assert_eq!(b, "Duplicate Client ID");
            break;
        }
        assert!(
            std::time::Instant::now() < until,
            "closed entries: {conns:?}"
        );
        std::thread::yield_now();
    }
}

/// `DELETE path` on the monitoring port: (status, body).
fn http_delete(s: &common::Server, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut t = std::net::TcpStream::connect(("127.0.0.1", s.http_port.unwrap())).unwrap();
    t.set_read_timeout(Some(common::DEADLINE)).unwrap();
    write!(t, "DELETE {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut r = String::new();
    let _ = t.read_to_string(&mut r);
    let status = r
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = r
        .split_once("\r\n\r\n")
        .map(|x| x.1.to_string())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn mqttz_lists_sessions_and_deletes_an_offline_one() {
    if common::is_reference() {
        return; // natsws extension
    }
    let (s, _d, port) = start("", "http_port: -1");
    let (mut a, _) = Mqtt::connect(port, "stuck", false);
    assert_eq!(a.subscribe(1, &[("x/#", 1)]), [1]);
    a.send(&[0xe0, 0]);
    a.read_to_close();
    let (_b, _) = Mqtt::connect(port, "live", true);
    let v = json(&s, "/mqttz");
    assert_eq!(v["store"], "file");
    let sessions = v["sessions"].as_array().unwrap();
    let stuck = sessions.iter().find(|x| x["client_id"] == "stuck").unwrap();
    assert_eq!(stuck["connected"], false);
    assert_eq!(stuck["subscriptions"][0]["filter"], "x/#");
    assert!(sessions
        .iter()
        .any(|x| x["client_id"] == "live" && x["connected"] == true));
    assert_eq!(http_delete(&s, "/mqttz?client_id=live").0, 409);
    assert_eq!(http_delete(&s, "/mqttz?client_id=nope").0, 404);
    assert_eq!(http_delete(&s, "/mqttz").0, 400);
    let (code, body) = http_delete(&s, "/mqttz?client_id=stuck");
    assert_eq!(code, 200, "{body}");
    let v = json(&s, "/mqttz");
    assert!(!v["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["client_id"] == "stuck"));
    // The session is gone: a persistent CONNECT starts afresh.
    let (_c, ack) = Mqtt::connect(port, "stuck", false);
    assert_eq!(ack, (0, 0));
}
