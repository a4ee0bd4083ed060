//! Arbitrary bytes as a permessage-deflate message: the decompressed-size
//! cap holds, and deflate output always inflates back to its input.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    natsws_core::ws::fuzzing::inflate(data);
});
