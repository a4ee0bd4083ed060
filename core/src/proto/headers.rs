//! The `NATS/1.0` header block carried by HPUB/HMSG (spec §1.6).
//!
//! ```text
//! NATS/1.0[ <3-digit status>[ <description>]]\r\n
//! Key: Value\r\n          (zero or more; repeated keys kept in order)
//! \r\n                    (terminating blank line, counted in the header size)
//! ```
//!
//! The server routes header blocks as opaque bytes; this module is for the
//! features that read them and for clients. [`parse`] validates a whole block
//! and borrows from it; [`HeaderWriter`] builds one; [`write_no_responders`]
//! writes the exact 503 block of spec §1.6.

use alloc::vec::Vec;
use core::fmt;

/// The version line prefix.
pub const VERSION: &[u8] = b"NATS/1.0";
/// Status of the no-responders message (spec §1.6).
pub const NO_RESPONDERS_STATUS: u16 = 503;

/// A malformed header block or a value the builder cannot write.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderError {
    /// The block does not start with `NATS/1.0`.
    MissingVersion,
    /// A line does not end with CR LF, or the block has no terminating blank
    /// line.
    Unterminated,
    /// The text after `NATS/1.0` is not ` <3 digits>[ <description>]`, or a
    /// status given to the builder is not 100–999.
    InvalidStatus,
    /// A header line without `:`, or a name that is empty or contains a
    /// blank, `:` or a control byte.
    InvalidName,
    /// A value (or description) that contains CR or LF.
    InvalidValue,
    /// Bytes after the terminating blank line.
    TrailingBytes,
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HeaderError::MissingVersion => "header block does not start with NATS/1.0",
            HeaderError::Unterminated => "header line or block not terminated by CR LF",
            HeaderError::InvalidStatus => "invalid header status",
            HeaderError::InvalidName => "invalid header name",
            HeaderError::InvalidValue => "invalid header value",
            HeaderError::TrailingBytes => "bytes after the end of the header block",
        })
    }
}

impl core::error::Error for HeaderError {}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if !is_blank(*first) {
            break;
        }
        s = rest;
    }
    while let [rest @ .., last] = s {
        if !is_blank(*last) {
            break;
        }
        s = rest;
    }
    s
}

fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|&b| b > b' ' && b != b':' && b != 0x7f)
}

/// A validated header block, borrowed from the bytes it was parsed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Headers<'a> {
    status: Option<u16>,
    description: &'a [u8],
    /// The `Key: Value\r\n` lines, without the terminating blank line.
    fields: &'a [u8],
}

/// Splits off one CRLF-terminated line.
fn next_line(s: &[u8]) -> Result<(&[u8], &[u8]), HeaderError> {
    let lf = s
        .iter()
        .position(|&b| b == b'\n')
        .ok_or(HeaderError::Unterminated)?;
    if lf == 0 || s[lf - 1] != b'\r' {
        return Err(HeaderError::Unterminated);
    }
    Ok((&s[..lf - 1], &s[lf + 1..]))
}

/// Splits a validated field line into name and trimmed value.
fn split_field(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = line.iter().position(|&b| b == b':')?;
    Some((&line[..colon], trim(&line[colon + 1..])))
}

/// Parses and validates a whole header block (`block` = exactly the
/// `#header bytes` of an HPUB/HMSG).
///
/// Values are trimmed of surrounding spaces/TABs; names are kept as sent
/// (case-sensitive bytes).
///
/// # Errors
/// A [`HeaderError`] naming the first problem.
pub fn parse(block: &[u8]) -> Result<Headers<'_>, HeaderError> {
    if !block.starts_with(VERSION) {
        return Err(HeaderError::MissingVersion);
    }
    let (first, mut rest) = next_line(block)?;
    let tail = &first[VERSION.len()..];
    let (status, description) = if tail.is_empty() {
        (None, &b""[..])
    } else {
        if !is_blank(tail[0]) {
            return Err(HeaderError::InvalidStatus);
        }
        let t = trim(tail);
        if t.len() < 3 || !t[..3].iter().all(u8::is_ascii_digit) || (t.len() > 3 && !is_blank(t[3]))
        {
            return Err(HeaderError::InvalidStatus);
        }
        let code = t[..3]
            .iter()
            .fold(0u16, |n, &d| n * 10 + u16::from(d - b'0'));
        (Some(code), trim(&t[3..]))
    };
    let fields_start = block.len() - rest.len();
    loop {
        let (line, after) = next_line(rest)?;
        if line.is_empty() {
            if !after.is_empty() {
                return Err(HeaderError::TrailingBytes);
            }
            let fields_end = block.len() - rest.len();
            return Ok(Headers {
                status,
                description,
                fields: &block[fields_start..fields_end],
            });
        }
        let (name, _) = split_field(line).ok_or(HeaderError::InvalidName)?;
        if !valid_name(name) {
            return Err(HeaderError::InvalidName);
        }
        rest = after;
    }
}

