//! A cached `Sublist::match_subject` does not allocate. A counting global
//! allocator counts this thread's allocations around cached matches.
#![allow(missing_docs)]

use core::alloc::{GlobalAlloc, Layout};
use core::cell::Cell;
use std::alloc::System;

use natsws_core::subject::{Filter, Sublist};

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

#[allow(unsafe_code)]
// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocs() -> u64 {
    ALLOCS.with(Cell::get)
}

#[test]
fn cached_match_does_not_allocate() {
    let mut s = Sublist::new();
    for i in 0..1000u32 {
        let fl = Filter::try_from(format!("svc.{}.*", i % 50).as_str()).unwrap();
        s.insert(&fl, (i % 2 == 0).then_some(&b"workers"[..]), i);
    }
    s.insert(&Filter::from_static(">"), None, 5000);
    let subjects: Vec<Vec<u8>> = (0..50)
        .map(|i| format!("svc.{i}.x").into_bytes())
        .chain([b"none.here".to_vec()])
        .collect();
    for subj in &subjects {
        let r = s.match_subject(subj);
        assert!(!r.is_empty());
    }
    let before = allocs();
    let misses = s.cache_stats().misses;
    let mut total = 0;
    for _ in 0..10 {
        for subj in &subjects {
            let r = s.match_subject(subj);
            total += r.plain.len() + r.queues.len();
        }
    }
    assert_eq!(allocs(), before, "cached matches allocated");
    assert_eq!(
        s.cache_stats().misses,
        misses,
        "all answered from the cache"
    );
    assert!(total > 0);
    // The counter works: an uncached match does allocate.
    let _ = s.match_uncached(b"svc.1.x");
    assert!(allocs() > before);
}
