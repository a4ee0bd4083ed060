//! Generates `$OUT_DIR/core_tests.rs`: natsws-core's own vector suites
//! (`core/tests/<file>.rs`), each wrapped in a module that imports
//! `wasm_bindgen_test as test`, so every `#[test]` in them becomes a
//! wasm-bindgen test (quinn's way of running one suite natively and in wasm;
//! STYLE §4 item 12). The files are used as they are, so the wasm run can
//! never drift from the native one. Their crate-level lines (`//!` docs and
//! `#![…]` attributes) are dropped and `#[path = "…"]` is made absolute.
//!
//! The suites must stay portable to wasm32-unknown-unknown (no proptest,
//! files, threads or clocks): that is why proto_chunking, proto_roundtrip,
//! proto_fuzz, sublist and sublist_alloc are not listed.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::{env, fs};

/// The core test files compiled to wasm, as module name = file stem.
const SUITES: &[&str] = &[
    "ws_rfc6455",   // RFC 6455 §1.3 accept key, §5.7 examples, §7.4 close codes
    "proto_decode", // must-pass / must-fail NATS op lists (spec §1.1–§1.3, §1.9)
    "proto_json",   // CONNECT / INFO JSON, NATS/1.0 headers (spec §1.4–§1.6)
    "subject",      // subject / filter validity and matching tables (spec §2.1)
    "session_pair", // sessions + router in memory with a simulated clock
];

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let tests_dir = manifest.join("../core/tests");
    let tests_dir = tests_dir
        .canonicalize()
        .unwrap_or_else(|e| panic!("{}: {e}", tests_dir.display()));
    let mut out = String::new();
    for suite in SUITES {
        let path = tests_dir.join(format!("{suite}.rs"));
        println!("cargo:rerun-if-changed={}", path.display());
        let src = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        writeln!(out, "/// natsws-core `tests/{suite}.rs`, compiled to wasm.").unwrap();
        writeln!(out, "mod {suite} {{").unwrap();
        writeln!(out, "#[allow(unused_imports)]").unwrap();
        writeln!(out, "use wasm_bindgen_test::wasm_bindgen_test as test;").unwrap();
        let mut in_inner_attr = false;
        for line in src.lines() {
            let t = line.trim_start();
            if in_inner_attr {
                in_inner_attr = !t.trim_end().ends_with(']');
                continue;
            }
            if t.starts_with("//!") {
                continue;
            }
            if t.starts_with("#![") {
                in_inner_attr = !t.trim_end().ends_with(']');
                continue;
            }
            if let Some(rest) = t.strip_prefix("#[path = \"") {
                let rel = rest.split('"').next().unwrap_or_default();
                let abs = tests_dir.join(rel);
                println!("cargo:rerun-if-changed={}", abs.display());
                writeln!(out, "#[path = {:?}]", abs.display().to_string()).unwrap();
                continue;
            }
            out.push_str(line);
            out.push('\n');
        }
        out.push_str("}\n");
    }
    let dest = PathBuf::from(env::var("OUT_DIR").expect("cargo sets it")).join("core_tests.rs");
    fs::write(&dest, out).unwrap_or_else(|e| panic!("{}: {e}", dest.display()));
    println!("cargo:rerun-if-changed=build.rs");
}
