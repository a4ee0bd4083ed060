//! Test harness: the real `natsws` binary on ephemeral loopback ports, and
//! small raw clients (TCP and WebSocket) that read with deadlines, never
//! sleeps.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub mod jwt;
pub mod leaf;
pub mod login;
pub mod mqtt;
pub mod pki;

/// The server binary under test: `NATSWS_TEST_SERVER_BIN` when set (e.g.
/// the reference nats-server, which takes the same `-c file` and logs the
/// same "Listening for …" / "Server is ready" lines), else natsws.
pub fn server_bin() -> std::path::PathBuf {
    match std::env::var_os("NATSWS_TEST_SERVER_BIN") {
        Some(p) if !p.is_empty() => p.into(),
        _ => env!("CARGO_BIN_EXE_natsws").into(),
    }
}

/// The reference nats-server 2.15.1: `NATSWS_REFERENCE_BIN`, else the
/// pip-installed binary.
pub fn reference_bin() -> std::path::PathBuf {
    match std::env::var_os("NATSWS_REFERENCE_BIN") {
        Some(p) if !p.is_empty() => p.into(),
        _ => "/root/.pyenv/versions/3.11.7/bin/nats-server".into(),
    }
}

/// True when the tests run against another binary (the reference
/// nats-server) through `NATSWS_TEST_SERVER_BIN`.
pub fn is_reference() -> bool {
    std::env::var_os("NATSWS_TEST_SERVER_BIN").is_some_and(|p| !p.is_empty())
}

/// A client port and a plaintext WebSocket port on ephemeral loopback
/// ports, everything else default.
pub const WS_CONF: &str = r#"
host: 127.0.0.1
port: -1
websocket {
  host: 127.0.0.1
  port: -1
  no_tls: true
}
"#;

/// Whether a read with a timeout only timed out (`WouldBlock` or
/// `TimedOut`, depending on the platform): read again.
pub fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// Whether a read was interrupted by a signal (`EINTR`): read again.
pub fn is_interrupted(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::Interrupted
}

/// How long any single expectation may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// What the stderr reader sends when the server's stderr ends (the process
/// exited): a start that fails returns at once instead of at the deadline.
const EOF: &str = "\u{0}natsws-test: stderr closed";

/// A running natsws process; killed on drop.
pub struct Server {
    child: Child,
    pub client_port: u16,
    pub ws_port: Option<u16>,
    /// The MQTT port (`Listening for MQTT clients on …`).
    pub mqtt_port: Option<u16>,
    pub http_port: Option<u16>,
    /// The `https_port` monitor (`Starting https monitor on …`).
    pub https_port: Option<u16>,
    /// The `leafnodes` listener (`Listening for leafnode connections on …`).
    pub leaf_port: Option<u16>,
    pub log: mpsc::Receiver<String>,
    /// The log lines written up to "Server is ready".
    pub startup_log: Vec<String>,
    _dir: TempDir,
}

/// A temporary directory removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "natsws-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }
}

static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn port_of(line: &str) -> Option<u16> {
    line.rsplit(':').next()?.trim().parse().ok()
}

impl Server {
    /// Starts natsws with `conf` (nats-server config syntax). Use `port: -1`
    /// style random ports; the bound ports are read from the startup log.
    pub fn start(conf: &str) -> Server {
        Self::start_args(conf, &[])
    }

    pub fn start_args(conf: &str, args: &[&str]) -> Server {
        Self::try_start_args(conf, args).unwrap_or_else(|out| panic!("server did not start: {out}"))
    }

    /// Starts the server; `Err` holds every line it logged when it exited
    /// (or did not become ready) instead, e.g. a startup validation error.
    pub fn try_start(conf: &str) -> Result<Server, String> {
        Self::try_start_args(conf, &[])
    }

    pub fn try_start_args(conf: &str, args: &[&str]) -> Result<Server, String> {
        Self::try_start_bin(&server_bin(), conf, args)
    }

    /// Starts the reference nats-server (the peer of interop tests, e.g.
    /// a leafnode hub), whatever binary is under test.
    pub fn start_reference(conf: &str) -> Server {
        Self::try_start_bin(&reference_bin(), conf, &[])
            .unwrap_or_else(|out| panic!("nats-server did not start: {out}"))
    }

    /// Starts `bin` with `conf` and `args`.
    pub fn try_start_bin(
        bin: &std::path::Path,
        conf: &str,
        args: &[&str],
    ) -> Result<Server, String> {
        Self::try_start_cmd(Command::new(bin), conf, args)
    }

