//! The leafnode protocol between two servers (spec `leafnode.md` §4.1):
//! `LS+`/`LS-` interest with queue weights, `LMSG`/`HMSG` messages with
//! their reply and queue-list forms, `INFO`/`CONNECT`, `PING`/`PONG`,
//! `+OK`/`-ERR`. Both directions speak the same operations, so one decoder
//! serves both sides of a link.
//!
//! [`LeafDecoder`] is a resumable push parser with the calling protocol of
//! [`ClientDecoder`](super::ClientDecoder): present every unconsumed byte on
//! each call; an op borrows from that input; `Ok(None)` asks for more bytes
//! (the decoder remembers how far it scanned, so a long line fed a byte at
//! a time costs linear time); an error is sticky.
//!
//! Source rules: nats-server `leafnode.go` `processLeafSub`,
//! `processLeafUnsub`, `processLeafMsgArgs`, `processLeafHeaderMsgArgs`;
//! `parser.go` `overMaxControlLineLimit` (16 × `max_control_line` for
//! non-client connections). Arguments are separated by runs of space, TAB
//! or CR (`splitArg`); op names are case-insensitive.

use alloc::vec::Vec;
use core::fmt;

use super::Limits;

/// How much longer a leaf control line may be than a client's
/// (nats-server `overMaxControlLineLimit`: 16 × `max_control_line`, 64 KiB
/// by default).
pub const LEAF_CONTROL_LINE_FACTOR: usize = 16;

/// The queue groups an `LMSG`/`HMSG` names (the `|`/`+` forms), as the raw
/// blank-separated bytes of the control line; empty for a message that is
/// not for queue subscribers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Queues<'a>(pub &'a [u8]);

impl<'a> Queues<'a> {
    /// Whether no queue group is named.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    /// Each queue name in order.
    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.0.split(|b| is_sep(*b)).filter(|s| !s.is_empty())
    }

    /// Whether `name` is one of them.
    #[must_use]
    pub fn contains(&self, name: &[u8]) -> bool {
        self.iter().any(|q| q == name)
    }
}

/// One leafnode operation, borrowed from the decoder's input. Subjects,
/// replies and queue names are opaque non-blank bytes, not validated here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeafOp<'a> {
    /// `INFO <json>`: the raw JSON.
    Info(&'a [u8]),
    /// `CONNECT <json>`: the raw JSON (leaf fields, spec §3.4).
    Connect(&'a [u8]),
    /// `LS+ <subject>` or `LS+ <subject> <queue> <weight>`.
    Sub {
        /// Subject filter.
        subject: &'a [u8],
        /// Queue group and its weight (the number of members behind the
        /// link; an unparsable weight reads as 1, nats-server treats any
        /// weight below 2 as 1).
        queue: Option<(&'a [u8], u32)>,
    },
    /// `LS- <subject>` or `LS- <subject> <queue>`: the key of the interest
    /// that is gone.
    Unsub {
        /// Subject filter.
        subject: &'a [u8],
        /// Queue group, if any.
        queue: Option<&'a [u8]>,
    },
    /// `LMSG` (no headers) or `HMSG` (with `headers`) in any of the four
    /// forms: plain, with reply, `|` queues, `+ reply` queues.
    Msg {
        /// Subject.
        subject: &'a [u8],
        /// Reply subject.
        reply: Option<&'a [u8]>,
        /// Queue groups the message is for (empty: plain subscribers only).
        queues: Queues<'a>,
        /// The header block (`HMSG`), starting `NATS/1.0`.
        headers: Option<&'a [u8]>,
        /// The payload.
        payload: &'a [u8],
    },
    /// `PING`.
    Ping,
    /// `PONG`.
    Pong,
    /// `+OK`.
    Ok,
    /// `-ERR <text>`: the text with its single quotes removed when present.
    Err(&'a [u8]),
}

/// Which argument parser rejected a control line (its nats-server function
/// name starts the log line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgsOf {
    /// `LS+` (`processLeafSub`).
    Sub,
    /// `LS-` (`processLeafUnsub`).
    Unsub,
    /// `LMSG` (`processLeafMsgArgs`).
    Lmsg,
    /// `HMSG` (`processLeafHeaderMsgArgs`).
    Hmsg,
}

impl ArgsOf {
    /// The nats-server function named in the log line.
    #[must_use]
    pub fn function(self) -> &'static str {
        match self {
            ArgsOf::Sub => "processLeafSub",
            ArgsOf::Unsub => "processLeafUnsub",
            ArgsOf::Lmsg => "processLeafMsgArgs",
            ArgsOf::Hmsg => "processLeafHeaderMsgArgs",
        }
    }
}

/// What was wrong with a control line's arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgsError {
    /// Wrong number of arguments (`Parse Error`).
    Count,
    /// The `+`/`|` indicator of the queue forms is something else.
    ReplyIndicator,
    /// A size field that is not 1–9 digits.
    Size,
    /// HMSG header size larger than the total size.
    HeaderSize,
}

