//! Differential sublist target: an arbitrary sequence of insert / remove /
//! match against a naive matcher (`filter_matches` over a list), comparing
//! plain multisets and per-queue member multisets after every match, with
//! and without the cache.
#![no_main]
use std::collections::BTreeMap;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use natsws_core::subject::{filter_matches, Filter, Sublist, SublistResult};

/// Filter tokens: a small alphabet so that matches happen.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum FTok {
    A,
    B,
    C,
    Star,
}

/// Published-subject tokens, including empty and wildcard tokens.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum STok {
    A,
    B,
    C,
    Star,
    Gt,
    Empty,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Queue {
    None,
    Q1,
    Q2,
}

#[derive(Arbitrary, Debug)]
enum Op {
    Insert {
        toks: Vec<FTok>,
        fwc: bool,
        queue: Queue,
        value: u8,
    },
    Remove {
        toks: Vec<FTok>,
        fwc: bool,
        queue: Queue,
        value: u8,
    },
    RemoveHeld(u16),
    Match(Vec<STok>),
    InsertRaw {
        filter: Vec<u8>,
        queue: Queue,
        value: u8,
    },
    MatchRaw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
struct Input {
    cache: u8,
    ops: Vec<Op>,
}

fn filter_bytes(toks: &[FTok], fwc: bool) -> Vec<u8> {
    let mut parts: Vec<&str> = toks
        .iter()
        .take(6)
        .map(|t| match t {
            FTok::A => "a",
            FTok::B => "b",
            FTok::C => "c",
            FTok::Star => "*",
        })
        .collect();
    if fwc || parts.is_empty() {
        parts.push(">");
    }
    parts.join(".").into_bytes()
}

fn subject_bytes(toks: &[STok]) -> Vec<u8> {
    let parts: Vec<&str> = toks
        .iter()
        .take(7)
        .map(|t| match t {
            STok::A => "a",
            STok::B => "b",
            STok::C => "c",
            STok::Star => "*",
            STok::Gt => ">",
            STok::Empty => "",
        })
        .collect();
    parts.join(".").into_bytes()
}

fn queue(q: Queue) -> Option<&'static [u8]> {
    match q {
        Queue::None => None,
        Queue::Q1 => Some(b"q1"),
        Queue::Q2 => Some(b"q2"),
    }
}

type Canon = (Vec<u8>, BTreeMap<Vec<u8>, Vec<u8>>);

fn canon(r: &SublistResult<u8>) -> Canon {
    let mut plain = r.plain.clone();
    plain.sort_unstable();
    let mut queues = BTreeMap::new();
    for q in &r.queues {
        assert!(!q.members.is_empty());
        let mut m = q.members.clone();
        m.sort_unstable();
        assert!(
            queues.insert(q.name.to_vec(), m).is_none(),
            "queue listed twice"
        );
    }
    (plain, queues)
}

type Entry = (Vec<u8>, Option<&'static [u8]>, u8);

fn naive_match(held: &[Entry], subject: &[u8]) -> Canon {
    let mut plain = Vec::new();
    let mut queues: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    for (f, q, v) in held {
        if filter_matches(f, subject) {
            match q {
                None => plain.push(*v),
                Some(q) => queues.entry(q.to_vec()).or_default().push(*v),
            }
        }
    }
    plain.sort_unstable();
    queues.values_mut().for_each(|m| m.sort_unstable());
    (plain, queues)
}

fn check_match(sl: &mut Sublist<u8>, held: &[Entry], subject: &[u8]) {
    let want = naive_match(held, subject);
    assert_eq!(canon(&sl.match_subject(subject)), want);
    assert_eq!(canon(&sl.match_subject(subject)), want);
    assert_eq!(canon(&sl.match_uncached(subject)), want);
}

fuzz_target!(|input: Input| {
    let cap = [0usize, 4, 16, 1024][usize::from(input.cache % 4)];
    let mut sl = Sublist::with_cache_capacity(cap);
    let mut held: Vec<Entry> = Vec::new();
    for op in input.ops.iter().take(256) {
        match op {
            Op::Insert {
                toks,
                fwc,
                queue: q,
                value,
            } => {
                let f = filter_bytes(toks, *fwc);
                sl.insert(&Filter::try_from(&f[..]).unwrap(), queue(*q), *value);
                held.push((f, queue(*q), *value));
            }
            Op::InsertRaw {
                filter,
                queue: q,
                value,
            } => {
                if let Ok(f) = Filter::try_from(&filter[..]) {
                    sl.insert(&f, queue(*q), *value);
                    held.push((filter.clone(), queue(*q), *value));
                }
            }
            Op::Remove {
                toks,
                fwc,
                queue: q,
                value,
            } => {
                let f = filter_bytes(toks, *fwc);
                let pos = held
                    .iter()
                    .position(|(hf, hq, hv)| *hf == f && *hq == queue(*q) && hv == value);
                if let Some(i) = pos {
                    held.remove(i);
                }
                let got = sl.remove(&Filter::try_from(&f[..]).unwrap(), queue(*q), value);
                assert_eq!(got, pos.is_some());
            }
            Op::RemoveHeld(n) => {
                if !held.is_empty() {
                    let (f, q, v) = held.remove(usize::from(*n) % held.len());
                    assert!(sl.remove(&Filter::try_from(&f[..]).unwrap(), q, &v));
                }
            }
            Op::Match(toks) => check_match(&mut sl, &held, &subject_bytes(toks)),
            Op::MatchRaw(subject) => check_match(&mut sl, &held, subject),
        }
        assert_eq!(sl.len(), held.len());
    }
    let mut listed = 0;
    sl.for_each(|_, _, _| listed += 1);
    assert_eq!(listed, held.len());
    for (f, q, v) in held.drain(..) {
        assert!(sl.remove(&Filter::try_from(&f[..]).unwrap(), q, &v));
    }
    assert!(sl.is_empty());
    assert_eq!(sl.node_count(), 0);
});
