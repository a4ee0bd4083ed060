//! Differential tests: scripted raw TCP exchanges replayed against the
//! reference nats-server and against natsws; the normalised transcripts must
//! be equal, or differ only as listed in [`COMPAT_VARIANTS`] (deliberate
//! differences recorded in docs/compat.md) or [`KNOWN_DIVERGENCES`]
//! (unrecorded differences found by this suite, waiting for a server fix).
//!
//! The cases live in `tests/differential/cases.txt` (format described at the
//! top of that file). Every wait is a read until a marker or until EOF, with
//! a deadline; nothing sleeps. Server-initiated `PING`s (the RTT ping ~2 s
//! after CONNECT) are dropped from transcripts, so a slow run cannot change
//! the result.
//!
//! The reference binary is found via `NATS_SERVER_BIN`, else `nats-server`
//! on PATH (pyenv shims resolved). If it is missing the test fails and names
//! `scripts/install-reference.sh`.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long one wait (marker or EOF) may take.
const WAIT: Duration = Duration::from_secs(5);

/// Deliberate differences recorded in docs/compat.md: (case, compat row,
/// the natsws transcript). The case must produce exactly this on natsws and
/// something else on nats-server.
const COMPAT_VARIANTS: &[(&str, &str, &[&str])] = &[
    (
        "pub_size_leading_zeros",
        "MSG size fields",
        &[
            INFO0,
            "c0< MSG foo 1 5",
            "c0< payload \"hello\\r\\n\"",
            "c0< PONG",
            "c0< PONG",
            "c0 final: open",
        ],
    ),
    (
        "pub_size_nine_digits_leading_zeros",
        "MSG size fields",
        &[
            INFO0,
            "c0< MSG foo 1 1",
            "c0< payload \"a\\r\\n\"",
            "c0< PONG",
            "c0< PONG",
            "c0 final: open",
        ],
    ),
    (
        "blank_run_after_op_counts_against_max_control_line",
        "Blank run after an op name, text after `PING`/`PONG`/`+OK`",
        &[
            INFO0,
            "c0< -ERR 'maximum control line exceeded'",
            "c0 closed",
            "c0 final: closed",
        ],
    ),
    (
        "ping_trailing_text_counts_against_max_control_line",
        "Blank run after an op name, text after `PING`/`PONG`/`+OK`",
        &[
            INFO0,
            "c0< -ERR 'maximum control line exceeded'",
            "c0 closed",
            "c0 final: closed",
        ],
    ),
    (
        "cr_inside_control_line_with_bare_lf",
        "A `\\r` inside a control line (not before `\\n`)",
        &[
            INFO0,
            "c0< MSG foo 1 1",
            "c0< payload \"a\\r\\n\"",
            "c0< PONG",
            "c0< PONG",
            "c0 final: open",
        ],
    ),
];

/// The normalised first INFO of client 0 with the default config.
const INFO0: &str =
    "c0< INFO {\"client_ip\":\"127.0.0.1\",\"headers\":true,\"host\":\"127.0.0.1\",\
                     \"max_payload\":1048576,\"proto\":1}";

/// Differences from nats-server that docs/compat.md does not record, found
/// by this suite. The server should be fixed; until then natsws must
/// produce exactly this transcript (when it matches nats-server again, the
/// entry must be removed).
const KNOWN_DIVERGENCES: &[(&str, &[&str])] = &[];

// ---------------------------------------------------------------------------
// Cases

#[derive(Debug, Clone)]
enum Step {
    /// Send bytes on client n (connecting it first if needed).
    Send(usize, Vec<u8>),
    /// Read on client n until the marker has been seen.
    Until(usize, Vec<u8>),
    /// Read on client n until the server closes it.
    Eof(usize),
    /// Connect client n (reads through its INFO line).
    Connect(usize),
}

#[derive(Debug, Clone)]
struct Case {
    name: String,
    conf: String,
    steps: Vec<Step>,
}

fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            i += 1;
            match b[i] {
                b'r' => out.push(b'\r'),
                b'n' => out.push(b'\n'),
                b't' => out.push(b'\t'),
                b'\\' => out.push(b'\\'),
                b's' => out.push(b' '),
                b'x' => {
                    let h = std::str::from_utf8(&b[i + 1..i + 3]).expect("hex escape");
                    out.push(u8::from_str_radix(h, 16).expect("hex escape"));
                    i += 2;
                }
                c => panic!("unknown escape \\{}", c as char),
            }
        } else {
            out.push(b[i]);
        }
        i += 1;
    }
    out
}

