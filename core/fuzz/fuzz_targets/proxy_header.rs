//! Arbitrary bytes through the PROXY protocol header parser: no panic, a
//! header never claims more bytes than were given, and feeding the same
//! bytes one at a time gives Incomplete until the first non-Incomplete
//! answer, which equals the answer for the whole input when that answer
//! came from a prefix no longer than the header.
#![no_main]
use libfuzzer_sys::fuzz_target;
use natsws_core::proxy_protocol::{parse, Parsed};

fuzz_target!(|data: &[u8]| {
    let whole = parse(data);
    if let Ok(Parsed::Header { len, .. }) = &whole {
        assert!(*len <= data.len());
        // The header alone parses the same.
        assert_eq!(parse(&data[..*len]), whole);
    }
    // Resumable: a prefix never contradicts the whole.
    for i in 0..data.len().min(300) {
        match parse(&data[..i]) {
            Ok(Parsed::Incomplete) => {}
            Ok(Parsed::Header { len, .. }) => assert!(len <= i),
            Ok(Parsed::NotProxy) => assert_eq!(whole, Ok(Parsed::NotProxy)),
            Err(_) => assert!(whole.is_err() || matches!(whole, Ok(Parsed::Header { .. }))),
        }
    }
});
