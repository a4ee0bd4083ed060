//! Client side of the NATS wire protocol: a small streaming parser for the
//! operations a server sends (nats-protocol.md §1.3) and the few client
//! operations the bench writes (§1.2).
//!
//! The parser never allocates per message: a control line that ends inside
//! the current read is parsed in place, and only a line split across reads is
//! copied into a reusable buffer. `MSG`/`HMSG` payloads are skipped, not
//! copied; the event is delivered when the control line is complete.

use core::fmt;

/// Longest control line accepted from the server, in bytes (the reference's
/// default `max_control_line` is 4 KiB; INFO lines can be longer, so allow
/// 64 KiB before calling the stream corrupt).
pub(crate) const MAX_LINE: usize = 64 * 1024;

/// One server operation. Borrowed slices point into the read buffer (or the
/// parser's carry-over line buffer) and are valid only inside the callback.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Op<'a> {
    /// `MSG`/`HMSG` control line. `size` is the total payload size in bytes
    /// (headers included for `HMSG`); the payload itself and its trailing CRLF
    /// are consumed by the parser after this event.
    Msg {
        subject: &'a [u8],
        sid: &'a [u8],
        reply: Option<&'a [u8]>,
        size: usize,
    },
    /// `PING`: the server expects a `PONG`.
    Ping,
    /// `PONG`: answer to our `PING`.
    Pong,
    /// `+OK` (verbose mode only).
    Ok,
    /// `-ERR '<text>'`: the text between the op and CRLF, quotes included.
    Err(&'a [u8]),
    /// `INFO <json>`: the JSON text (trailing space trimmed).
    Info(&'a [u8]),
}

/// A malformed server stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProtoError(pub(crate) String);

impl fmt::Display for ProtoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "protocol error from server: {}", self.0)
    }
}

impl core::error::Error for ProtoError {}

/// Streaming parser state: bytes of payload still to skip, and a partial
/// control line carried over from the previous read.
#[derive(Debug, Default)]
pub(crate) struct Parser {
    line: Vec<u8>,
    skip: usize,
}

impl Parser {
    /// Feeds `data` (any split of the stream) and calls `on_op` for every
    /// complete operation, in order. Errors on an unknown operation, a bad
    /// `MSG` line or a control line longer than [`MAX_LINE`].
    pub(crate) fn feed<F: FnMut(Op<'_>)>(
        &mut self,
        mut data: &[u8],
        mut on_op: F,
    ) -> Result<(), ProtoError> {
        loop {
            if self.skip > 0 {
                let n = self.skip.min(data.len());
                self.skip -= n;
                data = &data[n..];
            }
            if data.is_empty() {
                return Ok(());
            }
            match data.iter().position(|&b| b == b'\n') {
                None => {
                    if self.line.len() + data.len() > MAX_LINE {
                        return Err(ProtoError("control line too long".into()));
                    }
                    self.line.extend_from_slice(data);
                    return Ok(());
                }
                Some(i) => {
                    let rest = &data[i + 1..];
                    if self.line.is_empty() {
                        self.skip = parse_line(&data[..i], &mut on_op)?;
                    } else {
                        if self.line.len() + i > MAX_LINE {
                            return Err(ProtoError("control line too long".into()));
                        }
                        let mut line = core::mem::take(&mut self.line);
                        line.extend_from_slice(&data[..i]);
                        let r = parse_line(&line, &mut on_op);
                        line.clear();
                        self.line = line;
                        self.skip = r?;
                    }
                    data = rest;
                }
            }
        }
    }
}

