//! The filters of one MQTT session: sorted by filter, searched by
//! bisection, with the first filter held inline. A session mostly holds one
//! or a few filters, and a `BTreeMap`'s first node alone is ~560 bytes (11
//! slots): idle memory per connection (issue #17: ≤ mosquitto's) is what
//! this saves. One filter costs no allocation of its own: its text is the
//! subscription id of its NATS subscription ([`SubEntry::filter`]); a
//! second filter moves the entries to a vector grown one at a time.

use natsws_core::router::SubRef;

use super::SubEntry;
use crate::sink::Sink;

/// One filter's entry (its filter text inside).
type Slot = SubEntry;

/// Where the entries are.
enum Repr {
    /// None or one, inline.
    One(Option<Slot>),
    /// Two or more, in filter order.
    Many(Vec<Slot>),
}

/// Filter (MQTT topic filter bytes) → [`SubEntry`], in filter order.
pub(crate) struct SubMap(Repr);

impl Default for SubMap {
    fn default() -> SubMap {
        SubMap(Repr::One(None))
    }
}

impl SubMap {
    fn slice(&self) -> &[Slot] {
        match &self.0 {
            Repr::One(o) => o.as_slice(),
            Repr::Many(v) => v,
        }
    }

    fn slice_mut(&mut self) -> &mut [Slot] {
        match &mut self.0 {
            Repr::One(o) => o.as_mut_slice(),
            Repr::Many(v) => v,
        }
    }

    fn find(&self, filter: &[u8]) -> Result<usize, usize> {
        self.slice().binary_search_by(|e| e.filter().cmp(filter))
    }

    /// The entry of `filter`.
    pub(crate) fn get(&self, filter: &[u8]) -> Option<&SubEntry> {
        self.find(filter).ok().map(|i| &self.slice()[i])
    }

    /// The entry of `filter`, to change.
    pub(crate) fn get_mut(&mut self, filter: &[u8]) -> Option<&mut SubEntry> {
        let i = self.find(filter).ok()?;
        Some(&mut self.slice_mut()[i])
    }

    /// Adds or replaces the entry of its filter ([`SubEntry::filter`]; an
    /// entry without subscriptions has none and is not kept: see
    /// [`crate::mqtt::Rare::orphans`]).
    pub(crate) fn insert(&mut self, e: SubEntry) {
        if e.subs.first().is_none() {
            return;
        }
        let i = match self.find(e.filter()) {
            Ok(i) => {
                self.slice_mut()[i] = e;
                return;
            }
            Err(i) => i,
        };
        match &mut self.0 {
            Repr::One(o @ None) => *o = Some(e),
            Repr::One(o) => {
                let mut v = Vec::with_capacity(2);
                v.extend(o.take());
                v.insert(i, e);
                self.0 = Repr::Many(v);
            }
            Repr::Many(v) => {
                // Grow one at a time: most sessions keep a few filters.
                v.reserve_exact(1);
                v.insert(i, e);
            }
        }
    }

    /// Removes the entry of `filter`.
    pub(crate) fn remove(&mut self, filter: &[u8]) -> Option<SubEntry> {
        let i = self.find(filter).ok()?;
        match &mut self.0 {
            Repr::One(o) => o.take(),
            Repr::Many(v) => {
                let e = v.remove(i);
                if v.len() == 1 {
                    self.0 = Repr::One(v.pop());
                } else if v.capacity() > 2 * v.len() + 4 {
                    v.shrink_to_fit();
                }
                Some(e)
            }
        }
    }

    /// The entries, in filter order, to change.
    pub(crate) fn values_mut(&mut self) -> impl Iterator<Item = &mut SubEntry> {
        self.slice_mut().iter_mut()
    }

    /// (filter, entry) in filter order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&[u8], &SubEntry)> {
        self.slice().iter().map(|e| (e.filter(), e))
    }

    /// The entries, in filter order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &SubEntry> {
        self.slice().iter()
    }
}

impl IntoIterator for SubMap {
    type Item = Slot;
    type IntoIter = std::iter::Chain<std::option::IntoIter<Slot>, std::vec::IntoIter<Slot>>;
    fn into_iter(self) -> Self::IntoIter {
        match self.0 {
            Repr::One(o) => o.into_iter().chain(Vec::new()),
            Repr::Many(v) => None.into_iter().chain(v),
        }
    }
}

/// The NATS subscriptions of one MQTT filter, inline: the converted filter
/// and its `#` parent-level twin (mqtt spec §3.2); none when the filter has
/// no valid subject (a stored filter a restore cannot convert).
#[derive(Debug, Clone, Default)]
pub(crate) struct SubPair([Option<SubRef<Sink>>; 2]);

