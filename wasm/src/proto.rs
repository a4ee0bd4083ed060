//! The NATS client protocol for JavaScript: push decoders that return ops as
//! plain objects, and encoders that return one op as a `Uint8Array`
//! (core `proto`, spec `nats-protocol.md` §1).

use js_sys::{Array, JsString, Object, Uint8Array};
use natsws_core::proto::{self as core_proto, headers, ClientOp, Limits, ServerOp};
use natsws_core::subject::{validate_filter, validate_queue_group};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::error;
use crate::js::{bytes, opt_text, set, tagged, text, whole};

#[wasm_bindgen(typescript_custom_section)]
const OP_TYPES: &'static str = r#"
/** An op a server sends (spec §1.3), as returned by `ServerDecoder.push`.
 *  `json` is the raw INFO JSON (use `JSON.parse`); `text` is the raw -ERR
 *  text, quotes included. */
export type ServerOp =
  | { op: "INFO"; json: string }
  | { op: "MSG"; subject: string; sid: string; reply?: string; payload: Uint8Array }
  | { op: "HMSG"; subject: string; sid: string; reply?: string; headers: Uint8Array; payload: Uint8Array }
  | { op: "+OK" }
  | { op: "-ERR"; text: string }
  | { op: "PING" }
  | { op: "PONG" };

/** An op a client sends (spec §1.2), as returned by `ClientDecoder.push`.
 *  `maxMsgs` is absent for "unsubscribe now". */
export type ClientOp =
  | { op: "CONNECT"; json: string }
  | { op: "PUB"; subject: string; reply?: string; payload: Uint8Array }
  | { op: "HPUB"; subject: string; reply?: string; headers: Uint8Array; payload: Uint8Array }
  | { op: "SUB"; subject: string; queue?: string; sid: string }
  | { op: "UNSUB"; sid: string; maxMsgs?: number }
  | { op: "PING" }
  | { op: "PONG" }
  | { op: "INFO"; json: string }
  | { op: "+OK" }
  | { op: "-ERR"; text: string };

/** A parsed `NATS/1.0` header block: inline status (e.g. 503 for no
 *  responders), its description, and the fields in order (repeated names
 *  kept). */
export interface ParsedHeaders {
  status?: number;
  description: string;
  fields: [string, string][];
}
"#;

fn limits(max_control_line: Option<u32>, max_payload: Option<u32>) -> Limits {
    let d = Limits::default();
    Limits {
        max_control_line: max_control_line.map_or(d.max_control_line, |n| n as usize),
        max_payload: max_payload.map_or(d.max_payload, |n| n as usize),
    }
}

