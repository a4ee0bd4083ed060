//! The NATS client protocol: push decoders for both directions, encoders,
//! CONNECT / INFO JSON and the `NATS/1.0` header block.
//!
//! Source rules: the NATS client protocol as implemented by nats-server
//! `parser.go` / `client.go`, written down in the project spec
//! `nats-protocol.md` §1 (cited below as "spec §…").
//!
//! # Decoding
//!
//! [`ClientDecoder`] (server side: what a client sends) and [`ServerDecoder`]
//! (client side: what a server sends) are resumable push parsers. The caller
//! owns the input buffer and presents every unconsumed byte on each call; an
//! op borrows from that buffer, so nothing is copied:
//!
//! ```
//! use natsws_core::proto::{ClientDecoder, ClientOp, Limits};
//!
//! let mut dec = ClientDecoder::new(Limits::default());
//! let mut buf: &[u8] = b"PUB foo 5\r\nhello\r\nPING\r\n";
//! let mut ops = 0;
//! while let Some((op, used)) = dec.decode(buf).unwrap() {
//!     match op {
//!         ClientOp::Pub { subject, payload, .. } => assert_eq!((subject, payload), (&b"foo"[..], &b"hello"[..])),
//!         ClientOp::Ping => {}
//!         _ => unreachable!(),
//!     }
//!     buf = &buf[used..];
//!     ops += 1;
//! }
//! assert_eq!(ops, 2);
//! ```
//!
//! Lexical rules (spec §1.1): op names are case-insensitive and must start at
//! the first byte of a line (a leading blank or an empty line is an unknown
//! op); `PUB`/`HPUB`/`SUB`/`UNSUB`/`-ERR` (and `MSG`/`HMSG`) need at least one
//! space or TAB after the name; runs of spaces/TABs separate arguments;
//! `CONNECT`/`INFO` JSON follows after optional blanks; a line ends at LF and
//! a CR right before the LF is dropped; `PING`/`PONG`/`+OK` ignore the rest of
//! their line; a payload must be followed by exactly CR LF; size fields are
//! 1–9 ASCII digits.
//!
//! Two deliberate, bounded deviations from nats-server, both in inputs no
//! client sends: a run of blanks after the op name and the ignored text after
//! `PING`/`PONG`/`+OK` count against `max_control_line` (nats-server skips
//! them without a bound, which a buffer-owning caller cannot afford); and a CR
//! is dropped only right before the LF (spec §1.1 **(rec)**), while other CRs
//! inside the argument part separate arguments like nats-server's `splitArg`.
//!
//! # Errors
//!
//! [`Error`] maps every failure to the wire reaction of spec §1.9:
//! [`Error::err_text`] is the exact `-ERR` text (or `None`: close silently)
//! and [`Error::closed_reason`] the monitoring reason.
//!
//! # Encoding
//!
//! The `encode_*` functions append one op to a caller's `Vec<u8>` without any
//! other allocation (CONNECT/INFO serialise their JSON first).

mod connect;
mod decoder;
pub(crate) mod encode;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod gojson;
pub mod headers;
mod info;
pub mod leaf;

pub use connect::Connect;
pub use decoder::{ClientDecoder, ServerDecoder};
pub use encode::{
    encode_connect, encode_err, encode_hmsg, encode_hpub, encode_info, encode_msg,
    encode_no_responders, encode_pub, encode_sub, encode_unsub, OK, PING, PONG,
};
pub use error::Error;
pub use info::{Info, SERVER_VERSION};

/// Per-connection protocol limits (spec §1.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest argument part of a control line (after the op name), in bytes.
    /// Default 4096 (nats-server `max_control_line`). Exceeding it is
    /// [`Error::MaxControlLineExceeded`].
    pub max_control_line: usize,
    /// Largest declared payload (HPUB/HMSG: headers + payload), in bytes.
    /// Default 1048576 (1 MiB, nats-server `max_payload`). Exceeding it is
    /// [`Error::MaxPayloadExceeded`], raised before any payload byte is
    /// waited for.
    pub max_payload: usize,
}

