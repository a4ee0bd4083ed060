//! WebSocket keepalive (natsws extension, spec operations.md §6.4): a ping
//! frame after `websocket { keepalive }` of outbound silence, so proxies
//! that cut idle connections keep an idle browser; a peer that sends
//! nothing for `ping_max` windows is closed with `-ERR 'Stale Connection'`
//! and close 1001. nats-server sends no ping frames, so these tests run
//! against natsws only.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{is_reference, Conn, Server, WsRaw};

fn conf(keepalive: &str) -> String {
    format!(
        "listen: \"127.0.0.1:-1\"\nwebsocket {{\n  listen: \"127.0.0.1:-1\"\n  no_tls: true\n  keepalive: {keepalive}\n}}\n"
    )
}

fn ws_client(port: u16) -> WsRaw {
    let mut c = WsRaw::connect(port);
    c.expect("\r\n"); // INFO
    c.send(b"CONNECT {\"verbose\":false}\r\nPING\r\n");
    c.expect("PONG\r\n");
    c
}

#[test]
fn an_idle_websocket_client_gets_ping_frames() {
    if is_reference() {
        return;
    }
    let s = Server::start(&conf("\"1s\""));
    let mut c = ws_client(s.ws_port.unwrap());
    c.read_until("a ping frame", |w| w.pings >= 1);
    // Answered pings keep it open, and keep coming: NATS still works.
    assert!(c.answer_pings_for(Duration::from_millis(2500)));
    assert!(c.pings >= 3, "{} pings", c.pings);
    c.send(b"PING\r\n");
    c.expect("PONG\r\n");
}

#[test]
fn a_peer_that_sends_nothing_is_closed_as_stale_with_1001() {
    if is_reference() {
        return;
    }
    // keepalive 1 s, ping_max 2: stale after 2 s without a byte.
    let s = Server::start(&conf("\"1s\""));
    let (mut c, _) = Conn::ws(s.ws_port.unwrap(), &[]);
    c.send(b"CONNECT {\"verbose\":false}\r\nPING\r\n");
    c.expect("PONG\r\n");
    c.expect_err_close("Stale Connection", 1001, "Stale Connection");
}

#[test]
fn keepalive_zero_sends_no_ping_frames() {
    if is_reference() {
        return;
    }
    let s = Server::start(&conf("0"));
    let mut c = ws_client(s.ws_port.unwrap());
    assert!(c.answer_pings_for(Duration::from_millis(2500)));
    assert_eq!(c.pings, 0);
}

/// A TCP proxy on loopback that closes both sides once no byte has passed
/// in either direction for `idle` (as load balancers with an idle timeout
/// do). Returns its port.
fn idle_cutting_proxy(upstream: u16, idle: Duration) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let Ok((down, _)) = l.accept() else { return };
        let up = TcpStream::connect(("127.0.0.1", upstream)).unwrap();
        let last = Arc::new(std::sync::Mutex::new(Instant::now()));
        let done = Arc::new(AtomicBool::new(false));
        let pipe = |mut from: TcpStream, mut to: TcpStream| {
            let (last, done) = (last.clone(), done.clone());
            std::thread::spawn(move || {
                from.set_read_timeout(Some(Duration::from_millis(50)))
                    .unwrap();
                let mut buf = [0u8; 65536];
                while !done.load(Ordering::Acquire) {
                    match from.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => {
                            *last.lock().unwrap() = Instant::now();
                            if to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        Err(e) if common::is_timeout(&e) => {
                            if last.lock().unwrap().elapsed() >= idle {
                                break;
                            }
                        }
                        Err(_) => break,
                    }
                }
                done.store(true, Ordering::Release);
                let _ = from.shutdown(std::net::Shutdown::Both);
                let _ = to.shutdown(std::net::Shutdown::Both);
            })
        };
        let a = pipe(down.try_clone().unwrap(), up.try_clone().unwrap());
        let b = pipe(up, down);
        let _ = a.join();
        let _ = b.join();
    });
    port
}

#[test]
fn keepalive_keeps_an_idle_client_through_a_proxy_that_cuts_idle_connections() {
    if is_reference() {
        return;
    }
    // The proxy cuts after 3 s idle; the keepalive pings after 1 s.
    let s = Server::start(&conf("\"1s\""));
    let mut c = ws_client(idle_cutting_proxy(
        s.ws_port.unwrap(),
        Duration::from_secs(3),
    ));
    assert!(
        c.answer_pings_for(Duration::from_secs(10)),
        "the proxy cut a connection the keepalive should have kept"
    );
    c.send(b"PING\r\n");
    c.expect("PONG\r\n");
    // Without the keepalive the same proxy cuts the idle client.
    let s = Server::start(&conf("0"));
    let mut c = ws_client(idle_cutting_proxy(
        s.ws_port.unwrap(),
        Duration::from_secs(3),
    ));
    assert!(
        !c.answer_pings_for(Duration::from_secs(8)),
        "the proxy should have cut the idle connection"
    );
}
