//! The MQTT 3.1.1 packet codec: a push decoder for client packets and the
//! encoders for server packets.
//!
//! [`Decoder::decode`] takes every byte not yet consumed and returns
//! `Ok(Some((packet, n)))` (the packet used the first `n` bytes, borrowed
//! from the input), `Ok(None)` (need more bytes: present the same bytes
//! again followed by more) or `Err` (fatal and sticky). The size limit is
//! checked on the announced Remaining Length, before the body is buffered
//! (spec §2.1), so a caller never holds more than `max_payload` plus the
//! fixed header of one packet.
//!
//! Each check of spec §2.1–§2.7 is one [`Error`] variant with exactly one
//! [`Reaction`]: close without a word, or send a CONNACK with a return code
//! and close (spec §2.3 rows 5, 10, 13, 15, 16, 19, 20). The checks run in
//! nats-server's order (`mqttParse`, `mqttParseConnect`, `mqttParsePub`,
//! `mqttParseSubsOrUnsubs`), so the first failure decides.

use core::fmt;

/// CONNACK return codes (MQTT 3.1.1 §3.2.2.3, spec §0).
pub mod rc {
    /// Connection accepted.
    pub const ACCEPTED: u8 = 0x00;
    /// Unacceptable protocol version.
    pub const BAD_PROTOCOL_LEVEL: u8 = 0x01;
    /// Identifier rejected.
    pub const IDENTIFIER_REJECTED: u8 = 0x02;
    /// Server unavailable (never sent by nats-server).
    pub const SERVER_UNAVAILABLE: u8 = 0x03;
    /// Bad user name or password.
    pub const BAD_USER_OR_PASSWORD: u8 = 0x04;
    /// Not authorized.
    pub const NOT_AUTHORIZED: u8 = 0x05;
    /// nats-server's non-standard code for a QoS 2 will refused by
    /// `reject_qos2_publish`.
    pub const QOS2_WILL_REJECTED: u8 = 0x10;
}

/// SUBACK failure return code (MQTT 3.1.1 §3.9.3).
pub const SUBACK_FAILURE: u8 = 0x80;

/// Packet types (MQTT 3.1.1 §2.2.1).
pub mod kind {
    /// CONNECT.
    pub const CONNECT: u8 = 1;
    /// CONNACK.
    pub const CONNACK: u8 = 2;
    /// PUBLISH.
    pub const PUBLISH: u8 = 3;
    /// PUBACK.
    pub const PUBACK: u8 = 4;
    /// PUBREC.
    pub const PUBREC: u8 = 5;
    /// PUBREL.
    pub const PUBREL: u8 = 6;
    /// PUBCOMP.
    pub const PUBCOMP: u8 = 7;
    /// SUBSCRIBE.
    pub const SUBSCRIBE: u8 = 8;
    /// SUBACK.
    pub const SUBACK: u8 = 9;
    /// UNSUBSCRIBE.
    pub const UNSUBSCRIBE: u8 = 10;
    /// UNSUBACK.
    pub const UNSUBACK: u8 = 11;
    /// PINGREQ.
    pub const PINGREQ: u8 = 12;
    /// PINGRESP.
    pub const PINGRESP: u8 = 13;
    /// DISCONNECT.
    pub const DISCONNECT: u8 = 14;
}

/// The largest Remaining Length (4 bytes `ff ff ff 7f`).
pub const MAX_REMAINING_LENGTH: usize = 268_435_455;

/// Bytes of the NATS header block an MQTT publish carries
/// (`NATS/1.0\r\nNmqtt-Pub:N\r\n\r\n`), counted against `max_payload`
/// (spec §2.1).
pub const NMQTT_HEADER_LEN: usize = 25;

/// What the decoder is told by the server's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `max_payload`, bytes (default 1 MiB): the whole packet, and a
    /// PUBLISH's NATS message (payload plus [`NMQTT_HEADER_LEN`]).
    pub max_payload: usize,
    /// `mqtt { reject_qos2_publish }`: a QoS 2 PUBLISH closes, a QoS 2 will
    /// gets CONNACK 0x10.
    pub reject_qos2_publish: bool,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_payload: 1024 * 1024,
            reject_qos2_publish: false,
        }
    }
}