/// A fatal leafnode protocol error: the connection closes (spec §4.1).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeafError {
    /// Unknown op name, a blank or empty line where an op must start, or a
    /// payload not followed by CR LF. `-ERR 'Unknown Protocol Operation'`,
    /// close (Protocol Violation).
    UnknownOp,
    /// A control line longer than 16 × `max_control_line`.
    /// `-ERR 'maximum control line exceeded'`, close (Maximum Control Line
    /// Exceeded).
    MaxControlLineExceeded,
    /// A message size above the receiver's `max_payload`; nats-server logs
    /// `maximum payload exceeded: <size> vs <max>`. `-ERR 'Maximum Payload
    /// Violation'`, close (Maximum Message Payload Exceeded).
    MaxPayloadExceeded {
        /// Declared size (HMSG: total), bytes.
        size: usize,
        /// The limit, bytes.
        max: usize,
    },
    /// Bad arguments: logged (`<function> Parse Error` …) and closed with
    /// no `-ERR` (Protocol Violation).
    Args {
        /// Which op.
        of: ArgsOf,
        /// What was wrong.
        what: ArgsError,
    },
}

impl LeafError {
    /// The exact `-ERR` text owed to the peer before closing, or `None`.
    #[must_use]
    pub fn err_text(&self) -> Option<&'static str> {
        match self {
            LeafError::UnknownOp => Some("Unknown Protocol Operation"),
            LeafError::MaxControlLineExceeded => Some("maximum control line exceeded"),
            LeafError::MaxPayloadExceeded { .. } => Some("Maximum Payload Violation"),
            LeafError::Args { .. } => None,
        }
    }
}

impl fmt::Display for LeafError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LeafError::UnknownOp => f.write_str("unknown protocol operation"),
            LeafError::MaxControlLineExceeded => f.write_str("maximum control line exceeded"),
            LeafError::MaxPayloadExceeded { size, max } => {
                write!(f, "maximum payload exceeded: {size} vs {max}")
            }
            LeafError::Args { of, what } => {
                let w = match what {
                    ArgsError::Count => "Parse Error",
                    ArgsError::ReplyIndicator => "Bad or Missing Reply Indicator",
                    ArgsError::Size => "Bad or Missing Size",
                    ArgsError::HeaderSize => "Header Size larger then TotalSize",
                };
                write!(f, "{} {w}", of.function())
            }
        }
    }
}

impl core::error::Error for LeafError {}

/// What a control line may have on top of its argument limit: the op
/// name, its blank and the CR.
const LINE_SLACK: usize = 17;

#[inline]
fn is_sep(b: u8) -> bool {
    b == b' ' || b == b'\t' || b == b'\r'
}

/// A parsed `LMSG`/`HMSG` control line waiting for its payload; offsets
/// into the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pending {
    subject: (usize, usize),
    reply: Option<(usize, usize)>,
    queues: (usize, usize),
    /// Header bytes (HMSG), 0 for LMSG.
    hdr: Option<usize>,
    /// Total size (headers + payload).
    size: usize,
    /// Where the payload starts (after the LF).
    body: usize,
}

