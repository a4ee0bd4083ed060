//! The filters of one MQTT session: a vector sorted by filter, searched by
//! bisection. A session mostly holds one or a few filters, and a
//! `BTreeMap`'s first node alone is ~560 bytes (11 slots): idle memory per
//! connection (issue #17: ≤ mosquitto's) is what this saves.

use super::SubEntry;

/// Filter (MQTT topic filter bytes) → [`SubEntry`], in filter order.
#[derive(Default)]
pub(crate) struct SubMap(Vec<(Box<[u8]>, SubEntry)>);

impl SubMap {
    fn find(&self, filter: &[u8]) -> Result<usize, usize> {
        self.0.binary_search_by(|(f, _)| (**f).cmp(filter))
    }

    /// The entry of `filter`.
    pub(crate) fn get(&self, filter: &[u8]) -> Option<&SubEntry> {
        self.find(filter).ok().map(|i| &self.0[i].1)
    }

    /// The entry of `filter`, to change.
    pub(crate) fn get_mut(&mut self, filter: &[u8]) -> Option<&mut SubEntry> {
        self.find(filter).ok().map(|i| &mut self.0[i].1)
    }

    /// Adds or replaces the entry of `filter`.
    pub(crate) fn insert(&mut self, filter: Box<[u8]>, e: SubEntry) {
        match self.find(&filter) {
            Ok(i) => self.0[i].1 = e,
            Err(i) => {
                // Grow one at a time: most sessions keep a few filters.
                self.0.reserve_exact(1);
                self.0.insert(i, (filter, e));
            }
        }
    }

    /// Removes the entry of `filter`.
    pub(crate) fn remove(&mut self, filter: &[u8]) -> Option<SubEntry> {
        let i = self.find(filter).ok()?;
        let e = self.0.remove(i).1;
        if self.0.capacity() > 2 * self.0.len() + 4 {
            self.0.shrink_to_fit();
        }
        Some(e)
    }

    /// The entries, in filter order, to change.
    pub(crate) fn values_mut(&mut self) -> impl Iterator<Item = &mut SubEntry> {
        self.0.iter_mut().map(|(_, e)| e)
    }

    /// (filter, entry) in filter order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&Box<[u8]>, &SubEntry)> {
        self.0.iter().map(|(f, e)| (f, e))
    }

    /// The entries, in filter order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &SubEntry> {
        self.0.iter().map(|(_, e)| e)
    }
}

impl IntoIterator for SubMap {
    type Item = (Box<[u8]>, SubEntry);
    type IntoIter = std::vec::IntoIter<(Box<[u8]>, SubEntry)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(qos: u8) -> SubEntry {
        SubEntry {
            qos,
            reserved: false,
            subs: Vec::new(),
            win: Default::default(),
        }
    }

    #[test]
    fn sorted_replace_remove() {
        let mut m = SubMap::default();
        m.insert(b"b/#".as_slice().into(), e(1));
        m.insert(b"a".as_slice().into(), e(0));
        m.insert(b"c/+".as_slice().into(), e(2));
        m.insert(b"a".as_slice().into(), e(2));
        assert_eq!(m.iter().count(), 3);
        let order: Vec<(&[u8], u8)> = m.iter().map(|(f, e)| (&**f, e.qos)).collect();
        assert_eq!(order, [(&b"a"[..], 2), (b"b/#", 1), (b"c/+", 2)]);
        assert_eq!(m.get(b"b/#").map(|e| e.qos), Some(1));
        assert!(m.get(b"b").is_none());
        m.get_mut(b"c/+").expect("there").qos = 0;
        assert_eq!(m.remove(b"a").map(|e| e.qos), Some(2));
        assert!(m.remove(b"a").is_none());
        assert_eq!(m.values().map(|e| e.qos).collect::<Vec<_>>(), [1, 0]);
        assert_eq!(m.into_iter().count(), 2);
    }
}
