//! TLS on the client port, the websocket listener (wss) and the https
//! monitor: the real `natsws` binary with certificates made by rcgen in a
//! temporary directory, spoken to with raw rustls clients and async-nats.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::pki::Pki;
use common::{find, Server, TempDir, DEADLINE};
use rcgen::{CertificateParams, DnType, KeyPair, SanType};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};

type Tls = StreamOwned<ClientConnection, TcpStream>;

fn tcp(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    s
}

/// Starts TLS on `sock` and completes the handshake.
fn start_tls(sock: TcpStream, cfg: Arc<ClientConfig>) -> std::io::Result<Tls> {
    let name = ServerName::try_from("127.0.0.1").unwrap().to_owned();
    let conn = ClientConnection::new(cfg, name).unwrap();
    let mut s = StreamOwned::new(conn, sock);
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

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// Reads from `r` into `buf` until it contains `needle`; returns and
/// drains everything through it.
fn expect(r: &mut impl Read, buf: &mut Vec<u8>, needle: &str) -> String {
    let until = Instant::now() + DEADLINE;
    loop {
        if let Some(p) = find(buf, needle.as_bytes()) {
            let end = p + needle.len();
            let s = String::from_utf8_lossy(&buf[..end]).into_owned();
            buf.drain(..end);
            return s;
        }
        assert!(
            Instant::now() < until,
            "timed out waiting for {needle:?}; have {:?}",
            String::from_utf8_lossy(buf)
        );
        let mut chunk = [0u8; 16384];
        match r.read(&mut chunk) {
            Ok(0) => panic!("closed waiting for {needle:?}"),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if is_timeout(&e) => {}
            Err(e) => panic!("read error {e} waiting for {needle:?}"),
        }
    }
}

/// Reads until EOF or an error; returns the bytes and the error, if any.
fn read_to_end(r: &mut impl Read) -> (Vec<u8>, Option<std::io::Error>) {
    let until = Instant::now() + DEADLINE;
    let mut out = Vec::new();
    loop {
        assert!(Instant::now() < until, "peer did not close");
        let mut chunk = [0u8; 4096];
        match r.read(&mut chunk) {
            Ok(0) => return (out, None),
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) if is_timeout(&e) => {}
            Err(e) => return (out, Some(e)),
        }
    }
}

fn info_json(line: &str) -> serde_json::Value {
    let json = line
        .strip_prefix("INFO ")
        .and_then(|s| s.strip_suffix(" \r\n"))
        .expect("INFO <json> \\r\\n");
    serde_json::from_str(json).expect("INFO json")
}

fn client_conf(pki: &Pki, extra: &str) -> String {
    format!(
        "host: 127.0.0.1\nport: -1\ndebug: true\ntls {{\n  {}\n}}\n",
        pki.block(extra)
    )
}

/// Connects to a TLS client port: plaintext INFO, then TLS.
fn connect_tls(s: &Server, cfg: Arc<ClientConfig>) -> (serde_json::Value, Tls) {
    let mut sock = tcp(s.client_port);
    let mut buf = Vec::new();
    let info = info_json(&expect(&mut sock, &mut buf, " \r\n"));
    assert!(buf.is_empty(), "nothing but INFO before TLS");
    (info, start_tls(sock, cfg).expect("TLS handshake"))
}

#[test]
fn client_port_info_in_plaintext_then_nats_over_tls() {
    let pki = Pki::new();
    let s = Server::start(&client_conf(&pki, ""));
    let (info, mut t) = connect_tls(&s, pki.client_config(None));
    assert_eq!(info["tls_required"], true);
    assert!(info.get("tls_verify").is_none());
    assert!(info.get("tls_available").is_none());
    t.write_all(b"CONNECT {\"verbose\":false,\"tls_required\":true}\r\nSUB foo 1\r\nPUB foo 5\r\nhello\r\nPING\r\n")
        .unwrap();
    let mut buf = Vec::new();
    assert_eq!(
        expect(&mut t, &mut buf, "PONG\r\n"),
        "MSG foo 1 5\r\nhello\r\nPONG\r\n"
    );
    s.expect_log("TLS handshake complete");
}

