//! `$SYS` request bodies (`natsws_core::sysreq::parse`): any bytes, for
//! every options struct, must give a body or an error with a text, never a
//! panic; a parsed body's filter verdict is total.
#![no_main]

use libfuzzer_sys::fuzz_target;
use natsws_core::sysreq::{parse, Opts};

fuzz_target!(|data: &[u8]| {
    for opts in [
        Opts::Connz,
        Opts::Subsz,
        Opts::Accountz,
        Opts::Statz,
        Opts::Filter("VarzEventOptions"),
    ] {
        match parse(data, opts) {
            Ok(b) => {
                let _ = b.filtered_out("srv", "0.0.0.0");
                let _ = (b.str("acc"), b.flag("auth"), b.int("limit"));
            }
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }
});