    /// Starts natsws with `conf`, unable to grow any file past `bytes`
    /// (`RLIMIT_FSIZE`, with SIGXFSZ ignored): a write beyond it fails with
    /// `EFBIG`, as on a full disk (server/tests/mqtt_store_fail.rs).
    pub fn start_fsize_limited(conf: &str, bytes: u64) -> Server {
        use std::os::unix::process::CommandExt;
        let mut cmd = Command::new(server_bin());
        let set = move || {
            let lim = libc::rlimit {
                rlim_cur: bytes as libc::rlim_t,
                rlim_max: bytes as libc::rlim_t,
            };
            #[allow(unsafe_code)]
            // SAFETY: between fork and exec only async-signal-safe calls
            // (setrlimit, signal) on values owned by this closure; an
            // ignored disposition and the limit survive the exec.
            let ok = unsafe {
                libc::signal(libc::SIGXFSZ, libc::SIG_IGN) != libc::SIG_ERR
                    && libc::setrlimit(libc::RLIMIT_FSIZE, &lim) == 0
            };
            if ok {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        };
        #[allow(unsafe_code)]
        // SAFETY: `set` only makes async-signal-safe calls (see above).
        unsafe {
            cmd.pre_exec(set);
        }
        Self::try_start_cmd(cmd, conf, &[])
            .unwrap_or_else(|out| panic!("server did not start: {out}"))
    }

    /// Starts `cmd` (the server binary) with `-c conf` and `args`.
    fn try_start_cmd(mut cmd: Command, conf: &str, args: &[&str]) -> Result<Server, String> {
        let dir = TempDir::new();
        let path = dir.0.join("natsws.conf");
        std::fs::write(&path, conf).expect("write conf");
        let mut child = cmd
            .arg("-c")
            .arg(&path)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn natsws");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        let early = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if std::env::var_os("NATSWS_TEST_ECHO").is_some() {
                    eprintln!("{line}");
                }
                if tx.send(line).is_err() {
                    return;
                }
            }
            // The process ended: `early` keeps the channel open, so say it.
            let _ = tx.send(EOF.to_string());
        });
        let (mut client_port, mut ws_port, mut http_port) = (None, None, None);
        let mut https_port = None;
        let mut mqtt_port = None;
        let mut leaf_port = None;
        let until = Instant::now() + DEADLINE;
        let mut seen = Vec::new();
        loop {
            let left = until.saturating_duration_since(Instant::now());
            let line = match rx.recv_timeout(left) {
                Ok(line) if line != EOF => line,
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(seen.join("\n"));
                }
            };
            seen.push(line.clone());
            if line.contains("Listening for client connections on") {
                client_port = port_of(&line);
            } else if line.contains("Listening for websocket clients on") {
                ws_port = port_of(&line);
            } else if line.contains("Listening for MQTT clients on") {
                mqtt_port = port_of(&line);
            } else if line.contains("Starting http monitor on") {
                http_port = port_of(&line);
            } else if line.contains("Listening for leafnode connections on") {
                leaf_port = port_of(&line);
            } else if line.contains("Starting https monitor on") {
                https_port = port_of(&line);
            } else if line.contains("Server is ready") {
                break;
            }
        }
        // A leafnode link may be logged before `Server is ready` (nats-server
        // solicits its remotes first): keep those lines for `expect_log`.
        for l in &seen {
            if l.contains("Leafnode connection") || l.contains("JetStream using domains") {
                let _ = early.send(l.clone());
            }
        }
        drop(early);
        Ok(Server {
            child,
            client_port: client_port.expect("client port logged"),
            ws_port,
            mqtt_port,
            http_port,
            https_port,
            leaf_port,
            log: rx,
            startup_log: seen,
            _dir: dir,
        })
    }

    /// The config file the server was started with: a test rewrites it,
    /// then sends SIGHUP to reload it.
    pub fn conf_path(&self) -> std::path::PathBuf {
        self._dir.0.join("natsws.conf")
    }

    pub fn nats_url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.client_port)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.ws_port.expect("websocket port"))
    }

    /// Waits for a log line containing `needle`.
    pub fn expect_log(&self, needle: &str) -> String {
        let until = Instant::now() + DEADLINE;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match self.log.recv_timeout(left) {
                Ok(l) if l.contains(needle) => return l,
                Ok(l) if l == EOF => panic!("the server exited before logging {needle:?}"),
                Ok(_) => continue,
                Err(_) => panic!("no log line containing {needle:?}"),
            }
        }
    }

    /// Kills the server and returns every log line not consumed yet (the
    /// reader ends at the process's EOF).
    pub fn kill_and_drain_log(&mut self) -> Vec<String> {
        self.kill();
        let mut out = Vec::new();
        while let Ok(l) = self.log.recv_timeout(DEADLINE) {
            if l == EOF {
                break;
            }
            out.push(l);
        }
        out
    }

    /// GET a monitoring path; returns (status, body).
    pub fn http_get(&self, path: &str) -> (u16, String) {
        let (status, _, body) = self.http_get_head(path);
        (status, body)
    }

    /// GET a monitoring path; returns (status, response head, body), the
    /// head being the status line and headers as sent.
    pub fn http_get_head(&self, path: &str) -> (u16, String, String) {
        let port = self.http_port.expect("monitoring port");
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect http");
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).expect("read http");
        let status = resp[9..12].parse().expect("status");
        let (head, body) = resp.split_once("\r\n\r\n").unwrap_or((&resp, ""));
        (status, head.to_string(), body.to_string())
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGINT-like graceful stop via the process id and waits.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGHUP (a config reload), as an operator's `kill -HUP`.
    pub fn hangup(&self) {
        let ok = std::process::Command::new("kill")
            .args(["-HUP", &self.pid().to_string()])
            .status()
            .expect("kill")
            .success();
        assert!(ok, "kill -HUP");
    }

    pub fn wait(&mut self) -> std::process::ExitStatus {
        self.child.wait().expect("wait")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A raw TCP NATS client reading with deadlines.
pub struct Raw {
    pub sock: TcpStream,
    pub buf: Vec<u8>,
}

impl Raw {
    pub fn connect(port: u16) -> Raw {
        let sock = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        Raw {
            sock,
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, b: &[u8]) {
        self.sock.write_all(b).expect("write");
    }

    /// Reads until the buffer contains `needle`; returns and drains
    /// everything up to and including it.
    pub fn expect(&mut self, needle: &str) -> String {
        let until = Instant::now() + DEADLINE;
        loop {
            if let Some(pos) = find(&self.buf, needle.as_bytes()) {
                let end = pos + needle.len();
                let s = String::from_utf8_lossy(&self.buf[..end]).into_owned();
                self.buf.drain(..end);
                return s;
            }
            assert!(
                Instant::now() < until,
                "timed out waiting for {needle:?}; have {:?}",
                String::from_utf8_lossy(&self.buf)
            );
            let mut chunk = [0u8; 65536];
            match self.sock.read(&mut chunk) {
                Ok(0) => panic!(
                    "connection closed while waiting for {needle:?}; have {:?}",
                    String::from_utf8_lossy(&self.buf)
                ),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if is_timeout(&e) || is_interrupted(&e) => {}
                Err(e) => panic!("read error {e} waiting for {needle:?}"),
            }
        }
    }

    /// Reads until the server closes the connection; returns all bytes read.
    pub fn read_to_close(&mut self) -> String {
        let until = Instant::now() + DEADLINE;
        loop {
            assert!(Instant::now() < until, "server did not close");
            let mut chunk = [0u8; 65536];
            match self.sock.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if is_timeout(&e) || is_interrupted(&e) => {}
                Err(_) => break,
            }
        }
        String::from_utf8_lossy(&std::mem::take(&mut self.buf)).into_owned()
    }
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

use natsws_core::ws::codec;
use natsws_core::ws::handshake::{write_client_request, ClientRequest, Status};
use natsws_core::ws::{Decoder, DecoderConfig, Event, OpCode};

/// One frame as the raw WebSocket client saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenFrame {
    pub fin: bool,
    pub rsv1: bool,
    pub opcode: u8,
    pub len: usize,
}

/// A raw WebSocket NATS client built on core's client-role codec.
pub struct WsRaw {
    pub sock: TcpStream,
    /// NATS bytes received (un-framed).
    pub buf: Vec<u8>,
    dec: Decoder,
    pub close: Option<(Option<u16>, String)>,
    pub pongs: Vec<Vec<u8>>,
    /// Ping frames received from the server.
    pub pings: usize,
    /// Pongs sent back ([`WsRaw::answer_pings_for`]).
    pongs_sent: usize,
    pub compression: bool,
    pending: Vec<u8>,
    compressed: Vec<u8>,
}

/// The upgrade was refused: the raw HTTP response.
#[derive(Debug)]
pub struct Refused(pub String);

impl WsRaw {
    pub fn connect(port: u16) -> WsRaw {
        Self::connect_with(port, false, &[]).expect("upgrade")
    }

    pub fn connect_with(
        port: u16,
        compression: bool,
        headers: &[(&str, &str)],
    ) -> Result<WsRaw, Refused> {
        Self::connect_after(port, compression, headers, b"")
    }

    /// As [`WsRaw::connect_with`], with `prefix` (e.g. a PROXY protocol
    /// header) written before the upgrade request.
    pub fn connect_after(
        port: u16,
        compression: bool,
        headers: &[(&str, &str)],
        prefix: &[u8],
    ) -> Result<WsRaw, Refused> {
        Self::connect_at(port, "/", compression, headers, prefix)
    }

    /// As [`WsRaw::connect_after`], upgrading on `path` (e.g. `/mqtt`).
    pub fn connect_at(
        port: u16,
        path: &str,
        compression: bool,
        headers: &[(&str, &str)],
        prefix: &[u8],
    ) -> Result<WsRaw, Refused> {
        let mut sock = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let host = format!("127.0.0.1:{port}");
        let mut req = Vec::new();
        let mut parser = write_client_request(
            &ClientRequest {
                host: &host,
                path,
                key: *b"0123456789abcdef",
                compression,
                no_masking: false,
                headers,
            },
            &mut req,
        );
        let mut first = prefix.to_vec();
        first.extend_from_slice(&req);
        sock.write_all(&first).unwrap();
        let until = Instant::now() + DEADLINE;
        let mut seen = Vec::new();
        loop {
            assert!(Instant::now() < until, "no upgrade response");
            let mut chunk = [0u8; 8192];
            let n = match sock.read(&mut chunk) {
                Ok(0) => return Err(Refused(String::from_utf8_lossy(&seen).into_owned())),
                Ok(n) => n,
                Err(e) if is_timeout(&e) || is_interrupted(&e) => continue,
                Err(_) => return Err(Refused(String::from_utf8_lossy(&seen).into_owned())),
            };
            seen.extend_from_slice(&chunk[..n]);
            match parser.feed(&chunk[..n]) {
                Ok(Status::Partial) => continue,
                Ok(Status::Complete { value, consumed }) => {
                    let mut cfg = DecoderConfig::client();
                    cfg.compression = value.compression;
                    let mut ws = WsRaw {
                        sock,
                        buf: Vec::new(),
                        dec: Decoder::new(cfg),
                        close: None,
                        pongs: Vec::new(),
                        pings: 0,
                        pongs_sent: 0,
                        compression: value.compression,
                        pending: Vec::new(),
                        compressed: Vec::new(),
                    };
                    let mut rest = chunk[consumed..n].to_vec();
                    ws.feed(&mut rest, &mut Vec::new());
                    return Ok(ws);
                }
                Err(_) => return Err(Refused(String::from_utf8_lossy(&seen).into_owned())),
            }
        }
    }

    fn feed(&mut self, data: &mut [u8], frames: &mut Vec<SeenFrame>) {
        record_frames(&mut self.pending, data, frames);
        let mut data = data;
        while !data.is_empty() {
            let (used, ev) = self.dec.decode(data).expect("valid frames from server");
            match ev {
                None => break,
                Some(Event::Data {
                    payload,
                    fin,
                    compressed,
                    ..
                }) => {
                    if compressed {
                        self.compressed.extend_from_slice(payload);
                        if fin {
                            let mut out = Vec::new();
                            natsws_core::ws::deflate::Inflater::new()
                                .inflate(&self.compressed, 64 << 20, &mut out)
                                .expect("inflate");
                            self.buf.extend_from_slice(&out);
                            self.compressed.clear();
                        }
                    } else {
                        self.buf.extend_from_slice(payload);
                    }
                }
                Some(Event::Ping(_)) => self.pings += 1,
                Some(Event::Pong(p)) => self.pongs.push(p.to_vec()),
                Some(Event::Close { code, reason }) => {
                    self.close = Some((code.map(|c| c.0), reason.to_string()));
                }
            }
            data = &mut data[used..];
        }
    }

    /// Sends NATS bytes in one masked binary frame.
    pub fn send(&mut self, nats: &[u8]) {
        let mut out = Vec::new();
        codec::write_frame(
            &mut out,
            OpCode::BINARY,
            true,
            false,
            nats,
            Some([1, 2, 3, 4]),
        )
        .unwrap();
        self.sock.write_all(&out).unwrap();
    }

    /// Sends NATS bytes as one compressed message (permessage-deflate must
    /// have been negotiated), masked.
    pub fn send_compressed(&mut self, nats: &[u8]) {
        let mut out = Vec::new();
        let mut key = || [5u8, 6, 7, 8];
        natsws_core::ws::deflate::Deflater::new().frame_batch(
            nats,
            &mut out,
            codec::Framing::SINGLE,
            Some(&mut key),
        );
        self.sock.write_all(&out).unwrap();
    }

    /// Sends raw bytes (hand-made frames).
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.sock.write_all(bytes).unwrap();
    }

    /// Reads frames until `pred` holds; returns the frames seen meanwhile.
    pub fn read_until(
        &mut self,
        what: &str,
        mut pred: impl FnMut(&WsRaw) -> bool,
    ) -> Vec<SeenFrame> {
        let until = Instant::now() + DEADLINE;
        let mut frames = Vec::new();
        while !pred(self) {
            assert!(
                Instant::now() < until,
                "timed out waiting for {what}; have {:?}",
                String::from_utf8_lossy(&self.buf)
            );
            let mut chunk = vec![0u8; 65536];
            match self.sock.read(&mut chunk) {
                Ok(0) => {
                    assert!(pred(self), "closed while waiting for {what}");
                    break;
                }
                Ok(n) => self.feed(&mut chunk[..n], &mut frames),
                Err(e) if is_timeout(&e) || is_interrupted(&e) => {}
                Err(e) => panic!("read error {e} waiting for {what}"),
            }
        }
        frames
    }

    /// Reads until the NATS stream contains `needle`; drains through it.
    pub fn expect(&mut self, needle: &str) -> String {
        let n = needle.as_bytes().to_vec();
        self.read_until(needle, |w| find(&w.buf, &n).is_some());
        let end = find(&self.buf, &n).unwrap() + n.len();
        let s = String::from_utf8_lossy(&self.buf[..end]).into_owned();
        self.buf.drain(..end);
        s
    }

    /// Reads until a close frame arrives or the server ends the TCP
    /// connection (EOF or reset), whichever comes first; returns the close
    /// frame if one came.
    pub fn read_to_close_or_eof(&mut self) -> Option<(Option<u16>, String)> {
        let until = Instant::now() + DEADLINE;
        let mut frames = Vec::new();
        while self.close.is_none() {
            assert!(
                Instant::now() < until,
                "server neither closed nor sent a close frame"
            );
            let mut chunk = vec![0u8; 65536];
            match self.sock.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => self.feed(&mut chunk[..n], &mut frames),
                Err(e) if is_timeout(&e) || is_interrupted(&e) => {}
                Err(_) => break,
            }
        }
        self.close.clone()
    }

    /// For `d`, reads what comes and answers each ping frame with a pong,
    /// as a browser does. False if the connection ended (EOF, reset or a
    /// close frame) meanwhile.
    pub fn answer_pings_for(&mut self, d: Duration) -> bool {
        let until = Instant::now() + d;
        while Instant::now() < until {
            if !self.answer_pings() {
                return false;
            }
            let mut chunk = vec![0u8; 65536];
            match self.sock.read(&mut chunk) {
                Ok(0) => return false,
                Ok(n) => self.feed(&mut chunk[..n], &mut Vec::new()),
                Err(e) if is_timeout(&e) || is_interrupted(&e) => {}
                Err(_) => return false,
            }
            if self.close.is_some() {
                return false;
            }
        }
        self.answer_pings()
    }

    /// Sends a pong for every ping frame not yet answered; false if the
    /// socket refused it.
    fn answer_pings(&mut self) -> bool {
        while self.pongs_sent < self.pings {
            let mut out = Vec::new();
            codec::write_pong(&mut out, &[], Some([5, 6, 7, 8])).unwrap();
            if self.sock.write_all(&out).is_err() {
                return false;
            }
            self.pongs_sent += 1;
        }
        true
    }

    /// Reads until a close frame arrives; returns (code, reason).
    pub fn expect_close(&mut self) -> (Option<u16>, String) {
        self.read_until("close frame", |w| w.close.is_some());
        self.close.clone().unwrap()
    }
}

