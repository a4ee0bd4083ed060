//! Robustness: the parser and option layer never panic on arbitrary input
//! built from the config language's significant characters.

use std::path::Path;

use natsws_server::config::parse_str_with_env;
use natsws_server::options::Options;
use proptest::prelude::*;

fn no_env(_: &str) -> Option<String> {
    None
}

#[rustfmt::skip]
const PIECES: &[&str] = &[
    "a", "port", "websocket", "include", " ", "\t", "\n", "\r", "=", ":", ";", ",", "{", "}",
    "[", "]", "(", ")", "\"", "'", "\\", "\\x4", "#", "//", "$a", "$2a$", "1", "-", ".", "2m",
    "1KB", "9e", "2016-", "true", "µ", "0.0.0.0:1",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn never_panics(idx in proptest::collection::vec(0..PIECES.len(), 0..60)) {
        let src: String = idx.iter().map(|&i| PIECES[i]).collect();
        if let Ok(doc) = parse_str_with_env(&src, "f", Path::new("/nonexistent"), &no_env) {
            if let Ok(o) = Options::from_document(&doc) {
                let _ = o.validate();
                let _ = o.unsupported();
                let _ = o.startup_warnings();
            }
        }
    }
}
