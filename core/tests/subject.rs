//! Subject, filter and queue-name validity and matching tables (spec §1.2
//! "SUB"/"PUB", §2.1; cases from nats-server's `sublist_test.go`:
//! `TestSublistValidLiteralSubjects`, `TestSublistValidSubjects`,
//! `TestSublistMatchLiterals`, `TestSublistInsertWithWildcardsAsLiterals`).
#![allow(missing_docs)]

use natsws_core::subject::{
    filter_matches, validate_filter, validate_queue_group, validate_subject, Error, Filter,
    QueueGroup, Subject,
};

/// Literal (publish) subjects: (input, expected).
const SUBJECTS: &[(&[u8], Result<(), Error>)] = &[
    (b"foo", Ok(())),
    (b"foo.bar", Ok(())),
    (b"foo.bar.baz.22", Ok(())),
    (b"$SYS.ACCOUNT.x", Ok(())),
    (b"_INBOX.abc", Ok(())),
    (b"\xff\xfe.\x00", Ok(())),
    (b"", Err(Error::Empty)),
    (b".", Err(Error::EmptyToken)),
    (b".foo", Err(Error::EmptyToken)),
    (b"foo.", Err(Error::EmptyToken)),
    (b"foo..bar", Err(Error::EmptyToken)),
    (b"..", Err(Error::EmptyToken)),
    (b"foo.bar.*", Err(Error::WildcardInSubject)),
    (b"foo.bar.>", Err(Error::WildcardInSubject)),
    (b"*", Err(Error::WildcardInSubject)),
    (b">", Err(Error::WildcardInSubject)),
    (b"*.foo", Err(Error::WildcardInSubject)),
    (b"foo.*.bar", Err(Error::WildcardInSubject)),
    (b"foo.>.bar", Err(Error::WildcardInSubject)),
    // Wildcard characters that are not whole tokens are literal.
    (b"foo*", Ok(())),
    (b"foo**", Ok(())),
    (b"foo.**", Ok(())),
    (b"foo*bar", Ok(())),
    (b"foo.*bar", Ok(())),
    (b"foo*.bar", Ok(())),
    (b"*bar", Ok(())),
    (b"foo>", Ok(())),
    (b"foo>>", Ok(())),
    (b"foo.>>", Ok(())),
    (b"foo>bar", Ok(())),
    (b"foo.>bar", Ok(())),
    (b"foo>.bar", Ok(())),
    (b">bar", Ok(())),
    // Whitespace.
    (b" ", Err(Error::Whitespace)),
    (b"foo bar", Err(Error::Whitespace)),
    (b"foo.\tbar", Err(Error::Whitespace)),
    (b"foo\r", Err(Error::Whitespace)),
    (b"foo.\n", Err(Error::Whitespace)),
    (b"fo\x0co", Err(Error::Whitespace)),
];

/// Filters (subscribe subjects): (input, expected).
const FILTERS: &[(&[u8], Result<(), Error>)] = &[
    (b"foo", Ok(())),
    (b"foo.bar.>", Ok(())),
    (b"*", Ok(())),
    (b">", Ok(())),
    (b"*.*", Ok(())),
    (b"*.>", Ok(())),
    (b"foo.*.bar", Ok(())),
    (b"*.*.*.>", Ok(())),
    (b"", Err(Error::Empty)),
    (b".", Err(Error::EmptyToken)),
    (b".foo", Err(Error::EmptyToken)),
    (b"foo.", Err(Error::EmptyToken)),
    (b"foo..bar", Err(Error::EmptyToken)),
    (b"foo.*.", Err(Error::EmptyToken)),
    (b".>", Err(Error::EmptyToken)),
    (b">.bar", Err(Error::FullWildcardNotLast)),
    (b"foo.>.bar", Err(Error::FullWildcardNotLast)),
    (b"foo.>.>", Err(Error::FullWildcardNotLast)),
    (b"foo.>.*", Err(Error::FullWildcardNotLast)),
    (b"foo.>.", Err(Error::FullWildcardNotLast)),
    // Wildcard characters inside tokens are literal.
    (b"foo*", Ok(())),
    (b"foo**", Ok(())),
    (b"foo.**", Ok(())),
    (b"foo*bar", Ok(())),
    (b"foo.*bar", Ok(())),
    (b"foo*.bar", Ok(())),
    (b"*bar", Ok(())),
    (b"foo>", Ok(())),
    (b"foo.>>", Ok(())),
    (b"foo>bar", Ok(())),
    (b"foo.>bar", Ok(())),
    (b"foo>.bar", Ok(())),
    (b">bar", Ok(())),
    (b">>.bar", Ok(())),
    (b"foo.*-", Ok(())),
    (b"foo.>-", Ok(())),
    // Whitespace.
    (b"foo bar", Err(Error::Whitespace)),
    (b"foo.\t", Err(Error::Whitespace)),
    (b"\r.>", Err(Error::Whitespace)),
];

