//! Configuration reload (operations spec §1): SIGHUP re-reads the config
//! file; a refused or broken file changes nothing; reloadable options reach
//! new and open connections. The trigger is a SIGHUP to the server process;
//! each test then waits for the reload's log line or for the behaviour,
//! never for a time.
//!
//! Every test not marked natsws-only also passes against the reference
//! nats-server (`NATSWS_TEST_SERVER_BIN`).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::pki::Pki;
use common::{is_reference, is_timeout, parse_info, Conn, Raw, Server, DEADLINE};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};

/// Rewrites the config file and reloads it; returns once the server logged
/// that the reload took effect.
fn reload(s: &Server, conf: &str) {
    std::fs::write(s.conf_path(), conf).unwrap();
    s.hangup();
    s.expect_log("Reloaded server configuration");
}

/// Rewrites the config file and reloads it, expecting a refusal; returns
/// the ERR line.
fn reload_refused(s: &Server, conf: &str) -> String {
    std::fs::write(s.conf_path(), conf).unwrap();
    s.hangup();
    let line = s.expect_log("Failed to reload server configuration: ");
    assert!(line.contains("[ERR]"), "{line}");
    line
}

fn tcp_info(s: &Server) -> serde_json::Value {
    Conn::tcp(s.client_port).1
}

fn connect(s: &Server, creds: &str) -> Raw {
    let mut r = Raw::connect(s.client_port);
    r.expect("\r\n");
    r.send(format!("CONNECT {{\"verbose\":false,\"protocol\":1{creds}}}\r\nPING\r\n").as_bytes());
    r.expect("PONG\r\n");
    r
}

fn user(name: &str) -> String {
    format!(",\"user\":\"{name}\",\"pass\":\"pw\"")
}

#[test]
fn max_payload_change_reaches_new_info_and_open_connections() {
    let base = "listen: 127.0.0.1:-1\n";
    let s = Server::start(&format!("{base}max_payload: 1024\n"));
    assert_eq!(tcp_info(&s)["max_payload"], 1024);
    let mut open = connect(&s, "");
    open.send(b"SUB big 1\r\n");
    reload(&s, &format!("{base}max_payload: 2048\n"));
    assert_eq!(tcp_info(&s)["max_payload"], 2048);
    // The open connection takes 1500 bytes now (no new INFO for it).
    let payload = "x".repeat(1500);
    open.send(format!("PUB big 1500\r\n{payload}\r\nPING\r\n").as_bytes());
    let got = open.expect("PONG\r\n");
    assert!(
        got.contains(&format!("MSG big 1 1500\r\n{payload}")),
        "{got}"
    );
    assert!(!got.contains("-ERR"), "{got}");
    // And the lower limit bites it again after the next reload.
    reload(&s, &format!("{base}max_payload: 1024\n"));
    open.send(format!("PUB big 1500\r\n{payload}\r\n").as_bytes());
    let rest = open.read_to_close();
    assert!(rest.contains("-ERR 'Maximum Payload Violation'"), "{rest}");
}

#[test]
fn reloaded_option_is_logged_once_per_change() {
    let base = "listen: 127.0.0.1:-1\n";
    let s = Server::start(&format!("{base}max_payload: 1024\n"));
    std::fs::write(s.conf_path(), format!("{base}max_payload: 2048\n")).unwrap();
    s.hangup();
    s.expect_log("Trapped \"hangup\" signal");
    s.expect_log("Reloaded: max_payload = 2048");
    s.expect_log("Reloaded server configuration");
}

#[test]
fn syntax_error_leaves_the_configuration_untouched() {
    let base = "listen: 127.0.0.1:-1\n";
    let s = Server::start(&format!("{base}max_payload: 1024\nhttp: 127.0.0.1:-1\n"));
    let line = reload_refused(
        &s,
        &format!("{base}max_payload: 2048\nusers = [ {{ user: a\n"),
    );
    assert!(!line.contains("Reloaded"), "{line}");
    assert_eq!(tcp_info(&s)["max_payload"], 1024);
    // A good file afterwards still reloads.
    reload(
        &s,
        &format!("{base}max_payload: 4096\nhttp: 127.0.0.1:-1\n"),
    );
    assert_eq!(tcp_info(&s)["max_payload"], 4096);
}

#[test]
fn refused_port_change_names_the_field_and_applies_nothing() {
    let s = Server::start("listen: 127.0.0.1:-1\nmax_payload: 1024\n");
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let new_port = free.local_addr().unwrap().port();
    drop(free);
    // The port change refuses the whole file, the max_payload change too.
    let line = reload_refused(
        &s,
        &format!("listen: 127.0.0.1:{new_port}\nmax_payload: 2048\n"),
    );
    let want = format!(
        "Failed to reload server configuration: config reload not supported for Port: old={}, new={new_port}",
        s.client_port
    );
    assert!(line.ends_with(&want), "{line}\nwant {want}");
    assert_eq!(tcp_info(&s)["max_payload"], 1024);
    assert!(TcpStream::connect(("127.0.0.1", new_port)).is_err());
}

