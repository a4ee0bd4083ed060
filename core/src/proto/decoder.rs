//! The resumable NATS push decoders (spec §1.1–§1.3).
//!
//! Both decoders share one scanner. The caller keeps every byte not yet
//! consumed and presents all of them on each call; the scanner remembers how
//! far it got (the position of the scan for LF, where the arguments start, or
//! the parsed control line while it waits for a payload), so feeding a long
//! line or payload a few bytes at a time costs linear time.
//!
//! Every check happens at the first byte that decides it, in nats-server's
//! order, so an input gives the same ops and the same error however it is
//! split:
//! 1. the op name, case-insensitively, byte by byte (`UnknownOp` at the first
//!    byte that no op name allows: a leading blank, an empty line, `MSG` from
//!    a client, …);
//! 2. the mandatory blank after `PUB`/`HPUB`/`SUB`/`UNSUB`/`-ERR`/`MSG`/`HMSG`;
//! 3. the control-line limit, while the line accumulates and at its LF;
//! 4. at the LF: headers allowed (HPUB), argument count, size fields, header
//!    size ≤ total size, max payload;
//! 5. the payload bytes, then exactly CR LF.

use super::{ClientOp, Error, Limits, ServerOp};

/// Which operation a control line starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Connect,
    Pub,
    Hpub,
    Sub,
    Unsub,
    Ping,
    Pong,
    Info,
    Ok,
    Err,
    Msg,
    Hmsg,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Connect => "CONNECT",
            Kind::Pub => "PUB",
            Kind::Hpub => "HPUB",
            Kind::Sub => "SUB",
            Kind::Unsub => "UNSUB",
            Kind::Ping => "PING",
            Kind::Pong => "PONG",
            Kind::Info => "INFO",
            Kind::Ok => "+OK",
            Kind::Err => "-ERR",
            Kind::Msg => "MSG",
            Kind::Hmsg => "HMSG",
        }
    }

    fn style(self) -> Style {
        match self {
            Kind::Ping | Kind::Pong | Kind::Ok => Style::Ignored,
            Kind::Connect | Kind::Info => Style::Json,
            Kind::Pub
            | Kind::Hpub
            | Kind::Sub
            | Kind::Unsub
            | Kind::Err
            | Kind::Msg
            | Kind::Hmsg => Style::Blank,
        }
    }
}

/// What may follow the op name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    /// At least one space/TAB, then arguments.
    Blank,
    /// Optional spaces/TABs, then the JSON.
    Json,
    /// Anything up to LF, ignored.
    Ignored,
}

/// Op names a server accepts from a client (spec §1.2). No name is a prefix
/// of another, so the first full match is the op.
const CLIENT_OPS: &[(&[u8], Kind)] = &[
    (b"PUB", Kind::Pub),
    (b"HPUB", Kind::Hpub),
    (b"SUB", Kind::Sub),
    (b"UNSUB", Kind::Unsub),
    (b"PING", Kind::Ping),
    (b"PONG", Kind::Pong),
    (b"CONNECT", Kind::Connect),
    (b"INFO", Kind::Info),
    (b"+OK", Kind::Ok),
    (b"-ERR", Kind::Err),
];

/// Op names a client accepts from a server (spec §1.3).
const SERVER_OPS: &[(&[u8], Kind)] = &[
    (b"MSG", Kind::Msg),
    (b"HMSG", Kind::Hmsg),
    (b"PING", Kind::Ping),
    (b"PONG", Kind::Pong),
    (b"INFO", Kind::Info),
    (b"+OK", Kind::Ok),
    (b"-ERR", Kind::Err),
];

#[inline]
fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Argument separators inside a control line: space, TAB, and a CR that is
/// not the one right before the LF (nats-server's `splitArg`).
#[inline]
fn is_sep(b: u8) -> bool {
    b == b' ' || b == b'\t' || b == b'\r'
}

/// A byte range of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Span {
    start: usize,
    end: usize,
}

impl Span {
    fn of(self, input: &[u8]) -> &[u8] {
        &input[self.start..self.end]
    }
}