#[test]
fn literal_subject_table() {
    for (input, want) in SUBJECTS {
        assert_eq!(validate_subject(input), *want, "{}", input.escape_ascii());
        assert_eq!(
            Subject::try_from(*input).map(|s| s.as_bytes().to_vec()),
            want.map(|()| input.to_vec()),
            "{}",
            input.escape_ascii()
        );
        // Every literal subject is a valid filter, and a literal one.
        if want.is_ok() {
            assert_eq!(validate_filter(input), Ok(()));
            let f = Filter::try_from(*input).unwrap();
            assert!(f.is_literal(), "{}", input.escape_ascii());
            assert!(f.matches(input), "{}", input.escape_ascii());
        }
    }
}

#[test]
fn filter_table() {
    for (input, want) in FILTERS {
        assert_eq!(validate_filter(input), *want, "{}", input.escape_ascii());
        assert_eq!(
            Filter::try_from(input.to_vec()).map(|f| f.into_bytes().to_vec()),
            want.map(|()| input.to_vec()),
            "{}",
            input.escape_ascii()
        );
    }
}

#[test]
fn is_literal() {
    for (f, lit) in [
        ("foo", true),
        ("foo*", true),
        ("foo.>>", true),
        ("foo.*bar", true),
        ("*", false),
        (">", false),
        ("foo.*.bar", false),
        ("foo.>", false),
    ] {
        assert_eq!(Filter::from_static(f).is_literal(), lit, "{f}");
    }
}

#[test]
fn queue_group_validity() {
    assert_eq!(validate_queue_group(b"workers"), Ok(()));
    assert_eq!(validate_queue_group(b"a.b*>..c"), Ok(()));
    assert_eq!(validate_queue_group(b"\xff"), Ok(()));
    assert_eq!(validate_queue_group(b""), Err(Error::Empty));
    assert_eq!(validate_queue_group(b"a b"), Err(Error::Whitespace));
    assert_eq!(validate_queue_group(b"a\tb"), Err(Error::Whitespace));
    assert_eq!(QueueGroup::try_from("q1").unwrap().as_bytes(), b"q1");
    assert_eq!(QueueGroup::try_from(""), Err(Error::Empty));
}