#[test]
fn refused_reload_shows_in_varz_and_metrics() {
    if is_reference() {
        return; // natsws-only: natsws_last_reload_error, /metrics
    }
    let base = "listen: 127.0.0.1:-1\nhttp: 127.0.0.1:-1\n";
    let s = Server::start(base);
    let varz =
        |s: &Server| -> serde_json::Value { serde_json::from_str(&s.http_get("/varz").1).unwrap() };
    let before = varz(&s);
    assert!(before.get("natsws_last_reload_error").is_none());
    let loaded = before["config_load_time"].as_str().unwrap().to_string();
    reload_refused(&s, &format!("{base}server_name: other\n"));
    let after = varz(&s);
    let err = after["natsws_last_reload_error"].as_str().unwrap();
    assert!(
        err.starts_with("config reload not supported for ServerName: old=, new=other"),
        "{err}"
    );
    assert_eq!(after["config_load_time"], loaded);
    let (_, metrics) = s.http_get("/metrics");
    assert!(
        metrics.contains("# TYPE natsws_config_reloads_total counter"),
        "{metrics}"
    );
    let sample = |m: &str, r: &str| {
        m.lines()
            .find(|l| {
                l.starts_with("natsws_config_reloads_total{")
                    && l.contains(&format!("result=\"{r}\"}}"))
            })
            .and_then(|l| l.rsplit(' ').next())
            .map(str::to_string)
            .unwrap()
    };
    assert_eq!(sample(&metrics, "error"), "1");
    assert_eq!(sample(&metrics, "ok"), "0");
    reload(&s, &format!("{base}max_payload: 2048\n"));
    let good = varz(&s);
    assert!(good.get("natsws_last_reload_error").is_none());
    // Second precision: a reload within the same second keeps the text.
    let at = good["config_load_time"].as_str().unwrap();
    assert!(
        at >= loaded.as_str() && at <= good["now"].as_str().unwrap(),
        "{good}"
    );
    assert_eq!(good["max_payload"], 2048);
    let (_, metrics) = s.http_get("/metrics");
    assert_eq!(sample(&metrics, "ok"), "1");
}

fn users_conf(users: &str) -> String {
    format!("listen: 127.0.0.1:-1\nauthorization {{\n  users = [\n{users}\n  ]\n}}\n")
}

#[test]
fn removed_user_is_disconnected_without_err_and_others_stay() {
    let both = "    { user: alice, password: pw }\n    { user: bob, password: pw }";
    let s = Server::start(&users_conf(both));
    let mut alice = connect(&s, &user("alice"));
    let mut bob = connect(&s, &user("bob"));
    reload(&s, &users_conf("    { user: alice, password: pw }"));
    let rest = bob.read_to_close();
    assert!(!rest.contains("-ERR"), "{rest}");
    alice.send(b"PING\r\n");
    alice.expect("PONG\r\n");
    let mut again = Raw::connect(s.client_port);
    again.expect("\r\n");
    again.send(format!("CONNECT {{\"verbose\":false{}}}\r\nPING\r\n", user("bob")).as_bytes());
    let got = again.read_to_close();
    assert!(got.contains("-ERR 'Authorization Violation'"), "{got}");
}

#[test]
fn removed_user_on_websocket_gets_close_1000() {
    let conf = |users: &str| {
        format!(
            "listen: 127.0.0.1:-1\nwebsocket {{ listen: 127.0.0.1:-1, no_tls: true }}\n\
             authorization {{ users = [ {users} ] }}\n"
        )
    };
    let s = Server::start(&conf(
        "{ user: alice, password: pw }, { user: bob, password: pw }",
    ));
    let (mut bob, _) = Conn::ws(s.ws_port.unwrap(), &[]);
    bob.send(format!("CONNECT {{\"verbose\":false{}}}\r\nPING\r\n", user("bob")).as_bytes());
    bob.expect("PONG\r\n");
    reload(&s, &conf("{ user: alice, password: pw }"));
    let (rest, close) = bob.expect_end();
    assert!(!rest.contains("-ERR"), "{rest}");
    assert_eq!(close.unwrap().0, Some(1000));
}

#[test]
fn changed_password_is_an_authorization_violation() {
    let s = Server::start(&users_conf("    { user: alice, password: pw }"));
    let mut alice = connect(&s, &user("alice"));
    reload(&s, &users_conf("    { user: alice, password: other }"));
    let got = alice.read_to_close();
    assert!(got.contains("-ERR 'Authorization Violation'"), "{got}");
}

