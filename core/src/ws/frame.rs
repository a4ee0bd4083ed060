//! Wire types of RFC 6455: [`OpCode`] (§5.2), [`CloseCode`] (§7.4), the frame
//! header writer (§5.2) and close payloads (§5.5.1).

use core::fmt;

use super::MAX_CONTROL_PAYLOAD;

/// First-byte bit: final fragment of a message (RFC 6455 §5.2).
pub const FIN: u8 = 0x80;
/// First-byte bit RSV1: "per-message compressed" under permessage-deflate
/// (RFC 7692 §6).
pub const RSV1: u8 = 0x40;
/// First-byte bit RSV2; must be clear (RFC 6455 §5.2).
pub const RSV2: u8 = 0x20;
/// First-byte bit RSV3; must be clear (RFC 6455 §5.2).
pub const RSV3: u8 = 0x10;
/// Second-byte bit: the payload is masked (RFC 6455 §5.2).
pub const MASK: u8 = 0x80;

/// A frame opcode, the low 4 bits of byte 0 (RFC 6455 §5.2). Unknown values
/// round-trip; [`OpCode::is_known`] tells them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OpCode(pub u8);

impl OpCode {
    /// `0x0`: continuation of a fragmented message.
    pub const CONTINUATION: OpCode = OpCode(0);
    /// `0x1`: text message (UTF-8).
    pub const TEXT: OpCode = OpCode(1);
    /// `0x2`: binary message (all natsws output is binary, spec §3.8).
    pub const BINARY: OpCode = OpCode(2);
    /// `0x8`: close (§5.5.1).
    pub const CLOSE: OpCode = OpCode(8);
    /// `0x9`: ping (§5.5.2).
    pub const PING: OpCode = OpCode(9);
    /// `0xA`: pong (§5.5.3).
    pub const PONG: OpCode = OpCode(10);

    /// Close, ping or pong: opcodes with the high bit set (RFC 6455 §5.5).
    pub fn is_control(self) -> bool {
        self.0 & 0x8 != 0
    }

    /// Continuation, text or binary.
    pub fn is_data(self) -> bool {
        self.0 <= 2
    }

    /// One of the six opcodes defined by RFC 6455.
    pub fn is_known(self) -> bool {
        matches!(self.0, 0 | 1 | 2 | 8 | 9 | 10)
    }
}

/// A close status code (RFC 6455 §7.4). The space is open (3000–4999 belong
/// to libraries and applications), so this is a newtype with named consts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: normal closure.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: going away (server shutdown, stale connection).
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: protocol error.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1003: unsupported data (defined, unused by nats-server).
    pub const UNSUPPORTED_DATA: CloseCode = CloseCode(1003);
    /// 1005: no status received. Never sent on the wire.
    pub const NO_STATUS_RECEIVED: CloseCode = CloseCode(1005);
    /// 1006: abnormal closure. Never sent on the wire.
    pub const ABNORMAL_CLOSURE: CloseCode = CloseCode(1006);
    /// 1007: invalid payload data (e.g. non-UTF-8 text).
    pub const INVALID_PAYLOAD_DATA: CloseCode = CloseCode(1007);
    /// 1008: policy violation (auth failures, slow consumer, limits).
    pub const POLICY_VIOLATION: CloseCode = CloseCode(1008);
    /// 1009: message too big.
    pub const MESSAGE_TOO_BIG: CloseCode = CloseCode(1009);
    /// 1010: mandatory extension (client side).
    pub const MANDATORY_EXTENSION: CloseCode = CloseCode(1010);
    /// 1011: internal server error.
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);
    /// 1015: TLS handshake failure. Never sent on the wire.
    pub const TLS_HANDSHAKE: CloseCode = CloseCode(1015);

    /// Valid in a received close frame: 1000–1003, 1007–1014, 3000–4999
    /// (RFC 6455 §7.4.1/§7.4.2, spec §3.3). 1004, 1005, 1006, 1015, anything
    /// below 1000, 1016–2999 and 5000+ are not.
    pub fn is_valid_received(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }

    /// May be put on the wire by us: the same set as
    /// [`is_valid_received`](Self::is_valid_received). In particular 1005,
    /// 1006 and 1015 are never sendable (RFC 6455 §7.4.1).
    pub fn is_sendable(self) -> bool {
        self.is_valid_received()
    }

    /// The code as a [`SendCloseCode`] if it is sendable.
    pub fn to_sendable(self) -> Option<SendCloseCode> {
        self.is_sendable().then_some(SendCloseCode(self.0))
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A close code that may be sent: the only code type the close encoders
/// accept, so 1005, 1006 and 1015 cannot reach the wire (RFC 6455 §7.4.1).
/// Build it from the consts or with [`CloseCode::to_sendable`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SendCloseCode(u16);

impl SendCloseCode {
    /// 1000: normal closure.
    pub const NORMAL: SendCloseCode = SendCloseCode(1000);
    /// 1001: going away.
    pub const GOING_AWAY: SendCloseCode = SendCloseCode(1001);
    /// 1002: protocol error.
    pub const PROTOCOL_ERROR: SendCloseCode = SendCloseCode(1002);
    /// 1003: unsupported data.
    pub const UNSUPPORTED_DATA: SendCloseCode = SendCloseCode(1003);
    /// 1007: invalid payload data.
    pub const INVALID_PAYLOAD_DATA: SendCloseCode = SendCloseCode(1007);
    /// 1008: policy violation.
    pub const POLICY_VIOLATION: SendCloseCode = SendCloseCode(1008);
    /// 1009: message too big.
    pub const MESSAGE_TOO_BIG: SendCloseCode = SendCloseCode(1009);
    /// 1011: internal server error.
    pub const INTERNAL_ERROR: SendCloseCode = SendCloseCode(1011);

    /// The code.
    pub fn code(self) -> CloseCode {
        CloseCode(self.0)
    }
}

impl From<SendCloseCode> for CloseCode {
    fn from(c: SendCloseCode) -> CloseCode {
        CloseCode(c.0)
    }
}

/// Longest close reason that is sent whole: 125 − 2 status bytes (spec §3.7).
pub const MAX_CLOSE_REASON: usize = MAX_CONTROL_PAYLOAD - 2;

/// A close frame payload (RFC 6455 §5.5.1): 2-byte big-endian status plus a
/// UTF-8 reason, at most 125 bytes. Built by [`ClosePayload::new`]; reasons
/// above 123 bytes are cut to at most 120 bytes plus `...` (spec §3.7; the
/// cut is moved back to a char boundary so the reason stays UTF-8).
#[derive(Clone, Copy)]
pub struct ClosePayload {
    buf: [u8; MAX_CONTROL_PAYLOAD],
    len: u8,
}

impl ClosePayload {
    /// Status plus reason, truncated as described on the type.
    pub fn new(code: SendCloseCode, reason: &str) -> ClosePayload {
        let mut buf = [0u8; MAX_CONTROL_PAYLOAD];
        buf[..2].copy_from_slice(&code.0.to_be_bytes());
        let r = reason.as_bytes();
        let len = if r.len() <= MAX_CLOSE_REASON {
            buf[2..2 + r.len()].copy_from_slice(r);
            2 + r.len()
        } else {
            let mut cut = MAX_CONTROL_PAYLOAD - 5;
            while !reason.is_char_boundary(cut) {
                cut -= 1;
            }
            buf[2..2 + cut].copy_from_slice(&r[..cut]);
            buf[2 + cut..2 + cut + 3].copy_from_slice(b"...");
            2 + cut + 3
        };
        ClosePayload {
            buf,
            len: len as u8,
        }
    }

    /// The payload bytes (2..=125 bytes).
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len as usize]
    }
}

