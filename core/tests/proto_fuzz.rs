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

mod generated {
    use proptest::prelude::*;

    /// JSON-ish text built from the pieces CONNECT is made of.
    fn jsonish() -> impl Strategy<Value = Vec<u8>> {
        const PIECES: &[&str] = &[
            "{",
            "}",
            "[",
            "]",
            ",",
            ":",
            "null",
            "true",
            "false",
            "1",
            "-1.5e3",
            "\"verbose\"",
            "\"Name\"",
            "\"protocol\"",
            "\"import\"",
            "\"allow\"",
            "\"a<b\\ud800\"",
            " ",
        ];
        let piece = proptest::sample::select(PIECES).prop_map(str::as_bytes);
        proptest::collection::vec(piece, 0..16).prop_map(|v| v.concat())
    }

    proptest! {
        #[test]
        fn connect_json_on_generated_text(json in jsonish()) {
            natsws_core::proto::fuzzing::connect_json(&json);
        }

        #[test]
        fn connect_json_on_objects(pairs in proptest::collection::vec((0usize..6, 0usize..6), 0..6)) {
            let keys = ["verbose", "ECHO", "name", "protocol", "headers", "unknown"];
            let vals = ["true", "false", "null", "\"s\"", "7", "{}"];
            let body: Vec<String> = pairs.iter().map(|&(k, v)| format!("\"{}\":{}", keys[k], vals[v])).collect();
            natsws_core::proto::fuzzing::connect_json(format!("{{{}}}", body.join(",")).as_bytes());
        }

        #[test]
        fn decoders_on_random_bytes(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            natsws_core::proto::fuzzing::client_decoder(&data);
            natsws_core::proto::fuzzing::server_decoder(&data);
        }
    }
}