impl<'a> Headers<'a> {
    /// The inline status code (`NATS/1.0 503` → 503), if any.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// The status description (`NATS/1.0 404 No Messages` → `No Messages`),
    /// empty if none.
    #[must_use]
    pub fn description(&self) -> &'a [u8] {
        self.description
    }

    /// Every `(name, value)` in block order, repeated names included.
    #[must_use]
    pub fn iter(&self) -> Iter<'a> {
        Iter { rest: self.fields }
    }

    /// The first value of `name` (exact, case-sensitive match).
    #[must_use]
    pub fn get(&self, name: &[u8]) -> Option<&'a [u8]> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// Every value of `name` in order (exact match).
    pub fn get_all<'n>(&self, name: &'n [u8]) -> impl Iterator<Item = &'a [u8]> + 'n
    where
        'a: 'n,
    {
        self.iter().filter(move |(n, _)| *n == name).map(|(_, v)| v)
    }

    /// Number of header fields.
    #[must_use]
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Whether there are no header fields (a status line alone is empty).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

impl<'a> IntoIterator for &Headers<'a> {
    type Item = (&'a [u8], &'a [u8]);
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// Iterator over the fields of a [`Headers`].
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        let (line, after) = next_line(self.rest).ok()?;
        self.rest = after;
        split_field(line)
    }
}

/// Writes a header block into a caller's buffer.
///
/// ```
/// use natsws_core::proto::headers::{self, HeaderWriter};
/// let mut out = Vec::new();
/// let mut w = HeaderWriter::new(&mut out);
/// w.insert(b"A", b"b").unwrap();
/// assert_eq!(w.finish(), 18);
/// assert_eq!(out, b"NATS/1.0\r\nA: b\r\n\r\n");
/// assert_eq!(headers::parse(&out).unwrap().get(b"A"), Some(&b"b"[..]));
/// ```
#[derive(Debug)]
pub struct HeaderWriter<'o> {
    out: &'o mut Vec<u8>,
    start: usize,
}

impl<'o> HeaderWriter<'o> {
    /// Starts a block without status: appends `NATS/1.0\r\n`.
    pub fn new(out: &'o mut Vec<u8>) -> Self {
        let start = out.len();
        out.extend_from_slice(VERSION);
        out.extend_from_slice(b"\r\n");
        HeaderWriter { out, start }
    }

    /// Starts a block with an inline status: `NATS/1.0 <status>[ <description>]\r\n`.
    ///
    /// # Errors
    /// [`HeaderError::InvalidStatus`] unless `100 <= status <= 999`;
    /// [`HeaderError::InvalidValue`] if `description` contains CR or LF.
    /// Nothing is written on error.
    pub fn with_status(
        out: &'o mut Vec<u8>,
        status: u16,
        description: &[u8],
    ) -> Result<Self, HeaderError> {
        if !(100..=999).contains(&status) {
            return Err(HeaderError::InvalidStatus);
        }
        if description.iter().any(|&b| b == b'\r' || b == b'\n') {
            return Err(HeaderError::InvalidValue);
        }
        let start = out.len();
        out.extend_from_slice(VERSION);
        out.push(b' ');
        let s = [
            b'0' + (status / 100) as u8,
            b'0' + (status / 10 % 10) as u8,
            b'0' + (status % 10) as u8,
        ];
        out.extend_from_slice(&s);
        if !description.is_empty() {
            out.push(b' ');
            out.extend_from_slice(description);
        }
        out.extend_from_slice(b"\r\n");
        Ok(HeaderWriter { out, start })
    }

    /// Appends `name: value\r\n`. Repeated names are allowed.
    ///
    /// # Errors
    /// [`HeaderError::InvalidName`] for an empty name or one with a blank,
    /// `:` or control byte; [`HeaderError::InvalidValue`] for a value with CR
    /// or LF. Nothing is written on error.
    pub fn insert(&mut self, name: &[u8], value: &[u8]) -> Result<&mut Self, HeaderError> {
        if !valid_name(name) {
            return Err(HeaderError::InvalidName);
        }
        if value.iter().any(|&b| b == b'\r' || b == b'\n') {
            return Err(HeaderError::InvalidValue);
        }
        self.out.extend_from_slice(name);
        self.out.extend_from_slice(b": ");
        self.out.extend_from_slice(value);
        self.out.extend_from_slice(b"\r\n");
        Ok(self)
    }

    /// Appends the terminating blank line and returns the block's length in
    /// bytes (the HPUB/HMSG `#header bytes`).
    pub fn finish(self) -> usize {
        self.out.extend_from_slice(b"\r\n");
        self.out.len() - self.start
    }
}

/// Appends the no-responders header block of spec §1.6,
/// `NATS/1.0 503\r\nNats-Subject: <subject>\r\n\r\n`, and returns its
/// length, which is `32 + subject.len()` (14 + 14 + len + 2 + 2), matching
/// the spec's formula.
pub fn write_no_responders(out: &mut Vec<u8>, subject: &[u8]) -> usize {
    let start = out.len();
    out.extend_from_slice(b"NATS/1.0 503\r\nNats-Subject: ");
    out.extend_from_slice(subject);
    out.extend_from_slice(b"\r\n\r\n");
    out.len() - start
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_responders_length_matches_spec() {
        for subj in [&b"a"[..], b"foo.bar", b"_INBOX.abcdefghijklmnop.1"] {
            let mut out = Vec::new();
            let n = write_no_responders(&mut out, subj);
            assert_eq!(n, 32 + subj.len());
            assert_eq!(n, out.len());
            let h = parse(&out).unwrap();
            assert_eq!(h.status(), Some(503));
            assert_eq!(h.get(b"Nats-Subject"), Some(subj));
        }
    }
}
