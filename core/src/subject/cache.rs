//! The bounded match-result cache of [`super::Sublist`]: subject bytes →
//! shared result.
//!
//! A 4-way set-associative table: the subject's hash picks a set of four
//! slots; a full set evicts a slot that was not hit since the set's last
//! insertion (second chance), else the slot named by the hash. So the cache
//! never holds more than its capacity, needs no sweeper, and a lookup is one
//! hash plus at most four hash compares and one byte compare, with no
//! allocation.
//!
//! The hash is not keyed: crafted subjects can only evict each other's
//! entries (slower matching, never wrong results).

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;

const WAYS: usize = 4;

struct Entry<R> {
    hash: u64,
    referenced: bool,
    key: Box<[u8]>,
    value: Arc<R>,
}

pub(crate) struct Cache<R> {
    /// `sets * WAYS` slots, allocated on first insertion.
    slots: Vec<Option<Entry<R>>>,
    sets: usize,
    len: usize,
    pub(crate) hits: u64,
    pub(crate) misses: u64,
}

/// A fast non-cryptographic 64-bit hash of `bytes` (8 bytes per step plus a
/// final avalanche, so the low bits that pick the set are well mixed).
#[inline]
pub(crate) fn hash(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h = (bytes.len() as u64).wrapping_mul(K);
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(K).rotate_left(29);
    }
    let rem = chunks.remainder();
    if !rem.is_empty() {
        let mut w = [0u8; 8];
        w[..rem.len()].copy_from_slice(rem);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(K).rotate_left(29);
    }
    // fmix64 (MurmurHash3 finaliser).
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

impl<R> Cache<R> {
    /// A cache holding at most `capacity` entries, rounded up to a power of
    /// two times four; 0 disables caching.
    pub(crate) fn new(capacity: usize) -> Self {
        let sets = if capacity == 0 {
            0
        } else {
            capacity.div_ceil(WAYS).next_power_of_two()
        };
        Cache {
            slots: Vec::new(),
            sets,
            len: 0,
            hits: 0,
            misses: 0,
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.sets != 0
    }

    pub(crate) fn capacity(&self) -> usize {
        self.sets * WAYS
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    #[inline]
    fn set_range(&self, hash: u64) -> core::ops::Range<usize> {
        // sets is a power of two; truncating the hash is the point.
        let base = (hash as usize & (self.sets - 1)) * WAYS;
        base..base + WAYS
    }

    /// Looks `key` up, counting a hit or a miss.
    #[inline]
    pub(crate) fn get(&mut self, key: &[u8], hash: u64) -> Option<Arc<R>> {
        if self.slots.is_empty() {
            self.misses += 1;
            return None;
        }
        let range = self.set_range(hash);
        for e in self.slots[range].iter_mut().flatten() {
            if e.hash == hash && *e.key == *key {
                e.referenced = true;
                self.hits += 1;
                return Some(Arc::clone(&e.value));
            }
        }
        self.misses += 1;
        None
    }

    /// Stores `value` for `key` (which must not be present), evicting an
    /// entry of the same set if it is full.
    pub(crate) fn insert(&mut self, key: &[u8], hash: u64, value: Arc<R>) {
        if self.sets == 0 {
            return;
        }
        if self.slots.is_empty() {
            self.slots.resize_with(self.sets * WAYS, || None);
        }
        let range = self.set_range(hash);
        let set = &mut self.slots[range];
        let way = match set.iter().position(Option::is_none) {
            Some(free) => {
                self.len += 1;
                free
            }
            None => {
                let victim = set
                    .iter()
                    .position(|e| e.as_ref().is_some_and(|e| !e.referenced))
                    .unwrap_or((hash >> 62) as usize);
                for e in set.iter_mut().flatten() {
                    e.referenced = false;
                }
                victim
            }
        };
        set[way] = Some(Entry {
            hash,
            referenced: false,
            key: key.into(),
            value,
        });
    }

    /// Drops the entry for `key`, if any.
    pub(crate) fn remove(&mut self, key: &[u8]) {
        if self.slots.is_empty() {
            return;
        }
        let h = hash(key);
        let range = self.set_range(h);
        for slot in &mut self.slots[range] {
            if slot.as_ref().is_some_and(|e| e.hash == h && *e.key == *key) {
                *slot = None;
                self.len -= 1;
                return;
            }
        }
    }

    /// Drops every entry whose key satisfies `drop_if`.
    pub(crate) fn remove_matching(&mut self, mut drop_if: impl FnMut(&[u8]) -> bool) {
        if self.len == 0 {
            return;
        }
        for slot in &mut self.slots {
            if slot.as_ref().is_some_and(|e| drop_if(&e.key)) {
                *slot = None;
                self.len -= 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    #[test]
    fn bounded_and_lookups() {
        let mut c: Cache<u32> = Cache::new(8);
        assert_eq!(c.capacity(), 8);
        for i in 0..100u32 {
            let k = format!("k.{i}");
            let h = hash(k.as_bytes());
            assert!(c.get(k.as_bytes(), h).is_none());
            c.insert(k.as_bytes(), h, Arc::new(i));
            assert_eq!(*c.get(k.as_bytes(), h).unwrap(), i);
            assert!(c.len() <= 8);
        }
        assert_eq!(c.len(), 8, "all sets fill up with 100 keys");
        c.remove_matching(|_| true);
        assert_eq!(c.len(), 0);
        assert!(c.slots.iter().all(Option::is_none));
    }

    #[test]
    fn remove_one() {
        let mut c: Cache<u32> = Cache::new(1024);
        assert_eq!(c.capacity(), 1024);
        let h = hash(b"a");
        c.insert(b"a", h, Arc::new(1));
        c.insert(b"b", hash(b"b"), Arc::new(2));
        c.remove(b"a");
        assert!(c.get(b"a", h).is_none());
        assert_eq!(*c.get(b"b", hash(b"b")).unwrap(), 2);
        assert_eq!(c.len(), 1);
        assert_eq!((c.hits, c.misses), (1, 1));
    }

    #[test]
    fn disabled() {
        let mut c: Cache<u32> = Cache::new(0);
        assert!(!c.enabled());
        c.insert(b"a", hash(b"a"), Arc::new(1));
        assert!(c.get(b"a", hash(b"a")).is_none());
        assert_eq!(c.len(), 0);
    }
}