/// What the server does about an [`Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reaction {
    /// Close the connection, sending nothing.
    Close,
    /// Send CONNACK with this return code (session present 0), then close.
    Connack(u8),
}

/// A malformed or refused client packet (spec §2). Every variant closes the
/// connection; [`Error::reaction`] says whether a CONNACK goes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The first packet is not a CONNECT (§2.3 row 1); the packet type.
    NotConnect(u8),
    /// The first bytes are an HTTP request (`GET `): a WebSocket client on
    /// the MQTT port.
    HttpOnMqttPort,
    /// A second CONNECT (§2.3 row 24).
    SecondConnect,
    /// A reserved, or server-to-client, packet type (§2.1).
    UnknownType(u8),
    /// Wrong flags in byte 1 (§2.1, [MQTT-2.2.2-2]); the packet type.
    BadFlags(u8),
    /// A fifth Remaining Length byte.
    BadRemainingLength,
    /// The packet (or the NATS message of a PUBLISH) is over `max_payload`:
    /// (size, max_payload), bytes (a packet is at most 256 MiB, so both fit
    /// 32 bits; `max_payload` saturates).
    MaxPayload(u32, u32),
    /// A field runs past the end of the packet, or the Remaining Length is
    /// not what the packet type needs.
    Truncated,
    /// Protocol name other than `MQTT` (§2.3 row 4).
    ProtocolName,
    /// Protocol level other than 4 (§2.3 row 5): CONNACK 0x01.
    ProtocolLevel,
    /// CONNECT reserved flag set (row 6).
    ReservedFlag,
    /// Will QoS or retain without the will flag, or will QoS 3 (rows 7–9).
    WillFlags,
    /// A QoS 2 will with `reject_qos2_publish` (row 10): CONNACK 0x10.
    Qos2WillRejected,
    /// Password flag without user name flag (row 11).
    PasswordWithoutUser,
    /// Empty client id with clean session 0 (row 13): CONNACK 0x02.
    EmptyClientId,
    /// Client id not valid UTF-8, U+0000, or a character NATS names cannot
    /// hold (rows 15–16): CONNACK 0x02.
    BadClientId,
    /// Will topic empty, malformed, wildcarded or not mappable (rows 17–18).
    BadWillTopic,
    /// User name present but empty, or not valid UTF-8 (rows 19–20):
    /// CONNACK 0x04.
    BadUserName,
    /// PUBLISH QoS 3 ([MQTT-3.3.1-4]).
    Qos3,
    /// A QoS 2 PUBLISH with `reject_qos2_publish`.
    Qos2Rejected,
    /// A PUBLISH topic empty, malformed, wildcarded or not mappable (§2.4).
    BadTopic,
    /// Packet identifier 0 ([MQTT-2.3.1-1]).
    ZeroPacketId,
    /// SUBSCRIBE/UNSUBSCRIBE without a filter ([MQTT-3.8.3-3]).
    NoFilter,
    /// A filter empty, not valid UTF-8 or with U+0000 ([MQTT-3.8.3-1]).
    BadFilter,
    /// A requested QoS byte over 2 ([MQTT-3.8.3-4]).
    BadRequestedQos,
}

impl Error {
    /// What the server does (spec §2.3's reaction column).
    pub fn reaction(&self) -> Reaction {
        match self {
            Error::ProtocolLevel => Reaction::Connack(rc::BAD_PROTOCOL_LEVEL),
            Error::Qos2WillRejected => Reaction::Connack(rc::QOS2_WILL_REJECTED),
            Error::EmptyClientId | Error::BadClientId => Reaction::Connack(rc::IDENTIFIER_REJECTED),
            Error::BadUserName => Reaction::Connack(rc::BAD_USER_OR_PASSWORD),
            _ => Reaction::Close,
        }
    }

