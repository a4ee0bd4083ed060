//! Entry points for the fuzz targets (`core/fuzz`); not a public API.

use alloc::vec::Vec;

use super::codec::{Decoder, DecoderConfig, Event};
use super::handshake::{RequestParser, Status, UpgradeConfig};
use super::proxy::{client_ip, hop_address, Cidr};

/// Feeds `data` to the server-role upgrade parser in two pieces split at
/// `split`, asserting the `consumed ≤ given` invariant.
pub fn handshake(data: &[u8], split: usize) {
    let cfg = UpgradeConfig::default();
    let mut p = RequestParser::new(false);
    let split = split.min(data.len());
    for part in [&data[..split], &data[split..]] {
        match p.feed(&cfg, part) {
            Ok(Status::Partial) => assert!(p.buffered() <= cfg.max_head_bytes),
            Ok(Status::Complete { consumed, value }) => {
                assert!(consumed <= part.len());
                // The X-Forwarded-For walk behind proxies trusted for
                // every address, and for one range: always one of the
                // peer or the header's addresses.
                let peer = core::net::IpAddr::from([10, 0, 0, 1]);
                for trusted in [&["0.0.0.0/0", "::/0"][..], &["10.0.0.0/8"][..]] {
                    let t: Vec<_> = trusted.iter().filter_map(|c| Cidr::parse(c)).collect();
                    let ip = client_ip(peer, &value.x_forwarded_for, &t);
                    let mut hops = value.x_forwarded_for.iter().flat_map(|l| l.split(','));
                    assert!(
                        ip == peer || hops.any(|h| hop_address(h) == Some(ip)),
                        "{ip} not from {:?}",
                        value.x_forwarded_for
                    );
                }
                return;
            }
            Err(_) => return,
        }
    }
}

/// Runs `data` through a server-role frame decoder in chunks of `chunk`
/// bytes (0 = whole), asserting `consumed ≤ given` and no panic; then runs
/// it through [`Decoder::decode_into`] and asserts the same consumed counts
/// and events, the same error, and an output buffer holding exactly the data
/// payloads.
pub fn frames(data: &[u8], chunk: usize, compression: bool, no_masking: bool) {
    let mut cfg = DecoderConfig::server();
    cfg.compression = compression;
    cfg.no_masking = no_masking;
    cfg.validate_utf8 = true;
    let mut dec = Decoder::new(cfg);
    let mut copying = Decoder::new(cfg);
    let mut out: Vec<u8> = Vec::new();
    let mut buf: Vec<u8> = data.to_vec();
    let chunk = if chunk == 0 { buf.len().max(1) } else { chunk };
    for (piece, orig) in buf.chunks_mut(chunk).zip(data.chunks(chunk)) {
        let mut pos = 0;
        while pos < piece.len() {
            let given = piece.len() - pos;
            let before = out.len();
            let other = copying
                .decode_into(&orig[pos..], &mut out)
                .map(|(n, ev)| (n, ev.map(shape)));
            match dec.decode(&mut piece[pos..]) {
                Ok((n, ev)) => {
                    assert!(n <= given);
                    let none = ev.is_none();
                    if let Some(Event::Ping(p) | Event::Pong(p)) = ev {
                        assert!(p.len() <= 125);
                    }
                    let (on, oev) = other.expect("decode_into failed where decode did not");
                    assert_eq!(on, n);
                    assert_eq!(oev, ev.map(shape));
                    if let Some(Event::Data { payload, .. }) = ev {
                        assert_eq!(&out[before..], payload);
                    }
                    if none {
                        assert_eq!(n, given);
                    }
                    pos += n;
                }
                Err(e) => {
                    assert_eq!(other.err(), Some(e));
                    assert_eq!(out.len(), before);
                    return;
                }
            }
        }
    }
}

/// An event without its borrowed bytes' address: what two decoders fed the
/// same input must agree on.
fn shape(e: Event<'_>) -> (u8, usize, bool) {
    match e {
        Event::Data { payload, fin, .. } => (0, payload.len(), fin),
        Event::Ping(p) => (1, p.len(), false),
        Event::Pong(p) => (2, p.len(), false),
        Event::Close { code, reason } => (3, reason.len(), code.is_some()),
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