#[test]
fn client_port_logs_tls_required() {
    let pki = Pki::new();
    let dir = TempDir::new();
    let conf = dir.0.join("c.conf");
    std::fs::write(&conf, client_conf(&pki, "")).unwrap();
    let log = run_until_ready(&conf);
    let listen = log
        .find("Listening for client connections on 127.0.0.1:")
        .unwrap();
    let tls = log
        .find("[INF] TLS required for client connections")
        .unwrap();
    let ready = log.find("Server is ready").unwrap();
    assert!(listen < tls && tls < ready, "{log}");
}

#[test]
fn handshake_first_sends_info_over_tls() {
    let pki = Pki::new();
    let s = Server::start(&client_conf(&pki, "handshake_first: true"));
    let mut t = start_tls(tcp(s.client_port), pki.client_config(None)).unwrap();
    let mut buf = Vec::new();
    let info = info_json(&expect(&mut t, &mut buf, " \r\n"));
    assert_eq!(info["tls_required"], true);
    t.write_all(b"CONNECT {}\r\nPING\r\n").unwrap();
    assert!(expect(&mut t, &mut buf, "PONG\r\n").ends_with("PONG\r\n"));
}

#[test]
fn verify_accepts_trusted_client_cert_and_refuses_others() {
    let pki = Pki::new();
    let s = Server::start(&client_conf(&pki, "verify: true"));
    let (info, mut t) = connect_tls(&s, pki.client_config(Some(true)));
    assert_eq!(info["tls_verify"], true);
    t.write_all(b"CONNECT {}\r\nPING\r\n").unwrap();
    let mut buf = Vec::new();
    expect(&mut t, &mut buf, "PONG\r\n");

    // No certificate: the handshake fails, the server says why.
    let mut sock = tcp(s.client_port);
    expect(&mut sock, &mut Vec::new(), " \r\n");
    let res = start_tls(sock, pki.client_config(None)).and_then(|mut t| {
        // TLS 1.3: the client learns of the refusal at its first read.
        t.write_all(b"CONNECT {}\r\nPING\r\n")?;
        let (_, e) = read_to_end(&mut t);
        e.map_or(Ok(()), Err)
    });
    assert!(res.is_err(), "handshake without a certificate must fail");
    s.expect_log("TLS handshake error: tls: client didn't provide a certificate");

    // A certificate from an unknown CA.
    let mut sock = tcp(s.client_port);
    expect(&mut sock, &mut Vec::new(), " \r\n");
    let res = start_tls(sock, pki.client_config(Some(false))).and_then(|mut t| {
        t.write_all(b"CONNECT {}\r\nPING\r\n")?;
        let (_, e) = read_to_end(&mut t);
        e.map_or(Ok(()), Err)
    });
    assert!(res.is_err(), "untrusted certificate must fail");
    s.expect_log("x509: certificate signed by unknown authority");
}

#[test]
fn plaintext_client_on_tls_port_is_refused() {
    let pki = Pki::new();
    let s = Server::start(&client_conf(&pki, ""));
    let mut sock = tcp(s.client_port);
    expect(&mut sock, &mut Vec::new(), " \r\n");
    sock.write_all(b"CONNECT {}\r\nPING\r\n").unwrap();
    let (got, _) = read_to_end(&mut sock);
    assert!(find(&got, b"PONG").is_none());
    s.expect_log("TLS handshake error: tls: first record does not look like a TLS handshake");
}

#[test]
fn tls_handshake_timeout_closes_with_err() {
    let pki = Pki::new();
    let s = Server::start(&client_conf(&pki, "timeout: 0.2"));
    let mut sock = tcp(s.client_port);
    expect(&mut sock, &mut Vec::new(), " \r\n");
    // Never start TLS: the server gives up. nats-server writes its -ERR
    // through the unfinished TLS session, so nothing arrives; natsws sends
    // it in plaintext to a peer that sent nothing (docs/compat.md).
    let (got, _) = read_to_end(&mut sock);
    let want = if common::is_reference() {
        ""
    } else {
        "-ERR 'Secure Connection - TLS Required'\r\n"
    };
    assert_eq!(String::from_utf8_lossy(&got), want);
    let line = s.expect_log("TLS handshake error: read tcp 127.0.0.1:");
    assert!(line.ends_with(": i/o timeout"), "{line}");
    s.expect_log("Client connection closed: TLS Handshake Failure");
}

