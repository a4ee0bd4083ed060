//! # natsws-web-tests
//!
//! Test-only crate: natsws-core compiled to `wasm32-unknown-unknown` and run
//! with wasm-bindgen-test in Node and in headless Chromium. The suites are in
//! `tests/`: `core_vectors.rs` (core's own vector suites, included by
//! `build.rs`) and `live.rs` (a browser `WebSocket` speaking NATS through
//! core to a running natsws). This library holds the helpers of the live
//! test: [`WsConn`], a promise-free async wrapper of the browser's
//! `WebSocket`, and [`NatsConn`], which decodes the NATS byte stream with
//! core's [`ServerDecoder`](natsws_core::proto::ServerDecoder) and encodes
//! with core's encoders.
//!
//! Empty on targets other than wasm32.
#![warn(missing_docs)]

#[cfg(target_arch = "wasm32")]
mod live;
#[cfg(target_arch = "wasm32")]
pub use live::{Closed, NatsConn, NextError, Op, WsConn};