    /// Whether the close is nats-server's "Maximum Message Payload
    /// Exceeded" rather than a protocol violation.
    pub fn is_max_payload(&self) -> bool {
        matches!(self, Error::MaxPayload(..))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotConnect(t) => write!(
                f,
                "the first packet should be a CONNECT (16), got {}",
                t << 4
            ),
            Error::HttpOnMqttPort => f.write_str(
                "MQTT clients over websocket must connect to the Websocket port, not the MQTT port",
            ),
            Error::SecondConnect => f.write_str("second connect packet"),
            Error::UnknownType(t) => write!(f, "received unknown packet type {t}"),
            Error::BadFlags(t) => write!(f, "invalid flags for packet type {t}"),
            Error::BadRemainingLength => f.write_str("malformed variable int"),
            Error::MaxPayload(n, max) => write!(f, "maximum payload exceeded: {n} vs {max}"),
            Error::Truncated => f.write_str("invalid remaining length"),
            Error::ProtocolName => {
                f.write_str("expected connect packet with protocol name \"MQTT\"")
            }
            Error::ProtocolLevel => f.write_str("unacceptable protocol version"),
            Error::ReservedFlag => f.write_str("connect flags reserved bit not set to 0"),
            Error::WillFlags => f.write_str("invalid will flags"),
            Error::Qos2WillRejected => f.write_str("server does not accept QoS2 for Will messages"),
            Error::PasswordWithoutUser => f.write_str("password flag set but username flag is not"),
            Error::EmptyClientId => {
                f.write_str("when client ID is empty, clean session flag must be set to 1")
            }
            Error::BadClientId => f.write_str("invalid client ID"),
            Error::BadWillTopic => f.write_str("invalid will topic"),
            Error::BadUserName => f.write_str("invalid user name"),
            Error::Qos3 => f.write_str("QoS=3 is invalid in MQTT"),
            Error::Qos2Rejected => f.write_str("QoS-2 PUBLISH rejected"),
            Error::BadTopic => f.write_str("invalid topic"),
            Error::ZeroPacketId => f.write_str("packet identifier cannot be 0"),
            Error::NoFilter => {
                f.write_str("subscribe protocol must contain at least 1 topic filter")
            }
            Error::BadFilter => f.write_str("invalid topic filter"),
            Error::BadRequestedQos => f.write_str("invalid QoS"),
        }
    }
}

/// A will (MQTT 3.1.1 §3.1.2.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Will<'a> {
    /// Will topic (valid, mappable, no wildcards).
    pub topic: &'a str,
    /// Will message (binary).
    pub message: &'a [u8],
    /// 0, 1 or 2.
    pub qos: u8,
    /// Will retain.
    pub retain: bool,
}

/// A CONNECT that passed every check of spec §2.3 but authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connect<'a> {
    /// Clean session flag.
    pub clean: bool,
    /// Keep-alive, seconds (0: none).
    pub keep_alive: u16,
    /// Client id (may be empty only with `clean`).
    pub client_id: &'a str,
    /// The will, if the will flag is set.
    pub will: Option<Will<'a>>,
    /// User name (non-empty when present).
    pub user: Option<&'a str>,
    /// Password (binary).
    pub password: Option<&'a [u8]>,
}

/// A PUBLISH from a client (spec §2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Publish<'a> {
    /// DUP flag.
    pub dup: bool,
    /// 0, 1 or 2.
    pub qos: u8,
    /// RETAIN flag.
    pub retain: bool,
    /// Topic name (valid UTF-8, no wildcards, mappable).
    pub topic: &'a str,
    /// Packet identifier (non-zero when `qos > 0`; 0 for QoS 0).
    pub id: u16,
    /// Payload.
    pub payload: &'a [u8],
}

/// The (filter, requested QoS) pairs of a SUBSCRIBE, or the filters of an
/// UNSUBSCRIBE (QoS 0), already validated; iterate with [`Filters::iter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filters<'a> {
    raw: &'a [u8],
    with_qos: bool,
}

impl<'a> Filters<'a> {
    /// Each (filter, requested QoS), in packet order.
    pub fn iter(&self) -> FilterIter<'a> {
        FilterIter {
            raw: self.raw,
            with_qos: self.with_qos,
        }
    }
}

/// Iterator of [`Filters`].
#[derive(Debug, Clone)]
pub struct FilterIter<'a> {
    raw: &'a [u8],
    with_qos: bool,
}