/// (filter, subject, matches)
const MATCHES: &[(&str, &str, bool)] = &[
    ("foo", "foo", true),
    ("foo", "bar", false),
    ("*", "foo", true),
    (">", "foo", true),
    (">", "foo.bar", true),
    ("foo.>", "foo.bar", true),
    ("bar.>", "foo.bar", false),
    ("stats.>", "stats.test.22", true),
    ("stats.*.*", "stats.test.22", true),
    ("foo", "foo.bar", false),
    ("stats.test.foos", "stats.test.foos", true),
    ("stats.test.foo", "stats.test.foos", false),
    ("stats.test.*", "stats.test", false),
    ("stats.*", "stats.test.foos", false),
    ("stats.*.*.foos", "stats.test.foos", false),
    ("foo.>", "foo", false),
    ("foo.*", "foo", false),
    ("*", "foo.bar", false),
    ("*.*", "foo.bar", true),
    ("*.*", "foo", false),
    ("*.>", "foo", false),
    ("*.>", "foo.bar.baz", true),
    ("foo.*.baz", "foo.bar.baz", true),
    ("foo.*.baz", "foo.bar.bax", false),
    // Wildcard characters that are not whole tokens are literal.
    ("*bar", "*bar", true),
    ("*bar", "xbar", false),
    ("foo*", "foo*", true),
    ("foo*", "foox", false),
    ("foo*bar", "foo*bar", true),
    ("foo.***.bar", "foo.***.bar", true),
    (">bar", ">bar", true),
    ("foo>", "foo>", true),
    ("foo>", "foo.x", false),
    ("foo>bar", "foo>bar", true),
    ("foo.>>>.bar", "foo.>>>.bar", true),
    ("foo.*-", "foo.bar", false),
    ("foo.>-", "foo.bar", false),
    ("foo.*-", "foo.*-", true),
    // Wildcard tokens in a published subject are ordinary tokens.
    ("foo.*", "foo.*", true),
    ("foo.*", "foo.>", true),
    ("foo.>", "foo.*", true),
    ("foo.>", "foo.>", true),
    (">", "*", true),
    (">", ">", true),
    ("foo.bar", "foo.*", false),
    ("foo.bar", "foo.>", false),
    ("foo.*.bar", "foo.>", false),
    // Empty tokens in the subject match nothing, not even `>`.
    (">", "", false),
    (">", ".foo", false),
    (">", "..foo", false),
    (">", "foo..", false),
    (">", "foo.", false),
    (">", "foo..bar", false),
    (">", "foo...bar", false),
    ("foo.>", "foo.bar.", false),
    ("*.*", "foo.", false),
    ("*", ".", false),
    // Invalid filters match nothing.
    ("foo..bar", "foo..bar", false),
    ("foo.>.bar", "foo.x.bar", false),
    ("", "", false),
    ("foo bar", "foo bar", false),
];

#[test]
fn matching_table() {
    for &(filter, subject, want) in MATCHES {
        assert_eq!(
            filter_matches(filter.as_bytes(), subject.as_bytes()),
            want,
            "filter {filter:?} subject {subject:?}"
        );
        if let Ok(f) = Filter::try_from(filter) {
            assert_eq!(
                f.matches(subject.as_bytes()),
                want,
                "{filter:?} {subject:?}"
            );
        }
    }
}

#[test]
fn non_utf8_subjects_match_bytewise() {
    assert!(filter_matches(b"\xff.*", b"\xff.\xfe"));
    assert!(!filter_matches(b"\xff.*", b"\xfe.\xfe"));
}

#[test]
fn newtype_conversions_and_traits() {
    let s = Subject::from_static("foo.bar");
    assert_eq!(s.as_bytes(), b"foo.bar");
    assert_eq!(s.to_string(), "foo.bar");
    assert_eq!(format!("{s:?}"), "Subject(\"foo.bar\")");
    assert_eq!(s, "foo.bar");
    assert_eq!(s.tokens().collect::<Vec<_>>(), [&b"foo"[..], b"bar"]);
    let f: Filter = s.clone().into();
    assert!(f.is_literal());
    assert_eq!("a.*".parse::<Filter>().unwrap().as_bytes(), b"a.*");
    assert_eq!("a.*".parse::<Subject>(), Err(Error::WildcardInSubject));
    assert_eq!(Subject::try_from(vec![b'a', b'.']), Err(Error::EmptyToken));

    // Borrow<[u8]> agrees with [u8] for lookups.
    let mut set = std::collections::BTreeSet::new();
    set.insert(Filter::from_static("b"));
    set.insert(Filter::from_static("a.>"));
    assert!(set.contains(&b"a.>"[..]));
    let mut hs = std::collections::HashSet::new();
    hs.insert(Filter::from_static("x.*"));
    assert!(hs.contains(&b"x.*"[..]));
    // Ord is bytewise.
    assert!(Filter::from_static("a.>") < Filter::from_static("b"));
    assert_eq!(
        Filter::from_bytes_unchecked(b"q.*"),
        Filter::from_static("q.*")
    );
}

#[test]
#[should_panic(expected = "invalid filter")]
fn from_static_panics_on_invalid_filter() {
    let _ = Filter::from_static("foo.>.bar");
}

#[test]
#[should_panic(expected = "invalid subject")]
fn from_static_panics_on_wildcard_subject() {
    let _ = Subject::from_static("foo.*");
}

#[test]
fn error_display() {
    assert_eq!(Error::EmptyToken.to_string(), "empty token in subject");
    assert_eq!(
        Error::FullWildcardNotLast.to_string(),
        "full wildcard '>' is not the last token"
    );
}
