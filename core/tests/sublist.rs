//! Sublist behaviour: plain and queue matching (spec §2.2), removal and
//! pruning, the match cache, and a property test against a naive matcher.
#![allow(missing_docs)]

use std::collections::BTreeMap;
use std::sync::Arc;

use natsws_core::subject::{filter_matches, Filter, Sublist, SublistResult};
use proptest::prelude::*;

fn f(s: &str) -> Filter {
    Filter::try_from(s).unwrap()
}

/// Plain values sorted, and queue name → sorted members.
type Canon = (Vec<u32>, BTreeMap<Vec<u8>, Vec<u32>>);

fn canon(r: &SublistResult<u32>) -> Canon {
    let mut plain = r.plain.clone();
    plain.sort_unstable();
    let mut queues = BTreeMap::new();
    let mut names = Vec::new();
    for q in &r.queues {
        assert!(!q.members.is_empty(), "empty queue group in result");
        names.push(q.name.to_vec());
        let mut m = q.members.clone();
        m.sort_unstable();
        assert!(
            queues.insert(q.name.to_vec(), m).is_none(),
            "queue name listed twice"
        );
    }
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "queues sorted by name");
    (plain, queues)
}

/// The reference: every (filter, queue, value) checked with `filter_matches`.
#[derive(Default)]
struct Naive(Vec<(Vec<u8>, Option<Vec<u8>>, u32)>);

impl Naive {
    fn insert(&mut self, filter: &[u8], queue: Option<&[u8]>, v: u32) {
        self.0.push((filter.to_vec(), queue.map(<[u8]>::to_vec), v));
    }
    fn remove(&mut self, filter: &[u8], queue: Option<&[u8]>, v: u32) -> bool {
        match self
            .0
            .iter()
            .position(|(fl, q, x)| fl == filter && q.as_deref() == queue && *x == v)
        {
            Some(i) => {
                self.0.remove(i);
                true
            }
            None => false,
        }
    }
    fn matches(&self, subject: &[u8]) -> Canon {
        let mut plain = Vec::new();
        let mut queues: BTreeMap<Vec<u8>, Vec<u32>> = BTreeMap::new();
        for (fl, q, v) in &self.0 {
            if filter_matches(fl, subject) {
                match q {
                    None => plain.push(*v),
                    Some(q) => queues.entry(q.clone()).or_default().push(*v),
                }
            }
        }
        plain.sort_unstable();
        queues.values_mut().for_each(|m| m.sort_unstable());
        (plain, queues)
    }
}

#[test]
fn plain_and_wildcard_matches() {
    let mut s = Sublist::new();
    s.insert(&f("foo.bar"), None, 1);
    s.insert(&f("foo.*"), None, 2);
    s.insert(&f("foo.>"), None, 3);
    s.insert(&f(">"), None, 4);
    s.insert(&f("*.bar"), None, 5);
    s.insert(&f("foo"), None, 6);
    s.insert(&f("foo.bar.baz"), None, 7);
    assert_eq!(s.len(), 7);
    assert_eq!(canon(&s.match_subject(b"foo.bar")).0, [1, 2, 3, 4, 5]);
    assert_eq!(canon(&s.match_subject(b"foo")).0, [4, 6]);
    assert_eq!(canon(&s.match_subject(b"foo.bar.baz")).0, [3, 4, 7]);
    assert_eq!(canon(&s.match_subject(b"x.bar")).0, [4, 5]);
    assert_eq!(canon(&s.match_subject(b"x.y.z")).0, [4]);
}