#[tokio::test]
async fn async_nats_over_tls_and_tls_first() {
    let pki = Pki::new();
    for (extra, first) in [("", false), ("handshake_first: true", true)] {
        let s = Server::start(&client_conf(&pki, extra));
        let mut o = async_nats::ConnectOptions::new()
            .add_root_certificates(pki.path("ca.pem"))
            .require_tls(true);
        if first {
            o = o.tls_first();
        }
        let c = o
            .connect(format!("tls://127.0.0.1:{}", s.client_port))
            .await
            .expect("connect over TLS");
        let mut sub = c.subscribe("tls.x").await.unwrap();
        c.publish("tls.x", "secure".into()).await.unwrap();
        c.flush().await.unwrap();
        use futures_util::StreamExt;
        let m = tokio::time::timeout(Duration::from_secs(5), sub.next())
            .await
            .expect("message in time")
            .unwrap();
        assert_eq!(&m.payload[..], b"secure");
    }
}

#[tokio::test]
async fn async_nats_with_client_certificate() {
    let pki = Pki::new();
    let s = Server::start(&client_conf(&pki, "verify: true"));
    let c = async_nats::ConnectOptions::new()
        .add_root_certificates(pki.path("ca.pem"))
        .add_client_certificate(pki.path("client-cert.pem"), pki.path("client-key.pem"))
        .require_tls(true)
        .connect(format!("tls://127.0.0.1:{}", s.client_port))
        .await
        .expect("connect with a client certificate");
    c.flush().await.unwrap();
}

fn ws_conf(pki: &Pki, tls_extra: &str, ws_extra: &str) -> String {
    format!(
        "host: 127.0.0.1\nport: -1\nwebsocket {{\n  host: 127.0.0.1\n  port: -1\n  {ws_extra}\n  tls {{\n  {}\n  }}\n}}\n",
        pki.block(tls_extra)
    )
}

