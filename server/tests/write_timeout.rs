//! The top-level `write_timeout` (nats-server `parseWriteDeadlinePolicy`,
//! `initClient`, `handleWriteTimeout`): the policy of client connections
//! (TCP, WebSocket and MQTT) on a missed `write_deadline`. `default` is
//! `close` for clients: a client that stops reading is closed as
//! `Slow Consumer (Write Deadline)`; under `retry` one that still reads is
//! kept and one that reads nothing is closed. The blocks `websocket {}` and
//! `mqtt {}` have no `write_timeout` of their own (`unknown field`). A
//! reload that changes it is refused, `/varz` shows it when not `default`.
//! Every test passes with nats-server 2.15.1 as the server under test.

mod common;

use std::io::Read;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::mqtt::Mqtt;
use common::{Conn, Raw, Server, TempDir, DEADLINE};
use serde_json::Value;

/// A publish of `size` bytes on `big`.
fn big_pub(size: usize) -> Vec<u8> {
    let mut msg = format!("PUB big {size}\r\n").into_bytes();
    msg.extend(std::iter::repeat_n(b'x', size));
    msg.extend_from_slice(b"\r\n");
    msg
}

/// How the subscriber connects.
#[derive(Clone, Copy, Debug)]
enum Via {
    Tcp,
    Ws,
    Mqtt,
}

const VIAS: [Via; 3] = [Via::Tcp, Via::Ws, Via::Mqtt];

fn conf(policy: Option<&str>, deadline: &str) -> String {
    let policy = policy.map_or(String::new(), |p| format!("write_timeout: {p}\n"));
    format!(
        "host: 127.0.0.1\nport: -1\nhttp: \"127.0.0.1:-1\"\nmax_pending: 256MB\nwrite_deadline: \"{deadline}\"\n{policy}websocket {{ host: 127.0.0.1, port: -1, no_tls: true }}\n"
    )
}

/// Starts the server with [`conf`], plus an MQTT listener (and the
/// JetStream store nats-server needs for it, in the returned dir) when the
/// subscriber is MQTT. `max_pending` is raised so that only the write
/// deadline closes a client here.
fn start(via: Via, policy: Option<&str>, deadline: &str) -> (Server, Option<TempDir>) {
    let top = conf(policy, deadline);
    match via {
        Via::Mqtt => {
            let dir = TempDir::new();
            let s = Server::start(&common::mqtt::conf(&dir, "", &top));
            (s, Some(dir))
        }
        _ => (Server::start(&top), None),
    }
}

/// Connects a client subscribed to `big` (a NATS subscription, or an MQTT
/// QoS 0 one); returns its socket, to be read raw from here on, and its
/// cid.
fn subscriber(s: &Server, via: Via) -> (TcpStream, u64) {
    if let Via::Mqtt = via {
        let port = s.mqtt_port.expect("mqtt port");
        let (mut m, (_, rc)) = Mqtt::connect(port, "wt", true);
        assert_eq!(rc, 0);
        assert_eq!(m.subscribe(1, &[("big", 0)]), vec![0]);
        let v = json_get(s, "/connz?mqtt_client=wt");
        let cid = v["connections"][0]["cid"].as_u64().expect("mqtt cid");
        return (m.sock, cid);
    }
    let (mut c, info) = Conn::on(s, matches!(via, Via::Ws));
    let cid = info["client_id"].as_u64().expect("client_id");
    c.send(b"CONNECT {\"verbose\":false,\"protocol\":1}\r\nSUB big 1\r\nPING\r\n");
    c.expect("PONG\r\n");
    let sock = match c {
        Conn::Tcp(r) => r.sock,
        Conn::Ws(w) => w.sock,
    };
    (sock, cid)
}