/// nats-server's copy order (`matchLevel`): per level `>`, then the `*`
/// subtree, then the literal subtree; at the last token `>`, literal, `*`.
#[test]
fn plain_order_is_nats_server_walk_order() {
    let mut s = Sublist::new();
    for (i, fl) in ["foo.bar", "foo.*", "foo.>", ">", "*.bar", "*.>", "*.*"]
        .iter()
        .enumerate()
    {
        s.insert(&f(fl), None, i as u32 + 1);
    }
    assert_eq!(s.match_subject(b"foo.bar").plain, [4, 6, 5, 7, 3, 1, 2]);
    assert_eq!(s.match_uncached(b"foo.bar").plain, [4, 6, 5, 7, 3, 1, 2]);
    // Cached answer keeps the order.
    assert_eq!(s.match_subject(b"foo.bar").plain, [4, 6, 5, 7, 3, 1, 2]);
    assert_eq!(s.match_subject(b"foo").plain, [4]);

    let mut s = Sublist::new();
    for (i, fl) in ["a.*.c", "a.b.*", "*.b.c", "a.>", "a.b.c", "*.*.*", "a.*.>"]
        .iter()
        .enumerate()
    {
        s.insert(&f(fl), None, i as u32 + 1);
    }
    assert_eq!(s.match_subject(b"a.b.c").plain, [6, 3, 4, 7, 1, 5, 2]);
    // Several subscriptions on one filter: insertion order.
    s.insert(&f("a.b.c"), None, 8);
    s.insert(&f("a.>"), None, 9);
    assert_eq!(s.match_subject(b"a.b.c").plain, [6, 3, 4, 9, 7, 1, 5, 8, 2]);
}

#[test]
fn same_value_on_two_filters_matches_twice() {
    let mut s = Sublist::new();
    s.insert(&f("a.*"), None, 9);
    s.insert(&f("a.b"), None, 9);
    assert_eq!(s.match_subject(b"a.b").plain, [9, 9]);
}

#[test]
fn duplicate_insert_needs_two_removes() {
    let mut s = Sublist::new();
    s.insert(&f("a"), None, 1);
    s.insert(&f("a"), None, 1);
    assert_eq!(s.len(), 2);
    assert_eq!(s.match_subject(b"a").plain, [1, 1]);
    assert!(s.remove(&f("a"), None, &1));
    assert_eq!(s.match_subject(b"a").plain, [1]);
    assert!(s.remove(&f("a"), None, &1));
    assert!(!s.remove(&f("a"), None, &1));
    assert!(s.is_empty());
    assert_eq!(s.node_count(), 0);
}

#[test]
fn queue_groups_gather_across_filters() {
    let mut s = Sublist::new();
    s.insert(&f("foo.*"), Some(b"q1"), 1);
    s.insert(&f("foo.bar"), Some(b"q1"), 2);
    s.insert(&f("foo.>"), Some(b"q2"), 3);
    s.insert(&f("foo.bar"), Some(b"q2"), 4);
    s.insert(&f("foo.bar"), None, 5);
    s.insert(&f("foo.baz"), Some(b"q3"), 6);
    let r = s.match_subject(b"foo.bar");
    assert_eq!(r.plain, [5]);
    assert_eq!(r.queues.len(), 2);
    assert_eq!(&*r.queues[0].name, b"q1");
    assert_eq!(&*r.queues[1].name, b"q2");
    let (_, q) = canon(&r);
    assert_eq!(q[&b"q1".to_vec()], [1, 2]);
    assert_eq!(q[&b"q2".to_vec()], [3, 4]);
    // Removing from the wrong group or as plain does nothing.
    assert!(!s.remove(&f("foo.*"), Some(b"q2"), &1));
    assert!(!s.remove(&f("foo.*"), None, &1));
    assert!(s.remove(&f("foo.*"), Some(b"q1"), &1));
    let (_, q) = canon(&s.match_subject(b"foo.bar"));
    assert_eq!(q[&b"q1".to_vec()], [2]);
}

#[test]
fn empty_tokens_match_nothing() {
    let mut s = Sublist::new();
    s.insert(&f(">"), None, 1);
    s.insert(&f("*.>"), Some(b"q"), 2);
    for subject in [
        &b""[..],
        b".",
        b".foo",
        b"..foo",
        b"foo..",
        b"foo.",
        b"foo..bar",
        b"foo...bar",
    ] {
        assert!(s.match_subject(subject).is_empty(), "{subject:?}");
    }
    assert_eq!(
        s.cache_stats().entries,
        0,
        "unmatchable subjects not cached"
    );
}

