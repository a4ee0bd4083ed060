//! Core errors as JS `Error`s: `name` = the core variant name, `message` =
//! its `Display` text, plus `layer` and the layer's wire reaction.

use core::fmt::{Debug, Display};

use natsws_core::proto::headers::HeaderError;
use natsws_core::{proto, subject, ws};
use wasm_bindgen::JsValue;

use crate::js::set;

/// The variant name from a derived `Debug` text: `MessageTooBig { size: 3, .. }`
/// → `MessageTooBig`, `UnknownOpcode(3)` → `UnknownOpcode`.
fn variant_name(debug: &str) -> &str {
    let end = debug
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(debug.len());
    &debug[..end]
}

/// A JS `Error` for a core error `e` of `layer`.
fn make<E: Debug + Display>(layer: &str, e: &E) -> js_sys::Error {
    let err = js_sys::Error::new(&e.to_string());
    err.set_name(variant_name(&format!("{e:?}")));
    set(&err, "layer", &JsValue::from_str(layer));
    err
}

/// A `proto::Error` with `errText` (the exact `-ERR` text, or `undefined`
/// when nats-server closes silently) and `closedReason` (spec §1.9).
pub(crate) fn proto(e: &proto::Error) -> js_sys::Error {
    let err = make("proto", e);
    let text = e.err_text().map_or(JsValue::UNDEFINED, JsValue::from_str);
    set(&err, "errText", &text);
    set(&err, "closedReason", &JsValue::from_str(e.closed_reason()));
    err
}

/// A `ws::Error` with `closeCode` (the close frame to send, RFC 6455 §7.4)
/// and `httpStatus` (handshake errors), each `undefined` when not the
/// reaction.
pub(crate) fn ws(e: &ws::Error) -> js_sys::Error {
    let err = make("ws", e);
    let code = e
        .close_code()
        .map_or(JsValue::UNDEFINED, |c| JsValue::from(c.0));
    set(&err, "closeCode", &code);
    let status = e.http_status().map_or(JsValue::UNDEFINED, JsValue::from);
    set(&err, "httpStatus", &status);
    err
}

/// A `subject::Error` (invalid subject, filter or queue group).
pub(crate) fn subject(e: subject::Error) -> js_sys::Error {
    make("subject", &e)
}

/// A `headers::HeaderError` (malformed `NATS/1.0` block).
pub(crate) fn headers(e: HeaderError) -> js_sys::Error {
    make("headers", &e)
}
