//! Encoders for every op in both directions (spec §1.2, §1.3). Each appends
//! exactly one op to the caller's buffer. Arguments are written as given:
//! callers pass non-empty, blank-free subjects, sids and queue names.

use alloc::vec::Vec;

use super::{Connect, Info};

/// `+OK\r\n`.
pub const OK: &[u8] = b"+OK\r\n";
/// `PING\r\n`.
pub const PING: &[u8] = b"PING\r\n";
/// `PONG\r\n`.
pub const PONG: &[u8] = b"PONG\r\n";

const CRLF: &[u8] = b"\r\n";

/// Appends the decimal form of `n` without allocating.
fn push_usize(out: &mut Vec<u8>, n: usize) {
    push_u64(out, n as u64);
}

/// Appends `n` in decimal (no allocation). Numbers below 10,000 (the sizes
/// of most messages) are written as fixed-size arrays, which the compiler
/// copies without a `memcpy` call: this runs once or twice per delivery.
pub(crate) fn push_u64(out: &mut Vec<u8>, n: u64) {
    let d = |v: u64| b'0' + (v % 10) as u8;
    match n {
        0..=9 => out.push(d(n)),
        10..=99 => out.extend_from_slice(&[d(n / 10), d(n)]),
        100..=999 => out.extend_from_slice(&[d(n / 100), d(n / 10), d(n)]),
        1000..=9999 => out.extend_from_slice(&[d(n / 1000), d(n / 100), d(n / 10), d(n)]),
        _ => push_u64_long(out, n),
    }
}

