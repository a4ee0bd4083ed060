//! MQTT topics and filters ↔ NATS subjects (spec §3.1–§3.4; nats-server
//! `mqttToNATSSubjectConversion`, `natsSubjectToMQTTTopic`).
//!
//! Topic → subject, per input byte (first matching rule): `/` first, or
//! right after an output `.` → `/.`; `/` last or before another `/` →
//! `./`; other `/` → `.`; `.` → `//`; space, TAB, LF, CR, FF, DEL → error;
//! `+`/`#` → error in a topic, `*`/`>` in a filter; anything else is
//! itself. When the output was rewritten and ends with `.`, `/` is
//! appended. Subject → topic: `/.` → `/`, `//` → `.`, a lone `/` is
//! dropped, `.` → `/`.

use alloc::vec::Vec;

/// Why a topic or filter has no NATS subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicError {
    /// Space, TAB, LF, CR, FF or DEL (`character not supported for MQTT
    /// topics`).
    Unsupported,
    /// `+` or `#` in a topic name (`wildcards not allowed in publish's
    /// topic`).
    Wildcard,
}

impl core::fmt::Display for TopicError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            TopicError::Unsupported => "character not supported for MQTT topics",
            TopicError::Wildcard => "wildcards not allowed in publish's topic",
        })
    }
}

/// Checks that a topic name maps to a subject without building it.
pub fn check_topic(topic: &[u8]) -> Result<(), TopicError> {
    for &c in topic {
        match c {
            b' ' | b'\t' | b'\n' | b'\r' | 0x0c | 0x7f => return Err(TopicError::Unsupported),
            b'+' | b'#' => return Err(TopicError::Wildcard),
            _ => {}
        }
    }
    Ok(())
}

fn convert(mt: &[u8], wildcards: bool, out: &mut Vec<u8>) -> Result<(), TopicError> {
    let start = out.len();
    let mut rewritten = false;
    let end = mt.len().wrapping_sub(1);
    for (i, &c) in mt.iter().enumerate() {
        match c {
            b'/' => {
                rewritten = true;
                if i == 0 || out.last() == Some(&b'.') && out.len() > start {
                    out.extend_from_slice(b"/.");
                } else if i == end || mt[i + 1] == b'/' {
                    out.extend_from_slice(b"./");
                } else {
                    out.push(b'.');
                }
            }
            b' ' | b'\t' | b'\n' | b'\r' | 0x0c | 0x7f => {
                out.truncate(start);
                return Err(TopicError::Unsupported);
            }
            b'.' => {
                rewritten = true;
                out.extend_from_slice(b"//");
            }
            b'+' | b'#' => {
                if !wildcards {
                    out.truncate(start);
                    return Err(TopicError::Wildcard);
                }
                rewritten = true;
                out.push(if c == b'+' { b'*' } else { b'>' });
            }
            _ => out.push(c),
        }
    }
    if rewritten && out.len() > start && out.last() == Some(&b'.') {
        out.push(b'/');
    }
    Ok(())
}

/// Appends the NATS subject of an MQTT topic name (spec §3.1). On error
/// nothing is appended.
pub fn topic_to_subject(topic: &[u8], out: &mut Vec<u8>) -> Result<(), TopicError> {
    convert(topic, false, out)
}

/// Appends the NATS subject of an MQTT topic filter (spec §3.2: `+` → `*`,
/// `#` → `>`). The result may still be an invalid NATS filter (`a/#/b`);
/// the caller validates it. On error nothing is appended.
pub fn filter_to_subject(filter: &[u8], out: &mut Vec<u8>) -> Result<(), TopicError> {
    convert(filter, true, out)
}

/// Appends the MQTT topic of a NATS subject (spec §3.3).
pub fn subject_to_topic(subject: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < subject.len() {
        match subject[i] {
            b'/' => match subject.get(i + 1) {
                Some(b'.') => {
                    out.push(b'/');
                    i += 1;
                }
                Some(b'/') => {
                    out.push(b'.');
                    i += 1;
                }
                _ => {}
            },
            b'.' => out.push(b'/'),
            c => out.push(c),
        }
        i += 1;
    }
}

/// The `#` parent-level twin of a converted filter (spec §3.2): `foo.>` →
/// `foo`; `None` when the subject does not end with `.>` or is `>` alone.
pub fn parent_level_twin(subject: &[u8]) -> Option<&[u8]> {
    let s = subject.strip_suffix(b".>")?;
    (!s.is_empty()).then_some(s)
}

