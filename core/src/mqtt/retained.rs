//! The retained-message index (spec §4.6): at most one message per NATS
//! subject, matched against a new subscription's converted filter with NATS
//! subject matching, and the `$` rule of spec §3.4 for reserved filters.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use super::topic::is_reserved_filter;
use crate::subject::filter_matches;

/// Retained messages by subject; `V` is what the server keeps (topic,
/// payload, QoS).
#[derive(Debug, Clone)]
pub struct Retained<V> {
    by_subject: BTreeMap<Vec<u8>, V>,
}

impl<V> Default for Retained<V> {
    fn default() -> Self {
        Retained {
            by_subject: BTreeMap::new(),
        }
    }
}

impl<V> Retained<V> {
    /// Stores `v` for `subject`, replacing what was there ([MQTT-3.3.1-5]).
    pub fn set(&mut self, subject: &[u8], v: V) -> Option<V> {
        self.by_subject.insert(subject.to_vec(), v)
    }

    /// Deletes the message of `subject` (a retained empty publish,
    /// [MQTT-3.3.1-10]).
    pub fn clear(&mut self, subject: &[u8]) -> Option<V> {
        self.by_subject.remove(subject)
    }

    /// The message of `subject`, if one is retained.
    pub fn get(&self, subject: &[u8]) -> Option<&V> {
        self.by_subject.get(subject)
    }

    /// Number of retained messages.
    pub fn len(&self) -> usize {
        self.by_subject.len()
    }

    /// Whether none is retained.
    pub fn is_empty(&self) -> bool {
        self.by_subject.is_empty()
    }

    /// Every (subject, message) that `filter` (a converted NATS filter)
    /// matches, in subject order; a reserved filter skips `$` subjects.
    pub fn matching<'a>(&'a self, filter: &'a [u8]) -> impl Iterator<Item = (&'a [u8], &'a V)> {
        let reserved = is_reserved_filter(filter);
        self.by_subject.iter().filter_map(move |(s, v)| {
            let ok = filter_matches(filter, s) && !(reserved && s.first() == Some(&b'$'));
            ok.then_some((s.as_slice(), v))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_replace_clear_and_match() {
        let mut r = Retained::default();
        r.set(b"a.b", 1);
        r.set(b"a.c", 2);
        r.set(b"$sys.x", 3);
        assert_eq!(r.set(b"a.b", 4), Some(1));
        let got: Vec<_> = r.matching(b"a.*").map(|(_, v)| *v).collect();
        assert_eq!(got, [4, 2]);
        let all: Vec<_> = r.matching(b">").map(|(_, v)| *v).collect();
        assert_eq!(all, [4, 2], "`>` skips $ subjects");
        let sys: Vec<_> = r.matching(b"$sys.>").map(|(_, v)| *v).collect();
        assert_eq!(sys, [3]);
        assert_eq!(r.clear(b"a.c"), Some(2));
        assert_eq!(r.len(), 2);
    }
}
