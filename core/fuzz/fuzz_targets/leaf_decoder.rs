#![no_main]
use libfuzzer_sys::fuzz_target;

// Invariants (split-invariance, no panic) are asserted in
// natsws_core::proto::leaf::fuzz_decode.
fuzz_target!(|data: &[u8]| natsws_core::proto::leaf::fuzz_decode(data));
