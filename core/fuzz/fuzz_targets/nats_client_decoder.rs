#![no_main]
use libfuzzer_sys::fuzz_target;

// Invariants are asserted in natsws_core::proto::fuzzing::client_decoder.
fuzz_target!(|data: &[u8]| natsws_core::proto::fuzzing::client_decoder(data));
