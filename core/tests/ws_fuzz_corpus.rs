//! Runs the committed fuzz seeds (core/fuzz/corpus) through the fuzz entry
//! points, so `cargo test` exercises them without cargo-fuzz.
#![allow(missing_docs)]

use std::fs;
use std::path::PathBuf;

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut v: Vec<Vec<u8>> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| fs::read(e.unwrap().path()).unwrap())
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no seeds for {target}");
    v
}

#[test]
fn ws_handshake_seeds() {
    for s in seeds("ws_handshake") {
        let split = s.first().map_or(0, |&b| b as usize * 4);
        natsws_core::ws::fuzzing::handshake(&s, split);
    }
}

#[test]
fn ws_frames_seeds() {
    for s in seeds("ws_frames") {
        let (&flags, rest) = s.split_first().unwrap();
        natsws_core::ws::fuzzing::frames(
            rest,
            (flags & 0x3f) as usize,
            flags & 0x40 != 0,
            flags & 0x80 != 0,
        );
    }
}

#[cfg(feature = "deflate")]
#[test]
fn ws_inflate_seeds() {
    for s in seeds("ws_inflate") {
        natsws_core::ws::fuzzing::inflate(&s);
    }
}