#[test]
fn user_moved_to_another_account_is_closed_and_reconnects_into_it() {
    let conf = |a_users: &str, b_users: &str| {
        format!(
            "listen: 127.0.0.1:-1\naccounts {{\n  A {{ users = [ {a_users} ] }}\n  \
             B {{ users = [ {b_users} ] }}\n}}\n"
        )
    };
    let alice = "{ user: alice, password: pw }";
    let bob = "{ user: bob, password: pw }";
    let s = Server::start(&conf(
        &format!("{alice}, {bob}"),
        "{ user: carol, password: pw }",
    ));
    let mut a = connect(&s, &user("alice"));
    let mut b = connect(&s, &user("bob"));
    reload(
        &s,
        &conf(alice, &format!("{bob}, {{ user: carol, password: pw }}")),
    );
    let rest = b.read_to_close();
    assert!(!rest.contains("-ERR"), "{rest}");
    a.send(b"PING\r\n");
    a.expect("PONG\r\n");
    // Back as bob: it publishes into B now, where carol listens.
    let mut carol = connect(&s, &user("carol"));
    carol.send(b"SUB x 1\r\nPING\r\n");
    carol.expect("PONG\r\n");
    let mut b = connect(&s, &user("bob"));
    b.send(b"PUB x 2\r\nhi\r\nPING\r\n");
    b.expect("PONG\r\n");
    carol.expect("MSG x 1 2\r\nhi\r\n");
}

fn perms_conf(allow: &str) -> String {
    users_conf(&format!(
        "    {{ user: alice, password: pw, permissions: {{ subscribe: {{ allow: [{allow}] }} }} }}"
    ))
}

#[test]
fn narrowed_permissions_remove_subscriptions_with_the_reference_err() {
    let s = Server::start(&perms_conf("\"news.>\", \"other\", \"q\""));
    let mut alice = connect(&s, &user("alice"));
    alice.send(b"SUB news.> 1\r\nSUB other 2\r\nSUB q grp 3\r\nPING\r\n");
    alice.expect("PONG\r\n");
    std::fs::write(s.conf_path(), perms_conf("\"other\"")).unwrap();
    s.hangup();
    // nats-server logs the removal before its "Reloaded server
    // configuration", natsws after (on the connection's loop).
    s.expect_log("Removed sub \"news.>\" (sid \"1\") for User \"alice\" - not authorized");
    // The two -ERR lines, in either order (nats-server walks a map).
    alice.expect("-ERR 'Permissions Violation for Subscription to ");
    alice.send(b"PING\r\n");
    let errs = alice.expect("PONG\r\n");
    let all = format!("-ERR 'Permissions Violation for Subscription to {errs}");
    assert!(all.contains("to \"news.>\" (sid \"1\")'\r\n"), "{all}");
    assert!(
        all.contains("to \"q\" using queue \"grp\" (sid \"3\")'\r\n"),
        "{all}"
    );
    assert_eq!(all.matches("-ERR").count(), 2, "{all}");
    // Still connected; the allowed subscription still receives, the
    // removed one does not.
    let mut other = connect(&s, &user("alice"));
    other.send(b"PUB news.a 1\r\nx\r\nPUB other 1\r\ny\r\nPING\r\n");
    other.expect("PONG\r\n");
    alice.send(b"PING\r\n");
    let got = alice.expect("PONG\r\n");
    assert_eq!(got, "MSG other 2 1\r\ny\r\nPONG\r\n");
}

#[test]
fn widened_publish_permissions_apply_to_the_open_connection() {
    let conf = |allow: &str| {
        users_conf(&format!(
            "    {{ user: alice, password: pw, permissions: {{ publish: [{allow}] }} }}"
        ))
    };
    let s = Server::start(&conf("\"a\""));
    let mut alice = connect(&s, &user("alice"));
    alice.send(b"PUB b 1\r\nx\r\nPING\r\n");
    let got = alice.expect("PONG\r\n");
    assert!(
        got.contains("Permissions Violation for Publish to \"b\""),
        "{got}"
    );
    reload(&s, &conf("\"a\", \"b\""));
    alice.send(b"SUB b 1\r\nPUB b 1\r\nx\r\nPING\r\n");
    let got = alice.expect("PONG\r\n");
    assert_eq!(got, "MSG b 1 1\r\nx\r\nPONG\r\n");
}