/// Parses one control line (without its `\n`); returns the number of bytes
/// to skip after it (payload + CRLF for `MSG`/`HMSG`, else 0).
fn parse_line<F: FnMut(Op<'_>)>(line: &[u8], on_op: &mut F) -> Result<usize, ProtoError> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let (op, rest) = match line.iter().position(|&b| b == b' ' || b == b'\t') {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => (line, &line[line.len()..]),
    };
    if op.eq_ignore_ascii_case(b"MSG") {
        let mut args = [&b""[..]; 4];
        let n = split_args(rest, &mut args)?;
        let (reply, size) = match n {
            3 => (None, args[2]),
            4 => (Some(args[2]), args[3]),
            _ => return Err(bad_line("MSG", line)),
        };
        let size = parse_size(size).ok_or_else(|| bad_line("MSG", line))?;
        on_op(Op::Msg {
            subject: args[0],
            sid: args[1],
            reply,
            size,
        });
        Ok(size + 2)
    } else if op.eq_ignore_ascii_case(b"HMSG") {
        let mut args = [&b""[..]; 5];
        let n = split_args(rest, &mut args)?;
        let (reply, hdr, total) = match n {
            4 => (None, args[2], args[3]),
            5 => (Some(args[2]), args[3], args[4]),
            _ => return Err(bad_line("HMSG", line)),
        };
        let hdr = parse_size(hdr).ok_or_else(|| bad_line("HMSG", line))?;
        let size = parse_size(total).ok_or_else(|| bad_line("HMSG", line))?;
        if hdr > size {
            return Err(bad_line("HMSG", line));
        }
        on_op(Op::Msg {
            subject: args[0],
            sid: args[1],
            reply,
            size,
        });
        Ok(size + 2)
    } else if op.eq_ignore_ascii_case(b"PING") {
        on_op(Op::Ping);
        Ok(0)
    } else if op.eq_ignore_ascii_case(b"PONG") {
        on_op(Op::Pong);
        Ok(0)
    } else if op.eq_ignore_ascii_case(b"+OK") {
        on_op(Op::Ok);
        Ok(0)
    } else if op.eq_ignore_ascii_case(b"-ERR") {
        on_op(Op::Err(rest.trim_ascii()));
        Ok(0)
    } else if op.eq_ignore_ascii_case(b"INFO") {
        on_op(Op::Info(rest.trim_ascii()));
        Ok(0)
    } else {
        Err(ProtoError(format!(
            "unknown operation {:?}",
            String::from_utf8_lossy(&line[..line.len().min(64)])
        )))
    }
}

fn bad_line(op: &str, line: &[u8]) -> ProtoError {
    ProtoError(format!(
        "malformed {op} line {:?}",
        String::from_utf8_lossy(&line[..line.len().min(128)])
    ))
}

/// Splits on runs of spaces/tabs into `out`; errors when there are more
/// arguments than `out` holds. Returns the argument count.
fn split_args<'a>(s: &'a [u8], out: &mut [&'a [u8]]) -> Result<usize, ProtoError> {
    let mut n = 0;
    for arg in s
        .split(|&b| b == b' ' || b == b'\t')
        .filter(|a| !a.is_empty())
    {
        if n == out.len() {
            return Err(ProtoError("too many arguments".into()));
        }
        out[n] = arg;
        n += 1;
    }
    Ok(n)
}

/// Decimal size token; `None` when empty, not all digits, or overflowing.
pub(crate) fn parse_size(s: &[u8]) -> Option<usize> {
    if s.is_empty() {
        return None;
    }
    let mut v: usize = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(usize::from(b - b'0'))?;
    }
    Some(v)
}

/// Appends `PUB <subject> [reply] <len>\r\n<payload>\r\n` to `out`.
pub(crate) fn push_pub(out: &mut Vec<u8>, subject: &[u8], reply: Option<&[u8]>, payload: &[u8]) {
    out.extend_from_slice(b"PUB ");
    out.extend_from_slice(subject);
    out.push(b' ');
    if let Some(r) = reply {
        out.extend_from_slice(r);
        out.push(b' ');
    }
    push_decimal(out, payload.len());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(payload);
    out.extend_from_slice(b"\r\n");
}

/// Appends the decimal form of `v` without allocating.
pub(crate) fn push_decimal(out: &mut Vec<u8>, mut v: usize) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&tmp[i..]);
}

