//! The WebSocket frame codec for JavaScript, in the server and the client
//! role (core `ws`, RFC 6455 §5), and the accept-key computation
//! (RFC 6455 §4.2.2). Core has no randomness: masking keys for frames sent
//! in the client role come from JavaScript (e.g.
//! `crypto.getRandomValues(new Uint8Array(4))`, RFC 6455 §5.3).

use js_sys::{Array, Function, Uint8Array};
use natsws_core::ws::{self as core_ws, codec, handshake, CloseCode, Event, OpCode};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::error;
use crate::js::{bytes, mask, set, tagged, whole};

#[wasm_bindgen(typescript_custom_section)]
const EVENT_TYPES: &'static str = r#"
/** What `WsDecoder.push` found, in order. `data` events are pieces of a
 *  message's payload (unmasked; still compressed if `compressed`); their
 *  concatenation in order is the message, `fin` marks its last piece. A
 *  `close` event's `code` is absent when the frame had no payload. */
export type WsEvent =
  | { type: "data"; payload: Uint8Array; fin: boolean; compressed: boolean; text: boolean }
  | { type: "ping"; payload: Uint8Array }
  | { type: "pong"; payload: Uint8Array }
  | { type: "close"; code?: number; reason: string };
"#;

/// Which end of the connection the decoder is (RFC 6455 §5.1).
#[wasm_bindgen]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WsRole {
    /// We accepted the connection: frames we receive must be masked (unless
    /// `noMasking` was agreed); we never mask.
    Server = 0,
    /// We opened the connection: frames we receive must not be masked; we
    /// mask every frame we send.
    Client = 1,
}

fn event(ev: &Event<'_>) -> JsValue {
    let o = match *ev {
        Event::Data {
            payload,
            fin,
            compressed,
            text,
        } => {
            let o = tagged("type", "data");
            set(&o, "payload", &bytes(payload));
            set(&o, "fin", &JsValue::from_bool(fin));
            set(&o, "compressed", &JsValue::from_bool(compressed));
            set(&o, "text", &JsValue::from_bool(text));
            o
        }
        Event::Ping(p) => {
            let o = tagged("type", "ping");
            set(&o, "payload", &bytes(p));
            o
        }
        Event::Pong(p) => {
            let o = tagged("type", "pong");
            set(&o, "payload", &bytes(p));
            o
        }
        Event::Close { code, reason } => {
            let o = tagged("type", "close");
            let c = code.map_or(JsValue::UNDEFINED, |c| JsValue::from(c.0));
            set(&o, "code", &c);
            set(&o, "reason", &JsValue::from_str(reason));
            o
        }
    };
    o.into()
}

/// Resumable frame decoder of one connection (RFC 6455 §5.2, with
/// nats-server's order of checks). Frames may span `push` calls and one call
/// may hold many frames; control frames may sit between fragments (§5.4).
/// Settings (defaults in brackets) may be changed between messages.
#[wasm_bindgen]
pub struct WsDecoder {
    inner: core_ws::Decoder,
}

#[wasm_bindgen]
impl WsDecoder {
    /// A decoder at the start of a frame stream, in `role`, with core's
    /// defaults for that role.
    #[wasm_bindgen(constructor)]
    pub fn new(role: WsRole) -> WsDecoder {
        let cfg = match role {
            WsRole::Server => core_ws::DecoderConfig::server(),
            WsRole::Client => core_ws::DecoderConfig::client(),
        };
        WsDecoder {
            inner: core_ws::Decoder::new(cfg),
        }
    }

    fn update(&mut self, f: impl FnOnce(&mut core_ws::DecoderConfig)) {
        let mut c = *self.inner.config();
        f(&mut c);
        self.inner.set_config(c);
    }

    /// Server role: `Nats-No-Masking: true` was accepted, so unmasked frames
    /// are allowed [false].
    #[wasm_bindgen(getter, js_name = noMasking)]
    pub fn no_masking(&self) -> bool {
        self.inner.config().no_masking
    }

    /// Sets `noMasking`.
    #[wasm_bindgen(setter, js_name = noMasking)]
    pub fn set_no_masking(&mut self, v: bool) {
        self.update(|c| c.no_masking = v);
    }

    /// permessage-deflate was negotiated, so RSV1 may be set on a message's
    /// first frame (RFC 7692 §6) [false]. Inflating is the caller's job.
    #[wasm_bindgen(getter)]
    pub fn compression(&self) -> bool {
        self.inner.config().compression
    }

    /// Sets `compression`.
    #[wasm_bindgen(setter)]
    pub fn set_compression(&mut self, v: bool) {
        self.update(|c| c.compression = v);
    }

    /// Validate uncompressed text messages as UTF-8 across fragments and fail
    /// with 1007 (RFC 6455 §8.1) [false: nats-server treats text like
    /// binary].
    #[wasm_bindgen(getter, js_name = validateUtf8)]
    pub fn validate_utf8(&self) -> bool {
        self.inner.config().validate_utf8
    }