#[test]
fn wildcard_tokens_in_published_subject_are_ordinary() {
    let mut s = Sublist::new();
    s.insert(&f("foo.*"), None, 1);
    s.insert(&f("foo.>"), None, 2);
    s.insert(&f(">"), None, 3);
    s.insert(&f("foo.bar"), None, 4);
    s.insert(&f("foo.*-"), None, 5);
    assert_eq!(canon(&s.match_subject(b"foo.*")).0, [1, 2, 3]);
    assert_eq!(canon(&s.match_subject(b"foo.>")).0, [1, 2, 3]);
    assert_eq!(canon(&s.match_subject(b"foo.bar")).0, [1, 2, 3, 4]);
    // Wildcard characters inside tokens are literal (TestSublistInsertWithWildcardsAsLiterals).
    assert_eq!(canon(&s.match_subject(b"foo.*-")).0, [1, 2, 3, 5]);
}

#[test]
fn no_partial_prefix_matches() {
    // TestSublistTwoTokenPubMatchSingleTokenSub and its reverse.
    let mut s = Sublist::new();
    s.insert(&f("foo"), None, 1);
    assert!(s.match_subject(b"foo.bar").is_empty());
    let mut s = Sublist::new();
    s.insert(&f("foo.*"), None, 1);
    s.insert(&f("foo.>"), None, 2);
    assert!(s.match_subject(b"foo").is_empty());
}

#[test]
fn cache_hit_returns_same_result_and_counts() {
    let mut s = Sublist::new();
    s.insert(&f("foo.bar"), None, 1);
    let a = s.match_subject(b"foo.bar");
    let st = s.cache_stats();
    assert_eq!((st.hits, st.misses, st.entries), (0, 1, 1));
    let b = s.match_subject(b"foo.bar");
    assert!(Arc::ptr_eq(&a, &b));
    assert_eq!(s.cache_stats().hits, 1);
    // No interest is cached too, sharing one empty result.
    let e1 = s.match_subject(b"nobody");
    let e2 = s.match_subject(b"nobody.else");
    assert!(e1.is_empty() && Arc::ptr_eq(&e1, &e2));
    s.match_subject(b"nobody");
    assert_eq!(s.cache_stats().hits, 2);
}

#[test]
fn cache_sees_insert_and_remove() {
    let mut s = Sublist::new();
    let g0 = s.generation();
    s.insert(&f("foo.bar"), None, 1);
    assert_ne!(s.generation(), g0);
    assert_eq!(s.match_subject(b"foo.bar").plain, [1]);
    assert!(s.match_subject(b"foo.baz").is_empty());

    // A wildcard insert changes both cached subjects.
    s.insert(&f("foo.*"), Some(b"q"), 2);
    let r = s.match_subject(b"foo.bar");
    assert_eq!(r.plain, [1]);
    assert_eq!(r.queues[0].members, [2]);
    assert_eq!(s.match_subject(b"foo.baz").queues[0].members, [2]);

    // A literal insert elsewhere keeps unrelated entries cached.
    let hits = s.cache_stats().hits;
    s.insert(&f("foo.baz"), None, 3);
    s.match_subject(b"foo.bar");
    assert_eq!(s.cache_stats().hits, hits + 1, "foo.bar stays cached");
    assert_eq!(canon(&s.match_subject(b"foo.baz")).0, [3]);

    // Removal is seen.
    let g = s.generation();
    assert!(s.remove(&f("foo.bar"), None, &1));
    assert_ne!(s.generation(), g);
    assert!(s.match_subject(b"foo.bar").plain.is_empty());
    assert!(s.remove(&f("foo.*"), Some(b"q"), &2));
    assert!(s.match_subject(b"foo.bar").is_empty());
    assert!(s.match_subject(b"foo.baz").queues.is_empty());

    // A failed removal changes nothing.
    let g = s.generation();
    assert!(!s.remove(&f("foo.*"), Some(b"q"), &2));
    assert_eq!(s.generation(), g);
}

