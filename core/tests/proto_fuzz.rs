//! Runs the fuzz bodies of `natsws_core::proto::fuzzing` over the committed
//! seed corpora (`core/fuzz/corpus/…`), so the targets' invariants are
//! checked on every `cargo test` without a fuzzer.
#![allow(missing_docs)]

use std::path::Path;

fn each_seed(target: &str, f: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        f(&data);
        // Every prefix too: truncated inputs are the interesting ones.
        for k in 0..data.len() {
            f(&data[..k]);
        }
        n += 1;
    }
    assert!(n >= 5, "{target}: only {n} seeds");
}

#[test]
fn nats_client_decoder_seeds() {
    each_seed(
        "nats_client_decoder",
        natsws_core::proto::fuzzing::client_decoder,
    );
}

#[test]
fn nats_server_decoder_seeds() {
    each_seed(
        "nats_server_decoder",
        natsws_core::proto::fuzzing::server_decoder,
    );
}

#[test]
fn connect_json_seeds() {
    each_seed("connect_json", natsws_core::proto::fuzzing::connect_json);
}
