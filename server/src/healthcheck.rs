//! `natsws --healthcheck <url>`: a one-shot HTTP GET for container health
//! checks (the distroless image has no shell or curl; operations spec
//! §7.2). Plain `http://host:port/path` only; the answer's status line is
//! parsed with httparse.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// How long the whole check may take.
pub const TIMEOUT: Duration = Duration::from_secs(2);

/// Why a health check failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HealthcheckError {
    /// Not an `http://host:port/path` URL.
    Url(String),
    /// No connection, or no complete answer within [`TIMEOUT`].
    Io(String),
    /// The answer's status was not 200.
    Status(u16),
    /// The answer was not HTTP.
    Response,
}

impl std::fmt::Display for HealthcheckError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HealthcheckError::Url(u) => write!(f, "healthcheck: not an http:// URL: {u}"),
            HealthcheckError::Io(e) => write!(f, "healthcheck: {e}"),
            HealthcheckError::Status(s) => write!(f, "healthcheck: status {s}"),
            HealthcheckError::Response => f.write_str("healthcheck: not an HTTP response"),
        }
    }
}

impl std::error::Error for HealthcheckError {}

/// GETs `url` (`http://host[:port][/path]`, port 80 by default) and
/// succeeds on status 200, within [`TIMEOUT`].
///
/// # Errors
/// [`HealthcheckError`]: a bad URL, no answer in time, another status.
pub fn check(url: &str) -> Result<(), HealthcheckError> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| HealthcheckError::Url(url.into()))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        return Err(HealthcheckError::Url(url.into()));
    }
    let with_port = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let io = |e: std::io::Error| HealthcheckError::Io(e.to_string());
    let addr = with_port
        .to_socket_addrs()
        .map_err(io)?
        .next()
        .ok_or_else(|| HealthcheckError::Io(format!("cannot resolve {authority}")))?;
    let deadline = Instant::now() + TIMEOUT;
    let mut sock = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(io)?;
    sock.set_write_timeout(Some(TIMEOUT)).map_err(io)?;
    write!(
        sock,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nUser-Agent: natsws-healthcheck\r\n\r\n"
    )
    .map_err(io)?;
    let mut buf = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(HealthcheckError::Io("timed out".into()));
        }
        sock.set_read_timeout(Some(left)).map_err(io)?;
        let mut chunk = [0u8; 1024];
        let n = sock.read(&mut chunk).map_err(io)?;
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut resp = httparse::Response::new(&mut headers);
        match resp.parse(&buf) {
            Ok(_) if resp.code.is_some() => {
                return match resp.code {
                    Some(200) => Ok(()),
                    Some(c) => Err(HealthcheckError::Status(c)),
                    None => Err(HealthcheckError::Response),
                };
            }
            Ok(_) if n > 0 && buf.len() < 16 * 1024 => continue,
            _ => return Err(HealthcheckError::Response),
        }
    }
}
