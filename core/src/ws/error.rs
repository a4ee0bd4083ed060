//! [`Error`]: every failure of the WebSocket layer, grouped by fault, each
//! with exactly one wire reaction ([`Error::reaction`]).

use alloc::string::String;
use core::fmt;

use super::frame::CloseCode;

/// What the connection must do about an [`Error`]: exactly one reaction per
/// error (STYLE §4.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reaction {
    /// Frame-level failure: send a close frame with `code` and the error's
    /// `Display` text as reason (truncated per spec §3.7), then close.
    Close {
        /// The status code of the close frame (1002, 1007, 1008, 1009 or 1011).
        code: CloseCode,
    },
    /// Handshake failure: answer with this HTTP status (spec §2.3/§2.4,
    /// see [`handshake::write_reject_response`](super::handshake::write_reject_response)),
    /// log the error's `Display` text, then close.
    Http {
        /// HTTP status code (400, 403, 404, 405, 431, 505).
        status: u16,
    },
    /// Drop the TCP connection without writing anything (spec §2.3 step 13;
    /// client-role handshake failures).
    Drop,
}

/// A failure of the WebSocket layer. `Display` gives nats-server's exact text
/// where one exists (spec §2.3, §3.1, §3.3, §3.5), lower-case otherwise.
///
/// Grouped by fault:
/// - malformed frames or frames illegal in the current state → close 1002;
/// - invalid UTF-8 (text message, close reason) or corrupt deflate data → 1007;
/// - limits exceeded → 1009;
/// - handshake errors → an HTTP status (or a silent drop);
/// - our own misuse of the API / internal bugs → 1011.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    // ---- malformed or illegal frames: close 1002 (spec §3.1, §3.3) ----
    /// RSV2 or RSV3 set: `RSV2 and RSV3 must be clear`.
    ReservedBits,
    /// RSV1 set without negotiated permessage-deflate.
    CompressedWithoutNegotiation,
    /// A frame from a client without the MASK bit (RFC 6455 §5.1).
    MaskBitMissing,
    /// A masked frame received in the client role (RFC 6455 §5.1).
    MaskedFrameFromServer,
    /// Control frame with a 7-bit length above 125.
    ControlFrameTooLong,
    /// Control frame without FIN.
    ControlFrameNotFinal,
    /// Control frame with RSV1.
    ControlFrameCompressed,
    /// Text/binary frame while a fragmented message is still open.
    NewMessageBeforeFinal,
    /// Continuation without a message in progress, or with RSV1.
    InvalidContinuation,
    /// Opcode 3–7 or 11–15.
    UnknownOpcode(u8),
    /// 64-bit length with the most significant bit set.
    Invalid64BitLength,
    /// Close frame with exactly one payload byte.
    CloseFramePayloadOneByte,
    /// Close status code not valid on the wire (RFC 6455 §7.4).
    InvalidCloseCode(u16),

    // ---- invalid payload data: close 1007 ----
    /// Close reason that is not UTF-8: the reply is close 1007
    /// `invalid utf8 body in close frame` (spec §3.3).
    InvalidCloseReasonUtf8,
    /// Text message that is not UTF-8 (only checked when
    /// [`DecoderConfig::validate_utf8`](super::DecoderConfig::validate_utf8) is on).
    InvalidUtf8Text,
    /// The permessage-deflate data could not be inflated (spec §3.5: the text
    /// contains `corrupt`).
    CorruptDeflate,

    // ---- limits: close 1009 ----
    /// A compressed message above its compressed limit, or inflating above
    /// max_payload: `maximum payload exceeded` (spec §3.5).
    MaxPayloadExceeded,
    /// An uncompressed message above
    /// [`DecoderConfig::max_message`](super::DecoderConfig::max_message).
    MessageTooBig {
        /// Bytes the message would have (at least).
        size: u64,
        /// The configured limit in bytes.
        max: u64,
    },

    // ---- handshake (server role): HTTP status (spec §2.1, §2.3) ----
    /// The request head is not valid HTTP/1.x (400).
    MalformedRequest,
    /// The HTTP version is not 1.x (505).
    HttpVersionNotSupported,
    /// The request head exceeded the configured cap, or had too many header
    /// lines (431).
    RequestHeadTooLarge,
    /// HTTP/1.1 without a `Host` header (400, net/http).
    MissingHostHeader,
    /// A `Host` value with a byte net/http's `httpguts.ValidHostHeader`
    /// refuses, e.g. a space (400, net/http).
    MalformedHostHeader,
    /// `/mqtt` path while MQTT is not enabled (404).
    MqttNotEnabled,
    /// Method other than `GET` (405).
    MethodNotGet,
    /// Empty `Host` (HTTP/1.0) (400).
    HostMissing,
    /// No `Upgrade: websocket` token (400).
    InvalidUpgradeHeader,
    /// Not a failure: a `GET` of the configured `health_path` without
    /// `Upgrade` (a load balancer's health check), answered `200
    /// {"status":"ok"}` and closed.
    HealthCheck,
    /// No `Connection: Upgrade` token (400).
    InvalidConnectionHeader,
    /// No or empty `Sec-WebSocket-Key` (400).
    KeyMissing,
    /// `Sec-WebSocket-Key` not base64 of 16 bytes (400).
    InvalidKey,
    /// No `Sec-WebSocket-Version: 13` token (400).
    InvalidVersion,
    /// The origin check failed (403); the text is the cause.
    OriginNotAllowed(String),
    /// Bytes followed the request head before the 101 was sent (spec §2.3
    /// step 13): Go drops the connection without a response.
    DataBeforeHandshake,

    // ---- handshake (client role) ----
    /// The server's response is not a valid 101 for our request.
    InvalidWebsocketConnection,
    /// The server accepted permessage-deflate without both
    /// no-context-takeover parameters.
    CompressionNegotiation,

    // ---- data the application does not take: close 1003 ----
    /// A text message on a connection that takes binary messages only
    /// ([`Inbound::set_binary_only`](super::inbound::Inbound::set_binary_only):
    /// MQTT over WebSocket, [MQTT-6.0.0-1], mqtt spec §1.3 IMPL).
    TextNotAllowed,

    // ---- our side ----
    /// The caller used the API wrongly (a bug on our side); close 1011.
    ApiMisuse(&'static str),
}