impl fmt::Debug for ClosePayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ClosePayload")
            .field(&self.as_bytes())
            .finish()
    }
}

/// A parsed frame header (RFC 6455 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// FIN bit.
    pub fin: bool,
    /// RSV1 bit (compressed, RFC 7692).
    pub rsv1: bool,
    /// The opcode.
    pub opcode: OpCode,
    /// Payload length in bytes.
    pub len: u64,
    /// Masking key, if the MASK bit was set.
    pub mask: Option<[u8; 4]>,
}

impl FrameHeader {
    /// Writes the header into `buf` and returns its length (2, 4, 6, 8, 10 or
    /// 14 bytes). Lengths ≤ 125 use the 7-bit form, < 65536 the 16-bit form
    /// (126), anything else the 64-bit form (127) (RFC 6455 §5.2; spec §8 A5).
    /// The payload is not touched: mask it with [`super::mask::apply_mask`].
    pub fn encode(&self, buf: &mut [u8; super::MAX_FRAME_HEADER]) -> usize {
        let mut b0 = self.opcode.0 & 0x0f;
        if self.fin {
            b0 |= FIN;
        }
        if self.rsv1 {
            b0 |= RSV1;
        }
        let b1 = if self.mask.is_some() { MASK } else { 0 };
        buf[0] = b0;
        let mut n = if self.len <= 125 {
            buf[1] = b1 | self.len as u8;
            2
        } else if self.len < 65536 {
            buf[1] = b1 | 126;
            buf[2..4].copy_from_slice(&(self.len as u16).to_be_bytes());
            4
        } else {
            buf[1] = b1 | 127;
            buf[2..10].copy_from_slice(&self.len.to_be_bytes());
            10
        };
        if let Some(key) = self.mask {
            buf[n..n + 4].copy_from_slice(&key);
            n += 4;
        }
        n
    }

    /// Appends the encoded header to `out` (the same bytes as
    /// [`encode`](Self::encode)). Each length form is appended as a
    /// fixed-size array, so no copy call of variable length is made.
    #[inline(always)]
    pub fn write(&self, out: &mut alloc::vec::Vec<u8>) {
        let mut b0 = self.opcode.0 & 0x0f;
        if self.fin {
            b0 |= FIN;
        }
        if self.rsv1 {
            b0 |= RSV1;
        }
        let m = if self.mask.is_some() { MASK } else { 0 };
        if self.len <= 125 {
            out.extend_from_slice(&[b0, m | self.len as u8]);
        } else if self.len < 65536 {
            let l = (self.len as u16).to_be_bytes();
            out.extend_from_slice(&[b0, m | 126, l[0], l[1]]);
        } else {
            let l = self.len.to_be_bytes();
            out.extend_from_slice(&[b0, m | 127, l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7]]);
        }
        if let Some(key) = self.mask {
            out.extend_from_slice(&key);
        }
    }
}
