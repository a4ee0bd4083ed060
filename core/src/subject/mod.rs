//! Subjects, subscription filters, queue group names and the subscription
//! index ([`Sublist`]).
//!
//! Rules (NATS client protocol, spec §1.2 "SUB" and §2.1 "Subjects"; the
//! nats-server functions `IsValidSubject`, `IsValidPublishSubject` and
//! `sublist.go`):
//!
//! * A subject is a non-empty sequence of **tokens** separated by `.`. Every
//!   token is non-empty: `foo..bar`, `.foo` and `foo.` are invalid
//!   ([`Error::EmptyToken`]).
//! * `*` and `>` are wildcards **only as a whole token**. `*` matches exactly one
//!   token; `>` matches one or more remaining tokens and must be the last token
//!   of a filter (`foo.>` matches `foo.bar` and `foo.bar.baz`, not `foo`).
//!   `foo*`, `foo>`, `foo*bar` and `>>` are ordinary literal tokens.
//! * A **filter** (the subject of `SUB`) may contain wildcards
//!   ([`validate_filter`], [`Filter`]). A **publish subject** is literal: no
//!   `*`/`>` token ([`validate_subject`], [`Subject`]); nats-server enforces
//!   this only in pedantic mode (`-ERR 'Invalid Publish Subject'`).
//! * Whitespace (space, TAB, CR, LF, FF) is never part of a subject or a
//!   queue name: on the wire it separates arguments (spec §1.1).
//! * Matching is token by token with exact byte comparison; subjects need not
//!   be UTF-8 and have no length limit besides the control line.
//! * A published subject with an empty token (`foo..bar`) matches nothing. A
//!   `*` or `>` token in a *published* subject is an ordinary token, so it is
//!   matched by wildcard filters (`foo.*`, `foo.>`, `>`) and by nothing else
//!   (spec §1.2 "PUB").
//!
//! The wire reaction to a bad `SUB` subject is `-ERR 'Invalid Subject'`
//! (connection stays open); that mapping belongs to the session, this module
//! only classifies ([`Error`]).

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::borrow::Borrow;
use core::fmt;

mod cache;
mod sublist;
pub mod transform;

pub use sublist::{CacheStats, QueueMatch, Sublist, SublistResult, DEFAULT_CACHE_CAPACITY};

/// The token separator, `.`.
pub const TOKEN_SEPARATOR: u8 = b'.';
/// The partial wildcard token, `*`: matches exactly one token.
pub const PARTIAL_WILDCARD: &[u8] = b"*";
/// The full wildcard token, `>`: matches one or more trailing tokens.
pub const FULL_WILDCARD: &[u8] = b">";

/// Why a subject, filter or queue name is not valid.
///
/// Display texts are lower-case without a trailing period; they are for
/// logs. Clients see `-ERR 'Invalid Subject'` (SUB) or
/// `-ERR 'Invalid Publish Subject'` (pedantic PUB), spec §1.2.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Error {
    /// The input is empty.
    Empty,
    /// A token is empty: leading, trailing or double `.`.
    EmptyToken,
    /// A `>` token is followed by another token (filters).
    FullWildcardNotLast,
    /// A `*` or `>` token in a literal (publish) subject.
    WildcardInSubject,
    /// Space, TAB, CR, LF or FF inside the input.
    Whitespace,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::Empty => "empty subject",
            Error::EmptyToken => "empty token in subject",
            Error::FullWildcardNotLast => "full wildcard '>' is not the last token",
            Error::WildcardInSubject => "wildcard token in literal subject",
            Error::Whitespace => "whitespace in subject",
        })
    }
}

impl core::error::Error for Error {}

/// The bytes nats-server treats as whitespace inside subjects
/// (`"\t\n\f\r "`, `isValidSubject` in sublist.go).
#[inline]
const fn is_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0c)
}

#[inline]
fn tokens(s: &[u8]) -> core::slice::Split<'_, u8, impl FnMut(&u8) -> bool> {
    s.split(|&b| b == TOKEN_SEPARATOR)
}

/// One pass over `s`. Returns whether it has a wildcard token.
fn scan(s: &[u8], wildcards_allowed: bool) -> Result<bool, Error> {
    if s.is_empty() {
        return Err(Error::Empty);
    }
    let mut has_wildcard = false;
    let mut after_full_wildcard = false;
    for tok in tokens(s) {
        if after_full_wildcard {
            return Err(Error::FullWildcardNotLast);
        }
        match tok {
            [] => return Err(Error::EmptyToken),
            [b'*'] | [b'>'] => {
                if !wildcards_allowed {
                    return Err(Error::WildcardInSubject);
                }
                has_wildcard = true;
                after_full_wildcard = tok[0] == b'>';
            }
            _ => {
                if tok.iter().any(|&b| is_whitespace(b)) {
                    return Err(Error::Whitespace);
                }
            }
        }
    }
    Ok(has_wildcard)
}