/// Tracks frame headers in the raw stream (before unmasking), so tests can
/// assert framing (sizes, RSV1).
fn record_frames(pending: &mut Vec<u8>, data: &[u8], frames: &mut Vec<SeenFrame>) {
    pending.extend_from_slice(data);
    loop {
        if pending.len() < 2 {
            return;
        }
        let b0 = pending[0];
        let b1 = pending[1];
        let (len, hl) = match b1 & 0x7f {
            126 if pending.len() >= 4 => (u16::from_be_bytes([pending[2], pending[3]]) as usize, 4),
            127 if pending.len() >= 10 => (
                u64::from_be_bytes(pending[2..10].try_into().unwrap()) as usize,
                10,
            ),
            126 | 127 => return,
            n => (n as usize, 2),
        };
        let hl = hl + if b1 & 0x80 != 0 { 4 } else { 0 };
        if pending.len() < hl + len {
            return;
        }
        frames.push(SeenFrame {
            fin: b0 & 0x80 != 0,
            rsv1: b0 & 0x40 != 0,
            opcode: b0 & 0x0f,
            len,
        });
        pending.drain(..hl + len);
    }
}

/// A NATS client over raw TCP or raw WebSocket, for tests that run the same
/// exchange on both transports.
pub enum Conn {
    Tcp(Raw),
    Ws(Box<WsRaw>),
}