/// A parsed PUB/HPUB/MSG/HMSG control line waiting for its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pending {
    kind: Kind,
    subject: Span,
    sid: Span,
    reply: Option<Span>,
    /// Header bytes (0 for PUB/MSG).
    hdr: usize,
    /// Total bytes after the control line, before the final CR LF.
    total: usize,
    /// Index of the first payload byte (just after the control line's LF).
    body: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Reading a control line: `scanned` bytes examined without finding LF;
    /// `arg_start` is the first non-blank byte after the op name, if seen.
    Line {
        scanned: usize,
        arg_start: Option<usize>,
    },
    /// Control line parsed, waiting for the payload and CR LF.
    Payload(Pending),
    /// A fatal error was returned; it is returned again on every call.
    Poisoned(Error),
}

const FRESH: State = State::Line {
    scanned: 0,
    arg_start: None,
};

/// One decoded op, before it is mapped to [`ClientOp`] or [`ServerOp`].
enum Raw<'a> {
    /// PING, PONG, +OK.
    Bare(Kind),
    /// CONNECT, INFO, -ERR with the rest of the line.
    Text(Kind, &'a [u8]),
    Sub {
        subject: &'a [u8],
        queue: Option<&'a [u8]>,
        sid: &'a [u8],
    },
    Unsub {
        sid: &'a [u8],
        max_msgs: Option<u64>,
    },
    /// PUB, HPUB, MSG, HMSG (`sid` empty for PUB/HPUB).
    Msg {
        kind: Kind,
        subject: &'a [u8],
        sid: &'a [u8],
        reply: Option<&'a [u8]>,
        headers: &'a [u8],
        payload: &'a [u8],
    },
}

/// The shared scanner.
#[derive(Debug, Clone)]
struct Scanner {
    limits: Limits,
    headers: bool,
    ops: &'static [(&'static [u8], Kind)],
    state: State,
}

/// Parses a PUB/HPUB size field: 1–9 ASCII digits (nats-server `parseSize`).
fn parse_size(d: &[u8]) -> Option<usize> {
    if d.is_empty() || d.len() > 9 {
        return None;
    }
    let mut n = 0usize;
    for &b in d {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + usize::from(b - b'0');
    }
    Some(n)
}