/// What `{fixtures}` in a `conf:` line stands for: `server/tests/fixtures`.
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn parse_cases(text: &str) -> Vec<Case> {
    let mut cases: Vec<Case> = Vec::new();
    for (no, line) in text.lines().enumerate() {
        let no = no + 1;
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix("=== ") {
            cases.push(Case {
                name: name.trim().to_string(),
                conf: String::new(),
                steps: Vec::new(),
            });
            continue;
        }
        let case = cases
            .last_mut()
            .unwrap_or_else(|| panic!("cases.txt:{no}: step before the first case"));
        if let Some(c) = line.strip_prefix("conf: ") {
            case.conf.push_str(&c.replace("{fixtures}", FIXTURES));
            case.conf.push('\n');
            continue;
        }
        let digits = line.bytes().take_while(u8::is_ascii_digit).count();
        let client: usize = line[..digits]
            .parse()
            .unwrap_or_else(|_| panic!("cases.txt:{no}: expected a client number"));
        let rest = &line[digits..];
        let step = if let Some(data) = rest.strip_prefix("> ") {
            Step::Send(client, unescape(data))
        } else if rest == "< EOF" {
            Step::Eof(client)
        } else if let Some(m) = rest.strip_prefix("< ") {
            Step::Until(client, unescape(m))
        } else if rest == "+" {
            Step::Connect(client)
        } else {
            panic!("cases.txt:{no}: cannot parse {line:?}")
        };
        case.steps.push(step);
    }
    cases
}

// ---------------------------------------------------------------------------
// Servers

/// A running server process (either implementation); killed on drop.
struct Proc {
    child: Child,
    port: u16,
    _dir: common::TempDir,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(bin: &Path, conf: &str) -> Proc {
    let dir = common::TempDir::new();
    let path = dir.0.join("server.conf");
    std::fs::write(&path, conf).expect("write conf");
    let mut child = Command::new(bin)
        .arg("-c")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                // Keep draining so the server never blocks on a full pipe.
                continue;
            }
        }
    });
    let until = Instant::now() + common::DEADLINE;
    let mut port = None;
    let mut seen = Vec::new();
    loop {
        let left = until.saturating_duration_since(Instant::now());
        let Ok(line) = rx.recv_timeout(left) else {
            panic!(
                "{} did not become ready with config:\n{conf}\nlog:\n{}",
                bin.display(),
                seen.join("\n")
            );
        };
        if let Some(rest) = line.split("Listening for client connections on ").nth(1) {
            port = rest.rsplit(':').next().and_then(|p| p.trim().parse().ok());
        } else if line.contains("Server is ready") {
            break;
        }
        seen.push(line);
    }
    Proc {
        child,
        port: port.expect("client port logged"),
        _dir: dir,
    }
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Finds the reference nats-server binary, or fails naming the installer.
fn reference_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("NATS_SERVER_BIN") {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "NATS_SERVER_BIN={} does not exist; run scripts/install-reference.sh",
            p.display()
        );
        return p;
    }
    let found = which("nats-server").and_then(|p| {
        if p.components().any(|c| c.as_os_str() == "shims") {
            // A pyenv shim: resolve the real binary.
            let out = Command::new("pyenv")
                .args(["which", "nats-server"])
                .output()
                .ok()?;
            let s = String::from_utf8(out.stdout).ok()?;
            let s = s.trim();
            (out.status.success() && !s.is_empty()).then(|| PathBuf::from(s))
        } else {
            Some(p)
        }
    });
    found.unwrap_or_else(|| {
        panic!(
            "the reference nats-server binary was not found (set NATS_SERVER_BIN or put \
             nats-server on PATH); install it with scripts/install-reference.sh"
        )
    })
}

// ---------------------------------------------------------------------------
// Replaying a case

struct Client {
    sock: TcpStream,
    buf: Vec<u8>,
    closed: bool,
}

