//! Helpers of the leafnode suites: reading a raw client until a needle
//! arrives, and waiting until a subscription's interest has crossed a
//! leafnode link (publishing probes, never sleeping).

use std::io::Read;
use std::time::{Duration, Instant};

use super::{find, Raw, Server, DEADLINE};

/// Reads `c` for up to `d`; true if `needle` arrived (the buffer is drained
/// through the needle).
pub fn wait_for(c: &mut Raw, needle: &str, d: Duration) -> bool {
    let until = Instant::now() + d;
    loop {
        if let Some(pos) = find(&c.buf, needle.as_bytes()) {
            c.buf.drain(..pos + needle.len());
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        let mut chunk = [0u8; 65536];
        match c.sock.read(&mut chunk) {
            Ok(0) => return false,
            Ok(n) => c.buf.extend_from_slice(&chunk[..n]),
            Err(_) => {}
        }
    }
}

/// Publishes `probe` on `subject` from `publisher` until `subscriber` sees
/// it: the interest has crossed the link. Then drains the probes still on
/// their way, so later reads of `subscriber` start clean.
pub fn await_interest(publisher: &mut Raw, subscriber: &mut Raw, subject: &str) {
    let until = Instant::now() + DEADLINE;
    let needle = format!("MSG {subject} ");
    loop {
        publisher.send(format!("PUB {subject} 5\r\nprobe\r\n").as_bytes());
        if wait_for(subscriber, &needle, Duration::from_millis(200)) {
            break;
        }
        assert!(
            Instant::now() < until,
            "interest in {subject} never crossed"
        );
    }
    publisher.send(b"PING\r\n");
    publisher.expect("PONG\r\n");
    subscriber.send(b"PING\r\n");
    subscriber.expect("PONG\r\n");
    while wait_for(subscriber, "probe\r\n", Duration::from_millis(300)) {}
    subscriber.buf.clear();
}

/// `/leafz` once it lists `n` links (the accepting side registers a link
/// when it has processed CONNECT, after its log line); fails after the
/// deadline.
pub fn leafz_with(s: &Server, n: u64) -> serde_json::Value {
    let until = Instant::now() + DEADLINE;
    loop {
        let (code, body) = s.http_get("/leafz");
        assert_eq!(code, 200);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        if v["leafnodes"] == n {
            return v;
        }
        assert!(Instant::now() < until, "{v}");
        // Wait for the next log line (or 100 ms) before asking again.
        let _ = s.log.recv_timeout(Duration::from_millis(100));
    }
}