/// Parses an `INFO {json} \r\n` line.
pub fn parse_info(line: &str) -> serde_json::Value {
    let j = line
        .trim()
        .strip_prefix("INFO ")
        .unwrap_or_else(|| panic!("not an INFO line: {line:?}"));
    serde_json::from_str(j).expect("INFO json")
}

impl Conn {
    /// Connects over TCP and reads the INFO.
    pub fn tcp(port: u16) -> (Conn, serde_json::Value) {
        let mut c = Conn::Tcp(Raw::connect(port));
        let info = parse_info(&c.expect("\r\n"));
        (c, info)
    }

    /// Connects over WebSocket (extra request headers, e.g. `Cookie`) and
    /// reads the INFO.
    pub fn ws(port: u16, headers: &[(&str, &str)]) -> (Conn, serde_json::Value) {
        let mut c = Conn::Ws(Box::new(
            WsRaw::connect_with(port, false, headers).expect("upgrade"),
        ));
        let info = parse_info(&c.expect("\r\n"));
        (c, info)
    }

    /// TCP or WebSocket by flag, on the server's matching port.
    pub fn on(s: &Server, ws: bool) -> (Conn, serde_json::Value) {
        if ws {
            Conn::ws(s.ws_port.expect("ws port"), &[])
        } else {
            Conn::tcp(s.client_port)
        }
    }