impl<'a> Iterator for FilterIter<'a> {
    type Item = (&'a str, u8);
    fn next(&mut self) -> Option<(&'a str, u8)> {
        if self.raw.len() < 2 {
            return None;
        }
        let n = usize::from(u16::from_be_bytes([self.raw[0], self.raw[1]]));
        let f = core::str::from_utf8(self.raw.get(2..2 + n)?).ok()?;
        let mut used = 2 + n;
        let mut qos = 0;
        if self.with_qos {
            qos = *self.raw.get(used)?;
            used += 1;
        }
        self.raw = &self.raw[used..];
        Some((f, qos))
    }
}

/// A client packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packet<'a> {
    /// CONNECT.
    Connect(Connect<'a>),
    /// PUBLISH.
    Publish(Publish<'a>),
    /// PUBACK (packet identifier).
    Puback(u16),
    /// PUBREC.
    Pubrec(u16),
    /// PUBREL.
    Pubrel(u16),
    /// PUBCOMP.
    Pubcomp(u16),
    /// SUBSCRIBE.
    Subscribe {
        /// Packet identifier.
        id: u16,
        /// (filter, requested QoS) pairs.
        filters: Filters<'a>,
    },
    /// UNSUBSCRIBE.
    Unsubscribe {
        /// Packet identifier.
        id: u16,
        /// Filters (QoS 0 in the iterator).
        filters: Filters<'a>,
    },
    /// PINGREQ.
    Pingreq,
    /// DISCONNECT.
    Disconnect,
}

/// The push decoder of client packets (see the module docs).
///
/// 20 bytes, held by every MQTT connection: the limits are kept narrowed
/// (`max_payload` saturated at `u32::MAX`; nats-server's is an `int32`).
#[derive(Debug, Clone)]
pub struct Decoder {
    /// [`Limits::max_payload`].
    max_payload: u32,
    /// [`Limits::reject_qos2_publish`].
    reject_qos2_publish: bool,
    connected: bool,
    err: Option<Error>,
}

/// Reads the Remaining Length at `input[1..]`: Ok(None) when incomplete,
/// else (length, bytes it took).
fn remaining_length(input: &[u8]) -> Result<Option<(usize, usize)>, Error> {
    let mut len = 0usize;
    for i in 0..4 {
        let Some(&b) = input.get(1 + i) else {
            return Ok(None);
        };
        len |= usize::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(Some((len, i + 1)));
        }
    }
    Err(Error::BadRemainingLength)
}

/// A cursor over a packet's body.
struct Body<'a>(&'a [u8]);

impl<'a> Body<'a> {
    fn u8(&mut self) -> Result<u8, Error> {
        let (&b, rest) = self.0.split_first().ok_or(Error::Truncated)?;
        self.0 = rest;
        Ok(b)
    }
    fn u16(&mut self) -> Result<u16, Error> {
        let hi = self.u8()?;
        let lo = self.u8()?;
        Ok(u16::from_be_bytes([hi, lo]))
    }
    fn bytes(&mut self) -> Result<&'a [u8], Error> {
        let n = usize::from(self.u16()?);
        if self.0.len() < n {
            return Err(Error::Truncated);
        }
        let (b, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(b)
    }
    /// A UTF-8 string field: `bad` when it is not valid UTF-8 or has U+0000.
    fn string(&mut self, bad: Error) -> Result<&'a str, Error> {
        let b = self.bytes()?;
        let s = core::str::from_utf8(b).map_err(|_| bad)?;
        if b.contains(&0) {
            return Err(bad);
        }
        Ok(s)
    }
}

impl Decoder {
    /// A decoder for a new connection (expects a CONNECT first).
    pub fn new(limits: Limits) -> Decoder {
        let mut d = Decoder {
            max_payload: 0,
            reject_qos2_publish: false,
            connected: false,
            err: None,
        };
        d.set_limits(limits);
        d
    }

    /// Changes the limits (a reload).
    pub fn set_limits(&mut self, limits: Limits) {
        self.max_payload = u32::try_from(limits.max_payload).unwrap_or(u32::MAX);
        self.reject_qos2_publish = limits.reject_qos2_publish;
    }

    /// Whether `size` bytes are over `max_payload`: the error.
    fn over_max_payload(&self, size: usize) -> Result<(), Error> {
        if size > self.max_payload as usize {
            let n = u32::try_from(size).unwrap_or(u32::MAX);
            return Err(Error::MaxPayload(n, self.max_payload));
        }
        Ok(())
    }

