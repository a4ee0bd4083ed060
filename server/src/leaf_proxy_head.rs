//! The status of an HTTP CONNECT proxy's response head, read as Go's
//! `http.ReadResponse` reads it (nats-server `establishHTTPProxyTunnel`
//! passes `resp.Status` into its error text). Standalone (no crate
//! paths), so the fuzz target `leaf_proxy_head` compiles it in by path.

use std::fmt;

/// Why a response head has no readable status; `Display` is Go's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HeadError {
    /// The first line is not `HTTP/x.y <code> …`: `malformed HTTP
    /// response "<line>"`.
    Malformed(String),
    /// The code is not three digits: `malformed HTTP status code
    /// "<code>"`.
    StatusCode(String),
}

impl fmt::Display for HeadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeadError::Malformed(l) => write!(f, "malformed HTTP response {l:?}"),
            HeadError::StatusCode(c) => write!(f, "malformed HTTP status code {c:?}"),
        }
    }
}

impl std::error::Error for HeadError {}

/// The status of `head` (its first line after the protocol: `407 Proxy
/// Authentication Required`).
///
/// # Errors
/// [`HeadError`] for a first line Go refuses.
pub(crate) fn status(head: &[u8]) -> Result<String, HeadError> {
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line.strip_suffix(b"\r").unwrap_or(line)).into_owned();
    let Some((proto, status)) = line.split_once(' ') else {
        return Err(HeadError::Malformed(line));
    };
    if !proto.starts_with("HTTP/") {
        return Err(HeadError::Malformed(line));
    }
    let status = status.trim_start();
    let code = status.split(' ').next().unwrap_or_default();
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HeadError::StatusCode(code.to_string()));
    }
    Ok(status.to_string())
}

/// Whether `status` is `200` (the tunnel is open).
pub(crate) fn is_ok(status: &str) -> bool {
    status.split(' ').next() == Some("200")
}

#[cfg(test)]
mod tests {
    use super::{is_ok, status, HeadError};

    #[test]
    fn the_status_is_read_as_go_does() {
        assert_eq!(
            status(b"HTTP/1.1 200 Connection established\r\n\r\n").unwrap(),
            "200 Connection established"
        );
        assert!(is_ok("200 Connection established"));
        assert!(is_ok("200"));
        assert!(!is_ok("2000 x"));
        assert!(!is_ok("407 Proxy Authentication Required"));
        assert_eq!(
            status(b"HTTP/1.0 407 Proxy Authentication Required\r\nX: y\r\n\r\n").unwrap(),
            "407 Proxy Authentication Required"
        );
        assert_eq!(
            status(b"garbage\r\n\r\n").unwrap_err().to_string(),
            "malformed HTTP response \"garbage\""
        );
        assert_eq!(
            status(b"HTTP/1.1 abc\r\n\r\n"),
            Err(HeadError::StatusCode("abc".into()))
        );
        assert!(status(b"HTTP/1.1 2000 x\r\n\r\n").is_err());
        assert!(status(b"").is_err());
    }
}