#[test]
fn cache_is_bounded() {
    let mut s = Sublist::with_cache_capacity(64);
    s.insert(&f(">"), None, 1);
    for i in 0..1000 {
        let subj = format!("s.{i}");
        assert_eq!(s.match_subject(subj.as_bytes()).plain, [1]);
        assert!(s.cache_stats().entries <= 64);
    }
    assert_eq!(s.cache_stats().capacity, 64);
    assert_eq!(Sublist::<u32>::new().cache_stats().capacity, 1024);
}

#[test]
fn uncached_sublist_still_matches() {
    let mut s = Sublist::with_cache_capacity(0);
    s.insert(&f("a.>"), None, 1);
    assert_eq!(s.match_subject(b"a.b").plain, [1]);
    assert_eq!(s.match_subject(b"a.b").plain, [1]);
    let st = s.cache_stats();
    assert_eq!((st.hits, st.misses, st.entries), (0, 2, 0));
}

#[test]
fn for_each_lists_every_subscription() {
    let mut s = Sublist::new();
    let subs: &[(&str, Option<&[u8]>, u32)] = &[
        ("a", None, 1),
        ("a.b", None, 2),
        ("a.*", Some(b"q"), 3),
        ("a.>", None, 4),
        ("*.>", Some(b"r"), 5),
        ("a.b", Some(b"q"), 6),
        ("a.b", None, 7),
    ];
    for (fl, q, v) in subs {
        s.insert(&f(fl), *q, *v);
    }
    let mut seen = Vec::new();
    s.for_each(|fl, q, v| seen.push((fl.to_vec(), q.map(<[u8]>::to_vec), *v)));
    seen.sort_by_key(|x| x.2);
    let want: Vec<_> = subs
        .iter()
        .map(|(fl, q, v)| (fl.as_bytes().to_vec(), q.map(<[u8]>::to_vec), *v))
        .collect();
    assert_eq!(seen, want);
}

#[test]
fn memory_returns_after_unsubscribe() {
    let mut s = Sublist::new();
    let filters: Vec<Filter> = (0..200)
        .map(|i| f(&format!("t.{}.{}.>", i % 7, i)))
        .collect();
    for (i, fl) in filters.iter().enumerate() {
        s.insert(fl, (i % 3 == 0).then_some(&b"q"[..]), i as u32);
    }
    assert!(s.node_count() > 200);
    for (i, fl) in filters.iter().enumerate().rev() {
        assert!(s.remove(fl, (i % 3 == 0).then_some(&b"q"[..]), &(i as u32)));
    }
    assert_eq!(s.len(), 0);
    assert_eq!(s.node_count(), 0);
}

#[derive(Debug, Clone)]
enum Op {
    Insert(Vec<u8>, Option<Vec<u8>>, u32),
    /// Remove the n-th held subscription (modulo), or a random one when none.
    RemoveHeld(usize),
    Remove(Vec<u8>, Option<Vec<u8>>, u32),
    Match(Vec<u8>),
}

fn join(tokens: &[&str]) -> Vec<u8> {
    tokens.join(".").into_bytes()
}

fn filter_strategy() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::collection::vec(prop::sample::select(vec!["a", "b", "c", "*"]), 0..4),
        any::<bool>(),
    )
        .prop_filter_map("empty filter", |(mut toks, fwc)| {
            if fwc {
                toks.push(">");
            }
            (!toks.is_empty()).then(|| join(&toks))
        })
}

fn subject_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop::sample::select(vec!["a", "b", "c", "a", "b", "*", ">", ""]),
        0..5,
    )
    .prop_map(|t| join(&t))
}