#[test]
fn publishing_through_unrelated_reloads_loses_nothing() {
    let base = "listen: 127.0.0.1:-1\n";
    let s = Server::start(base);
    let mut sub = connect(&s, "");
    sub.send(b"SUB load 1\r\nPING\r\n");
    sub.expect("PONG\r\n");
    const N: usize = 20_000;
    let port = s.client_port;
    let publisher = std::thread::spawn(move || {
        let mut p = TcpStream::connect(("127.0.0.1", port)).unwrap();
        p.write_all(b"CONNECT {\"verbose\":false}\r\n").unwrap();
        let mut batch = Vec::new();
        for i in 0..N {
            batch.extend_from_slice(format!("PUB load 5\r\n{:05}\r\n", i % 100_000).as_bytes());
            if batch.len() > 4096 {
                p.write_all(&batch).unwrap();
                batch.clear();
            }
        }
        batch.extend_from_slice(b"PING\r\n");
        p.write_all(&batch).unwrap();
        p.set_read_timeout(Some(DEADLINE)).unwrap();
        let mut got = Vec::new();
        let mut chunk = [0u8; 4096];
        while common::find(&got, b"PONG\r\n").is_none() {
            let n = p.read(&mut chunk).unwrap();
            assert!(n > 0, "publisher closed");
            got.extend_from_slice(&chunk[..n]);
        }
        p
    });
    for i in 0..4 {
        reload(&s, &format!("{base}ping_interval: \"{}s\"\n", 60 + i));
    }
    let _p = publisher.join().unwrap();
    // Every message reached the subscriber, in order.
    sub.sock
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let until = Instant::now() + DEADLINE;
    let mut count = 0;
    let mut buf = std::mem::take(&mut sub.buf);
    let mut chunk = [0u8; 65536];
    while count < N {
        while let Some(p) = common::find(&buf, b"MSG load 1 5\r\n") {
            let body = &buf[p + 14..];
            if body.len() < 7 {
                break;
            }
            assert_eq!(
                std::str::from_utf8(&body[..5]).unwrap(),
                format!("{:05}", count)
            );
            count += 1;
            buf.drain(..p + 21);
        }
        if count == N {
            break;
        }
        assert!(Instant::now() < until, "only {count} of {N} messages");
        match sub.sock.read(&mut chunk) {
            Ok(0) => panic!("subscriber closed after {count}"),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if is_timeout(&e) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(count, N);
}

type Tls = StreamOwned<ClientConnection, TcpStream>;

fn handshake(sock: TcpStream, cfg: Arc<ClientConfig>) -> std::io::Result<Tls> {
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let name = ServerName::try_from("127.0.0.1").unwrap().to_owned();
    let mut s = StreamOwned::new(ClientConnection::new(cfg, name).unwrap(), sock);
    let until = Instant::now() + DEADLINE;
    while s.conn.is_handshaking() {
        match s.conn.complete_io(&mut s.sock) {
            Ok(_) => {}
            Err(e) if is_timeout(&e) && Instant::now() < until => {}
            Err(e) => return Err(e),
        }
    }
    Ok(s)
}

/// A TLS handshake on the client port (plaintext INFO first).
fn client_tls(port: u16, cfg: Arc<ClientConfig>) -> std::io::Result<Tls> {
    let mut r = Raw::connect(port);
    r.expect("\r\n");
    handshake(r.sock, cfg)
}

fn tls_read_until(t: &mut Tls, needle: &str) -> String {
    let until = Instant::now() + DEADLINE;
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    while common::find(&got, needle.as_bytes()).is_none() {
        assert!(
            Instant::now() < until,
            "no {needle:?}: {:?}",
            String::from_utf8_lossy(&got)
        );
        match t.read(&mut chunk) {
            Ok(0) => panic!("closed waiting for {needle:?}"),
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e) if is_timeout(&e) => {}
            Err(e) => panic!("{e}"),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[test]
fn rotated_certificate_serves_new_handshakes_on_every_listener() {
    let (old, new) = (Pki::new(), Pki::new());
    let block = old.block("");
    let conf = format!(
        "listen: 127.0.0.1:-1\nhttps: 127.0.0.1:-1\ntls {{\n  {block}\n}}\n\
         websocket {{\n  listen: 127.0.0.1:-1\n  tls {{\n  {block}\n  }}\n}}\n"
    );
    let s = Server::start(&conf);
    let ws = s.ws_port.unwrap();
    let https = s.https_port.unwrap();
    let mut open = client_tls(s.client_port, old.client_config(None)).unwrap();
    open.write_all(b"CONNECT {\"verbose\":false}\r\nPING\r\n")
        .unwrap();
    tls_read_until(&mut open, "PONG\r\n");
    // The certificate and key are replaced at the same paths.
    for f in ["server-cert.pem", "server-key.pem"] {
        std::fs::copy(new.path(f), old.path(f)).unwrap();
    }
    s.hangup();
    s.expect_log("Reloaded: tls = enabled");
    s.expect_log("Reloaded server configuration");
    let client = |p: u16, cfg| client_tls(p, cfg);
    let direct = |p: u16, cfg| handshake(TcpStream::connect(("127.0.0.1", p)).unwrap(), cfg);
    for (what, hs) in [
        (
            "client",
            &client as &dyn Fn(u16, Arc<ClientConfig>) -> std::io::Result<Tls>,
        ),
        ("websocket", &direct),
        ("https", &direct),
    ] {
        let port = match what {
            "client" => s.client_port,
            "websocket" => ws,
            _ => https,
        };
        assert!(
            hs(port, new.client_config(None)).is_ok(),
            "{what}: new cert"
        );
        assert!(
            hs(port, old.client_config(None)).is_err(),
            "{what}: old cert gone"
        );
    }
    // The connection opened before the rotation is still up.
    open.write_all(b"PING\r\n").unwrap();
    tls_read_until(&mut open, "PONG\r\n");
}

#[test]
fn websocket_listener_change_is_refused_with_the_websocket_field() {
    let conf = |port: &str| {
        format!(
            "listen: 127.0.0.1:-1\nwebsocket {{ listen: \"127.0.0.1:{port}\", no_tls: true }}\n"
        )
    };
    let s = Server::start(&conf("-1"));
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let p = free.local_addr().unwrap().port();
    drop(free);
    let line = reload_refused(&s, &conf(&p.to_string()));
    assert!(
        line.contains("Failed to reload server configuration: config reload not supported for Websocket: old="),
        "{line}"
    );
    // The old port still serves.
    let (mut c, _) = Conn::ws(s.ws_port.unwrap(), &[]);
    c.ping();
}

#[test]
fn websocket_options_reload_for_new_handshakes() {
    if is_reference() {
        return; // natsws-only: nats-server refuses any websocket change but TLS
    }
    let conf = |origins: &str| {
        format!(
            "listen: 127.0.0.1:-1\nwebsocket {{ listen: 127.0.0.1:-1, no_tls: true, \
             allowed_origins: [{origins}] }}\n"
        )
    };
    let s = Server::start(&conf("\"http://a.example\""));
    let port = s.ws_port.unwrap();
    let origin = [("Origin", "http://b.example")];
    assert!(common::WsRaw::connect_with(port, false, &origin).is_err());
    let (mut open, _) = Conn::ws(port, &[("Origin", "http://a.example")]);
    reload(&s, &conf("\"http://b.example\""));
    assert!(common::WsRaw::connect_with(port, false, &origin).is_ok());
    // Connections upgraded before stay.
    open.ping();
}

#[test]
fn sighup_without_config_file_fails_with_the_reference_text() {
    if is_reference() {
        return; // the helper always starts with -c
    }
    let mut child = Command::new(common::server_bin())
        .args(["-p", "-1", "-a", "127.0.0.1", "-m", "0"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for l in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(l);
        }
    });
    let wait = |needle: &str| loop {
        let l = rx.recv_timeout(DEADLINE).expect(needle);
        if l.contains(needle) {
            return l;
        }
    };
    wait("Server is ready");
    Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    let l = wait("Failed to reload server configuration");
    assert!(
        l.ends_with("can only reload config when a file is provided using -c or --config"),
        "{l}"
    );
    let _ = child.kill();
    let _ = child.wait();
    let _ = parse_info;
}

#[test]
fn signal_reload_with_a_pid_reloads() {
    if is_reference() {
        return; // the natsws binary sends the signal; nats-server's own -sl is its test
    }
    let base = "listen: 127.0.0.1:-1\n";
    let s = Server::start(&format!("{base}max_payload: 1024\n"));
    std::fs::write(s.conf_path(), format!("{base}max_payload: 2048\n")).unwrap();
    let st = Command::new(common::server_bin())
        .args(["--signal", &format!("reload={}", s.pid())])
        .status()
        .unwrap();
    assert!(st.success());
    s.expect_log("Reloaded: max_payload = 2048");
    assert_eq!(tcp_info(&s)["max_payload"], 2048);
}

#[test]
fn removing_the_last_user_of_no_auth_user_is_refused() {
    let conf = |extra: &str| {
        format!(
            "listen: 127.0.0.1:-1\n{extra}authorization {{ users = [ {{ user: a, password: pw }} ] }}\n"
        )
    };
    let s = Server::start(&conf("no_auth_user: a\n"));
    // Dropping no_auth_user while its user still exists is refused.
    let line = reload_refused(&s, &conf(""));
    assert!(
        line.ends_with("config reload not supported for NoAuthUser: old=a, new="),
        "{line}"
    );
    // A client without credentials is still bound to `a`.
    let mut c = Raw::connect(s.client_port);
    c.expect("\r\n");
    c.send(b"CONNECT {\"verbose\":false}\r\nPING\r\n");
    c.expect("PONG\r\n");
}

#[test]
fn lowered_max_connections_closes_the_surplus() {
    let base = "listen: 127.0.0.1:-1\n";
    let s = Server::start(base);
    let mut conns: Vec<Raw> = (0..3).map(|_| connect(&s, "")).collect();
    std::fs::write(s.conf_path(), format!("{base}max_connections: 1\n")).unwrap();
    s.hangup();
    s.expect_log("Closed 2 connections to fall within max_connections");
    s.expect_log("Reloaded: max_connections = 1");
    // Read every connection until two have ended.
    let until = Instant::now() + DEADLINE;
    let mut ended = [false; 3];
    while ended.iter().filter(|e| **e).count() < 2 {
        assert!(Instant::now() < until, "ended: {ended:?}");
        for (c, e) in conns.iter_mut().zip(ended.iter_mut()) {
            if *e {
                continue;
            }
            let mut chunk = [0u8; 1024];
            match c.sock.read(&mut chunk) {
                Ok(0) => *e = true,
                Ok(n) => c.buf.extend_from_slice(&chunk[..n]),
                Err(err) if is_timeout(&err) => {}
                Err(_) => *e = true,
            }
        }
    }
    for (c, e) in conns.iter_mut().zip(ended) {
        let got = String::from_utf8_lossy(&c.buf).into_owned();
        if e {
            assert!(
                got.contains("-ERR 'maximum connections exceeded'\r\n"),
                "{got}"
            );
        } else {
            c.send(b"PING\r\n");
            c.expect("PONG\r\n");
        }
    }
}

#[test]
fn changed_pinned_certs_close_clients_no_longer_pinned() {
    if is_reference() {
        // nats-server 2.15.1 re-checks open clients against the old set
        // (recheckPinnedCerts), so it never closes them (docs/compat.md).
        return;
    }
    let pki = Pki::new();
    let key = natsws_server::tls::spki_sha256(&pki.client_chain[0]).unwrap();
    let other = "0".repeat(64);
    let conf = |pinned: &str| {
        format!(
            "listen: 127.0.0.1:-1\ndebug: true\ntls {{\n  {}\n}}\n",
            pki.block(&format!("verify: true\n  pinned_certs: [{pinned}]"))
        )
    };
    let s = Server::start(&conf(&format!("\"{key}\"")));
    let mut t = client_tls(s.client_port, pki.client_config(Some(true))).unwrap();
    t.write_all(b"CONNECT {\"verbose\":false}\r\nPING\r\n")
        .unwrap();
    tls_read_until(&mut t, "PONG\r\n");
    // Still pinned: kept.
    reload(&s, &conf(&format!("\"{key}\", \"{other}\"")));
    t.write_all(b"PING\r\n").unwrap();
    tls_read_until(&mut t, "PONG\r\n");
    // No longer pinned: closed.
    std::fs::write(s.conf_path(), conf(&format!("\"{other}\""))).unwrap();
    s.hangup();
    s.expect_log("Disconnect 1 clients due to pinned certs reload");
    let until = Instant::now() + DEADLINE;
    let mut chunk = [0u8; 1024];
    loop {
        assert!(Instant::now() < until, "still open");
        match t.read(&mut chunk) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if is_timeout(&e) => {}
            Err(_) => break,
        }
    }
    // A new handshake with that certificate is refused as at start.
    let mut t = client_tls(s.client_port, pki.client_config(Some(true))).unwrap();
    let _ = t.write_all(b"CONNECT {}\r\nPING\r\n");
    s.expect_log(&format!("Failed pinned cert test for key id: {key}"));
}

#[test]
fn debug_turned_on_by_reload_logs_debug_lines() {
    let base = "listen: 127.0.0.1:-1\n";
    let s = Server::start(base);
    assert!(!s.startup_log.iter().any(|l| l.contains("[DBG]")));
    reload(&s, &format!("{base}debug: true\n"));
    let mut c = connect(&s, "");
    c.send(b"XYZ\r\n");
    c.read_to_close();
    s.expect_log("[DBG]");
}

#[test]
fn no_auth_user_dropped_with_its_user_revokes_its_connections() {
    let conf = |extra: &str, users: &str| {
        format!("listen: 127.0.0.1:-1\n{extra}authorization {{ users = [ {users} ] }}\n")
    };
    let s = Server::start(&conf(
        "no_auth_user: a\n",
        "{ user: a, password: pw }, { user: b, password: pw }",
    ));
    let mut anon = connect(&s, "");
    let mut b = connect(&s, &user("b"));
    reload(&s, &conf("", "{ user: b, password: pw }"));
    // Bound to `a`, which is gone: closed as a removed user, no -ERR.
    let got = anon.read_to_close();
    assert!(!got.contains("-ERR"), "{got}");
    b.send(b"PING\r\n");
    b.expect("PONG\r\n");
}

#[test]
fn tls_enabled_by_reload_applies_to_new_connections_only() {
    let pki = Pki::new();
    let base = "listen: 127.0.0.1:-1\n";
    let s = Server::start(base);
    let mut plain = connect(&s, "");
    assert!(tcp_info(&s).get("tls_required").is_none_or(|v| v == false));
    std::fs::write(
        s.conf_path(),
        format!("{base}tls {{\n  {}\n}}\n", pki.block("")),
    )
    .unwrap();
    s.hangup();
    s.expect_log("Reloaded: tls = enabled");
    s.expect_log("Reloaded server configuration");
    assert_eq!(tcp_info(&s)["tls_required"], true);
    let mut t = client_tls(s.client_port, pki.client_config(None)).unwrap();
    t.write_all(b"CONNECT {\"verbose\":false}\r\nPING\r\n")
        .unwrap();
    tls_read_until(&mut t, "PONG\r\n");
    plain.send(b"PING\r\n");
    plain.expect("PONG\r\n");
}

/// Waits until the file at `path` holds `needle` (the server writes a file,
/// not a pipe: the test reads it again every 10 ms; only its content
/// decides).
fn wait_for_file_line(path: &std::path::Path, needle: &str) -> String {
    let until = Instant::now() + DEADLINE;
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.contains(needle) {
            return text;
        }
        assert!(
            Instant::now() < until,
            "{} never got {needle:?}:\n{text}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn log_file_set_by_reload_takes_the_following_lines() {
    let dir = common::TempDir::new();
    let log = dir.0.join("reloaded.log");
    let base = "listen: 127.0.0.1:-1\n";
    let s = Server::start(base);
    std::fs::write(
        s.conf_path(),
        format!("{base}log_file: {:?}\n", log.display().to_string()),
    )
    .unwrap();
    s.hangup();
    s.expect_log(&format!("Reloaded: log_file = {}", log.display()));
    let text = wait_for_file_line(&log, "Reloaded server configuration");
    assert!(!text.contains("Server is ready"), "{text}");
    // And back to stderr.
    std::fs::write(s.conf_path(), base).unwrap();
    s.hangup();
    s.expect_log("Reloaded server configuration");
}

#[test]
fn each_changed_option_logs_the_reference_line() {
    let base = "listen: 127.0.0.1:-1\n";
    let auth = |t: &str| {
        format!("authorization {{ timeout: {t}, users = [ {{ user: a, password: pw }} ] }}\n")
    };
    let s = Server::start(&format!("{base}{}", auth("2")));
    let new = format!(
        "{base}{}write_deadline: \"3s\"\nping_interval: \"30s\"\nping_max: 5\n\
         max_control_line: 2048\nclient_advertise: \"example.com:4333\"\n",
        auth("1")
    );
    std::fs::write(s.conf_path(), new).unwrap();
    s.hangup();
    // In nats-server's order (its Options field order).
    for line in [
        "Reload: client_advertise = example.com:4333",
        "Reloaded: authorization users",
        "Reloaded: accounts",
        "Reloaded: ping_interval = 30s",
        "Reloaded: ping_max = 5",
        "Reloaded: authorization timeout = 1",
        "Reloaded: max_control_line = 2048",
        "Reloaded: write_deadline = 3s",
        "Reloaded server configuration",
    ] {
        s.expect_log(line);
    }
    let info = tcp_info(&s);
    assert_eq!(info["host"], "example.com");
    assert_eq!(info["port"], 4333);
}

#[test]
fn single_user_client_survives_a_reload_that_keeps_its_credentials() {
    if is_reference() {
        // nats-server 2.15.1 closes it on every reload: the single user is
        // not in its users map, so the client counts as moved
        // (docs/compat.md; operations spec §8 item 6).
        return;
    }
    let conf = "listen: 127.0.0.1:-1\nauthorization { user: a, password: pw }\n";
    let s = Server::start(conf);
    let mut a = connect(&s, &user("a"));
    reload(&s, &format!("{conf}max_payload: 2048\n"));
    a.send(b"PING\r\n");
    a.expect("PONG\r\n");
    // A changed password still revokes it.
    reload(
        &s,
        "listen: 127.0.0.1:-1\nauthorization { user: a, password: other }\n",
    );
    let got = a.read_to_close();
    assert!(got.contains("-ERR 'Authorization Violation'"), "{got}");
}

#[test]
fn jwt_client_survives_an_unrelated_reload() {
    use common::jwt;
    use nkeys::KeyPair;
    // nats-server issue #8606 (fixed in 2.14.2): nkey/JWT clients were
    // closed by every reload.
    let (op, acc) = (KeyPair::new_operator(), KeyPair::new_account());
    // Minted once: a JWT minted again differs (iat, jti).
    let (op_jwt, acc_jwt) = (jwt::operator(&op, None), jwt::account(&op, &acc, "A", &[]));
    let conf = |extra: &str| {
        format!(
            "listen: \"127.0.0.1:-1\"\noperator: \"{op_jwt}\"\nresolver: MEMORY\n\
             resolver_preload: {{\n  {}: \"{acc_jwt}\"\n}}\n{extra}",
            acc.public_key(),
        )
    };
    let s = Server::start(&conf(""));
    let u = KeyPair::new_user();
    let ujwt = jwt::user(&acc, &u, jwt::User::default());
    let (mut c, info) = Conn::tcp(s.client_port);
    let sig = jwt::sign_nonce(&u, info["nonce"].as_str().unwrap());
    c.send(
        format!("CONNECT {{\"verbose\":false,\"jwt\":\"{ujwt}\",\"sig\":\"{sig}\"}}\r\nPING\r\n")
            .as_bytes(),
    );
    c.expect("PONG\r\n");
    reload(&s, &conf("max_payload: 2048\n"));
    c.ping();
    assert_eq!(tcp_info(&s)["max_payload"], 2048);
}

#[test]
fn missing_certificate_refuses_the_reload_and_keeps_the_old_one() {
    let pki = Pki::new();
    let conf =
        |block: &str| format!("listen: 127.0.0.1:-1\nmax_payload: 1024\ntls {{\n  {block}\n}}\n");
    let s = Server::start(&conf(&pki.block("")));
    let missing = pki.path("missing.pem").display().to_string();
    let broken = format!(
        "cert_file: \"{missing}\"\n  key_file: \"{}\"\n",
        pki.path("server-key.pem").display()
    );
    let line = reload_refused(
        &s,
        &conf(&broken).replace("max_payload: 1024", "max_payload: 2048"),
    );
    assert!(line.contains("missing.pem"), "{line}");
    // The old certificate and settings still serve new connections.
    let mut t = client_tls(s.client_port, pki.client_config(None)).unwrap();
    t.write_all(b"CONNECT {\"verbose\":false}\r\nPING\r\n")
        .unwrap();
    tls_read_until(&mut t, "PONG\r\n");
    assert_eq!(tcp_info(&s)["max_payload"], 1024);
}

#[test]
fn stream_import_added_by_reload_reaches_an_open_subscription() {
    let conf = |imports: &str| {
        format!(
            "listen: 127.0.0.1:-1\naccounts {{\n  A: {{ users: [{{ user: a, password: pw }}], \
             exports: [{{ stream: \"events.>\" }}] }}\n  B: {{ users: [{{ user: b, password: pw }}]{imports} }}\n}}\n"
        )
    };
    let with = ", imports: [{ stream: { account: A, subject: \"events.>\" } }]";
    let s = Server::start(&conf(""));
    let mut a = connect(&s, &user("a"));
    let mut b = connect(&s, &user("b"));
    b.send(b"SUB events.> 1\r\nPING\r\n");
    b.expect("PONG\r\n");
    let publish = |a: &mut Raw, n: u8| {
        a.send(format!("PUB events.{n} 1\r\n{n}\r\nPING\r\n").as_bytes());
        a.expect("PONG\r\n");
    };
    publish(&mut a, 1);
    reload(&s, &conf(with));
    publish(&mut a, 2);
    // And gone again after the next reload.
    reload(&s, &conf(""));
    publish(&mut a, 3);
    b.send(b"PING\r\n");
    let got = b.expect("PONG\r\n");
    assert_eq!(got, "MSG events.2 1 1\r\n2\r\nPONG\r\n");
}

#[test]
fn leafnode_listener_change_is_refused_with_the_leafnode_field() {
    let conf = |leaf: &str| {
        format!("listen: 127.0.0.1:-1\nmax_payload: 1024\nleafnodes {{ listen: \"127.0.0.1:{leaf}\" }}\n")
    };
    let s = Server::start(&conf("-1"));
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let p = free.local_addr().unwrap().port();
    drop(free);
    let line = reload_refused(&s, &conf(&p.to_string()).replace("1024", "2048"));
    assert!(
        line.contains(
            "Failed to reload server configuration: config reload not supported for LeafNode: field \"Port\": old="
        ),
        "{line}"
    );
    assert!(line.ends_with(&format!("new={p}")), "{line}");
    assert_eq!(tcp_info(&s)["max_payload"], 1024);
}