impl Error {
    /// The one wire reaction to this error.
    pub fn reaction(&self) -> Reaction {
        use Error::*;
        let close = |code| Reaction::Close { code };
        let http = |status| Reaction::Http { status };
        match self {
            ReservedBits
            | CompressedWithoutNegotiation
            | MaskBitMissing
            | MaskedFrameFromServer
            | ControlFrameTooLong
            | ControlFrameNotFinal
            | ControlFrameCompressed
            | NewMessageBeforeFinal
            | InvalidContinuation
            | UnknownOpcode(_)
            | Invalid64BitLength
            | CloseFramePayloadOneByte
            | InvalidCloseCode(_) => close(CloseCode::PROTOCOL_ERROR),
            InvalidCloseReasonUtf8 | InvalidUtf8Text | CorruptDeflate => {
                close(CloseCode::INVALID_PAYLOAD_DATA)
            }
            MaxPayloadExceeded | MessageTooBig { .. } => close(CloseCode::MESSAGE_TOO_BIG),
            TextNotAllowed => close(CloseCode::UNSUPPORTED_DATA),
            ApiMisuse(_) => close(CloseCode::INTERNAL_ERROR),
            MalformedRequest
            | MissingHostHeader
            | MalformedHostHeader
            | HostMissing
            | InvalidUpgradeHeader
            | InvalidConnectionHeader
            | KeyMissing
            | InvalidKey
            | InvalidVersion => http(400),
            OriginNotAllowed(_) => http(403),
            HealthCheck => http(200),
            MqttNotEnabled => http(404),
            MethodNotGet => http(405),
            RequestHeadTooLarge => http(431),
            HttpVersionNotSupported => http(505),
            DataBeforeHandshake | InvalidWebsocketConnection | CompressionNegotiation => {
                Reaction::Drop
            }
        }
    }

    /// The close code for a frame-level error, `None` for handshake errors.
    pub fn close_code(&self) -> Option<CloseCode> {
        match self.reaction() {
            Reaction::Close { code } => Some(code),
            _ => None,
        }
    }

    /// The HTTP status for a server-role handshake error, `None` otherwise.
    pub fn http_status(&self) -> Option<u16> {
        match self.reaction() {
            Reaction::Http { status } => Some(status),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Error::*;
        let s = match self {
            ReservedBits => "RSV2 and RSV3 must be clear",
            CompressedWithoutNegotiation => {
                "compressed frame received without negotiated permessage-deflate"
            }
            MaskBitMissing => "mask bit missing",
            MaskedFrameFromServer => "masked frame received from server",
            ControlFrameTooLong => "control frame length bigger than maximum allowed of 125 bytes",
            ControlFrameNotFinal => "control frame does not have final bit set",
            ControlFrameCompressed => "control frame must not be compressed",
            NewMessageBeforeFinal => {
                "new message started before final frame for previous message was received"
            }
            InvalidContinuation => "invalid continuation frame",
            UnknownOpcode(n) => return write!(f, "unknown opcode {n}"),
            Invalid64BitLength => "invalid 64-bit payload length",
            CloseFramePayloadOneByte => "close frame payload cannot be 1 byte",
            InvalidCloseCode(n) => return write!(f, "invalid close status code {n}"),
            InvalidCloseReasonUtf8 => "invalid utf8 body in close frame",
            InvalidUtf8Text => "invalid utf8 in text message",
            CorruptDeflate => "corrupt deflate data",
            MaxPayloadExceeded => "maximum payload exceeded",
            MessageTooBig { size, max } => {
                return write!(
                    f,
                    "message too big: {size} bytes exceeds limit of {max} bytes"
                )
            }
            MalformedRequest => "malformed HTTP request",
            HttpVersionNotSupported => "HTTP version not supported",
            RequestHeadTooLarge => "request header fields too large",
            MissingHostHeader => "missing required Host header",
            MalformedHostHeader => "malformed Host header",
            MqttNotEnabled => "mqtt websocket endpoint not enabled",
            MethodNotGet => "request method must be GET",
            HostMissing => "'Host' missing in request",
            InvalidUpgradeHeader => "invalid value for header 'Upgrade'",
            HealthCheck => "health check",
            InvalidConnectionHeader => "invalid value for header 'Connection'",
            KeyMissing => "key missing",
            InvalidKey => "invalid websocket key",
            InvalidVersion => "invalid version",
            OriginNotAllowed(why) => return write!(f, "origin not allowed: {why}"),
            DataBeforeHandshake => "client sent data before handshake is complete",
            InvalidWebsocketConnection => "invalid websocket connection",
            CompressionNegotiation => "compression negotiation error",
            TextNotAllowed => "text frames are not allowed: binary messages only",
            ApiMisuse(what) => return write!(f, "api misuse: {what}"),
        };
        f.write_str(s)
    }
}

impl core::error::Error for Error {}