/// The resumable leafnode decoder (see the module docs).
#[derive(Debug, Clone)]
pub struct LeafDecoder {
    limits: Limits,
    /// How far the LF search got in the current line.
    scanned: usize,
    pending: Option<Pending>,
    failed: Option<LeafError>,
}

impl LeafDecoder {
    /// A decoder with `limits` (`max_control_line` is multiplied by
    /// [`LEAF_CONTROL_LINE_FACTOR`]).
    #[must_use]
    pub fn new(limits: Limits) -> LeafDecoder {
        LeafDecoder {
            limits,
            scanned: 0,
            pending: None,
            failed: None,
        }
    }

    /// Changes the limits (the peer's INFO, a reload); applies from the
    /// next control line on.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    fn max_line(&self) -> usize {
        self.limits
            .max_control_line
            .saturating_mul(LEAF_CONTROL_LINE_FACTOR)
    }

    fn fail(&mut self, e: LeafError) -> Result<Option<(LeafOp<'static>, usize)>, LeafError> {
        self.failed = Some(e.clone());
        Err(e)
    }

    /// Decodes the next op from `input` (every byte not yet consumed).
    /// `Ok(Some((op, n)))`: the op used the first `n` bytes; `Ok(None)`:
    /// need more bytes (present these again followed by more); `Err`: fatal
    /// and sticky.
    pub fn decode<'a>(
        &mut self,
        input: &'a [u8],
    ) -> Result<Option<(LeafOp<'a>, usize)>, LeafError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if let Some(p) = self.pending {
            return self.payload(input, p);
        }
        let start = self.scanned.min(input.len());
        let Some(lf) = input[start..].iter().position(|&b| b == b'\n') else {
            self.scanned = input.len();
            if input.len() > self.max_line() + LINE_SLACK {
                return self.fail(LeafError::MaxControlLineExceeded).map(|_| None);
            }
            return Ok(None);
        };
        let lf = start + lf;
        self.scanned = 0;
        let end = if lf > 0 && input[lf - 1] == b'\r' {
            lf - 1
        } else {
            lf
        };
        let line = &input[..end];
        let name_len = line.iter().position(|&b| is_sep(b)).unwrap_or(line.len());
        let (name, rest_at) = (&line[..name_len], name_len);
        // Measured on the raw line (CR included) so that every split of
        // the input decides alike.
        if lf > self.max_line() + LINE_SLACK {
            return self.fail(LeafError::MaxControlLineExceeded).map(|_| None);
        }
        let args_at = rest_at
            + line[rest_at..]
                .iter()
                .position(|&b| !is_sep(b))
                .unwrap_or(line.len() - rest_at);
        let args = &line[args_at..];
        let used = lf + 1;
        let op = if name.eq_ignore_ascii_case(b"LMSG") || name.eq_ignore_ascii_case(b"HMSG") {
            let hdr = name[0].eq_ignore_ascii_case(&b'H');
            match self.msg_args(input, args_at, end, hdr, used) {
                Ok(p) => {
                    self.pending = Some(p);
                    return self.payload(input, p);
                }
                Err(e) => return self.fail(e).map(|_| None),
            }
        } else if name.eq_ignore_ascii_case(b"LS+") {
            let mut it = args.split(|b| is_sep(*b)).filter(|s| !s.is_empty());
            match (it.next(), it.next(), it.next(), it.next()) {
                (Some(subject), None, None, None) => LeafOp::Sub {
                    subject,
                    queue: None,
                },
                (Some(subject), Some(q), Some(w), None) => LeafOp::Sub {
                    subject,
                    queue: Some((q, parse_size(w).map_or(1, |w| w.max(1) as u32))),
                },
                _ => {
                    return self
                        .fail(LeafError::Args {
                            of: ArgsOf::Sub,
                            what: ArgsError::Count,
                        })
                        .map(|_| None)
                }
            }
        } else if name.eq_ignore_ascii_case(b"LS-") {
            let mut it = args.split(|b| is_sep(*b)).filter(|s| !s.is_empty());
            match (it.next(), it.next(), it.next()) {
                (Some(subject), queue, None) => LeafOp::Unsub { subject, queue },
                _ => {
                    return self
                        .fail(LeafError::Args {
                            of: ArgsOf::Unsub,
                            what: ArgsError::Count,
                        })
                        .map(|_| None)
                }
            }
        } else if name.eq_ignore_ascii_case(b"PING") {
            LeafOp::Ping
        } else if name.eq_ignore_ascii_case(b"PONG") {
            LeafOp::Pong
        } else if name.eq_ignore_ascii_case(b"+OK") {
            LeafOp::Ok
        } else if name.eq_ignore_ascii_case(b"INFO") {
            LeafOp::Info(args)
        } else if name.eq_ignore_ascii_case(b"CONNECT") {
            LeafOp::Connect(args)
        } else if name.eq_ignore_ascii_case(b"-ERR") {
            let t = args
                .strip_prefix(b"'")
                .and_then(|t| t.strip_suffix(b"'"))
                .unwrap_or(args);
            LeafOp::Err(t)
        } else {
            return self.fail(LeafError::UnknownOp).map(|_| None);
        };
        Ok(Some((op, used)))
    }

    /// Parses the arguments of an LMSG/HMSG line (`input[from..to]`).
    fn msg_args(
        &self,
        input: &[u8],
        from: usize,
        to: usize,
        hdr: bool,
        body: usize,
    ) -> Result<Pending, LeafError> {
        let of = if hdr { ArgsOf::Hmsg } else { ArgsOf::Lmsg };
        let err = |what| LeafError::Args { of, what };
        // Up to the subject, the indicator, the reply and two sizes are
        // needed by position; queue names are a range between them.
        let mut spans: [(usize, usize); 5] = [(0, 0); 5];
        let mut n = 0usize;
        let mut last = [(0usize, 0usize); 2];
        let mut i = from;
        while i < to {
            if is_sep(input[i]) {
                i += 1;
                continue;
            }
            let s = i;
            while i < to && !is_sep(input[i]) {
                i += 1;
            }
            if n < spans.len() {
                spans[n] = (s, i);
            }
            last = [last[1], (s, i)];
            n += 1;
        }
        let sizes = usize::from(hdr) + 1;
        if n < 1 + sizes {
            return Err(err(ArgsError::Count));
        }
        let tok = |sp: (usize, usize)| &input[sp.0..sp.1];
        let (reply, queues) = if n == 1 + sizes {
            (None, (0, 0))
        } else if n == 2 + sizes {
            (Some(spans[1]), (0, 0))
        } else {
            let ind = tok(spans[1]);
            let size_start = if hdr { last[0].0 } else { last[1].0 };
            match ind {
                b"+" => (Some(spans[2]), (spans[2].1, size_start)),
                b"|" => (None, (spans[1].1, size_start)),
                _ => return Err(err(ArgsError::ReplyIndicator)),
            }
        };
        let size = parse_size(tok(last[1])).ok_or(err(ArgsError::Size))?;
        let hdr = if hdr {
            let h = parse_size(tok(last[0])).ok_or(err(ArgsError::Size))?;
            if h > size {
                return Err(err(ArgsError::HeaderSize));
            }
            Some(h)
        } else {
            None
        };
        if size > self.limits.max_payload {
            return Err(LeafError::MaxPayloadExceeded {
                size,
                max: self.limits.max_payload,
            });
        }
        Ok(Pending {
            subject: spans[0],
            reply,
            queues,
            hdr,
            size,
            body,
        })
    }

    fn payload<'a>(
        &mut self,
        input: &'a [u8],
        p: Pending,
    ) -> Result<Option<(LeafOp<'a>, usize)>, LeafError> {
        let end = p.body + p.size;
        if input.len() < end + 2 {
            return Ok(None);
        }
        if &input[end..end + 2] != b"\r\n" {
            return self.fail(LeafError::UnknownOp).map(|_| None);
        }
        self.pending = None;
        let h = p.hdr.unwrap_or(0);
        let op = LeafOp::Msg {
            subject: &input[p.subject.0..p.subject.1],
            reply: p.reply.map(|r| &input[r.0..r.1]),
            queues: Queues(&input[p.queues.0..p.queues.1.max(p.queues.0)]),
            headers: p.hdr.map(|_| &input[p.body..p.body + h]),
            payload: &input[p.body + h..end],
        };
        Ok(Some((op, end + 2)))
    }
}

