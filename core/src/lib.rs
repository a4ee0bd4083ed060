//! # natsws-core
//!
//! The sans-IO heart of natsws: everything a NATS server (and a NATS client)
//! needs to speak the NATS client protocol over TCP or WebSocket, with no
//! sockets, clocks, threads or `std::io`. Bytes go in, events and bytes come
//! out; time is passed in as a number of milliseconds and randomness is passed
//! in by the caller.
//!
//! ```text
//! socket bytes ─▶ [TLS] ─▶ [ws: handshake, frames, inflate] ─▶ proto decoder ─▶ ops
//!                                                                               │
//! ops ─▶ session (per connection: CONNECT/auth, limits, subs) ─▶ router ────────┘
//! router ─▶ deliveries ─▶ target session's outbound ─▶ [deflate + frames] ─▶ [TLS] ─▶ socket
//! ```
//!
//! Modules:
//! - [`proto`]: the NATS protocol decoder (both directions) and encoders,
//!   CONNECT / INFO JSON, the `NATS/1.0` header block.
//! - [`subject`]: validated subjects and filters, wildcard matching and the
//!   [`subject::Sublist`] trie with its match cache.
//! - [`ws`]: the RFC 6455 upgrade handshake and frame codec, and
//!   permessage-deflate (RFC 7692) behind the `deflate` feature.
//! - [`session`] and [`router`]: the per-connection state machine and the
//!   subject space that turns a publish into deliveries.
//!
//! Features: `std` (default; core never does I/O either way) and `deflate`
//! (permessage-deflate through flate2, implies `std`).
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![warn(clippy::std_instead_of_core, clippy::alloc_instead_of_core)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

#[cfg(feature = "auth")]
pub mod auth;
pub mod mqtt;
pub mod proto;
pub mod proxy_protocol;
pub mod router;
pub mod session;
pub mod subject;
pub mod sysreq;
pub mod time;
pub mod ws;