    /// Decodes the next packet of `input` (see the module docs).
    pub fn decode<'a>(&mut self, input: &'a [u8]) -> Result<Option<(Packet<'a>, usize)>, Error> {
        if let Some(e) = self.err {
            return Err(e);
        }
        let r = self.decode_inner(input);
        if let Err(e) = r {
            self.err = Some(e);
        }
        r
    }

    fn decode_inner<'a>(&mut self, input: &'a [u8]) -> Result<Option<(Packet<'a>, usize)>, Error> {
        let Some(&b0) = input.first() else {
            return Ok(None);
        };
        let (t, flags) = (b0 >> 4, b0 & 0x0f);
        if !self.connected {
            if t != kind::CONNECT {
                if input.len() < 4 && b"GET ".starts_with(input) {
                    return Ok(None);
                }
                if input.starts_with(b"GET ") {
                    return Err(Error::HttpOnMqttPort);
                }
                return Err(Error::NotConnect(t));
            }
        } else if t == kind::CONNECT {
            return Err(Error::SecondConnect);
        }
        let want_flags = match t {
            kind::PUBREL | kind::SUBSCRIBE | kind::UNSUBSCRIBE => 0b0010,
            kind::PUBLISH => flags,
            kind::CONNECT
            | kind::PUBACK
            | kind::PUBREC
            | kind::PUBCOMP
            | kind::PINGREQ
            | kind::DISCONNECT => 0,
            _ => return Err(Error::UnknownType(t)),
        };
        if flags != want_flags {
            return Err(Error::BadFlags(t));
        }
        let Some((len, lb)) = remaining_length(input)? else {
            return Ok(None);
        };
        let total = 1 + lb + len;
        self.over_max_payload(total)?;
        if input.len() < total {
            return Ok(None);
        }
        let body = &input[1 + lb..total];
        let p = match t {
            kind::CONNECT => {
                let c = self.connect(body)?;
                self.connected = true;
                Packet::Connect(c)
            }
            kind::PUBLISH => Packet::Publish(self.publish(flags, body)?),
            kind::PUBACK | kind::PUBREC | kind::PUBREL | kind::PUBCOMP => {
                if body.len() != 2 {
                    return Err(Error::Truncated);
                }
                let id = u16::from_be_bytes([body[0], body[1]]);
                if id == 0 {
                    return Err(Error::ZeroPacketId);
                }
                match t {
                    kind::PUBACK => Packet::Puback(id),
                    kind::PUBREC => Packet::Pubrec(id),
                    kind::PUBREL => Packet::Pubrel(id),
                    _ => Packet::Pubcomp(id),
                }
            }
            kind::SUBSCRIBE | kind::UNSUBSCRIBE => subs(t == kind::SUBSCRIBE, body)?,
            _ => {
                if !body.is_empty() {
                    return Err(Error::Truncated);
                }
                if t == kind::PINGREQ {
                    Packet::Pingreq
                } else {
                    Packet::Disconnect
                }
            }
        };
        Ok(Some((p, total)))
    }

    fn connect<'a>(&self, body: &'a [u8]) -> Result<Connect<'a>, Error> {
        let mut b = Body(body);
        let name = b.bytes()?;
        if name != b"MQTT" {
            return Err(Error::ProtocolName);
        }
        if b.u8()? != 4 {
            return Err(Error::ProtocolLevel);
        }
        let flags = b.u8()?;
        if flags & 0x01 != 0 {
            return Err(Error::ReservedFlag);
        }
        let clean = flags & 0x02 != 0;
        let will_flag = flags & 0x04 != 0;
        let will_qos = (flags >> 3) & 0x03;
        let will_retain = flags & 0x20 != 0;
        let has_pass = flags & 0x40 != 0;
        let has_user = flags & 0x80 != 0;
        if !will_flag && (will_qos != 0 || will_retain) {
            return Err(Error::WillFlags);
        }
        if will_flag && will_qos == 3 {
            return Err(Error::WillFlags);
        }
        if will_flag && will_qos == 2 && self.reject_qos2_publish {
            return Err(Error::Qos2WillRejected);
        }
        if has_pass && !has_user {
            return Err(Error::PasswordWithoutUser);
        }
        let keep_alive = b.u16()?;
        let client_id = b.string(Error::BadClientId)?;
        if client_id.is_empty() && !clean {
            return Err(Error::EmptyClientId);
        }
        if client_id
            .bytes()
            .any(|c| matches!(c, b' ' | b'\t' | b'\r' | b'\n' | 0x0c | b'.' | b'*' | b'>'))
        {
            return Err(Error::BadClientId);
        }
        let will = if will_flag {
            let topic = b.string(Error::BadWillTopic)?;
            if topic.is_empty() || super::topic::check_topic(topic.as_bytes()).is_err() {
                return Err(Error::BadWillTopic);
            }
            let message = b.bytes()?;
            Some(Will {
                topic,
                message,
                qos: will_qos,
                retain: will_retain,
            })
        } else {
            None
        };
        let user = if has_user {
            let u = b.string(Error::BadUserName)?;
            if u.is_empty() {
                return Err(Error::BadUserName);
            }
            Some(u)
        } else {
            None
        };
        let password = if has_pass { Some(b.bytes()?) } else { None };
        Ok(Connect {
            clean,
            keep_alive,
            client_id,
            will,
            user,
            password,
        })
    }

    fn publish<'a>(&self, flags: u8, body: &'a [u8]) -> Result<Publish<'a>, Error> {
        let qos = (flags >> 1) & 0x03;
        if qos == 3 {
            return Err(Error::Qos3);
        }
        if qos == 2 && self.reject_qos2_publish {
            return Err(Error::Qos2Rejected);
        }
        let mut b = Body(body);
        let topic = b.string(Error::BadTopic)?;
        if topic.is_empty() || super::topic::check_topic(topic.as_bytes()).is_err() {
            return Err(Error::BadTopic);
        }
        let id = if qos > 0 {
            let id = b.u16()?;
            if id == 0 {
                return Err(Error::ZeroPacketId);
            }
            id
        } else {
            0
        };
        let payload = b.0;
        let size = payload.len() + NMQTT_HEADER_LEN;
        self.over_max_payload(size)?;
        Ok(Publish {
            dup: flags & 0x08 != 0,
            qos,
            retain: flags & 0x01 != 0,
            topic,
            id,
            payload,
        })
    }
}