/// The CONNECT line the bench sends: no echo, no verbose, no headers, so
/// every server sends plain `MSG` and never `+OK`.
pub(crate) const CONNECT: &[u8] = b"CONNECT {\"verbose\":false,\"pedantic\":false,\"tls_required\":false,\"name\":\"natsws-bench\",\"lang\":\"rust\",\"version\":\"0.1.0\",\"protocol\":1,\"echo\":false,\"headers\":false,\"no_responders\":false}\r\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Eq)]
    enum Owned {
        Msg(String, String, Option<String>, usize),
        Ping,
        Pong,
        Ok,
        Err(String),
        Info(String),
    }

    fn s(b: &[u8]) -> String {
        String::from_utf8(b.to_vec()).unwrap()
    }

    fn collect(p: &mut Parser, data: &[u8], out: &mut Vec<Owned>) -> Result<(), ProtoError> {
        p.feed(data, |op| {
            out.push(match op {
                Op::Msg {
                    subject,
                    sid,
                    reply,
                    size,
                } => Owned::Msg(s(subject), s(sid), reply.map(s), size),
                Op::Ping => Owned::Ping,
                Op::Pong => Owned::Pong,
                Op::Ok => Owned::Ok,
                Op::Err(e) => Owned::Err(s(e)),
                Op::Info(i) => Owned::Info(s(i)),
            })
        })
    }

    const STREAM: &[u8] = b"INFO {\"server_id\":\"x\"} \r\nMSG foo.bar 1 5\r\nhello\r\nMSG a 22 _INBOX.r 0\r\n\r\nHMSG h 3 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPING\r\nPONG\r\n+OK\r\n-ERR 'Slow Consumer'\r\nMSG x 1 3\r\n\r\n\n\r\n";

    fn expected() -> Vec<Owned> {
        vec![
            Owned::Info("{\"server_id\":\"x\"}".into()),
            Owned::Msg("foo.bar".into(), "1".into(), None, 5),
            Owned::Msg("a".into(), "22".into(), Some("_INBOX.r".into()), 0),
            Owned::Msg("h".into(), "3".into(), None, 14),
            Owned::Ping,
            Owned::Pong,
            Owned::Ok,
            Owned::Err("'Slow Consumer'".into()),
            // Payload bytes that look like line ends are skipped, not parsed.
            Owned::Msg("x".into(), "1".into(), None, 3),
        ]
    }

    #[test]
    fn whole_stream_in_one_read() {
        let mut p = Parser::default();
        let mut out = Vec::new();
        collect(&mut p, STREAM, &mut out).unwrap();
        assert_eq!(out, expected());
    }

    #[test]
    fn every_two_way_split_gives_the_same_ops() {
        for cut in 0..=STREAM.len() {
            let mut p = Parser::default();
            let mut out = Vec::new();
            collect(&mut p, &STREAM[..cut], &mut out).unwrap();
            collect(&mut p, &STREAM[cut..], &mut out).unwrap();
            assert_eq!(out, expected(), "split at {cut}");
        }
    }

    #[test]
    fn byte_by_byte_gives_the_same_ops() {
        let mut p = Parser::default();
        let mut out = Vec::new();
        for b in STREAM.chunks(1) {
            collect(&mut p, b, &mut out).unwrap();
        }
        assert_eq!(out, expected());
    }

    #[test]
    fn large_payload_split_over_many_reads_is_skipped() {
        let mut stream = b"MSG big 9 70000\r\n".to_vec();
        stream.extend(core::iter::repeat_n(b'\n', 70000));
        stream.extend_from_slice(b"\r\nPONG\r\n");
        let mut p = Parser::default();
        let mut out = Vec::new();
        for c in stream.chunks(4096) {
            collect(&mut p, c, &mut out).unwrap();
        }
        assert_eq!(
            out,
            vec![
                Owned::Msg("big".into(), "9".into(), None, 70000),
                Owned::Pong
            ]
        );
    }

    #[test]
    fn unknown_operation_is_an_error() {
        let mut p = Parser::default();
        let err = collect(&mut p, b"BOGUS x\r\n", &mut Vec::new()).unwrap_err();
        assert!(err.0.contains("unknown operation"), "{err}");
    }

    #[test]
    fn malformed_msg_lines_are_errors() {
        for line in [
            &b"MSG foo 1\r\n"[..],
            b"MSG foo 1 x\r\n",
            b"MSG a b c d e\r\n",
            b"MSG foo 1 99999999999999999999999\r\n",
            b"HMSG foo 1 10 5\r\n",
        ] {
            let mut p = Parser::default();
            assert!(collect(&mut p, line, &mut Vec::new()).is_err(), "{line:?}");
        }
    }

    #[test]
    fn overlong_split_line_is_an_error() {
        let mut p = Parser::default();
        let junk = vec![b'a'; MAX_LINE];
        collect(&mut p, &junk, &mut Vec::new()).unwrap();
        assert!(collect(&mut p, b"aa", &mut Vec::new()).is_err());
    }

    #[test]
    fn push_pub_formats_ops() {
        let mut out = Vec::new();
        push_pub(&mut out, b"foo", None, b"hello");
        push_pub(&mut out, b"req", Some(b"_INBOX.1"), b"");
        assert_eq!(out, b"PUB foo 5\r\nhello\r\nPUB req _INBOX.1 0\r\n\r\n");
        let mut d = Vec::new();
        push_decimal(&mut d, 0);
        d.push(b' ');
        push_decimal(&mut d, 1234567890);
        assert_eq!(d, b"0 1234567890");
    }
}