/// Splits `input[lo..hi]` at runs of separators. Returns up to 5 spans and
/// the total number of arguments (which may be larger than 5).
fn split_args(input: &[u8], lo: usize, hi: usize) -> ([Span; 5], usize) {
    let mut out = [Span::default(); 5];
    let mut n = 0;
    let mut start: Option<usize> = None;
    for (i, &b) in input[lo..hi].iter().enumerate() {
        let i = lo + i;
        if is_sep(b) {
            if let Some(s) = start.take() {
                if n < out.len() {
                    out[n] = Span { start: s, end: i };
                }
                n += 1;
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        if n < out.len() {
            out[n] = Span { start: s, end: hi };
        }
        n += 1;
    }
    (out, n)
}

impl Scanner {
    fn new(limits: Limits, ops: &'static [(&'static [u8], Kind)]) -> Self {
        Scanner {
            limits,
            headers: true,
            ops,
            state: FRESH,
        }
    }

    fn decode<'a>(&mut self, input: &'a [u8]) -> Result<Option<(Raw<'a>, usize)>, Error> {
        match self.step(input) {
            Err(e) => {
                self.state = State::Poisoned(e.clone());
                Err(e)
            }
            ok => ok,
        }
    }

    /// Matches the op name at the start of `input`, case-insensitively.
    /// `Ok(None)`: every byte present is a prefix of some op name.
    fn match_name(&self, input: &[u8]) -> Result<Option<(Kind, usize)>, Error> {
        if input.is_empty() {
            return Ok(None);
        }
        let mut partial = false;
        for &(name, kind) in self.ops {
            let n = name.len().min(input.len());
            if input[..n]
                .iter()
                .zip(name)
                .all(|(a, b)| a.to_ascii_uppercase() == *b)
            {
                if input.len() >= name.len() {
                    return Ok(Some((kind, name.len())));
                }
                partial = true;
            }
        }
        if partial {
            Ok(None)
        } else {
            Err(Error::UnknownOp)
        }
    }

    fn step<'a>(&mut self, input: &'a [u8]) -> Result<Option<(Raw<'a>, usize)>, Error> {
        let (scanned, arg_start) = match &self.state {
            State::Poisoned(e) => return Err(e.clone()),
            State::Payload(p) => {
                let p = *p;
                if input.len() >= p.body {
                    return self.payload(input, p);
                }
                // API misuse (fewer bytes than before): parse again.
                (0, None)
            }
            State::Line { scanned, arg_start } => {
                if *scanned <= input.len() {
                    (*scanned, *arg_start)
                } else {
                    (0, None)
                }
            }
        };
        let Some((kind, p)) = self.match_name(input)? else {
            self.state = FRESH;
            return Ok(None);
        };
        let style = kind.style();
        let mut arg_start = if scanned > p { arg_start } else { None };
        let mut i = scanned.max(p);
        if style == Style::Blank {
            match input.get(p) {
                None => {
                    self.state = FRESH;
                    return Ok(None);
                }
                Some(&b) if !is_blank(b) => return Err(Error::UnknownOp),
                Some(_) => i = i.max(p + 1),
            }
        }
        if style != Style::Ignored && arg_start.is_none() {
            while i < input.len() && is_blank(input[i]) {
                i += 1;
            }
            if i < input.len() {
                arg_start = Some(i);
            }
        }
        let Some(off) = input[i..].iter().position(|&b| b == b'\n') else {
            // Partial line: check the limit on what has accumulated so far,
            // measured exactly as on the complete line (a trailing CR may be
            // the one before LF, so it does not count yet).
            let avail = input.len();
            let cr = usize::from(avail > p && input[avail - 1] == b'\r');
            // As on a complete line, the blank run after the op name and the
            // arguments are each held to the limit.
            let m = match (style, arg_start) {
                (Style::Ignored, _) => avail - p - cr,
                (_, None) => avail - p,
                (_, Some(a)) => (avail - a - cr).max(a - p),
            };
            if m > self.limits.max_control_line {
                return Err(Error::MaxControlLineExceeded);
            }
            self.state = State::Line {
                scanned: avail,
                arg_start,
            };
            return Ok(None);
        };
        self.state = FRESH;
        self.line(input, kind, p, arg_start, i + off)
    }

    /// Handles a complete control line: op name `input[..p]`, LF at `e`.
    fn line<'a>(
        &mut self,
        input: &'a [u8],
        kind: Kind,
        p: usize,
        arg_start: Option<usize>,
        e: usize,
    ) -> Result<Option<(Raw<'a>, usize)>, Error> {
        let max = self.limits.max_control_line;
        let line_end = if e > p && input[e - 1] == b'\r' {
            e - 1
        } else {
            e
        };
        if kind.style() == Style::Ignored {
            if line_end - p > max {
                return Err(Error::MaxControlLineExceeded);
            }
            return Ok(Some((Raw::Bare(kind), e + 1)));
        }
        let ws_end = arg_start.unwrap_or(e).min(line_end);
        if ws_end - p > max || line_end - ws_end > max {
            return Err(Error::MaxControlLineExceeded);
        }
        let op = kind.name();
        match kind {
            Kind::Connect | Kind::Info | Kind::Err => {
                Ok(Some((Raw::Text(kind, &input[ws_end..line_end]), e + 1)))
            }
            Kind::Sub => {
                let (a, n) = split_args(input, ws_end, line_end);
                let (subject, queue, sid) = match n {
                    2 => (a[0], None, a[1]),
                    3 => (a[0], Some(a[1]), a[2]),
                    _ => return Err(Error::InvalidArgCount { op }),
                };
                Ok(Some((
                    Raw::Sub {
                        subject: subject.of(input),
                        queue: queue.map(|q| q.of(input)),
                        sid: sid.of(input),
                    },
                    e + 1,
                )))
            }
            Kind::Unsub => {
                let (a, n) = split_args(input, ws_end, line_end);
                let (sid, max_msgs) = match n {
                    1 => (a[0], None),
                    // An invalid or zero max means "unsubscribe now".
                    2 => (
                        a[0],
                        parse_size(a[1].of(input))
                            .filter(|&m| m > 0)
                            .map(|m| m as u64),
                    ),
                    _ => return Err(Error::InvalidArgCount { op }),
                };
                Ok(Some((
                    Raw::Unsub {
                        sid: sid.of(input),
                        max_msgs,
                    },
                    e + 1,
                )))
            }
            Kind::Pub | Kind::Hpub | Kind::Msg | Kind::Hmsg => {
                if kind == Kind::Hpub && !self.headers {
                    return Err(Error::HeadersNotSupported);
                }
                let (a, n) = split_args(input, ws_end, line_end);
                let empty = Span {
                    start: ws_end,
                    end: ws_end,
                };
                // (subject, sid, reply, header size field, total size field)
                let (subject, sid, reply, hdr, total) = match (kind, n) {
                    (Kind::Pub, 2) => (a[0], empty, None, None, a[1]),
                    (Kind::Pub, 3) => (a[0], empty, Some(a[1]), None, a[2]),
                    (Kind::Hpub, 3) => (a[0], empty, None, Some(a[1]), a[2]),
                    (Kind::Hpub, 4) => (a[0], empty, Some(a[1]), Some(a[2]), a[3]),
                    (Kind::Msg, 3) => (a[0], a[1], None, None, a[2]),
                    (Kind::Msg, 4) => (a[0], a[1], Some(a[2]), None, a[3]),
                    (Kind::Hmsg, 4) => (a[0], a[1], None, Some(a[2]), a[3]),
                    (Kind::Hmsg, 5) => (a[0], a[1], Some(a[2]), Some(a[3]), a[4]),
                    _ => return Err(Error::InvalidArgCount { op }),
                };
                let hdr = match hdr {
                    None => 0,
                    Some(h) => parse_size(h.of(input)).ok_or(Error::InvalidSize { op })?,
                };
                let total = parse_size(total.of(input)).ok_or(Error::InvalidSize { op })?;
                if hdr > total {
                    return Err(Error::HeaderSizeTooLarge);
                }
                if total > self.limits.max_payload {
                    return Err(Error::MaxPayloadExceeded {
                        size: total,
                        max: self.limits.max_payload,
                    });
                }
                let pending = Pending {
                    kind,
                    subject,
                    sid,
                    reply,
                    hdr,
                    total,
                    body: e + 1,
                };
                self.payload(input, pending)
            }
            Kind::Ping | Kind::Pong | Kind::Ok => Ok(Some((Raw::Bare(kind), e + 1))),
        }
    }

    /// Waits for the payload of `p` and the CR LF after it.
    fn payload<'a>(
        &mut self,
        input: &'a [u8],
        p: Pending,
    ) -> Result<Option<(Raw<'a>, usize)>, Error> {
        // Saturating: on 32-bit targets body + total could in theory wrap.
        let t = p.body.saturating_add(p.total);
        let end = t.saturating_add(2);
        if input.len() > t && input[t] != b'\r' {
            return Err(Error::UnknownOp);
        }
        if input.len() > t.saturating_add(1) && input[t + 1] != b'\n' {
            return Err(Error::UnknownOp);
        }
        if input.len() < end {
            self.state = State::Payload(p);
            return Ok(None);
        }
        self.state = FRESH;
        let split = p.body + p.hdr;
        Ok(Some((
            Raw::Msg {
                kind: p.kind,
                subject: p.subject.of(input),
                sid: p.sid.of(input),
                reply: p.reply.map(|r| r.of(input)),
                headers: &input[p.body..split],
                payload: &input[split..t],
            },
            end,
        )))
    }
}