    pub fn is_ws(&self) -> bool {
        matches!(self, Conn::Ws(_))
    }

    pub fn send(&mut self, b: &[u8]) {
        match self {
            Conn::Tcp(r) => r.send(b),
            Conn::Ws(w) => w.send(b),
        }
    }

    /// Reads until `needle`; returns everything through it.
    pub fn expect(&mut self, needle: &str) -> String {
        match self {
            Conn::Tcp(r) => r.expect(needle),
            Conn::Ws(w) => w.expect(needle),
        }
    }

    /// Sends `PING` and reads through the `PONG`; returns what came before.
    pub fn ping(&mut self) -> String {
        self.send(b"PING\r\n");
        self.expect("PONG\r\n")
    }

    /// Reads until the server ends the connection: TCP EOF, or a WebSocket
    /// close frame (returned). Returns the NATS bytes read meanwhile.
    pub fn expect_end(&mut self) -> (String, Option<(Option<u16>, String)>) {
        match self {
            Conn::Tcp(r) => (r.read_to_close(), None),
            Conn::Ws(w) => {
                let close = w.expect_close();
                let rest = String::from_utf8_lossy(&std::mem::take(&mut w.buf)).into_owned();
                (rest, Some(close))
            }
        }
    }

    /// Expects `-ERR '<text>'` followed by the end of the connection; over
    /// WebSocket the close frame must carry `code` and `reason`.
    pub fn expect_err_close(&mut self, text: &str, code: u16, reason: &str) {
        self.expect(&format!("-ERR '{text}'\r\n"));
        let (rest, close) = self.expect_end();
        assert!(
            !rest.contains("PONG") && !rest.contains("MSG "),
            "traffic after -ERR: {rest:?}"
        );
        if let Some(close) = close {
            assert_eq!(close, (Some(code), reason.to_string()));
        }
    }
}
