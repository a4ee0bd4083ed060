//! Subject transform and mapping parsing and application on arbitrary
//! input: no panic, and an applied transform of a matching subject never
//! grows beyond a bound of the subject and destination sizes.
//!
//! Input: `source 0xFF destination 0xFF subject` (missing parts empty).
#![no_main]
use libfuzzer_sys::fuzz_target;
use natsws_core::subject::transform::{Mapping, Transform, WeightedDest};

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |&b| b == 0xff);
    let src = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let dest = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let subject = parts.next().unwrap_or_default();
    let mut rand = |n: u32| n / 2;
    for tr in [Transform::new(&src, &dest), Transform::new_strict(&src, &dest)]
        .into_iter()
        .flatten()
    {
        let _ = format!("{tr:?}");
        if tr.matches(subject) {
            let mut out = Vec::new();
            tr.apply(subject, &mut rand, &mut out);
            // Every destination token writes at most the subject (split
            // and slice add separators: at most one per subject byte) or a
            // literal, a number.
            assert!(out.len() <= (dest.len() + 2 * subject.len() + 24) * (dest.len() + 1));
        }
    }
    let ds = [
        WeightedDest { dest: &dest, weight: 40, cluster: None },
        WeightedDest { dest: "fixed.x", weight: 30, cluster: Some("c") },
    ];
    match Mapping::new(&src, &ds, Some("c")) {
        Ok(m) => {
            if m.matches(subject) {
                let mut out = Vec::new();
                let _ = m.select(subject, &mut rand, &mut out);
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