/// Server-side decoder: parses what a client sends (spec §1.2).
///
/// Feed it every byte not yet consumed; see [`ClientDecoder::decode`]. The
/// ops it knows are `CONNECT`, `PUB`, `HPUB`, `SUB`, `UNSUB`, `PING`, `PONG`,
/// `INFO`, `+OK` and `-ERR`; anything else (including `MSG`/`HMSG`) is
/// [`Error::UnknownOp`].
///
/// The decoder does not validate subjects (the session does, spec §1.2) nor
/// parse CONNECT/INFO JSON (see [`Connect::from_json`](super::Connect::from_json)
/// and [`Info::from_json`](super::Info::from_json)).
#[derive(Debug, Clone)]
pub struct ClientDecoder {
    scanner: Scanner,
}

impl Default for ClientDecoder {
    fn default() -> Self {
        ClientDecoder::new(Limits::default())
    }
}

impl ClientDecoder {
    /// A decoder with the given limits; HPUB is accepted until
    /// [`set_headers(false)`](Self::set_headers).
    #[must_use]
    pub fn new(limits: Limits) -> Self {
        ClientDecoder {
            scanner: Scanner::new(limits, CLIENT_OPS),
        }
    }

    /// The limits in force.
    #[must_use]
    pub fn limits(&self) -> Limits {
        self.scanner.limits
    }