impl SubPair {
    /// The subscriptions, the filter's first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &SubRef<Sink>> {
        self.0.iter().flatten()
    }

    /// How many (0 to 2).
    pub(crate) fn len(&self) -> usize {
        self.iter().count()
    }

    /// The filter's own subscription.
    pub(crate) fn first(&self) -> Option<&SubRef<Sink>> {
        self.iter().next()
    }
}

impl FromIterator<SubRef<Sink>> for SubPair {
    /// Takes the first two (a filter has at most one twin).
    fn from_iter<I: IntoIterator<Item = SubRef<Sink>>>(iter: I) -> SubPair {
        let mut it = iter.into_iter();
        SubPair([it.next(), it.next()])
    }
}

impl IntoIterator for SubPair {
    type Item = SubRef<Sink>;
    type IntoIter = std::iter::Flatten<std::array::IntoIter<Option<SubRef<Sink>>, 2>>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter().flatten()
    }
}

impl<'a> IntoIterator for &'a SubPair {
    type Item = &'a SubRef<Sink>;
    type IntoIter = std::iter::Flatten<std::slice::Iter<'a, Option<SubRef<Sink>>>>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use natsws_core::router::Subscription;
    use natsws_core::subject::Filter;

    use super::*;

    /// An entry for MQTT filter `f` (its NATS subscription on a fixed
    /// subject: only the id matters here).
    fn e(f: &[u8], qos: u8) -> SubEntry {
        let sub = Subscription::new(
            1,
            f,
            Filter::try_from(b"x".to_vec()).expect("valid"),
            None,
            false,
        );
        SubEntry {
            qos,
            reserved: false,
            subs: [SubRef::new(sub)].into_iter().collect(),
            win: Default::default(),
        }
    }

    fn qos_order(m: &SubMap) -> Vec<(&[u8], u8)> {
        m.iter().map(|(f, e)| (f, e.qos)).collect()
    }

    #[test]
    fn sorted_replace_remove() {
        let mut m = SubMap::default();
        m.insert(e(b"b/#", 1));
        m.insert(e(b"a", 0));
        m.insert(e(b"c/+", 2));
        m.insert(e(b"a", 2));
        assert_eq!(m.iter().count(), 3);
        assert_eq!(qos_order(&m), [(&b"a"[..], 2), (b"b/#", 1), (b"c/+", 2)]);
        assert_eq!(m.get(b"b/#").map(|e| e.qos), Some(1));
        assert!(m.get(b"b").is_none());
        m.get_mut(b"c/+").expect("there").qos = 0;
        assert_eq!(m.remove(b"a").map(|e| e.qos), Some(2));
        assert!(m.remove(b"a").is_none());
        assert_eq!(m.values().map(|e| e.qos).collect::<Vec<_>>(), [1, 0]);
        assert_eq!(m.into_iter().count(), 2);
    }

    /// One filter inline, a second before or after it, back to one, to
    /// none; every step keeps the order and finds what is there.
    #[test]
    fn one_inline_then_many_then_one() {
        let mut m = SubMap::default();
        assert_eq!(m.iter().count(), 0);
        assert!(m.remove(b"x").is_none());
        assert_eq!(m.into_iter().count(), 0);
        for second in [&b"a"[..], b"z"] {
            let mut m = SubMap::default();
            m.insert(e(b"m", 1));
            assert!(matches!(m.0, Repr::One(Some(_))));
            m.insert(e(b"m", 2));
            assert_eq!(qos_order(&m), [(&b"m"[..], 2)]);
            m.insert(e(second, 0));
            assert!(matches!(m.0, Repr::Many(_)));
            let mut want = vec![(&b"m"[..], 2), (second, 0)];
            want.sort();
            assert_eq!(qos_order(&m), want);
            assert_eq!(m.remove(second).map(|e| e.qos), Some(0));
            assert!(matches!(m.0, Repr::One(Some(_))));
            assert_eq!(m.get(b"m").map(|e| e.qos), Some(2));
            assert_eq!(m.remove(b"m").map(|e| e.qos), Some(2));
            assert!(matches!(m.0, Repr::One(None)));
            assert!(m.get(b"m").is_none());
        }
        // Taken whole, inline or not.
        m = SubMap::default();
        m.insert(e(b"a", 0));
        let one: Vec<Vec<u8>> = std::mem::take(&mut m)
            .into_iter()
            .map(|x| x.filter().to_vec())
            .collect();
        assert_eq!(one, [b"a".to_vec()]);
        assert_eq!(m.iter().count(), 0);
        // An entry without subscriptions has no filter: not kept.
        m.insert(SubEntry {
            qos: 1,
            reserved: false,
            subs: SubPair::default(),
            win: Default::default(),
        });
        assert_eq!(m.iter().count(), 0);
    }
}