/// GETs `path` on the monitor port as JSON; a chunked body (nats-server
/// sends a large `/varz` so) is put together first.
fn json_get(s: &Server, path: &str) -> Value {
    let (status, body) = s.http_get(path);
    assert_eq!(status, 200, "{body}");
    let mut json = String::new();
    let mut rest = body.as_str();
    if rest.starts_with('{') {
        json = body.clone();
    } else {
        while let Some((size, after)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).expect("chunk size");
            if n == 0 {
                break;
            }
            json.push_str(&after[..n]);
            rest = &after[n + 2..];
        }
    }
    serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {body:?}"))
}

/// The closed connection `cid` of `/connz?state=closed`, if listed.
fn closed(s: &Server, cid: u64) -> Option<Value> {
    let v = json_get(s, "/connz?state=closed");
    v["connections"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["cid"] == cid))
        .cloned()
}

/// Publishes 1 KiB messages on `big` until `cid` is listed closed; its
/// `/connz` object and the time it took. The small messages and a
/// `/connz` request every 16 keep the pace (nats-server stalls no
/// publisher to an MQTT client) low enough that `max_pending` is never
/// reached before the deadline is missed (about 3 deadlines under `retry`
/// in nats-server).
fn publish_until_closed(s: &Server, cid: u64) -> (Value, Duration) {
    let mut p = Raw::connect(s.client_port);
    p.expect("\r\n");
    p.send(b"CONNECT {\"verbose\":false,\"protocol\":1}\r\n");
    let msg = big_pub(1024);
    let start = Instant::now();
    loop {
        for _ in 0..16 {
            p.send(&msg);
        }
        if let Some(c) = closed(s, cid) {
            return (c, start.elapsed());
        }
        assert!(start.elapsed() < DEADLINE, "cid {cid} never closed");
    }
}

#[test]
fn each_policy_is_accepted_and_other_values_refused() {
    for p in ["close", "retry", "default", "\"close\""] {
        let s = Server::try_start(&format!("port: -1\nwrite_timeout: {p}\n"));
        assert!(s.is_ok(), "{p}: {:?}", s.err());
    }
    for (v, err) in [
        (
            "bogus",
            "write_timeout must be 'default', 'close' or 'retry'",
        ),
        (
            "Close",
            "write_timeout must be 'default', 'close' or 'retry'",
        ),
        (
            "5",
            "interface conversion: interface {} is int64, not string",
        ),
        (
            "true",
            "interface conversion: interface {} is bool, not string",
        ),
    ] {
        let out = Server::try_start(&format!("port: -1\nwrite_timeout: {v}\n"))
            .err()
            .unwrap_or_else(|| panic!("{v} accepted"));
        assert!(out.contains(&format!(":2:1: {err}")), "{v}: {out}");
    }
}

#[test]
fn websocket_and_mqtt_blocks_have_no_write_timeout() {
    for block in [
        "websocket { host: 127.0.0.1, port: -1, no_tls: true, write_timeout: close }",
        "mqtt { host: 127.0.0.1, port: -1, write_timeout: close }",
    ] {
        let out = Server::try_start(&format!("port: -1\nserver_name: wt\n{block}\n"))
            .err()
            .unwrap_or_else(|| panic!("{block} accepted"));
        assert!(out.contains("unknown field \"write_timeout\""), "{out}");
    }
}

#[test]
fn varz_shows_the_policy_unless_default() {
    for (p, want) in [
        (None, None),
        (Some("default"), None),
        (Some("close"), Some("close")),
        (Some("retry"), Some("retry")),
    ] {
        let s = Server::start(&conf(p, "2s"));
        let v = json_get(&s, "/varz");
        assert_eq!(v["write_timeout"].as_str(), want, "{p:?}");
        assert_eq!(v["write_deadline"], 2_000_000_000u64, "{p:?}");
    }
}