    /// Replaces the limits (e.g. after CONNECT binds an account with a lower
    /// max payload). Applies to checks made from now on.
    pub fn set_limits(&mut self, limits: Limits) {
        self.scanner.limits = limits;
    }

    /// Whether HPUB is allowed (default `true`). With `false`, an HPUB line
    /// fails with [`Error::HeadersNotSupported`] right after the control-line
    /// limit check and before its arguments are looked at, which is
    /// nats-server's order (spec §1.2: a client that did not send
    /// `"headers":true`, or a server with `no_header_support`).
    pub fn set_headers(&mut self, allowed: bool) {
        self.scanner.headers = allowed;
    }

    /// Whether a fatal error was returned (every later call returns it).
    #[must_use]
    pub fn is_poisoned(&self) -> bool {
        matches!(self.scanner.state, State::Poisoned(_))
    }

    /// Decodes the next operation.
    ///
    /// `input` is every byte not yet consumed. `Ok(Some((op, n)))`: the op
    /// borrows from and used the first `n` bytes of `input`; discard them and
    /// call again with the rest. `Ok(None)`: more bytes are needed; call again
    /// with the same bytes followed by more (the decoder remembers how far it
    /// scanned, so this is not quadratic). `Err(e)`: fatal; send
    /// [`Error::err_text`] if any and close. Errors are sticky.
    ///
    /// # Errors
    /// Every [`Error`] variant except [`Error::ErrReceived`]; see spec §1.9.
    pub fn decode<'a>(&mut self, input: &'a [u8]) -> Result<Option<(ClientOp<'a>, usize)>, Error> {
        let Some((raw, n)) = self.scanner.decode(input)? else {
            return Ok(None);
        };
        let op = match raw {
            Raw::Bare(Kind::Ping) => ClientOp::Ping,
            Raw::Bare(Kind::Pong) => ClientOp::Pong,
            Raw::Bare(_) => ClientOp::Ok,
            Raw::Text(Kind::Connect, t) => ClientOp::Connect(t),
            Raw::Text(Kind::Info, t) => ClientOp::Info(t),
            Raw::Text(_, t) => ClientOp::Err(t),
            Raw::Sub {
                subject,
                queue,
                sid,
            } => ClientOp::Sub {
                subject,
                queue,
                sid,
            },
            Raw::Unsub { sid, max_msgs } => ClientOp::Unsub { sid, max_msgs },
            Raw::Msg {
                kind: Kind::Hpub,
                subject,
                reply,
                headers,
                payload,
                ..
            } => ClientOp::Hpub {
                subject,
                reply,
                headers,
                payload,
            },
            Raw::Msg {
                subject,
                reply,
                payload,
                ..
            } => ClientOp::Pub {
                subject,
                reply,
                payload,
            },
        };
        Ok(Some((op, n)))
    }
}

/// Client-side decoder: parses what a server sends (spec §1.3): `INFO`,
/// `MSG`, `HMSG`, `+OK`, `-ERR`, `PING`, `PONG`. Same contract and lexical
/// rules as [`ClientDecoder`]; anything else is [`Error::UnknownOp`].
#[derive(Debug, Clone)]
pub struct ServerDecoder {
    scanner: Scanner,
}

impl Default for ServerDecoder {
    fn default() -> Self {
        ServerDecoder::new(Limits::default())
    }
}