/// Appends `input` to `buf`, decodes every complete op with `step` (core's
/// `decode` contract: `Some((op, used))` or `None` for "need more"), keeps
/// the unconsumed tail. On a (sticky) error the ops decoded before it are
/// attached to the thrown error as `ops`.
fn decode_all(
    buf: &mut Vec<u8>,
    input: &[u8],
    mut step: impl FnMut(&[u8]) -> Result<Option<(JsValue, usize)>, core_proto::Error>,
) -> Result<Array, JsValue> {
    buf.extend_from_slice(input);
    let ops = Array::new();
    let mut pos = 0;
    let res = loop {
        match step(&buf[pos..]) {
            Ok(Some((op, used))) => {
                ops.push(&op);
                pos += used;
            }
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    buf.drain(..pos);
    match res {
        Ok(()) => Ok(ops),
        Err(e) => {
            let err = error::proto(&e);
            set(&err, "ops", &ops);
            Err(err.into())
        }
    }
}

fn server_op(op: &ServerOp<'_>) -> JsValue {
    let o = match *op {
        ServerOp::Info(json) => {
            let o = tagged("op", "INFO");
            set(&o, "json", &text(json));
            o
        }
        ServerOp::Msg {
            subject,
            sid,
            reply,
            payload,
        } => {
            let o = tagged("op", "MSG");
            set(&o, "subject", &text(subject));
            set(&o, "sid", &text(sid));
            set(&o, "reply", &opt_text(reply));
            set(&o, "payload", &bytes(payload));
            o
        }
        ServerOp::Hmsg {
            subject,
            sid,
            reply,
            headers,
            payload,
        } => {
            let o = tagged("op", "HMSG");
            set(&o, "subject", &text(subject));
            set(&o, "sid", &text(sid));
            set(&o, "reply", &opt_text(reply));
            set(&o, "headers", &bytes(headers));
            set(&o, "payload", &bytes(payload));
            o
        }
        ServerOp::Ok => tagged("op", "+OK"),
        ServerOp::Err(t) => {
            let o = tagged("op", "-ERR");
            set(&o, "text", &text(t));
            o
        }
        ServerOp::Ping => tagged("op", "PING"),
        ServerOp::Pong => tagged("op", "PONG"),
    };
    o.into()
}

fn client_op(op: &ClientOp<'_>) -> JsValue {
    let o = match *op {
        ClientOp::Connect(json) => {
            let o = tagged("op", "CONNECT");
            set(&o, "json", &text(json));
            o
        }
        ClientOp::Pub {
            subject,
            reply,
            payload,
        } => {
            let o = tagged("op", "PUB");
            set(&o, "subject", &text(subject));
            set(&o, "reply", &opt_text(reply));
            set(&o, "payload", &bytes(payload));
            o
        }
        ClientOp::Hpub {
            subject,
            reply,
            headers,
            payload,
        } => {
            let o = tagged("op", "HPUB");
            set(&o, "subject", &text(subject));
            set(&o, "reply", &opt_text(reply));
            set(&o, "headers", &bytes(headers));
            set(&o, "payload", &bytes(payload));
            o
        }
        ClientOp::Sub {
            subject,
            queue,
            sid,
        } => {
            let o = tagged("op", "SUB");
            set(&o, "subject", &text(subject));
            set(&o, "queue", &opt_text(queue));
            set(&o, "sid", &text(sid));
            o
        }
        ClientOp::Unsub { sid, max_msgs } => {
            let o = tagged("op", "UNSUB");
            set(&o, "sid", &text(sid));
            let m = max_msgs.map_or(JsValue::UNDEFINED, |m| JsValue::from(m as f64));
            set(&o, "maxMsgs", &m);
            o
        }
        ClientOp::Ping => tagged("op", "PING"),
        ClientOp::Pong => tagged("op", "PONG"),
        ClientOp::Info(json) => {
            let o = tagged("op", "INFO");
            set(&o, "json", &text(json));
            o
        }
        ClientOp::Ok => tagged("op", "+OK"),
        ClientOp::Err(t) => {
            let o = tagged("op", "-ERR");
            set(&o, "text", &text(t));
            o
        }
    };
    o.into()
}

/// Decodes what a NATS server sends (`INFO`, `MSG`, `HMSG`, `+OK`, `-ERR`,
/// `PING`, `PONG`; spec §1.3): the decoder of a browser client. Feed it the
/// byte stream in pieces of any size (for WebSocket: the payloads of the
/// binary messages in order); it keeps an op that straddles pieces.
#[wasm_bindgen]
pub struct ServerDecoder {
    inner: core_proto::ServerDecoder,
    buf: Vec<u8>,
}

#[wasm_bindgen]
impl ServerDecoder {
    /// A decoder with nats-server's limits unless given: `max_control_line`
    /// (bytes of a control line's arguments, default 4096) and
    /// `max_payload` (bytes of one payload, default 1048576; a client sets
    /// it from the server's INFO `max_payload`).
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(js_name = maxControlLine)] max_control_line: Option<u32>,
        #[wasm_bindgen(js_name = maxPayload)] max_payload: Option<u32>,
    ) -> ServerDecoder {
        ServerDecoder {
            inner: core_proto::ServerDecoder::new(limits(max_control_line, max_payload)),
            buf: Vec::new(),
        }
    }

    /// Appends `bytes` and returns every op now complete, in order
    /// (`ServerOp[]`, possibly empty). Payloads are copies.
    ///
    /// Throws the core `proto` error (`UnknownOp`, `MaxControlLineExceeded`,
    /// `MaxPayloadExceeded`, `InvalidArgCount`, `InvalidSize`,
    /// `HeaderSizeTooLarge`) with the ops decoded before it in `err.ops`;
    /// errors are sticky (every later call throws again).
    #[wasm_bindgen(unchecked_return_type = "ServerOp[]")]
    pub fn push(&mut self, bytes: &[u8]) -> Result<Array, JsValue> {
        let dec = &mut self.inner;
        decode_all(&mut self.buf, bytes, |input| {
            dec.decode(input)
                .map(|r| r.map(|(op, used)| (server_op(&op), used)))
        })
    }

    /// Changes the payload limit (bytes), e.g. to the server's INFO
    /// `max_payload`; applies to checks made from now on.
    #[wasm_bindgen(js_name = setMaxPayload)]
    pub fn set_max_payload(&mut self, #[wasm_bindgen(js_name = maxPayload)] max_payload: u32) {
        let mut l = self.inner.limits();
        l.max_payload = max_payload as usize;
        self.inner.set_limits(l);
    }

    /// Bytes held for an op not yet complete.
    #[wasm_bindgen(getter)]
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Whether a fatal error was thrown (every later `push` throws it).
    #[wasm_bindgen(getter, js_name = isPoisoned)]
    pub fn is_poisoned(&self) -> bool {
        self.inner.is_poisoned()
    }
}

