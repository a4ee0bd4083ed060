//! The one error type of the NATS protocol layer, with its total mapping to
//! the wire reaction (spec §1.9).

use core::fmt;

/// A fatal NATS protocol error.
///
/// Every variant closes the connection ([`Error::closes`]). Some are announced
/// first with `-ERR '<text>'` ([`Error::err_text`], the exact nats-server
/// text); the others close silently, as nats-server does. The decoders return
/// these errors and then stay poisoned: every later `decode` call returns the
/// same error again.
///
/// Display texts are lower-case without a trailing period (they are log
/// texts, not wire texts).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// An unknown operation name, leading whitespace or an empty line, a
    /// missing space/TAB after `PUB`/`HPUB`/`SUB`/`UNSUB`/`-ERR`/`MSG`/`HMSG`,
    /// or a payload not followed by exactly CR LF (spec §1.1, §1.2).
    /// `-ERR 'Unknown Protocol Operation'`, close (Protocol Violation).
    UnknownOp,
    /// The argument part of a control line (or its run of leading blanks, or
    /// the text after `PING`/`PONG`/`+OK`) is longer than
    /// [`Limits::max_control_line`](super::Limits::max_control_line) bytes
    /// (spec §1.1). `-ERR 'maximum control line exceeded'`, close (Maximum
    /// Control Line Exceeded).
    MaxControlLineExceeded,
    /// The declared payload size (HPUB/HMSG: the total size) is larger than
    /// [`Limits::max_payload`](super::Limits::max_payload) (spec §1.2).
    /// `-ERR 'Maximum Payload Violation'`, close (Maximum Message Payload
    /// Exceeded).
    MaxPayloadExceeded {
        /// The declared size in bytes.
        size: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// Wrong number of arguments for an operation (PUB 2–3, HPUB 3–4, SUB
    /// 2–3, UNSUB 1–2, MSG 3–4, HMSG 4–5). Close without -ERR (Protocol
    /// Violation).
    InvalidArgCount {
        /// The operation name, upper-case (`"PUB"`, `"SUB"`, …).
        op: &'static str,
    },
    /// A size field that is not 1–9 ASCII digits (spec §1.1). Close without
    /// -ERR (Protocol Violation).
    InvalidSize {
        /// The operation name, upper-case.
        op: &'static str,
    },
    /// HPUB/HMSG header size larger than the total size (spec §1.2). Close
    /// without -ERR (Protocol Violation).
    HeaderSizeTooLarge,
    /// HPUB on a connection that did not negotiate headers (see
    /// [`ClientDecoder::set_headers`](super::ClientDecoder::set_headers)).
    /// Close without -ERR (Protocol Violation); nats-server logs
    /// `message headers not supported`.
    HeadersNotSupported,
    /// CONNECT or INFO JSON that is malformed or has a value of the wrong
    /// type (spec §1.4). Close without -ERR (Protocol Violation).
    InvalidJson,
    /// The peer sent `-ERR` (spec §1.2). The decoders never return this: they
    /// return [`ClientOp::Err`](super::ClientOp::Err); a session maps that op
    /// to this error to close with the right reason (Parse Error), no -ERR.
    ErrReceived,
}

impl Error {
    /// The exact nats-server text to send as `-ERR '<text>'` before closing,
    /// or `None` when nats-server closes without an `-ERR` (spec §1.9).
    #[must_use]
    pub fn err_text(&self) -> Option<&'static str> {
        match self {
            Error::UnknownOp => Some("Unknown Protocol Operation"),
            Error::MaxControlLineExceeded => Some("maximum control line exceeded"),
            Error::MaxPayloadExceeded { .. } => Some("Maximum Payload Violation"),
            Error::InvalidArgCount { .. }
            | Error::InvalidSize { .. }
            | Error::HeaderSizeTooLarge
            | Error::HeadersNotSupported
            | Error::InvalidJson
            | Error::ErrReceived => None,
        }
    }

    /// Whether the connection must be closed. Every protocol-layer error is
    /// fatal, so this is always `true`; non-fatal `-ERR`s (permissions,
    /// invalid subject) belong to the session.
    #[must_use]
    pub fn closes(&self) -> bool {
        true
    }

    /// The nats-server `ClosedState` string for monitoring (`/connz`
    /// `reason`, spec §1.9).
    #[must_use]
    pub fn closed_reason(&self) -> &'static str {
        match self {
            Error::MaxControlLineExceeded => "Maximum Control Line Exceeded",
            Error::MaxPayloadExceeded { .. } => "Maximum Message Payload Exceeded",
            Error::ErrReceived => "Parse Error",
            Error::UnknownOp
            | Error::InvalidArgCount { .. }
            | Error::InvalidSize { .. }
            | Error::HeaderSizeTooLarge
            | Error::HeadersNotSupported
            | Error::InvalidJson => "Protocol Violation",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::UnknownOp => f.write_str("unknown protocol operation"),
            Error::MaxControlLineExceeded => f.write_str("maximum control line exceeded"),
            Error::MaxPayloadExceeded { size, max } => {
                write!(f, "maximum payload exceeded: {size} vs {max}")
            }
            Error::InvalidArgCount { op } => write!(f, "wrong number of arguments for {op}"),
            Error::InvalidSize { op } => write!(f, "bad or missing size in {op}"),
            Error::HeaderSizeTooLarge => f.write_str("header size larger than total size"),
            Error::HeadersNotSupported => f.write_str("message headers not supported"),
            Error::InvalidJson => f.write_str("invalid json"),
            Error::ErrReceived => f.write_str("peer sent -ERR"),
        }
    }
}

impl core::error::Error for Error {}