impl ServerDecoder {
    /// A decoder with the given limits.
    #[must_use]
    pub fn new(limits: Limits) -> Self {
        ServerDecoder {
            scanner: Scanner::new(limits, SERVER_OPS),
        }
    }

    /// The limits in force.
    #[must_use]
    pub fn limits(&self) -> Limits {
        self.scanner.limits
    }

    /// Replaces the limits (e.g. with the server's INFO `max_payload`).
    pub fn set_limits(&mut self, limits: Limits) {
        self.scanner.limits = limits;
    }

    /// Whether a fatal error was returned (every later call returns it).
    #[must_use]
    pub fn is_poisoned(&self) -> bool {
        matches!(self.scanner.state, State::Poisoned(_))
    }

    /// Decodes the next operation; same contract as [`ClientDecoder::decode`].
    ///
    /// # Errors
    /// As [`ClientDecoder::decode`] (never `HeadersNotSupported`).
    pub fn decode<'a>(&mut self, input: &'a [u8]) -> Result<Option<(ServerOp<'a>, usize)>, Error> {
        let Some((raw, n)) = self.scanner.decode(input)? else {
            return Ok(None);
        };
        let op = match raw {
            Raw::Bare(Kind::Ping) => ServerOp::Ping,
            Raw::Bare(Kind::Pong) => ServerOp::Pong,
            Raw::Bare(_) => ServerOp::Ok,
            Raw::Text(Kind::Info, t) => ServerOp::Info(t),
            Raw::Text(_, t) => ServerOp::Err(t),
            Raw::Msg {
                kind: Kind::Hmsg,
                subject,
                sid,
                reply,
                headers,
                payload,
            } => ServerOp::Hmsg {
                subject,
                sid,
                reply,
                headers,
                payload,
            },
            Raw::Msg {
                subject,
                sid,
                reply,
                payload,
                ..
            } => ServerOp::Msg {
                subject,
                sid,
                reply,
                payload,
            },
            // SERVER_OPS has no SUB/UNSUB.
            Raw::Sub { .. } | Raw::Unsub { .. } => return Err(Error::UnknownOp),
        };
        Ok(Some((op, n)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_size_rules() {
        assert_eq!(parse_size(b"0"), Some(0));
        assert_eq!(parse_size(b"999999999"), Some(999_999_999));
        assert_eq!(parse_size(b"1000000000"), None);
        assert_eq!(parse_size(b""), None);
        assert_eq!(parse_size(b"-1"), None);
        assert_eq!(parse_size(b"+1"), None);
        assert_eq!(parse_size(b"1a"), None);
    }

    #[test]
    fn split_counts_beyond_five() {
        let s = b"a b\tc  d e f";
        let (a, n) = split_args(s, 0, s.len());
        assert_eq!(n, 6);
        assert_eq!(a[2].of(s), b"c");
        assert_eq!(a[4].of(s), b"e");
    }

    #[test]
    fn remembers_scan_position() {
        let mut d = ClientDecoder::default();
        let line = b"SUB foo 1\r\n";
        for k in 1..line.len() {
            assert!(d.decode(&line[..k]).unwrap().is_none());
            if k > 4 {
                assert!(matches!(d.scanner.state, State::Line { scanned, .. } if scanned == k));
            }
        }
        assert!(d.decode(line).unwrap().is_some());
        assert_eq!(d.scanner.state, FRESH);
    }

    #[test]
    fn waits_for_payload_without_reparsing() {
        let mut d = ClientDecoder::default();
        let mut input = b"PUB foo 1000\r\n".to_vec();
        assert!(d.decode(&input).unwrap().is_none());
        let State::Payload(p) = d.scanner.state else {
            panic!("{:?}", d.scanner.state)
        };
        assert_eq!((p.body, p.total), (input.len(), 1000));
        for _ in 0..1000 {
            input.push(b'x');
            assert!(d.decode(&input).unwrap().is_none());
            assert_eq!(d.scanner.state, State::Payload(p));
        }
        input.extend_from_slice(b"\r\n");
        let (op, n) = d.decode(&input).unwrap().unwrap();
        assert_eq!(n, input.len());
        assert!(matches!(op, ClientOp::Pub { payload, .. } if payload.len() == 1000));
    }
}