/// Decodes what a NATS client sends (`CONNECT`, `PUB`, `HPUB`, `SUB`,
/// `UNSUB`, `PING`, `PONG`, and `INFO`/`+OK`/`-ERR`; spec §1.2): the decoder
/// of a server, or of a test that checks what a client wrote.
#[wasm_bindgen]
pub struct ClientDecoder {
    inner: core_proto::ClientDecoder,
    buf: Vec<u8>,
}

#[wasm_bindgen]
impl ClientDecoder {
    /// A decoder with nats-server's limits unless given (see
    /// `ServerDecoder`'s constructor). HPUB is accepted until
    /// `setHeaders(false)`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(js_name = maxControlLine)] max_control_line: Option<u32>,
        #[wasm_bindgen(js_name = maxPayload)] max_payload: Option<u32>,
    ) -> ClientDecoder {
        ClientDecoder {
            inner: core_proto::ClientDecoder::new(limits(max_control_line, max_payload)),
            buf: Vec::new(),
        }
    }

    /// Appends `bytes` and returns every op now complete (`ClientOp[]`).
    /// Throws like `ServerDecoder.push` (and `HeadersNotSupported` for HPUB
    /// after `setHeaders(false)`), with the ops decoded before the error in
    /// `err.ops`.
    #[wasm_bindgen(unchecked_return_type = "ClientOp[]")]
    pub fn push(&mut self, bytes: &[u8]) -> Result<Array, JsValue> {
        let dec = &mut self.inner;
        decode_all(&mut self.buf, bytes, |input| {
            dec.decode(input)
                .map(|r| r.map(|(op, used)| (client_op(&op), used)))
        })
    }

    /// Whether HPUB is allowed (default true; false for a client whose
    /// CONNECT did not say `"headers":true`, spec §1.2).
    #[wasm_bindgen(js_name = setHeaders)]
    pub fn set_headers(&mut self, allowed: bool) {
        self.inner.set_headers(allowed);
    }

    /// Changes the payload limit (bytes); applies from now on.
    #[wasm_bindgen(js_name = setMaxPayload)]
    pub fn set_max_payload(&mut self, #[wasm_bindgen(js_name = maxPayload)] max_payload: u32) {
        let mut l = self.inner.limits();
        l.max_payload = max_payload as usize;
        self.inner.set_limits(l);
    }

    /// Bytes held for an op not yet complete.
    #[wasm_bindgen(getter)]
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Whether a fatal error was thrown (every later `push` throws it).
    #[wasm_bindgen(getter, js_name = isPoisoned)]
    pub fn is_poisoned(&self) -> bool {
        self.inner.is_poisoned()
    }
}

// ---------------------------------------------------------------- encoders

/// An argument that goes on the wire as one token: non-empty, no blank
/// (spec §1.1). Throws the subject error `Empty` or `Whitespace`.
fn token(s: &str) -> Result<&[u8], JsValue> {
    validate_queue_group(s.as_bytes()).map_err(|e| JsValue::from(error::subject(e)))?;
    Ok(s.as_bytes())
}

fn opt_token(s: &Option<String>) -> Result<Option<&[u8]>, JsValue> {
    s.as_deref().map(token).transpose()
}

/// JSON text from a string (used as is) or any other value
/// (`JSON.stringify`).
fn json_text(v: &JsValue) -> Result<String, JsValue> {
    if let Some(s) = v.as_string() {
        return Ok(s);
    }
    let s: JsString = js_sys::JSON::stringify(v)?;
    Ok(s.into())
}

fn out(buf: Vec<u8>) -> Uint8Array {
    Uint8Array::from(buf.as_slice())
}