/// [`push_u64`] for any `n`: digits from the end into a stack buffer.
fn push_u64_long(out: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

fn push_arg(out: &mut Vec<u8>, arg: &[u8]) {
    out.extend_from_slice(arg);
    out.push(b' ');
}

/// `MSG <subject> <sid> [reply-to] <#bytes>\r\n<payload>\r\n` (spec §1.3).
pub fn encode_msg(
    out: &mut Vec<u8>,
    subject: &[u8],
    sid: &[u8],
    reply: Option<&[u8]>,
    payload: &[u8],
) {
    out.reserve(
        4 + subject.len() + sid.len() + reply.map_or(0, |r| r.len() + 1) + 14 + payload.len(),
    );
    out.extend_from_slice(b"MSG ");
    push_arg(out, subject);
    push_arg(out, sid);
    if let Some(r) = reply {
        push_arg(out, r);
    }
    push_usize(out, payload.len());
    out.extend_from_slice(CRLF);
    out.extend_from_slice(payload);
    out.extend_from_slice(CRLF);
}

/// `HMSG <subject> <sid> [reply-to] <#header bytes> <#total bytes>\r\n<headers><payload>\r\n`
/// (spec §1.3); total = `headers.len() + payload.len()`.
pub fn encode_hmsg(
    out: &mut Vec<u8>,
    subject: &[u8],
    sid: &[u8],
    reply: Option<&[u8]>,
    headers: &[u8],
    payload: &[u8],
) {
    out.reserve(
        5 + subject.len()
            + sid.len()
            + reply.map_or(0, |r| r.len() + 1)
            + 26
            + headers.len()
            + payload.len(),
    );
    out.extend_from_slice(b"HMSG ");
    push_arg(out, subject);
    push_arg(out, sid);
    if let Some(r) = reply {
        push_arg(out, r);
    }
    push_usize(out, headers.len());
    out.push(b' ');
    push_usize(out, headers.len() + payload.len());
    out.extend_from_slice(CRLF);
    out.extend_from_slice(headers);
    out.extend_from_slice(payload);
    out.extend_from_slice(CRLF);
}

/// `PUB <subject> [reply-to] <#bytes>\r\n<payload>\r\n` (spec §1.2).
pub fn encode_pub(out: &mut Vec<u8>, subject: &[u8], reply: Option<&[u8]>, payload: &[u8]) {
    out.reserve(4 + subject.len() + reply.map_or(0, |r| r.len() + 1) + 14 + payload.len());
    out.extend_from_slice(b"PUB ");
    push_arg(out, subject);
    if let Some(r) = reply {
        push_arg(out, r);
    }
    push_usize(out, payload.len());
    out.extend_from_slice(CRLF);
    out.extend_from_slice(payload);
    out.extend_from_slice(CRLF);
}

/// `HPUB <subject> [reply-to] <#header bytes> <#total bytes>\r\n<headers><payload>\r\n`
/// (spec §1.2).
pub fn encode_hpub(
    out: &mut Vec<u8>,
    subject: &[u8],
    reply: Option<&[u8]>,
    headers: &[u8],
    payload: &[u8],
) {
    out.reserve(
        5 + subject.len() + reply.map_or(0, |r| r.len() + 1) + 26 + headers.len() + payload.len(),
    );
    out.extend_from_slice(b"HPUB ");
    push_arg(out, subject);
    if let Some(r) = reply {
        push_arg(out, r);
    }
    push_usize(out, headers.len());
    out.push(b' ');
    push_usize(out, headers.len() + payload.len());
    out.extend_from_slice(CRLF);
    out.extend_from_slice(headers);
    out.extend_from_slice(payload);
    out.extend_from_slice(CRLF);
}

/// `SUB <subject> [queue group] <sid>\r\n` (spec §1.2).
pub fn encode_sub(out: &mut Vec<u8>, subject: &[u8], queue: Option<&[u8]>, sid: &[u8]) {
    out.extend_from_slice(b"SUB ");
    push_arg(out, subject);
    if let Some(q) = queue {
        push_arg(out, q);
    }
    out.extend_from_slice(sid);
    out.extend_from_slice(CRLF);
}

/// `UNSUB <sid> [max_msgs]\r\n` (spec §1.2). A `max_msgs` of 0 or above
/// 999,999,999 is not understood by servers (they unsubscribe at once).
pub fn encode_unsub(out: &mut Vec<u8>, sid: &[u8], max_msgs: Option<u64>) {
    out.extend_from_slice(b"UNSUB ");
    out.extend_from_slice(sid);
    if let Some(m) = max_msgs {
        out.push(b' ');
        push_u64(out, m);
    }
    out.extend_from_slice(CRLF);
}

/// `CONNECT <json>\r\n` with the fields in nats-server's order and its
/// omissions (spec §1.4).
pub fn encode_connect(out: &mut Vec<u8>, connect: &Connect) {
    out.extend_from_slice(b"CONNECT ");
    out.extend_from_slice(&connect.to_json());
    out.extend_from_slice(CRLF);
}

/// `INFO <json> \r\n`: compact JSON with a space before CR LF, as
/// nats-server writes it (spec §0, §1.3).
pub fn encode_info(out: &mut Vec<u8>, info: &Info) {
    out.extend_from_slice(b"INFO ");
    out.extend_from_slice(&info.to_json());
    out.extend_from_slice(b" \r\n");
}

/// The whole no-responders message of spec §1.6, for the publisher's own
/// subscription `sid` on the request's `reply` subject:
/// `HMSG <reply> <sid> <L> <L>\r\nNATS/1.0 503\r\nNats-Subject: <subject>\r\n\r\n\r\n`
/// with `L = 32 + subject.len()` (header-only, empty payload). No allocation.
pub fn encode_no_responders(out: &mut Vec<u8>, reply: &[u8], sid: &[u8], subject: &[u8]) {
    let l = 32 + subject.len();
    out.reserve(5 + reply.len() + sid.len() + 26 + l + 2);
    out.extend_from_slice(b"HMSG ");
    push_arg(out, reply);
    push_arg(out, sid);
    push_usize(out, l);
    out.push(b' ');
    push_usize(out, l);
    out.extend_from_slice(CRLF);
    let n = super::headers::write_no_responders(out, subject);
    debug_assert_eq!(n, l);
    out.extend_from_slice(CRLF);
}

/// `-ERR '<text>'\r\n` (spec §1.3: the text is always in single quotes).
pub fn encode_err(out: &mut Vec<u8>, text: &str) {
    out.reserve(9 + text.len());
    out.extend_from_slice(b"-ERR '");
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(b"'\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers() {
        let edges = [
            0u64,
            7,
            9,
            10,
            99,
            100,
            128,
            999,
            1000,
            9999,
            10_000,
            1_048_576,
            u64::MAX,
        ];
        for n in edges.into_iter().chain(0..12_000) {
            let mut v = Vec::new();
            push_u64(&mut v, n);
            assert_eq!(v, alloc::format!("{n}").into_bytes());
        }
    }

    #[test]
    fn exact_bytes() {
        let mut v = Vec::new();
        encode_msg(&mut v, b"foo.bar", b"1", Some(b"_INBOX.x"), b"hello");
        assert_eq!(v, b"MSG foo.bar 1 _INBOX.x 5\r\nhello\r\n");
        v.clear();
        encode_hmsg(
            &mut v,
            b"foo.bar",
            b"1",
            None,
            b"NATS/1.0\r\nA: b\r\n\r\n",
            b"hello",
        );
        assert_eq!(
            v,
            b"HMSG foo.bar 1 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nhello\r\n"
        );
        v.clear();
        encode_err(&mut v, "Unknown Protocol Operation");
        assert_eq!(v, b"-ERR 'Unknown Protocol Operation'\r\n");
        v.clear();
        encode_unsub(&mut v, b"7", Some(3));
        assert_eq!(v, b"UNSUB 7 3\r\n");
        v.clear();
        encode_sub(&mut v, b"foo.*", Some(b"q1"), b"1");
        assert_eq!(v, b"SUB foo.* q1 1\r\n");
        v.clear();
        encode_no_responders(&mut v, b"_INBOX.x", b"7", b"svc");
        assert_eq!(
            v,
            b"HMSG _INBOX.x 7 35 35\r\nNATS/1.0 503\r\nNats-Subject: svc\r\n\r\n\r\n"
        );
    }
}