/// Upgrades over `t`; returns the response head and what followed it.
fn ws_upgrade(t: &mut impl ReadWrite, port: u16) -> (String, Vec<u8>) {
    use natsws_core::ws::handshake::{write_client_request, ClientRequest};
    let host = format!("127.0.0.1:{port}");
    let mut req = Vec::new();
    write_client_request(
        &ClientRequest {
            host: &host,
            path: "/",
            key: *b"0123456789abcdef",
            compression: false,
            no_masking: false,
            headers: &[],
        },
        &mut req,
    );
    t.write_all(&req).unwrap();
    let mut buf = Vec::new();
    let head = expect(t, &mut buf, "\r\n\r\n");
    (head, buf)
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// A minimal client side of WebSocket framing over any stream.
struct WsOver<S: Read + Write> {
    s: S,
    raw: Vec<u8>,
    nats: Vec<u8>,
    dec: natsws_core::ws::Decoder,
}

impl<S: Read + Write> WsOver<S> {
    fn new(s: S, rest: Vec<u8>) -> Self {
        WsOver {
            s,
            raw: rest,
            nats: Vec::new(),
            dec: natsws_core::ws::Decoder::new(natsws_core::ws::DecoderConfig::client()),
        }
    }

    fn send(&mut self, nats: &[u8]) {
        let mut out = Vec::new();
        natsws_core::ws::codec::write_frame(
            &mut out,
            natsws_core::ws::OpCode::BINARY,
            true,
            false,
            nats,
            Some([9, 8, 7, 6]),
        )
        .unwrap();
        self.s.write_all(&out).unwrap();
    }

    fn expect(&mut self, needle: &str) -> String {
        let until = Instant::now() + DEADLINE;
        loop {
            let mut used_total = 0;
            loop {
                let (used, ev) = self.dec.decode(&mut self.raw[used_total..]).unwrap();
                if let Some(natsws_core::ws::Event::Data { payload, .. }) = ev {
                    self.nats.extend_from_slice(payload);
                } else if ev.is_none() {
                    used_total += used;
                    break;
                }
                used_total += used;
            }
            self.raw.drain(..used_total);
            if let Some(p) = find(&self.nats, needle.as_bytes()) {
                let end = p + needle.len();
                let s = String::from_utf8_lossy(&self.nats[..end]).into_owned();
                self.nats.drain(..end);
                return s;
            }
            assert!(Instant::now() < until, "timed out waiting for {needle:?}");
            let mut chunk = [0u8; 16384];
            match self.s.read(&mut chunk) {
                Ok(0) => panic!("closed waiting for {needle:?}"),
                Ok(n) => self.raw.extend_from_slice(&chunk[..n]),
                Err(e) if is_timeout(&e) => {}
                Err(e) => panic!("read error {e}"),
            }
        }
    }
}

#[test]
fn wss_upgrade_and_pub_sub_through_tls() {
    let pki = Pki::new();
    let s = Server::start(&ws_conf(&pki, "", ""));
    let port = s.ws_port.expect("ws port");
    let mut t = start_tls(tcp(port), pki.client_config(None)).unwrap();
    let (head, rest) = ws_upgrade(&mut t, port);
    assert!(
        head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{head}"
    );
    let mut ws = WsOver::new(t, rest);
    let info = info_json(&ws.expect(" \r\n"));
    assert_eq!(info["tls_required"], true);
    assert_eq!(info["tls_available"], true);
    assert_eq!(info["port"], port);
    ws.send(b"CONNECT {\"verbose\":false}\r\nSUB a 1\r\nPUB a 2\r\nhi\r\nPING\r\n");
    assert_eq!(ws.expect("PONG\r\n"), "MSG a 1 2\r\nhi\r\nPONG\r\n");
}

#[test]
fn wss_startup_line_and_no_plaintext_warning() {
    let pki = Pki::new();
    let dir = TempDir::new();
    let conf = dir.0.join("c.conf");
    std::fs::write(&conf, ws_conf(&pki, "", "no_tls: true")).unwrap();
    let out = run_until_ready(&conf);
    assert!(
        out.contains("Listening for websocket clients on wss://127.0.0.1:"),
        "{out}"
    );
    assert!(!out.contains("Websocket not configured with TLS"), "{out}");
}

/// Runs natsws until `Server is ready` (or exit); returns its log.
fn run_until_ready(conf: &std::path::Path) -> String {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_natsws"))
        .arg("-c")
        .arg(conf)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = child.stderr.take().unwrap();
    let mut log = Vec::new();
    let until = Instant::now() + DEADLINE;
    while find(&log, b"Server is ready").is_none() && Instant::now() < until {
        let mut chunk = [0u8; 4096];
        match err.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => log.extend_from_slice(&chunk[..n]),
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    String::from_utf8_lossy(&log).into_owned()
}

#[test]
fn plaintext_http_on_wss_port_gets_go_400() {
    // websocket spec §2.1, TestWSTLSConnection: Go net/http's exact answer.
    let pki = Pki::new();
    let s = Server::start(&ws_conf(&pki, "", ""));
    let mut sock = tcp(s.ws_port.unwrap());
    sock.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let (got, _) = read_to_end(&mut sock);
    assert_eq!(
        String::from_utf8_lossy(&got),
        "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"
    );
    let line = s.expect_log("websocket: TLS handshake error from 127.0.0.1:");
    assert!(
        line.ends_with(": client sent an HTTP request to an HTTPS server"),
        "{line}"
    );
}

#[test]
fn wss_verify_client_cert() {
    // TestWSTLSVerifyClientCert.
    let pki = Pki::new();
    let s = Server::start(&ws_conf(&pki, "verify: true", ""));
    let port = s.ws_port.unwrap();
    let mut t = start_tls(tcp(port), pki.client_config(Some(true))).unwrap();
    let (head, _) = ws_upgrade(&mut t, port);
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");

    let res = start_tls(tcp(port), pki.client_config(None)).and_then(|mut t| {
        t.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")?;
        let (_, e) = read_to_end(&mut t);
        e.map_or(Ok(()), Err)
    });
    assert!(res.is_err(), "no certificate: TLS error");
    s.expect_log("websocket: TLS handshake error from");
}

#[test]
fn wss_handshake_timeout_logs_and_closes() {
    // TestWSHandshakeTimeout: the handshake_timeout bounds the TLS handshake.
    let pki = Pki::new();
    let s = Server::start(&ws_conf(&pki, "", "handshake_timeout: \"100ms\""));
    let mut sock = tcp(s.ws_port.unwrap());
    let (got, _) = read_to_end(&mut sock);
    assert!(got.is_empty());
    let line = s.expect_log("websocket: ");
    let msg = &line[line.find("websocket: ").unwrap()..];
    assert!(msg.starts_with("websocket: TLS handshake error from 127.0.0.1:"));
    assert!(msg.contains("timeout"), "{msg}");
}

#[test]
fn https_monitor_serves_varz() {
    let pki = Pki::new();
    let conf = format!(
        "host: 127.0.0.1\nport: -1\nhttps: \"127.0.0.1:-1\"\ntls {{\n  {}\n}}\n",
        pki.block("verify: true")
    );
    let s = Server::start(&conf);
    let port = s.https_port.expect("https monitor logged");
    assert!(s.http_port.is_none());
    // No client certificate needed for monitoring, as nats-server.
    let mut t = start_tls(tcp(port), pki.client_config(None)).unwrap();
    t.write_all(b"GET /varz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    let (resp, _) = read_to_end(&mut t);
    let resp = String::from_utf8_lossy(&resp);
    assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"), "{resp}");
    let body = resp.split_once("\r\n\r\n").unwrap().1;
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    // nats-server reports the configured port (-1 here); natsws the bound
    // one (docs/compat.md).
    let want = if common::is_reference() {
        serde_json::json!(-1)
    } else {
        serde_json::json!(port)
    };
    assert_eq!(v["https_port"], want);
    assert_eq!(v["http_port"], 0);

    let mut plain = tcp(port);
    plain
        .write_all(b"GET /varz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let (got, _) = read_to_end(&mut plain);
    assert_eq!(
        String::from_utf8_lossy(&got),
        "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"
    );
}

fn start_fails(conf: &str) -> String {
    let dir = TempDir::new();
    let p = dir.0.join("c.conf");
    std::fs::write(&p, conf).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_natsws"))
        .arg("-c")
        .arg(&p)
        .output()
        .unwrap();
    assert!(!out.status.success(), "natsws must refuse to start");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn bad_certificate_files_fail_startup() {
    let pki = Pki::new();
    let err = start_fails(
        "port: -1\ntls {\n  cert_file: \"/nonexistent/cert.pem\"\n  key_file: \"/nonexistent/key.pem\"\n}\n",
    );
    assert!(
        err.contains(":2:1: error parsing X509 certificate/key pair: open /nonexistent/cert.pem: no such file or directory"),
        "{err}"
    );
    // A key that is not PEM.
    let err = start_fails(&format!(
        "port: -1\ntls {{\n  cert_file: \"{}\"\n  key_file: \"{}\"\n}}\n",
        pki.path("server-cert.pem").display(),
        pki.path("ca.pem").display()
    ));
    assert!(
        err.contains("error parsing X509 certificate/key pair: tls: failed to find any PEM data in key input"),
        "{err}"
    );
    // A key of another certificate.
    let err = start_fails(&format!(
        "port: -1\ntls {{\n  cert_file: \"{}\"\n  key_file: \"{}\"\n}}\n",
        pki.path("server-cert.pem").display(),
        pki.path("client-key.pem").display()
    ));
    assert!(
        err.contains("tls: private key does not match public key"),
        "{err}"
    );
    // https without tls.
    let err = start_fails("port: -1\nhttps_port: -1\n");
    assert!(err.contains("TLS cert and key required for HTTPS"), "{err}");
}

#[test]
fn peer_identity_of_client_certificate() {
    // What verify_and_map authentication gets (Go's pkix.Name.String()).
    let pki = Pki::new();
    let id = natsws_server::tls::peer_identity(&pki.client_chain[0]).unwrap();
    assert_eq!(id.subject_dn, "CN=alice,OU=NATS.io,O=Synadia");
    assert_eq!(id.emails, vec!["alice@example.com".to_string()]);
    assert!(id.dns_names.is_empty());
}

#[test]
fn pinned_certs_admit_only_listed_keys() {
    let pki = Pki::new();
    let key = natsws_server::tls::spki_sha256(&pki.client_chain[0]).unwrap();
    let s = Server::start(&client_conf(
        &pki,
        &format!("verify: true\n  pinned_certs: [\"{}\"]", key.to_uppercase()),
    ));
    let (_, mut t) = connect_tls(&s, pki.client_config(Some(true)));
    t.write_all(b"CONNECT {}\r\nPING\r\n").unwrap();
    expect(&mut t, &mut Vec::new(), "PONG\r\n");

    let other = "0".repeat(64);
    let s = Server::start(&client_conf(
        &pki,
        &format!("verify: true\n  pinned_certs: [\"{other}\"]"),
    ));
    let (_, mut t) = connect_tls(&s, pki.client_config(Some(true)));
    let _ = t.write_all(b"CONNECT {}\r\nPING\r\n");
    let (got, _) = read_to_end(&mut t);
    assert!(find(&got, b"PONG").is_none());
    s.expect_log(&format!("Failed pinned cert test for key id: {key}"));
    s.expect_log("TLS handshake error: certificate not pinned");
}

#[test]
fn varz_reports_client_tls() {
    let pki = Pki::new();
    let conf = format!(
        "host: 127.0.0.1\nport: -1\nhttp: \"127.0.0.1:-1\"\ntls {{\n  {}\n}}\n",
        pki.block("verify: true\n  timeout: 3")
    );
    let s = Server::start(&conf);
    let (status, body) = s.http_get("/varz");
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["tls_required"], true);
    assert_eq!(v["tls_verify"], true);
    assert_eq!(v["tls_timeout"], 3.0);
}

#[tokio::test]
async fn large_messages_cross_tls_intact() {
    // Many TLS records each way; partial writes and reads.
    let pki = Pki::new();
    let s = Server::start(&client_conf(&pki, ""));
    let url = format!("tls://127.0.0.1:{}", s.client_port);
    let connect = || {
        async_nats::ConnectOptions::new()
            .add_root_certificates(pki.path("ca.pem"))
            .require_tls(true)
            .connect(url.clone())
    };
    let (a, b) = (connect().await.unwrap(), connect().await.unwrap());
    let mut sub = b.subscribe("big").await.unwrap();
    b.flush().await.unwrap();
    let payloads: Vec<Vec<u8>> = (0..8u8)
        .map(|i| (0..900_000u32).map(|j| (j as u8) ^ i).collect())
        .collect();
    for p in &payloads {
        a.publish("big", p.clone().into()).await.unwrap();
    }
    a.flush().await.unwrap();
    use futures_util::StreamExt;
    for p in &payloads {
        let m = tokio::time::timeout(Duration::from_secs(10), sub.next())
            .await
            .expect("message in time")
            .unwrap();
        assert!(m.payload[..] == p[..], "payload intact");
    }
}

#[test]
fn connz_shows_tls_version_and_cipher() {
    let pki = Pki::new();
    let conf = format!(
        "host: 127.0.0.1\nport: -1\nhttp: \"127.0.0.1:-1\"\ntls {{\n  {}\n}}\n",
        pki.block("")
    );
    let s = Server::start(&conf);
    let (_, mut t) = connect_tls(&s, pki.client_config(None));
    t.write_all(b"CONNECT {}\r\nPING\r\n").unwrap();
    expect(&mut t, &mut Vec::new(), "PONG\r\n");
    let (status, body) = s.http_get("/connz");
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let c = &v["connections"][0];
    assert_eq!(c["tls_version"], "1.3");
    assert!(c["tls_cipher_suite"].as_str().unwrap().starts_with("TLS_"));
}

#[test]
fn peer_identity_dn_in_go_order_with_other_attributes_last() {
    // Go's pkix.Name.String(): parsed attributes in reverse ToRDNSequence
    // order (CN, OU, O, …, C) whatever the certificate's order, then other
    // attributes as `oid=#<DER hex>` (re-encoded: UTF8String here, '@' is
    // not printable).
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(DnType::CountryName, "US");
    p.distinguished_name.push(DnType::CommonName, "bob, jr");
    p.distinguished_name.push(
        DnType::CustomDnType(vec![1, 2, 840, 113549, 1, 9, 1]),
        "x@y",
    );
    p.distinguished_name
        .push(DnType::OrganizationName, "Synadia");
    p.subject_alt_names
        .push(SanType::DnsName("bob.example".try_into().unwrap()));
    p.subject_alt_names
        .push(SanType::URI("nats://bob".try_into().unwrap()));
    let cert = p.self_signed(&key).unwrap();
    let id = natsws_server::tls::peer_identity(cert.der()).unwrap();
    assert_eq!(
        id.subject_dn,
        "CN=bob\\, jr,O=Synadia,C=US,1.2.840.113549.1.9.1=#0c03784079"
    );
    assert_eq!(id.dns_names, vec!["bob.example".to_string()]);
    assert_eq!(id.uris, vec!["nats://bob".to_string()]);
}

#[test]
fn command_line_tls_flags() {
    let pki = Pki::new();
    let (cert, key) = (pki.path("server-cert.pem"), pki.path("server-key.pem"));
    let s = Server::start_args(
        "host: 127.0.0.1\nport: -1\n",
        &[
            "--tls",
            "--tlscert",
            cert.to_str().unwrap(),
            "-tlskey",
            key.to_str().unwrap(),
        ],
    );
    let (info, mut t) = connect_tls(&s, pki.client_config(None));
    assert_eq!(info["tls_required"], true);
    t.write_all(b"CONNECT {}\r\nPING\r\n").unwrap();
    expect(&mut t, &mut Vec::new(), "PONG\r\n");

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_natsws"))
        .args(["-p", "-1", "--tls"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("TLS Server certificate must be present and valid"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn verify_and_map_binds_the_certificate_to_a_user() {
    // The client certificate: CN=alice,OU=NATS.io,O=Synadia, email SAN
    // alice@example.com. Mapping tries the SANs, then the subject DN
    // (websocket.md §5.7, nats-protocol.md §3.1 step 3).
    let pki = Pki::new();
    for (users, ok) in [
        ("{user: \"alice@example.com\"}", true),
        ("{user: \"CN=alice,OU=NATS.io,O=Synadia\"}", true),
        ("{user: \"bob\", password: \"pw\"}", false),
    ] {
        let conf = client_conf(&pki, "verify_and_map: true")
            + &format!("authorization {{ users: [ {users} ] }}\n");
        let s = Server::start(&conf);
        let (info, mut t) = connect_tls(&s, pki.client_config(Some(true)));
        assert_eq!(info["auth_required"], serde_json::json!(true), "{info}");
        t.write_all(b"CONNECT {\"verbose\":false}\r\nPING\r\n")
            .unwrap();
        if ok {
            expect(&mut t, &mut Vec::new(), "PONG\r\n");
        } else {
            expect(
                &mut t,
                &mut Vec::new(),
                "-ERR 'Authorization Violation'\r\n",
            );
        }
    }
}

/// async-nats over `wss://` (its websockets feature with rustls), trusting
/// the test CA, exchanging messages with a plain TCP client of the same
/// server; with user/password auth on both listeners.
#[tokio::test]
async fn async_nats_over_wss_meets_a_tcp_client() {
    use futures_util::StreamExt;
    let pki = Pki::new();
    let conf = ws_conf(&pki, "", "") + "authorization { user: web, password: \"s3cret\" }\n";
    let s = Server::start(&conf);
    let ws_port = s.ws_port.expect("wss port");
    let wss = async_nats::ConnectOptions::new()
        .add_root_certificates(pki.path("ca.pem"))
        .user_and_password("web".into(), "s3cret".into())
        .connect(format!("wss://localhost:{ws_port}"))
        .await
        .expect("connect over wss");
    let tcp = async_nats::ConnectOptions::new()
        .user_and_password("web".into(), "s3cret".into())
        .connect(format!("nats://127.0.0.1:{}", s.client_port))
        .await
        .expect("connect over TCP");
    // async-nats' flush() only flushes its writer (no PING round trip), so
    // ordering comes from the protocol: a connection's SUB is in place once
    // a later message of the same connection has been routed.
    let mut from_wss = tcp.subscribe("wss.up").await.unwrap();
    tcp.publish("wss.up", "probe".into()).await.unwrap();
    let probe = tokio::time::timeout(Duration::from_secs(5), from_wss.next())
        .await
        .expect("probe in time")
        .unwrap();
    assert_eq!(&probe.payload[..], b"probe");
    let mut from_tcp = wss.subscribe("wss.down").await.unwrap();
    wss.publish("wss.up", "browser-ish".into()).await.unwrap();
    let up = tokio::time::timeout(Duration::from_secs(5), from_wss.next())
        .await
        .expect("wss → tcp in time")
        .unwrap();
    assert_eq!(&up.payload[..], b"browser-ish");
    tcp.publish("wss.down", "native".into()).await.unwrap();
    let down = tokio::time::timeout(Duration::from_secs(5), from_tcp.next())
        .await
        .expect("tcp → wss in time")
        .unwrap();
    assert_eq!(&down.payload[..], b"native");
    // A wrong password is refused over wss too.
    let bad = async_nats::ConnectOptions::new()
        .add_root_certificates(pki.path("ca.pem"))
        .user_and_password("web".into(), "nope".into())
        .connect(format!("wss://localhost:{ws_port}"))
        .await;
    assert!(bad.is_err(), "wrong password must be refused");
}

/// Many fresh wss subscribers, each receiving a message published by a
/// fresh TCP client (cross-loop delivery into a TLS WebSocket connection).
#[test]
fn wss_subscribers_receive_from_tcp_publishers() {
    let pki = Pki::new();
    let s = Server::start(&ws_conf(&pki, "", ""));
    let port = s.ws_port.expect("ws port");
    for i in 0..60 {
        let mut t = start_tls(tcp(port), pki.client_config(None)).unwrap();
        let (_, rest) = ws_upgrade(&mut t, port);
        let mut ws = WsOver::new(t, rest);
        ws.expect(" \r\n");
        ws.send(format!("CONNECT {{\"verbose\":false}}\r\nSUB x.{i} 1\r\nPING\r\n").as_bytes());
        ws.expect("PONG\r\n");
        let mut p = tcp(s.client_port);
        let mut buf = Vec::new();
        expect(&mut p, &mut buf, " \r\n");
        p.write_all(
            format!("CONNECT {{\"verbose\":false}}\r\nPUB x.{i} 2\r\nhi\r\nPING\r\n").as_bytes(),
        )
        .unwrap();
        expect(&mut p, &mut buf, "PONG\r\n");
        assert_eq!(
            ws.expect("hi\r\n"),
            format!("MSG x.{i} 1 2\r\nhi\r\n"),
            "round {i}"
        );
    }
}

#[test]
fn wss_burst_of_pubs_larger_than_a_read_then_ping() {
    // ~2 MB of PUBs in 64 KiB frames written back to back: the TLS layer
    // gets far more than one socket read at a time; every message comes
    // back in order, then the PONG.
    let pki = Pki::new();
    let s = Server::start(&ws_conf(&pki, "", ""));
    let port = s.ws_port.expect("ws port");
    let mut t = start_tls(tcp(port), pki.client_config(None)).unwrap();
    let (_, rest) = ws_upgrade(&mut t, port);
    let mut ws = WsOver::new(t, rest);
    ws.expect(" \r\n");
    ws.send(b"CONNECT {\"verbose\":false}\r\nSUB a 1\r\nPING\r\n");
    ws.expect("PONG\r\n");
    let payload = |i: usize| format!("{i:08}{}", "x".repeat(120));
    let n = 14_000;
    let mut pubs = Vec::new();
    for i in 0..n {
        pubs.extend_from_slice(format!("PUB a 128\r\n{}\r\n", payload(i)).as_bytes());
    }
    pubs.extend_from_slice(b"PING\r\n");
    for chunk in pubs.chunks(64 * 1024) {
        ws.send(chunk);
    }
    // Message by message (each wait scans only what is left).
    for i in 0..n {
        let p = payload(i);
        assert_eq!(
            ws.expect(&format!("{p}\r\n")),
            format!("MSG a 1 128\r\n{p}\r\n")
        );
    }
    assert_eq!(ws.expect("PONG\r\n"), "PONG\r\n");
}