/// Whether a subscription on this converted filter is "reserved" (spec
/// §3.4, [MQTT-4.7.2-1]): `>`, `*` or starting with `*.`; it must not
/// receive subjects starting with `$`.
pub fn is_reserved_filter(subject: &[u8]) -> bool {
    subject == b">" || subject == b"*" || subject.starts_with(b"*.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;

    fn t2s(t: &str) -> Result<String, TopicError> {
        let mut v = Vec::new();
        topic_to_subject(t.as_bytes(), &mut v)?;
        Ok(String::from_utf8(v).unwrap())
    }

    fn s2t(s: &str) -> String {
        let mut v = Vec::new();
        subject_to_topic(s.as_bytes(), &mut v);
        String::from_utf8(v).unwrap()
    }

    fn f2s(f: &str) -> String {
        let mut v = Vec::new();
        filter_to_subject(f.as_bytes(), &mut v).unwrap();
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn spec_table_3_1_both_ways() {
        let table = [
            ("foo", "foo"),
            ("foo/bar", "foo.bar"),
            ("/foo/bar", "/.foo.bar"),
            ("foo/bar/", "foo.bar./"),
            ("/", "/./"),
            ("//", "/././"),
            ("///", "/./././"),
            ("//foo", "/./.foo"),
            ("foo//bar", "foo./.bar"),
            ("foo///bar", "foo././.bar"),
            ("///foo//", "/././.foo././"),
            ("bar/", "bar./"),
            (".", "//"),
            ("..", "////"),
            ("./", "//./"),
            (".foo.", "//foo//"),
            ("foo../bar/.", "foo////.bar.//"),
            ("foo.bar/baz", "foo//bar.baz"),
            ("spBv1.0/plant1", "spBv1//0.plant1"),
        ];
        for (topic, subject) in table {
            assert_eq!(t2s(topic).unwrap(), subject, "topic {topic}");
            assert_eq!(s2t(subject), topic, "subject {subject}");
        }
    }

    #[test]
    fn unsupported_characters_and_wildcards_in_topics() {
        for t in ["foo bar", "foo\x7fbar", "a\tb", "a\nb", "a\rb", "a\x0cb"] {
            assert_eq!(t2s(t), Err(TopicError::Unsupported), "{t:?}");
        }
        for t in ["a/+", "#", "a+b"] {
            assert_eq!(t2s(t), Err(TopicError::Wildcard), "{t:?}");
        }
        let mut v = b"keep".to_vec();
        assert!(topic_to_subject(b"x/y z", &mut v).is_err());
        assert_eq!(v, b"keep", "nothing appended on error");
    }

    #[test]
    fn spec_table_3_2_filters() {
        let table = [
            ("+", "*"),
            ("/+", "/.*"),
            ("+/", "*./"),
            ("foo/+/+/", "foo.*.*./"),
            ("foo//+//bar", "foo./.*./.bar"),
            ("#", ">"),
            ("/#", "/.>"),
            ("foo//#", "foo./.>"),
            ("foo/bar.baz/#", "foo.bar//baz.>"),
            ("foo/#/bar", "foo.>.bar"),
            ("lit+", "lit*"),
            ("foo/*", "foo.*"),
            ("foo/>", "foo.>"),
        ];
        for (f, s) in table {
            assert_eq!(f2s(f), s, "filter {f}");
        }
    }

    #[test]
    fn spec_3_3_lone_slash_and_examples() {
        assert_eq!(s2t("a/b"), "ab");
        assert_eq!(s2t("a./.b"), "a//b");
        assert_eq!(s2t("x//d"), "x.d");
        assert_eq!(s2t("foo./"), "foo/");
    }

    #[test]
    fn twin_and_reserved() {
        assert_eq!(parent_level_twin(b"foo.>"), Some(&b"foo"[..]));
        assert_eq!(parent_level_twin(b">"), None);
        assert_eq!(parent_level_twin(b"foo.*"), None);
        assert!(is_reserved_filter(b">"));
        assert!(is_reserved_filter(b"*"));
        assert!(is_reserved_filter(b"*.x"));
        assert!(!is_reserved_filter(b"$app.>"));
    }
}