    /// Sets `validateUtf8`.
    #[wasm_bindgen(setter, js_name = validateUtf8)]
    pub fn set_validate_utf8(&mut self, v: bool) {
        self.update(|c| c.validate_utf8 = v);
    }

    /// Limit on one uncompressed message in bytes, checked on each frame
    /// header before its payload (`MessageTooBig`, close 1009)
    /// [`Number.MAX_SAFE_INTEGER` here; core's default is no limit].
    #[wasm_bindgen(getter, js_name = maxMessage)]
    pub fn max_message(&self) -> f64 {
        (self.inner.config().max_message as f64).min(MAX_SAFE)
    }

    /// Sets `maxMessage` (a whole number of bytes, else `RangeError`).
    #[wasm_bindgen(setter, js_name = maxMessage)]
    pub fn set_max_message(&mut self, v: f64) -> Result<(), JsValue> {
        let n = whole(v, "maxMessage", MAX_SAFE)?;
        self.update(|c| c.max_message = n);
        Ok(())
    }

    /// Decodes `bytes` (every byte is consumed; partial headers and control
    /// payloads are kept inside) and returns the events found (`WsEvent[]`).
    /// After a `close` event all further input is ignored.
    ///
    /// Throws the core `ws` error (`ReservedBits`, `MaskBitMissing`,
    /// `MaskedFrameFromServer`, `ControlFrameTooLong`, `UnknownOpcode`,
    /// `InvalidCloseCode`, `MessageTooBig`, …) with `closeCode` (the close
    /// frame to answer with) and the events decoded before it in
    /// `err.events`; errors are sticky.
    #[wasm_bindgen(unchecked_return_type = "WsEvent[]")]
    pub fn push(&mut self, mut bytes: Vec<u8>) -> Result<Array, JsValue> {
        let events = Array::new();
        let mut pos = 0;
        while pos < bytes.len() {
            match self.inner.decode(&mut bytes[pos..]) {
                Ok((used, ev)) => {
                    pos += used;
                    match ev {
                        Some(ev) => {
                            events.push(&event(&ev));
                        }
                        None => break,
                    }
                }
                Err(e) => {
                    let err = error::ws(&e);
                    set(&err, "events", &events);
                    return Err(err.into());
                }
            }
        }
        Ok(events)
    }

    /// A close frame has been received; later input is ignored.
    #[wasm_bindgen(getter, js_name = isClosed)]
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }
}

/// `Number.MAX_SAFE_INTEGER`: the largest byte count a JS number holds
/// exactly.
const MAX_SAFE: f64 = 9_007_199_254_740_991.0;

fn ws_err(e: core_ws::Error) -> JsValue {
    error::ws(&e).into()
}

/// One data frame (RFC 6455 §5.2) as bytes: `opcode` 0 (continuation),
/// 1 (text) or 2 (binary), `fin`, `rsv1` (permessage-deflate), the payload,
/// and `mask` (4 bytes, client role) or none (server role). Throws
/// `ApiMisuse` (ws) for a control opcode.
#[wasm_bindgen(js_name = wsWriteFrame)]
pub fn ws_write_frame(
    opcode: u8,
    fin: bool,
    rsv1: bool,
    payload: &[u8],
    #[wasm_bindgen(js_name = mask)] mask_key: Option<Vec<u8>>,
) -> Result<Uint8Array, JsValue> {
    let m = mask(mask_key)?;
    let mut out = Vec::new();
    codec::write_frame(&mut out, OpCode(opcode), fin, rsv1, payload, m).map_err(ws_err)?;
    Ok(Uint8Array::from(out.as_slice()))
}

/// A ping frame (§5.5.2). Throws `ApiMisuse` (ws) for a payload above 125
/// bytes.
#[wasm_bindgen(js_name = wsWritePing)]
pub fn ws_write_ping(
    payload: &[u8],
    #[wasm_bindgen(js_name = mask)] mask_key: Option<Vec<u8>>,
) -> Result<Uint8Array, JsValue> {
    let m = mask(mask_key)?;
    let mut out = Vec::new();
    codec::write_ping(&mut out, payload, m).map_err(ws_err)?;
    Ok(Uint8Array::from(out.as_slice()))
}

/// A pong frame (§5.5.3), e.g. echoing a ping's payload. Throws `ApiMisuse`
/// (ws) for a payload above 125 bytes.
#[wasm_bindgen(js_name = wsWritePong)]
pub fn ws_write_pong(
    payload: &[u8],
    #[wasm_bindgen(js_name = mask)] mask_key: Option<Vec<u8>>,
) -> Result<Uint8Array, JsValue> {
    let m = mask(mask_key)?;
    let mut out = Vec::new();
    codec::write_pong(&mut out, payload, m).map_err(ws_err)?;
    Ok(Uint8Array::from(out.as_slice()))
}

