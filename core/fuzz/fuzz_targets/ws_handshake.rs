//! Arbitrary bytes through the server-role upgrade request parser, fed in two
//! pieces (split chosen by the first byte): no panic, consumed ≤ given,
//! never buffers past the head cap.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.first().map_or(0, |&b| b as usize * 4);
    natsws_core::ws::fuzzing::handshake(data, split);
});
