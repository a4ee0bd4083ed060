//! Criterion benchmarks (sublist). Run: cargo bench -p natsws-core --bench sublist
//!
//! A sublist of 10,000 subscriptions: 9,900 literal three-token filters
//! `<0..10>.<0..99>.<0..9>` (some in queue groups) plus 100 wildcard filters
//! (`<n>.*.<m>`, `<n>.>`, `*.<k>.*`); a three-token subject matches one
//! literal and a few wildcards.
#![allow(missing_docs)]
use core::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use natsws_core::subject::{Filter, Sublist};

fn filters() -> Vec<(Filter, Option<&'static [u8]>)> {
    let mut out = Vec::with_capacity(10_000);
    'outer: for a in 0..10 {
        for b in 0..100 {
            for c in 0..10 {
                if out.len() == 9_900 {
                    break 'outer;
                }
                let q: Option<&'static [u8]> = (c % 4 == 0).then_some(b"workers");
                out.push((
                    Filter::try_from(format!("{a}.{b}.{c}").as_str()).unwrap(),
                    q,
                ));
            }
        }
    }
    for i in 0..100 {
        let s = match i % 3 {
            0 => format!("{}.*.{}", i % 10, i % 7),
            1 => format!("{}.>", i % 10),
            _ => format!("*.{}.*", i),
        };
        out.push((Filter::try_from(s.as_str()).unwrap(), None));
    }
    out
}

fn build(cache: usize) -> Sublist<u32> {
    let mut s = Sublist::with_cache_capacity(cache);
    for (i, (f, q)) in filters().iter().enumerate() {
        s.insert(f, *q, i as u32);
    }
    s
}

/// Issue 2 targets: 100,000 literal subscriptions `<0..100>.<0..100>.<0..10>`
/// plus 100 wildcards; cached match <= 50 ns, uncached literal match <= 1 us.
fn bench_100k(c: &mut Criterion) {
    let mut g = c.benchmark_group("sublist_100k");
    let build = |cache: usize| {
        let mut s = Sublist::with_cache_capacity(cache);
        let mut n = 0u32;
        for a in 0..100 {
            for b in 0..100 {
                for c in 0..10 {
                    let f = Filter::try_from(format!("{a}.{b}.{c}").as_str()).unwrap();
                    s.insert(&f, None, n);
                    n += 1;
                }
            }
        }
        for i in 0..100 {
            let f = Filter::try_from(format!("{}.*.{}", i, i % 10).as_str()).unwrap();
            s.insert(&f, None, n + i);
        }
        s
    };
    let subjects: Vec<Vec<u8>> = (0..64)
        .map(|i| format!("{}.{}.{}", (i * 13) % 100, (i * 7) % 100, i % 10).into_bytes())
        .collect();
    let mut uncached = build(0);
    let mut i = 0;
    g.bench_function("match_literal_uncached", |b| {
        b.iter(|| {
            i = (i + 1) % subjects.len();
            black_box(uncached.match_subject(black_box(&subjects[i])));
        });
    });
    let miss = b"x.y.z".to_vec();
    g.bench_function("match_no_interest_uncached", |b| {
        b.iter(|| black_box(uncached.match_subject(black_box(&miss))));
    });
    let mut cached = build(1024);
    for s in &subjects {
        cached.match_subject(s);
    }
    g.bench_function("match_cached", |b| {
        b.iter(|| {
            i = (i + 1) % subjects.len();
            black_box(cached.match_subject(black_box(&subjects[i])));
        });
    });
    g.finish();
}

fn bench_match(c: &mut Criterion) {
    let mut g = c.benchmark_group("sublist_10k");
    let subjects: Vec<Vec<u8>> = (0..64)
        .map(|i| format!("{}.{}.{}", i % 10, (i * 7) % 100, i % 10).into_bytes())
        .collect();

    let mut cached = build(1024);
    for s in &subjects {
        cached.match_subject(s);
    }
    let mut i = 0;
    g.bench_function("match_cached", |b| {
        b.iter(|| {
            i = (i + 1) % subjects.len();
            black_box(cached.match_subject(black_box(&subjects[i])))
        })
    });

    let mut uncached = build(0);
    let mut i = 0;
    g.bench_function("match_uncached", |b| {
        b.iter(|| {
            i = (i + 1) % subjects.len();
            black_box(uncached.match_subject(black_box(&subjects[i])))
        })
    });

    let none = b"zz.top.level";
    g.bench_function("match_uncached_no_interest", |b| {
        b.iter(|| black_box(uncached.match_uncached(black_box(none))))
    });

    // Insert and remove one subscription in the full sublist, with a warm
    // cache (literal: one cache entry dropped; wildcard: the cache is scanned).
    let lit = Filter::from_static("5.55.55");
    g.bench_function("insert_remove_literal", |b| {
        b.iter(|| {
            cached.insert(&lit, None, 99_999);
            black_box(cached.remove(&lit, None, &99_999))
        })
    });
    let wc = Filter::from_static("7.*.>");
    g.bench_function("insert_remove_wildcard", |b| {
        b.iter(|| {
            for s in &subjects[..16] {
                cached.match_subject(s);
            }
            cached.insert(&wc, Some(b"q"), 99_999);
            black_box(cached.remove(&wc, Some(b"q"), &99_999))
        })
    });
    g.finish();

    let all = filters();
    c.bench_function("sublist_build_and_clear_10k", |b| {
        b.iter(|| {
            let mut s = Sublist::new();
            for (i, (f, q)) in all.iter().enumerate() {
                s.insert(f, *q, i as u32);
            }
            for (i, (f, q)) in all.iter().enumerate() {
                s.remove(f, *q, &(i as u32));
            }
            black_box(s.node_count())
        })
    });
}

criterion_group!(benches, bench_100k, bench_match);
criterion_main!(benches);