/// Reads more bytes into `c.buf`; returns false at EOF (or reset).
fn fill(c: &mut Client, until: Instant) -> Option<bool> {
    let sock = &mut c.sock;
    let mut chunk = [0u8; 65536];
    loop {
        if Instant::now() >= until {
            return None;
        }
        match sock.read(&mut chunk) {
            Ok(0) => return Some(false),
            Ok(n) => {
                c.buf.extend_from_slice(&chunk[..n]);
                return Some(true);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return Some(false),
        }
    }
}

fn connect(port: u16) -> Client {
    let sock = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    Client {
        sock,
        buf: Vec::new(),
        closed: false,
    }
}

/// Runs the case against a server on `port`; returns the transcript.
fn replay(case: &Case, port: u16) -> Vec<String> {
    let mut clients: Vec<Client> = Vec::new();
    let mut out = Vec::new();
    let ensure = |clients: &mut Vec<Client>, n: usize, out: &mut Vec<String>| {
        while clients.len() <= n {
            let mut c = connect(port);
            let r = read_until(&mut c, b"\r\n");
            out.extend(render(clients.len(), port, &r));
            clients.push(c);
        }
    };
    for step in &case.steps {
        match step {
            Step::Connect(n) => ensure(&mut clients, *n, &mut out),
            Step::Send(n, data) => {
                ensure(&mut clients, *n, &mut out);
                let c = &mut clients[*n];
                if c.closed {
                    out.push(format!("c{n} send after close"));
                    continue;
                }
                // A write to a connection the server already closed is
                // noticed by the following read; ignore the error here.
                let _ = c.sock.write_all(data);
            }
            Step::Until(n, marker) => {
                ensure(&mut clients, *n, &mut out);
                let r = read_until(&mut clients[*n], marker);
                out.extend(render(*n, port, &r));
            }
            Step::Eof(n) => {
                ensure(&mut clients, *n, &mut out);
                let r = read_eof(&mut clients[*n]);
                out.extend(render(*n, port, &r));
            }
        }
    }
    // Final state: every client still open must answer a PING barrier.
    for (n, c) in clients.iter_mut().enumerate() {
        if c.closed {
            out.push(format!("c{n} final: closed"));
            continue;
        }
        let _ = c.sock.write_all(b"PING\r\n");
        let r = read_until(c, b"PONG\r\n");
        out.extend(render(n, port, &r));
        let state = if c.closed { "closed" } else { "open" };
        out.push(format!("c{n} final: {state}"));
    }
    out
}

enum Got {
    Bytes(Vec<u8>),
    Closed(Vec<u8>),
    Timeout(Vec<u8>),
}

fn read_until(c: &mut Client, marker: &[u8]) -> Got {
    let until = Instant::now() + WAIT;
    loop {
        if let Some(pos) = common::find(&c.buf, marker) {
            let end = pos + marker.len();
            return Got::Bytes(c.buf.drain(..end).collect());
        }
        match fill(c, until) {
            Some(true) => {}
            Some(false) => {
                c.closed = true;
                return Got::Closed(std::mem::take(&mut c.buf));
            }
            None => return Got::Timeout(std::mem::take(&mut c.buf)),
        }
    }
}

fn read_eof(c: &mut Client) -> Got {
    let until = Instant::now() + WAIT;
    loop {
        match fill(c, until) {
            Some(true) => {}
            Some(false) => {
                c.closed = true;
                return Got::Closed(std::mem::take(&mut c.buf));
            }
            None => return Got::Timeout(std::mem::take(&mut c.buf)),
        }
    }
}

// ---------------------------------------------------------------------------
// Normalisation

/// INFO keys both servers must agree on (everything else, such as
/// server_id, version, port, client_id, nonce, go, git_commit, xkey and
/// api_lvl, legitimately differs).
const INFO_KEYS: &[&str] = &[
    "proto",
    "host",
    "headers",
    "auth_required",
    "tls_required",
    "tls_verify",
    "tls_available",
    "max_payload",
    "jetstream",
    "client_ip",
    "cluster",
    "connect_urls",
    "ws_connect_urls",
    "ldm",
    "connect_info",
    "remote_account",
    "acc_is_sys",
];

/// INFO keys that must be present (with a value of the right type).
const INFO_REQUIRED: &[&str] = &["server_id", "server_name", "version", "go", "port"];

fn norm_info(json: &[u8], port: u16) -> String {
    let v: serde_json::Value = match serde_json::from_slice(json) {
        Ok(v) => v,
        Err(e) => return format!("INFO <bad json: {e}>"),
    };
    let Some(obj) = v.as_object() else {
        return "INFO <not an object>".into();
    };
    let mut kept = serde_json::Map::new();
    for k in INFO_KEYS {
        if let Some(x) = obj.get(*k) {
            kept.insert((*k).to_string(), x.clone());
        }
    }
    // server_name defaults to the (random) server_id, port to the (random)
    // listen port: compare them only when configured to something else.
    let name = obj.get("server_name");
    if name.is_some() && name != obj.get("server_id") {
        kept.insert("server_name".into(), name.cloned().unwrap_or_default());
    }
    if let Some(p) = obj.get("port") {
        if p.as_u64() != Some(u64::from(port)) {
            kept.insert("port".into(), p.clone());
        }
    }
    let missing: Vec<&str> = INFO_REQUIRED
        .iter()
        .copied()
        .filter(|k| !obj.contains_key(*k))
        .collect();
    let mut s = format!("INFO {}", serde_json::Value::Object(kept));
    if !missing.is_empty() {
        s.push_str(&format!(" <missing {missing:?}>"));
    }
    s
}

fn show(b: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(b))
}