/// Checks a literal (publish) subject: non-empty, no empty token, no `*` or
/// `>` token, no whitespace (spec §2.1; nats-server `IsValidPublishSubject`).
///
/// `foo*` and `foo.>>` are valid (wildcards only count as whole tokens).
/// Errors: [`Error::Empty`], [`Error::EmptyToken`],
/// [`Error::WildcardInSubject`], [`Error::Whitespace`]; the first problem
/// from the left is reported.
pub fn validate_subject(s: &[u8]) -> Result<(), Error> {
    scan(s, false).map(|_| ())
}

/// Checks a subscription filter: non-empty tokens, `*` and `>` only as whole
/// tokens, `>` only as the last token, no whitespace (spec §1.2 "SUB", §2.1;
/// nats-server `IsValidSubject`).
///
/// Errors: [`Error::Empty`], [`Error::EmptyToken`],
/// [`Error::FullWildcardNotLast`], [`Error::Whitespace`]; the first problem
/// from the left is reported.
pub fn validate_filter(s: &[u8]) -> Result<(), Error> {
    scan(s, true).map(|_| ())
}

/// Whether `subject` (as published) is delivered to a subscription on
/// `filter`, with NATS semantics (spec §2.1).
///
/// Returns `false` when `filter` is not a valid filter
/// ([`validate_filter`]), when `subject` is empty or has an empty token.
/// `*`/`>` tokens in `subject` are ordinary tokens. Whitespace in `subject`
/// is not checked (it cannot come from the wire). Does not allocate.
pub fn filter_matches(filter: &[u8], subject: &[u8]) -> bool {
    validate_filter(filter).is_ok() && matches_valid(filter, subject)
}

/// Whether a valid filter has no `*` or `>` token ([`Filter::is_literal`]).
pub(crate) fn is_literal(filter: &[u8]) -> bool {
    !tokens(filter).any(|t| t == PARTIAL_WILDCARD || t == FULL_WILDCARD)
}

/// [`filter_matches`] for a filter known to be valid.
pub(crate) fn matches_valid(filter: &[u8], subject: &[u8]) -> bool {
    if subject.is_empty() {
        return false;
    }
    let mut ft = tokens(filter);
    let mut st = tokens(subject);
    loop {
        match (ft.next(), st.next()) {
            (None, None) => return true,
            (Some(b">"), Some(s)) => return !s.is_empty() && st.all(|t| !t.is_empty()),
            (Some(f), Some(s)) => {
                if s.is_empty() || (f != PARTIAL_WILDCARD && f != s) {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// Whether a published subject can match anything: non-empty and no empty
/// token.
pub(crate) fn is_matchable(subject: &[u8]) -> bool {
    !subject.is_empty() && tokens(subject).all(|t| !t.is_empty())
}

/// Writes bytes as UTF-8 with invalid sequences replaced by U+FFFD.
fn write_lossy(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    for chunk in bytes.utf8_chunks() {
        f.write_str(chunk.valid())?;
        if !chunk.invalid().is_empty() {
            f.write_str("\u{FFFD}")?;
        }
    }
    Ok(())
}

macro_rules! byte_newtype {
    ($(#[$doc:meta])* $name:ident, $check:expr, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Box<[u8]>);

        impl $name {
            /// Builds from a string known at compile time.
            ///
            /// # Panics
            /// If `s` is not valid; use `TryFrom` for input from the wire.
            #[track_caller]
            pub fn from_static(s: &'static str) -> Self {
                match Self::try_from(s) {
                    Ok(v) => v,
                    Err(e) => panic!(concat!("invalid ", $what, " {:?}: {}"), s, e),
                }
            }

            /// Builds without validating in release builds; validity is
            /// asserted under `debug_assertions`. For bytes already checked by
            /// the caller. Behaviour of the other methods on invalid input is
            /// unspecified (but memory safe and panic free).
            pub fn from_bytes_unchecked(bytes: &[u8]) -> Self {
                debug_assert!(($check)(bytes).is_ok(), concat!("invalid ", $what));
                Self(bytes.into())
            }

            /// The bytes, as they appear on the wire.
            #[inline]
            pub fn as_bytes(&self) -> &[u8] {
                &self.0
            }

            /// Consumes self and returns the bytes.
            pub fn into_bytes(self) -> Box<[u8]> {
                self.0
            }
        }

        impl TryFrom<&[u8]> for $name {
            type Error = Error;
            fn try_from(bytes: &[u8]) -> Result<Self, Error> {
                ($check)(bytes)?;
                Ok(Self(bytes.into()))
            }
        }

        impl TryFrom<&str> for $name {
            type Error = Error;
            fn try_from(s: &str) -> Result<Self, Error> {
                Self::try_from(s.as_bytes())
            }
        }

        impl TryFrom<Vec<u8>> for $name {
            type Error = Error;
            /// Validates and takes the vector without copying its bytes.
            fn try_from(bytes: Vec<u8>) -> Result<Self, Error> {
                ($check)(&bytes)?;
                Ok(Self(bytes.into_boxed_slice()))
            }
        }

        impl core::str::FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Error> {
                Self::try_from(s.as_bytes())
            }
        }

        impl AsRef<[u8]> for $name {
            fn as_ref(&self) -> &[u8] {
                &self.0
            }
        }

        /// Hash, Eq and Ord agree with `[u8]`'s, so maps keyed by this type
        /// can be queried with raw bytes.
        impl Borrow<[u8]> for $name {
            fn borrow(&self) -> &[u8] {
                &self.0
            }
        }

        impl PartialEq<[u8]> for $name {
            fn eq(&self, other: &[u8]) -> bool {
                *self.0 == *other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                *self.0 == *other.as_bytes()
            }
        }

        /// Lossy UTF-8: invalid sequences are shown as U+FFFD.
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write_lossy(f, &self.0)
            }
        }

        /// `Name("bytes")` with non-printable bytes escaped.
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "(\"{}\")"), self.0.escape_ascii())
            }
        }
    };
}

