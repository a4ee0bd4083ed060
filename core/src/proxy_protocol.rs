//! The PROXY protocol header (HAProxy, versions 1 and 2) that a load
//! balancer puts before the client's bytes to name the real client address
//! (spec `operations.md` §5.1; nats-server `client_proxyproto.go`).
//!
//! Sans-IO and resumable: call [`parse`] with every byte received so far
//! (from the start of the connection) until it stops answering
//! [`Parsed::Incomplete`]. Bytes after the header are the client's own and
//! go to the protocol parser; [`Parsed::NotProxy`] means the connection
//! did not start with a PROXY header and all its bytes are the client's
//! (nats-server accepts proxied and direct clients on the same port).
//! Nothing is allocated; the longest header is a v1 line of 107 bytes or a
//! v2 header of 16 bytes plus its address block (at most 65,535 bytes,
//! where nats-server's reader also stops).

use alloc::string::{String, ToString};
use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The 12-byte signature that starts a version 2 header.
pub const V2_SIGNATURE: [u8; 12] = [
    0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
];

/// What starts a version 1 header.
pub const V1_PREFIX: &[u8; 6] = b"PROXY ";

/// The longest version 1 line, CRLF included (HAProxy spec §2.1).
pub const V1_MAX_LINE: usize = 107;

/// A complete header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header {
    /// A proxied connection: the client (`src`) and the address it
    /// connected to (`dst`).
    Proxied {
        /// The client's address.
        src: SocketAddr,
        /// The address the client connected to (the proxy's frontend).
        dst: SocketAddr,
    },
    /// The proxy's own connection (v2 LOCAL, v1 `UNKNOWN`, v2 family
    /// UNSPEC, e.g. a health check): keep the socket's address.
    Local,
}

/// How far [`parse`] got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed {
    /// Not a PROXY header: every byte is the client's.
    NotProxy,
    /// A header may be under way: call again with more bytes.
    Incomplete,
    /// The header, and its length in bytes (what follows is the client's).
    Header {
        /// What the header says.
        header: Header,
        /// Bytes the header took.
        len: usize,
    },
}

/// A header that started like PROXY but is malformed. `Display` gives
/// nats-server's text (it logs `Error reading PROXY protocol header from
/// <addr>: <text>` and closes the connection).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// v1: no CRLF within 107 bytes.
    V1TooLong,
    /// v1: not `PROXY <proto> <src> <dst> <sport> <dport>`.
    V1Format,
    /// v1: an address that does not parse.
    V1Address,
    /// v1: a source port that is not a number from 0 to 65535.
    SourcePort {
        /// The port as sent.
        value: String,
        /// Out of range rather than not a number.
        range: bool,
    },
    /// v1: the same for the destination port.
    DestPort {
        /// The port as sent.
        value: String,
        /// Out of range rather than not a number.
        range: bool,
    },
    /// v1: `TCP4` with an IPv6 address.
    Tcp4WithIpv6,
    /// v1: `TCP6` with an IPv4 address.
    Tcp6WithIpv4,
    /// v1: a protocol other than `TCP4`, `TCP6`, `UNKNOWN`.
    V1Protocol(String),
    /// v2: the first 6 bytes matched, the rest of the signature did not.
    V2Signature,
    /// v2: the version nibble is not 2 (the masked value).
    V2Version(u8),
    /// v2: a command other than LOCAL (0) and PROXY (1).
    V2Command(u8),
    /// v2: a transport protocol other than STREAM.
    V2NotStream,
    /// v2: an address family other than UNSPEC, INET, INET6 (the masked
    /// value).
    V2Family(u8),
    /// v2 INET: fewer than 12 address bytes.
    Ipv4TooShort(u16),
    /// v2 INET6: fewer than 36 address bytes.
    Ipv6TooShort(u16),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const INVALID: &str = "invalid PROXY protocol header";
        const UNSUPPORTED: &str = "unsupported PROXY protocol feature";
        match self {
            Error::V1TooLong => write!(f, "{INVALID}: v1 line too long"),
            Error::V1Format => write!(f, "{INVALID}: invalid v1 format"),
            Error::V1Address => write!(f, "{INVALID}: invalid address"),
            Error::SourcePort { value, range } => {
                write!(f, "invalid source port: {}", ParseUint(value, *range))
            }
            Error::DestPort { value, range } => {
                write!(f, "invalid dest port: {}", ParseUint(value, *range))
            }
            Error::Tcp4WithIpv6 => write!(f, "{INVALID}: TCP4 with IPv6 address"),
            Error::Tcp6WithIpv4 => write!(f, "{INVALID}: TCP6 with IPv4 address"),
            Error::V1Protocol(p) => write!(f, "{INVALID}: invalid protocol {p}"),
            Error::V2Signature => write!(f, "{INVALID}: invalid signature"),
            Error::V2Version(v) => write!(f, "{INVALID}: invalid version 0x{v:02x}"),
            Error::V2Command(c) => write!(f, "unknown PROXY protocol command: 0x{c:02x}"),
            Error::V2NotStream => write!(f, "{UNSUPPORTED}: only STREAM protocol supported"),
            Error::V2Family(fam) => {
                write!(f, "{UNSUPPORTED}: unsupported address family 0x{fam:02x}")
            }
            Error::Ipv4TooShort(n) => write!(f, "IPv4 address data too short: {n} bytes"),
            Error::Ipv6TooShort(n) => write!(f, "IPv6 address data too short: {n} bytes"),
        }
    }
}

