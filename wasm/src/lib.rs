//! # natsws-wasm
//!
//! JavaScript bindings of [`natsws_core`], built with wasm-bindgen for
//! `wasm32-unknown-unknown` and shipped as the npm package `natsws-wasm`
//! (`npm run build:wasm` writes it to `wasm/pkg`). The bindings are thin:
//! every check, limit and error text is core's.
//!
//! What JavaScript gets (TypeScript declarations are generated):
//!
//! | export | core | what it does |
//! | --- | --- | --- |
//! | `ServerDecoder`, `ClientDecoder` | `proto::{ServerDecoder, ClientDecoder}` | feed NATS bytes with `push(bytes)`, get ops as plain objects |
//! | `encodeConnect`, `encodePub`, `encodeHpub`, `encodeSub`, `encodeUnsub`, `encodePing`, `encodePong`, `encodeMsg`, `encodeHmsg`, `encodeInfo`, `encodeErr` | `proto::encode_*` | one op as a `Uint8Array` |
//! | `parseHeaders`, `buildHeaders` | `proto::headers` | the `NATS/1.0` header block |
//! | `WsDecoder`, `WsRole` | `ws::Decoder` | WebSocket frames in the server or client role, as events |
//! | `wsWriteFrame`, `wsWritePing`, `wsWritePong`, `wsWriteClose`, `wsWriteCloseReply`, `wsFrameBatch` | `ws::codec` | frame encoders; masking keys come from JavaScript |
//! | `acceptKey` | `ws::handshake::accept_key` | `Sec-WebSocket-Accept` (RFC 6455 §4.2.2) |
//! | `validateSubject`, `validateFilter`, `validateQueueGroup`, `filterMatches` | `subject` | subject rules and wildcard matching |
//! | `Sublist` | `subject::Sublist` | the subscription index, with any JS value as subscription id |
//! | `InPageCore` | `router::Router`, `session::Session`, `auth` | a NATS server inside the page, driven by `InPageServer` (`inpage.js`) |
//!
//! Conventions:
//! - Bytes are `Uint8Array` both ways (copied across the wasm boundary).
//!   Subjects, sids, queue names and reply subjects are JS strings, sent as
//!   UTF-8; received ones are decoded as UTF-8 (invalid sequences become
//!   U+FFFD).
//! - A core error is thrown as a JS `Error` whose `name` is the core error's
//!   variant name (`"UnknownOp"`, `"MaxPayloadExceeded"`, `"MaskBitMissing"`,
//!   `"EmptyToken"`, …) and whose `message` is its `Display` text. It also
//!   carries `layer` (`"proto"`, `"ws"`, `"subject"` or `"headers"`) and the
//!   layer's wire reaction: `errText` (the exact nats-server `-ERR` text, or
//!   `undefined`) and `closedReason` for `proto`, `closeCode` / `httpStatus`
//!   for `ws`. Decoder errors also carry what was decoded before the error
//!   (`ops` or `events`).
//! - A JS argument of the wrong shape (a mask that is not 4 bytes, a count
//!   that is not a whole number) throws a `TypeError` or `RangeError`.
//!
//! On targets other than `wasm32` the crate is empty, so `cargo test
//! --workspace` on the host never builds it.
#![warn(missing_docs)]

#[cfg(target_arch = "wasm32")]
mod error;
#[cfg(target_arch = "wasm32")]
pub mod inpage;
#[cfg(target_arch = "wasm32")]
mod js;
#[cfg(target_arch = "wasm32")]
pub mod proto;
#[cfg(target_arch = "wasm32")]
pub mod subject;
#[cfg(target_arch = "wasm32")]
pub mod ws;

/// The package version (the workspace version, which is also the npm
/// package's version).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The package version, for JavaScript: `version()` returns e.g. `"0.1.0"`.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn version() -> String {
    VERSION.into()
}
