//! The soliciting leaf's readers of untrusted text outside the NATS
//! protocol (natsws-server, compiled in by path as both files are
//! standalone): an HTTP CONNECT proxy's response head
//! (`server/src/leaf_proxy_head.rs`) and the CONNECT `version` a leaf
//! sends a hub with `min_version` (`server/src/leaf_version.rs`). Any
//! input gives a status or a typed error, a version or none; never a
//! panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../../server/src/leaf_proxy_head.rs"]
#[allow(dead_code, unreachable_pub)]
mod head;

#[path = "../../../server/src/leaf_version.rs"]
#[allow(dead_code, unreachable_pub)]
mod version;

fuzz_target!(|data: &[u8]| {
    match head::status(data) {
        Ok(s) => {
            let _ = head::is_ok(&s);
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    if let Ok(text) = core::str::from_utf8(data) {
        if let Some(v) = version::components(text) {
            assert!(version::at_least(text, v));
        }
        let _ = version::check_min_version(text);
    }
});
