//! natsws-wasm's in-page server options (`wasm/src/inpage/config.rs`, the JSON of
//! the JS options object with nats-server config keys): any input is either
//! typed options or a `ConfigError`, never a panic. The module is compiled in
//! here by path because the wasm crate only builds for wasm32.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../../wasm/src/inpage/config.rs"]
#[allow(dead_code, unreachable_pub)]
mod config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    match config::Options::from_json(text) {
        Ok(o) => {
            if let Some(auth) = &o.auth {
                for u in &auth.users {
                    if let Some(p) = &u.permissions {
                        let _ = p.can_publish(b"a.b");
                    }
                }
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
