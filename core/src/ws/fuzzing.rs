//! Entry points for the fuzz targets (`core/fuzz`); not a public API.

use alloc::vec::Vec;

use super::codec::{Decoder, DecoderConfig, Event};
use super::handshake::{RequestParser, Status, UpgradeConfig};

/// Feeds `data` to the server-role upgrade parser in two pieces split at
/// `split`, asserting the `consumed ≤ given` invariant.
pub fn handshake(data: &[u8], split: usize) {
    let cfg = UpgradeConfig::default();
    let mut p = RequestParser::new(false);
    let split = split.min(data.len());
    for part in [&data[..split], &data[split..]] {
        match p.feed(&cfg, part) {
            Ok(Status::Partial) => assert!(p.buffered() <= cfg.max_head_bytes),
            Ok(Status::Complete { consumed, .. }) => {
                assert!(consumed <= part.len());
                return;
            }
            Err(_) => return,
        }
    }
}

/// Runs `data` through a server-role frame decoder in chunks of `chunk`
/// bytes (0 = whole), asserting `consumed ≤ given` and no panic.
pub fn frames(data: &[u8], chunk: usize, compression: bool, no_masking: bool) {
    let mut cfg = DecoderConfig::server();
    cfg.compression = compression;
    cfg.no_masking = no_masking;
    cfg.validate_utf8 = true;
    let mut dec = Decoder::new(cfg);
    let mut buf: Vec<u8> = data.to_vec();
    let chunk = if chunk == 0 { buf.len().max(1) } else { chunk };
    for piece in buf.chunks_mut(chunk) {
        let mut pos = 0;
        while pos < piece.len() {
            let given = piece.len() - pos;
            match dec.decode(&mut piece[pos..]) {
                Ok((n, ev)) => {
                    assert!(n <= given);
                    let none = ev.is_none();
                    if let Some(Event::Ping(p) | Event::Pong(p)) = ev {
                        assert!(p.len() <= 125);
                    }
                    if none {
                        assert_eq!(n, given);
                    }
                    pos += n;
                }
                Err(_) => return,
            }
        }
    }
}

/// Inflates `data` as one compressed message with a 64 KiB cap, asserting
/// the cap holds; then checks that deflating `data` round-trips.
#[cfg(feature = "deflate")]
pub fn inflate(data: &[u8]) {
    use super::deflate::{Deflater, Inflater, INFLATE_CHUNK};
    const CAP: usize = 64 * 1024;
    let mut inf = Inflater::new();
    let mut total = 0usize;
    let split = data.first().map_or(0, |&b| b as usize).min(data.len());
    let (a, b) = data.split_at(split);
    let r = inf
        .feed(a, false, CAP, &mut |c| {
            assert!(c.len() <= INFLATE_CHUNK);
            total += c.len();
        })
        .and_then(|()| inf.feed(b, true, CAP, &mut |c| total += c.len()));
    assert!(total <= CAP);
    if r.is_err() {
        inf.reset();
    }
    let mut out = Vec::new();
    let _ = inf.inflate(data, CAP, &mut out);
    assert!(out.len() <= CAP);
    let mut d = Deflater::new();
    let c = d.compress(data).to_vec();
    out.clear();
    inf.inflate(&c, data.len(), &mut out)
        .expect("deflate output must inflate");
    assert_eq!(out, data);
}
