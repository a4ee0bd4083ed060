//! natsws-core's vector suites compiled to wasm32 and run with
//! wasm-bindgen-test: in Node by default, in headless Chromium with
//! `WASM_BINDGEN_USE_BROWSER=1` (scripts/test-wasm.sh runs both). The
//! suites are core's own `core/tests/*.rs` files, included by build.rs (see
//! there for the list): RFC 6455 §1.3 / §5.7 / §7.4 vectors, the NATS op
//! must-pass / must-fail lists, CONNECT/INFO JSON and headers, subject
//! tables, and the in-memory session harness.
#![cfg(target_arch = "wasm32")]
#![allow(missing_docs, unreachable_pub)]

include!(concat!(env!("OUT_DIR"), "/core_tests.rs"));