/// A close frame with status `code` and `reason` (a reason above 123 bytes
/// is cut to 120 bytes plus `...`, spec §3.7). Throws `InvalidCloseCode`
/// (ws) for a code that may not be sent (1005, 1006, 1015, and anything
/// outside 1000–1003, 1007–1014, 3000–4999; RFC 6455 §7.4).
#[wasm_bindgen(js_name = wsWriteClose)]
pub fn ws_write_close(
    code: u16,
    reason: &str,
    #[wasm_bindgen(js_name = mask)] mask_key: Option<Vec<u8>>,
) -> Result<Uint8Array, JsValue> {
    let m = mask(mask_key)?;
    let sendable = CloseCode(code)
        .to_sendable()
        .ok_or_else(|| ws_err(core_ws::Error::InvalidCloseCode(code)))?;
    let mut out = Vec::new();
    codec::write_close(&mut out, sendable, reason, m);
    Ok(Uint8Array::from(out.as_slice()))
}

/// The reply to a received `close` event: the same `code` and `reason`, or
/// an empty close frame when `code` is undefined (spec §3.3).
#[wasm_bindgen(js_name = wsWriteCloseReply)]
pub fn ws_write_close_reply(
    code: Option<u16>,
    reason: &str,
    #[wasm_bindgen(js_name = mask)] mask_key: Option<Vec<u8>>,
) -> Result<Uint8Array, JsValue> {
    let m = mask(mask_key)?;
    let mut out = Vec::new();
    codec::write_close_reply(&mut out, code.map(CloseCode), reason, m);
    Ok(Uint8Array::from(out.as_slice()))
}

/// Reads the masking key of frame `i` from `source`: a `Uint8Array` with 4
/// bytes per frame, or a function returning 4 bytes per call.
fn key_at(source: &JsValue, i: usize) -> Result<[u8; 4], JsValue> {
    let too_few = || {
        JsValue::from(js_sys::RangeError::new(
            "not enough masking keys: 4 bytes per frame",
        ))
    };
    if let Some(f) = source.dyn_ref::<Function>() {
        let k = f.call0(&JsValue::UNDEFINED)?;
        let v = Uint8Array::new(&k).to_vec();
        return mask(Some(v)).map(|m| m.unwrap_or_default());
    }
    if let Some(a) = source.dyn_ref::<Uint8Array>() {
        let start = (i * 4) as u32;
        if start + 4 > a.length() {
            return Err(too_few());
        }
        let mut k = [0u8; 4];
        a.subarray(start, start + 4).copy_to(&mut k);
        return Ok(k);
    }
    Err(js_sys::TypeError::new("masks must be a Uint8Array or a function").into())
}

/// Frames a whole outbound batch as independent binary FIN frames, cut as
/// nats-server cuts them (spec §3.8): one frame when `maxFrame` is
/// undefined or 0, else frames of at most `maxFrame` bytes (4096 for
/// browsers). `masks` (client role): a `Uint8Array` with 4 bytes per frame
/// used in order, or a function called once per frame that returns 4 bytes;
/// none in the server role. An empty batch gives an empty array. Throws
/// `RangeError` when `masks` runs out.
#[wasm_bindgen(js_name = wsFrameBatch)]
pub fn ws_frame_batch(
    payload: &[u8],
    #[wasm_bindgen(js_name = maxFrame)] max_frame: Option<u32>,
    #[wasm_bindgen(unchecked_optional_param_type = "Uint8Array | (() => Uint8Array)")]
    masks: Option<JsValue>,
) -> Result<Uint8Array, JsValue> {
    let framing = codec::Framing {
        max_frame: max_frame.filter(|&n| n > 0).map(|n| n as usize),
    };
    let mut out = Vec::new();
    if let Some(masks) = masks.filter(|m| !m.is_null() && !m.is_undefined()) {
        let mut failed: Option<JsValue> = None;
        let mut i = 0;
        let mut next = || {
            if failed.is_some() {
                return [0; 4];
            }
            match key_at(&masks, i) {
                Ok(k) => {
                    i += 1;
                    k
                }
                Err(e) => {
                    failed = Some(e);
                    [0; 4]
                }
            }
        };
        codec::frame_batch(payload, &mut out, framing, Some(&mut next));
        if let Some(e) = failed {
            return Err(e);
        }
    } else {
        codec::frame_batch(payload, &mut out, framing, None);
    }
    Ok(Uint8Array::from(out.as_slice()))
}

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`: base64(SHA-1(key +
/// GUID)) (RFC 6455 §4.2.2; §1.3: `dGhlIHNhbXBsZSBub25jZQ==` →
/// `s3pPLMBiTxaQ9kYGzzhZRbK+xOo=`).
#[wasm_bindgen(js_name = acceptKey)]
pub fn accept_key(key: &str) -> String {
    handshake::accept_key(key.as_bytes()).as_str().into()
}

/// Whether `code` is valid in a received close frame, which is also the set
/// we may send: 1000–1003, 1007–1014, 3000–4999 (RFC 6455 §7.4).
#[wasm_bindgen(js_name = closeCodeIsValid)]
pub fn close_code_is_valid(code: u16) -> bool {
    CloseCode(code).is_valid_received()
}
