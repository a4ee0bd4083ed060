//! `leafnodes { write_deadline }` (spec `leafnode.md` §2.1; nats-server
//! `initClient`): a leaf link whose peer stops reading is closed as a slow
//! consumer after the leafnode block's deadline, not the server's. The
//! peer is a raw leaf that says CONNECT and `LS+`, then reads nothing.
//! Passes with nats-server as the server under test.

mod common;

use std::time::{Duration, Instant};

use common::{Raw, Server};

/// Publishes 64 KiB messages on `big` until the server logs `needle`;
/// the time it took.
fn publish_until_logged(s: &Server, needle: &str, within: Duration) -> Duration {
    let mut p = Raw::connect(s.client_port);
    p.expect("\r\n");
    p.send(b"CONNECT {\"verbose\":false,\"protocol\":1}\r\n");
    let mut msg = b"PUB big 65536\r\n".to_vec();
    msg.extend(std::iter::repeat_n(b'x', 65536));
    msg.extend_from_slice(b"\r\n");
    let start = Instant::now();
    loop {
        p.send(&msg);
        while let Ok(l) = s.log.try_recv() {
            if l.contains(needle) {
                return start.elapsed();
            }
        }
        assert!(start.elapsed() < within, "no {needle:?} within {within:?}");
    }
}

#[test]
fn a_stuck_leaf_link_is_closed_after_the_leafnode_write_deadline() {
    // The server's deadline is long; the leaf links' is short.
    for policy in ["close", "retry", "default"] {
        let s = Server::start(&format!(
            "host: 127.0.0.1\nport: -1\nwrite_deadline: \"60s\"\nleafnodes {{ host: 127.0.0.1, port: -1, write_deadline: \"300ms\", write_timeout: {policy} }}\n"
        ));
        let mut leaf = Raw::connect(s.leaf_port.expect("leaf port"));
        leaf.expect("\r\n");
        leaf.send(
            b"CONNECT {\"name\":\"STUCK\",\"version\":\"2.15.1\",\"headers\":true,\"protocol\":1}\r\nLS+ big\r\nPING\r\n",
        );
        leaf.expect("PONG\r\n");
        // From here on the leaf reads nothing.
        let took = publish_until_logged(
            &s,
            "Leafnode connection closed: Slow Consumer (Write Deadline)",
            Duration::from_secs(20),
        );
        eprintln!("{policy}: closed after {took:?}");
    }
}

/// Starts the server with the leaf links' `write_timeout: <policy>` and a
/// 1 s leaf deadline, connects a leaf that reads 16 KiB every 5 ms (slower
/// than the publisher, faster than one byte per deadline), publishes 16 MiB
/// to it and returns whether the leaf read all of it.
fn slow_leaf_reads_everything(policy: &str) -> bool {
    let s = Server::start(&format!(
        "host: 127.0.0.1\nport: -1\nwrite_deadline: \"60s\"\nleafnodes {{ host: 127.0.0.1, port: -1, write_deadline: \"1s\", write_timeout: {policy} }}\n"
    ));
    let mut leaf = Raw::connect(s.leaf_port.expect("leaf port"));
    leaf.expect("\r\n");
    leaf.send(
        b"CONNECT {\"name\":\"SLOW\",\"version\":\"2.15.1\",\"headers\":true,\"protocol\":1}\r\nLS+ big\r\nPING\r\n",
    );
    leaf.expect("PONG\r\n");
    const N: usize = 256;
    let reader = std::thread::spawn(move || {
        let mut sock = leaf.sock;
        sock.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let needle = b"LMSG big 65536\r\n";
        let (mut seen, mut tail) = (0usize, Vec::new());
        let mut chunk = vec![0u8; 16384];
        while seen < N {
            match std::io::Read::read(&mut sock, &mut chunk) {
                Ok(0) | Err(_) => return false,
                Ok(n) => {
                    tail.extend_from_slice(&chunk[..n]);
                    while let Some(p) = common::find(&tail, needle) {
                        seen += 1;
                        tail.drain(..p + needle.len());
                    }
                    let keep = tail.len().min(needle.len());
                    tail.drain(..tail.len() - keep);
                }
            }
            // The slow consumer's pace, not a synchronisation.
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    });
    let mut p = Raw::connect(s.client_port);
    p.expect("\r\n");
    p.send(b"CONNECT {\"verbose\":false,\"protocol\":1}\r\n");
    let mut msg = b"PUB big 65536\r\n".to_vec();
    msg.extend(std::iter::repeat_n(b'x', 65536));
    msg.extend_from_slice(b"\r\n");
    for _ in 0..N {
        p.send(&msg);
    }
    reader.join().unwrap()
}

#[test]
fn a_slow_leaf_link_is_kept_under_retry_and_closed_under_close() {
    assert!(slow_leaf_reads_everything("retry"), "retry");
    assert!(slow_leaf_reads_everything("default"), "default");
    assert!(!slow_leaf_reads_everything("close"), "close");
}