byte_newtype!(
    /// An owned, validated literal (publish) subject: non-empty tokens, no
    /// `*`/`>` token, no whitespace ([`validate_subject`], spec §2.1).
    ///
    /// `foo*bar` and `foo.>>` are valid literal subjects: wildcards only
    /// count as whole tokens. Bytes need not be UTF-8.
    Subject,
    validate_subject,
    "subject"
);

byte_newtype!(
    /// An owned, validated subscription filter: non-empty tokens, `*` and `>`
    /// only as whole tokens, `>` only last, no whitespace
    /// ([`validate_filter`], spec §1.2 "SUB").
    ///
    /// `foo*` and `foo>` are literal tokens, not wildcards. Every
    /// [`Subject`] is also a valid filter (`From<Subject>`).
    Filter,
    validate_filter,
    "filter"
);

byte_newtype!(
    /// An owned queue group name: any non-empty bytes without whitespace
    /// (spec §1.2 "SUB": queue names are not otherwise validated; `.` and
    /// `*` are ordinary bytes here).
    ///
    /// Errors: [`Error::Empty`], [`Error::Whitespace`].
    QueueGroup,
    validate_queue_group,
    "queue group"
);

/// Checks a queue group name: non-empty, no whitespace (spec §1.2).
///
/// Errors: [`Error::Empty`], [`Error::Whitespace`].
pub fn validate_queue_group(s: &[u8]) -> Result<(), Error> {
    if s.is_empty() {
        Err(Error::Empty)
    } else if s.iter().any(|&b| is_whitespace(b)) {
        Err(Error::Whitespace)
    } else {
        Ok(())
    }
}

impl Subject {
    /// The tokens, in order.
    pub fn tokens(&self) -> impl Iterator<Item = &[u8]> + '_ {
        tokens(&self.0)
    }
}

impl Filter {
    /// Whether the filter has no `*` or `>` token, so that it matches exactly
    /// the one subject with the same bytes.
    pub fn is_literal(&self) -> bool {
        is_literal(&self.0)
    }

    /// Whether a message published to `subject` is delivered to this filter
    /// ([`filter_matches`] without re-validating the filter). Does not
    /// allocate.
    #[inline]
    pub fn matches(&self, subject: &[u8]) -> bool {
        matches_valid(&self.0, subject)
    }

    /// The tokens, in order.
    pub fn tokens(&self) -> impl Iterator<Item = &[u8]> + '_ {
        tokens(&self.0)
    }
}

impl From<Subject> for Filter {
    fn from(s: Subject) -> Filter {
        Filter(s.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::ToString;

    #[test]
    fn display_is_lower_case_without_period() {
        for e in [
            Error::Empty,
            Error::EmptyToken,
            Error::FullWildcardNotLast,
            Error::WildcardInSubject,
            Error::Whitespace,
        ] {
            let s = e.to_string();
            assert!(!s.is_empty());
            assert_eq!(s, s.to_lowercase(), "{s}");
            assert!(!s.ends_with('.'), "{s}");
        }
    }

    #[test]
    fn scan_reports_first_problem() {
        assert_eq!(validate_filter(b"a..>.b"), Err(Error::EmptyToken));
        assert_eq!(validate_filter(b"a.>. b"), Err(Error::FullWildcardNotLast));
        assert_eq!(validate_subject(b"a b.*"), Err(Error::Whitespace));
        assert_eq!(validate_subject(b"*.a b"), Err(Error::WildcardInSubject));
    }

    #[test]
    fn debug_and_display() {
        let s = Subject::try_from(&b"foo.\xff\x01"[..]).unwrap();
        assert_eq!(format!("{s:?}"), "Subject(\"foo.\\xff\\x01\")");
        assert_eq!(format!("{s}"), "foo.\u{FFFD}\u{1}");
        assert_eq!(format!("{}", Filter::from_static("a.*.>")), "a.*.>");
    }
}