/// 1–9 ASCII digits (nats-server `parseSize`), else `None`.
fn parse_size(b: &[u8]) -> Option<usize> {
    if b.is_empty() || b.len() > 9 {
        return None;
    }
    let mut n = 0usize;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + usize::from(c - b'0');
    }
    Some(n)
}

/// `LS+ <subject>\r\n`, or `LS+ <subject> <queue> <weight>\r\n` for a queue
/// group of `weight` members (spec §4.1, nats-server `writeLeafSub`).
pub fn encode_ls_plus(out: &mut Vec<u8>, subject: &[u8], queue: Option<(&[u8], u32)>) {
    out.extend_from_slice(b"LS+ ");
    out.extend_from_slice(subject);
    if let Some((q, w)) = queue {
        out.push(b' ');
        out.extend_from_slice(q);
        out.push(b' ');
        super::encode::push_u64(out, u64::from(w));
    }
    out.extend_from_slice(b"\r\n");
}

/// `LS- <subject> [<queue>]\r\n` (spec §4.1).
pub fn encode_ls_minus(out: &mut Vec<u8>, subject: &[u8], queue: Option<&[u8]>) {
    out.extend_from_slice(b"LS- ");
    out.extend_from_slice(subject);
    if let Some(q) = queue {
        out.push(b' ');
        out.extend_from_slice(q);
    }
    out.extend_from_slice(b"\r\n");
}

