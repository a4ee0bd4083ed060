//! Public nkey and signature decoding on arbitrary input (auth::nkey):
//! total, kinds exclusive. Input: `key` or `key\nsignature`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use natsws_core::auth::nkey::{decode_public, decode_signature, verify_nonce, KeyKind};

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let (key, sig) = s.split_once('\n').unwrap_or((&s, ""));
    let kinds = [KeyKind::User, KeyKind::Account, KeyKind::Operator, KeyKind::Server, KeyKind::Cluster];
    let ok: Vec<bool> = kinds.iter().map(|k| decode_public(key, *k).is_ok()).collect();
    assert!(ok.iter().filter(|b| **b).count() <= 1, "a key has one kind");
    if ok.iter().any(|b| *b) {
        assert_eq!(key.len(), 56);
    }
    if let Ok(raw) = decode_signature(sig) {
        assert!(!raw.is_empty());
    }
    let r = verify_nonce(key, b"nonce", sig);
    if r.is_ok() {
        assert!(ok[0]);
    }
});