/// SUBSCRIBE (`with_qos`) or UNSUBSCRIBE body checks (spec §2.6).
fn subs(with_qos: bool, body: &[u8]) -> Result<Packet<'_>, Error> {
    let mut b = Body(body);
    let id = b.u16()?;
    if id == 0 {
        return Err(Error::ZeroPacketId);
    }
    let raw = b.0;
    if raw.is_empty() {
        return Err(Error::NoFilter);
    }
    while !b.0.is_empty() {
        let f = b.string(Error::BadFilter)?;
        if f.is_empty() {
            return Err(Error::BadFilter);
        }
        if with_qos && b.u8()? > 2 {
            return Err(Error::BadRequestedQos);
        }
    }
    let filters = Filters { raw, with_qos };
    Ok(if with_qos {
        Packet::Subscribe { id, filters }
    } else {
        Packet::Unsubscribe { id, filters }
    })
}

/// Appends a Remaining Length.
fn put_len(out: &mut alloc::vec::Vec<u8>, mut n: usize) {
    loop {
        let mut b = (n & 0x7f) as u8;
        n >>= 7;
        if n > 0 {
            b |= 0x80;
        }
        out.push(b);
        if n == 0 {
            break;
        }
    }
}

/// Appends CONNACK `20 02 <sp> <rc>` (session present only with rc 0,
/// [MQTT-3.2.2-4]).
pub fn encode_connack(out: &mut alloc::vec::Vec<u8>, session_present: bool, code: u8) {
    out.extend_from_slice(&[0x20, 2, u8::from(session_present && code == 0), code]);
}

/// Appends a 4-byte acknowledgement: `t` is [`kind::PUBACK`],
/// [`kind::PUBREC`], [`kind::PUBREL`] (flags 0010), [`kind::PUBCOMP`] or
/// [`kind::UNSUBACK`].
pub fn encode_ack(out: &mut alloc::vec::Vec<u8>, t: u8, id: u16) {
    let flags = if t == kind::PUBREL { 0b0010 } else { 0 };
    let [hi, lo] = id.to_be_bytes();
    out.extend_from_slice(&[(t << 4) | flags, 2, hi, lo]);
}