fn queue_strategy() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop::sample::select(vec![None, None, Some(b"q1".to_vec()), Some(b"q2".to_vec())])
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (filter_strategy(), queue_strategy(), 0..5u32).prop_map(|(f, q, v)| Op::Insert(f, q, v)),
        2 => any::<usize>().prop_map(Op::RemoveHeld),
        1 => (filter_strategy(), queue_strategy(), 0..5u32).prop_map(|(f, q, v)| Op::Remove(f, q, v)),
        4 => subject_strategy().prop_map(Op::Match),
    ]
}

fn run_ops(ops: &[Op], cache: usize) -> Result<(), TestCaseError> {
    let mut s = Sublist::with_cache_capacity(cache);
    let mut naive = Naive::default();
    for op in ops {
        match op {
            Op::Insert(fl, q, v) => {
                s.insert(&Filter::try_from(&fl[..]).unwrap(), q.as_deref(), *v);
                naive.insert(fl, q.as_deref(), *v);
            }
            Op::RemoveHeld(n) => {
                if naive.0.is_empty() {
                    continue;
                }
                let (fl, q, v) = naive.0[n % naive.0.len()].clone();
                prop_assert!(naive.remove(&fl, q.as_deref(), v));
                prop_assert!(s.remove(&Filter::try_from(&fl[..]).unwrap(), q.as_deref(), &v));
            }
            Op::Remove(fl, q, v) => {
                let want = naive.remove(fl, q.as_deref(), *v);
                let got = s.remove(&Filter::try_from(&fl[..]).unwrap(), q.as_deref(), v);
                prop_assert_eq!(got, want);
            }
            Op::Match(subject) => {
                let want = naive.matches(subject);
                prop_assert_eq!(&canon(&s.match_subject(subject)), &want);
                // Again, now possibly from the cache.
                prop_assert_eq!(&canon(&s.match_subject(subject)), &want);
                prop_assert_eq!(&canon(&s.match_uncached(subject)), &want);
            }
        }
        prop_assert_eq!(s.len(), naive.0.len());
    }
    // Removing everything leaves an empty trie.
    for (fl, q, v) in naive.0.drain(..) {
        prop_assert!(s.remove(&Filter::try_from(&fl[..]).unwrap(), q.as_deref(), &v));
    }
    prop_assert_eq!(s.len(), 0);
    prop_assert_eq!(s.node_count(), 0);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn sublist_equals_naive_matcher(
        ops in prop::collection::vec(op_strategy(), 1..80),
        cache in prop::sample::select(vec![0usize, 4, 1024]),
    ) {
        run_ops(&ops, cache)?;
    }
}

/// The order model of nats-server's `matchLevel` for a filter that matches
/// `subject`: per token, `>` first; before the last subject token `*` before
/// a literal, at the last one the literal before `*`. Matches sort by this
/// key, ties (same filter) in insertion order.
fn walk_key(filter: &[u8], subject: &[u8]) -> Vec<u8> {
    let last = subject.split(|&b| b == b'.').count() - 1;
    filter
        .split(|&b| b == b'.')
        .enumerate()
        .map(|(i, t)| {
            let star = t == b"*";
            if t == b">" {
                0
            } else if star != (i == last) {
                1
            } else {
                2
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn plain_order_matches_walk_model(
        filters in prop::collection::vec(filter_strategy(), 1..24),
        subjects in prop::collection::vec(subject_strategy(), 1..8),
    ) {
        let mut s = Sublist::new();
        for (i, fl) in filters.iter().enumerate() {
            s.insert(&Filter::try_from(&fl[..]).unwrap(), None, i as u32);
        }
        for subject in &subjects {
            let mut want: Vec<u32> = (0..filters.len() as u32)
                .filter(|&i| filter_matches(&filters[i as usize], subject))
                .collect();
            want.sort_by_key(|&i| walk_key(&filters[i as usize], subject));
            prop_assert_eq!(&s.match_uncached(subject).plain, &want);
            prop_assert_eq!(&s.match_subject(subject).plain, &want);
        }
    }
}
