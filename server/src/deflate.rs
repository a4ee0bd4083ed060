//! permessage-deflate for the event loops: one reusable compressor and
//! decompressor per thread (not per connection), from
//! `natsws_core::ws::deflate` (user-needs §2: bounded compressor memory).

use std::cell::RefCell;

use natsws_core::ws::codec::Framing;
use natsws_core::ws::deflate::{Deflater, Inflater};

thread_local! {
    static INFLATER: RefCell<Inflater> = RefCell::new(Inflater::new());
    static DEFLATER: RefCell<Deflater> = RefCell::new(Deflater::new());
}

/// Runs `f` with this thread's inflater (shared by every connection of
/// the loop; it is reset per message).
pub(crate) fn with_inflater<R>(f: impl FnOnce(&mut Inflater) -> R) -> R {
    INFLATER.with(|i| f(&mut i.borrow_mut()))
}

/// Frames an outbound batch with compression negotiated: small batches
/// (≤ 64 bytes) uncompressed, larger ones as one compressed message
/// (websocket spec §3.8 mode 3).
pub(crate) fn frame_compressed(payload: &[u8], out: &mut Vec<u8>, framing: Framing) {
    DEFLATER.with(|d| d.borrow_mut().frame_batch(payload, out, framing, None));
}
