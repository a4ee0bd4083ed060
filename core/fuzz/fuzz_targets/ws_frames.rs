//! Arbitrary bytes through the server-role frame decoder: no panic,
//! consumed ≤ given. The first byte picks the read size and the
//! compression / no-masking settings.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let chunk = (flags & 0x3f) as usize; // 0 = whole input at once
    natsws_core::ws::fuzzing::frames(rest, chunk, flags & 0x40 != 0, flags & 0x80 != 0);
});