/// `CONNECT <json>\r\n`. `options` is the CONNECT object (or its JSON text);
/// it is read the way nats-server reads it (case-insensitive keys, spec
/// §1.4 defaults: `verbose`, `pedantic` and `echo` default to true) and
/// written back in nats-server's field order, so unknown keys are dropped.
/// Throws `InvalidJson` (proto) for malformed JSON or a wrongly typed value.
#[wasm_bindgen(js_name = encodeConnect)]
pub fn encode_connect(
    #[wasm_bindgen(unchecked_param_type = "object | string")] options: JsValue,
) -> Result<Uint8Array, JsValue> {
    let json = json_text(&options)?;
    let c = core_proto::Connect::from_json(json.as_bytes()).map_err(|e| error::proto(&e))?;
    let mut buf = Vec::new();
    core_proto::encode_connect(&mut buf, &c);
    Ok(out(buf))
}

/// `INFO <json> \r\n` as nats-server writes it (spec §1.5 field order and
/// omissions). `info` is the INFO object or its JSON text. Throws
/// `InvalidJson` (proto).
#[wasm_bindgen(js_name = encodeInfo)]
pub fn encode_info(
    #[wasm_bindgen(unchecked_param_type = "object | string")] info: JsValue,
) -> Result<Uint8Array, JsValue> {
    let json = json_text(&info)?;
    let i = core_proto::Info::from_json(json.as_bytes()).map_err(|e| error::proto(&e))?;
    let mut buf = Vec::new();
    core_proto::encode_info(&mut buf, &i);
    Ok(out(buf))
}

/// `PUB <subject> [reply] <#bytes>\r\n<payload>\r\n` (spec §1.2). `subject`
/// and `reply` must be non-empty without blanks (throws the subject error
/// `Empty` / `Whitespace`); use `validateSubject` for the full literal-subject
/// rules.
#[wasm_bindgen(js_name = encodePub)]
pub fn encode_pub(
    subject: &str,
    payload: &[u8],
    reply: Option<String>,
) -> Result<Uint8Array, JsValue> {
    let mut buf = Vec::new();
    core_proto::encode_pub(&mut buf, token(subject)?, opt_token(&reply)?, payload);
    Ok(out(buf))
}

/// `HPUB <subject> [reply] <#header bytes> <#total bytes>\r\n<headers><payload>\r\n`
/// (spec §1.2). `headers` is a whole `NATS/1.0` block (see `buildHeaders`).
/// Arguments checked as in `encodePub`.
#[wasm_bindgen(js_name = encodeHpub)]
pub fn encode_hpub(
    subject: &str,
    headers: &[u8],
    payload: &[u8],
    reply: Option<String>,
) -> Result<Uint8Array, JsValue> {
    let mut buf = Vec::new();
    core_proto::encode_hpub(
        &mut buf,
        token(subject)?,
        opt_token(&reply)?,
        headers,
        payload,
    );
    Ok(out(buf))
}

/// `SUB <subject> [queue] <sid>\r\n` (spec §1.2). `subject` must be a valid
/// filter (throws `Empty`, `EmptyToken`, `FullWildcardNotLast` or
/// `Whitespace`); `sid` and `queue` non-empty without blanks.
#[wasm_bindgen(js_name = encodeSub)]
pub fn encode_sub(subject: &str, sid: &str, queue: Option<String>) -> Result<Uint8Array, JsValue> {
    validate_filter(subject.as_bytes()).map_err(error::subject)?;
    let mut buf = Vec::new();
    core_proto::encode_sub(
        &mut buf,
        subject.as_bytes(),
        opt_token(&queue)?,
        token(sid)?,
    );
    Ok(out(buf))
}

/// `UNSUB <sid> [max_msgs]\r\n` (spec §1.2): without `maxMsgs`, unsubscribe
/// now; with it, after that many messages in total (a whole number
/// 1–999999999, else `RangeError`).
#[wasm_bindgen(js_name = encodeUnsub)]
pub fn encode_unsub(
    sid: &str,
    #[wasm_bindgen(js_name = maxMsgs)] max_msgs: Option<f64>,
) -> Result<Uint8Array, JsValue> {
    let max = match max_msgs {
        None => None,
        Some(m) => match whole(m, "maxMsgs", 999_999_999.0)? {
            0 => return Err(js_sys::RangeError::new("maxMsgs must be at least 1").into()),
            n => Some(n),
        },
    };
    let mut buf = Vec::new();
    core_proto::encode_unsub(&mut buf, token(sid)?, max);
    Ok(out(buf))
}