impl core::error::Error for Error {}

/// Go's `strconv.ParseUint` error text for a value.
struct ParseUint<'a>(&'a str, bool);

impl fmt::Display for ParseUint<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = if self.1 {
            "value out of range"
        } else {
            "invalid syntax"
        };
        write!(f, "strconv.ParseUint: parsing {:?}: {why}", self.0)
    }
}

/// Parses the PROXY header at the start of `input` (every byte received
/// so far). See the module docs for the calling protocol.
///
/// # Errors
/// [`Error`] when the bytes began like a header (the v1 prefix or the first
/// 6 bytes of the v2 signature) but are not a valid one.
pub fn parse(input: &[u8]) -> Result<Parsed, Error> {
    let head = &input[..input.len().min(6)];
    if V1_PREFIX.starts_with(head) {
        if input.len() < 6 {
            return Ok(Parsed::Incomplete);
        }
        return parse_v1(input);
    }
    if V2_SIGNATURE.starts_with(head) {
        if input.len() < 6 {
            return Ok(Parsed::Incomplete);
        }
        return parse_v2(input);
    }
    Ok(Parsed::NotProxy)
}

/// Version 1 (nats-server `readProxyProtoV1Header`).
fn parse_v1(input: &[u8]) -> Result<Parsed, Error> {
    let window = &input[..input.len().min(V1_MAX_LINE)];
    let Some(cr) = window.windows(2).position(|w| w == b"\r\n") else {
        return if input.len() >= V1_MAX_LINE {
            Err(Error::V1TooLong)
        } else {
            Ok(Parsed::Incomplete)
        };
    };
    let len = cr + 2;
    let line = core::str::from_utf8(&input[6..cr]).map_err(|_| Error::V1Format)?;
    let mut parts = line.split_ascii_whitespace();
    let header = |header| Ok(Parsed::Header { header, len });
    let Some(protocol) = parts.next() else {
        return Err(Error::V1Format);
    };
    if protocol == "UNKNOWN" {
        return header(Header::Local);
    }
    let (Some(src), Some(dst), Some(sport), Some(dport), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(Error::V1Format);
    };
    let (Ok(src_ip), Ok(dst_ip)) = (src.parse::<IpAddr>(), dst.parse::<IpAddr>()) else {
        return Err(Error::V1Address);
    };
    let sport = parse_port(sport).map_err(|range| Error::SourcePort {
        value: sport.to_string(),
        range,
    })?;
    let dport = parse_port(dport).map_err(|range| Error::DestPort {
        value: dport.to_string(),
        range,
    })?;
    // The text decides the family, as in nats-server: IPv4-mapped IPv6
    // addresses are IPv6 for TCP6.
    let (src_v6, dst_v6) = (src.contains(':'), dst.contains(':'));
    match protocol {
        "TCP4" if src_v6 || dst_v6 => Err(Error::Tcp4WithIpv6),
        "TCP6" if !src_v6 || !dst_v6 => Err(Error::Tcp6WithIpv4),
        "TCP4" | "TCP6" => header(Header::Proxied {
            src: SocketAddr::new(src_ip, sport),
            dst: SocketAddr::new(dst_ip, dport),
        }),
        _ => Err(Error::V1Protocol(protocol.to_string())),
    }
}