/// Splits server output into normalised items, dropping server PINGs.
fn items(n: usize, port: u16, mut b: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let Some(nl) = b.iter().position(|&x| x == b'\n') else {
            out.push(format!("c{n}< partial {}", show(b)));
            break;
        };
        let line = &b[..=nl];
        let body = line.strip_suffix(b"\r\n").unwrap_or(line);
        b = &b[nl + 1..];
        if body == b"PING" {
            continue;
        }
        if let Some(j) = body.strip_prefix(b"INFO ") {
            let ok = body.ends_with(b" ") && line.ends_with(b"\r\n");
            let mut s = norm_info(j.trim_ascii(), port);
            if !ok {
                s.push_str(" <not `INFO <json> \\r\\n`>");
            }
            out.push(format!("c{n}< {s}"));
            continue;
        }
        let text = String::from_utf8_lossy(body);
        let args: Vec<&str> = text.split(' ').collect();
        let size = match args[0] {
            "MSG" if args.len() >= 4 => args.last().and_then(|s| s.parse::<usize>().ok()),
            "HMSG" if args.len() >= 5 => args.last().and_then(|s| s.parse::<usize>().ok()),
            _ => None,
        };
        let crlf = if line.ends_with(b"\r\n") {
            ""
        } else {
            " <LF only>"
        };
        out.push(format!("c{n}< {text}{crlf}"));
        if let Some(size) = size {
            if b.len() >= size + 2 {
                out.push(format!("c{n}< payload {}", show(&b[..size + 2])));
                b = &b[size + 2..];
            } else {
                out.push(format!("c{n}< short payload {}", show(b)));
                break;
            }
        }
    }
    out
}

fn render(n: usize, port: u16, r: &Got) -> Vec<String> {
    match r {
        Got::Bytes(b) => items(n, port, b),
        Got::Closed(b) => {
            let mut v = items(n, port, b);
            v.push(format!("c{n} closed"));
            v
        }
        Got::Timeout(b) => {
            let mut v = items(n, port, b);
            v.push(format!("c{n} timeout"));
            v
        }
    }
}

// ---------------------------------------------------------------------------
// The test

fn base_conf(extra: &str) -> String {
    format!("host: 127.0.0.1\nport: -1\n{extra}")
}

fn run_case(case: &Case, reference: &Path, natsws: &Path) -> (Vec<String>, Vec<String>) {
    let conf = base_conf(&case.conf);
    let r = {
        let p = start(reference, &conf);
        replay(case, p.port)
    };
    let w = {
        let p = start(natsws, &conf);
        replay(case, p.port)
    };
    (r, w)
}

