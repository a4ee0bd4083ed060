//! Subject, filter and queue-name validation and matching on arbitrary
//! bytes: no panic, and the rules agree with each other and with an
//! independent token-list matcher.
//!
//! Input: `filter 0xFF subject` (without 0xFF, the input is both).
#![no_main]
use libfuzzer_sys::fuzz_target;
use natsws_core::subject::{
    filter_matches, validate_filter, validate_queue_group, validate_subject, Error, Filter,
    QueueGroup, Subject, Sublist,
};

/// Reference matcher over token lists (spec §2.1).
fn reference(filter: &[u8], subject: &[u8]) -> bool {
    if validate_filter(filter).is_err() || subject.is_empty() {
        return false;
    }
    let ft: Vec<&[u8]> = filter.split(|&b| b == b'.').collect();
    let st: Vec<&[u8]> = subject.split(|&b| b == b'.').collect();
    if st.iter().any(|t| t.is_empty()) {
        return false;
    }
    for (i, t) in ft.iter().enumerate() {
        if *t == b">" {
            return st.len() > i;
        }
        if i >= st.len() || (*t != b"*" && *t != st[i]) {
            return false;
        }
    }
    ft.len() == st.len()
}

fn check_one(s: &[u8]) {
    let as_subject = validate_subject(s);
    let as_filter = validate_filter(s);
    let _ = validate_queue_group(s);
    assert_eq!(Subject::try_from(s).is_ok(), as_subject.is_ok());
    assert_eq!(Filter::try_from(s).is_ok(), as_filter.is_ok());
    assert_eq!(
        QueueGroup::try_from(s).is_ok(),
        validate_queue_group(s).is_ok()
    );
    if as_subject.is_ok() {
        // A literal subject is a valid, literal filter that matches itself.
        assert_eq!(as_filter, Ok(()));
        let f = Filter::try_from(s).unwrap();
        assert!(f.is_literal());
        assert!(f.matches(s));
        assert!(filter_matches(s, s));
        let subj = Subject::try_from(s).unwrap();
        assert_eq!(subj.as_bytes(), s);
        let _ = format!("{subj} {subj:?}");
    } else if as_filter.is_ok() {
        // Valid filter, invalid literal: it has a wildcard token.
        assert_eq!(as_subject, Err(Error::WildcardInSubject));
        assert!(!Filter::try_from(s).unwrap().is_literal());
    } else {
        // Both invalid: the literal check may have stopped earlier, at a
        // wildcard token; otherwise both report the same problem.
        assert!(
            as_subject == as_filter || as_subject == Err(Error::WildcardInSubject),
            "{as_subject:?} {as_filter:?}"
        );
    }
    if let Ok(f) = Filter::try_from(s) {
        let _ = format!("{f} {f:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let (filter, subject) = match data.iter().position(|&b| b == 0xff) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, data),
    };
    check_one(filter);
    check_one(subject);
    let m = filter_matches(filter, subject);
    assert_eq!(m, reference(filter, subject));
    if let Ok(f) = Filter::try_from(filter) {
        assert_eq!(f.matches(subject), m);
        let mut sl = Sublist::new();
        sl.insert(&f, None, 1u8);
        sl.insert(&f, Some(b"q"), 2u8);
        let r = sl.match_subject(subject);
        assert_eq!(r.plain.len(), usize::from(m));
        assert_eq!(r.queues.len(), usize::from(m));
        assert_eq!(sl.match_subject(subject), r);
        assert!(sl.remove(&f, None, &1));
        assert!(sl.remove(&f, Some(b"q"), &2));
        assert!(sl.match_subject(subject).is_empty());
        assert_eq!(sl.node_count(), 0);
    }
});