/// One message over a leaf link (spec §4.1): `LMSG` without headers,
/// `HMSG` with; plain (`<subject> [reply] <size>`) when `queues` is
/// empty, else `<subject> | <q…> <size>` or `<subject> + <reply> <q…>
/// <size>`. HMSG sizes are `<hdr> <total>`.
pub fn encode_lmsg(
    out: &mut Vec<u8>,
    subject: &[u8],
    reply: Option<&[u8]>,
    queues: &[&[u8]],
    headers: Option<&[u8]>,
    payload: &[u8],
) {
    let hlen = headers.map_or(0, <[u8]>::len);
    out.reserve(subject.len() + reply.map_or(0, <[u8]>::len) + hlen + payload.len() + 40);
    out.extend_from_slice(if headers.is_some() {
        b"HMSG "
    } else {
        b"LMSG "
    });
    out.extend_from_slice(subject);
    out.push(b' ');
    if queues.is_empty() {
        if let Some(r) = reply {
            out.extend_from_slice(r);
            out.push(b' ');
        }
    } else {
        match reply {
            Some(r) => {
                out.extend_from_slice(b"+ ");
                out.extend_from_slice(r);
                out.push(b' ');
            }
            None => out.extend_from_slice(b"| "),
        }
        for q in queues {
            out.extend_from_slice(q);
            out.push(b' ');
        }
    }
    if let Some(h) = headers {
        super::encode::push_u64(out, h.len() as u64);
        out.push(b' ');
    }
    super::encode::push_u64(out, (hlen + payload.len()) as u64);
    out.extend_from_slice(b"\r\n");
    if let Some(h) = headers {
        out.extend_from_slice(h);
    }
    out.extend_from_slice(payload);
    out.extend_from_slice(b"\r\n");
}

/// Fuzzing entry: decodes `data` whole and split at every byte, and checks
/// that both give the same ops and the same error; never panics.
#[doc(hidden)]
pub fn fuzz_decode(data: &[u8]) {
    let limits = Limits {
        max_control_line: 64,
        max_payload: 256,
    };
    let whole = decode_all(limits, data, data.len().max(1));
    for step in [1usize, 2, 3, 7] {
        assert_eq!(decode_all(limits, data, step), whole);
    }
}