/// Go's `strconv.ParseUint(s, 10, 16)`: ASCII digits only; `Err(true)` when
/// the number is over 65535, `Err(false)` when it is not a number.
fn parse_port(s: &str) -> Result<u16, bool> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(false);
    }
    let mut n: u32 = 0;
    for b in s.bytes() {
        n = n * 10 + u32::from(b - b'0');
        if n > u32::from(u16::MAX) {
            return Err(true);
        }
    }
    Ok(n as u16)
}

/// Version 2 (nats-server `readProxyProtoV2Header`,
/// `parseProxyProtoV2Header`), checks in its order.
fn parse_v2(input: &[u8]) -> Result<Parsed, Error> {
    let sig = &input[..input.len().min(12)];
    if !V2_SIGNATURE.starts_with(sig) {
        return Err(Error::V2Signature);
    }
    if input.len() < 16 {
        return Ok(Parsed::Incomplete);
    }
    let (ver_cmd, fam_proto) = (input[12], input[13]);
    let addr_len = u16::from_be_bytes([input[14], input[15]]);
    let version = ver_cmd & 0xF0;
    if version != 0x20 {
        return Err(Error::V2Version(version));
    }
    let len = 16 + usize::from(addr_len);
    let command = ver_cmd & 0x0F;
    let (family, protocol) = (fam_proto & 0xF0, fam_proto & 0x0F);
    if command == 0x00 {
        // LOCAL: the address block is read and ignored.
        return if input.len() < len {
            Ok(Parsed::Incomplete)
        } else {
            Ok(Parsed::Header {
                header: Header::Local,
                len,
            })
        };
    }
    if command != 0x01 {
        return Err(Error::V2Command(command));
    }
    if protocol != 0x01 {
        return Err(Error::V2NotStream);
    }
    match family {
        0x10 if addr_len < 12 => Err(Error::Ipv4TooShort(addr_len)),
        0x20 if addr_len < 36 => Err(Error::Ipv6TooShort(addr_len)),
        0x00 | 0x10 | 0x20 if input.len() < len => Ok(Parsed::Incomplete),
        0x00 => Ok(Parsed::Header {
            header: Header::Local,
            len,
        }),
        0x10 => {
            let a = &input[16..len];
            let ip = |i: usize| IpAddr::V4(Ipv4Addr::new(a[i], a[i + 1], a[i + 2], a[i + 3]));
            let port = |i: usize| u16::from_be_bytes([a[i], a[i + 1]]);
            Ok(Parsed::Header {
                header: Header::Proxied {
                    src: SocketAddr::new(ip(0), port(8)),
                    dst: SocketAddr::new(ip(4), port(10)),
                },
                len,
            })
        }
        0x20 => {
            let a = &input[16..len];
            let ip = |i: usize| {
                let mut o = [0u8; 16];
                o.copy_from_slice(&a[i..i + 16]);
                IpAddr::V6(Ipv6Addr::from(o))
            };
            let port = |i: usize| u16::from_be_bytes([a[i], a[i + 1]]);
            Ok(Parsed::Header {
                header: Header::Proxied {
                    src: SocketAddr::new(ip(0), port(32)),
                    dst: SocketAddr::new(ip(16), port(34)),
                },
                len,
            })
        }
        other => Err(Error::V2Family(other)),
    }
}