impl Limits {
    /// nats-server's default `max_control_line`: 4096 bytes.
    pub const DEFAULT_MAX_CONTROL_LINE: usize = 4096;
    /// nats-server's default `max_payload`: 1048576 bytes.
    pub const DEFAULT_MAX_PAYLOAD: usize = 1024 * 1024;
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_control_line: Self::DEFAULT_MAX_CONTROL_LINE,
            max_payload: Self::DEFAULT_MAX_PAYLOAD,
        }
    }
}

/// An operation sent by a client to a server (spec §1.2), borrowed from the
/// decoder's input. Subjects, reply subjects, queue groups and sids are
/// opaque non-blank bytes, not validated here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientOp<'a> {
    /// `CONNECT <json>`: the raw JSON (everything after the blanks that follow
    /// the name, up to the line end). Parse it with [`Connect::from_json`].
    Connect(&'a [u8]),
    /// `PUB <subject> [reply-to] <#bytes>` and its payload.
    Pub {
        /// Subject as sent.
        subject: &'a [u8],
        /// Reply subject, if given.
        reply: Option<&'a [u8]>,
        /// The payload (without the final CR LF).
        payload: &'a [u8],
    },
    /// `HPUB <subject> [reply-to] <#header bytes> <#total bytes>`, its header
    /// block and its payload.
    Hpub {
        /// Subject as sent.
        subject: &'a [u8],
        /// Reply subject, if given.
        reply: Option<&'a [u8]>,
        /// The header block (`#header bytes` long, not validated; see
        /// [`headers::parse`]).
        headers: &'a [u8],
        /// The payload after the headers.
        payload: &'a [u8],
    },
    /// `SUB <subject> [queue group] <sid>`.
    Sub {
        /// Subject filter as sent.
        subject: &'a [u8],
        /// Queue group, if given.
        queue: Option<&'a [u8]>,
        /// Subscription id.
        sid: &'a [u8],
    },
    /// `UNSUB <sid> [max_msgs]`.
    Unsub {
        /// Subscription id.
        sid: &'a [u8],
        /// Auto-unsubscribe after this many messages in total. `None`:
        /// unsubscribe now (no count, or a count that is 0 or not 1–9 digits,
        /// which nats-server also treats as "now").
        max_msgs: Option<u64>,
    },
    /// `PING`.
    Ping,
    /// `PONG`.
    Pong,
    /// `INFO <json>`: raw JSON; nats-server parses it (bad JSON closes, see
    /// [`Info::from_json`]) and otherwise ignores it from clients.
    Info(&'a [u8]),
    /// `+OK` (ignored by servers).
    Ok,
    /// `-ERR <text>`: the raw text. nats-server logs `Client Error <text>` and
    /// closes with reason Parse Error ([`Error::ErrReceived`]).
    Err(&'a [u8]),
}

/// An operation sent by a server to a client (spec §1.3), borrowed from the
/// decoder's input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerOp<'a> {
    /// `INFO <json>`: raw JSON (including any blank before the line end).
    Info(&'a [u8]),
    /// `MSG <subject> <sid> [reply-to] <#bytes>` and its payload.
    Msg {
        /// Subject.
        subject: &'a [u8],
        /// Subscription id.
        sid: &'a [u8],
        /// Reply subject, if any.
        reply: Option<&'a [u8]>,
        /// The payload.
        payload: &'a [u8],
    },
    /// `HMSG <subject> <sid> [reply-to] <#header bytes> <#total bytes>`.
    Hmsg {
        /// Subject.
        subject: &'a [u8],
        /// Subscription id.
        sid: &'a [u8],
        /// Reply subject, if any.
        reply: Option<&'a [u8]>,
        /// The header block.
        headers: &'a [u8],
        /// The payload after the headers.
        payload: &'a [u8],
    },
    /// `+OK`.
    Ok,
    /// `-ERR <text>`: raw text as sent, normally in single quotes
    /// (`'Unknown Protocol Operation'`).
    Err(&'a [u8]),
    /// `PING`.
    Ping,
    /// `PONG`.
    Pong,
}