/// Every op (re-encoded, for comparison) and the final error of decoding
/// `data` fed `step` bytes at a time.
#[doc(hidden)]
pub fn decode_all(limits: Limits, data: &[u8], step: usize) -> (Vec<Vec<u8>>, Option<LeafError>) {
    let mut dec = LeafDecoder::new(limits);
    let mut ops = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut fed = 0;
    loop {
        match dec.decode(&buf) {
            Ok(Some((op, n))) => {
                ops.push(render(&op));
                buf.drain(..n);
            }
            Ok(None) => {
                if fed >= data.len() {
                    return (ops, None);
                }
                let to = (fed + step).min(data.len());
                buf.extend_from_slice(&data[fed..to]);
                fed = to;
            }
            Err(e) => return (ops, Some(e)),
        }
    }
}

/// A canonical rendering of an op (for tests).
fn render(op: &LeafOp<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    match *op {
        LeafOp::Msg {
            subject,
            reply,
            queues,
            headers,
            payload,
        } => {
            let qs: Vec<&[u8]> = queues.iter().collect();
            encode_lmsg(&mut out, subject, reply, &qs, headers, payload);
        }
        LeafOp::Sub { subject, queue } => encode_ls_plus(&mut out, subject, queue),
        LeafOp::Unsub { subject, queue } => encode_ls_minus(&mut out, subject, queue),
        LeafOp::Info(j) => {
            out.extend_from_slice(b"INFO ");
            out.extend_from_slice(j);
        }
        LeafOp::Connect(j) => {
            out.extend_from_slice(b"CONNECT ");
            out.extend_from_slice(j);
        }
        LeafOp::Err(t) => {
            out.extend_from_slice(b"-ERR ");
            out.extend_from_slice(t);
        }
        LeafOp::Ping => out.extend_from_slice(b"PING"),
        LeafOp::Pong => out.extend_from_slice(b"PONG"),
        LeafOp::Ok => out.extend_from_slice(b"+OK"),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    fn one(input: &[u8]) -> LeafOp<'_> {
        let mut d = LeafDecoder::new(Limits::default());
        let (op, n) = d.decode(input).unwrap().unwrap();
        assert_eq!(n, input.len());
        op
    }

    fn err(input: &[u8]) -> LeafError {
        let mut d = LeafDecoder::new(Limits {
            max_control_line: 16,
            max_payload: 100,
        });
        let e = d.decode(input).unwrap_err();
        assert_eq!(d.decode(input).unwrap_err(), e, "sticky");
        e
    }

    #[test]
    fn the_observed_wire_forms_decode() {
        // spec §4.1 [obs] lines.
        assert_eq!(
            one(b"LMSG orders 5\r\nhello\r\n"),
            LeafOp::Msg {
                subject: b"orders",
                reply: None,
                queues: Queues(b""),
                headers: None,
                payload: b"hello"
            }
        );
        let LeafOp::Msg { reply, queues, .. } = one(b"LMSG orders reply.1 5\r\nhello\r\n") else {
            panic!()
        };
        assert_eq!((reply, queues.is_empty()), (Some(&b"reply.1"[..]), true));
        let LeafOp::Msg { reply, queues, .. } = one(b"LMSG work | grp 5\r\nhello\r\n") else {
            panic!()
        };
        assert_eq!(reply, None);
        assert_eq!(queues.iter().collect::<Vec<_>>(), vec![&b"grp"[..]]);
        let LeafOp::Msg { reply, queues, .. } = one(b"LMSG work + reply.2 grp g2 5\r\nhello\r\n")
        else {
            panic!()
        };
        assert_eq!(reply, Some(&b"reply.2"[..]));
        assert_eq!(queues.iter().collect::<Vec<_>>(), vec![&b"grp"[..], b"g2"]);
        assert!(queues.contains(b"g2") && !queues.contains(b"g"));
        let LeafOp::Msg {
            headers,
            payload,
            reply,
            ..
        } = one(b"HMSG hdr.demo reply.3 20 24\r\nNATS/1.0\r\nX-A: 1\r\n\r\nbody\r\n")
        else {
            panic!()
        };
        assert_eq!(headers, Some(&b"NATS/1.0\r\nX-A: 1\r\n\r\n"[..]));
        assert_eq!((payload, reply), (&b"body"[..], Some(&b"reply.3"[..])));
        let LeafOp::Msg {
            queues, headers, ..
        } = one(b"HMSG s | q1 q2 12 12\r\nNATS/1.0\r\n\r\n\r\n")
        else {
            panic!()
        };
        assert_eq!(queues.iter().count(), 2);
        assert_eq!(headers.map(<[u8]>::len), Some(12));
        assert_eq!(
            one(b"LS+ jobs grp 2\r\n"),
            LeafOp::Sub {
                subject: b"jobs",
                queue: Some((b"grp", 2))
            }
        );
        assert_eq!(
            one(b"ls+ foo.>\r\n"),
            LeafOp::Sub {
                subject: b"foo.>",
                queue: None
            }
        );
        assert_eq!(
            one(b"LS- jobs grp\r\n"),
            LeafOp::Unsub {
                subject: b"jobs",
                queue: Some(b"grp")
            }
        );
        assert_eq!(one(b"PING\r\n"), LeafOp::Ping);
        assert_eq!(
            one(b"-ERR 'Loop detected'\r\n"),
            LeafOp::Err(b"Loop detected")
        );
        assert_eq!(one(b"INFO {\"a\":1}\r\n"), LeafOp::Info(b"{\"a\":1}"));
        assert_eq!(one(b"CONNECT {}\n"), LeafOp::Connect(b"{}"));
    }

    #[test]
    fn bad_lines_give_nats_servers_errors() {
        let args = |of, what| LeafError::Args { of, what };
        assert_eq!(err(b"LMSG foo\r\n"), args(ArgsOf::Lmsg, ArgsError::Count));
        assert_eq!(
            err(b"LMSG foo x r q 5\r\n"),
            args(ArgsOf::Lmsg, ArgsError::ReplyIndicator)
        );
        assert_eq!(err(b"LMSG foo -1\r\n"), args(ArgsOf::Lmsg, ArgsError::Size));
        assert_eq!(err(b"HMSG foo 5\r\n"), args(ArgsOf::Hmsg, ArgsError::Count));
        assert_eq!(
            err(b"HMSG foo 6 5\r\n"),
            args(ArgsOf::Hmsg, ArgsError::HeaderSize)
        );
        assert_eq!(err(b"LS+ a b\r\n"), args(ArgsOf::Sub, ArgsError::Count));
        assert_eq!(err(b"LS+\r\n"), args(ArgsOf::Sub, ArgsError::Count));
        assert_eq!(err(b"LS- a b c\r\n"), args(ArgsOf::Unsub, ArgsError::Count));
        assert_eq!(err(b"PUB foo 1\r\n"), LeafError::UnknownOp);
        assert_eq!(err(b"LMSG a 1\r\nxyz"), LeafError::UnknownOp);
        assert_eq!(
            err(b"LMSG a 101\r\n"),
            LeafError::MaxPayloadExceeded {
                size: 101,
                max: 100
            }
        );
        assert_eq!(
            err(&[b'x'; 300]),
            LeafError::MaxControlLineExceeded,
            "16 × 16 bytes"
        );
        assert_eq!(
            LeafError::MaxPayloadExceeded {
                size: 1500000,
                max: 1048576
            }
            .to_string(),
            "maximum payload exceeded: 1500000 vs 1048576"
        );
        assert_eq!(
            args(ArgsOf::Lmsg, ArgsError::Count).to_string(),
            "processLeafMsgArgs Parse Error"
        );
        assert_eq!(args(ArgsOf::Sub, ArgsError::Count).err_text(), None);
    }

    #[test]
    fn encoders_round_trip() {
        let mut out = Vec::new();
        encode_lmsg(
            &mut out,
            b"work",
            Some(b"r.2"),
            &[b"grp", b"g2"],
            None,
            b"hello",
        );
        assert_eq!(out, b"LMSG work + r.2 grp g2 5\r\nhello\r\n");
        out.clear();
        encode_lmsg(&mut out, b"work", None, &[b"grp"], None, b"hello");
        assert_eq!(out, b"LMSG work | grp 5\r\nhello\r\n");
        out.clear();
        encode_lmsg(
            &mut out,
            b"h",
            Some(b"r"),
            &[],
            Some(b"NATS/1.0\r\n\r\n"),
            b"ab",
        );
        assert_eq!(out, b"HMSG h r 12 14\r\nNATS/1.0\r\n\r\nab\r\n");
        out.clear();
        encode_ls_plus(&mut out, b"jobs", Some((b"grp", 12)));
        encode_ls_minus(&mut out, b"jobs", Some(b"grp"));
        encode_ls_plus(&mut out, b"x", None);
        assert_eq!(out, b"LS+ jobs grp 12\r\nLS- jobs grp\r\nLS+ x\r\n");
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use alloc::vec;
    use proptest::prelude::*;

    fn token() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            prop_oneof![Just(b'a'), Just(b'.'), Just(b'*'), Just(b'z')],
            1..6,
        )
    }

    fn op() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            (token(), proptest::option::of((token(), 1u32..5))).prop_map(|(s, q)| {
                let mut o = Vec::new();
                encode_ls_plus(&mut o, &s, q.as_ref().map(|(q, w)| (&q[..], *w)));
                o
            }),
            (token(), proptest::option::of(token())).prop_map(|(s, q)| {
                let mut o = Vec::new();
                encode_ls_minus(&mut o, &s, q.as_deref());
                o
            }),
            (
                token(),
                proptest::option::of(token()),
                proptest::collection::vec(token(), 0..3),
                proptest::option::of(Just(b"NATS/1.0\r\n\r\n".to_vec())),
                proptest::collection::vec(any::<u8>(), 0..40)
            )
                .prop_map(|(s, r, qs, h, p)| {
                    let mut o = Vec::new();
                    let qs: Vec<&[u8]> = qs.iter().map(Vec::as_slice).collect();
                    encode_lmsg(&mut o, &s, r.as_deref(), &qs, h.as_deref(), &p);
                    o
                }),
            Just(b"PING\r\n".to_vec()),
            Just(b"PONG\r\n".to_vec()),
        ]
    }

    proptest! {
        /// Chunking property: any split of a stream of valid ops gives the
        /// same ops as the whole, and each op re-encodes to its bytes.
        #[test]
        fn any_split_gives_the_same_ops(ops in proptest::collection::vec(op(), 1..8), step in 1usize..20) {
            let data: Vec<u8> = ops.concat();
            let (whole, e) = decode_all(Limits::default(), &data, data.len());
            prop_assert!(e.is_none());
            let expect: Vec<Vec<u8>> = ops.iter().map(|o| o.strip_suffix(b"\r\n").filter(|_| !o.starts_with(b"LMSG") && !o.starts_with(b"HMSG") && !o.starts_with(b"LS")).map_or(o.clone(), <[u8]>::to_vec)).collect();
            prop_assert_eq!(&whole, &expect);
            prop_assert_eq!(decode_all(Limits::default(), &data, step), (whole, None));
        }

        /// Arbitrary bytes: whole and split decoding agree, no panic.
        #[test]
        fn garbage_is_split_invariant(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            fuzz_decode(&data);
        }

        /// Lines around the control-line limit (1024 + slack in
        /// `fuzz_decode`): the verdict does not depend on the split.
        #[test]
        fn long_lines_are_split_invariant(name in 0usize..1100, args in 0usize..1100, cr in any::<bool>()) {
            let mut data = vec![b'L'; name];
            data.push(b' ');
            data.extend(core::iter::repeat_n(b'a', args));
            if cr { data.push(b'\r'); }
            data.push(b'\n');
            fuzz_decode(&data);
        }
    }
}