#[test]
fn a_reload_changing_it_is_refused() {
    for (from, to, old, new) in [
        (None, Some("retry"), "", "retry"),
        (Some("close"), Some("retry"), "close", "retry"),
        (Some("retry"), None, "retry", ""),
    ] {
        let s = Server::start(&conf(from, "2s"));
        std::fs::write(s.conf_path(), conf(to, "2s")).unwrap();
        s.hangup();
        let line = s.expect_log("Failed to reload server configuration: ");
        assert!(
            line.ends_with(&format!(
                "config reload not supported for WriteTimeout: old={old}, new={new}"
            )),
            "{line}"
        );
    }
    // `default` and no key are the same value: nothing to refuse.
    let s = Server::start(&conf(None, "2s"));
    std::fs::write(s.conf_path(), conf(Some("default"), "2s")).unwrap();
    s.hangup();
    s.expect_log("Reloaded server configuration");
}

#[test]
fn a_client_that_stops_reading_is_closed_under_every_policy() {
    for policy in [None, Some("default"), Some("close"), Some("retry")] {
        for via in VIAS {
            let (s, _dir) = start(via, policy, "300ms");
            // Held open and never read from.
            let (_sock, cid) = subscriber(&s, via);
            let (c, took) = publish_until_closed(&s, cid);
            assert_eq!(
                c["reason"], "Slow Consumer (Write Deadline)",
                "{policy:?} {via:?}: {c}"
            );
            eprintln!(
                "{policy:?} {via:?}: closed after {took:?}, {} bytes pending",
                c["pending_bytes"]
            );
            // What it did not take stays on record (nats-server keeps the
            // closed client's `out.pb`).
            assert!(
                c["pending_bytes"].as_u64().is_some_and(|n| n > 0),
                "{policy:?} {via:?}: {c}"
            );
            if policy != Some("retry") {
                // One missed deadline, one slow consumer, counted as a client.
                let v = json_get(&s, "/varz");
                assert_eq!(v["slow_consumers"], 1, "{policy:?} {via:?}");
                assert_eq!(v["slow_consumer_stats"]["clients"], 1, "{policy:?} {via:?}");
            }
        }
    }
}

/// Starts the server with `write_timeout: <policy>` and a 1 s deadline,
/// subscribes a client (TCP, WebSocket or MQTT) that reads 16 KiB every 5 ms
/// (slower than the publisher, far faster than one byte per deadline),
/// publishes 16 MiB to it and returns whether it read all of it (a
/// client that did not was closed as `Slow Consumer (Write Deadline)`).
fn slow_client_reads_everything(policy: &str, via: Via) -> bool {
    let (s, _dir) = start(via, Some(policy), "1s");
    let (mut sock, cid) = subscriber(&s, via);
    const N: usize = 256;
    let reader = std::thread::spawn(move || {
        sock.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut chunk = vec![0u8; 16384];
        let mut got = 0usize;
        while got < N * 65536 {
            match sock.read(&mut chunk) {
                Ok(0) | Err(_) => return false,
                Ok(n) => got += n,
            }
            // The slow consumer's pace, not a synchronisation.
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    });
    let mut p = Raw::connect(s.client_port);
    p.expect("\r\n");
    p.send(b"CONNECT {\"verbose\":false,\"protocol\":1}\r\n");
    let msg = big_pub(65536);
    for _ in 0..N {
        p.send(&msg);
    }
    let all = reader.join().unwrap();
    if !all {
        let until = Instant::now() + DEADLINE;
        let c = loop {
            if let Some(c) = closed(&s, cid) {
                break c;
            }
            assert!(Instant::now() < until, "cid {cid} ended but is not closed");
        };
        assert_eq!(c["reason"], "Slow Consumer (Write Deadline)", "{c}");
    }
    all
}

#[test]
fn a_slow_client_is_kept_under_retry_and_closed_under_close() {
    for via in VIAS {
        assert!(slow_client_reads_everything("retry", via), "retry {via:?}");
        assert!(!slow_client_reads_everything("close", via), "close {via:?}");
        assert!(
            !slow_client_reads_everything("default", via),
            "default {via:?}"
        );
    }
}