#[test]
fn differential_against_nats_server() {
    let reference = reference_bin();
    let natsws = PathBuf::from(env!("CARGO_BIN_EXE_natsws"));
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/differential/cases.txt");
    let cases = parse_cases(&std::fs::read_to_string(&file).expect("read cases.txt"));
    assert!(cases.len() >= 40, "only {} cases", cases.len());
    let compat =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/compat.md"))
            .expect("read docs/compat.md");
    for (name, row, _) in COMPAT_VARIANTS {
        assert!(cases.iter().any(|c| c.name == *name), "no case {name}");
        assert!(
            compat.contains(&format!("| {row} |")),
            "case {name} cites compat row {row:?}, which docs/compat.md does not have"
        );
    }
    for (name, _) in KNOWN_DIVERGENCES {
        assert!(cases.iter().any(|c| c.name == *name), "no case {name}");
    }

    // Cases are independent (fresh servers each); run a few at a time.
    let results: Vec<(String, Vec<String>, Vec<String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = cases
            .chunks(cases.len().div_ceil(4))
            .map(|chunk| {
                let (reference, natsws) = (&reference, &natsws);
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|c| {
                            let (r, w) = run_case(c, reference, natsws);
                            (c.name.clone(), r, w)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("case thread"))
            .collect()
    });

    let mut failures = Vec::new();
    let dump_all = std::env::var_os("NATSWS_DIFF_DUMP").is_some();
    for (name, r, w) in &results {
        if dump_all {
            eprintln!("=== {name}\n  nats-server: {r:#?}\n  natsws: {w:#?}");
        }
        let variant = COMPAT_VARIANTS
            .iter()
            .find(|v| v.0 == name)
            .map(|v| (v.2, format!("compat.md row {:?}", v.1)))
            .or_else(|| {
                KNOWN_DIVERGENCES
                    .iter()
                    .find(|v| v.0 == name)
                    .map(|v| (v.1, "KNOWN_DIVERGENCES".to_string()))
            });
        let dump = |label: &str, t: &[String]| {
            let mut s = format!("  {label}:\n");
            for l in t {
                s.push_str(&format!("    {l:?}\n"));
            }
            s
        };
        if r.iter().any(|l| l.ends_with(" timeout")) {
            failures.push(format!(
                "case {name}: waits for something nats-server never sends (a deadline \
                 expired); fix the case\n{}",
                dump("nats-server", r)
            ));
            continue;
        }
        match variant {
            None if r == w => {}
            None => failures.push(format!(
                "case {name}: natsws differs from nats-server\n{}{}",
                dump("nats-server", r),
                dump("natsws", w)
            )),
            Some((expected, why)) => {
                if r == w {
                    failures.push(format!(
                        "case {name}: listed in {why} but natsws now matches nats-server; \
                         remove the entry\n{}",
                        dump("both", r)
                    ));
                } else if w.iter().map(String::as_str).ne(expected.iter().copied()) {
                    failures.push(format!(
                        "case {name}: natsws output is neither nats-server's nor the one \
                         listed in {why}\n{}{}",
                        dump("nats-server", r),
                        dump("natsws", w)
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} differential cases failed:\n{}",
        failures.len(),
        results.len(),
        failures.join("\n")
    );
}

/// Runs `bin` with `conf`, expecting it to refuse to start: returns its
/// stderr once it has exited (the pipe closes), or fails when it is still
/// running at the deadline.
fn startup_failure(bin: &Path, conf: &str) -> String {
    let dir = common::TempDir::new();
    let path = dir.0.join("server.conf");
    std::fs::write(&path, conf).expect("write conf");
    let mut child = Command::new(bin)
        .arg("-c")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
    let mut stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        let _ = tx.send(s);
    });
    let Ok(text) = rx.recv_timeout(common::DEADLINE) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{} started with config:\n{conf}", bin.display());
    };
    let status = child.wait().expect("wait");
    assert!(
        !status.success(),
        "{} exited 0 with config:\n{conf}",
        bin.display()
    );
    text
}

/// Bad `client_advertise` values stop both servers at startup with
/// nats-server's text (`[FTL] Error setting server INFO with
/// ClientAdvertise value of <v>, err=<Go error>`). (Values without a colon,
/// such as `[h`, fail after nats-server appends the bound port; natsws
/// appends the configured one, so those texts are not compared.)
#[test]
fn client_advertise_startup_errors_match_reference() {
    let reference = reference_bin();
    let natsws = PathBuf::from(env!("CARGO_BIN_EXE_natsws"));
    for value in [
        "a:b",
        "h:",
        "a:b:c",
        "[a]:b:1",
        "[::1",
        "h]:1",
        "h:99999999999999999999",
    ] {
        let conf = base_conf(&format!("client_advertise: \"{value}\"\n"));
        let r = startup_failure(&reference, &conf);
        let line = r
            .lines()
            .find_map(|l| l.split("[FTL] ").nth(1))
            .unwrap_or_else(|| panic!("no [FTL] line from nats-server for {value:?}:\n{r}"));
        assert!(
            line.starts_with("Error setting server INFO with ClientAdvertise value of "),
            "{line}"
        );
        let w = startup_failure(&natsws, &conf);
        assert!(
            w.contains(line),
            "client_advertise {value:?}: nats-server says {line:?}, natsws said:\n{w}"
        );
    }
    // docs/compat.md: nats-server advertises such a port as is; natsws
    // refuses it.
    let w = startup_failure(&natsws, &base_conf("client_advertise: \"h:70000\"\n"));
    assert!(
        w.contains(
            "Error setting server INFO with ClientAdvertise value of h:70000, \
             err=port 70000 out of range 0-65535"
        ),
        "{w}"
    );
}