/// Appends SUBACK with one return code per filter.
pub fn encode_suback(out: &mut alloc::vec::Vec<u8>, id: u16, codes: &[u8]) {
    out.push(kind::SUBACK << 4);
    put_len(out, 2 + codes.len());
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(codes);
}

/// Appends PINGRESP `d0 00`.
pub fn encode_pingresp(out: &mut alloc::vec::Vec<u8>) {
    out.extend_from_slice(&[kind::PINGRESP << 4, 0]);
}

/// Appends a server PUBLISH (spec §2.10): `topic` and `payload` as given,
/// the packet identifier only when `qos > 0`, DUP only with `qos > 0`.
pub fn encode_publish(
    out: &mut alloc::vec::Vec<u8>,
    dup: bool,
    qos: u8,
    retain: bool,
    topic: &[u8],
    id: u16,
    payload: &[u8],
) {
    let b0 = (kind::PUBLISH << 4) | (u8::from(dup && qos > 0) << 3) | (qos << 1) | u8::from(retain);
    out.push(b0);
    let len = 2 + topic.len() + if qos > 0 { 2 } else { 0 } + payload.len();
    put_len(out, len);
    out.extend_from_slice(&(topic.len() as u16).to_be_bytes());
    out.extend_from_slice(topic);
    if qos > 0 {
        out.extend_from_slice(&id.to_be_bytes());
    }
    out.extend_from_slice(payload);
}

/// Encoders of client packets, for tests, fuzzing and benchmarks.
pub mod client {
    use super::{kind, put_len};
    use alloc::vec::Vec;

    fn string(v: &mut Vec<u8>, s: &[u8]) {
        v.extend_from_slice(&(s.len() as u16).to_be_bytes());
        v.extend_from_slice(s);
    }

    /// Appends a CONNECT (level 4).
    #[allow(clippy::too_many_arguments)]
    pub fn connect(
        out: &mut Vec<u8>,
        client_id: &[u8],
        clean: bool,
        keep_alive: u16,
        will: Option<(&[u8], &[u8], u8, bool)>,
        user: Option<&[u8]>,
        password: Option<&[u8]>,
    ) {
        let mut v = Vec::new();
        string(&mut v, b"MQTT");
        v.push(4);
        let mut flags = u8::from(clean) << 1;
        if let Some((_, _, q, r)) = will {
            flags |= 0x04 | (q << 3) | (u8::from(r) << 5);
        }
        if user.is_some() {
            flags |= 0x80;
        }
        if password.is_some() {
            flags |= 0x40;
        }
        v.push(flags);
        v.extend_from_slice(&keep_alive.to_be_bytes());
        string(&mut v, client_id);
        if let Some((t, m, _, _)) = will {
            string(&mut v, t);
            string(&mut v, m);
        }
        if let Some(u) = user {
            string(&mut v, u);
        }
        if let Some(p) = password {
            string(&mut v, p);
        }
        out.push(kind::CONNECT << 4);
        put_len(out, v.len());
        out.extend_from_slice(&v);
    }

    /// Appends a PUBLISH (the id is written only with `qos > 0`).
    pub fn publish(
        out: &mut Vec<u8>,
        qos: u8,
        retain: bool,
        topic: &[u8],
        id: u16,
        payload: &[u8],
    ) {
        super::encode_publish(out, false, qos, retain, topic, id, payload);
    }

    /// Appends a SUBSCRIBE of (filter, QoS) pairs.
    pub fn subscribe(out: &mut Vec<u8>, id: u16, filters: &[(&[u8], u8)]) {
        let mut v = Vec::new();
        v.extend_from_slice(&id.to_be_bytes());
        for (f, q) in filters {
            string(&mut v, f);
            v.push(*q);
        }
        out.push((kind::SUBSCRIBE << 4) | 2);
        put_len(out, v.len());
        out.extend_from_slice(&v);
    }

    /// Appends an UNSUBSCRIBE.
    pub fn unsubscribe(out: &mut Vec<u8>, id: u16, filters: &[&[u8]]) {
        let mut v = Vec::new();
        v.extend_from_slice(&id.to_be_bytes());
        for f in filters {
            string(&mut v, f);
        }
        out.push((kind::UNSUBSCRIBE << 4) | 2);
        put_len(out, v.len());
        out.extend_from_slice(&v);
    }
}
