//! Test harness: the real `natsws` binary on ephemeral loopback ports, and
//! small raw clients (TCP and WebSocket) that read with deadlines, never
//! sleeps.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long any single expectation may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// A running natsws process; killed on drop.
pub struct Server {
    child: Child,
    pub client_port: u16,
    pub ws_port: Option<u16>,
    pub http_port: Option<u16>,
    pub log: mpsc::Receiver<String>,
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
        let dir = TempDir::new();
        let path = dir.0.join("natsws.conf");
        std::fs::write(&path, conf).expect("write conf");
        let mut child = Command::new(env!("CARGO_BIN_EXE_natsws"))
            .arg("-c")
            .arg(&path)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn natsws");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (mut client_port, mut ws_port, mut http_port) = (None, None, None);
        let until = Instant::now() + DEADLINE;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            let line = rx
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("natsws did not become ready"));
            if line.contains("Listening for client connections on") {
                client_port = port_of(&line);
            } else if line.contains("Listening for websocket clients on") {
                ws_port = port_of(&line);
            } else if line.contains("Starting http monitor on") {
                http_port = port_of(&line);
            } else if line.contains("Server is ready") {
                break;
            }
        }
        Server {
            child,
            client_port: client_port.expect("client port logged"),
            ws_port,
            http_port,
            log: rx,
            _dir: dir,
        }
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
                Ok(_) => continue,
                Err(_) => panic!("no log line containing {needle:?}"),
            }
        }
    }

    /// GET a monitoring path; returns (status, body).
    pub fn http_get(&self, path: &str) -> (u16, String) {
        let port = self.http_port.expect("monitoring port");
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect http");
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).expect("read http");
        let status = resp[9..12].parse().expect("status");
        let body = resp.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("").to_string();
        (status, body)
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGINT-like graceful stop via the process id and waits.
    pub fn pid(&self) -> u32 {
        self.child.id()
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
        sock.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        Raw { sock, buf: Vec::new() }
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
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
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
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                Err(_) => break,
            }
        }
        String::from_utf8_lossy(&std::mem::take(&mut self.buf)).into_owned()
    }
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