/// `PING\r\n`.
#[wasm_bindgen(js_name = encodePing)]
pub fn encode_ping() -> Uint8Array {
    Uint8Array::from(core_proto::PING)
}

/// `PONG\r\n`.
#[wasm_bindgen(js_name = encodePong)]
pub fn encode_pong() -> Uint8Array {
    Uint8Array::from(core_proto::PONG)
}

/// `MSG <subject> <sid> [reply] <#bytes>\r\n<payload>\r\n` (spec §1.3), as a
/// server delivers it. Arguments non-empty without blanks.
#[wasm_bindgen(js_name = encodeMsg)]
pub fn encode_msg(
    subject: &str,
    sid: &str,
    payload: &[u8],
    reply: Option<String>,
) -> Result<Uint8Array, JsValue> {
    let mut buf = Vec::new();
    core_proto::encode_msg(
        &mut buf,
        token(subject)?,
        token(sid)?,
        opt_token(&reply)?,
        payload,
    );
    Ok(out(buf))
}

/// `HMSG <subject> <sid> [reply] <#header bytes> <#total bytes>\r\n<headers><payload>\r\n`
/// (spec §1.3). Arguments non-empty without blanks.
#[wasm_bindgen(js_name = encodeHmsg)]
pub fn encode_hmsg(
    subject: &str,
    sid: &str,
    headers: &[u8],
    payload: &[u8],
    reply: Option<String>,
) -> Result<Uint8Array, JsValue> {
    let mut buf = Vec::new();
    core_proto::encode_hmsg(
        &mut buf,
        token(subject)?,
        token(sid)?,
        opt_token(&reply)?,
        headers,
        payload,
    );
    Ok(out(buf))
}

/// `-ERR '<text>'\r\n` (spec §1.3).
#[wasm_bindgen(js_name = encodeErr)]
pub fn encode_err(text: &str) -> Uint8Array {
    let mut buf = Vec::new();
    core_proto::encode_err(&mut buf, text);
    out(buf)
}

// ---------------------------------------------------------------- headers

/// Parses a whole `NATS/1.0` header block (the `headers` of an HMSG/HPUB op,
/// spec §1.6) into `{ status?, description, fields }`; values are trimmed,
/// names kept as sent, repeated names kept in order. Throws the `headers`
/// error `MissingVersion`, `Unterminated`, `InvalidStatus`, `InvalidName`,
/// `InvalidValue` or `TrailingBytes`.
#[wasm_bindgen(js_name = parseHeaders, unchecked_return_type = "ParsedHeaders")]
pub fn parse_headers(block: &[u8]) -> Result<Object, JsValue> {
    let h = headers::parse(block).map_err(error::headers)?;
    let o = Object::new();
    let status = h.status().map_or(JsValue::UNDEFINED, JsValue::from);
    set(&o, "status", &status);
    set(&o, "description", &text(h.description()));
    let fields = Array::new();
    for (name, value) in h.iter() {
        fields.push(&Array::of2(&text(name), &text(value)));
    }
    set(&o, "fields", &fields);
    Ok(o)
}

/// Builds a `NATS/1.0` header block from `[name, value]` pairs (repeated
/// names allowed), with an optional inline `status` (100–999) and
/// `description`. Throws the `headers` error `InvalidName`, `InvalidValue`
/// or `InvalidStatus`, or a `TypeError` if a field is not a pair of strings.
#[wasm_bindgen(js_name = buildHeaders)]
pub fn build_headers(
    #[wasm_bindgen(unchecked_param_type = "[string, string][]")] fields: Array,
    status: Option<u16>,
    description: Option<String>,
) -> Result<Uint8Array, JsValue> {
    let mut buf = Vec::new();
    let mut w = match status {
        None => headers::HeaderWriter::new(&mut buf),
        Some(s) => headers::HeaderWriter::with_status(
            &mut buf,
            s,
            description.as_deref().unwrap_or("").as_bytes(),
        )
        .map_err(error::headers)?,
    };
    for f in fields.iter() {
        let pair = f.dyn_ref::<Array>();
        let (name, value) = match pair.map(|p| (p.get(0).as_string(), p.get(1).as_string())) {
            Some((Some(n), Some(v))) => (n, v),
            _ => {
                return Err(js_sys::TypeError::new(
                    "a header field is a [name, value] pair of strings",
                )
                .into())
            }
        };
        w.insert(name.as_bytes(), value.as_bytes())
            .map_err(error::headers)?;
    }
    w.finish();
    Ok(out(buf))
}
