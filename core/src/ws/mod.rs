//! WebSocket (RFC 6455) for natsws: the HTTP/1.1 upgrade handshake, the frame
//! codec and, behind the `deflate` feature, permessage-deflate (RFC 7692).
//!
//! Everything here is sans-IO: bytes in, events and bytes out. The server
//! role matches nats-server's `websocket.go` (spec `websocket.md`, here
//! "spec"); the client role exists for the wasm package and test clients.
//!
//! ```text
//! socket bytes ─▶ handshake::RequestParser ──(101 written)──▶ codec::Decoder
//!                  │ left-over bytes ───────────────────────▶ │ (unmasks in place)
//!                  ▼                                          ▼
//!            Upgrade (key, kind,            Event::Data { payload } ─▶ NATS decoder
//!            compress, no-masking, ...)     Event::Ping ─▶ codec::write_pong
//!                                           Event::Close ─▶ codec::write_close_echo
//! NATS output batch ─▶ codec::frame_batch (or deflate::Deflater::frame_batch) ─▶ socket
//! ```
//!
//! Modules:
//! - [`handshake`]: push parser for the upgrade request (spec §2), the 101 and
//!   rejection responses, the client-role request writer and response checker.
//! - [`frame`]: [`OpCode`], [`CloseCode`], frame headers (RFC 6455 §5.2),
//!   close payloads (§5.5.1, §7.4).
//! - [`codec`]: the resumable frame [`Decoder`] and the frame
//!   encoders, including the browser framing mode (spec §3.8).
//! - [`inbound`]: the read side of a connection on top of the decoder: NATS
//!   bytes out (inflated when compressed), pongs, the close reply.
//! - [`mask`]: the word-at-a-time masking XOR (RFC 6455 §5.3).
//! - [`utf8`]: incremental UTF-8 validation across fragments.
//! - `deflate` (feature `deflate`): bounded inflate and no-context-takeover
//!   deflate (RFC 7692 §7.2).
//! - [`Error`]: every failure of this layer with its one wire reaction.

pub mod codec;
#[cfg(feature = "deflate")]
pub mod deflate;
#[cfg(feature = "echo")]
pub mod echo;
mod error;
pub mod frame;
pub mod handshake;
pub mod inbound;
pub mod mask;
pub mod proxy;
pub mod utf8;

#[doc(hidden)]
pub mod fuzzing;

pub use codec::{Decoder, DecoderConfig, Event, Role};
pub use error::{Error, Reaction};
pub use frame::{CloseCode, OpCode, SendCloseCode};

/// Largest frame header: 2 bytes + 8-byte extended length + 4-byte masking
/// key (RFC 6455 §5.2; spec §0).
pub const MAX_FRAME_HEADER: usize = 14;
/// Largest control-frame payload, in bytes (RFC 6455 §5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;
/// Outbound frame size for browser peers, in bytes (`wsFrameSizeForBrowsers`,
/// spec §0 and §3.8).
pub const BROWSER_FRAME_SIZE: usize = 4096;
/// Outbound batches of at most this many bytes are never compressed
/// (`wsCompressThreshold`, spec §0 and §3.8).
pub const COMPRESS_THRESHOLD: usize = 64;
/// The GUID appended to `Sec-WebSocket-Key` for the accept key (RFC 6455 §1.3).
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/// Bytes appended to a compressed message before inflating: the `00 00 ff ff`
/// sync-flush marker stripped by the sender (RFC 7692 §7.2.2) followed by an
/// empty final stored block so the inflater ends cleanly (spec §0, §3.5).
pub const INFLATE_TAIL: [u8; 9] = [0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff];
/// Default `max_payload` of nats-server, in bytes (spec §0).
pub const DEFAULT_MAX_PAYLOAD: usize = crate::proto::Limits::DEFAULT_MAX_PAYLOAD;
/// Cap on the compressed size of one inbound message: 8 × max_payload, at
/// most 64 MiB (spec §0, §3.5).
pub const MAX_COMPRESSED_CAP: u64 = 64 * 1024 * 1024;

/// The compressed-bytes limit of one inbound compressed message for a
/// connection whose max payload is `max_payload` bytes:
/// `min(8 × max_payload, 64 MiB)`, where a `max_payload` of 0 means the
/// default 1 MiB (spec §3.5). The 9-byte [`INFLATE_TAIL`] counts against it.
pub fn compressed_limit(max_payload: usize) -> u64 {
    let mpay = if max_payload == 0 {
        DEFAULT_MAX_PAYLOAD as u64
    } else {
        max_payload as u64
    };
    mpay.saturating_mul(8).min(MAX_COMPRESSED_CAP)
}
